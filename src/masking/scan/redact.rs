//! `secret-chain redact`: copy a stream with every finding masked.

use std::io::{self, Read, Write};

use super::engine::{Finding, RuleSet};
use super::{DEFAULT_MAX_LINE_LEN, LONG_LINE_OVERLAP, READ_SIZE, find_in_bytes, read_some};

/// Counters of one [`redact_stream`] run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RedactStats {
    /// Bytes read.
    pub bytes: u64,
    /// Secrets masked.
    pub masked: u64,
}

/// Copies `input` to `output` with every secret the rules find replaced by
/// `mask`; everything else, line structure included, is copied unchanged
/// (bytes that are not UTF-8 too).
///
/// Streams: each read is processed as soon as it arrives and the output is
/// flushed before the next read waits for input, so a line is never held
/// back (`myapp 2>&1 | secret-chain redact` shows each line at once). A
/// line longer than 1 MiB is processed in windows that overlap by 4 KiB.
/// The `secret-chain:allow` marker and baselines do not apply: a filter
/// masks everything it recognises.
///
/// # Errors
///
/// When reading or writing fails (a closed pipe included).
pub fn redact_stream(
    rules: &RuleSet,
    mut input: impl Read,
    mut output: impl Write,
    mask: &str,
) -> io::Result<RedactStats> {
    let mut stats = RedactStats::default();
    let cap = DEFAULT_MAX_LINE_LEN + READ_SIZE;
    let mut buf = vec![0u8; READ_SIZE];
    let (mut start, mut end) = (0usize, 0usize);
    let mut found: Vec<Finding> = Vec::new();
    loop {
        if start == end {
            start = 0;
            end = 0;
        }
        if buf.len() - end < READ_SIZE / 4 {
            if start > 0 {
                buf.copy_within(start..end, 0);
                end -= start;
                start = 0;
            }
            if buf.len() - end < READ_SIZE / 4 {
                let grown = (buf.len() * 2).min(cap);
                buf.resize(grown, 0);
            }
        }
        output.flush()?;
        let n = read_some(&mut input, &mut buf[end..])?;
        end += n;
        stats.bytes += n as u64;
        let eof = n == 0;
        let block_end = if eof {
            end
        } else {
            match memchr::memrchr(b'\n', &buf[start..end]) {
                Some(p) => start + p + 1,
                None => start,
            }
        };
        if block_end > start {
            write_block(rules, &buf[start..block_end], &mut output, mask, &mut found, &mut stats)?;
            start = block_end;
        }
        if eof {
            output.flush()?;
            return Ok(stats);
        }
        if end - start >= DEFAULT_MAX_LINE_LEN {
            // A very long line: emit all but an overlap, never cutting a secret.
            let piece = &buf[start..end];
            found.clear();
            find_in_bytes(rules, piece, &mut found);
            let mut safe = piece.len() - LONG_LINE_OVERLAP;
            found.retain(|f| f.start < safe);
            if let Some(last) = found.last() {
                safe = safe.max(last.end);
            }
            write_masked(&piece[..safe], &found, &mut output, mask)?;
            stats.masked += found.len() as u64;
            start += safe;
        }
    }
}

/// Writes whole lines; only lines that hold a candidate are searched again.
fn write_block(
    rules: &RuleSet,
    block: &[u8],
    out: &mut impl Write,
    mask: &str,
    found: &mut Vec<Finding>,
    stats: &mut RedactStats,
) -> io::Result<()> {
    if let Ok(text) = std::str::from_utf8(block) {
        found.clear();
        rules.find(text, found);
        if found.is_empty() {
            return out.write_all(block);
        }
    }
    for line in block.split_inclusive(|&b| b == b'\n') {
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        found.clear();
        find_in_bytes(rules, body, found);
        if found.is_empty() {
            out.write_all(line)?;
        } else {
            stats.masked += found.len() as u64;
            write_masked(body, found, out, mask)?;
            out.write_all(&line[body.len()..])?;
        }
    }
    Ok(())
}

fn write_masked(bytes: &[u8], found: &[Finding], out: &mut impl Write, mask: &str) -> io::Result<()> {
    let mut pos = 0;
    for f in found {
        if f.start < pos {
            continue;
        }
        out.write_all(&bytes[pos..f.start])?;
        out.write_all(mask.as_bytes())?;
        pos = f.end;
    }
    out.write_all(&bytes[pos..])
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk_live_OGAucWtJGXdfhxnmrl8kc5S6";

    fn redact(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        redact_stream(&RuleSet::builtin(), input, &mut out, "****").unwrap();
        out
    }

    #[test]
    fn only_the_secret_changes() {
        let input = format!("a\r\nkey={KEY}, next\nno newline at end {KEY}");
        let out = String::from_utf8(redact(input.as_bytes())).unwrap();
        assert_eq!(out, "a\r\nkey=****, next\nno newline at end ****");
    }

    #[test]
    fn invalid_utf8_bytes_are_copied_and_secrets_around_them_masked() {
        let mut input = b"\xff\xfe key=".to_vec();
        input.extend_from_slice(KEY.as_bytes());
        input.extend_from_slice(b" \xc3\n");
        assert_eq!(redact(&input), b"\xff\xfe key=**** \xc3\n");
    }

    #[test]
    fn a_secret_in_a_line_longer_than_the_window_is_masked() {
        let mut input = vec![b'a'; DEFAULT_MAX_LINE_LEN + READ_SIZE * 3];
        let at = DEFAULT_MAX_LINE_LEN - 10; // near the first window's edge
        input[at - 1] = b' ';
        input[at..at + KEY.len()].copy_from_slice(KEY.as_bytes());
        input[at + KEY.len()] = b' ';
        input.push(b'\n');
        let out = redact(&input);
        assert_eq!(out.len(), input.len() - KEY.len() + 4);
        assert!(memchr::memmem::find(&out, KEY.as_bytes()).is_none());
        assert!(memchr::memmem::find(&out, b" **** ").is_some());
    }
}
