//! Leak tests: everything the masking layer writes is captured (a test
//! `MakeWriter`, as in tracing-subscriber's `tests/ansi_escaping.rs`) and
//! searched for the secrets that went in.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use secret_chain::SecretsManager;
use secret_chain::detect::RuleSet;
use secret_chain::masking::{KnownSecrets, MaskingLayer};
use secret_chain::providers::EnvProvider;
use tracing_subscriber::layer::SubscriberExt;

use crate::support;
use crate::support::capture::Capture;
use crate::support::scripted::Scripted;

/// Runs `f` under a masking subscriber and returns what it wrote.
pub(crate) fn capture(json: bool, known: Option<Arc<KnownSecrets>>, f: impl FnOnce()) -> String {
    let cap = Capture::default();
    let mut b = MaskingLayer::builder().json(json).writer(cap.clone());
    if let Some(k) = known {
        b = b.known(k);
    }
    let layer = b.build().expect("layer builds");
    let subscriber = tracing_subscriber::registry().with(layer);
    support::capture::with_subscriber(subscriber, f);
    let out = cap.text();
    assert!(!out.is_empty(), "nothing was logged");
    if json {
        for line in out.lines() {
            serde_json::from_str::<serde_json::Value>(line)
                .unwrap_or_else(|e| panic!("JSON output is not valid JSON ({e}): {line}"));
        }
    }
    out
}

pub(crate) fn corpus(file: &str) -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the corpus file {} is missing ({e}); it sits beside the repository",
            path.display()
        )
    });
    let rows: Vec<(String, String)> = text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (k, v) = l
                .split_once('\t')
                .unwrap_or_else(|| panic!("corpus line without a tab in {file}"));
            (k.to_string(), v.to_string())
        })
        .collect();
    assert!(rows.len() >= 10, "{file} holds too few lines");
    rows
}

/// Every string inside the JSON lines of `out`, decoded, one per line.
pub(crate) fn json_strings(out: &str) -> String {
    fn walk(v: &serde_json::Value, acc: &mut String) {
        match v {
            serde_json::Value::String(s) => {
                acc.push_str(s);
                acc.push('\n');
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, acc)),
            serde_json::Value::Object(m) => m.iter().for_each(|(k, x)| {
                acc.push_str(k);
                acc.push('\n');
                walk(x, acc)
            }),
            _ => {}
        }
    }
    let mut acc = String::new();
    for line in out.lines() {
        walk(&serde_json::from_str(line).unwrap(), &mut acc);
    }
    acc
}

/// Windows of `w` characters of `s` (the whole of `s` when shorter).
fn windows(s: &str, w: usize) -> Vec<&str> {
    let idx: Vec<usize> = s.char_indices().map(|(i, _)| i).chain([s.len()]).collect();
    let n = idx.len() - 1;
    if n <= w {
        return vec![s];
    }
    (0..=n - w).map(|i| &s[idx[i]..idx[i + w]]).collect()
}

/// Fails if any `w`-character window of `secret` is in `hay`.
pub(crate) fn assert_absent(hay: &str, secret: &str, w: usize, what: &str) {
    for win in windows(secret, w) {
        if let Some(line) = hay.lines().find(|l| l.contains(win)) {
            panic!("{what}: a piece of the secret ({win:?}) survived in:\n{line}");
        }
    }
}

/// The credential(s) of a corpus line: the spans the rule engine reports.
/// Every positive line must yield at least one, at least 6 bytes long.
pub(crate) fn credentials(kind: &str, line: &str) -> Vec<String> {
    let mut found = Vec::new();
    RuleSet::builtin().find(line, &mut found);
    assert!(!found.is_empty(), "{kind}: no credential found in the line");
    found
        .iter()
        .map(|f| {
            let s = line[f.start..f.end].to_string();
            assert!(s.len() >= 6, "{kind}: suspiciously short credential span");
            s
        })
        .collect()
}

#[test]
fn no_corpus_credential_survives_as_message_or_field_in_text_or_json() {
    for (kind, line) in corpus("positives.tsv") {
        let secrets = credentials(&kind, &line);
        for json in [false, true] {
            let out = capture(json, None, || {
                tracing::info!("{}", line);
                tracing::info!(line = %line, "as a display field");
                tracing::warn!(line = ?line, "as a debug field");
                tracing::error!(line = line.as_str(), "as a str field");
                let span = tracing::info_span!("request", ctx = %line);
                let _g = span.enter();
                tracing::info!("inside a span");
            });
            let hay = if json {
                json_strings(&out)
            } else {
                out.clone()
            };
            for s in &secrets {
                // Windows of 10 characters: no part of the secret survives.
                assert_absent(&hay, s, 10, &format!("{kind} (json={json})"));
                assert_absent(&out, s, 10, &format!("{kind} raw (json={json})"));
            }
            assert!(out.contains("****"), "{kind}: nothing was masked");
        }
    }
}

#[test]
fn corpus_negatives_come_out_unchanged() {
    for (kind, line) in corpus("negatives.tsv") {
        let out = capture(false, None, || {
            tracing::info!("{}", line);
            tracing::info!(line = %line, "field");
        });
        assert!(out.contains(&line), "{kind}: message changed:\n{out}");
        assert!(
            out.contains(&format!("line={line}")),
            "{kind}: field changed:\n{out}"
        );
        let out = capture(true, None, || {
            tracing::info!("{}", line);
            tracing::info!(line = %line, "field");
        });
        let mut lines = out
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap());
        assert_eq!(
            lines.next().unwrap()["fields"]["message"],
            line.as_str(),
            "{kind} (json message)"
        );
        assert_eq!(
            lines.next().unwrap()["fields"]["line"],
            line.as_str(),
            "{kind} (json field)"
        );
    }
}

pub(crate) const API_TOKEN: &str = "Zr9!kQ2#vW7$pL4x-t0ken";
pub(crate) const DB_DOC: &str = r#"{"user":"svc-orders","password":"pä\"ss\\w0rd-ümlaut"}"#;
pub(crate) const DB_PASSWORD: &str = "pä\"ss\\w0rd-ümlaut";

#[derive(Debug)]
#[allow(dead_code)]
struct DbConfig {
    host: String,
    url: String,
}

#[tracing::instrument]
fn connect(host: &str, dsn_part: &str) {
    tracing::info!("connecting");
}

/// Every encoded form of `v` and the part of it that depends only on `v`
/// (base64 of a prefixed value starts with characters of the prefix).
pub(crate) fn encodings(v: &str) -> Vec<(String, String)> {
    let std = base64::engine::general_purpose::STANDARD;
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut out = vec![(v.to_string(), v.to_string())];
    for prefix in ["", "u", "us", "user:"] {
        for (name, enc) in [
            ("std", std.encode(format!("{prefix}{v}"))),
            ("url", url.encode(format!("{prefix}{v}"))),
        ] {
            let skip = (prefix.len() * 4).div_ceil(3) + 1;
            let core = enc.trim_end_matches('=');
            let core = core[skip..core.len() - 2].to_string();
            let _ = name;
            out.push((enc, core));
        }
    }
    let pct =
        percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string();
    out.push((pct.clone(), pct));
    let json = serde_json::to_string(v).unwrap();
    let json = json[1..json.len() - 1].to_string();
    out.push((json.clone(), json));
    let dbg = format!("{v:?}");
    let dbg = dbg[1..dbg.len() - 1].to_string();
    out.push((dbg.clone(), dbg));
    out
}

fn log_everywhere(enc: &str) {
    tracing::info!("value {} end", enc);
    tracing::info!(data = %enc, "display field");
    tracing::info!(data = ?enc, "debug field");
    tracing::info!(blob = enc, "str field");
    let cfg = DbConfig {
        host: "db1".into(),
        url: format!("postgres://svc@db1/{enc}"),
    };
    tracing::info!(?cfg, "struct debug");
    tracing::info!("struct in message {:?}", cfg);
    let span = tracing::info_span!("job", payload = %enc);
    let _g = span.enter();
    tracing::info!("inside span");
    connect("db1", enc);
    log::info!("log record {}", enc);
    log::warn!(target: "legacy", "log debug {:?}", enc);
}

pub(crate) fn assert_no_form_survives(out: &str, json: bool, value: &str, label: &str) {
    let hay = if json {
        json_strings(out)
    } else {
        out.to_string()
    };
    for (enc, core) in encodings(value) {
        assert!(
            !out.contains(&enc),
            "{label}: an encoded form survived raw:\n{out}"
        );
        assert!(
            !hay.contains(&enc),
            "{label}: an encoded form survived:\n{hay}"
        );
        assert_absent(&hay, &core, 12, label);
    }
}

#[test]
fn cached_values_in_every_encoding_never_survive() {
    let known = Arc::new(KnownSecrets::new());
    let manager = SecretsManager::builder()
        .known_secrets(known.clone())
        .provider(EnvProvider::from_vars([
            ("API_TOKEN", API_TOKEN),
            ("DB_CREDS", DB_DOC),
        ]))
        .cache_ttl(Duration::from_secs(300))
        .build()
        .unwrap();
    manager.get_secret_blocking("api/token").unwrap();
    manager.get_secret_blocking("db/creds").unwrap();
    // The document, its JSON fields and the token are registered.
    assert!(known.len() >= 4, "{known:?}");
    let values = [API_TOKEN, DB_PASSWORD, "svc-orders"];
    for json in [false, true] {
        for v in values {
            let out = capture(json, Some(known.clone()), || {
                for (enc, _) in encodings(v) {
                    log_everywhere(&enc);
                }
            });
            assert_no_form_survives(&out, json, v, &format!("value (json={json})"));
            assert!(
                out.contains("connecting")
                    && out.contains("inside span")
                    && out.contains("log record")
            );
        }
    }
}

#[test]
fn a_rotated_out_value_stays_masked() {
    let known = Arc::new(KnownSecrets::new());
    let provider = Scripted::new("rotating");
    provider.set("svc/key", "old-secret-Value-111");
    let manager = SecretsManager::builder()
        .known_secrets(known.clone())
        .provider(provider.clone())
        .build()
        .unwrap();
    manager.get_secret_blocking("svc/key").unwrap();
    provider.set("svc/key", "new-secret-Value-222");
    manager.refresh();
    manager.get_secret_blocking("svc/key").unwrap();
    assert_eq!(
        provider.fetches(),
        2,
        "the refresh fetched the rotated value"
    );
    for json in [false, true] {
        let out = capture(json, Some(known.clone()), || {
            for v in ["old-secret-Value-111", "new-secret-Value-222"] {
                for (enc, _) in encodings(v) {
                    log_everywhere(&enc);
                }
            }
        });
        assert_no_form_survives(&out, json, "old-secret-Value-111", "old value");
        assert_no_form_survives(&out, json, "new-secret-Value-222", "new value");
    }
}

#[test]
fn secret_named_fields_are_masked_whole_and_ordinary_fields_kept() {
    let out = capture(false, None, || {
        tracing::info!(password = "correct horse battery", db_password = %"two words", max_tokens = 4096, api_version = "2024-06-01", "login");
    });
    assert!(!out.contains("correct horse"), "{out}");
    assert!(!out.contains("two words"), "{out}");
    assert!(out.contains("password=****"), "{out}");
    assert!(out.contains("max_tokens=4096"), "{out}");
    assert!(out.contains("api_version=\"2024-06-01\""), "{out}");
    let out = capture(true, None, || {
        tracing::info!(
            password = "correct horse battery",
            token = 12345678,
            "login"
        );
    });
    assert!(
        !out.contains("correct horse") && !out.contains("12345678"),
        "{out}"
    );
}

#[test]
fn errors_logged_with_display_and_debug_are_masked() {
    #[derive(Debug)]
    struct ConnError {
        url: String,
    }
    impl std::fmt::Display for ConnError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "cannot connect to {}", self.url)
        }
    }
    impl std::error::Error for ConnError {}
    let e = ConnError {
        url: "postgres://app:S3cr3tPassw0rd@db:5432/x".into(),
    };
    for json in [false, true] {
        let out = capture(json, None, || {
            tracing::error!(error = %e, "display");
            tracing::error!(error = ?e, "debug");
            let dyn_err: &(dyn std::error::Error + 'static) = &e;
            tracing::error!(error = dyn_err, "as error");
        });
        assert!(!out.contains("S3cr3tPassw0rd"), "{out}");
        assert!(out.contains("postgres://app:****@db"), "{out}");
    }
}
