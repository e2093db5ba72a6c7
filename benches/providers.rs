//! What a read costs when nothing is cached, through the chain and without
//! it, for the providers of the "more providers" issue.
//!
//! * `chain_miss`: the chain's own cost on a miss. A provider in this
//!   process answers at once; the manager has no cache (TTL 0), so every
//!   `get_secret` goes through the whole miss path (single-flight, breaker,
//!   attempt accounting, the value's encodings registered for masking).
//!   Next to it, the same provider's `fetch` called directly: the
//!   difference is the chain. Target: under 50 µs.
//! * `ssm_cold`: a `SecureString` read through the chain (`ssm` provider,
//!   TTL 0) next to the AWS SDK's own `GetParameter` with decryption, against
//!   the same moto server.
//! * `gcp_cold`: a secret read through the chain (`gcp` provider, TTL 0)
//!   next to the plain REST call a client makes (`versions/latest:access`
//!   with reqwest, the payload decoded), against the same drongo server.
//!
//! Both cold groups first time the two clients interleaved (rounds of 20
//! reads each, alternating) and print the median per-read times and their
//! ratio, which holds up on a shared machine better than two separate
//! criterion runs; criterion's own measurements follow.
//!
//! The servers are the ones `scripts/test` exports
//! (`SECRET_CHAIN_TEST_AWS_ENDPOINT`, `SECRET_CHAIN_TEST_GCP_ENDPOINT`), or
//! private ones started from the project's `.venv` for the run.
//!
//! Run: `cargo bench --features ssm,gcp --bench providers` (or one group:
//! `... -- chain_miss`).

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use base64::Engine as _;
use criterion::{Criterion, criterion_group, criterion_main};
use secret_chain::providers::{BoxFuture, Provider, SecretValue, Version};
use secret_chain::{Config, ExposeSecret, SecretsManager};
use tokio::runtime::Runtime;

const VALUE: &str = "postgres://app:bench-Pa55w0rd-0123456789@db.internal:5432/app";

/// A provider in this process that answers at once.
#[derive(Debug)]
struct AtOnce;

impl Provider for AtOnce {
    fn name(&self) -> &str {
        "at-once"
    }
    fn fetch<'a>(
        &'a self,
        _name: &'a str,
        _version: &'a Version,
    ) -> BoxFuture<'a, Result<SecretValue, secret_chain::Error>> {
        Box::pin(async { Ok(SecretValue::text(VALUE)) })
    }
    fn list<'a>(&'a self, _p: &'a str) -> BoxFuture<'a, Result<Vec<String>, secret_chain::Error>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

fn chain_miss(c: &mut Criterion) {
    let rt = Runtime::new().expect("tokio runtime");
    let manager = SecretsManager::builder()
        .provider(AtOnce)
        .cache_ttl(Duration::ZERO)
        .build()
        .expect("bench manager");
    let direct = AtOnce;
    let current = Version::Current;
    let mut g = c.benchmark_group("chain_miss");
    g.bench_function("secret_chain/get_secret_ttl0", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(manager.get_secret("database/url").await.unwrap()) })
    });
    g.bench_function("provider/fetch", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(direct.fetch("database/url", &current).await.unwrap()) })
    });
    g.finish();
}

/// A manager over `vars` with no cache.
fn uncached(vars: &[(&str, &str)]) -> SecretsManager {
    let vars = vars
        .iter()
        .chain([("SECRETS_CACHE_TTL", "0"), ("SECRETS_RETRIES", "0")].iter())
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    SecretsManager::from_config(&Config::from_vars(vars).expect("bench config"))
        .expect("bench manager")
}

/// Times `a` and `b` in alternating rounds of 20 reads and prints the
/// median time per read of each and the ratio of the medians.
fn interleaved<A, B>(rt: &Runtime, label: &str, mut a: A, mut b: B)
where
    A: FnMut() -> BoxFuture<'static, ()>,
    B: FnMut() -> BoxFuture<'static, ()>,
{
    const ROUNDS: usize = 30;
    const READS: u32 = 20;
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for _ in 0..READS {
            rt.block_on(a());
        }
        ta.push(start.elapsed() / READS);
        let start = Instant::now();
        for _ in 0..READS {
            rt.block_on(b());
        }
        tb.push(start.elapsed() / READS);
    }
    ta.sort();
    tb.sort();
    let (ma, mb) = (ta[ROUNDS / 2], tb[ROUNDS / 2]);
    println!(
        "{label}: through the chain {:.1} µs, direct {:.1} µs per read (medians of {ROUNDS} interleaved rounds): the chain takes {:.2}x the direct time",
        ma.as_secs_f64() * 1e6,
        mb.as_secs_f64() * 1e6,
        ma.as_secs_f64() / mb.as_secs_f64()
    );
}

fn ssm_cold(c: &mut Criterion) {
    use aws_sdk_ssm::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_ssm::types::ParameterType;

    let (endpoint, _server) = support::moto();
    let rt = Runtime::new().expect("tokio runtime");
    let conf = aws_sdk_ssm::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "bench"))
        .build();
    let sdk = aws_sdk_ssm::Client::from_conf(conf);
    let name = "/bench/app/database/url";
    rt.block_on(async {
        sdk.put_parameter()
            .name(name)
            .value(VALUE)
            .r#type(ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await
            .expect("seed the bench parameter");
    });
    let manager = uncached(&[
        ("SECRETS_PROVIDERS", "ssm"),
        ("SECRETS_SSM_ENDPOINT", &endpoint),
        ("SECRETS_SSM_PREFIX", "/bench/app/"),
        ("SECRETS_AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ]);
    let got = rt
        .block_on(manager.get_secret("database/url"))
        .expect("read through the chain");
    assert_eq!(got.expose_secret(), VALUE);

    let chain_read = || {
        let m = manager.clone();
        Box::pin(async move {
            black_box(m.get_secret("database/url").await.unwrap());
        }) as BoxFuture<'static, ()>
    };
    let sdk_read = || {
        let sdk = sdk.clone();
        Box::pin(async move {
            black_box(
                sdk.get_parameter()
                    .name(name)
                    .with_decryption(true)
                    .send()
                    .await
                    .unwrap(),
            );
        }) as BoxFuture<'static, ()>
    };
    interleaved(&rt, "ssm_cold", chain_read, sdk_read);

    let mut g = c.benchmark_group("ssm_cold");
    g.sample_size(30).measurement_time(Duration::from_secs(6));
    g.bench_function("secret_chain/get_secret_ttl0", |b| {
        b.to_async(&rt).iter(chain_read)
    });
    g.bench_function("aws_sdk_ssm/get_parameter", |b| {
        b.to_async(&rt).iter(sdk_read)
    });
    g.finish();
}

fn gcp_cold(c: &mut Criterion) {
    let (endpoint, _server) = support::drongo();
    let rt = Runtime::new().expect("tokio runtime");
    let project = "bench-project";
    let id = "app_database_url";
    let client = reqwest::Client::new();
    rt.block_on(seed_gcp(&client, &endpoint, project, id));
    let manager = uncached(&[
        ("SECRETS_PROVIDERS", "gcp"),
        ("SECRETS_GCP_PROJECT", project),
        ("SECRETS_GCP_ENDPOINT", &endpoint),
        ("SECRETS_GCP_PREFIX", "app"),
    ]);
    let got = rt
        .block_on(manager.get_secret("database/url"))
        .expect("read through the chain");
    assert_eq!(got.expose_secret(), VALUE);

    let url = format!("{endpoint}/v1/projects/{project}/secrets/{id}/versions/latest:access");
    let chain_read = || {
        let m = manager.clone();
        Box::pin(async move {
            black_box(m.get_secret("database/url").await.unwrap());
        }) as BoxFuture<'static, ()>
    };
    let rest_read = || {
        let (client, url) = (client.clone(), url.clone());
        Box::pin(async move {
            let body: serde_json::Value =
                client.get(&url).send().await.unwrap().json().await.unwrap();
            let data = body["payload"]["data"].as_str().unwrap();
            black_box(
                base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .unwrap(),
            );
        }) as BoxFuture<'static, ()>
    };
    interleaved(&rt, "gcp_cold", chain_read, rest_read);

    let mut g = c.benchmark_group("gcp_cold");
    g.sample_size(30).measurement_time(Duration::from_secs(6));
    g.bench_function("secret_chain/get_secret_ttl0", |b| {
        b.to_async(&rt).iter(chain_read)
    });
    g.bench_function("reqwest/versions_access", |b| {
        b.to_async(&rt).iter(rest_read)
    });
    g.finish();
}

/// Creates secret `id` in drongo (it may exist from an earlier run) and
/// adds [`VALUE`] as its latest version.
async fn seed_gcp(client: &reqwest::Client, endpoint: &str, project: &str, id: &str) {
    let base = format!("{endpoint}/v1/projects/{project}/secrets");
    let created = client
        .post(format!("{base}?secretId={id}"))
        .json(&serde_json::json!({"replication": {"automatic": {}}}))
        .send()
        .await
        .expect("create the bench secret");
    assert!(
        created.status().is_success() || created.status().as_u16() == 409,
        "creating the bench secret: {}",
        created.status()
    );
    let data = base64::engine::general_purpose::STANDARD.encode(VALUE);
    let added = client
        .post(format!("{base}/{id}:addVersion"))
        .json(&serde_json::json!({"payload": {"data": data}}))
        .send()
        .await
        .expect("add the bench version");
    assert!(
        added.status().is_success(),
        "adding the bench version: {}",
        added.status()
    );
}

criterion_group!(local, chain_miss);
criterion_group!(servers, ssm_cold, gcp_cold);
criterion_main!(local, servers);
