//! What a secret read costs with secret-chain's cache, next to what a user
//! would otherwise pick: AWS's own caching client
//! (`aws_secretsmanager_caching`) in front of the same Secrets Manager.
//!
//! * `cache_hit`: the value is cached. secret-chain's async and blocking
//!   reads against `SecretsManagerCachingClient::get_secret_value`.
//! * `cache_miss`: nothing is cached (secret-chain with TTL 0), so every read
//!   is a `GetSecretValue` round trip to a moto server on loopback; the raw
//!   SDK call is the baseline, so the difference is the chain's own cost.
//!
//! Both clients read the same secret from the same server. The server is
//! the one `SECRET_CHAIN_TEST_AWS_ENDPOINT` names, or else a `moto_server`
//! from the project's `.venv` (created by `scripts/test`) started on a free
//! loopback port for the run.
//!
//! * `hit_path`: the warm read itself, without any server (env provider):
//!   through a `SecretsManager` (with refresh-ahead and hit counting on, and
//!   with both off: the "plain" hit) and through the global
//!   `secret_chain::get_secret`. A hit completes on its first poll, so the
//!   future is polled once with a no-op waker: no executor cost is counted.
//!   `get_secret_field_static` and `get_secret_field_leased`: one `#field`
//!   of a cached JSON secret, static (env) and leased (a dynamic engine's
//!   credential pair with a renewable lease, its upkeep task waiting on a
//!   runtime): a leased hit must cost what a static one does.
//! * `hit_threads`: the same hit on one thread and on two threads at once
//!   (time per read per thread; the throughput ratio is printed).
//! * `cold_reads`: 1,000 concurrent cold reads of one key against a provider
//!   that takes 1 ms: one backend call (asserted), time for all 1,000.
//!
//! Run: `cargo bench --bench cache` (all), or one group:
//! `cargo bench --bench cache -- hit_path`.

mod support;

use std::hint::black_box;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use aws_secretsmanager_caching::SecretsManagerCachingClient;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use criterion::{Criterion, criterion_group, criterion_main};
use secrecy::SecretString;
use secret_chain::providers::{
    BoxFuture, EnvProvider, Lease, Provider, SecretData, SecretMetadata, SecretValue, Version,
};
use secret_chain::{Config, ExposeSecret, SecretsManager};
use tokio::runtime::Runtime;

const SECRET_ID: &str = "bench/stripe/api-key";
const SECRET_VALUE: &str = "sk_live_51HxBenchValue0123456789abcdefABCDEF";
const REGION: &str = "us-east-1";

/// A moto server for the run: the shared one, or a private one killed on drop.
struct Moto {
    endpoint: String,
    _server: support::Server,
}

impl Moto {
    fn get() -> Moto {
        let (endpoint, _server) = support::moto();
        Moto { endpoint, _server }
    }
}

fn sdk_client(endpoint: &str) -> Client {
    let conf = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "bench"))
        .build();
    Client::from_conf(conf)
}

/// A manager configured the way a deployment would configure it.
fn manager(endpoint: &str, ttl_secs: &str) -> SecretsManager {
    let vars = [
        ("SECRETS_PROVIDERS", "aws"),
        ("SECRETS_AWS_ENDPOINT", endpoint),
        ("SECRETS_AWS_REGION", REGION),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("SECRETS_CACHE_TTL", ttl_secs),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    SecretsManager::from_config(&Config::from_vars(vars).expect("bench config"))
        .expect("bench manager")
}

fn benches(c: &mut Criterion) {
    let moto = Moto::get();
    let rt = Runtime::new().expect("tokio runtime");
    let sdk = sdk_client(&moto.endpoint);

    // Seed the secret (it may exist from an earlier run on a shared server).
    rt.block_on(async {
        let created = sdk
            .create_secret()
            .name(SECRET_ID)
            .secret_string(SECRET_VALUE)
            .send()
            .await;
        if created.is_err() {
            sdk.put_secret_value()
                .secret_id(SECRET_ID)
                .secret_string(SECRET_VALUE)
                .send()
                .await
                .expect("seed the bench secret");
        }
    });

    let cached = manager(&moto.endpoint, "3600");
    let caching_client = SecretsManagerCachingClient::new(
        sdk_client(&moto.endpoint),
        NonZeroUsize::new(1000).unwrap(),
        Duration::from_secs(3600),
        false,
    )
    .expect("aws_secretsmanager_caching client");
    rt.block_on(async {
        // Warm both caches, and check that both read the same value.
        let a = cached
            .get_secret(SECRET_ID)
            .await
            .expect("warm secret-chain");
        assert_eq!(a.expose_secret(), SECRET_VALUE);
        let b = caching_client
            .get_secret_value(SECRET_ID, None, None, false)
            .await
            .expect("warm aws_secretsmanager_caching");
        assert_eq!(b.secret_string.as_deref(), Some(SECRET_VALUE));
    });

    let mut hit = c.benchmark_group("cache_hit");
    hit.bench_function("secret_chain/get_secret", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(cached.get_secret(black_box(SECRET_ID)).await.unwrap()) })
    });
    hit.bench_function("secret_chain/get_secret_blocking", |b| {
        b.iter(|| black_box(cached.get_secret_blocking(black_box(SECRET_ID)).unwrap()))
    });
    hit.bench_function("aws_secretsmanager_caching/get_secret_value", |b| {
        b.to_async(&rt).iter(|| async {
            black_box(
                caching_client
                    .get_secret_value(black_box(SECRET_ID), None, None, false)
                    .await
                    .unwrap(),
            )
        })
    });
    hit.finish();

    let uncached = manager(&moto.endpoint, "0");
    let mut miss = c.benchmark_group("cache_miss");
    miss.sample_size(50)
        .measurement_time(Duration::from_secs(8));
    miss.bench_function("secret_chain/get_secret_ttl0", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(uncached.get_secret(SECRET_ID).await.unwrap()) })
    });
    miss.bench_function("aws_sdk/get_secret_value", |b| {
        b.to_async(&rt).iter(|| async {
            black_box(
                sdk.get_secret_value()
                    .secret_id(SECRET_ID)
                    .send()
                    .await
                    .unwrap(),
            )
        })
    });
    miss.finish();
    drop(moto);
}

/// Polls a future once: a cache hit is ready on its first poll.
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a cache hit must complete on its first poll"),
    }
}

const HIT_PATH: &str = "database/url";

fn env_manager(plain: bool) -> SecretsManager {
    let m = SecretsManager::builder()
        .provider(EnvProvider::from_vars([(
            "DATABASE_URL",
            "postgres://app:bench-Pa55w0rd@db.internal:5432/app",
        )]))
        .cache_ttl(Duration::from_secs(3600))
        .refresh_ahead(!plain)
        .count_hits(!plain)
        .build()
        .expect("bench manager");
    ready(m.get_secret(HIT_PATH)).expect("warm the cache");
    m
}

/// A dynamic engine's answer: a credential pair with a one-hour renewable
/// lease (as Vault's database engine gives), so that the cache holds it
/// as a leased value and its upkeep task waits on the runtime.
#[derive(Debug)]
struct Leased;

impl Provider for Leased {
    fn name(&self) -> &str {
        "vault-dynamic"
    }
    fn fetch<'a>(
        &'a self,
        _n: &'a str,
        _v: &'a Version,
    ) -> BoxFuture<'a, Result<SecretValue, secret_chain::Error>> {
        Box::pin(async move {
            let doc = r#"{"username":"v-app-bench","password":"bench-Pa55w0rd-leased"}"#;
            Ok(
                SecretValue::new(SecretData::Document(SecretString::from(doc))).with_metadata(
                    SecretMetadata::new().with_lease(Lease::new(
                        "database/creds/app/bench",
                        Duration::from_secs(3600),
                        true,
                    )),
                ),
            )
        })
    }
    fn list<'a>(&'a self, _p: &'a str) -> BoxFuture<'a, Result<Vec<String>, secret_chain::Error>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

const FIELD_PATH: &str = "database/creds/app#password";

/// The same `#field` hit, of a static JSON secret and of a leased one.
fn field_managers(rt: &tokio::runtime::Runtime) -> (SecretsManager, SecretsManager) {
    fn build(p: impl Provider + 'static) -> SecretsManager {
        SecretsManager::builder()
            .provider(p)
            .cache_ttl(Duration::from_secs(3600))
            .build()
            .expect("bench manager")
    }
    let fixed = build(EnvProvider::from_vars([(
        "DATABASE_CREDS_APP",
        r#"{"username":"v-app-bench","password":"bench-Pa55w0rd-leased"}"#,
    )]));
    let leased = build(Leased);
    rt.block_on(async {
        fixed.get_secret(FIELD_PATH).await.expect("warm");
        leased.get_secret(FIELD_PATH).await.expect("warm");
    });
    assert_eq!(leased.stats().leases_held, 1, "the leased value is held");
    (fixed, leased)
}

fn hit_path(c: &mut Criterion) {
    let full = env_manager(false);
    let plain = env_manager(true);
    // The runtime the lease upkeep waits on, alive for the whole group.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (fixed, leased) = field_managers(&rt);
    secret_chain::init(env_manager(false)).expect("global manager");
    ready(secret_chain::get_secret(HIT_PATH)).expect("warm the global cache");

    let mut g = c.benchmark_group("hit_path");
    g.bench_function("manager/get_secret", |b| {
        b.iter(|| black_box(ready(full.get_secret(black_box(HIT_PATH))).unwrap()))
    });
    g.bench_function("manager/get_secret_plain", |b| {
        b.iter(|| black_box(ready(plain.get_secret(black_box(HIT_PATH))).unwrap()))
    });
    g.bench_function("global/get_secret", |b| {
        b.iter(|| black_box(ready(secret_chain::get_secret(black_box(HIT_PATH))).unwrap()))
    });
    g.bench_function("manager/get_secret_blocking", |b| {
        b.iter(|| black_box(full.get_secret_blocking(black_box(HIT_PATH)).unwrap()))
    });
    g.bench_function("manager/get_secret_field_static", |b| {
        b.iter(|| black_box(ready(fixed.get_secret(black_box(FIELD_PATH))).unwrap()))
    });
    g.bench_function("manager/get_secret_field_leased", |b| {
        b.iter(|| black_box(ready(leased.get_secret(black_box(FIELD_PATH))).unwrap()))
    });
    g.finish();

    // One thread against two threads reading together: each thread does
    // `iters` reads; the reported time is wall time / iters, so equal
    // times mean twice the throughput.
    let mut g = c.benchmark_group("hit_threads");
    // Best (least disturbed) time per read seen for each thread count.
    let mut per_read = [f64::MAX; 2];
    for threads in [1usize, 2] {
        g.bench_function(format!("{threads}_thread"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                std::thread::scope(|s| {
                    for _ in 0..threads {
                        s.spawn(|| {
                            for _ in 0..iters {
                                black_box(ready(full.get_secret(black_box(HIT_PATH))).unwrap());
                            }
                        });
                    }
                });
                let took = start.elapsed();
                let t = took.as_secs_f64() / iters as f64;
                per_read[threads - 1] = per_read[threads - 1].min(t);
                took
            })
        });
    }
    g.finish();
    if per_read[1] < f64::MAX {
        println!(
            "hit_threads: two threads reach {:.2}x the throughput of one (best samples; compare the medians above too)",
            2.0 * per_read[0] / per_read[1]
        );
    }
}

/// A provider that answers after 1 ms and counts its calls.
#[derive(Debug)]
struct Slow(Arc<AtomicUsize>);

impl Provider for Slow {
    fn name(&self) -> &str {
        "slow"
    }
    fn fetch<'a>(
        &'a self,
        _n: &'a str,
        _v: &'a Version,
    ) -> BoxFuture<'a, Result<SecretValue, secret_chain::Error>> {
        Box::pin(async move {
            self.0.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(1)).await;
            Ok(SecretValue::text("cold-read-value-0123456789"))
        })
    }
    fn list<'a>(&'a self, _p: &'a str) -> BoxFuture<'a, Result<Vec<String>, secret_chain::Error>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

fn cold_reads(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("cold_reads");
    g.sample_size(20);
    g.bench_function("1000_concurrent_one_key", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let calls = Arc::new(AtomicUsize::new(0));
                let m = SecretsManager::builder()
                    .provider(Slow(calls.clone()))
                    .build()
                    .expect("manager");
                let start = Instant::now();
                rt.block_on(async {
                    let tasks: Vec<_> = (0..1000)
                        .map(|_| {
                            let m = m.clone();
                            tokio::spawn(async move { m.get_secret("cold/key").await.is_ok() })
                        })
                        .collect();
                    for t in tasks {
                        assert!(t.await.expect("task"));
                    }
                });
                total += start.elapsed();
                assert_eq!(calls.load(Ordering::SeqCst), 1, "one backend call");
            }
            total
        })
    });
    g.finish();
}

criterion_group!(local, hit_path, cold_reads);
criterion_group!(cache, benches);
criterion_main!(local, cache);
