//! What a scan reports: each finding, the events of a scan of many inputs
//! and the counters.

use secret_chain::Error;

/// One credential found in the input.
///
/// Never holds the secret itself: the excerpt has every secret of the line
/// replaced by [`MASK`], and the fingerprint is a SHA-256 digest.
///
/// [`MASK`]: super::MASK
#[non_exhaustive]
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
    ///
    /// [`Baseline`]: super::Baseline
    pub fingerprint: String,
}

/// What [`Scanner::scan_inputs`] reports, in input order.
///
/// [`Scanner::scan_inputs`]: super::Scanner::scan_inputs
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
        ///
        /// [`ErrorKind::Io`]: secret_chain::ErrorKind::Io
        error: Error,
    },
    /// A file skipped because it looks binary (a NUL byte in its first 8 KiB).
    SkippedBinary {
        /// The path as given or found.
        path: String,
    },
}

/// Counters of one scan.
#[non_exhaustive]
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
    ///
    /// [`ALLOW_MARKER`]: super::ALLOW_MARKER
    pub allowed: u64,
    /// Findings not reported because the baseline accepts them.
    pub baselined: u64,
    /// Inputs skipped as binary.
    pub skipped_binary: u64,
    /// Inputs that could not be read.
    pub errors: u64,
}

impl ScanSummary {
    pub(super) fn add(&mut self, other: &ScanSummary) {
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

#[cfg(test)]
mod tests {
    use crate::scanner::test_support::{KEY, scan};

    #[test]
    fn a_finding_never_carries_the_secret() {
        let f = scan(format!("key={KEY}\n").as_bytes());
        let all = format!("{:?} {}", f[0], serde_json::to_string(&f[0]).unwrap());
        assert!(!all.contains(KEY));
    }
}
