//! The [`Scanner`] and searching one stream: blocks of whole lines, windows
//! of a line longer than the maximum line length, and the findings of one
//! line (allow marker, baseline, columns, excerpt).

use std::io::{self, Read};
use std::sync::Arc;

use memchr::memmem;

use secret_chain::Error;
use secret_chain::detect::{DetectedSecrets, Finding, RuleSet};

use super::baseline::{Baseline, fingerprint};
use super::excerpt::MaskedLine;
use super::read::read_error;
use super::report::{ScanFinding, ScanSummary};
use super::split::SPLIT_MIN;
use super::stream::StreamBuf;
use super::{
    ALLOW_MARKER, BINARY_SNIFF_LEN, DEFAULT_MAX_LINE_LEN, LONG_LINE_OVERLAP, MIN_MAX_LINE_LEN,
    input,
};

/// Searches inputs for credentials with a [`RuleSet`].
///
/// A secret found once in a stream is reported wherever it occurs again
/// later in that stream, on its own line or a later one, bare or not: each
/// copy is a finding with the rule (and so the fingerprint) of the first
/// one. The values found so far in a stream are kept in a
/// [`DetectedSecrets`] pool with its default limits (1,000 values,
/// 256 KiB); values shorter than
/// [`MIN_COPY_LEN`](secret_chain::detect::MIN_COPY_LEN) characters are
/// reported only where a rule finds them. A copy before the first finding
/// is reported only when it is in the same block of lines (256 KiB) as
/// that finding. The parts of a split file each have their own pool. The
/// allow marker applies to its line: a value from an allowed line is
/// still reported where it is copied to a line without the marker.
///
/// Every excerpt masks every finding of its line, copies included, also
/// those reported before or after it (window overlaps of long lines, the
/// tail of a secret that runs into the next window or line).
///
/// Cheap to clone; `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Scanner {
    pub(super) rules: Arc<RuleSet>,
    pub(super) baseline: Option<Arc<Baseline>>,
    pub(super) threads: usize,
    pub(super) max_line_len: usize,
    /// Files at least this big are split ([`SPLIT_MIN`]; smaller in tests).
    pub(super) split_min: u64,
}

impl Scanner {
    /// A scanner with these rules, no baseline, one thread per core and
    /// lines searched in one piece up to [`DEFAULT_MAX_LINE_LEN`].
    pub fn new(rules: RuleSet) -> Scanner {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        Scanner {
            rules: Arc::new(rules),
            baseline: None,
            threads,
            max_line_len: DEFAULT_MAX_LINE_LEN,
            split_min: SPLIT_MIN,
        }
    }

    /// Findings whose fingerprint the baseline holds are not reported.
    pub fn baseline(mut self, baseline: Baseline) -> Scanner {
        self.baseline = Some(Arc::new(baseline));
        self
    }

    /// How many files are searched at the same time (at least 1).
    pub fn threads(mut self, threads: usize) -> Scanner {
        self.threads = threads.max(1);
        self
    }

    /// Lines longer than this are searched in overlapping windows of this
    /// many bytes (at least 8 KiB), which bounds memory on any input.
    pub fn max_line_len(mut self, bytes: usize) -> Scanner {
        self.max_line_len = bytes.max(MIN_MAX_LINE_LEN);
        self
    }

    /// The rules this scanner uses.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Searches one stream, calling `sink` for each finding in order.
    ///
    /// Gzip data (magic bytes `1f 8b`) is decompressed first. Input that
    /// holds a NUL byte in its first 8 KiB is binary and is not searched:
    /// the returned summary then has `skipped_binary == 1`.
    ///
    /// # Errors
    ///
    /// An [`ErrorKind::Io`] error naming `name` when reading fails (or the
    /// gzip data is corrupt). Findings already delivered stay delivered.
    ///
    /// [`ErrorKind::Io`]: secret_chain::ErrorKind::Io
    pub fn scan_reader<R: Read>(
        &self,
        name: &str,
        reader: R,
        sink: &mut dyn FnMut(ScanFinding),
    ) -> Result<ScanSummary, Error> {
        let reader = input::decompressing(reader).map_err(|e| read_error(name, e))?;
        self.scan_plain(name, reader, true, sink)
            .map_err(|e| read_error(name, e))
    }

    /// The streaming loop: blocks of complete lines, long lines in windows.
    /// With `sniff`, nothing is searched before the first 8 KiB (or the
    /// whole input, if shorter) are known to hold no NUL byte.
    pub(super) fn scan_plain(
        &self,
        name: &str,
        mut reader: impl Read,
        sniff: bool,
        sink: &mut dyn FnMut(ScanFinding),
    ) -> io::Result<ScanSummary> {
        let mut summary = ScanSummary {
            inputs: 1,
            ..ScanSummary::default()
        };
        let mut st = LineState {
            name: Arc::from(name),
            line: 1,
            col_base: 0,
            char_base: 0,
            handled_end: 0,
            last_mask: (0, 0),
            found: Vec::new(),
            seen: DetectedSecrets::new(),
        };
        let max_line = self.max_line_len;
        let mut buf = StreamBuf::new(max_line);
        let mut sniffed = !sniff;
        loop {
            let n = buf.fill(&mut reader)?;
            let eof = n == 0;
            if !sniffed {
                let seen = summary.bytes as usize;
                let from = buf.end - n;
                let upto = from + BINARY_SNIFF_LEN.saturating_sub(seen).min(n);
                if memchr::memchr(0, &buf.data[from..upto]).is_some() {
                    return Ok(ScanSummary {
                        skipped_binary: 1,
                        ..ScanSummary::default()
                    });
                }
                sniffed = eof || seen + n >= BINARY_SNIFF_LEN;
            }
            summary.bytes += n as u64;
            if !sniffed {
                continue;
            }
            let block_end = if eof { buf.end } else { buf.block_end() };
            if block_end > buf.start {
                // Search from the open PEM block, if any, so a key that spans
                // blocks is seen whole; findings already handled are skipped.
                let from = buf.ctx;
                if from < buf.start {
                    st.line = buf.ctx_line;
                    st.col_base = 0;
                    st.char_base = 0;
                }
                let text_abs = buf.abs(from);
                self.scan_block(
                    &buf.data[from..block_end],
                    text_abs,
                    &mut st,
                    &mut summary,
                    sink,
                );
                buf.consume_lines(block_end, st.line);
            }
            if eof {
                summary.lines = st.line - 1;
                return Ok(summary);
            }
            if buf.end - buf.start >= max_line {
                // A line longer than the window: search it, keep an overlap.
                let (ws, we) = (buf.start, buf.end);
                let report_below = we - ws - LONG_LINE_OVERLAP;
                let abs = buf.abs(ws);
                self.scan_window(
                    &buf.data[ws..we],
                    abs,
                    report_below,
                    &mut st,
                    &mut summary,
                    sink,
                );
                st.col_base += report_below;
                st.char_base += char_count(&buf.data[ws..ws + report_below]);
                buf.consume_window(ws + report_below);
            }
        }
    }

    /// Searches a block of whole lines (the last may lack its `\n` at EOF)
    /// in one pass: a credential may span lines (a PEM key), so the block,
    /// not each line, is what the rules see. Each finding is reported on the
    /// line where it starts.
    fn scan_block(
        &self,
        block: &[u8],
        block_abs: u64,
        st: &mut LineState,
        summary: &mut ScanSummary,
        sink: &mut dyn FnMut(ScanFinding),
    ) {
        st.found.clear();
        find_in_bytes(&self.rules, block, &mut st.found);
        st.seen.add_copies(block, &mut st.found);
        if st.found.is_empty() {
            advance_lines(block, st);
            return;
        }
        let found = std::mem::take(&mut st.found);
        let mut pos = 0; // block offset where line `st.line` starts
        let mut i = 0;
        while i < found.len() {
            let s = found[i].start;
            if let Some(p) = memchr::memrchr(b'\n', &block[pos..s]) {
                let ls = pos + p + 1;
                advance_lines(&block[pos..ls], st);
                pos = ls;
            }
            let line_end = memchr::memchr(b'\n', &block[pos..]).map_or(block.len(), |p| pos + p);
            let mut j = i;
            while j < found.len() && found[j].start <= line_end {
                j += 1;
            }
            // The finding before may run into this line (a PEM key): its
            // part here is masked in the excerpts too.
            let from = if i > 0 && found[i - 1].end > pos {
                i - 1
            } else {
                i
            };
            self.report_line(
                block,
                block_abs,
                pos,
                line_end,
                &found[from..j],
                usize::MAX,
                st,
                summary,
                sink,
            );
            i = j;
        }
        advance_lines(&block[pos..], st);
        if let Some(last) = found.last() {
            st.last_mask = (block_abs + last.start as u64, block_abs + last.end as u64);
        }
        st.found = found;
    }

    /// Searches a window of a line longer than the maximum line length.
    /// Reports findings that start before `report_below`; `st.col_base` is
    /// the window's offset in the line.
    fn scan_window(
        &self,
        piece: &[u8],
        piece_abs: u64,
        report_below: usize,
        st: &mut LineState,
        summary: &mut ScanSummary,
        sink: &mut dyn FnMut(ScanFinding),
    ) {
        st.found.clear();
        find_in_bytes(&self.rules, piece, &mut st.found);
        st.seen.add_copies(piece, &mut st.found);
        if st.found.is_empty() {
            return;
        }
        let found = std::mem::take(&mut st.found);
        self.report_line(
            piece,
            piece_abs,
            0,
            piece.len(),
            &found,
            report_below,
            st,
            summary,
            sink,
        );
        // The next window starts at `report_below`: a finding across it
        // is not found there, but its tail is masked in the excerpts.
        if let Some(last) = found.iter().rev().find(|f| f.start < report_below) {
            st.last_mask = (piece_abs + last.start as u64, piece_abs + last.end as u64);
        }
        st.found = found;
    }

    /// Reports the findings that start on the line `text[ls..le]` (offsets
    /// of `found` are into `text`; a finding may run past `le`). `found`
    /// holds every finding that touches the line, in order: all of them
    /// are masked in each excerpt, also those reported before (a window
    /// overlap, a PEM block searched again, the tail of a finding that
    /// started on an earlier line or before this window) or after (past
    /// `report_below`).
    #[allow(clippy::too_many_arguments)]
    fn report_line(
        &self,
        text: &[u8],
        text_abs: u64,
        ls: usize,
        le: usize,
        found: &[Finding],
        report_below: usize,
        st: &mut LineState,
        summary: &mut ScanSummary,
        sink: &mut dyn FnMut(ScanFinding),
    ) {
        let line = &text[ls..le];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let col_base = st.col_base;
        // Spans relative to the line, cut at its end; with the full secret.
        // A finding that starts where one was already handled (an overlap
        // of long-line windows, a re-searched PEM block) is skipped.
        // With the index in `cut` of its mask.
        let mut spans: Vec<(usize, usize, &Finding, usize)> = Vec::with_capacity(found.len());
        // What each excerpt masks: every finding on the line, and what an
        // earlier window or block masked up to.
        let mut cut: Vec<(usize, usize)> = Vec::with_capacity(found.len() + 1);
        let line_abs = text_abs + ls as u64;
        let (ms, me) = st.last_mask;
        if me > line_abs {
            let rel = |x: u64| {
                usize::try_from(x.saturating_sub(line_abs))
                    .map_or(line.len(), |x| x.min(line.len()))
            };
            cut.push((rel(ms), rel(me)));
        }
        for f in found {
            let (s, e) = (
                f.start.saturating_sub(ls).min(line.len()),
                (f.end - ls.min(f.end)).min(line.len()),
            );
            match cut.last_mut() {
                Some(last) if s < last.1 => {
                    last.1 = last.1.max(e);
                }
                _ => cut.push((s, e)),
            }
            if f.start >= ls
                && f.start - ls < report_below
                && text_abs + f.start as u64 >= st.handled_end
            {
                spans.push((s, e, f, cut.len() - 1));
            }
        }
        let Some(&(_, _, last, _)) = spans.last() else {
            return;
        };
        st.handled_end = text_abs + last.end as u64;
        if memmem::find(line, ALLOW_MARKER.as_bytes()).is_some() {
            summary.allowed += spans.len() as u64;
            return;
        }
        let masked = MaskedLine::new(line, &cut);
        // Code points before the current span, counted on from the previous
        // span (spans are in order and start on character boundaries):
        // counting from the line start for each finding made a line with
        // many findings quadratic.
        let (mut counted_to, mut chars_before) = (0, 0);
        for &(s, e, f, i) in &spans {
            chars_before += char_count(&line[counted_to..s]);
            counted_to = s;
            let rule = f.rule.to_string();
            let fingerprint = fingerprint(&rule, &text[f.start..f.end]);
            if self
                .baseline
                .as_ref()
                .is_some_and(|b| b.contains(&fingerprint))
            {
                summary.baselined += 1;
                continue;
            }
            let char_col = st.char_base + chars_before;
            summary.findings += 1;
            sink(ScanFinding {
                path: st.name.to_string(),
                line: st.line,
                column: col_base + s + 1,
                end_column: col_base + e.max(s + 1) + 1,
                char_column: char_col + 1,
                char_end_column: char_col + char_count(&line[s..e]).max(1) + 1,
                rule,
                excerpt: masked.excerpt(i),
                fingerprint,
            });
        }
    }
}

/// Per-stream position and reusable buffers.
struct LineState {
    name: Arc<str>,
    /// Current 1-based line number.
    line: u64,
    /// Offset in the current line of the window being searched (long lines).
    col_base: usize,
    /// The same offset in code points.
    char_base: usize,
    /// Stream offset just past the last finding handled (reported, allowed
    /// or baselined); findings starting before it are not handled again.
    handled_end: u64,
    /// The stream span of the last finding of the blocks and windows
    /// searched so far: it may run into the next window, where it is
    /// masked in excerpts too.
    last_mask: (u64, u64),
    found: Vec<Finding>,
    /// The secrets found so far in this stream: later copies of them are
    /// findings too.
    seen: DetectedSecrets,
}

fn advance_lines(bytes: &[u8], st: &mut LineState) {
    let n = memchr::memchr_iter(b'\n', bytes).count();
    if n > 0 {
        st.line += n as u64;
        st.col_base = 0;
        st.char_base = 0;
    }
}

/// Runs the rules over bytes that may not be UTF-8: each valid piece is
/// searched on its own and spans are offsets into `bytes`.
pub(crate) fn find_in_bytes(rules: &RuleSet, bytes: &[u8], out: &mut Vec<Finding>) {
    match std::str::from_utf8(bytes) {
        Ok(text) => rules.find(text, out),
        Err(_) => {
            let mut offset = 0;
            for chunk in bytes.utf8_chunks() {
                let valid = chunk.valid();
                let before = out.len();
                rules.find(valid, out);
                for f in &mut out[before..] {
                    f.start += offset;
                    f.end += offset;
                }
                offset += valid.len() + chunk.invalid().len();
            }
        }
    }
}

/// Code points in `bytes`, an invalid sequence counting as one.
fn char_count(bytes: &[u8]) -> usize {
    #[cfg(test)]
    super::test_support::add_work(bytes.len());
    if bytes.is_ascii() {
        return bytes.len();
    }
    bytes
        .utf8_chunks()
        .map(|c| c.valid().chars().count() + usize::from(!c.invalid().is_empty()))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scanner::READ_SIZE;
    use crate::scanner::test_support::{KEY, KEY2, Pieces, pem_log, scan, scan_with};

    #[test]
    fn line_and_byte_columns_are_one_based() {
        let f = scan(format!("first\nsecond key={KEY} end\n").as_bytes());
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].line, f[0].column, f[0].end_column),
            (2, 12, 12 + KEY.len())
        );
        assert_eq!(f[0].excerpt, "second key=**** end");
        assert_eq!(f[0].fingerprint, fingerprint(&f[0].rule, KEY.as_bytes()));
    }

    #[test]
    fn line_numbers_stay_right_across_read_blocks() {
        let mut input = String::new();
        let mut want = Vec::new();
        for i in 1..=60_000u64 {
            if i % 7_919 == 0 {
                input.push_str(&format!("{i} token={KEY2}\n"));
                want.push(i);
            } else {
                input.push_str(&format!(
                    "{i} INFO request served in 12ms path=/api/v1/items\n"
                ));
            }
        }
        assert!(input.len() > 3 * READ_SIZE);
        let got: Vec<u64> = scan(input.as_bytes()).iter().map(|f| f.line).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn code_point_columns_count_multibyte_characters_once() {
        let f = scan(format!("héllo wörld {KEY}\n").as_bytes());
        assert_eq!(f[0].column, 15);
        assert_eq!(f[0].char_column, 13);
        assert_eq!(f[0].char_end_column, 13 + KEY.len());
    }

    #[test]
    fn a_line_with_the_allow_marker_is_not_reported() {
        let input = format!("a {KEY} # secret-chain:allow\nb {KEY2}\n");
        let (f, s) = scan_with(&Scanner::new(RuleSet::builtin()), input.as_bytes());
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].line, 2);
        assert_eq!((s.allowed, s.findings), (1, 1));
    }

    #[test]
    fn a_baselined_finding_is_not_reported() {
        let input = format!("a {KEY}\nb {KEY2}\n");
        let first = scan(input.as_bytes());
        let mut b = Baseline::new();
        b.insert(&first[0]);
        let (f, s) = scan_with(
            &Scanner::new(RuleSet::builtin()).baseline(b),
            input.as_bytes(),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].line, 2);
        assert_eq!(s.baselined, 1);
    }

    #[test]
    fn invalid_utf8_does_not_hide_a_secret_or_shift_byte_columns() {
        let mut input = b"\xff\xfe x=".to_vec();
        input.extend_from_slice(KEY.as_bytes());
        input.extend_from_slice(b"\n");
        let f = scan(&input);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].column, 6);
    }

    #[test]
    fn crlf_lines_and_a_last_line_without_newline_are_scanned() {
        let f = scan(format!("a\r\nkey={KEY}\r\nlast {KEY2}").as_bytes());
        assert_eq!(f.iter().map(|f| f.line).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(f[0].excerpt, "key=****");
    }

    #[test]
    fn a_nul_byte_in_the_first_block_makes_the_input_binary() {
        let mut input = b"\x7fELF\x02\x01\x00\x00".to_vec();
        input.extend_from_slice(format!(" {KEY}\n").as_bytes());
        let (f, s) = scan_with(&Scanner::new(RuleSet::builtin()), &input);
        assert!(f.is_empty());
        assert_eq!(s.skipped_binary, 1);
    }

    #[test]
    fn a_secret_in_a_huge_line_is_found_once_with_its_column() {
        let scanner = Scanner::new(RuleSet::builtin()).max_line_len(64 * 1024);
        let mut line = vec![b'a'; 1 << 20];
        // Right on a window edge, and once more far into the line.
        for at in [64 * 1024 - LONG_LINE_OVERLAP - 5, 900_000] {
            line[at - 1] = b' ';
            line[at..at + KEY.len()].copy_from_slice(KEY.as_bytes());
            line[at + KEY.len()] = b' ';
        }
        line.extend_from_slice(format!("\nnext {KEY2}\n").as_bytes());
        let (f, _) = scan_with(&scanner, &line);
        let got: Vec<(u64, usize)> = f.iter().map(|f| (f.line, f.column)).collect();
        assert_eq!(
            got,
            [(1, 64 * 1024 - LONG_LINE_OVERLAP - 4), (1, 900_001), (2, 6)]
        );
    }

    /// A line of `n` secret-named values with multibyte characters and an
    /// invalid byte between them, and the values.
    fn many_values_line(n: usize) -> (Vec<u8>, Vec<String>) {
        let mut line = Vec::new();
        let mut values = Vec::new();
        for i in 0..n {
            let v = format!("pw{i:06}Xq");
            line.extend_from_slice("é \u{2603} ".as_bytes());
            line.extend_from_slice(b"\xff password=");
            line.extend_from_slice(v.as_bytes());
            line.push(b' ');
            values.push(v);
        }
        line.push(b'\n');
        (line, values)
    }

    #[test]
    fn many_findings_on_one_line_keep_their_columns_and_cost_linear_work() {
        let mut work = Vec::new();
        for n in [1_000, 2_000] {
            let (line, values) = many_values_line(n);
            super::super::test_support::take_work();
            let f = scan(&line);
            work.push(super::super::test_support::take_work());
            let got: Vec<&[u8]> = f
                .iter()
                .map(|f| &line[f.column - 1..f.end_column - 1])
                .collect();
            let want: Vec<&[u8]> = values.iter().map(|v| v.as_bytes()).collect();
            assert_eq!(got, want);
            for (f, v) in f.iter().zip(&values) {
                // What the columns were when counted from the line start.
                assert_eq!(f.char_column, char_count(&line[..f.column - 1]) + 1);
                assert_eq!(f.char_end_column, f.char_column + v.len());
                assert!(f.excerpt.contains("password=****"), "{}", f.excerpt);
                assert!(!f.excerpt.contains("pw0"), "{}", f.excerpt);
            }
        }
        // Twice the findings, at most twice the work (plus a little): a
        // count from the line start for each finding would be four times.
        assert!(work[1] <= 2 * work[0] + 1_000, "work {work:?}");
    }

    #[test]
    fn gzip_input_is_scanned_after_decompression() {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(format!("x\ny {KEY}\n").as_bytes()).unwrap();
        let f = scan(&e.finish().unwrap());
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].line, 2);
    }

    #[test]
    fn a_multi_line_pem_key_split_across_reads_is_found_once() {
        let (log, _) = pem_log();
        let begin = log.find("-----BEGIN").unwrap();
        for cut in [begin + 10, begin + 33, begin + 200, log.len() - 40] {
            let pieces = Pieces(
                [
                    log.as_bytes()[..cut].to_vec(),
                    log.as_bytes()[cut..].to_vec(),
                ]
                .into(),
            );
            let mut found = Vec::new();
            Scanner::new(RuleSet::builtin())
                .scan_reader("k.log", pieces, &mut |f| found.push(f))
                .unwrap();
            let lines: Vec<(u64, &str)> = found.iter().map(|f| (f.line, f.rule.as_str())).collect();
            assert_eq!(lines, [(503, "private-key")], "cut at {cut}");
            assert!(!found[0].excerpt.contains("MIIE"));
        }
    }
}
