//! Test helpers for the family files: lines of repeated keywords and
//! near-miss values must cost work linear in their length (the engine's
//! work counter, `testing::add_work`), and fake tokens are generated in
//! each vendor's shape.

use super::Def;
use crate::detect::RuleSet;
use crate::detect::testing::take_work;

/// A small deterministic generator (xorshift64*).
pub(super) struct Rng(pub(super) u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// `n` bytes drawn from `alphabet`.
    pub(super) fn run(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n)
            .map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize] as char)
            .collect()
    }
}

pub(super) const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The work of one search of `text` with the built-in rules.
fn work(text: &str) -> u64 {
    let mut out = Vec::new();
    take_work();
    RuleSet::builtin().find(text, &mut out);
    take_work()
}

/// Asserts that a line of `n` units costs about `n` times a unit: twice
/// the text, at most about twice the work, and a few bytes read per byte.
pub(super) fn assert_linear(name: &str, mut unit: impl FnMut(&mut Rng) -> String) -> f64 {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let one = unit(&mut r).len().max(1);
    let n = 16_000 / one + 1;
    let short: String = (0..n).map(|_| unit(&mut r)).collect();
    let long: String = (0..2 * n).map(|_| unit(&mut r)).collect();
    let (w1, w2) = (work(&short), work(&long));
    // A rare hit near the end of the longer text may read one wide window
    // (the widest of these rules reads a few KiB) past the shorter one,
    // and its finding one pass of the copy search over the text
    // (`copies.rs`), which the shorter text without a finding skipped.
    let slack = 2 * 8192 + long.len() as u64;
    assert!(w2 <= 2 * w1 + slack, "{name:?}: work {w1} then {w2}");
    let per_byte = w2 as f64 / long.len() as f64;
    assert!(
        per_byte <= 16.0,
        "{name:?}: {per_byte:.1} bytes read per byte"
    );
    per_byte
}

/// Runs [`assert_linear`] on lines of each keyword of `defs`: the keyword
/// repeated (bare, spaced, assigned, in upper case) and followed by
/// values that almost match (too short, a run of token bytes).
pub(super) fn assert_keywords_linear(defs: &[Def]) {
    let mut words: Vec<&str> = defs
        .iter()
        .flat_map(|d| d.keywords.iter().copied())
        .collect();
    words.sort_unstable();
    words.dedup();
    let mut worst = (0.0, "");
    for kw in words {
        let upper = kw.to_ascii_uppercase();
        for per_byte in [
            assert_linear(kw, |_| kw.to_string()),
            assert_linear(kw, |_| format!("{kw} ")),
            assert_linear(kw, |_| format!("{upper}=")),
            assert_linear(kw, |r| format!("{kw}{} ", r.run(ALNUM, 20))),
            assert_linear(kw, |r| format!("{kw}_token=\"{}\" ", r.run(ALNUM, 30))),
            assert_linear(kw, |r| format!("{}{kw}", r.run(b"abc123+/-_", 8))),
        ] {
            if per_byte > worst.0 {
                worst = (per_byte, kw);
            }
        }
    }
    println!(
        "dense keyword lines: at most {:.2} bytes read per byte ({:?})",
        worst.0, worst.1
    );
}
