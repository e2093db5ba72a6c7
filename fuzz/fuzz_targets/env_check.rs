//! The properties checked for every input by the `env_file` fuzz target and
//! its `cargo test` smoke test (`tests/suite/fuzz_smoke.rs`): the `.env`
//! reader and `#field` selection never panic, and never change a value.

use secret_chain::providers::EnvProvider;
use secret_chain::providers::env::parse_env_text;
use secret_chain::{ExposeSecret, SecretsManager};

/// Runs the `.env` reader and `#field` selection on `data`; panics if an
/// invariant breaks.
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);

    // The reader: no panic; a plain `KEY=value` line appended to any file
    // that parses is read back exactly.
    if let Ok(bindings) = parse_env_text(&text, "fuzz.env", &|_| None) {
        for (k, _) in &bindings {
            assert!(!k.is_empty(), "an empty key");
        }
        let probe = format!("{text}\nFUZZ_PROBE_KEY=probe-value-1\n");
        if let Ok(again) = parse_env_text(&probe, "fuzz.env", &|_| None) {
            let last = again.iter().find(|(k, _)| k == "FUZZ_PROBE_KEY");
            // Only when the input did not leave a quote open.
            if let Some((_, v)) = last {
                assert_eq!(v.expose_secret(), "probe-value-1");
            }
        }
    }

    // `#field`: no panic, and a field that is a JSON string comes back as
    // exactly that string.
    let manager = SecretsManager::builder()
        .provider(EnvProvider::from_vars([("DOC", text.as_ref())]))
        .cache_ttl(std::time::Duration::ZERO)
        .build()
        .expect("builds");
    let got = manager.get_secret_blocking("doc#f");
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(&text)
        && let Some(serde_json::Value::String(want)) = map.get("f")
    {
        assert_eq!(
            got.expect("the field exists").expose_secret(),
            want.as_str()
        );
    }
    let _ = manager.get_secret_blocking("doc");
}
