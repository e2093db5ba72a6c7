//! The fuzz target's check (`fuzz/fuzz_targets/check.rs`) over random and
//! log-shaped inputs, so that `cargo test` catches panics without nightly.

#[path = "../../fuzz/fuzz_targets/check.rs"]
mod check;

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        check::check(&data);
    }

    #[test]
    fn log_shaped_text_never_panics(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("password=".to_string()),
                Just("\"token\": \"".to_string()),
                Just("Authorization: Basic ".to_string()),
                Just("Bearer ".to_string()),
                Just("postgres://u:".to_string()),
                Just("@host/db ".to_string()),
                Just("-----BEGIN RSA PRIVATE KEY-----\\n".to_string()),
                Just("-----END RSA PRIVATE KEY-----".to_string()),
                Just("sk-".to_string()),
                Just("ghp_".to_string()),
                Just("eyJ".to_string()),
                Just("{\"a\":".to_string()),
                Just("\\\"".to_string()),
                "[ -~]{0,40}",
                "\\PC{0,10}",
            ],
            0..24,
        )
    ) {
        check::check(parts.concat().as_bytes());
    }
}

#[test]
fn edge_inputs_never_panic() {
    for s in [
        "",
        "=",
        ":",
        "password",
        "password=",
        "password=\"",
        "password=\\\"",
        "\"password\":\"\\",
        "://@",
        "a://:@",
        "Basic ",
        "basic ====",
        "Bearer",
        "-----BEGIN PRIVATE KEY-----",
        "{\"password\":1e999}",
        "é=é password=é",
        "\u{0}\u{1b}[31m token=\u{7f}",
    ] {
        check::check(s.as_bytes());
    }
}
