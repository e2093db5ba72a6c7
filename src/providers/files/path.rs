//! Secret paths as file names under the directory: `a/b` is `DIR/a/b` and
//! nothing else. Checked lexically before the file system is touched, so a
//! path that could leave the directory is refused by its spelling alone;
//! what symlinks inside the tree resolve to is checked after the open
//! (`read.rs`).

use std::path::{Component, Path, PathBuf};

use super::NAME;
use crate::error::{Error, ErrorKind};

/// Whether a directory entry is one of the Kubernetes atomic writer's own
/// (`..data`, `..2026_12_02_10_00_00.123456789`): never a secret name.
pub(super) fn is_internal(name: &str) -> bool {
    name.starts_with("..")
}

/// The file that secret `name` is read from, under `root`.
///
/// # Errors
///
/// [`ErrorKind::InvalidPath`] naming the path for an empty or absolute
/// path, an empty, `.` or `..` segment, a segment that starts with `..`
/// (the atomic writer's internals) or a NUL; "not found" for a path that
/// ends in `/` (a folder holds no value).
pub(super) fn file_for(root: &Path, name: &str) -> Result<PathBuf, Error> {
    let refuse = |why: &str| {
        Error::new(
            ErrorKind::InvalidPath,
            format!("secret path '{name}' cannot be read from the secret files: {why}"),
        )
        .with_provider(NAME)
    };
    if name.is_empty() {
        return Err(refuse("it is empty"));
    }
    if name.contains('\0') {
        return Err(refuse("it contains a NUL character"));
    }
    if name.starts_with('/') {
        return Err(refuse(
            "it is absolute; paths are relative to the directory (SECRETS_FILES_DIR)",
        ));
    }
    if let Some(folder) = name.strip_suffix('/') {
        return Err(Error::not_found(format!(
            "not found ({}; a path ending in '/' is a folder, not a secret)",
            root.join(folder).display()
        ))
        .with_provider(NAME));
    }
    for segment in name.split('/') {
        match segment {
            "" => return Err(refuse("it has an empty segment ('//')")),
            "." | ".." => {
                return Err(refuse(
                    "it has a '.' or '..' segment, which could leave the directory",
                ));
            }
            s if is_internal(s) => {
                return Err(refuse(
                    "a segment starts with '..': those are the Kubernetes atomic writer's internals, not secrets",
                ));
            }
            _ => {}
        }
    }
    // What the segments spell must also be what the platform reads: on
    // Windows `C:x` or `a\..\b` would pass the checks above.
    let relative = Path::new(name);
    if !relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return Err(refuse("it is not a plain relative path on this platform"));
    }
    Ok(root.join(relative))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relative_path_is_the_file_under_the_root_and_nothing_else() {
        let root = Path::new("/secrets");
        assert_eq!(
            file_for(root, "db/password").unwrap(),
            PathBuf::from("/secrets/db/password")
        );
        assert_eq!(
            file_for(root, ".hidden").unwrap(),
            PathBuf::from("/secrets/.hidden")
        );
        assert_eq!(
            file_for(root, "a.b/c..d").unwrap(),
            PathBuf::from("/secrets/a.b/c..d")
        );
    }

    #[test]
    fn paths_that_could_leave_the_directory_are_refused_naming_the_path() {
        let root = Path::new("/secrets");
        for bad in [
            "",
            "/etc/passwd",
            "../etc/passwd",
            "a/../../etc/passwd",
            "a/./b",
            "./a",
            "a//b",
            "..data/password",
            "a/..2026_12_02_10_00_00.1/b",
            "a\0b",
        ] {
            let e = file_for(root, bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidPath, "{bad:?}: {e}");
            // Error::new escapes a NUL; every other path is named as given.
            assert!(
                bad.contains('\0') || e.to_string().contains(&format!("'{bad}'")),
                "{bad:?}: {e}"
            );
        }
        let e = file_for(root, "db/").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.to_string().contains("/secrets/db"), "{e}");
    }

    #[test]
    fn internal_names_are_the_atomic_writers() {
        assert!(is_internal("..data"));
        assert!(is_internal("..2026_12_02_10_00_00.123456789"));
        assert!(!is_internal(".env"));
        assert!(!is_internal("a..b"));
    }
}
