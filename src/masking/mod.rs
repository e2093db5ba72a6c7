//! Keeping secrets out of logs.
//!
//! - [`KnownSecrets`]: the registry of values the
//!   [`SecretsManager`](crate::SecretsManager) has fetched (and their
//!   encoded forms), matched with a lock-free, atomically swapped matcher
//!   (a sampled 4-byte-window index, Aho-Corasick for short forms).
//! - [`Redactor`]: known values and the credential rules of
//!   [`crate::detect`] together; rewrites text with every secret masked.
//! - [`MaskingLayer`], [`MaskingFields`], [`MaskingMakeWriter`]: the tracing
//!   integration; [`install_with`] sets the global subscriber up in one
//!   call ([`crate::install`] does it with the global manager's registry).
//! - [`set_panic_hook`]: panic messages printed as the default hook
//!   does, masked ([`install_with`] sets it).
//! - `otel` (cargo feature `otel`): span and log exporter wrappers that
//!   mask what OpenTelemetry exports.
//! - [`mask_secret`], [`mask_json`]: helpers for values you print yourself.
//!
//! # Example
//!
//! ```
//! use secret_chain::masking::{mask_json, mask_secret};
//!
//! assert_eq!(mask_secret("ghp_b5h9M344OTFAQdfeb4g0MRcoIztgBqkFLglB"), "ghp_****");
//! let mut v = serde_json::json!({"db": {"password": "hunter22", "host": "db1"}});
//! mask_json(&mut v);
//! assert_eq!(v, serde_json::json!({"db": {"password": "****", "host": "db1"}}));
//! ```
//!
//! # What is not protected
//!
//! Text that does not pass through a [`Redactor`] (a `println!`, another
//! logger, a panic hook set after [`install_with`]) is not masked. A secret
//! split across two `write` calls of a custom writer is not seen whole by
//! [`MaskingMakeWriter`]. Known values shorter than the minimum length
//! (default 6 characters) are not masked by value. [`MaskingLayer`] masks
//! every part of a line but the time and the level, which the formatter
//! writes itself: message, fields, span fields, span names, the target
//! and `log` records.
//! [`set_panic_hook`] (set by [`install_with`]) masks panic messages.

mod install;
mod json;
mod known;
mod layer;
#[cfg(feature = "otel")]
#[cfg_attr(docsrs, doc(cfg(feature = "otel")))]
pub mod otel;
mod panic_hook;
mod redactor;

pub use install::install_with;
pub use known::{
    DEFAULT_MIN_LEN, DEFAULT_RETENTION, KnownSecrets, MAX_REGISTERED_FIELDS,
    MAX_REGISTERED_VALUE_BYTES,
};
pub use layer::{
    MaskingFields, MaskingLayer, MaskingLayerBuilder, MaskingMakeWriter, MaskingWriter,
};
pub use panic_hook::set_panic_hook;
pub use redactor::{DEFAULT_MASK, Redactor, RedactorBuilder};

use std::sync::{Arc, OnceLock};

/// Vendor prefixes kept visible by [`mask_secret`] (they say what kind of
/// credential it was, not which one).
const KEEP_PREFIXES: &[&str] = &[
    "sk-proj-",
    "sk-svcacct-",
    "sk-admin-",
    "sk-ant-",
    "sk-or-v1-",
    "sk-lf-",
    "pk-lf-",
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "rk_test_",
    "pk_live_",
    "pk_test_",
    "github_pat_",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "glpat-",
    "glrt-",
    "xoxb-",
    "xoxp-",
    "xapp-",
    "npm_",
    "pypi-",
    "hf_",
    "dop_v1_",
    "shpat_",
    "AKIA",
    "ASIA",
    "AIza",
    "SG.",
    "sk-",
];

/// A display form of a secret value that reveals nothing of it: the mask
/// (`****`), after the vendor prefix when the value has one (`ghp_****`).
pub fn mask_secret(value: &str) -> String {
    for p in KEEP_PREFIXES {
        if value.len() >= p.len() + 16 && value.starts_with(p) {
            return format!("{p}{DEFAULT_MASK}");
        }
    }
    DEFAULT_MASK.to_owned()
}

/// The registry of the process's values, handed over by whoever owns it
/// (the global manager, or [`install_with`]); the first one set stays.
static PROCESS_KNOWN: OnceLock<Arc<KnownSecrets>> = OnceLock::new();

/// Makes `known` the registry that [`mask_json`] masks with, unless one was
/// set before.
pub(crate) fn set_process_known(known: Arc<KnownSecrets>) {
    let _ = PROCESS_KNOWN.set(known);
}

/// The redactor of [`mask_json`]: the built-in rules, plus the process's
/// known values once a registry has been handed over.
fn default_redactor() -> &'static Redactor {
    static PLAIN: OnceLock<Redactor> = OnceLock::new();
    static WITH_KNOWN: OnceLock<Redactor> = OnceLock::new();
    match PROCESS_KNOWN.get() {
        Some(k) => WITH_KNOWN.get_or_init(|| Redactor::new(k.clone())),
        None => PLAIN.get_or_init(Redactor::default),
    }
}

/// Masks a JSON value in place, at any depth (objects and arrays): values
/// under secret-named keys (`password`, `api_key`, `db_password`, ...)
/// become `"****"`; secret-shaped strings elsewhere (and values the global
/// manager holds) are redacted like log text.
pub fn mask_json(value: &mut serde_json::Value) {
    mask_json_with(default_redactor(), value);
}

/// Walks the value with a stack of its own, not by recursion: a value
/// nested 100,000 levels deep (which serde_json's parser refuses, but code
/// can build) must not overflow the thread's stack.
fn mask_json_with(r: &Redactor, value: &mut serde_json::Value) {
    use serde_json::Value;
    // `true`: under a secret-named key, where scalars are masked whole
    // (empty strings, booleans, null and placeholders kept) and an object
    // is walked as usual.
    let mut stack: Vec<(&mut Value, bool)> = vec![(value, false)];
    while let Some((v, secret)) = stack.pop() {
        match v {
            Value::String(s) if secret && !s.is_empty() && !crate::detect::is_placeholder(s) => {
                *s = r.mask().to_owned();
            }
            Value::String(_) if secret => {}
            Value::Number(_) if secret => *v = Value::String(r.mask().to_owned()),
            Value::String(s) => {
                if let std::borrow::Cow::Owned(new) = r.redact(s) {
                    *s = new;
                }
            }
            Value::Array(items) => stack.extend(items.iter_mut().map(|x| (x, secret))),
            Value::Object(map) => stack.extend(
                map.iter_mut()
                    .map(|(k, x)| (x, crate::detect::is_secret_name(k))),
            ),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_secret_keeps_only_a_vendor_prefix() {
        assert_eq!(mask_secret("hunter22"), "****");
        assert_eq!(
            mask_secret("sk-proj-abcdefghijklmnopqrstuvwxyz"),
            "sk-proj-****"
        );
        assert_eq!(mask_secret("ghp_"), "****");
    }

    #[test]
    fn mask_json_survives_a_value_nested_100_000_levels_deep() {
        use serde_json::Value;
        let mut v = Value::String("token ghp_b5h9M344OTFAQdfeb4g0MRcoIztgBqkFLglB".into());
        for i in 0..100_000 {
            v = if i % 2 == 0 {
                Value::Array(vec![v])
            } else {
                // Not `json!`: it would serialize `v`, recursively.
                let mut map = serde_json::Map::new();
                map.insert("password".into(), Value::String("kept-out-1".into()));
                map.insert("next".into(), v);
                Value::Object(map)
            };
        }
        mask_json_with(&Redactor::default(), &mut v);
        // Take it apart by hand: dropping it would recurse as deep.
        let mut masked_passwords = 0;
        let mut innermost = None;
        while !matches!(v, Value::Null) {
            v = match v {
                Value::Array(mut items) => items.pop().unwrap_or(Value::Null),
                Value::Object(mut map) => {
                    if map["password"] == "****" {
                        masked_passwords += 1;
                    }
                    map.remove("next").unwrap_or(Value::Null)
                }
                other => {
                    innermost = Some(other);
                    Value::Null
                }
            };
        }
        assert_eq!(masked_passwords, 50_000);
        assert_eq!(innermost, Some(Value::String("token ****".into())));
    }

    #[test]
    fn mask_json_walks_objects_and_arrays() {
        let mut v = serde_json::json!({
            "users": [{"name": "a", "password": "p1-secret"}, {"name": "b", "api_key": 123456789}],
            "note": "token ghp_b5h9M344OTFAQdfeb4g0MRcoIztgBqkFLglB here",
            "credentials": {"user": "svc", "secret": "s2"},
            "max_tokens": 4096,
            "password_reset": false,
            "token": ""
        });
        mask_json_with(&Redactor::default(), &mut v);
        assert_eq!(v["users"][0]["password"], "****");
        assert_eq!(v["users"][0]["name"], "a");
        assert_eq!(v["users"][1]["api_key"], "****");
        assert_eq!(v["note"], "token **** here");
        assert_eq!(v["credentials"]["secret"], "****");
        assert_eq!(v["max_tokens"], 4096);
        assert_eq!(v["password_reset"], false);
        assert_eq!(v["token"], "");
    }
}
