//! The property checked for every input, shared by the cargo-fuzz target
//! and the `cargo test` smoke test (`tests/masking_fuzz_smoke.rs`).

use std::sync::Arc;

use secret_chain::detect::RuleSet;
use secret_chain::masking::{KnownSecrets, Redactor, mask_json};

/// Runs every masking entry point on `data`; panics if an invariant breaks.
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    // Part of the input is also registered as a known value.
    let known = Arc::new(KnownSecrets::new());
    let cut = text.char_indices().nth(12).map_or(text.len(), |(i, _)| i);
    known.register(&text[..cut]);
    let redactor = Redactor::builder().known(known).build().expect("builds");

    let out = redactor.redact(&text);
    if cut > 0 && text[..cut].chars().count() >= 6 {
        assert!(!out.contains(&text[..cut]), "a registered value survived");
    }
    let _ = redactor.redact_lines(&text);

    let mut spans = Vec::new();
    redactor.spans(&text, &mut spans);
    let mut last = 0;
    for r in &spans {
        assert!(r.start < r.end && r.end <= text.len(), "span out of bounds");
        assert!(r.start >= last, "spans overlap or are out of order");
        last = r.end;
    }

    let mut findings = Vec::new();
    RuleSet::builtin().find(&text, &mut findings);
    let mut last = 0;
    for f in &findings {
        assert!(
            f.start < f.end && f.end <= text.len(),
            "finding out of bounds"
        );
        assert!(
            text.is_char_boundary(f.start) && text.is_char_boundary(f.end),
            "finding splits a character"
        );
        assert!(f.start >= last, "findings overlap or are out of order");
        last = f.end;
    }

    // A JSON line stays valid JSON.
    for line in text.lines() {
        if let Ok(serde_json::Value::Object(_)) = serde_json::from_str::<serde_json::Value>(line) {
            let red = redactor.redact_lines(line);
            assert!(
                serde_json::from_str::<serde_json::Value>(&red).is_ok(),
                "masking broke a JSON line"
            );
        }
    }
    if let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&text) {
        mask_json(&mut v);
    }
}
