//! Fingerprints of findings, and the baseline of accepted ones (stored as
//! fingerprints, never as secret values).

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::ScanFinding;
use super::read::{io_reason, read_capped};

/// The largest baseline read: about 500,000 accepted findings.
pub(super) const MAX_BASELINE_BYTES: u64 = 64 << 20;
use secret_chain::{Error, ErrorKind};

const HEADER: &str = "\
# secret-chain baseline v1
# Accepted findings, one a line: fingerprint, rule id, where it was first seen.
# fingerprint = sha256(\"secret-chain/v1\\0\" + rule id + \"\\0\" + secret), hex.
# No secret value is stored here. Delete a line to stop accepting a finding.
";

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
    // Lowercase hex as `hex::encode` writes it, two digits per table
    // look-up: its char-by-char iterator was a tenth of the time of a line
    // of many findings.
    const PAIRS: [[u8; 2]; 256] = {
        let digits = b"0123456789abcdef";
        let mut t = [[0u8; 2]; 256];
        let mut i = 0;
        while i < 256 {
            t[i] = [digits[i >> 4], digits[i & 15]];
            i += 1;
        }
        t
    };
    let mut out = Vec::with_capacity(64);
    for b in h.finalize() {
        out.extend_from_slice(&PAIRS[usize::from(b)]);
    }
    String::from_utf8(out).expect("hex digits are ASCII")
}

/// A set of accepted findings: `secret-chain scan --baseline FILE` does not
/// report a finding whose fingerprint is in it.
///
/// The file format is text, one finding a line: the 64-digit hex
/// fingerprint, then (ignored when reading) the rule id and the place the
/// finding was first seen. Empty lines and lines starting with `#` are
/// comments.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    fingerprints: HashSet<String>,
    /// For writing: fingerprint -> "rule path:line".
    notes: BTreeMap<String, String>,
}

impl Baseline {
    /// An empty baseline.
    pub fn new() -> Baseline {
        Baseline::default()
    }

    /// Reads a baseline file.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`] when the file cannot be read, [`ErrorKind::Config`]
    /// naming the file and line when a line is not a fingerprint.
    pub fn load(path: &Path) -> Result<Baseline, Error> {
        let name = path.display().to_string();
        let text = read_capped(path, MAX_BASELINE_BYTES)
            .map_err(|e| {
                Error::new(
                    ErrorKind::Io,
                    format!("cannot read baseline '{name}': {}", io_reason(&e)),
                )
                .with_source(e)
            })?
            .ok_or_else(|| {
                Error::config(format!(
                    "baseline '{name}' is larger than {} MiB",
                    MAX_BASELINE_BYTES >> 20
                ))
            })?;
        let text = String::from_utf8(text)
            .map_err(|_| Error::config(format!("baseline '{name}' is not UTF-8 text")))?;
        Baseline::parse(&text).map_err(|line| {
            Error::config(format!(
                "baseline '{name}' line {line}: expected a 64-digit hex fingerprint \
                 (write one with --write-baseline)"
            ))
        })
    }

    /// Parses baseline text; `Err` holds the 1-based number of a bad line.
    pub fn parse(text: &str) -> Result<Baseline, usize> {
        let mut b = Baseline::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fp = line.split_whitespace().next().unwrap_or("");
            if fp.len() != 64 || !fp.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(i + 1);
            }
            b.fingerprints.insert(fp.to_ascii_lowercase());
        }
        Ok(b)
    }

    /// Accepts a finding.
    pub fn insert(&mut self, finding: &ScanFinding) {
        self.fingerprints.insert(finding.fingerprint.clone());
        self.notes
            .entry(finding.fingerprint.clone())
            .or_insert_with(|| format!("{} {}:{}", finding.rule, finding.path, finding.line));
    }

    /// Whether the fingerprint is accepted.
    pub fn contains(&self, fingerprint: &str) -> bool {
        self.fingerprints.contains(fingerprint)
    }

    /// How many fingerprints it holds.
    pub fn len(&self) -> usize {
        self.fingerprints.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.fingerprints.is_empty()
    }

    /// The file contents: a header, then the fingerprints sorted.
    pub fn to_text(&self) -> String {
        let mut out = String::from(HEADER);
        let mut all: Vec<&String> = self.fingerprints.iter().collect();
        all.sort();
        for fp in all {
            out.push_str(fp);
            if let Some(note) = self.notes.get(fp) {
                out.push(' ');
                // Paths are the only free text here: keep them on one line.
                out.extend(note.chars().map(|c| if c.is_control() { '?' } else { c }));
            }
            out.push('\n');
        }
        out
    }

    /// Writes the file (replacing it).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`] naming the file.
    pub fn write(&self, path: &Path) -> Result<(), Error> {
        let name = path.display().to_string();
        let io = |e: std::io::Error| {
            Error::new(
                ErrorKind::Io,
                format!("cannot write baseline '{name}': {}", io_reason(&e)),
            )
            .with_source(e)
        };
        let mut f = std::fs::File::create(path).map_err(io)?;
        f.write_all(self.to_text().as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(fp: &str) -> ScanFinding {
        ScanFinding {
            path: "app.log".into(),
            line: 7,
            column: 1,
            end_column: 5,
            char_column: 1,
            char_end_column: 5,
            rule: "stripe-key".into(),
            excerpt: "key=****".into(),
            fingerprint: fp.into(),
        }
    }

    #[test]
    fn written_text_parses_back_to_the_same_fingerprints() {
        let fp = fingerprint("stripe-key", b"sk_live_abc");
        let mut b = Baseline::new();
        b.insert(&finding(&fp));
        let text = b.to_text();
        assert!(text.contains("stripe-key app.log:7"));
        assert!(!text.contains("sk_live_abc"));
        let back = Baseline::parse(&text).unwrap();
        assert!(back.contains(&fp));
        assert_eq!(back.len(), 1);
    }

    #[test]
    fn a_fingerprint_is_the_lowercase_hex_sha256_of_tag_rule_and_secret() {
        // Known answer: fingerprints in baselines written before stay valid.
        assert_eq!(
            fingerprint("stripe-key", b"sk_live_abc"),
            hex::encode(Sha256::digest(b"secret-chain/v1\0stripe-key\0sk_live_abc"))
        );
    }

    #[test]
    fn a_line_that_is_not_a_fingerprint_is_rejected_with_its_number() {
        let text = "# comment\n\n0000000000000000000000000000000000000000000000000000000000000000\nsk_live_oops\n";
        assert_eq!(Baseline::parse(text).unwrap_err(), 4);
    }

    #[test]
    fn a_bad_baseline_error_does_not_echo_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.txt");
        std::fs::write(&p, "sk_live_OGAucWtJGXdfhxnmrl8kc5S6\n").unwrap(); // secret-chain:allow
        let e = Baseline::load(&p).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains("line 1"));
        assert!(!format!("{e} {e:?}").contains("OGAucWtJ"));
    }
}
