//! OpenTelemetry masking benchmarks (criterion; `cargo bench --bench otel
//! --features otel`).
//!
//! - `span_export/bare`, `span_export/masking`: one batch of 512 spans
//!   exported through a bare exporter (it drops the batch) and through
//!   [`MaskingSpanExporter`] over the same exporter, with 1,000 registered
//!   values and the built-in rules. Each span has a name and 10 string
//!   attributes of 32 bytes, one of them a registered value (so every span
//!   has something to mask). Reported per span (`Throughput::Elements`).
//!   Target: the masking exporter adds under 2 µs per span.
//! - `span_export/masking_clean`: the same spans with nothing to mask.
//! - The masking `fmt` layer's ratio to the plain one (span names and
//!   targets scanned) is `cargo bench --bench masking -- layer`.

use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData, SpanExporter};
use secret_chain::masking::otel::MaskingSpanExporter;
use secret_chain::masking::{KnownSecrets, Redactor};

/// A small deterministic generator (xorshift), so every run sees the same values.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn alnum(&mut self, n: usize) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..n)
            .map(|_| A[(self.next() % A.len() as u64) as usize] as char)
            .collect()
    }
}

/// 1,000 registered values of 32 characters, merged into one matcher.
fn known_1000() -> (Arc<KnownSecrets>, Vec<String>) {
    let mut r = Rng(42);
    let known = Arc::new(KnownSecrets::new());
    let values: Vec<String> = (0..1000).map(|_| r.alnum(32)).collect();
    known.register_many(values.iter().map(|s| s.as_str()));
    known.prune();
    (known, values)
}

/// The exporter a masking one is compared with: it drops the batch.
#[derive(Debug)]
struct Bare;

impl SpanExporter for Bare {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        drop(black_box(batch));
        std::future::ready(Ok(()))
    }
}

/// Polls a future that is ready at once (both exporters' are).
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the export future is not ready at once"),
    }
}

/// One span as the SDK exports it: a name and 10 string attributes of 32
/// bytes, the fifth being `known` when given.
fn span(known: Option<&str>) -> SpanData {
    let memory = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(memory.clone())
        .build();
    let values = [
        "/api/v1/orders/48213?page=2&x=yz",
        "0754de3f5e66461e9c83f14f2bc2fc7a",
        "alice.example@corp.example.com!",
        "GET https://app.example.com/ok/1",
        "placeholder-for-the-known-value",
        "Mozilla/5.0 (X11; Linux x86_64)",
        "orders-service-7f9c8d6b5-x2k4pq",
        "eu-west-1a/i-0a1b2c3d4e5f67890",
        "completed after 3 retries in 12s",
        "sha256:9f86d081884c7d659a2feaa0c",
    ];
    let attrs: Vec<KeyValue> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let mut v = if i == 4 { known.unwrap_or(v) } else { v }.to_string();
            v.truncate(32);
            while v.len() < 32 {
                v.push('.');
            }
            KeyValue::new(format!("attr.{i}"), v)
        })
        .collect();
    let mut s = provider.tracer("bench").start("GET /api/v1/orders");
    s.set_attributes(attrs);
    s.end();
    provider.force_flush().unwrap();
    memory.get_finished_spans().unwrap().remove(0)
}

const BATCH: usize = 512;

fn span_benches(c: &mut Criterion) {
    let (known, values) = known_1000();
    let redactor = Redactor::builder().known(known).build().unwrap();
    let dirty = span(Some(&values[500]));
    let clean = span(None);
    // The masking exporter does mask the known value, and nothing else.
    let check = MaskingSpanExporter::new(InMemorySpanExporter::default(), redactor.clone());
    ready(check.export(vec![dirty.clone(), clean.clone()])).unwrap();
    let out = check.inner().get_finished_spans().unwrap();
    assert_eq!(out[0].attributes[4].value.as_str(), "****");
    assert_eq!(out[1], clean, "a clean span is exported unchanged");

    let bare = Bare;
    let masking = MaskingSpanExporter::new(Bare, redactor);
    let mut g = c.benchmark_group("span_export");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("bare", |b| {
        b.iter_batched(
            || vec![dirty.clone(); BATCH],
            |v| ready(bare.export(v)),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("masking", |b| {
        b.iter_batched(
            || vec![dirty.clone(); BATCH],
            |v| ready(masking.export(v)),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("masking_clean", |b| {
        b.iter_batched(
            || vec![clean.clone(); BATCH],
            |v| ready(masking.export(v)),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = span_benches
}
criterion_main!(benches);
