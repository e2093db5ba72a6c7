//! Reads that retry when interrupted, and how paths and I/O errors are
//! shown in messages.

use std::io::{self, Read};
use std::path::Path;

use secret_chain::{Error, ErrorKind};

/// Reads until `buf` is full or EOF; returns the bytes read.
pub(super) fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match read_some(reader, &mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

pub(super) fn read_some(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// How a path is shown: as given, `/`-separated on every platform.
pub(super) fn display_path(path: &Path) -> String {
    let s = path.to_string_lossy();
    let s = s.strip_prefix("./").unwrap_or(&s);
    if std::path::MAIN_SEPARATOR == '/' {
        s.to_owned()
    } else {
        s.replace(std::path::MAIN_SEPARATOR, "/")
    }
}

pub(super) fn read_error(name: &str, e: io::Error) -> Error {
    Error::new(
        ErrorKind::Io,
        format!("cannot read '{name}': {}", io_reason(&e)),
    )
    .with_source(e)
}

pub(super) fn open_error(name: &str, e: io::Error) -> Error {
    Error::new(
        ErrorKind::Io,
        format!("cannot open '{name}': {}", io_reason(&e)),
    )
    .with_source(e)
}

pub(super) fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput | io::ErrorKind::UnexpectedEof => {
            "corrupt or truncated data (gzip?)".to_owned()
        }
        _ => e.kind().to_string(),
    }
}
