//! OpenTelemetry export, masked (cargo feature `otel`).
//!
//! `tracing-opentelemetry` turns spans into OpenTelemetry spans and
//! `opentelemetry-appender-tracing` turns events into log records; both go
//! to an exporter (OTLP, stdout, ...) past the `fmt` layer, and a tracing
//! layer cannot change what a sibling layer sees. So the masking happens
//! at the exporter: [`MaskingSpanExporter`] and [`MaskingLogExporter`] wrap
//! an `opentelemetry_sdk` exporter and mask, with a [`Redactor`] (the same
//! known values and rules as the masking layer), everything of a batch
//! that holds program text before handing it on:
//!
//! - spans: the name, every string attribute value (and string arrays),
//!   the whole value of an attribute whose key is secret-named
//!   (`password`, `db.token`, ...), event names and their attributes, link
//!   attributes, the status description;
//! - log records: the body (strings at any depth of lists and maps), every
//!   attribute as above, the target and the event name;
//! - the resource given to the exporter (`set_resource`), the same way.
//!
//! Attribute keys, ids, timestamps, numbers and booleans (outside
//! secret-named keys) and the instrumentation scope are kept as they are.
//! A batch with nothing to mask is handed on untouched.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use opentelemetry::trace::{Tracer, TracerProvider as _};
//! use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
//! use secret_chain::masking::otel::MaskingSpanExporter;
//! use secret_chain::masking::{KnownSecrets, Redactor};
//!
//! let known = Arc::new(KnownSecrets::new());
//! known.register("correct-horse-battery");
//! let memory = InMemorySpanExporter::default();
//! let exporter = MaskingSpanExporter::new(memory.clone(), Redactor::new(known));
//! let provider = SdkTracerProvider::builder()
//!     .with_simple_exporter(exporter)
//!     .build();
//! provider
//!     .tracer("app")
//!     .in_span("login with correct-horse-battery", |_cx| {});
//! let spans = memory.get_finished_spans().unwrap();
//! assert_eq!(spans[0].name, "login with ****");
//! ```

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _};
use opentelemetry::trace::Status;
use opentelemetry::{Array, Key, KeyValue, StringValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter, SdkLogRecord, SdkLogger, SdkLoggerProvider};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use crate::detect::{is_placeholder, is_secret_name, is_value_word};
use crate::masking::redactor::Redactor;

/// A span exporter that masks every span of a batch before `inner`
/// exports it; see the [module docs](self).
///
/// ```
/// # use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
/// # use secret_chain::masking::{Redactor, otel::MaskingSpanExporter};
/// # let otlp_exporter = InMemorySpanExporter::default();
/// // `otlp_exporter`: opentelemetry_otlp::SpanExporter::builder()...build()?
/// let exporter = MaskingSpanExporter::new(otlp_exporter, Redactor::default());
/// let provider = SdkTracerProvider::builder().with_batch_exporter(exporter).build();
/// ```
pub struct MaskingSpanExporter<E> {
    inner: E,
    redactor: Redactor,
}

impl<E: fmt::Debug> fmt::Debug for MaskingSpanExporter<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaskingSpanExporter")
            .field("inner", &self.inner)
            .field("redactor", &self.redactor)
            .finish()
    }
}

impl<E> MaskingSpanExporter<E> {
    /// Wraps `inner`, masking with `redactor` (for the values the manager
    /// fetches: `Redactor::new(manager.known_secrets().clone())`).
    pub fn new(inner: E, redactor: Redactor) -> MaskingSpanExporter<E> {
        MaskingSpanExporter { inner, redactor }
    }

    /// The wrapped exporter.
    pub fn inner(&self) -> &E {
        &self.inner
    }
}

impl<E: SpanExporter> SpanExporter for MaskingSpanExporter<E> {
    fn export(
        &self,
        mut batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        for span in &mut batch {
            mask_span_data(&self.redactor, span);
        }
        self.inner.export(batch)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn shutdown(&self) -> OTelSdkResult {
        self.inner.shutdown()
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        match mask_resource(&self.redactor, resource) {
            Some(masked) => self.inner.set_resource(&masked),
            None => self.inner.set_resource(resource),
        }
    }
}

/// A log exporter that masks every record of a batch before `inner`
/// exports it; see the [module docs](self). Records with nothing to mask
/// are passed on as they are; the others are copied, masked.
///
/// ```
/// # use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
/// # use secret_chain::masking::{Redactor, otel::MaskingLogExporter};
/// # let otlp_exporter = InMemoryLogExporter::default();
/// let exporter = MaskingLogExporter::new(otlp_exporter, Redactor::default());
/// let provider = SdkLoggerProvider::builder().with_batch_exporter(exporter).build();
/// // then opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge::new(&provider)
/// ```
pub struct MaskingLogExporter<E> {
    inner: E,
    redactor: Redactor,
}

impl<E: fmt::Debug> fmt::Debug for MaskingLogExporter<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaskingLogExporter")
            .field("inner", &self.inner)
            .field("redactor", &self.redactor)
            .finish()
    }
}

impl<E> MaskingLogExporter<E> {
    /// Wraps `inner`, masking with `redactor`.
    pub fn new(inner: E, redactor: Redactor) -> MaskingLogExporter<E> {
        // The logger that makes blank records is built here, not during an
        // export (where the SDK's own logs of building it would be dropped).
        blank_logger();
        MaskingLogExporter { inner, redactor }
    }

    /// The wrapped exporter.
    pub fn inner(&self) -> &E {
        &self.inner
    }
}

impl<E: LogExporter> LogExporter for MaskingLogExporter<E> {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let masked: Vec<Option<SdkLogRecord>> = batch
            .iter()
            .map(|(record, _)| mask_log_record(&self.redactor, record))
            .collect();
        if masked.iter().all(Option::is_none) {
            return self.inner.export(batch).await;
        }
        let pairs: Vec<_> = batch
            .iter()
            .zip(&masked)
            .map(|((record, scope), m)| (m.as_ref().unwrap_or(record), scope))
            .collect();
        self.inner.export(LogBatch::new(&pairs)).await
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn shutdown(&self) -> OTelSdkResult {
        self.inner.shutdown()
    }

    fn event_enabled(
        &self,
        level: opentelemetry::logs::Severity,
        target: &str,
        name: Option<&str>,
    ) -> bool {
        self.inner.event_enabled(level, target, name)
    }

    fn set_resource(&mut self, resource: &Resource) {
        match mask_resource(&self.redactor, resource) {
            Some(masked) => self.inner.set_resource(&masked),
            None => self.inner.set_resource(resource),
        }
    }
}

/// Masks one span in place: name, attributes, events (names and
/// attributes), link attributes and the status description.
pub fn mask_span_data(redactor: &Redactor, span: &mut SpanData) {
    mask_cow(redactor, &mut span.name);
    mask_key_values(redactor, &mut span.attributes);
    for event in &mut span.events.events {
        mask_cow(redactor, &mut event.name);
        mask_key_values(redactor, &mut event.attributes);
    }
    for link in &mut span.links.links {
        mask_key_values(redactor, &mut link.attributes);
    }
    if let Status::Error { description } = &mut span.status {
        mask_cow(redactor, description);
    }
}

/// `text` redacted, or `None` when nothing in it is masked.
fn redacted(redactor: &Redactor, text: &str) -> Option<String> {
    match redactor.redact(text) {
        Cow::Borrowed(_) => None,
        Cow::Owned(s) => Some(s),
    }
}

fn mask_cow(redactor: &Redactor, text: &mut Cow<'static, str>) {
    if let Some(s) = redacted(redactor, text) {
        *text = Cow::Owned(s);
    }
}

/// Whether a string under a secret-named key is masked whole: not when it
/// is empty, a placeholder or a word such as `true` or `none` (as in JSON).
fn hides(s: &str) -> bool {
    !s.is_empty() && !is_placeholder(s) && !is_value_word(s)
}

fn mask_key_values(redactor: &Redactor, kvs: &mut [KeyValue]) {
    for kv in kvs {
        mask_value(redactor, &mut kv.value, secret_key(&kv.key));
    }
}

/// [`is_secret_name`] for an attribute key.
fn secret_key(key: &Key) -> bool {
    is_secret_name(key.as_str())
}

fn mask_string_value(redactor: &Redactor, s: &mut StringValue, secret: bool) {
    if secret {
        if hides(s.as_str()) {
            *s = StringValue::from(redactor.mask().to_owned());
        }
    } else if let Some(new) = redacted(redactor, s.as_str()) {
        *s = StringValue::from(new);
    }
}

/// Masks an attribute value: strings through the redactor; under a
/// secret-named key, strings and numbers whole (booleans kept).
fn mask_value(redactor: &Redactor, value: &mut Value, secret: bool) {
    let mask = || Value::String(StringValue::from(redactor.mask().to_owned()));
    match value {
        Value::String(s) => mask_string_value(redactor, s, secret),
        Value::I64(_) | Value::F64(_) if secret => *value = mask(),
        Value::Array(Array::String(items)) => {
            for s in items {
                mask_string_value(redactor, s, secret);
            }
        }
        Value::Array(Array::I64(_) | Array::F64(_)) if secret => {
            *value = mask();
        }
        _ => {}
    }
}

/// A masked copy of an [`AnyValue`], or `None` when nothing changes.
fn masked_any(redactor: &Redactor, value: &AnyValue, secret: bool) -> Option<AnyValue> {
    let mask = || AnyValue::String(StringValue::from(redactor.mask().to_owned()));
    match value {
        AnyValue::String(s) if secret => hides(s.as_str()).then(mask),
        AnyValue::String(s) => {
            redacted(redactor, s.as_str()).map(|new| AnyValue::String(StringValue::from(new)))
        }
        AnyValue::Int(_) | AnyValue::Double(_) if secret => Some(mask()),
        AnyValue::Bytes(b) => {
            // Bytes that are text are masked as text.
            let text = std::str::from_utf8(b).ok()?;
            if secret {
                return hides(text).then(mask);
            }
            redacted(redactor, text).map(|new| AnyValue::Bytes(Box::new(new.into_bytes())))
        }
        AnyValue::ListAny(items) => {
            let masked: Vec<Option<AnyValue>> = items
                .iter()
                .map(|v| masked_any(redactor, v, secret))
                .collect();
            if masked.iter().all(Option::is_none) {
                return None;
            }
            let list = items
                .iter()
                .zip(masked)
                .map(|(v, m)| m.unwrap_or_else(|| v.clone()))
                .collect();
            Some(AnyValue::ListAny(Box::new(list)))
        }
        AnyValue::Map(map) => {
            let mut changed = false;
            let out: HashMap<Key, AnyValue> = map
                .iter()
                .map(|(k, v)| {
                    let m = masked_any(redactor, v, secret || secret_key(k));
                    changed |= m.is_some();
                    (k.clone(), m.unwrap_or_else(|| v.clone()))
                })
                .collect();
            changed.then(|| AnyValue::Map(Box::new(out)))
        }
        _ => None,
    }
}

/// An empty record to copy a masked one into: `SdkLogRecord` has no public
/// constructor, and its attributes cannot be replaced in place.
fn blank_record() -> SdkLogRecord {
    blank_logger().create_log_record()
}

/// A logger of a provider without processors: it only makes records.
fn blank_logger() -> &'static SdkLogger {
    static LOGGER: OnceLock<SdkLogger> = OnceLock::new();
    LOGGER.get_or_init(|| {
        SdkLoggerProvider::builder()
            .build()
            .logger("secret-chain-masking")
    })
}

/// A masked copy of `record`, or `None` when nothing in it is masked.
fn mask_log_record(redactor: &Redactor, record: &SdkLogRecord) -> Option<SdkLogRecord> {
    let body = record.body().and_then(|b| masked_any(redactor, b, false));
    let attributes: Vec<Option<AnyValue>> = record
        .attributes_iter()
        .map(|(k, v)| masked_any(redactor, v, secret_key(k)))
        .collect();
    let target = record.target().and_then(|t| redacted(redactor, t));
    let event_name = record
        .event_name()
        .and_then(|n| redacted(redactor, n))
        .map(intern);
    if body.is_none()
        && target.is_none()
        && event_name.is_none()
        && attributes.iter().all(Option::is_none)
    {
        return None;
    }
    let mut out = blank_record();
    if let Some(n) = event_name.or(record.event_name()) {
        out.set_event_name(n);
    }
    match target {
        Some(t) => out.set_target(t),
        None => {
            if let Some(t) = record.target() {
                out.set_target(t.clone());
            }
        }
    }
    if let Some(t) = record.timestamp() {
        out.set_timestamp(t);
    }
    if let Some(t) = record.observed_timestamp() {
        out.set_observed_timestamp(t);
    }
    if let Some(c) = record.trace_context() {
        out.set_trace_context(c.trace_id, c.span_id, c.trace_flags);
    }
    if let Some(s) = record.severity_text() {
        out.set_severity_text(s);
    }
    if let Some(s) = record.severity_number() {
        out.set_severity_number(s);
    }
    if let Some(b) = body.or_else(|| record.body().cloned()) {
        out.set_body(b);
    }
    for ((k, v), m) in record.attributes_iter().zip(attributes) {
        out.add_attribute(k.clone(), m.unwrap_or_else(|| v.clone()));
    }
    Some(out)
}

/// A `'static` copy of a masked event name (log records hold event names
/// as `&'static str`): each distinct masked name is kept once, at most
/// 1,024 of them; beyond that the name becomes the default mask.
fn intern(name: String) -> &'static str {
    static NAMES: OnceLock<Mutex<HashMap<String, &'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(n) = names.get(&name) {
        return n;
    }
    if names.len() >= 1024 {
        return crate::masking::DEFAULT_MASK;
    }
    let leaked: &'static str = Box::leak(name.clone().into_boxed_str());
    names.insert(name, leaked);
    leaked
}

/// A masked copy of `resource`, or `None` when nothing in it is masked.
fn mask_resource(redactor: &Redactor, resource: &Resource) -> Option<Resource> {
    let mut changed = false;
    let attrs: Vec<KeyValue> = resource
        .iter()
        .map(|(k, v)| {
            let mut value = v.clone();
            mask_value(redactor, &mut value, secret_key(k));
            changed |= value != *v;
            KeyValue::new(k.clone(), value)
        })
        .collect();
    if !changed {
        return None;
    }
    let builder = Resource::builder_empty();
    Some(
        match resource.schema_url() {
            Some(url) => builder.with_schema_url(attrs, url.to_owned()),
            None => builder.with_attributes(attrs),
        }
        .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use crate::masking::KnownSecrets;

    const TOKEN: &str = "ghp_b5h9M344OTFAQdfeb4g0MRcoIztgBqkFLglB";

    fn redactor() -> (Arc<KnownSecrets>, Redactor) {
        let known = Arc::new(KnownSecrets::new());
        known.register("otel-known-Value-42");
        (known.clone(), Redactor::new(known))
    }

    #[test]
    fn attribute_values_are_masked_and_ordinary_ones_kept() {
        let (_k, r) = redactor();
        let mut kvs = vec![
            KeyValue::new("note", "login with otel-known-Value-42"),
            KeyValue::new("password", "hunter22xyz"),
            KeyValue::new("db.token", 12345678_i64),
            KeyValue::new("token", ""),
            KeyValue::new("path", "/api/v1/orders"),
            KeyValue::new("status", 200_i64),
            KeyValue::new("ok", true),
            KeyValue::new(
                "list",
                Value::Array(Array::String(vec![
                    StringValue::from(TOKEN),
                    StringValue::from("plain"),
                ])),
            ),
        ];
        mask_key_values(&r, &mut kvs);
        let get = |k: &str| {
            kvs.iter()
                .find(|kv| kv.key.as_str() == k)
                .unwrap()
                .value
                .clone()
        };
        assert_eq!(get("note"), Value::from("login with ****"));
        assert_eq!(get("password"), Value::from("****"));
        assert_eq!(get("db.token"), Value::from("****"));
        assert_eq!(get("token"), Value::from(""));
        assert_eq!(get("path"), Value::from("/api/v1/orders"));
        assert_eq!(get("status"), Value::I64(200));
        assert_eq!(get("ok"), Value::Bool(true));
        assert_eq!(
            get("list"),
            Value::Array(Array::String(vec![
                StringValue::from("****"),
                StringValue::from("plain")
            ]))
        );
    }

    #[test]
    fn log_bodies_are_masked_at_any_depth() {
        let (_k, r) = redactor();
        let mut map = HashMap::new();
        map.insert(Key::from("api_key"), AnyValue::from("k-1234567"));
        map.insert(Key::from("msg"), AnyValue::from(format!("t={TOKEN}")));
        map.insert(Key::from("n"), AnyValue::Int(3));
        let body = AnyValue::ListAny(Box::new(vec![
            AnyValue::Map(Box::new(map)),
            AnyValue::Bytes(Box::new(b"otel-known-Value-42".to_vec())),
            AnyValue::Boolean(false),
        ]));
        let Some(AnyValue::ListAny(items)) = masked_any(&r, &body, false) else {
            panic!("masked");
        };
        let AnyValue::Map(m) = &items[0] else {
            panic!("a map")
        };
        assert_eq!(m[&Key::from("api_key")], AnyValue::from("****"));
        assert_eq!(m[&Key::from("msg")], AnyValue::from("t=****"));
        assert_eq!(m[&Key::from("n")], AnyValue::Int(3));
        assert_eq!(items[1], AnyValue::Bytes(Box::new(b"****".to_vec())));
        assert_eq!(items[2], AnyValue::Boolean(false));
        assert!(masked_any(&r, &AnyValue::from("all clear"), false).is_none());
    }

    #[test]
    fn a_resource_is_masked_only_when_it_must_be() {
        let (_k, r) = redactor();
        let plain = Resource::builder_empty()
            .with_attributes([KeyValue::new("service.name", "orders")])
            .build();
        assert!(mask_resource(&r, &plain).is_none());
        let secret = Resource::builder_empty()
            .with_attributes([
                KeyValue::new("service.name", "orders"),
                KeyValue::new("deploy.note", "otel-known-Value-42"),
            ])
            .build();
        let masked = mask_resource(&r, &secret).unwrap();
        assert_eq!(
            masked.get(&Key::from("deploy.note")),
            Some(Value::from("****"))
        );
        assert_eq!(
            masked.get(&Key::from("service.name")),
            Some(Value::from("orders"))
        );
    }

    #[test]
    fn masked_event_names_are_interned_once() {
        let a = intern("event ****".to_owned());
        let b = intern("event ****".to_owned());
        assert!(std::ptr::eq(a, b));
    }
}
