//! The `env_file` fuzz target's check (`fuzz/fuzz_targets/env_check.rs`)
//! over random and `.env`-shaped inputs, so that `cargo test` catches
//! panics and changed values without nightly.

#[path = "../../fuzz/fuzz_targets/env_check.rs"]
mod env_check;

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic_or_change_a_value(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        env_check::check(&data);
    }

    #[test]
    fn env_and_json_shaped_text_never_panics_or_changes_a_value(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("KEY=".to_string()),
                Just("export ".to_string()),
                Just("'".to_string()),
                Just("\"".to_string()),
                Just("\\".to_string()),
                Just("${A}".to_string()),
                Just("${B:-d}".to_string()),
                Just("$$".to_string()),
                Just(" # c".to_string()),
                Just("\n".to_string()),
                Just("\r\n".to_string()),
                Just("{\"f\":".to_string()),
                Just("\"v\\u00e9\"".to_string()),
                Just("123456789012345678901234567890".to_string()),
                Just("}".to_string()),
                Just("[1, {\"f\": 2}]".to_string()),
                "[a-z0-9 =:,]{0,8}",
            ],
            0..24,
        ),
    ) {
        env_check::check(parts.concat().as_bytes());
    }
}
