//! What a scan takes ([`Input`]), and expanding paths into the list of
//! inputs to search.

use std::fs;
use std::path::{Path, PathBuf};

use super::read::{display_path, open_error};
use secret_chain::Error;

/// One input to [`Scanner::scan_inputs`].
///
/// [`Scanner::scan_inputs`]: super::Scanner::scan_inputs
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Standard input (`-` on the command line).
    Stdin,
    /// A file or a directory (searched recursively).
    Path(PathBuf),
}

impl Input {
    /// `-` is standard input, anything else a path.
    pub fn from_arg(arg: &str) -> Input {
        if arg == "-" {
            Input::Stdin
        } else {
            Input::Path(PathBuf::from(arg))
        }
    }
}

/// Directory names never entered while walking.
const SKIPPED_DIRS: &[&str] = &[".git", "target"];

/// One unit of work for a scan thread.
#[derive(Debug)]
pub(super) enum Job {
    Stdin,
    File(PathBuf),
    /// `len` bytes of a big file from `start` (a line start): part `index`.
    Part {
        path: PathBuf,
        index: usize,
        start: u64,
        len: u64,
    },
    /// A path that could not be read, reported in its place in the order.
    Error {
        path: String,
        error: Error,
    },
}

/// Appends the jobs for one command-line path: the file itself, or every
/// file under the directory, sorted by name. Symbolic links given on the
/// command line are followed; links met inside a directory are not.
pub(super) fn expand(path: &Path, jobs: &mut Vec<Job>) {
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => walk_dir(path, jobs),
        Ok(_) => jobs.push(Job::File(path.to_path_buf())),
        Err(e) => {
            let name = display_path(path);
            jobs.push(Job::Error {
                error: open_error(&name, e),
                path: name,
            });
        }
    }
}

fn walk_dir(dir: &Path, jobs: &mut Vec<Job>) {
    let entries = match fs::read_dir(dir) {
        Ok(rd) => rd.collect::<Result<Vec<_>, _>>(),
        Err(e) => Err(e),
    };
    let mut entries = match entries {
        Ok(v) => v,
        Err(e) => {
            let name = display_path(dir);
            jobs.push(Job::Error {
                error: open_error(&name, e),
                path: name,
            });
            return;
        }
    };
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let Ok(ft) = entry.file_type() else {
            jobs.push(Job::File(path));
            continue;
        };
        if ft.is_symlink() {
            continue;
        }
        if ft.is_dir() {
            let name = entry.file_name();
            if SKIPPED_DIRS.iter().any(|s| name == *s) {
                continue;
            }
            walk_dir(&path, jobs);
        } else if ft.is_file() {
            jobs.push(Job::File(path));
        }
        // Sockets, fifos and devices inside a directory are not inputs.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(jobs: &[Job], root: &Path) -> Vec<String> {
        jobs.iter()
            .map(|j| match j {
                Job::File(p) => p
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/"),
                Job::Stdin => "-".into(),
                Job::Part { path, .. } => format!("part:{}", path.display()),
                Job::Error { path, .. } => format!("error:{path}"),
            })
            .collect()
    }

    #[test]
    fn directories_are_walked_sorted_skipping_git_and_target() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in [
            "b.log",
            "a/z.log",
            "a/y.txt",
            ".git/config",
            "target/x.log",
            "sub/target/t.log",
            ".env",
        ] {
            let p = root.join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, "x").unwrap();
        }
        let mut jobs = Vec::new();
        expand(root, &mut jobs);
        assert_eq!(files(&jobs, root), [".env", "a/y.txt", "a/z.log", "b.log"]);
    }

    #[test]
    fn an_explicit_target_directory_is_searched() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("target/test-logs");
        fs::create_dir_all(&logs).unwrap();
        fs::write(logs.join("cargo-test.log"), "x").unwrap();
        let mut jobs = Vec::new();
        expand(&logs, &mut jobs);
        assert_eq!(files(&jobs, &logs), ["cargo-test.log"]);
    }

    #[test]
    fn a_missing_path_becomes_an_error_job() {
        let mut jobs = Vec::new();
        expand(Path::new("/definitely/not/here.log"), &mut jobs);
        assert!(
            matches!(&jobs[..], [Job::Error { path, .. }] if path == "/definitely/not/here.log")
        );
    }
}
