//! Listing the secret files: a walk of the directory that skips the
//! Kubernetes atomic writer's internals (`..data`, `..2026_...`) and
//! follows a symlink only where it resolves inside the tree.
//!
//! With `items[].path: db/password`, Kubernetes publishes `db` as a
//! symlink to `..data/db`, a directory: symlinks to directories inside the
//! tree are walked, each real directory once (a loop of links ends there).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::LOG_TARGET;
use super::path::is_internal;
use super::read::io_error;
use crate::error::Error;

/// The most names one listing returns, against pathological trees.
pub(super) const MAX_LISTED: usize = 10_000;

/// Every secret file under `root` (canonical) whose relative path starts
/// with `prefix`, sorted: names only, never a file's contents.
///
/// # Errors
///
/// As a read of the directory itself fails (absent: not found, permission:
/// access denied, else unavailable); a sub-directory that cannot be read is
/// skipped with a debug log.
pub(super) fn list(root: &Path, prefix: &str) -> Result<Vec<String>, Error> {
    let mut names = Vec::new();
    let mut seen: HashSet<PathBuf> = HashSet::from([root.to_path_buf()]);
    let mut pending: Vec<(PathBuf, String)> = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if rel.is_empty() => return Err(io_error(&e, &dir)),
            Err(e) => {
                tracing::debug!(target: LOG_TARGET, dir = %dir.display(), error = %e, "skipping a folder that cannot be read");
                continue;
            }
        };
        for entry in entries.flatten() {
            let Ok(name) = entry.file_name().into_string() else {
                tracing::debug!(target: LOG_TARGET, dir = %dir.display(), "skipping a name that is not UTF-8");
                continue;
            };
            if is_internal(&name) {
                continue;
            }
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let (target, meta) = if kind.is_symlink() {
                // Resolved and checked against the root; a dangling link
                // or one out of the tree is no secret of this directory.
                match std::fs::canonicalize(&path) {
                    Ok(t) if t.starts_with(root) => match std::fs::metadata(&t) {
                        Ok(m) => (t, m),
                        Err(_) => continue,
                    },
                    Ok(_) => {
                        tracing::debug!(target: LOG_TARGET, path = %path.display(), "not listing a symlink that resolves outside the directory");
                        continue;
                    }
                    Err(_) => continue,
                }
            } else {
                match entry.metadata() {
                    Ok(m) => (path, m),
                    Err(_) => continue,
                }
            };
            let child = format!("{rel}{name}");
            if meta.is_dir() {
                if seen.insert(target.clone()) {
                    pending.push((target, format!("{child}/")));
                }
            } else if meta.is_file() && child.starts_with(prefix) {
                names.push(child);
                if names.len() >= MAX_LISTED {
                    tracing::warn!(target: LOG_TARGET, root = %root.display(), "listing stopped at {MAX_LISTED} secret files");
                    pending.clear();
                    break;
                }
            }
        }
    }
    names.sort();
    Ok(names)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn lists_files_and_linked_folders_but_not_internals_or_links_out() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("x"), b"x").unwrap();

        let ts = root.join("..2026_12_02_10_00_00.123");
        std::fs::create_dir_all(ts.join("db")).unwrap();
        std::fs::write(ts.join("api-key"), b"k").unwrap();
        std::fs::write(ts.join("db/password"), b"p").unwrap();
        symlink("..2026_12_02_10_00_00.123", root.join("..data")).unwrap();
        symlink("..data/api-key", root.join("api-key")).unwrap();
        symlink("..data/db", root.join("db")).unwrap();
        symlink(outside.path().join("x"), root.join("escape")).unwrap();
        symlink(outside.path(), root.join("escape-dir")).unwrap();
        symlink("nowhere", root.join("dangling")).unwrap();
        symlink(".", root.join("loop")).unwrap();
        std::fs::create_dir(root.join("plain")).unwrap();
        std::fs::write(root.join("plain/token"), b"t").unwrap();

        assert_eq!(
            list(&root, "").unwrap(),
            ["api-key", "db/password", "plain/token"]
        );
        assert_eq!(list(&root, "db/").unwrap(), ["db/password"]);
        assert!(list(&root, "zzz").unwrap().is_empty());
    }

    #[test]
    fn a_missing_directory_is_not_found_naming_it() {
        let e = list(Path::new("/nonexistent-secret-chain-dir"), "").unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::NotFound);
        assert!(
            e.to_string().contains("/nonexistent-secret-chain-dir"),
            "{e}"
        );
    }
}
