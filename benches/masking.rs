//! Masking benchmarks (criterion; `cargo bench --bench masking`).
//!
//! - `layer/text`, `layer/json`: the same event through the plain
//!   tracing-subscriber `fmt` layer and through the masking layer, both
//!   writing to `io::sink()`, with 1,000 registered values and all built-in
//!   patterns. Target: masking keeps >= 0.75x the plain layer's events/s.
//!   Before the criterion runs, both are also timed interleaved and the
//!   median ratio is printed (`layer/text: masking/plain ...`), which holds
//!   up better than two separate runs on a shared machine.
//! - `redactor/clean`: the `Redactor` over clean log text (nothing to
//!   mask), in one call and line by line. Target: >= 300 MB/s on one core.
//! - `rules/<id>`: each built-in rule on its own over the same text with a
//!   few credentials mixed in, to spot a rule that costs far more than the
//!   others.
//! - `adversarial/<case>`: `Redactor::redact` (1,000 registered values and
//!   the built-in rules) on one 1 MiB line of many findings or keyword hits:
//!   `password=<value> ` repeated, `ghp_` tokens, PEM headers without an
//!   END line (bare, and each with a `\n`-escaped body), `sk-` repeated
//!   (the same shapes as `adversarial/*` in `cli/benches/scan.rs`). Target:
//!   >= 50 MB/s each.

use std::hint::black_box;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use secret_chain::detect::{Finding, RuleSet};
use secret_chain::masking::{KnownSecrets, MaskingLayer, Redactor};
use tracing_subscriber::layer::SubscriberExt;

/// A small deterministic generator (xorshift), so every run sees the same text.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
    fn alnum(&mut self, n: usize) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..n)
            .map(|_| A[(self.next() % A.len() as u64) as usize] as char)
            .collect()
    }
    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from_digit((self.next() % 16) as u32, 16).unwrap())
            .collect()
    }
}

/// Realistic log lines with nothing to mask (ids, hashes, paths, words like
/// `session` and `token_count` that look like keywords but are not secrets).
fn clean_log(bytes: usize) -> String {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let mut out = String::with_capacity(bytes + 256);
    let mut n = 0u64;
    while out.len() < bytes {
        n += 1;
        let ts = format!(
            "2025-03-11T20:{:02}:{:02}.{:03}Z",
            (n / 60) % 60,
            n % 60,
            n % 1000
        );
        let line = match r.next() % 8 {
            0 => format!(
                "{ts} INFO  http.server: handled request method={} path=/api/v1/orders/{} status=200 latency_ms={} request_id={}-{}-{}-{}-{}",
                r.pick(&["GET", "POST", "PUT"]),
                r.next() % 100000,
                r.next() % 900,
                r.hex(8),
                r.hex(4),
                r.hex(4),
                r.hex(4),
                r.hex(12)
            ),
            1 => format!(
                "{ts} DEBUG db.pool: acquired connection pool=orders idle={} active={} wait_us={}",
                r.next() % 8,
                r.next() % 32,
                r.next() % 500
            ),
            2 => format!(
                "{ts} WARN  cache: miss key=sha256:{} size={} ttl=300s",
                r.hex(64),
                r.next() % 50000
            ),
            3 => format!(
                "{ts} INFO  worker: job completed job_id=task-{} duration=1.{}s retries=0 queue=default",
                r.next() % 99999,
                r.next() % 10
            ),
            4 => format!(
                r#"{{"ts":"{ts}","level":"info","msg":"request finished","status":200,"path":"/healthz","trace_id":"{}","span_id":"{}"}}"#,
                r.hex(32),
                r.hex(16)
            ),
            5 => format!(
                "{ts} INFO  llm.client: completion done model=gpt-4o token_count={} max_tokens=4096 finish_reason=stop",
                r.next() % 4000
            ),
            6 => format!(
                "{ts} INFO  auth: session started for user {} from 10.{}.{}.{} via https://app.example.com/login",
                r.pick(&["alice", "bob", "carol"]),
                r.next() % 255,
                r.next() % 255,
                r.next() % 255
            ),
            _ => format!(
                "{ts} DEBUG deploy: deployed commit={} to prod after {} checks passed",
                r.hex(40),
                r.next() % 20
            ),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn known_1000() -> Arc<KnownSecrets> {
    let mut r = Rng(42);
    let known = Arc::new(KnownSecrets::new());
    let values: Vec<String> = (0..1000).map(|_| r.alnum(24)).collect();
    known.register_many(values.iter().map(|s| s.as_str()));
    known.prune(); // one merged matcher, as after the background merge
    known
}

/// The bench event, inside a request span.
fn log_event() {
    tracing::info!(
        user = "alice",
        request_id = "0754de3f-5e66-461e-9c83-f14f2bc2fc7a",
        status = 200,
        latency_ms = 12,
        "handled request in {} ms with {} rows",
        black_box(12),
        black_box(48)
    );
}

/// On a shared, noisy machine the two criterion runs see different load:
/// this also times plain and masking interleaved (short alternating
/// rounds) and prints the median of the per-round ratios.
fn interleaved_ratio(json: bool, known: &Arc<KnownSecrets>) {
    use tracing::Dispatch;
    let plain = if json {
        Dispatch::new(
            tracing_subscriber::registry().with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(io::sink),
            ),
        )
    } else {
        Dispatch::new(
            tracing_subscriber::registry().with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(io::sink),
            ),
        )
    };
    let layer = MaskingLayer::builder()
        .known(known.clone())
        .json(json)
        .writer(io::sink)
        .build()
        .unwrap();
    let masking = Dispatch::new(tracing_subscriber::registry().with(layer));
    let time = |d: &Dispatch, n: u32| {
        tracing::dispatcher::with_default(d, || {
            let span =
                tracing::info_span!("request", method = "GET", path = "/api/v1/orders/48213");
            let _g = span.enter();
            let t = std::time::Instant::now();
            for _ in 0..n {
                log_event();
            }
            t.elapsed().as_secs_f64() / f64::from(n)
        })
    };
    time(&plain, 20_000);
    time(&masking, 20_000);
    let mut ratios: Vec<f64> = (0..31)
        .map(|i| {
            // Alternate the order, so neither side always runs first.
            let (p, m) = if i % 2 == 0 {
                (time(&plain, 5_000), time(&masking, 5_000))
            } else {
                let m = time(&masking, 5_000);
                (time(&plain, 5_000), m)
            };
            p / m
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    eprintln!(
        "layer/{}: masking/plain events per second, interleaved: median {:.2}x (quartiles {:.2}x..{:.2}x)",
        if json { "json" } else { "text" },
        ratios[15],
        ratios[7],
        ratios[23]
    );
}

fn layer_benches(c: &mut Criterion) {
    let known = known_1000();
    for json in [false, true] {
        interleaved_ratio(json, &known);
    }
    let mut g = c.benchmark_group("layer");
    g.throughput(Throughput::Elements(1));
    for json in [false, true] {
        let fmt = if json { "json" } else { "text" };
        let plain: Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync> =
            if json {
                Box::new(
                    tracing_subscriber::fmt::layer()
                        .json()
                        .with_writer(io::sink),
                )
            } else {
                Box::new(
                    tracing_subscriber::fmt::layer()
                        .with_ansi(false)
                        .with_writer(io::sink),
                )
            };
        let masking = MaskingLayer::builder()
            .known(known.clone())
            .json(json)
            .writer(io::sink)
            .build()
            .unwrap();
        for (name, layer) in [("plain", plain), ("masking", masking)] {
            let subscriber = tracing_subscriber::registry().with(layer);
            tracing::subscriber::with_default(subscriber, || {
                let span =
                    tracing::info_span!("request", method = "GET", path = "/api/v1/orders/48213");
                let _g = span.enter();
                g.bench_function(BenchmarkId::new(fmt, name), |b| b.iter(log_event));
            });
        }
    }
    g.finish();
}

fn redactor_benches(c: &mut Criterion) {
    let known = known_1000();
    let redactor = Redactor::builder().known(known).build().unwrap();
    let text = clean_log(1 << 20);
    assert!(
        matches!(redactor.redact(&text), std::borrow::Cow::Borrowed(_)),
        "the clean text has something to mask"
    );
    let mut g = c.benchmark_group("redactor");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("clean/whole", |b| {
        b.iter(|| black_box(redactor.redact(black_box(&text))).len())
    });
    g.bench_function("clean/lines", |b| {
        b.iter(|| {
            let mut n = 0;
            for line in text.lines() {
                n += redactor.redact(black_box(line)).len();
            }
            n
        })
    });
    let rules_only = Redactor::builder().build().unwrap();
    g.bench_function("clean/rules_only", |b| {
        b.iter(|| black_box(rules_only.redact(black_box(&text))).len())
    });
    let known_only = Redactor::builder()
        .known(known_1000())
        .without_rules()
        .build()
        .unwrap();
    g.bench_function("clean/known_only", |b| {
        b.iter(|| black_box(known_only.redact(black_box(&text))).len())
    });
    g.finish();
}

fn rule_benches(c: &mut Criterion) {
    let mut text = clean_log(256 << 10);
    // A few credentials, so that each rule also does its real work.
    text.push_str(
        "k=ghp_b5h9M344OTFAQdfeb4g0MRcoIztgBqkFLglB password=hunter22 AKIAPVUD4ALW7MJJD7E6\n",
    );
    text.push_str("Authorization: Bearer 6t4wBvxSJ86gRaRpd0MgNL7xXpJ70p-Ej7WvTDN5 postgres://u:p4ssw0rd@db/x\n");
    let all = RuleSet::builtin();
    let mut g = c.benchmark_group("rules");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("all", |b| {
        let mut out: Vec<Finding> = Vec::new();
        b.iter(|| {
            out.clear();
            all.find(black_box(&text), &mut out);
            out.len()
        })
    });
    for id in all.rule_ids() {
        let one = all.subset(&[id]);
        g.bench_function(id, |b| {
            let mut out: Vec<Finding> = Vec::new();
            b.iter(|| {
                out.clear();
                one.find(black_box(&text), &mut out);
                out.len()
            })
        });
    }
    g.finish();
}

/// One line of about 1 MiB made of `unit()` repeated.
fn one_line(mut unit: impl FnMut() -> String) -> String {
    let mut out = String::with_capacity((1 << 20) + 256);
    while out.len() < 1 << 20 {
        out.push_str(&unit());
    }
    out
}

fn adversarial_benches(c: &mut Criterion) {
    let redactor = Redactor::builder().known(known_1000()).build().unwrap();
    let mut r = Rng(13);
    let lines = [
        (
            "password",
            one_line(|| format!("password={} ", r.alnum(12))),
        ),
        ("ghp", one_line(|| format!("ghp_{} ", r.alnum(36)))),
        (
            "pem_headers",
            one_line(|| "-----BEGIN RSA PRIVATE KEY-----".to_string()),
        ),
        (
            "pem_bodies",
            one_line(|| format!("-----BEGIN RSA PRIVATE KEY-----\\n{}\\n ", r.alnum(64))),
        ),
        ("sk", one_line(|| "sk-".to_string())),
    ];
    let mut g = c.benchmark_group("adversarial");
    g.sample_size(10);
    for (name, line) in &lines {
        g.throughput(Throughput::Bytes(line.len() as u64));
        g.bench_function(*name, |b| {
            b.iter(|| black_box(redactor.redact(black_box(line))).len())
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = layer_benches, redactor_benches, rule_benches, adversarial_benches
}
criterion_main!(benches);
