//! Fault tests of the cache and the chain against real servers on loopback:
//! a stopped and restarted moto, a rotated secret, a counting proxy for
//! single-flight, and a slow proxy for timeouts and the circuit breaker.
//! Time is driven by a mock clock wherever waiting is not the point.
//!
//! Run with `bash scripts/test --test resilience`.

#![cfg(all(feature = "aws", feature = "vault"))]

use crate::support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::Client;
use secret_chain::providers::EnvProvider;
use secret_chain::providers::aws::AwsProvider;
use secret_chain::settings::Settings;
use secret_chain::{BreakerState, Clock, ErrorKind, ExposeSecret, MockClock, SecretsManager};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::seed_client;

async fn put(client: &Client, name: &str, value: &str) {
    match client
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
    {
        Ok(_) => {}
        Err(_) => {
            client
                .put_secret_value()
                .secret_id(name)
                .secret_string(value)
                .send()
                .await
                .expect("put secret value");
        }
    }
}

/// An AWS provider pointed at `endpoint` with short timeouts and no SDK
/// retries, so that the chain's own retry and breaker policy is what runs.
fn aws(endpoint: &str, timeout_ms: u64) -> AwsProvider {
    let vars: HashMap<String, String> = [
        ("SECRETS_PROVIDERS", "aws".to_owned()),
        ("SECRETS_AWS_ENDPOINT", endpoint.to_owned()),
        ("SECRETS_AWS_REGION", support::AWS_TEST_REGION.to_owned()),
        (
            "AWS_ACCESS_KEY_ID",
            support::AWS_TEST_ACCESS_KEY_ID.to_owned(),
        ),
        (
            "AWS_SECRET_ACCESS_KEY",
            support::AWS_TEST_SECRET_ACCESS_KEY.to_owned(),
        ),
        ("SECRETS_AWS_TIMEOUT_MS", timeout_ms.to_string()),
        ("SECRETS_AWS_CONNECT_TIMEOUT_MS", timeout_ms.to_string()),
        ("SECRETS_AWS_MAX_ATTEMPTS", "1".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    AwsProvider::from_settings(&Settings::from_vars(vars)).unwrap()
}

fn manager(endpoint: &str, clock: Clock) -> SecretsManager {
    SecretsManager::builder()
        .provider(aws(endpoint, 500))
        .cache_ttl(Duration::from_secs(60))
        .ttl_jitter(0.0)
        .refresh_ahead(false)
        .max_stale(Duration::from_secs(600))
        .retries(1, Duration::from_millis(10), Duration::from_millis(200))
        .circuit_breaker(3, Duration::from_secs(30))
        .clock(clock)
        .build()
        .unwrap()
}

fn mock() -> (Clock, MockClock) {
    Clock::mock()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_cache_survives_a_stopped_server_until_max_stale_then_recovers_after_restart() {
    let mut server = support::spawn_moto();
    let seed = seed_client(server.endpoint());
    let name = support::unique_name("stale");
    put(&seed, &name, "stale-v1-secret-value").await;
    let (clock, time) = mock();
    let m = manager(server.endpoint(), clock);

    assert_eq!(
        m.get_secret(&name).await.unwrap().expose_secret(),
        "stale-v1-secret-value"
    );
    server.stop();

    // Expired, provider down: the stale value is served.
    time.advance(Duration::from_secs(61));
    assert_eq!(
        m.get_secret(&name).await.unwrap().expose_secret(),
        "stale-v1-secret-value"
    );
    time.advance(Duration::from_secs(500));
    assert_eq!(
        m.get_secret(&name).await.unwrap().expose_secret(),
        "stale-v1-secret-value"
    );
    assert!(m.stats().stale_served >= 2);

    // Past the stale window: a clear error naming the provider.
    time.advance(Duration::from_secs(101));
    let e = m.get_secret(&name).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(
        e.to_string()
            .contains(&format!("secret '{name}' unavailable: aws: ")),
        "{e}"
    );
    assert!(!e.to_string().contains("stale-v1"), "{e}");

    // A cold read of another key fails fast: the breaker is open by now.
    let started = Instant::now();
    let e = m.get_secret("never-cached").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // Restarted (moto forgets everything): fresh values, same process.
    server.restart();
    put(&seed, &name, "stale-v2-after-restart").await;
    time.advance(Duration::from_secs(31)); // past the breaker's cool-down
    assert_eq!(
        m.get_secret(&name).await.unwrap().expose_secret(),
        "stale-v2-after-restart"
    );
    assert_eq!(m.stats().providers[0].breaker, BreakerState::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_reads_fail_within_the_configured_timeout_when_the_server_hangs() {
    let mut server = support::spawn_moto();
    server.freeze(); // accepts connections, never answers
    let (clock, _time) = mock();
    let m = SecretsManager::builder()
        .provider(aws(server.endpoint(), 300))
        .retries(0, Duration::from_millis(1), Duration::from_millis(1))
        .clock(clock)
        .build()
        .unwrap();
    let started = Instant::now();
    let e = m.get_secret("hanging/secret").await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    // 300 ms per attempt, one attempt: generous slack for a loaded machine.
    assert!(took < Duration::from_secs(3), "took {took:?}");
    server.thaw();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_arrives_after_the_ttl_or_at_once_after_a_key_refresh() {
    let endpoint = support::aws_endpoint();
    let seed = seed_client(&endpoint);
    let name = support::unique_name("rotate");
    put(&seed, &name, "rotate-v1-password").await;
    let (clock, time) = mock();
    let m = manager(&endpoint, clock);
    assert_eq!(
        m.get_secret(&name).await.unwrap().expose_secret(),
        "rotate-v1-password"
    );

    put(&seed, &name, "rotate-v2-password").await;
    // Within the TTL the cached value stays.
    assert_eq!(
        m.get_secret(&name).await.unwrap().expose_secret(),
        "rotate-v1-password"
    );
    time.advance(Duration::from_secs(61));
    assert_eq!(
        m.get_secret(&name).await.unwrap().expose_secret(),
        "rotate-v2-password"
    );

    put(&seed, &name, "rotate-v3-password").await;
    m.refresh_key(&name);
    assert_eq!(
        m.get_secret(&name).await.unwrap().expose_secret(),
        "rotate-v3-password"
    );

    // Rotated-out values stay registered for masking.
    assert!(m.known_secrets().len() >= 3);
}

/// A loopback TCP proxy in front of moto that counts GetSecretValue calls
/// and can delay every answer.
struct Proxy {
    endpoint: String,
    get_calls: Arc<AtomicU64>,
    delay_ms: Arc<AtomicU64>,
}

async fn start_proxy(upstream: String) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let get_calls = Arc::new(AtomicU64::new(0));
    let delay_ms = Arc::new(AtomicU64::new(0));
    let upstream_addr = upstream.trim_start_matches("http://").to_owned();
    let (calls, delay) = (get_calls.clone(), delay_ms.clone());
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let Ok(server) = TcpStream::connect(&upstream_addr).await else {
                continue;
            };
            let (calls, delay) = (calls.clone(), delay.clone());
            tokio::spawn(async move {
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let up = tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    let needle = b"secretsmanager.getsecretvalue";
                    loop {
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        let lower = buf[..n].to_ascii_lowercase();
                        let hits = lower.windows(needle.len()).filter(|w| w == needle).count();
                        calls.fetch_add(hits as u64, Ordering::SeqCst);
                        if sw.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = match sr.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let d = delay.load(Ordering::SeqCst);
                    if d > 0 {
                        tokio::time::sleep(Duration::from_millis(d)).await;
                    }
                    if cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                up.abort();
            });
        }
    });
    Proxy {
        endpoint: format!("http://127.0.0.1:{port}"),
        get_calls,
        delay_ms,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_cold_reads_make_one_backend_call() {
    let endpoint = support::aws_endpoint();
    let seed = seed_client(&endpoint);
    let name = support::unique_name("flight");
    put(&seed, &name, "single-flight-value-1").await;
    let proxy = start_proxy(endpoint).await;
    // Slow answers widen the window in which the reads overlap.
    proxy.delay_ms.store(200, Ordering::SeqCst);
    let m = SecretsManager::builder()
        .provider(aws(&proxy.endpoint, 5000))
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let (m, name) = (m.clone(), name.clone());
            tokio::spawn(async move { m.get_secret(&name).await.map(|v| v.expose_secret().len()) })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), "single-flight-value-1".len());
    }
    let stats = m.stats();
    assert_eq!(stats.providers[0].calls, 1, "{stats:?}");
    assert_eq!(
        proxy.get_calls.load(Ordering::SeqCst),
        1,
        "calls seen at the server"
    );
    assert_eq!(stats.misses + stats.hits, 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_backend_times_out_opens_the_breaker_and_closes_after_the_cooldown() {
    let endpoint = support::aws_endpoint();
    let seed = seed_client(&endpoint);
    let name = support::unique_name("slow");
    put(&seed, &name, "slow-backend-value-1").await;
    let proxy = start_proxy(endpoint).await;
    proxy.delay_ms.store(2000, Ordering::SeqCst);
    let (clock, time) = mock();
    let m = SecretsManager::builder()
        .provider(aws(&proxy.endpoint, 300))
        .provider(EnvProvider::from_vars([("FALLBACK_ONLY", "x")]))
        .cache_ttl(Duration::ZERO)
        .retries(0, Duration::from_millis(1), Duration::from_millis(1))
        .circuit_breaker(3, Duration::from_secs(30))
        .clock(clock)
        .build()
        .unwrap();

    for _ in 0..3 {
        let started = Instant::now();
        let e = m.get_secret(&name).await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "timeout held: {:?}",
            started.elapsed()
        );
        assert!(e.to_string().contains("aws: "), "{e}");
    }
    let s = m.stats();
    assert_eq!(s.providers[0].breaker, BreakerState::Open);
    assert_eq!(s.providers[0].unavailable, 3);

    // Open: the provider is skipped, so a read adds no backend latency.
    let calls_before = m.stats().providers[0].calls;
    let e = m.get_secret(&name).await.unwrap_err();
    assert!(e.to_string().contains("circuit open"), "{e}");
    assert_eq!(m.stats().providers[0].calls, calls_before);

    // The backend recovers; after the cool-down the probe closes the breaker.
    proxy.delay_ms.store(0, Ordering::SeqCst);
    time.advance(Duration::from_secs(31));
    assert_eq!(
        m.get_secret(&name).await.unwrap().expose_secret(),
        "slow-backend-value-1"
    );
    assert_eq!(m.stats().providers[0].breaker, BreakerState::Closed);
}

fn bao_write(addr: &str, token: &str, path: &str, json: &str) {
    let resp = support::http_request(
        "POST",
        addr,
        &format!("/v1/secret/data/{path}"),
        &[
            ("X-Vault-Token", token),
            ("Content-Type", "application/json"),
        ],
        Some(format!(r#"{{"data":{json}}}"#).as_bytes()),
    )
    .expect("write to bao");
    assert!(
        resp.status == 200 || resp.status == 204,
        "bao write: {}",
        resp.status
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_outage_serves_stale_values_and_a_restart_brings_fresh_ones() {
    let token = format!("sc-fault-{}", support::unique_name("tok"));
    let mut server = support::spawn_bao(&token);
    let addr = server.endpoint().to_owned();
    bao_write(
        &addr,
        &token,
        "app/db",
        r#"{"password":"vault-v1-password"}"#,
    );
    let provider = secret_chain::providers::vault::VaultProvider::builder(&addr)
        .token(&token)
        .request_timeout(Duration::from_millis(500))
        .connect_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let (clock, time) = mock();
    let m = SecretsManager::builder()
        .provider(provider)
        .provider(EnvProvider::from_vars([("OTHER", "x")]))
        .cache_ttl(Duration::from_secs(60))
        .ttl_jitter(0.0)
        .refresh_ahead(false)
        .max_stale(Duration::from_secs(300))
        .retries(0, Duration::from_millis(1), Duration::from_millis(1))
        .circuit_breaker(2, Duration::from_secs(30))
        .clock(clock)
        .build()
        .unwrap();
    assert_eq!(
        m.get_secret("app/db").await.unwrap().expose_secret(),
        "vault-v1-password"
    );

    server.stop();
    time.advance(Duration::from_secs(61));
    assert_eq!(
        m.get_secret("app/db").await.unwrap().expose_secret(),
        "vault-v1-password"
    );
    assert_eq!(m.stats().stale_served, 1);
    // Cold reads fall through to env and fail with both answers listed.
    let e = m.get_secret("app/other").await.unwrap_err();
    assert!(
        e.to_string().contains("vault: ") && e.to_string().contains("env: not found"),
        "{e}"
    );
    time.advance(Duration::from_secs(300));
    let e = m.get_secret("app/db").await.unwrap_err();
    assert!(!e.to_string().contains("vault-v1"), "{e}");

    server.restart();
    bao_write(
        &addr,
        &token,
        "app/db",
        r#"{"password":"vault-v2-password"}"#,
    );
    time.advance(Duration::from_secs(31));
    assert_eq!(
        m.get_secret("app/db").await.unwrap().expose_secret(),
        "vault-v2-password"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_out_values_stay_masked_in_log_output() {
    use base64::Engine as _;
    use tracing_subscriber::layer::SubscriberExt;

    let endpoint = support::aws_endpoint();
    let seed = seed_client(&endpoint);
    let name = support::unique_name("maskrot");
    put(&seed, &name, "Rot4ted-Out-Pa55word-v1").await;
    let (clock, _time) = mock();
    let m = manager(&endpoint, clock);
    let old = m.get_secret(&name).await.unwrap();
    put(&seed, &name, "Rot4ted-In-Pa55word-v2").await;
    m.refresh_key(&name);
    let new = m.get_secret(&name).await.unwrap();
    assert_eq!(new.expose_secret(), "Rot4ted-In-Pa55word-v2");

    for json in [false, true] {
        let out = support::capture::Capture::default();
        let layer = secret_chain::masking::MaskingLayer::builder()
            .known(m.known_secrets().clone())
            .json(json)
            .writer(out.clone())
            .build()
            .unwrap();
        let subscriber = tracing_subscriber::registry().with(layer);
        let b64 = base64::engine::general_purpose::STANDARD
            .encode(format!("admin:{}", old.expose_secret()));
        support::capture::with_subscriber(subscriber, || {
            let span = tracing::info_span!("conn", creds = old.expose_secret());
            let _g = span.enter();
            tracing::info!(
                "old value {} and new value {}",
                old.expose_secret(),
                new.expose_secret()
            );
            tracing::warn!(header = %format!("Basic {b64}"), "retrying with the previous credential");
            tracing::error!(value = ?old.expose_secret(), "debug-formatted");
        });
        let text = out.text();
        assert!(text.lines().count() >= 3, "{text}");
        for leaked in [
            "Rot4ted-Out-Pa55word-v1",
            "Rot4ted-In-Pa55word-v2",
            b64.as_str(),
        ] {
            assert!(
                !text.contains(leaked),
                "json={json}: {leaked} leaked in:\n{text}"
            );
        }
    }
}
