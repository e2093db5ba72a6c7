//! Throughput of the log scanner (`secret-chain scan`) and the redact filter.
//!
//! Input: generated, realistic log text (application lines, JSON lines,
//! access-log lines, many words that are rule keywords such as `token`,
//! `session`, `auth`, `task-` and `sk`) with about one line in 1,000 holding
//! a credential. Run with `cargo bench --bench scan`.
//!
//! - `scan/one_thread`: [`Scanner::scan_reader`] over 32 MiB in memory.
//! - `scan/io_layer_only`: the same with an empty rule set: the cost of the
//!   streaming and line bookkeeping alone.
//! - `scan/engine_find_256k`: `RuleSet::find` over 256 KiB blocks, the rule
//!   engine alone.
//! - `scan/files`: 8 files of 8 MiB (page cache) with 1 and 2 threads.
//! - `redact/one_thread`: [`redact_stream`] into a sink.
//! - `rules/<id>`: `RuleSet::find` over 8 MiB with one rule alone
//!   (`RuleSet::subset`), to see what each rule's keywords and checks cost.
//! - `hits/<kind>`: the engine on 8 MiB of lines that each hit one
//!   keyword (`amazonaws.com` URLs, `token`, `session`, `password`), the
//!   per-hit cost.
//! - `adversarial/scan/<case>`, `adversarial/redact/<case>`: the scanner and
//!   [`redact_stream`] on one 1 MiB line of many findings or many keyword
//!   hits: `password=<value> ` repeated, `ghp_` tokens, PEM headers without
//!   an END line (bare, and each with a `\n`-escaped body), `sk-` repeated.
//!   Such a line once cost time quadratic in its findings (scan) or a
//!   64 KiB window per PEM header; target >= 50 MB/s each.

use std::io::Write;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use secret_chain::detect::RuleSet;
use secret_chain_cli::scanner::{Input, Scanner, redact_stream};

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const HEX: &[u8] = b"0123456789abcdef";

fn pick(rng: &mut StdRng, set: &[u8], n: usize) -> String {
    (0..n)
        .map(|_| set[rng.random_range(0..set.len())] as char)
        .collect()
}

fn uuid(rng: &mut StdRng) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        pick(rng, HEX, 8),
        pick(rng, HEX, 4),
        pick(rng, HEX, 4),
        pick(rng, HEX, 4),
        pick(rng, HEX, 12)
    )
}

/// One log line (with its `\n`); `secret` lines hold a fake credential.
fn line(rng: &mut StdRng, n: u64, secret: bool) -> String {
    let ts = format!(
        "2025-03-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        1 + n % 28,
        n / 3600 % 24,
        n / 60 % 60,
        n % 60,
        n % 1000
    );
    if secret {
        return match rng.random_range(0..6) {
            0 => format!(
                "{ts} ERROR stripe: auth failed api_key=sk_live_{} retry=1\n", // secret-chain:allow
                pick(rng, ALNUM, 24)
            ),
            1 => format!(
                "{ts} INFO  git: clone with token ghp_{} done\n",
                pick(rng, ALNUM, 36)
            ),
            2 => format!(
                "{ts} DEBUG aws: creds AWS_ACCESS_KEY_ID=AKIA{}\n",
                pick(rng, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
            ),
            3 => format!(
                "{ts} DEBUG > Authorization: Bearer {}\n", // secret-chain:allow
                pick(rng, ALNUM, 40)
            ),
            4 => format!(
                "{ts} INFO  db: connecting to postgres://app:{}@db1:5432/orders\n", // secret-chain:allow
                pick(rng, ALNUM, 18)
            ),
            _ => format!(
                "{{\"ts\":\"{ts}\",\"level\":\"debug\",\"msg\":\"env\",\"OPENAI_API_KEY\":\"sk-proj-{}\"}}\n", // secret-chain:allow
                pick(rng, ALNUM, 64)
            ),
        };
    }
    match rng.random_range(0..10) {
        0 => format!(
            "{ts} INFO  http.server: GET /api/v1/orders/{} 200 {}ms request_id={} user_id={}\n",
            rng.random_range(1..99999),
            rng.random_range(1..900),
            uuid(rng),
            rng.random_range(1..99999)
        ),
        1 => format!(
            "{ts} DEBUG db.pool: acquired connection conn_id={} wait={}ms pool=orders-primary\n",
            rng.random_range(1..500),
            rng.random_range(0..50)
        ),
        2 => format!(
            "{{\"ts\":\"{ts}\",\"level\":\"info\",\"msg\":\"job finished\",\"job\":\"invoice-{}\",\"duration_ms\":{},\"trace_id\":\"{}\"}}\n",
            rng.random_range(1..99999),
            rng.random_range(1..5000),
            pick(rng, HEX, 32)
        ),
        3 => format!(
            "10.{}.{}.{} - - [12/Mar/2025:10:15:32 +0000] \"GET /static/app.{}.js HTTP/1.1\" 200 {} \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\"\n",
            rng.random_range(0..255),
            rng.random_range(0..255),
            rng.random_range(0..255),
            pick(rng, HEX, 8),
            rng.random_range(100..90000)
        ),
        4 => format!(
            "{ts} WARN  auth.session: session refreshed session_id={} expires_in=3600s\n",
            uuid(rng)
        ),
        5 => format!(
            "{ts} INFO  worker: task-runner-{} processed {} messages from disk queue orders.created\n",
            pick(rng, HEX, 6),
            rng.random_range(1..1000)
        ),
        6 => format!(
            "{ts} DEBUG cache: hit key=sha256:{} size={}\n",
            pick(rng, HEX, 64),
            rng.random_range(1..99999)
        ),
        7 => format!(
            "{ts} INFO  llm.client: usage prompt_tokens={} completion_tokens={} model=gpt-4o token_budget=ok\n",
            rng.random_range(1..4000),
            rng.random_range(1..4000)
        ),
        8 => format!(
            "{ts} ERROR payments: charge failed code=card_declined charge_id=ch_{} amount={}\n",
            pick(rng, ALNUM, 24),
            rng.random_range(100..99999)
        ),
        _ => format!(
            "{ts} INFO  deploy: commit={} branch=main author=dev{}@example.org password_reset=false\n",
            pick(rng, HEX, 40),
            rng.random_range(1..99)
        ),
    }
}

/// About `bytes` of log text, one line in 1,000 holding a credential.
fn log_text(bytes: usize, seed: u64) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(bytes + 512);
    let mut n = 0u64;
    while out.len() < bytes {
        n += 1;
        out.extend_from_slice(line(&mut rng, n, n % 1000 == 500).as_bytes());
    }
    out
}

fn count_findings(scanner: &Scanner, data: &[u8]) -> u64 {
    scanner
        .scan_reader("bench.log", data, &mut |_| {})
        .expect("in-memory read")
        .findings
}

fn bench_scan(c: &mut Criterion) {
    let data = log_text(32 << 20, 1);
    let builtin = Scanner::new(RuleSet::builtin());
    let found = count_findings(&builtin, &data);
    let lines = data.iter().filter(|&&b| b == b'\n').count() as u64;
    assert!(
        found >= lines / 1000,
        "generated credentials are found ({found} in {lines} lines)"
    );

    let mut g = c.benchmark_group("scan");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("one_thread", |b| b.iter(|| count_findings(&builtin, &data)));
    let empty = Scanner::new(RuleSet::empty());
    g.bench_function("io_layer_only", |b| {
        b.iter(|| count_findings(&empty, &data))
    });
    let rules = RuleSet::builtin();
    g.bench_function("engine_find_256k", |b| {
        let mut out = Vec::new();
        b.iter(|| {
            let mut n = 0;
            for chunk in data.chunks(256 * 1024) {
                // Chunks cut lines; the engine does not care for a benchmark.
                let text = match std::str::from_utf8(chunk) {
                    Ok(t) => t,
                    Err(e) => std::str::from_utf8(&chunk[..e.valid_up_to()]).unwrap(),
                };
                out.clear();
                rules.find(text, &mut out);
                n += out.len();
            }
            n
        })
    });
    g.finish();

    let dir = tempfile::tempdir().expect("temp dir");
    let mut inputs = Vec::new();
    let mut total = 0u64;
    for i in 0..8 {
        let path = dir.path().join(format!("app-{i}.log"));
        let text = log_text(8 << 20, 100 + i);
        total += text.len() as u64;
        std::fs::File::create(&path)
            .and_then(|mut f| f.write_all(&text))
            .expect("write log");
        inputs.push(Input::Path(path));
    }
    let mut g = c.benchmark_group("scan/files");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(total));
    for threads in [1usize, 2] {
        let scanner = Scanner::new(RuleSet::builtin()).threads(threads);
        g.bench_with_input(BenchmarkId::new("threads", threads), &threads, |b, _| {
            b.iter(|| scanner.scan_inputs(&inputs, |_| {}).findings)
        });
    }
    g.finish();

    let mut g = c.benchmark_group("redact");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("one_thread", |b| {
        b.iter(|| {
            redact_stream(&rules, &data[..], std::io::sink(), "****")
                .expect("sink")
                .masked
        })
    });
    g.finish();
}

fn find_all(rules: &RuleSet, text: &str) -> usize {
    let mut out = Vec::new();
    let mut n = 0;
    for chunk in text.as_bytes().chunks(256 * 1024) {
        let t = match std::str::from_utf8(chunk) {
            Ok(t) => t,
            Err(e) => std::str::from_utf8(&chunk[..e.valid_up_to()]).unwrap(),
        };
        out.clear();
        rules.find(t, &mut out);
        n += out.len();
    }
    n
}

fn bench_rules(c: &mut Criterion) {
    let data = String::from_utf8(log_text(8 << 20, 7)).expect("generated text is UTF-8");
    let builtin = RuleSet::builtin();
    let mut g = c.benchmark_group("rules");
    g.sample_size(10);
    g.warm_up_time(std::time::Duration::from_millis(500));
    g.measurement_time(std::time::Duration::from_secs(2));
    g.throughput(Throughput::Bytes(data.len() as u64));
    for id in builtin.rule_ids() {
        let one = builtin.subset(&[id]);
        g.bench_function(id, |b| b.iter(|| find_all(&one, &data)));
    }
    g.finish();

    let mut g = c.benchmark_group("hits");
    g.sample_size(10);
    g.warm_up_time(std::time::Duration::from_millis(500));
    g.measurement_time(std::time::Duration::from_secs(2));
    let kinds = [
        (
            "amazonaws",
            "2025-03-01T00:00:00.000Z INFO s3: GET https://bucket.s3.us-east-1.amazonaws.com/k/{n} 200\n",
        ),
        (
            "token",
            "2025-03-01T00:00:00.000Z INFO llm: prompt_tokens={n} completion_tokens=12 token_budget=ok\n",
        ),
        (
            "session",
            "2025-03-01T00:00:00.000Z WARN auth.session: session refreshed session_id={n} ok\n",
        ),
        (
            "password",
            "2025-03-01T00:00:00.000Z INFO deploy: password_reset=false require_password={n}\n",
        ),
        (
            "clean",
            "2025-03-01T00:00:00.000Z INFO http.server: GET /v1/orders/{n} 200 12ms pool=primary\n",
        ),
    ];
    for (kind, shape) in kinds {
        let mut text = String::new();
        let mut n = 0u64;
        while text.len() < 8 << 20 {
            n += 1;
            text.push_str(&shape.replace("{n}", &n.to_string()));
        }
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function(kind, |b| b.iter(|| find_all(&builtin, &text)));
    }
    g.finish();
}

/// One line of about 1 MiB (and its `\n`) made of `unit(i)` for i = 0, 1, ...
fn one_line(mut unit: impl FnMut(usize) -> String) -> Vec<u8> {
    let mut out = String::with_capacity((1 << 20) + 256);
    let mut i = 0;
    while out.len() < 1 << 20 {
        out.push_str(&unit(i));
        i += 1;
    }
    out.push('\n');
    out.into_bytes()
}

/// The adversarial lines, by name (the same in `benches/masking.rs`).
fn adversarial_lines() -> Vec<(&'static str, Vec<u8>)> {
    let mut rng = StdRng::seed_from_u64(13);
    let b64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    vec![
        (
            "password",
            one_line(|_| format!("password={} ", pick(&mut rng, ALNUM, 12))),
        ),
        (
            "ghp",
            one_line(|_| format!("ghp_{} ", pick(&mut rng, ALNUM, 36))),
        ),
        (
            "pem_headers",
            one_line(|_| "-----BEGIN RSA PRIVATE KEY-----".to_string()),
        ),
        (
            "pem_bodies",
            one_line(|_| {
                format!(
                    "-----BEGIN RSA PRIVATE KEY-----\\n{}\\n ",
                    pick(&mut rng, b64, 64)
                )
            }),
        ),
        ("sk", one_line(|_| "sk-".to_string())),
    ]
}

fn bench_adversarial(c: &mut Criterion) {
    let scanner = Scanner::new(RuleSet::builtin());
    let rules = RuleSet::builtin();
    let mut g = c.benchmark_group("adversarial");
    g.sample_size(10);
    g.warm_up_time(std::time::Duration::from_millis(500));
    g.measurement_time(std::time::Duration::from_secs(2));
    for (name, line) in adversarial_lines() {
        g.throughput(Throughput::Bytes(line.len() as u64));
        g.bench_function(format!("scan/{name}"), |b| {
            b.iter(|| count_findings(&scanner, &line))
        });
        g.bench_function(format!("redact/{name}"), |b| {
            b.iter(|| {
                redact_stream(&rules, &line[..], std::io::sink(), "****")
                    .expect("sink")
                    .masked
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_scan, bench_rules, bench_adversarial);
criterion_main!(benches);
