//! Reading one secret file: open first, then check that what was opened is
//! a regular file inside the tree, within the size cap, read with bounded
//! memory; and the mapping of I/O errors to the chain's kinds.
//!
//! Open then check, not check then open: the file is opened by its path
//! (symlinks followed, as the Kubernetes layout needs: `key -> ..data/key`,
//! `..data -> ..2026_...`), then the path is resolved again and the file it
//! resolves to must lie under the directory's canonical root *and* be the
//! file that was opened (same device and inode). A symlink swapped in
//! between, pointing out of the tree, fails one test or the other. An
//! atomic `..data` swap between the open and the resolution makes the two
//! differ legitimately: the read is then tried again (the opened file was
//! whole either way, since the writer never changes a published file).

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::Path;
use std::time::SystemTime;

use zeroize::Zeroize;

use super::NAME;
use crate::error::{Error, ErrorKind};

/// Tries of one read when a `..data` swap lands between the open and the
/// check; more than one swap in a row is not the atomic writer.
const ATTEMPTS: usize = 3;

/// The atomic writer's link to the current timestamped folder.
const DATA_LINK: &str = "..data";

/// A file as read: its bytes (wiped on drop unless taken), its mode and
/// its modification time.
pub(super) struct Contents {
    pub(super) bytes: Vec<u8>,
    /// The permission bits (`0o644`); `None` off Unix.
    pub(super) mode: Option<u32>,
    pub(super) modified: Option<SystemTime>,
}

impl std::fmt::Debug for Contents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Contents([REDACTED {} bytes])", self.bytes.len())
    }
}

impl Drop for Contents {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

/// Reads `file` (under the canonical `root`), refusing anything that is not
/// a regular file inside the tree or is larger than `max_bytes`.
///
/// # Errors
///
/// Not found when the file is absent; access denied when it cannot be
/// opened for permissions or resolves outside `root`; invalid value when it
/// is not a regular file or is too large; unavailable for other I/O
/// errors. Every message names the file, none its contents.
pub(super) fn read_file(root: &Path, file: &Path, max_bytes: u64) -> Result<Contents, Error> {
    for attempt in 1..=ATTEMPTS {
        match read_once(root, file, max_bytes) {
            Ok(Some(contents)) => return Ok(contents),
            Ok(None) => {}
            // The kubelet removes the old timestamped folder right after
            // the swap: a path resolved through the old `..data` a moment
            // before can then miss. Where the atomic writer is at work,
            // "absent" is asked once more before it is believed.
            Err(e)
                if e.kind() == ErrorKind::NotFound
                    && attempt < ATTEMPTS
                    && std::fs::symlink_metadata(root.join(DATA_LINK)).is_ok() => {}
            Err(e) => return Err(e),
        }
    }
    Err(Error::unavailable(format!(
        "unavailable ({}: the file changed {ATTEMPTS} times while it was being read)",
        file.display()
    ))
    .with_provider(NAME))
}

/// One try: `Ok(None)` when the file that was opened is no longer the one
/// the path resolves to (a swap in between).
fn read_once(root: &Path, file: &Path, max_bytes: u64) -> Result<Option<Contents>, Error> {
    // Looked at before the open only so that a FIFO (whose open would
    // block until a writer comes) or a device is never opened; the open
    // file is checked again below.
    let before = std::fs::metadata(file).map_err(|e| io_error(&e, file))?;
    check_kind(&before, file)?;
    let mut handle = File::open(file).map_err(|e| io_error(&e, file))?;
    let opened = handle.metadata().map_err(|e| io_error(&e, file))?;
    check_kind(&opened, file)?;

    let resolved = std::fs::canonicalize(file).map_err(|e| io_error(&e, file))?;
    if !resolved.starts_with(root) {
        return Err(Error::access_denied(format!(
            "access denied ({} resolves outside {}: a symlink in the secret files must stay inside the directory)",
            file.display(),
            root.display()
        ))
        .with_provider(NAME));
    }
    match std::fs::metadata(&resolved) {
        Ok(now) if same_file(&now, &opened) => {}
        // Swapped (or removed) between the open and the check.
        Ok(_) => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(&e, file)),
    }

    if opened.len() > max_bytes {
        return Err(too_large(file, max_bytes));
    }
    let bytes = read_capped(&mut handle, opened.len(), max_bytes)
        .map_err(|e| io_error(&e, file))?
        .ok_or_else(|| too_large(file, max_bytes))?;
    Ok(Some(Contents {
        bytes,
        mode: mode(&opened),
        modified: opened.modified().ok(),
    }))
}

/// A directory is "not found" (a folder holds no value); anything else
/// that is not a regular file (a FIFO, a socket, a device) is refused.
fn check_kind(meta: &Metadata, file: &Path) -> Result<(), Error> {
    if meta.is_file() {
        Ok(())
    } else if meta.is_dir() {
        Err(Error::not_found(format!(
            "not found ({} is a directory, not a secret file)",
            file.display()
        ))
        .with_provider(NAME))
    } else {
        Err(Error::new(
            ErrorKind::InvalidValue,
            format!(
                "{} is not a regular file (a FIFO, socket or device); secret files are plain files",
                file.display()
            ),
        )
        .with_provider(NAME))
    }
}

fn too_large(file: &Path, max_bytes: u64) -> Error {
    Error::new(
        ErrorKind::InvalidValue,
        format!(
            "{} is larger than {max_bytes} bytes, the most a secret file may hold (SECRETS_FILES_MAX_BYTES)",
            file.display()
        ),
    )
    .with_provider(NAME)
}

/// Reads at most `max + 1` bytes: `None` when there were more than `max`.
/// The buffer starts at the size the file had when it was opened; should
/// it have grown since, each larger buffer is filled from the old one and
/// the old one wiped, so no copy of a secret is left in freed memory.
fn read_capped(file: &mut File, size_hint: u64, max: u64) -> io::Result<Option<Vec<u8>>> {
    let cap = usize::try_from(size_hint.min(max).saturating_add(1)).unwrap_or(usize::MAX);
    let mut buf: Vec<u8> = Vec::with_capacity(cap);
    let mut chunk = [0u8; 8192];
    let result = loop {
        let n = match file.read(&mut chunk) {
            Ok(0) => break Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(e),
        };
        if (buf.len() + n) as u64 > max {
            buf.zeroize();
            chunk.zeroize();
            return Ok(None);
        }
        if buf.len() + n > buf.capacity() {
            let mut bigger = Vec::with_capacity((buf.capacity() * 2).max(buf.len() + n));
            bigger.extend_from_slice(&buf);
            buf.zeroize();
            buf = bigger;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    chunk.zeroize();
    match result {
        Ok(()) => Ok(Some(buf)),
        Err(e) => {
            buf.zeroize();
            Err(e)
        }
    }
}

/// Maps an I/O error on `file` to the chain's kinds: absent is "not found"
/// (the chain falls through), permissions are "access denied", anything
/// else "unavailable".
pub(super) fn io_error(e: &io::Error, file: &Path) -> Error {
    let file = file.display();
    match e.kind() {
        // `a/b` where `a` is a file: no such secret either.
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => {
            Error::not_found(format!("not found ({file})"))
        }
        io::ErrorKind::PermissionDenied => Error::access_denied(format!(
            "access denied ({file}: permission denied; check the volume's defaultMode and the pod's user or fsGroup)"
        )),
        _ => Error::unavailable(format!("unavailable ({file}: {})", io_reason(e))),
    }
    .with_provider(NAME)
}

/// An I/O error's kind in words (the OS message can name the path again,
/// never more; the kind is enough and stays short).
fn io_reason(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => format!("{} (os error {code})", e.kind()),
        None => e.kind().to_string(),
    }
}

#[cfg(unix)]
fn same_file(a: &Metadata, b: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

// Without inode numbers, the best available: the same size and mtime.
#[cfg(not(unix))]
fn same_file(a: &Metadata, b: &Metadata) -> bool {
    a.len() == b.len() && a.modified().ok() == b.modified().ok()
}

#[cfg(unix)]
fn mode(meta: &Metadata) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    Some(meta.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn mode(_meta: &Metadata) -> Option<u32> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        (dir, root)
    }

    #[test]
    fn a_file_is_read_untouched_with_its_mode_and_mtime() {
        let (_d, root) = root();
        std::fs::write(root.join("k"), b"v\xff\r\n").unwrap();
        let c = read_file(&root, &root.join("k"), 100).unwrap();
        assert_eq!(c.bytes, b"v\xff\r\n");
        assert!(c.modified.is_some());
        #[cfg(unix)]
        assert!(c.mode.is_some());
    }

    #[test]
    fn a_file_over_the_cap_is_refused_and_one_at_the_cap_is_read() {
        let (_d, root) = root();
        std::fs::write(root.join("big"), vec![b'x'; 11]).unwrap();
        std::fs::write(root.join("ok"), vec![b'x'; 10]).unwrap();
        let e = read_file(&root, &root.join("big"), 10).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidValue);
        assert!(
            e.to_string().contains("larger than 10 bytes")
                && e.to_string().contains("SECRETS_FILES_MAX_BYTES")
                && e.to_string().contains("big"),
            "{e}"
        );
        assert_eq!(
            read_file(&root, &root.join("ok"), 10).unwrap().bytes.len(),
            10
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_capped_reader_stops_at_the_cap_however_long_the_stream() {
        // /dev/zero never ends and reports size 0: bounded memory is the
        // reader's own doing, not the size check's.
        let mut zero = File::open("/dev/zero").unwrap();
        assert!(read_capped(&mut zero, 0, 100_000).unwrap().is_none());
        let (_d, root) = root();
        std::fs::write(root.join("grown"), vec![b'y'; 50_000]).unwrap();
        let mut f = File::open(root.join("grown")).unwrap();
        // A size hint far too small (the file grew after the open).
        let got = read_capped(&mut f, 3, 100_000).unwrap().unwrap();
        assert_eq!(got, vec![b'y'; 50_000]);
    }

    #[test]
    fn absent_is_not_found_and_a_directory_is_not_a_secret() {
        let (_d, root) = root();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::write(root.join("file"), b"x").unwrap();
        for (path, needle) in [
            (root.join("nope"), "not found ("),
            (root.join("file/below"), "not found ("),
            (root.join("sub"), "is a directory"),
        ] {
            let e = read_file(&root, &path, 100).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
            assert!(e.to_string().contains(needle), "{e}");
            assert!(e.to_string().contains(&*path.to_string_lossy()), "{e}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_out_of_the_tree_is_refused_naming_the_path_not_the_target_contents() {
        let (_o, outside) = root();
        let (_d, root) = root();
        std::fs::write(outside.join("stolen"), b"outside-canary-77").unwrap();
        std::os::unix::fs::symlink(outside.join("stolen"), root.join("link")).unwrap();
        let e = read_file(&root, &root.join("link"), 100).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AccessDenied);
        let m = e.to_string();
        assert!(m.contains("link") && m.contains("resolves outside"), "{m}");
        assert!(!m.contains("outside-canary-77"), "{m}");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_being_opened() {
        let (_d, root) = root();
        let fifo = root.join("pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(made.success());
        // Opening a FIFO for reading would block this test forever.
        let e = read_file(&root, &fifo, 100).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidValue);
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn permission_denied_is_access_denied() {
        use std::os::unix::fs::PermissionsExt;
        let (_d, root) = root();
        let f = root.join("locked");
        std::fs::write(&f, b"x").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o000)).unwrap();
        match read_file(&root, &f, 100) {
            // root reads every file: nothing to see as that user.
            Ok(_) => {}
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");
                assert!(e.to_string().contains("locked"), "{e}");
            }
        }
        let e = io_error(
            &io::Error::from(io::ErrorKind::PermissionDenied),
            Path::new("/s/k"),
        );
        assert_eq!(e.kind(), ErrorKind::AccessDenied);
        assert!(e.to_string().contains("/s/k"), "{e}");
        let e = io_error(&io::Error::from_raw_os_error(5), Path::new("/s/k"));
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(
            e.to_string().contains("/s/k") && e.to_string().contains("os error 5"),
            "{e}"
        );
    }
}
