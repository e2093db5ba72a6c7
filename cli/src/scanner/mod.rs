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
//! - [`load_rule_set`]: the rules of a `--config` file, in our format or
//!   gitleaks' ([`ConfigFormat`]); [`load_rules_file`] /
//!   [`parse_rules_toml`]: user rules in our format.
//! - [`Baseline`]: accepted findings, stored as fingerprints.
//! - [`redact_stream`]: copy a stream with every finding masked.
//!
//! [`RuleSet`]: secret_chain::detect::RuleSet
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
//! engine. The allowlists of a gitleaks rules file (`--config`) take
//! candidates out in the engine, per file where they name paths. A line
//! containing the marker [`ALLOW_MARKER`]
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
mod excerpt;
mod gitleaks;
mod input;
mod output;
mod parallel;
mod read;
mod redact;
mod report;
mod search;
mod split;
mod stream;
#[cfg(test)]
mod test_support;
mod walk;

pub use baseline::{Baseline, fingerprint};
pub use config::{
    ConfigFormat, load_rule_set, load_rules_file, load_rules_file_with_warnings, parse_rules_toml,
};
pub use output::{FindingWriter, Format, SARIF_SCHEMA};
pub use read::display_path;
pub use redact::{RedactStats, redact_stream};
pub use report::{ScanEvent, ScanFinding, ScanSummary};
pub use search::Scanner;
pub use walk::Input;

/// The inline marker that keeps a line out of the report.
pub const ALLOW_MARKER: &str = "secret-chain:allow";

/// What replaces a secret in excerpts and in `redact` output by default:
/// the library's mask, so that the scanner and the masking layer print the
/// same thing.
pub use secret_chain::masking::DEFAULT_MASK as MASK;

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
