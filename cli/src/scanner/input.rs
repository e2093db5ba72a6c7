//! Opening inputs: gzip detected by its magic bytes and decompressed.

use std::io::{self, BufRead, BufReader, Read};

use flate2::bufread::MultiGzDecoder;

/// The first two bytes of every gzip member.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// `reader` itself, or a decoder of it when it starts with the gzip magic
/// bytes (all members of a multi-member file are read, as `zcat` does).
pub(super) fn decompressing<'a, R: Read + 'a>(reader: R) -> io::Result<Box<dyn Read + 'a>> {
    // Large enough that BufReader passes big reads straight through.
    let mut br = BufReader::with_capacity(64 * 1024, reader);
    let head = loop {
        match br.fill_buf() {
            Ok(b) => break b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    };
    if head.len() >= 2 && head[..2] == GZIP_MAGIC {
        Ok(Box::new(MultiGzDecoder::new(br)))
    } else if head.len() == 1 && head[0] == GZIP_MAGIC[0] {
        // One byte so far: look at the next one before deciding.
        let mut first = [0u8; 1];
        br.read_exact(&mut first)?;
        let mut rest = br;
        let head2 = rest.fill_buf()?.first().copied();
        let prefix = io::Cursor::new(first);
        if head2 == Some(GZIP_MAGIC[1]) {
            Ok(Box::new(MultiGzDecoder::new(BufReader::new(
                prefix.chain(rest),
            ))))
        } else {
            Ok(Box::new(prefix.chain(rest)))
        }
    } else {
        Ok(Box::new(br))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn plain_input_is_passed_through() {
        let mut out = String::new();
        decompressing(&b"hello\nworld\n"[..])
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "hello\nworld\n");
    }

    #[test]
    fn every_member_of_a_multi_member_gzip_is_read() {
        let mut data = gz(b"first\n");
        data.extend(gz(b"second\n"));
        let mut out = String::new();
        decompressing(&data[..])
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "first\nsecond\n");
    }

    #[test]
    fn gzip_arriving_one_byte_at_a_time_is_detected() {
        struct Trickle(Vec<u8>, usize);
        impl Read for Trickle {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.1 >= self.0.len() || buf.is_empty() {
                    return Ok(0);
                }
                buf[0] = self.0[self.1];
                self.1 += 1;
                Ok(1)
            }
        }
        let mut out = String::new();
        decompressing(Trickle(gz(b"slow pipe\n"), 0))
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "slow pipe\n");
    }

    #[test]
    fn corrupt_gzip_is_an_error_not_a_panic() {
        let mut data = gz(b"some log line\n");
        let n = data.len();
        data[n / 2] ^= 0xff;
        data.truncate(n - 4);
        let mut out = Vec::new();
        assert!(
            decompressing(&data[..])
                .unwrap()
                .read_to_end(&mut out)
                .is_err()
        );
    }
}
