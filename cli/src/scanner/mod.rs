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
//! # Parallelism
//!
//! [`Scanner::scan_inputs`] searches files on [`Scanner::threads`] threads
//! (one per core by default). A plain file of 32 MiB or more is cut into
//! parts at line starts so that one big log keeps every core busy; line
//! numbers are those of the whole file. Output is in input order whatever
//! the thread count. (A PEM key that straddles a part boundary is found
//! from its first part only.)
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
//! use secret_chain_cli::scanner::Scanner;
//! use secret_chain::detect::RuleSet;
//!
//! let scanner = Scanner::new(RuleSet::builtin());
//! let log = "INFO starting\nDEBUG key=sk_live_OGAucWtJGXdfhxnmrl8kc5S6 loaded\n"; // secret-chain:allow
//! let mut found = Vec::new();
//! scanner.scan_reader("app.log", log.as_bytes(), &mut |f| found.push(f))?;
//! assert_eq!(found.len(), 1);
//! assert_eq!(found[0].line, 2);
//! assert!(!found[0].excerpt.contains("OGAucWtJGXdfhxnmrl8kc5S6"));
//! # Ok::<(), secret_chain::Error>(())
//! ```

mod baseline;
mod config;
mod input;
mod output;
mod redact;
mod stream;
mod walk;

use std::io::{self, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use memchr::memmem;
use sha2::{Digest, Sha256};

use secret_chain::{Error, ErrorKind};
use stream::StreamBuf;

pub use baseline::Baseline;
pub use config::{load_rules_file, parse_rules_toml};
pub use output::{FindingWriter, Format, SARIF_SCHEMA};
pub use redact::{RedactStats, redact_stream};
use secret_chain::detect::{Finding, RuleSet};

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
/// Files at least this big are searched in parts, one thread each.
const SPLIT_MIN: u64 = 32 << 20;
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
        if arg == "-" {
            Input::Stdin
        } else {
            Input::Path(PathBuf::from(arg))
        }
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
    /// Line breaks (`\n`) read.
    pub lines: u64,
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
        self.lines += other.lines;
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
    /// Files at least this big are split ([`SPLIT_MIN`]; smaller in tests).
    split_min: u64,
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

    /// Searches every input: files, directories (recursively; `.git` and
    /// `target` directories, symbolic links inside directories and binary
    /// files are skipped) and standard input. Files are searched on up to
    /// [`Scanner::threads`] threads, files of 32 MiB or more in parts;
    /// `on_event` is called on the calling thread, in input order
    /// (directory entries sorted by name).
    ///
    /// Unreadable inputs become [`ScanEvent::Error`] and the scan goes on.
    pub fn scan_inputs(
        &self,
        inputs: &[Input],
        mut on_event: impl FnMut(ScanEvent),
    ) -> ScanSummary {
        let mut jobs = Vec::new();
        for input in inputs {
            match input {
                Input::Stdin => jobs.push(walk::Job::Stdin),
                Input::Path(p) => walk::expand(p, &mut jobs),
            }
        }
        if self.threads > 1 {
            jobs = self.split_big_files(jobs);
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
            // Parts of a split file count lines from their own start: add
            // the lines of the parts before them, known by then.
            let mut pending = std::collections::BTreeMap::new();
            let mut want = 0;
            let mut line_offset = 0u64;
            for (i, events, s) in rx {
                pending.insert(i, (events, s));
                while let Some((events, s)) = pending.remove(&want) {
                    if !matches!(jobs[want], walk::Job::Part { index, .. } if index > 0) {
                        line_offset = 0;
                    }
                    for mut e in events {
                        if let ScanEvent::Finding(f) = &mut e {
                            f.line += line_offset;
                        }
                        on_event(e);
                    }
                    line_offset += s.lines;
                    summary.add(&s);
                    want += 1;
                }
            }
        });
        summary
    }

    /// Splits plain (not gzip, not binary) files of at least
    /// [`SPLIT_MIN`] bytes into parts that start at line starts, so that one
    /// big log keeps every thread busy. A file that cannot be probed stays
    /// whole (its error is reported when it is scanned).
    fn split_big_files(&self, jobs: Vec<walk::Job>) -> Vec<walk::Job> {
        let mut out = Vec::with_capacity(jobs.len());
        for job in jobs {
            let walk::Job::File(path) = &job else {
                out.push(job);
                continue;
            };
            match self.split_points(path) {
                Some(points) if points.len() > 2 => {
                    for (index, w) in points.windows(2).enumerate() {
                        out.push(walk::Job::Part {
                            path: path.clone(),
                            index,
                            start: w[0],
                            len: w[1] - w[0],
                        });
                    }
                }
                _ => out.push(job),
            }
        }
        out
    }

    /// Part boundaries of a file (first 0, last its size), or `None` when
    /// it is small, compressed, binary or unreadable.
    fn split_points(&self, path: &Path) -> Option<Vec<u64>> {
        let mut f = std::fs::File::open(path).ok()?;
        let size = f.metadata().ok()?.len();
        if size < self.split_min {
            return None;
        }
        let mut head = vec![0u8; BINARY_SNIFF_LEN];
        let n = read_full(&mut f, &mut head).ok()?;
        if head[..n].starts_with(&[0x1f, 0x8b]) || memchr::memchr(0, &head[..n]).is_some() {
            return None;
        }
        let parts = (self.threads as u64 * 2)
            .min(size / (self.split_min / 2).max(1))
            .max(1);
        let mut points = vec![0u64];
        let mut probe = vec![0u8; 64 * 1024];
        for k in 1..parts {
            let target = size * k / parts;
            if target <= *points.last()? {
                continue;
            }
            // The part starts after the first newline at or after `target`;
            // a line longer than the window stays in one part.
            f.seek(io::SeekFrom::Start(target)).ok()?;
            let mut at = target;
            let mut found = None;
            while at < size && at - target < self.max_line_len as u64 {
                let n = read_full(&mut f, &mut probe).ok()?;
                if n == 0 {
                    break;
                }
                if let Some(p) = memchr::memchr(b'\n', &probe[..n]) {
                    found = Some(at + p as u64 + 1);
                    break;
                }
                at += n as u64;
            }
            match found {
                Some(b) if b < size && b > *points.last()? => points.push(b),
                _ => {}
            }
        }
        points.push(size);
        Some(points)
    }

    fn run_job(&self, job: &walk::Job, on_event: &mut dyn FnMut(ScanEvent)) -> ScanSummary {
        let (name, result) = match job {
            walk::Job::Error { path, error } => {
                on_event(ScanEvent::Error {
                    path: path.clone(),
                    error: error.clone(),
                });
                return ScanSummary {
                    errors: 1,
                    ..ScanSummary::default()
                };
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
            walk::Job::Part {
                path,
                index,
                start,
                len,
            } => {
                let name = display_path(path);
                let r = std::fs::File::open(path)
                    .and_then(|mut f| {
                        f.seek(io::SeekFrom::Start(*start))?;
                        Ok(f)
                    })
                    .map_err(|e| open_error(&name, e))
                    .and_then(|f| {
                        self.scan_plain(&name, f.take(*len), false, &mut |f| {
                            on_event(ScanEvent::Finding(f))
                        })
                        .map_err(|e| read_error(&name, e))
                    })
                    .map(|mut s| {
                        // One input, however many parts.
                        s.inputs = u64::from(*index == 0);
                        s
                    });
                (name, r)
            }
            walk::Job::File(path) => {
                let name = display_path(path);
                let r = match std::fs::File::open(path) {
                    Ok(file) => {
                        self.scan_reader(&name, file, &mut |f| on_event(ScanEvent::Finding(f)))
                    }
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
                ScanSummary {
                    errors: 1,
                    ..ScanSummary::default()
                }
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
            found: Vec::new(),
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
            self.report_line(
                block,
                block_abs,
                pos,
                line_end,
                &found[i..j],
                usize::MAX,
                st,
                summary,
                sink,
            );
            i = j;
        }
        advance_lines(&block[pos..], st);
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
        st.found = found;
    }

    /// Reports the findings that start on the line `text[ls..le]` (offsets
    /// of `found` are into `text`; a finding may run past `le`).
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
        let mut spans: Vec<(usize, usize, &Finding)> = Vec::with_capacity(found.len());
        for f in found {
            let rs = f.start - ls;
            if rs < report_below && text_abs + f.start as u64 >= st.handled_end {
                spans.push((rs.min(line.len()), (f.end - ls).min(line.len()), f));
            }
        }
        let Some(&(_, _, last)) = spans.last() else {
            return;
        };
        st.handled_end = text_abs + last.end as u64;
        if memmem::find(line, ALLOW_MARKER.as_bytes()).is_some() {
            summary.allowed += spans.len() as u64;
            return;
        }
        let cut: Vec<(usize, usize)> = spans.iter().map(|&(s, e, _)| (s, e)).collect();
        let masked = MaskedLine::new(line, &cut);
        for (i, &(s, e, f)) in spans.iter().enumerate() {
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
            let char_col = st.char_base + char_count(&line[..s]);
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
    found: Vec<Finding>,
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
pub fn fingerprint(rule: &str, value: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"secret-chain/v1\0");
    h.update(rule.as_bytes());
    h.update(b"\0");
    h.update(value);
    hex::encode(h.finalize())
}

/// A line with every finding replaced by [`MASK`], for excerpts.
struct MaskedLine {
    text: String,
    /// Byte range of each mask in `text`.
    masks: Vec<(usize, usize)>,
}

impl MaskedLine {
    fn new(line: &[u8], spans: &[(usize, usize)]) -> MaskedLine {
        let mut text = String::with_capacity(line.len());
        let mut masks = Vec::with_capacity(spans.len());
        let mut pos = 0;
        for &(s, e) in spans {
            push_escaped(&mut text, &line[pos..s.max(pos)]);
            let m = text.len();
            text.push_str(MASK);
            masks.push((m, text.len()));
            pos = pos.max(e);
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

/// Reads until `buf` is full or EOF; returns the bytes read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match read_some(reader, &mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
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
    if std::path::MAIN_SEPARATOR == '/' {
        s.to_owned()
    } else {
        s.replace(std::path::MAIN_SEPARATOR, "/")
    }
}

fn read_error(name: &str, e: io::Error) -> Error {
    Error::new(
        ErrorKind::Io,
        format!("cannot read '{name}': {}", io_reason(&e)),
    )
    .with_source(e)
}

fn open_error(name: &str, e: io::Error) -> Error {
    Error::new(
        ErrorKind::Io,
        format!("cannot open '{name}': {}", io_reason(&e)),
    )
    .with_source(e)
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

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk_live_OGAucWtJGXdfhxnmrl8kc5S6"; // secret-chain:allow
    const KEY2: &str = "ghp_b5h9M344OTFAQdfeb4g0MRcoIztgBqkFLglB"; // secret-chain:allow

    fn scan_with(scanner: &Scanner, input: &[u8]) -> (Vec<ScanFinding>, ScanSummary) {
        let mut found = Vec::new();
        let s = scanner
            .scan_reader("t.log", input, &mut |f| found.push(f))
            .unwrap();
        (found, s)
    }

    fn scan(input: &[u8]) -> Vec<ScanFinding> {
        scan_with(&Scanner::new(RuleSet::builtin()), input).0
    }

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
    fn every_secret_of_a_line_is_masked_in_each_excerpt() {
        let f = scan(format!("a={KEY} b={KEY2}\n").as_bytes());
        assert_eq!(f.len(), 2);
        for x in &f {
            assert!(
                !x.excerpt.contains(KEY) && !x.excerpt.contains(KEY2),
                "{}",
                x.excerpt
            );
        }
    }

    #[test]
    fn control_characters_in_an_excerpt_are_escaped() {
        let f = scan(format!("\x1b[31mred {KEY}\x07\n").as_bytes());
        assert!(!f[0].excerpt.contains('\x1b') && !f[0].excerpt.contains('\x07'));
        assert!(
            f[0].excerpt.contains("\\u{1b}[31mred ****"),
            "{}",
            f[0].excerpt
        );
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
    fn parallel_scans_deliver_events_in_input_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut inputs = Vec::new();
        for i in 0..12 {
            let p = dir.path().join(format!("f{i:02}.log"));
            let filler = "INFO filler line\n".repeat(if i % 3 == 0 { 20_000 } else { 10 });
            std::fs::write(&p, format!("{filler}k={KEY}\n")).unwrap();
            inputs.push(Input::Path(p));
        }
        inputs.push(Input::Path(dir.path().join("missing.log")));
        let scanner = Scanner::new(RuleSet::builtin()).threads(4);
        let mut order = Vec::new();
        let summary = scanner.scan_inputs(&inputs, |e| match e {
            ScanEvent::Finding(f) => {
                let name = f.path.rsplit('/').next().unwrap().to_owned();
                let i: u64 = name[1..3].parse().unwrap();
                assert_eq!(
                    f.line,
                    if i % 3 == 0 { 20_001 } else { 11 },
                    "line in {name}"
                );
                order.push(name);
            }
            ScanEvent::Error { path, error } => {
                assert_eq!(error.kind(), ErrorKind::Io);
                order.push(format!("error:{}", path.rsplit('/').next().unwrap()));
            }
            other => panic!("unexpected {other:?}"),
        });
        let mut want: Vec<String> = (0..12).map(|i| format!("f{i:02}.log")).collect();
        want.push("error:missing.log".into());
        assert_eq!(order, want);
        assert_eq!(
            (summary.findings, summary.errors, summary.inputs),
            (12, 1, 12)
        );
    }

    #[test]
    fn a_finding_never_carries_the_secret() {
        let f = scan(format!("key={KEY}\n").as_bytes());
        let all = format!("{:?} {}", f[0], serde_json::to_string(&f[0]).unwrap());
        assert!(!all.contains(KEY));
    }

    /// A reader that hands out its data in the given pieces.
    struct Pieces(std::collections::VecDeque<Vec<u8>>);
    impl Read for Pieces {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some(mut p) = self.0.pop_front() else {
                return Ok(0);
            };
            let n = p.len().min(buf.len());
            buf[..n].copy_from_slice(&p[..n]);
            if n < p.len() {
                self.0.push_front(p.split_off(n));
            }
            Ok(n)
        }
    }

    fn pem_log() -> (String, String) {
        let body: Vec<String> = (0..10)
            .map(|i| format!("MIIEowIBAAKCAQEA{i}x7Hq9+Wk2ZpLr4Vb8sTnYc3Jd5Fg6Hh0Kk1Mm2Nn3Pp4Qq5Rr6Ss7Tt8Uu9Vv0Ww1"))
            .collect();
        let pem = format!(
            "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\n", // secret-chain:allow
            body.join("\n")
        );
        let filler = "INFO GET /health 200 1ms\n".repeat(500); // > 8 KiB
        (
            format!("{filler}DEBUG key:\n{pem}INFO done\n"),
            body.join("\n"),
        )
    }

    #[test]
    fn a_multi_line_pem_key_split_across_reads_is_found_once() {
        let (log, _) = pem_log();
        let begin = log.find("-----BEGIN").unwrap();
        for cut in [begin + 10, begin + 33, begin + 200, log.len() - 40] {
            let pieces = Pieces(
                [
                    log[..cut].as_bytes().to_vec(),
                    log[cut..].as_bytes().to_vec(),
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

    #[test]
    fn redact_masks_every_line_of_a_pem_key_split_across_reads() {
        let (log, body) = pem_log();
        let begin = log.find("-----BEGIN").unwrap();
        for cut in [begin + 10, begin + 33, begin + 200, log.len() - 40] {
            let pieces = Pieces(
                [
                    log[..cut].as_bytes().to_vec(),
                    log[cut..].as_bytes().to_vec(),
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
    fn a_big_file_split_across_threads_keeps_line_numbers_and_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.log");
        let mut text = String::new();
        let mut want = Vec::new();
        for i in 1..=200_000u64 {
            if i % 9_973 == 0 {
                text.push_str(&format!("{i} k={KEY2}\n"));
                want.push(i);
            } else {
                text.push_str(&format!("{i} INFO GET /api/v1/items 200 3ms\n"));
            }
        }
        std::fs::write(&path, &text).unwrap();
        let mut scanner = Scanner::new(RuleSet::builtin()).threads(3);
        scanner.split_min = 1 << 20;
        assert!(
            scanner.split_points(&path).unwrap().len() > 3,
            "the file is split"
        );
        let mut lines = Vec::new();
        let summary = scanner.scan_inputs(&[Input::Path(path.clone())], |e| match e {
            ScanEvent::Finding(f) => lines.push(f.line),
            other => panic!("unexpected {other:?}"),
        });
        assert_eq!(lines, want);
        assert_eq!(
            (summary.inputs, summary.lines, summary.bytes),
            (1, 200_000, text.len() as u64)
        );
    }

    #[test]
    fn gzip_and_binary_files_are_not_split() {
        let dir = tempfile::tempdir().unwrap();
        let mut scanner = Scanner::new(RuleSet::builtin()).threads(2);
        scanner.split_min = 1024;
        let bin = dir.path().join("b.bin");
        std::fs::write(&bin, [b"ab\x00".repeat(2000), b"\n".repeat(10)].concat()).unwrap();
        assert!(scanner.split_points(&bin).is_none());
        let gz = dir.path().join("a.gz");
        std::fs::write(&gz, [vec![0x1f, 0x8b], b"x\n".repeat(2000)].concat()).unwrap();
        assert!(scanner.split_points(&gz).is_none());
    }
}
