//! `secret-chain redact`: copy a stream with every finding masked.

use std::io::{self, Read, Write};

use super::search::find_in_bytes;
use super::stream::StreamBuf;
use super::{DEFAULT_MAX_LINE_LEN, LONG_LINE_OVERLAP};
use secret_chain::detect::{Finding, RuleSet};

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
    let mut buf = StreamBuf::new(DEFAULT_MAX_LINE_LEN);
    let mut found: Vec<Finding> = Vec::new();
    // Lines are only counted to keep the PEM context's bookkeeping.
    let mut line: u64 = 1;
    loop {
        output.flush()?;
        let n = buf.fill(&mut input)?;
        stats.bytes += n as u64;
        let eof = n == 0;
        let block_end = if eof { buf.end } else { buf.block_end() };
        if block_end > buf.start {
            // Search from an open PEM block so a key spanning reads is
            // masked whole; write only what was not written before.
            let (from, start) = (buf.ctx, buf.start);
            found.clear();
            find_in_bytes(rules, &buf.data[from..block_end], &mut found);
            let skip = start - from;
            found.retain_mut(|f| {
                if f.end <= skip {
                    return false;
                }
                f.start = f.start.max(skip) - skip;
                f.end -= skip;
                true
            });
            stats.masked += found.len() as u64;
            write_masked(&buf.data[start..block_end], &found, &mut output, mask)?;
            line += memchr::memchr_iter(b'\n', &buf.data[start..block_end]).count() as u64;
            buf.consume_lines(block_end, line);
        }
        if eof {
            output.flush()?;
            return Ok(stats);
        }
        if buf.end - buf.start >= DEFAULT_MAX_LINE_LEN {
            // A very long line: emit all but an overlap, never cutting a secret.
            let piece = &buf.data[buf.start..buf.end];
            found.clear();
            find_in_bytes(rules, piece, &mut found);
            let mut safe = piece.len() - LONG_LINE_OVERLAP;
            found.retain(|f| f.start < safe);
            if let Some(last) = found.last() {
                safe = safe.max(last.end);
            }
            write_masked(&piece[..safe], &found, &mut output, mask)?;
            stats.masked += found.len() as u64;
            let next = buf.start + safe;
            buf.consume_window(next);
        }
    }
}

/// Writes `bytes` with each finding replaced by the mask; a finding that
/// spans lines becomes one mask per line, line breaks kept.
fn write_masked(
    bytes: &[u8],
    found: &[Finding],
    out: &mut impl Write,
    mask: &str,
) -> io::Result<()> {
    let mut pos = 0;
    for f in found {
        if f.start < pos {
            continue;
        }
        out.write_all(&bytes[pos..f.start])?;
        for (i, piece) in bytes[f.start..f.end].split(|&b| b == b'\n').enumerate() {
            if i > 0 {
                out.write_all(b"\n")?;
            }
            let (body, cr) = match piece.strip_suffix(b"\r") {
                Some(b) => (b, true),
                None => (piece, false),
            };
            if !body.is_empty() {
                out.write_all(mask.as_bytes())?;
            }
            if cr {
                out.write_all(b"\r")?;
            }
        }
        pos = f.end;
    }
    out.write_all(&bytes[pos..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scanner::test_support::{Pieces, pem_log};
    use crate::scanner::{MASK, READ_SIZE};

    const KEY: &str = "sk_live_OGAucWtJGXdfhxnmrl8kc5S6"; // secret-chain:allow

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

    #[test]
    fn redact_masks_every_line_of_a_pem_key_split_across_reads() {
        let (log, body) = pem_log();
        let begin = log.find("-----BEGIN").unwrap();
        for cut in [begin + 10, begin + 33, begin + 200, log.len() - 40] {
            let pieces = Pieces(
                [
                    log.as_bytes()[..cut].to_vec(),
                    log.as_bytes()[cut..].to_vec(),
                ]
                .into(),
            );
            let mut out = Vec::new();
            redact_stream(&RuleSet::builtin(), pieces, &mut out, MASK).unwrap();
            let out = String::from_utf8(out).unwrap();
            assert_eq!(out.lines().count(), log.lines().count(), "cut at {cut}");
            for line in body.lines() {
                assert!(!out.contains(line), "cut at {cut}: a key line is left");
            }
            assert!(
                out.contains("-----BEGIN RSA PRIVATE KEY-----\n****\n****\n"),
                "cut at {cut}"
            );
        }
    }
}
