//! Leak tests for the output paths beyond messages and fields: span names,
//! literal targets and `log` record targets (text and JSON), and panics
//! (in a child process of this binary, with the hook `install()` sets).
//! The corpus positives and the fetched values in every encoding go in;
//! no piece of them may come out, and the negatives come out unchanged.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use secret_chain::SecretsManager;
use secret_chain::detect::RuleSet;
use secret_chain::masking::KnownSecrets;
use secret_chain::providers::EnvProvider;
use tracing::callsite::{Callsite, Identifier};
use tracing::field::FieldSet;
use tracing::metadata::Kind;
use tracing::subscriber::Interest;
use tracing::{Level, Metadata};

use crate::masking_leaks::{
    API_TOKEN, DB_DOC, DB_PASSWORD, assert_absent, assert_no_form_survives, capture, corpus,
    credentials, encodings, json_strings,
};

/// A callsite made at run time, so that a span name or an event target can
/// be any text (the macros take only literals).
struct DynCallsite(OnceLock<Metadata<'static>>);

impl Callsite for DynCallsite {
    fn set_interest(&self, _: Interest) {}
    fn metadata(&self) -> &Metadata<'_> {
        self.0
            .get()
            .expect("metadata is set before the callsite is used")
    }
}

/// Metadata named `name` with target `target`, leaked (test-only).
pub(crate) fn dyn_metadata(name: &str, target: &str, kind: Kind) -> &'static Metadata<'static> {
    const SPAN_FIELDS: &[&str] = &["n"];
    const EVENT_FIELDS: &[&str] = &["message"];
    let cs: &'static DynCallsite = Box::leak(Box::new(DynCallsite(OnceLock::new())));
    let name: &'static str = Box::leak(name.to_owned().into_boxed_str());
    let target: &'static str = Box::leak(target.to_owned().into_boxed_str());
    let fields = if kind.is_span() {
        SPAN_FIELDS
    } else {
        EVENT_FIELDS
    };
    let meta = Metadata::new(
        name,
        target,
        Level::INFO,
        Some(file!()),
        Some(line!()),
        Some(module_path!()),
        FieldSet::new(fields, Identifier(cs)),
        kind,
    );
    let _ = cs.0.set(meta);
    tracing::callsite::register(cs);
    cs.metadata()
}

/// A span named `name` (one field, `n=1`), entered while `f` runs.
pub(crate) fn in_span_named(name: &str, f: impl FnOnce()) {
    let meta = dyn_metadata(name, "app", Kind::SPAN);
    let n = meta.fields().field("n").unwrap();
    let span = tracing::Span::new(
        meta,
        &meta
            .fields()
            .value_set(&[(&n, Some(&1 as &dyn tracing::Value))]),
    );
    span.in_scope(f);
}

/// An event with `target` as its target and `msg` as its message.
pub(crate) fn event_with_target(target: &str, msg: &str) {
    let meta = dyn_metadata("event", target, Kind::EVENT);
    let m = meta.fields().field("message").unwrap();
    let msg = format_args!("{msg}");
    tracing::Event::dispatch(
        meta,
        &meta
            .fields()
            .value_set(&[(&m, Some(&msg as &dyn tracing::Value))]),
    );
}

/// A `log` record with `target` as its target (the suite installs the
/// `log` bridge before any capture).
fn log_with_target(target: &str, msg: &str) {
    log::logger().log(
        &log::Record::builder()
            .args(format_args!("{msg}"))
            .level(log::Level::Warn)
            .target(target)
            .module_path(Some(module_path!()))
            .build(),
    );
}

/// `text` as a span name, an event target and a `log` record target.
fn log_as_names_and_targets(text: &str) {
    in_span_named(text, || tracing::info!("inside the span"));
    event_with_target(text, "a literal target");
    log_with_target(text, "a log record");
}

/// The registry after fetching [`API_TOKEN`] and [`DB_DOC`].
pub(crate) fn fetched_known() -> Arc<KnownSecrets> {
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
    known
}

/// The values [`fetched_known`] holds that the tests log.
pub(crate) const FETCHED: [&str; 3] = [API_TOKEN, DB_PASSWORD, "svc-orders"];

/// The credentials of a corpus line that the rules find on their own, too
/// (some are found only near a keyword of the line).
fn standalone(secrets: &[String]) -> Vec<&str> {
    secrets
        .iter()
        .filter(|s| {
            let mut f = Vec::new();
            RuleSet::builtin().find(s, &mut f);
            !f.is_empty()
        })
        .map(String::as_str)
        .collect()
}

#[test]
fn corpus_credentials_in_span_names_and_targets_never_survive_in_text_or_json() {
    for (kind, line) in corpus("positives.tsv") {
        let secrets = credentials(&kind, &line);
        let alone = standalone(&secrets);
        for json in [false, true] {
            let out = capture(json, None, || {
                log_as_names_and_targets(&line);
                for s in &alone {
                    log_as_names_and_targets(s);
                }
            });
            let hay = if json {
                json_strings(&out)
            } else {
                out.clone()
            };
            for s in &secrets {
                assert_absent(&hay, s, 10, &format!("{kind} (json={json})"));
                assert_absent(&out, s, 10, &format!("{kind} raw (json={json})"));
            }
            assert!(out.contains("****"), "{kind}: nothing was masked");
            assert!(
                out.contains("inside the span")
                    && out.contains("a literal target")
                    && out.contains("a log record"),
                "{kind}: an event is missing"
            );
        }
    }
}

#[test]
fn fetched_values_in_every_encoding_never_survive_in_span_names_or_targets() {
    let known = fetched_known();
    for json in [false, true] {
        for v in FETCHED {
            let out = capture(json, Some(known.clone()), || {
                for (enc, _) in encodings(v) {
                    log_as_names_and_targets(&enc);
                    log_as_names_and_targets(&format!("job {enc} done"));
                }
            });
            assert_no_form_survives(&out, json, v, &format!("names/targets (json={json})"));
        }
    }
}

#[test]
fn corpus_negatives_as_span_names_and_targets_come_out_unchanged() {
    for (kind, line) in corpus("negatives.tsv") {
        let out = capture(false, None, || log_as_names_and_targets(&line));
        assert!(
            out.contains(&format!(
                "{line}{{n=1}}: {}: inside the span",
                module_path!()
            )),
            "{kind}: span name changed:\n{out}"
        );
        assert!(
            out.contains(&format!("{line}: a literal target")),
            "{kind}: target changed:\n{out}"
        );
        assert!(
            out.contains(&format!("{line}: a log record")),
            "{kind}: log target changed:\n{out}"
        );
        let out = capture(true, None, || log_as_names_and_targets(&line));
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            lines[0]["span"]["name"],
            line.as_str(),
            "{kind} (json span)"
        );
        assert_eq!(lines[0]["spans"][0]["name"], line.as_str(), "{kind}");
        assert_eq!(lines[1]["target"], line.as_str(), "{kind} (json target)");
        assert_eq!(lines[2]["target"], line.as_str(), "{kind} (json log)");
    }
}

// Panics: `install()` cannot be undone, so it runs in a child process of
// this binary (`panic_child`), whose stderr the parent reads.

const PANIC_CHILD: &str = "SECRET_CHAIN_PANIC_CHILD";

/// The panics of the child in `mode`: `all`, every corpus line and every
/// encoding of every fetched value (and, after them, one payload that is
/// not a string); `few`, a corpus line and one form of each value (for the
/// backtrace runs); `one`, one fetched value (for the opt-out).
fn child_panics(mode: &str) -> Vec<String> {
    let lines = corpus("positives.tsv").into_iter().map(|(_, l)| l);
    let mut out: Vec<String> = match mode {
        "all" => lines.collect(),
        "few" => lines.take(1).collect(),
        _ => Vec::new(),
    };
    for v in FETCHED {
        for (enc, _) in encodings(v) {
            out.push(format!("request failed with {enc}"));
            if mode != "all" {
                break;
            }
        }
        if mode == "one" {
            break;
        }
    }
    out
}

/// The child half of the panic tests: runs only when a parent starts this
/// binary again with `SECRET_CHAIN_PANIC_CHILD` set to a mode of
/// [`child_panics`].
#[test]
fn panic_child() {
    let Ok(mode) = std::env::var(PANIC_CHILD) else {
        return;
    };
    let manager = SecretsManager::builder()
        .provider(EnvProvider::from_vars([
            ("API_TOKEN", API_TOKEN),
            ("DB_CREDS", DB_DOC),
        ]))
        .build()
        .unwrap();
    secret_chain::init(manager).unwrap();
    if mode == "bad" {
        let e = secret_chain::install().expect_err("a bad SECRETS_PANIC_HOOK is refused");
        assert_eq!(e.kind(), secret_chain::ErrorKind::Config);
        assert!(e.to_string().contains("SECRETS_PANIC_HOOK"), "{e}");
        println!("panic child done");
        return;
    }
    secret_chain::install().expect("install succeeds in the child");
    secret_chain::get_secret_blocking("api/token").unwrap();
    secret_chain::get_secret_blocking("db/creds").unwrap();
    for (i, msg) in child_panics(&mode).into_iter().enumerate() {
        let r = std::thread::Builder::new()
            .name(format!("panicker-{i}"))
            .spawn(move || panic!("{}", msg))
            .unwrap()
            .join();
        assert!(r.is_err());
    }
    if mode != "one" {
        let r = std::thread::spawn(|| std::panic::panic_any(42_u32)).join();
        assert!(r.is_err());
    }
    tracing::info!("panic child done");
}

/// Runs [`panic_child`] in a child process; returns (stdout, stderr).
fn run_panic_child(mode: &str, json: bool, backtrace: &str, opt_out: bool) -> (String, String) {
    run_panic_child_with(
        mode,
        json,
        backtrace,
        if opt_out { Some("0") } else { None },
    )
}

fn run_panic_child_with(
    mode: &str,
    json: bool,
    backtrace: &str,
    hook_setting: Option<&str>,
) -> (String, String) {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "masking_outputs::panic_child",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(PANIC_CHILD, mode)
    .env("RUST_LOG", "info")
    .env("RUST_BACKTRACE", backtrace)
    .env_remove("SECRETS_PROVIDERS");
    if json {
        cmd.env("LOG_FORMAT", "json");
    } else {
        cmd.env_remove("LOG_FORMAT");
    }
    match hook_setting {
        Some(v) => cmd.env("SECRETS_PANIC_HOOK", v),
        None => cmd.env_remove("SECRETS_PANIC_HOOK"),
    };
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "the panic child failed (exit {:?})",
        out.status.code()
    );
    assert!(
        stdout.contains("panic child done"),
        "the child did not finish"
    );
    (stdout, stderr)
}

#[test]
fn panics_after_install_are_masked_in_text_and_json_modes() {
    for (mode, json, backtrace) in [
        ("all", false, "0"),
        ("all", true, "0"),
        ("few", false, "1"),
        ("few", true, "full"),
    ] {
        let expected = child_panics(mode).len() + 1;
        let (stdout, stderr) = run_panic_child(mode, json, backtrace, false);
        let label = format!("panic ({mode}, json={json}, RUST_BACKTRACE={backtrace})");
        // The default hook's shape: one header per panic, the message on
        // the next line.
        let headers = stderr.matches(" panicked at ").count();
        assert_eq!(headers, expected, "{label}: a panic was not printed");
        assert!(stderr.contains("\nthread 'panicker-0' ("), "{label}");
        assert!(stderr.contains("\nthread '<unnamed>' ("), "{label}");
        assert!(stderr.contains(":\nBox<dyn Any>\n"), "{label}");
        assert!(stderr.contains(":\nrequest failed with ****"), "{label}");
        if backtrace == "0" {
            let hint = "note: run with `RUST_BACKTRACE=1` environment variable";
            assert_eq!(stderr.matches(hint).count(), 1, "{label}: one hint");
            assert!(!stderr.contains("stack backtrace:"), "{label}");
        } else {
            assert_eq!(
                stderr.matches("stack backtrace:").count(),
                expected,
                "{label}"
            );
            assert!(
                stderr.contains("masking_outputs::panic_child"),
                "{label}: the frames of the panic"
            );
        }
        for (kind, line) in corpus("positives.tsv") {
            for s in credentials(&kind, &line) {
                assert_absent(&stderr, &s, 10, &format!("{label}: {kind}"));
                assert_absent(&stdout, &s, 10, &format!("{label}: {kind} (stdout)"));
            }
        }
        for v in FETCHED {
            assert_no_form_survives(&stderr, false, v, &label);
        }
    }
}

#[test]
fn secrets_panic_hook_0_keeps_the_default_hook() {
    let (_, stderr) = run_panic_child("one", false, "0", true);
    // The default hook does not mask: the value is there, which shows that
    // the setting turned the masking hook off.
    assert!(
        stderr.contains(&format!("request failed with {API_TOKEN}")),
        "the default hook did not print the panic"
    );
    let (_, stderr) = run_panic_child("one", false, "0", false);
    assert!(!stderr.contains(API_TOKEN), "the masking hook did not mask");
    assert!(stderr.contains("request failed with ****"));
}

#[test]
fn a_secrets_panic_hook_that_is_not_a_boolean_is_a_config_error() {
    run_panic_child_with("bad", false, "0", Some("maybe"));
}
