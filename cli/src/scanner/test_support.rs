//! Inputs and helpers shared by the scanner's unit tests.

use std::cell::Cell;
use std::io::{self, Read};

use secret_chain::detect::RuleSet;

use super::{ScanFinding, ScanSummary, Scanner};

pub(super) const KEY: &str = "sk_live_OGAucWtJGXdfhxnmrl8kc5S6"; // secret-chain:allow
pub(super) const KEY2: &str = "ghp_b5h9M344OTFAQdfeb4g0MRcoIztgBqkFLglB"; // secret-chain:allow

pub(super) fn scan_with(scanner: &Scanner, input: &[u8]) -> (Vec<ScanFinding>, ScanSummary) {
    let mut found = Vec::new();
    let s = scanner
        .scan_reader("t.log", input, &mut |f| found.push(f))
        .unwrap();
    (found, s)
}

pub(super) fn scan(input: &[u8]) -> Vec<ScanFinding> {
    scan_with(&Scanner::new(RuleSet::builtin()), input).0
}

/// A reader that hands out its data in the given pieces.
pub(super) struct Pieces(pub(super) std::collections::VecDeque<Vec<u8>>);
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

pub(super) fn pem_log() -> (String, String) {
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

thread_local! {
    /// Work done by this thread's scans that grows with the findings of a
    /// line: bytes whose code points are counted, masks looked at for an
    /// excerpt. Tests assert it stays linear (the machine is too noisy for
    /// timing tests).
    static WORK: Cell<u64> = const { Cell::new(0) };
}

pub(super) fn add_work(n: usize) {
    WORK.with(|w| w.set(w.get() + n as u64));
}

/// The work counted on this thread since the last call.
pub(super) fn take_work() -> u64 {
    WORK.with(|w| w.replace(0))
}
