//! What a Vault / OpenBao read costs through secret-chain's provider, next to
//! what a user would otherwise write.
//!
//! * `vault_read/provider`: `VaultProvider::fetch`, one `reqwest::Client` per
//!   provider, so the connection is reused; no cache.
//! * `vault_read/new_client_per_read`: the naive inline alternative: build a
//!   `reqwest::Client`, `GET /v1/secret/data/...`, parse the JSON, every time
//!   (a new connection per read).
//! * `vault_read/manager_cache_hit`: `SecretsManager::get_secret` with the
//!   default TTL: the value is cached, no request at all.
//! * `vault_approle/session_reused` against `vault_approle/login_every_read`:
//!   an AppRole provider that keeps its login token, against logging in for
//!   every read (what a client without token renewal ends up doing);
//!   `vault_approle/policy_token` is a plain token with the same policy, the
//!   floor for both (a root token skips policy checks, so the `vault_read`
//!   rows are faster on the server side).
//!
//! The server is the OpenBao dev server that `SECRET_CHAIN_TEST_VAULT_ADDR`
//! and `SECRET_CHAIN_TEST_VAULT_TOKEN` name, or else a `bao server -dev` from
//! the project's `.venv` (created by `scripts/test`) started on a free
//! loopback port for the run.
//!
//! Run: `cargo bench --bench vault`

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use secret_chain::providers::vault::VaultProvider;
use secret_chain::providers::{Provider, SecretData, SecretValue};
use secret_chain::{ExposeSecret, SecretsManager, Version};
use serde_json::{Value, json};
use tokio::runtime::Runtime;

const SECRET_PATH: &str = "bench/stripe";
const SECRET_VALUE: &str = "sk_live_51HxBenchValue0123456789abcdefABCDEF";

/// An OpenBao server for the run: the shared one, or a private one killed
/// on drop.
struct Bao {
    addr: String,
    token: String,
    _server: support::Server,
}

impl Bao {
    fn get() -> Bao {
        let (addr, token, _server) = support::bao();
        Bao {
            addr,
            token,
            _server,
        }
    }
}

async fn admin(bao: &Bao, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    // The dev server may still be starting: retry for a while.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut req = http
            .request(method.clone(), format!("{}/v1/{path}", bao.addr))
            .header("X-Vault-Token", &bao.token);
        if let Some(b) = &body {
            req = req.json(b);
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => return r.json().await.unwrap_or(Value::Null),
            Ok(r) if Instant::now() > deadline => panic!("bench set-up {path}: {}", r.status()),
            Err(e) if Instant::now() > deadline => panic!("bench set-up {path}: {e}"),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// The naive inline read: a new client (and connection) per read.
async fn naive_read(addr: &str, token: &str) -> String {
    let client = reqwest::Client::new();
    let v: Value = client
        .get(format!("{addr}/v1/secret/data/{SECRET_PATH}"))
        .header("X-Vault-Token", token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["data"]["data"]["api_key"].as_str().unwrap().to_owned()
}

fn check(v: SecretValue) {
    assert!(matches!(v.data(), SecretData::Document(_)));
    black_box(v);
}

fn benches(c: &mut Criterion) {
    let bao = Bao::get();
    let rt = Runtime::new().expect("tokio runtime");

    let (role_id, secret_id, mount) = rt.block_on(async {
        use reqwest::Method;
        admin(
            &bao,
            Method::POST,
            &format!("secret/data/{SECRET_PATH}"),
            Some(json!({ "data": { "api_key": SECRET_VALUE } })),
        )
        .await;
        let mount = format!("approle-bench-{}", std::process::id());
        admin(
            &bao,
            Method::POST,
            &format!("sys/auth/{mount}"),
            Some(json!({ "type": "approle" })),
        )
        .await;
        admin(
            &bao,
            Method::PUT,
            "sys/policies/acl/bench-read",
            Some(json!({ "policy": "path \"secret/data/bench/*\" { capabilities = [\"read\"] }" })),
        )
        .await;
        admin(
            &bao,
            Method::POST,
            &format!("auth/{mount}/role/bench"),
            Some(json!({ "token_policies": ["bench-read"], "token_ttl": "1h" })),
        )
        .await;
        let r = admin(
            &bao,
            Method::GET,
            &format!("auth/{mount}/role/bench/role-id"),
            None,
        )
        .await;
        let s = admin(
            &bao,
            Method::POST,
            &format!("auth/{mount}/role/bench/secret-id"),
            None,
        )
        .await;
        (
            r["data"]["role_id"].as_str().unwrap().to_owned(),
            s["data"]["secret_id"].as_str().unwrap().to_owned(),
            mount,
        )
    });
    // A plain token with the same policy: the baseline for the AppRole rows
    // (a root token skips policy checks and is faster on the server).
    let policy_token = rt.block_on(async {
        let t = admin(
            &bao,
            reqwest::Method::POST,
            "auth/token/create",
            Some(json!({ "policies": ["bench-read"], "ttl": "1h" })),
        )
        .await;
        t["auth"]["client_token"].as_str().unwrap().to_owned()
    });

    let provider = VaultProvider::builder(&bao.addr)
        .token(&bao.token)
        .build()
        .unwrap();
    let manager = SecretsManager::builder()
        .provider(
            VaultProvider::builder(&bao.addr)
                .token(&bao.token)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    // Sanity: every contender reads the same value.
    rt.block_on(async {
        assert_eq!(
            manager
                .get_secret(SECRET_PATH)
                .await
                .unwrap()
                .expose_secret(),
            SECRET_VALUE
        );
        assert_eq!(naive_read(&bao.addr, &bao.token).await, SECRET_VALUE);
        check(
            provider
                .fetch(SECRET_PATH, &Version::Current)
                .await
                .unwrap(),
        );
    });

    let mut g = c.benchmark_group("vault_read");
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("provider", |b| {
        b.to_async(&rt).iter(|| async {
            check(
                provider
                    .fetch(SECRET_PATH, &Version::Current)
                    .await
                    .unwrap(),
            )
        })
    });
    g.bench_function("new_client_per_read", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(naive_read(&bao.addr, &bao.token).await) })
    });
    g.bench_function("manager_cache_hit", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(manager.get_secret(SECRET_PATH).await.unwrap()) })
    });
    g.finish();

    let approle = VaultProvider::builder(&bao.addr)
        .approle(&role_id, &secret_id)
        .approle_mount(&mount)
        .build()
        .unwrap();
    let policy_provider = VaultProvider::builder(&bao.addr)
        .token(&policy_token)
        .build()
        .unwrap();
    let mut g = c.benchmark_group("vault_approle");
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("policy_token", |b| {
        b.to_async(&rt).iter(|| async {
            check(
                policy_provider
                    .fetch(SECRET_PATH, &Version::Current)
                    .await
                    .unwrap(),
            )
        })
    });
    g.bench_function("session_reused", |b| {
        b.to_async(&rt)
            .iter(|| async { check(approle.fetch(SECRET_PATH, &Version::Current).await.unwrap()) })
    });
    g.bench_function("login_every_read", |b| {
        b.to_async(&rt).iter(|| async {
            let fresh = VaultProvider::builder(&bao.addr)
                .approle(&role_id, &secret_id)
                .approle_mount(&mount)
                .build()
                .unwrap();
            check(fresh.fetch(SECRET_PATH, &Version::Current).await.unwrap())
        })
    });
    g.finish();
    assert_eq!(
        (approle.auth_stats().logins, approle.auth_stats().renewals),
        (1, 0),
        "the reused AppRole session logged in once and never renewed"
    );
}

criterion_group!(vault, benches);
criterion_main!(vault);
