//! The log scanner behind `secret-chain scan` and `secret-chain redact`.
//!
//! A [`Scanner`] runs the crate's one [`RuleSet`] (the same patterns the
//! masking layer uses) over files, directories, gzip-compressed logs and
//! standard input, and reports each credential it finds as a
//! [`ScanFinding`]: where it is (path, 1-based line, 1-based byte column),
//! which rule matched, an excerpt of the line with every secret masked, and a
//! fingerprint that a [`Baseline`] can accept without storing the secret.
//!
//! - [`Scanner::scan_inputs`]: walk paths (directories recursively, skipping
//!   `.git`, `target` and binary files), scan files in parallel and deliver
//!   [`ScanEvent`]s in input order.
//! - [`Scanner::scan_reader`]: scan one stream.
//! - [`FindingWriter`]: the three output formats ([`Format::Text`],
//!   [`Format::Json`] lines, [`Format::Sarif`] 2.1.0).
//! - [`load_rules_file`] / [`parse_rules_toml`]: user rules from TOML.
//! - [`Baseline`]: accepted findings, stored as fingerprints.
//! - [`redact_stream`]: copy a stream with every finding masked.
//!
//! # Streaming and memory
//!
//! Input is read in blocks of 256 KiB and split on `\n` with `memchr`; a
//! block of complete lines is searched in one pass and only the lines that
//! hold a candidate are searched again one by one, so memory does not grow
//! with the size of a file. A line longer than the maximum line length
//! (1 MiB by default, [`Scanner::max_line_len`]) is searched in windows of
//! that size that overlap by 4 KiB, so a pathological line of any length
//! neither fills memory nor hides a secret that crosses a window edge.
//!
//! # False positives
//!
//! Placeholders (`sk-xxxx…`, `<redacted>`, `${VAR}`) are excluded by the rule
//! engine. A line containing the marker [`ALLOW_MARKER`]
//! (`secret-chain:allow`) is not reported. A [`Baseline`] holds the
//! fingerprints of accepted findings.
//!
//! # Example
//!
//! ```
//! use secret_chain::masking::scan::Scanner;
//! use secret_chain::masking::RuleSet;
//!
//! let scanner = Scanner::new(RuleSet::builtin());
//! let log = "INFO starting\nDEBUG key=sk_live_OGAucWtJGXdfhxnmrl8kc5S6 loaded\n";
//! let mut found = Vec::new();
//! scanner.scan_reader("app.log", log.as_bytes(), &mut |f| found.push(f))?;
//! assert_eq!(found.len(), 1);
//! assert_eq!(found[0].line, 2);
//! assert!(!found[0].excerpt.contains("OGAucWtJGXdfhxnmrl8kc5S6"));
//! # Ok::<(), secret_chain::Error>(())
//! ```

mod baseline;
mod config;
mod engine;
mod input;
mod output;
mod redact;
mod walk;

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use memchr::memmem;
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind};

pub use baseline::Baseline;
pub use config::{load_rules_file, parse_rules_toml};
use engine::Finding;
pub use engine::{RuleSet, RuleSpec};
pub use output::{Format, FindingWriter, SARIF_SCHEMA};
pub use redact::{RedactStats, redact_stream};

/// The inline marker that keeps a line out of the report.
pub const ALLOW_MARKER: &str = "secret-chain:allow";

/// What replaces a secret in excerpts and in [`redact_stream`]'s output.
pub const MASK: &str = "****";

/// Default maximum line length searched in one piece (1 MiB).
pub const DEFAULT_MAX_LINE_LEN: usize = 1 << 20;

/// How many bytes of a line are read in one block.
const READ_SIZE: usize = 256 * 1024;
/// Overlap between the windows of a line longer than the maximum line length.
const LONG_LINE_OVERLAP: usize = 4096;
/// The smallest maximum line length accepted (it must exceed the overlap).
const MIN_MAX_LINE_LEN: usize = 2 * LONG_LINE_OVERLAP;
/// Bytes checked for a NUL to call an input binary.
const BINARY_SNIFF_LEN: usize = 8192;
/// Bytes of context kept on each side of a secret in an excerpt.
const EXCERPT_CONTEXT: usize = 40;

/// One credential found in the input.
///
/// Never holds the secret itself: the excerpt has every secret of the line
/// replaced by [`MASK`], and the fingerprint is a SHA-256 digest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScanFinding {
    /// The input's name: the path as given or found while walking, or
    /// `<stdin>`.
    pub path: String,
    /// 1-based line number.
    pub line: u64,
    /// 1-based column of the first byte of the secret, counted in bytes.
    pub column: usize,
    /// 1-based column just past the secret, counted in bytes.
    pub end_column: usize,
    /// 1-based column of the secret's first character, counted in Unicode
    /// code points (what SARIF's `unicodeCodePoints` column kind expects).
    #[serde(skip)]
    pub char_column: usize,
    /// 1-based column just past the secret, in Unicode code points.
    #[serde(skip)]
    pub char_end_column: usize,
    /// The id of the rule that matched.
    pub rule: String,
    /// The line around the secret, secrets masked, control characters escaped.
    pub excerpt: String,
    /// `sha256("secret-chain/v1\0" + rule + "\0" + secret)`, hex: the value a
    /// [`Baseline`] stores.
    pub fingerprint: String,
}

/// One input to [`Scanner::scan_inputs`].
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
        if arg == "-" { Input::Stdin } else { Input::Path(PathBuf::from(arg)) }
    }
}

/// What [`Scanner::scan_inputs`] reports, in input order.
#[derive(Debug)]
#[non_exhaustive]
pub enum ScanEvent {
    /// A credential.
    Finding(ScanFinding),
    /// An input that could not be read; the scan goes on with the others.
    Error {
        /// The path as given or found.
        path: String,
        /// What went wrong (kind [`ErrorKind::Io`]).
        error: Error,
    },
    /// A file skipped because it looks binary (a NUL byte in its first 8 KiB).
    SkippedBinary {
        /// The path as given or found.
        path: String,
    },
}

/// Counters of one scan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanSummary {
    /// Inputs searched (files and streams, binary ones excluded).
    pub inputs: u64,
    /// Bytes searched (after decompression).
    pub bytes: u64,
    /// Findings reported.
    pub findings: u64,
    /// Findings not reported because their line holds [`ALLOW_MARKER`].
    pub allowed: u64,
    /// Findings not reported because the baseline accepts them.
    pub baselined: u64,
    /// Inputs skipped as binary.
    pub skipped_binary: u64,
    /// Inputs that could not be read.
    pub errors: u64,
}

impl ScanSummary {
    fn add(&mut self, other: &ScanSummary) {
        self.inputs += other.inputs;
        self.bytes += other.bytes;
        self.findings += other.findings;
        self.allowed += other.allowed;
        self.baselined += other.baselined;
        self.skipped_binary += other.skipped_binary;
        self.errors += other.errors;
    }
}

/// Searches inputs for credentials with a [`RuleSet`].
///
/// Cheap to clone; `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Scanner {
    rules: Arc<RuleSet>,
    baseline: Option<Arc<Baseline>>,
    threads: usize,
    max_line_len: usize,
}

impl Scanner {
    /// A scanner with these rules, no baseline, one thread per core and
    /// lines searched in one piece up to [`DEFAULT_MAX_LINE_LEN`].
    pub fn new(rules: RuleSet) -> Scanner {
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        Scanner {
            rules: Arc::new(rules),
            baseline: None,
            threads,
            max_line_len: DEFAULT_MAX_LINE_LEN,
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
    pub fn scan_reader<R: Read>(
        &self,
        name: &str,
        reader: R,
        sink: &mut dyn FnMut(ScanFinding),
    ) -> Result<ScanSummary, Error> {
        let reader = input::decompressing(reader)
            .map_err(|e| read_error(name, e))?;
        self.scan_plain(name, reader, true, sink)
            .map_err(|e| read_error(name, e))
    }

    /// Searches every input: files, directories (recursively; `.git` and
    /// `target` directories, symbolic links inside directories and binary
    /// files are skipped) and standard input. Files are searched on up to
    /// [`Scanner::threads`] threads; `on_event` is called on the calling
    /// thread, in input order (directory entries sorted by name).
    ///
    /// Unreadable inputs become [`ScanEvent::Error`] and the scan goes on.
    pub fn scan_inputs(&self, inputs: &[Input], mut on_event: impl FnMut(ScanEvent)) -> ScanSummary {
        let mut jobs = Vec::new();
        for input in inputs {
            match input {
                Input::Stdin => jobs.push(walk::Job::Stdin),
                Input::Path(p) => walk::expand(p, &mut jobs),
            }
        }
        let mut summary = ScanSummary::default();
        let workers = self.threads.min(jobs.len());
        if workers <= 1 {
            for job in &jobs {
                let s = self.run_job(job, &mut on_event);
                summary.add(&s);
            }
            return summary;
        }

        let next = AtomicUsize::new(0);
        let (tx, rx) = mpsc::sync_channel::<(usize, Vec<ScanEvent>, ScanSummary)>(workers * 4);
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let tx = tx.clone();
                let next = &next;
                let jobs = &jobs;
                scope.spawn(move || {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(i) else { break };
                        let mut events = Vec::new();
                        let s = self.run_job(job, &mut |e| events.push(e));
                        if tx.send((i, events, s)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            // Deliver in input order: keep results that arrive early.
            let mut pending = std::collections::BTreeMap::new();
            let mut want = 0;
            for (i, events, s) in rx {
                pending.insert(i, (events, s));
                while let Some((events, s)) = pending.remove(&want) {
                    for e in events {
                        on_event(e);
                    }
                    summary.add(&s);
                    want += 1;
                }
            }
        });
        summary
    }

    fn run_job(&self, job: &walk::Job, on_event: &mut dyn FnMut(ScanEvent)) -> ScanSummary {
        let (name, result) = match job {
            walk::Job::Error { path, error } => {
                on_event(ScanEvent::Error { path: path.clone(), error: error.clone() });
                return ScanSummary { errors: 1, ..ScanSummary::default() };
            }
            walk::Job::Stdin => {
                let name = "<stdin>".to_owned();
                // No binary sniffing on stdin: it would hold back the first
                // findings of a slow pipe until 8 KiB have arrived.
                let r = input::decompressing(io::stdin().lock())
                    .map_err(|e| read_error(&name, e))
                    .and_then(|r| {
                        self.scan_plain(&name, r, false, &mut |f| on_event(ScanEvent::Finding(f)))
                            .map_err(|e| read_error(&name, e))
                    });
                (name, r)
            }
            walk::Job::File(path) => {
                let name = display_path(path);
                let r = match std::fs::File::open(path) {
                    Ok(file) => self.scan_reader(&name, file, &mut |f| on_event(ScanEvent::Finding(f))),
                    Err(e) => Err(open_error(&name, e)),
                };
                (name, r)
            }
        };
        match result {
            Ok(s) => {
                if s.skipped_binary > 0 {
                    on_event(ScanEvent::SkippedBinary { path: name });
                }
                s
            }
            Err(error) => {
                on_event(ScanEvent::Error { path: name, error });
                ScanSummary { errors: 1, ..ScanSummary::default() }
            }
        }
    }

    /// The streaming loop: blocks of complete lines, long lines in windows.
    /// With `sniff`, nothing is searched before the first 8 KiB (or the
    /// whole input, if shorter) are known to hold no NUL byte.
    fn scan_plain(
        &self,
        name: &str,
        mut reader: impl Read,
        sniff: bool,
        sink: &mut dyn FnMut(ScanFinding),
    ) -> io::Result<ScanSummary> {
        let mut summary = ScanSummary { inputs: 1, ..ScanSummary::default() };
        let mut st = LineState {
            name: Arc::from(name),
            line: 1,
            col_base: 0,
            char_base: 0,
            skip_before: 0,
            found: Vec::new(),
            spans: Vec::new(),
        };
        let max_line = self.max_line_len;
        let cap = max_line + READ_SIZE;
        let mut buf = vec![0u8; READ_SIZE];
        let (mut start, mut end) = (0usize, 0usize);
        let mut eof = false;
        let mut sniffed = !sniff;
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
            let n = read_some(&mut reader, &mut buf[end..])?;
            if n == 0 {
                eof = true;
            }
            if !sniffed {
                let upto = (end + n).min(BINARY_SNIFF_LEN);
                if end < upto && memchr::memchr(0, &buf[end..upto]).is_some() {
                    return Ok(ScanSummary { skipped_binary: 1, ..ScanSummary::default() });
                }
                sniffed = eof || end + n >= BINARY_SNIFF_LEN;
            }
            end += n;
            summary.bytes += n as u64;
            if !sniffed {
                continue;
            }
            if let Some(p) = memchr::memrchr(b'\n', &buf[start..end]) {
                let block_end = start + p + 1;
                self.scan_block(&buf[start..block_end], &mut st, &mut summary, sink);
                start = block_end;
            }
            if eof {
                if start < end {
                    self.scan_block(&buf[start..end], &mut st, &mut summary, sink);
                }
                return Ok(summary);
            }
            if end - start >= max_line {
                // A line longer than the window: search it, keep an overlap.
                let piece = &buf[start..end];
                let report_below = piece.len() - LONG_LINE_OVERLAP;
                self.scan_line(piece, report_below, &mut st, &mut summary, sink);
                st.col_base += report_below;
                st.char_base += char_count(&piece[..report_below]);
                start += report_below;
            }
        }
    }

    /// Searches a block of whole lines (the last may lack its `\n` at EOF).
    fn scan_block(
        &self,
        block: &[u8],
        st: &mut LineState,
        summary: &mut ScanSummary,
        sink: &mut dyn FnMut(ScanFinding),
    ) {
        let text = match std::str::from_utf8(block) {
            Ok(t) => t,
            Err(_) => {
                // Not UTF-8: search line by line, each in its valid pieces.
                for line in block.split_inclusive(|&b| b == b'\n') {
                    self.finish_line(line, st, summary, sink);
                }
                return;
            }
        };
        st.found.clear();
        self.rules.find(text, &mut st.found);
        if st.found.is_empty() {
            advance_lines(block, st);
            return;
        }
        // Only lines that hold a candidate are searched again, one by one,
        // to get exact positions and per-line false-positive controls.
        st.spans.clear();
        st.spans.extend(st.found.iter().map(|f| (f.start, f.end)));
        let spans = std::mem::take(&mut st.spans);
        let mut pos = 0; // start of the first line not yet accounted for
        for &(s, e) in &spans {
            if s < pos {
                continue;
            }
            let line_start = match memchr::memrchr(b'\n', &block[pos..s]) {
                Some(i) => pos + i + 1,
                None => pos,
            };
            advance_lines(&block[pos..line_start], st);
            let mut ls = line_start;
            // Every line the candidate touches (a match may cross a newline).
            while ls < block.len() && (ls < e.max(s + 1)) {
                let le = memchr::memchr(b'\n', &block[ls..]).map(|i| ls + i + 1).unwrap_or(block.len());
                self.finish_line(&block[ls..le], st, summary, sink);
                ls = le;
            }
            pos = ls;
        }
        advance_lines(&block[pos..], st);
        st.spans = spans;
    }

    /// Searches one line (with its `\n`, if any) and moves to the next line.
    fn finish_line(
        &self,
        line: &[u8],
        st: &mut LineState,
        summary: &mut ScanSummary,
        sink: &mut dyn FnMut(ScanFinding),
    ) {
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        self.scan_line(body, body.len(), st, summary, sink);
        if line.last() == Some(&b'\n') {
            st.line += 1;
            st.col_base = 0;
            st.char_base = 0;
            st.skip_before = 0;
        }
    }

    /// Searches (a window of) one line without its `\n`. Reports findings
    /// that start before `report_below`; `st.col_base` is the window's
    /// offset in the line.
    fn scan_line(
        &self,
        line: &[u8],
        report_below: usize,
        st: &mut LineState,
        summary: &mut ScanSummary,
        sink: &mut dyn FnMut(ScanFinding),
    ) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        st.found.clear();
        find_in_bytes(&self.rules, line, &mut st.found);
        if st.found.is_empty() {
            return;
        }
        let skip_before = st.skip_before;
        let col_base = st.col_base;
        st.found.retain(|f| {
            let abs = col_base + f.start;
            f.start < report_below && abs >= skip_before
        });
        if st.found.is_empty() {
            return;
        }
        if let Some(last) = st.found.last() {
            st.skip_before = col_base + last.end;
        }
        if memmem::find(line, ALLOW_MARKER.as_bytes()).is_some() {
            summary.allowed += st.found.len() as u64;
            return;
        }
        let masked = MaskedLine::new(line, &st.found);
        for (i, f) in st.found.iter().enumerate() {
            let rule = f.rule.to_string();
            let fingerprint = fingerprint(&rule, &line[f.start..f.end]);
            if self.baseline.as_ref().is_some_and(|b| b.contains(&fingerprint)) {
                summary.baselined += 1;
                continue;
            }
            let char_col = st.char_base + char_count(&line[..f.start]);
            summary.findings += 1;
            sink(ScanFinding {
                path: st.name.to_string(),
                line: st.line,
                column: col_base + f.start + 1,
                end_column: col_base + f.end + 1,
                char_column: char_col + 1,
                char_end_column: char_col + char_count(&line[f.start..f.end]) + 1,
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
    /// In the current line, findings starting before this were reported.
    skip_before: usize,
    found: Vec<Finding>,
    spans: Vec<(usize, usize)>,
}

fn advance_lines(bytes: &[u8], st: &mut LineState) {
    let n = memchr::memchr_iter(b'\n', bytes).count();
    if n > 0 {
        st.line += n as u64;
        st.col_base = 0;
        st.char_base = 0;
        st.skip_before = 0;
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
    bytes
        .utf8_chunks()
        .map(|c| c.valid().chars().count() + usize::from(!c.invalid().is_empty()))
        .sum()
}

/// The fingerprint of a finding: SHA-256 of a version tag, the rule id and
/// the secret, in lowercase hex.
///
/// The secret cannot be read back from it, but a short or guessable
/// password can be confirmed by anyone who guesses it: keep baselines as
/// private as the logs they describe.
pub fn fingerprint(rule: &str, secret: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"secret-chain/v1\0");
    h.update(rule.as_bytes());
    h.update(b"\0");
    h.update(secret);
    hex::encode(h.finalize())
}

/// A line with every finding replaced by [`MASK`], for excerpts.
struct MaskedLine {
    text: String,
    /// Byte range of each mask in `text`.
    masks: Vec<(usize, usize)>,
}

impl MaskedLine {
    fn new(line: &[u8], found: &[Finding]) -> MaskedLine {
        let mut text = String::with_capacity(line.len());
        let mut masks = Vec::with_capacity(found.len());
        let mut pos = 0;
        for f in found {
            push_escaped(&mut text, &line[pos..f.start.max(pos)]);
            let s = text.len();
            text.push_str(MASK);
            masks.push((s, text.len()));
            pos = pos.max(f.end);
        }
        push_escaped(&mut text, &line[pos..]);
        MaskedLine { text, masks }
    }

    fn excerpt(&self, i: usize) -> String {
        let (ms, me) = self.masks[i];
        let mut from = ms.saturating_sub(EXCERPT_CONTEXT);
        while !self.text.is_char_boundary(from) {
            from -= 1;
        }
        let mut to = (me + EXCERPT_CONTEXT).min(self.text.len());
        while !self.text.is_char_boundary(to) {
            to += 1;
        }
        // Never cut a mask of another finding in half.
        for &(s, e) in &self.masks {
            if s < from && from < e {
                from = s;
            }
            if s < to && to < e {
                to = e;
            }
        }
        let mut out = String::with_capacity(to - from + 6);
        if from > 0 {
            out.push('…');
        }
        out.push_str(self.text[from..to].trim_start_matches(' '));
        if to < self.text.len() {
            out.push('…');
        }
        out
    }
}

/// Appends bytes as text: invalid UTF-8 as U+FFFD, control characters
/// (other than tab) escaped so an excerpt cannot drive a terminal.
fn push_escaped(out: &mut String, bytes: &[u8]) {
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() && c != '\t' {
                out.extend(c.escape_default());
            } else {
                out.push(c);
            }
        }
        if !chunk.invalid().is_empty() {
            out.push('\u{FFFD}');
        }
    }
}

fn read_some(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// How a path is shown: as given, `/`-separated on every platform.
fn display_path(path: &Path) -> String {
    let s = path.to_string_lossy();
    let s = s.strip_prefix("./").unwrap_or(&s);
    if std::path::MAIN_SEPARATOR == '/' { s.to_owned() } else { s.replace(std::path::MAIN_SEPARATOR, "/") }
}

fn read_error(name: &str, e: io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("cannot read '{name}': {}", io_reason(&e))).with_source(e)
}

fn open_error(name: &str, e: io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("cannot open '{name}': {}", io_reason(&e))).with_source(e)
}

fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput | io::ErrorKind::UnexpectedEof => {
            "corrupt or truncated data (gzip?)".to_owned()
        }
        _ => e.kind().to_string(),
    }
}
