//! `secret-chain redact`: copy a stream with every finding masked.

use std::io::{self, Read, Write};

use super::search::find_in_bytes;
use super::stream::StreamBuf;
use super::{DEFAULT_MAX_LINE_LEN, LONG_LINE_OVERLAP};
use secret_chain::detect::{DetectedSecrets, Finding, RuleSet};

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
/// Once found, a secret stays masked for the rest of the stream: every
/// other occurrence of it is masked too, on its line and on every later
/// line, bare or not (`password=S` on line 1, `retrying with S` on line
/// 5). The values found so far are kept in a [`DetectedSecrets`] pool
/// with its default limits (1,000 values, 256 KiB, one hour since a
/// value was last found; the oldest dropped first), checked before each
/// block is written. Values shorter than
/// [`MIN_COPY_LEN`](secret_chain::detect::MIN_COPY_LEN) characters are
/// masked only where a rule finds them. A copy on a line written before
/// the secret was first found (in an earlier read) stays as it was.
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
    let mut seen = DetectedSecrets::new();
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
            seen.add_copies(&buf.data[from..block_end], &mut found);
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
            seen.add_copies(piece, &mut found);
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

    #[test]
    fn every_copy_of_a_found_secret_is_masked_on_its_line_and_later_lines() {
        let input = format!(
            "token = '{KEY}' | '{KEY}'\n\
             connect password=Zq8-Lw3x-Pt7v host=db1\n\
             GET /health 200\n\
             GET /health 200\n\
             auth failed for Zq8-Lw3x-Pt7v; key was {KEY}\n\
             pwd=ab12z then ab12z\n"
        );
        let out = String::from_utf8(redact(input.as_bytes())).unwrap();
        assert_eq!(
            out,
            "token = '****' | '****'\n\
             connect password=**** host=db1\n\
             GET /health 200\n\
             GET /health 200\n\
             auth failed for ****; key was ****\n\
             pwd=**** then ab12z\n"
        );
    }

    #[test]
    fn a_secret_found_in_one_read_is_masked_bare_in_later_reads() {
        let first = "connect password=Zq8-Lw3x-Pt7v host=db1\n".to_string();
        let filler = "INFO GET /health 200 1ms\n".repeat(20_000); // > one block
        let last = "auth failed for Zq8-Lw3x-Pt7v\n";
        let pieces = Pieces(
            [
                first.into_bytes(),
                filler.into_bytes(),
                last.as_bytes().to_vec(),
            ]
            .into(),
        );
        let mut out = Vec::new();
        let stats = redact_stream(&RuleSet::builtin(), pieces, &mut out, MASK).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(!out.contains("Zq8-Lw3x-Pt7v"));
        assert!(out.ends_with("auth failed for ****\n"));
        assert_eq!(stats.masked, 2);
    }

    #[test]
    fn a_bare_copy_in_a_line_longer_than_the_window_is_masked() {
        let mut input = b"password=Zq8-Lw3x-Pt7v\n".to_vec();
        let mut long = vec![b'a'; DEFAULT_MAX_LINE_LEN + READ_SIZE * 3];
        for at in [
            10,
            DEFAULT_MAX_LINE_LEN - 5,
            DEFAULT_MAX_LINE_LEN + READ_SIZE,
        ] {
            long[at - 1] = b' ';
            long[at..at + 13].copy_from_slice(b"Zq8-Lw3x-Pt7v");
            long[at + 13] = b' ';
        }
        input.extend_from_slice(&long);
        input.push(b'\n');
        let out = redact(&input);
        assert!(memchr::memmem::find(&out, b"Zq8-Lw3x-Pt7v").is_none());
        assert_eq!(out.len(), input.len() - 4 * 9);
    }

    /// The secrets the rules find on each line of `input` whose copies
    /// are masked (those of at least `MIN_COPY_LEN` characters), with the
    /// line where each is first found.
    fn found_secrets(input: &str) -> Vec<(String, usize)> {
        let rules = RuleSet::builtin();
        let mut out: Vec<(String, usize)> = Vec::new();
        for (i, line) in input.lines().enumerate() {
            let mut f = Vec::new();
            rules.find(line, &mut f);
            for f in f {
                let s = &line[f.start..f.end];
                if s.chars().count() >= secret_chain::detect::MIN_COPY_LEN
                    && !out.iter().any(|(v, _)| v == s)
                {
                    out.push((s.to_string(), i));
                }
            }
        }
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// For any text and any secret found in it, `redact` output holds
        /// no occurrence of that secret: random words and line breaks, a
        /// few secrets in context (key=value, a token, a URL password),
        /// copies of them bare anywhere. Read in one piece, the input is
        /// one block (its lines all end with a newline): no occurrence anywhere. Cut into random reads, lines
        /// are written as they come: no occurrence from the line where
        /// the secret is first found on (a copy on an earlier line, in
        /// an earlier read, is already written).
        #[test]
        fn redact_output_holds_no_found_secret(
            words in proptest::collection::vec("[a-z0-9é =:,./'\"-]{0,12}", 1..60),
            secrets in proptest::collection::vec("[A-Za-z0-9]{8,24}", 1..4),
            placements in proptest::collection::vec((0usize..64, 0usize..4, 0usize..4), 1..24),
            cuts in proptest::collection::vec(0usize..2048, 0..6),
        ) {
            let mut parts: Vec<String> = words.clone();
            for &(at, which, how) in &placements {
                let s = &secrets[which % secrets.len()];
                let piece = match how {
                    0 => format!(" password={s} "),
                    1 => format!(" https://svc:{s}@db.example.com/x "),
                    2 => format!(" ghp_{s:0<36} "),
                    _ => format!(" {s} "),
                };
                let at = at % (parts.len() + 1);
                parts.insert(at, piece);
            }
            let mut input = String::new();
            for (i, p) in parts.iter().enumerate() {
                input.push_str(p);
                if i % 5 == 4 {
                    input.push('\n');
                }
            }
            // (A last line without its newline is a block of its own.)
            input.push('\n');
            let found = found_secrets(&input);
            let whole = String::from_utf8(redact(input.as_bytes())).unwrap();
            for (s, _) in &found {
                proptest::prop_assert!(!whole.contains(s), "{s:?} left in {whole:?}");
            }
            let bytes = input.as_bytes();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
            cuts.sort_unstable();
            let mut reads = std::collections::VecDeque::new();
            let mut last = 0;
            for c in cuts {
                // (An empty read is the end of the input.)
                if c > last {
                    reads.push_back(bytes[last..c].to_vec());
                    last = c;
                }
            }
            reads.push_back(bytes[last..].to_vec());
            let mut out = Vec::new();
            redact_stream(&RuleSet::builtin(), Pieces(reads), &mut out, MASK).unwrap();
            let out = String::from_utf8(out).unwrap();
            proptest::prop_assert_eq!(out.lines().count(), input.lines().count());
            for (s, first) in &found {
                let rest = out.lines().skip(*first).collect::<Vec<_>>().join("\n");
                proptest::prop_assert!(!rest.contains(s), "{s:?} left in {rest:?}");
            }
        }
    }
}
