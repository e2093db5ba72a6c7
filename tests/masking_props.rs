//! Property tests for the redactor: random values in random encodings at
//! random places never survive; text without a registered value or a
//! credential shape comes out byte-identical.

use std::borrow::Cow;
use std::sync::Arc;

use base64::Engine;
use proptest::prelude::*;
use secret_chain::masking::{KnownSecrets, Redactor};

#[derive(Debug, Clone, Copy)]
enum Enc {
    Raw,
    B64Std(usize),
    B64Url(usize),
    Percent,
    Json,
    Debug,
}

/// `(text to embed, part of it that only the value determines)`.
fn encode(v: &str, enc: Enc) -> (String, String) {
    let b64 = |engine: &base64::engine::GeneralPurpose, prefix: usize| {
        let p = &"user:"[..prefix];
        let full = engine.encode(format!("{p}{v}"));
        let trimmed = full.trim_end_matches('=');
        let skip = (prefix * 4).div_ceil(3) + 1;
        let core = trimmed[skip..trimmed.len() - 2].to_string();
        (full, core)
    };
    match enc {
        Enc::Raw => (v.to_string(), v.to_string()),
        Enc::B64Std(p) => b64(&base64::engine::general_purpose::STANDARD, p),
        Enc::B64Url(p) => b64(&base64::engine::general_purpose::URL_SAFE, p),
        Enc::Percent => {
            let e = percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
            (e.clone(), e)
        }
        Enc::Json => {
            let e = serde_json::to_string(v).unwrap();
            let e = e[1..e.len() - 1].to_string();
            (e.clone(), e)
        }
        Enc::Debug => {
            let e = format!("{v:?}");
            let e = e[1..e.len() - 1].to_string();
            (e.clone(), e)
        }
    }
}

fn enc_strategy() -> impl Strategy<Value = Enc> {
    prop_oneof![
        Just(Enc::Raw),
        (0usize..=5).prop_map(Enc::B64Std),
        (0usize..=5).prop_map(Enc::B64Url),
        Just(Enc::Percent),
        Just(Enc::Json),
        Just(Enc::Debug),
    ]
}

/// 6 to 200 characters, ASCII (no `*`, the mask's character) and not.
fn value_strategy() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            4 => proptest::char::range('!', ')'),
            20 => proptest::char::range('+', '~'),
            1 => Just(' '),
            1 => Just('\n'),
            3 => proptest::char::range('\u{a1}', '\u{17f}'),
            2 => proptest::char::range('\u{4e00}', '\u{4fff}'),
            1 => proptest::char::range('\u{1f600}', '\u{1f64f}'),
        ],
        6..200,
    )
    .prop_map(String::from_iter)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn a_registered_value_never_survives_in_any_encoding(
        value in value_strategy(),
        enc in enc_strategy(),
        before in "[a-zA-Z0-9 .,:;=_/-]{0,80}",
        after in "[a-zA-Z0-9 .,:;=_/-]{0,80}",
        with_rules in any::<bool>(),
    ) {
        let known = Arc::new(KnownSecrets::new());
        known.register(&value);
        let mut b = Redactor::builder().known(known);
        if !with_rules {
            b = b.without_rules();
        }
        let r = b.build().unwrap();
        let (embedded, core) = encode(&value, enc);
        let text = format!("{before}{embedded}{after}");
        let out = r.redact(&text);
        prop_assert!(!out.contains(&core), "survived: {:?} in {:?}", core, out);
        prop_assert!(out.contains("****"));
    }

    #[test]
    fn text_without_secrets_comes_out_byte_identical(
        values in proptest::collection::vec("[A-Z!#%&]{6,40}", 0..20),
        text in "[a-z0-9 .,\u{e9}\u{4e2d}]{0,300}",
    ) {
        let known = Arc::new(KnownSecrets::new());
        for v in &values {
            known.register(v);
        }
        let r = Redactor::new(known);
        let out = r.redact(&text);
        prop_assert!(matches!(out, Cow::Borrowed(_)), "changed: {:?}", out);
        prop_assert_eq!(out.as_bytes(), text.as_bytes());
        let lines = r.redact_lines(&text);
        prop_assert_eq!(lines.as_bytes(), text.as_bytes());
    }
}
