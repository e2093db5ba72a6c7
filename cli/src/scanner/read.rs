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

/// The whole file if it holds at most `limit` bytes, `None` if it holds
/// more (read no further than that, so `/dev/zero` cannot fill memory).
pub(crate) fn read_capped(path: &Path, limit: u64) -> io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

/// How a path is shown: as given, `/`-separated on every platform.
pub fn display_path(path: &Path) -> String {
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

/// What went wrong, in a few words: the operating system's own description
/// (`input/output error (os error 5)`) or the decoder's (`invalid gzip
/// header`), rather than a category name such as "uncategorized error".
pub(super) fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        io::ErrorKind::UnexpectedEof => "the data ends early (a truncated gzip file?)".to_owned(),
        _ => {
            let text = e.to_string();
            let mut chars = text.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => e.kind().to_string(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_reasons_say_what_happened() {
        let eio = io::Error::from_raw_os_error(5);
        assert_eq!(io_reason(&eio), "input/output error (os error 5)");
        let gz = io::Error::new(io::ErrorKind::InvalidInput, "invalid gzip header");
        assert_eq!(io_reason(&gz), "invalid gzip header");
        assert!(!io_reason(&io::Error::other("x")).contains("uncategorized"));
    }
}
