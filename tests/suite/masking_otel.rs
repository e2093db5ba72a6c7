//! Leak tests for OpenTelemetry export (feature `otel`), end to end:
//! `tracing-opentelemetry` turns spans into OpenTelemetry spans and
//! `opentelemetry-appender-tracing` turns events into log records; both go
//! through the masking exporters into the SDK's in-memory exporters, where
//! every exported string is searched for the secrets that went in.

use opentelemetry::logs::AnyValue;
use opentelemetry::trace::{Status, TracerProvider as _};
use opentelemetry::{Array, Value};
use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use secret_chain::masking::Redactor;
use secret_chain::masking::otel::{MaskingLogExporter, MaskingSpanExporter};
use tracing::metadata::Kind;
use tracing_subscriber::layer::SubscriberExt;

use crate::masking_leaks::{assert_absent, corpus, credentials, encodings};
use crate::masking_outputs::{
    FETCHED, dyn_metadata, event_with_target, fetched_known, in_span_named,
};
use crate::support;

fn value_text(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => out.push_str(s.as_str()),
        Value::Array(Array::String(items)) => {
            for s in items {
                out.push_str(s.as_str());
                out.push('\n');
            }
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Every string of the exported spans, one per line: names, attribute
/// keys and values, event names and attributes, status descriptions.
fn spans_text(spans: &[SpanData]) -> String {
    let mut out = String::new();
    for s in spans {
        out.push_str(&s.name);
        out.push('\n');
        let events = s.events.events.iter().map(|e| (&e.name, &e.attributes));
        for (name, attrs) in [(&s.name, &s.attributes)].into_iter().chain(events) {
            out.push_str(name);
            out.push('\n');
            for kv in attrs {
                out.push_str(kv.key.as_str());
                out.push('=');
                value_text(&kv.value, &mut out);
                out.push('\n');
            }
        }
        if let Status::Error { description } = &s.status {
            out.push_str(description);
            out.push('\n');
        }
    }
    out
}

fn any_text(v: &AnyValue, out: &mut String) {
    match v {
        AnyValue::String(s) => out.push_str(s.as_str()),
        AnyValue::Bytes(b) => out.push_str(&String::from_utf8_lossy(b)),
        AnyValue::ListAny(items) => items.iter().for_each(|x| {
            any_text(x, out);
            out.push('\n');
        }),
        AnyValue::Map(m) => m.iter().for_each(|(k, x)| {
            out.push_str(k.as_str());
            out.push('=');
            any_text(x, out);
            out.push('\n');
        }),
        other => out.push_str(&format!("{other:?}")),
    }
}

/// The SDK's span and log pipelines, each through a masking exporter into
/// an in-memory one, and a subscriber with both bridges.
struct Pipelines {
    spans: InMemorySpanExporter,
    logs: InMemoryLogExporter,
    tracer_provider: SdkTracerProvider,
    logger_provider: SdkLoggerProvider,
}

impl Pipelines {
    fn new(redactor: &Redactor) -> Pipelines {
        let spans = InMemorySpanExporter::default();
        let logs = InMemoryLogExporter::default();
        let tracer_provider = SdkTracerProvider::builder()
            .with_simple_exporter(MaskingSpanExporter::new(spans.clone(), redactor.clone()))
            .build();
        let logger_provider = SdkLoggerProvider::builder()
            .with_simple_exporter(MaskingLogExporter::new(logs.clone(), redactor.clone()))
            .build();
        Pipelines {
            spans,
            logs,
            tracer_provider,
            logger_provider,
        }
    }

    /// Runs `f` under a subscriber with both bridges; returns what was
    /// exported, as text (spans, then log records).
    fn run(&self, f: impl FnOnce()) -> (String, String) {
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(self.tracer_provider.tracer("suite")))
            .with(
                opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge::new(
                    &self.logger_provider,
                ),
            );
        support::capture::with_subscriber(subscriber, f);
        self.tracer_provider.force_flush().unwrap();
        self.logger_provider.force_flush().unwrap();
        let spans = self.spans.get_finished_spans().unwrap();
        assert!(!spans.is_empty(), "no span was exported");
        let mut logs = String::new();
        for l in self.logs.get_emitted_logs().unwrap() {
            let r = &l.record;
            logs.push_str(r.event_name().unwrap_or(""));
            logs.push('\n');
            logs.push_str(r.target().map(|t| t.as_ref()).unwrap_or(""));
            logs.push('\n');
            if let Some(b) = r.body() {
                any_text(b, &mut logs);
                logs.push('\n');
            }
            for (k, v) in r.attributes_iter() {
                logs.push_str(k.as_str());
                logs.push('=');
                any_text(v, &mut logs);
                logs.push('\n');
            }
        }
        assert!(!logs.is_empty(), "no log record was exported");
        self.spans.reset();
        self.logs.reset();
        (spans_text(&spans), logs)
    }
}

/// A span whose name, fields, events and status hold `text`, and a
/// secret-named field; an event whose name and target are `text`.
fn export_everywhere(text: &str) {
    let span = tracing::info_span!(
        "job",
        otel.name = %format!("job {text}"),
        payload = %text,
        note = ?text,
        password = "pw-field-Value-1",
        path = "/api/v1/orders",
        n = 5,
        otel.status_code = "error",
        otel.status_description = %format!("failed: {text}"),
    );
    let _g = span.enter();
    tracing::info!(data = %text, api_key = "k-field-Value-2", "event {}", text);
    tracing::error!(error = %text, "failed {}", text);
    in_span_named(text, || {
        tracing::info!("inside a span named by the text");
    });
    event_with_target(text, "a literal target");
    let meta = dyn_metadata(text, "app", Kind::EVENT);
    let m = meta.fields().field("message").unwrap();
    let msg = format_args!("an event named by the text");
    tracing::Event::dispatch(
        meta,
        &meta
            .fields()
            .value_set(&[(&m, Some(&msg as &dyn tracing::Value))]),
    );
}

fn assert_kept(spans: &str, logs: &str) {
    // Span fields are span attributes; event fields are log attributes.
    assert!(
        !spans.contains("pw-field-Value-1"),
        "spans: a secret-named field"
    );
    assert!(
        spans.contains("password=****"),
        "spans: the secret-named field"
    );
    for (what, text) in [("spans", spans), ("logs", logs)] {
        assert!(
            !text.contains("k-field-Value-2"),
            "{what}: a secret-named field"
        );
        assert!(
            text.contains("api_key=****"),
            "{what}: the secret-named field"
        );
    }
    assert!(
        spans.contains("path=/api/v1/orders"),
        "spans: an ordinary field"
    );
    assert!(spans.contains("n=5"), "spans: a number");
    assert!(
        spans.contains("inside a span named by the text"),
        "spans: an event"
    );
    assert!(spans.contains("\njob "), "spans: the span name");
    assert!(
        spans.contains("\nfailed: "),
        "spans: the status description"
    );
    assert!(spans.contains("\nevent "), "spans: the event name");
    assert!(
        logs.contains("a literal target"),
        "logs: the dynamic target"
    );
    assert!(
        logs.contains("an event named by the text"),
        "logs: the event name"
    );
}

#[test]
fn corpus_credentials_never_reach_the_otel_exporters() {
    let p = Pipelines::new(&Redactor::default());
    for (kind, line) in corpus("positives.tsv") {
        let secrets = credentials(&kind, &line);
        let (spans, logs) = p.run(|| export_everywhere(&line));
        for s in &secrets {
            assert_absent(&spans, s, 10, &format!("{kind} (spans)"));
            assert_absent(&logs, s, 10, &format!("{kind} (logs)"));
        }
        assert_kept(&spans, &logs);
    }
}

#[test]
fn fetched_values_in_every_encoding_never_reach_the_otel_exporters() {
    let known = fetched_known();
    let p = Pipelines::new(&Redactor::new(known));
    for v in FETCHED {
        for (enc, core) in encodings(v) {
            let (spans, logs) = p.run(|| export_everywhere(&enc));
            for (what, text) in [("spans", &spans), ("logs", &logs)] {
                assert!(!text.contains(&enc), "{what}: an encoded form survived");
                assert_absent(text, &core, 12, what);
            }
            assert_kept(&spans, &logs);
        }
    }
}

#[test]
fn corpus_negatives_reach_the_otel_exporters_unchanged() {
    let p = Pipelines::new(&Redactor::default());
    for (kind, line) in corpus("negatives.tsv") {
        let (spans, logs) = p.run(|| export_everywhere(&line));
        assert!(
            spans.contains(&format!("job {line}\n")),
            "{kind}: span name"
        );
        assert!(
            spans.contains(&format!("payload={line}\n")),
            "{kind}: attribute"
        );
        assert!(
            spans.contains(&format!("failed: {line}\n")),
            "{kind}: status"
        );
        assert!(
            spans.contains(&format!("event {line}\n")),
            "{kind}: event name"
        );
        assert!(
            logs.contains(&format!("event {line}\n")),
            "{kind}: log body"
        );
        assert!(
            logs.contains(&format!("data={line}\n")),
            "{kind}: log attribute"
        );
        assert!(logs.contains(&format!("\n{line}\n")), "{kind}: log target");
    }
}
