//! More than the AWS agent: the whole chain behind the same contract, its
//! cache (TTL, `refreshNow`, prefetch, single-flight) and its resilience
//! (bounded stale-on-error, 502 and 504).

use std::time::Duration;

use super::harness::{Agent, HEADER, Setup, TOKEN, create_secret, put_value};
use crate::support::{self, aws_proxy};

#[tokio::test]
async fn vault_and_env_answer_in_the_same_shape_when_aws_has_nothing() {
    let (addr, root) = (support::vault_addr(), support::vault_root_token());
    let folder = support::unique_name("agent-chain");
    let r = support::http_request(
        "POST",
        &addr,
        &format!("/v1/secret/data/{folder}/api/key"),
        &[
            ("X-Vault-Token", &root),
            ("Content-Type", "application/json"),
        ],
        Some(br#"{"data":{"value":"agent-vault-value-2Hn"}}"#),
    )
    .unwrap();
    assert!((200..300).contains(&r.status), "{r:?}");
    let aws_name = support::unique_name("agent-chain-aws");
    create_secret(&aws_name, "agent-aws-value-4Jm").await;
    let env = [
        ("VAULT_ADDR", addr.as_str()),
        ("VAULT_TOKEN", root.as_str()),
        ("LOCAL_ONLY_KEY", "agent-env-value-9Lq"),
    ];
    let agent = Agent::start(Setup::new("providers = [\"aws\", \"vault\", \"env\"]").env(&env));

    let from_aws = agent.json(&format!("/v1/{aws_name}"));
    assert!(from_aws["ARN"].as_str().unwrap().starts_with("arn:aws:"));
    let from_vault = agent.json(&format!("/secretsmanager/get?secretId={folder}/api/key"));
    assert_eq!(from_vault["SecretString"], "agent-vault-value-2Hn");
    assert_eq!(from_vault["Name"], format!("{folder}/api/key"));
    assert!(from_vault["ARN"].is_null());
    assert_eq!(from_vault["VersionId"], "1");
    assert!(
        from_vault["CreatedDate"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap()
            > 1.6e9
    );
    let from_env = agent.json("/v1/local/only-key");
    assert_eq!(from_env["SecretString"], "agent-env-value-9Lq");
    assert!(from_env["ARN"].is_null() && from_env["VersionId"].is_null());
    let listing = agent.json("/secret-chain/v1/secrets").to_string();
    assert!(listing.contains("\"provider\":\"vault\"") && listing.contains("\"provider\":\"env\""));
    agent.assert_logs_hold_none_of(&[
        "agent-vault-value-2Hn",
        "agent-aws-value-4Jm",
        "agent-env-value-9Lq",
        &root,
    ]);
}

#[tokio::test]
async fn the_ttl_and_refresh_now_bring_new_values() {
    let name = support::unique_name("agent-ttl");
    create_secret(&name, "agent-ttl-value-one").await;
    let agent = Agent::start(Setup::new("ttl_seconds = 2"));
    let path = format!("/v1/{name}");
    assert_eq!(agent.json(&path)["SecretString"], "agent-ttl-value-one");
    put_value(&support::aws_endpoint(), &name, "agent-ttl-value-two").await;
    assert_eq!(
        agent.json(&path)["SecretString"],
        "agent-ttl-value-one",
        "cached"
    );
    for flag in ["true", "1"] {
        let fresh = agent.json(&format!("{path}?refreshNow={flag}"));
        assert_eq!(
            fresh["SecretString"], "agent-ttl-value-two",
            "refreshNow={flag}"
        );
    }
    assert_eq!(agent.json(&path)["SecretString"], "agent-ttl-value-two");
    put_value(&support::aws_endpoint(), &name, "agent-ttl-value-three").await;
    assert_eq!(
        agent.json(&format!("{path}?refreshNow=false"))["SecretString"],
        "agent-ttl-value-two"
    );
    tokio::time::sleep(Duration::from_millis(2600)).await;
    assert_eq!(
        agent.json(&path)["SecretString"],
        "agent-ttl-value-three",
        "past the TTL"
    );

    let uncached = Agent::start(Setup::new("ttl_seconds = 0"));
    assert_eq!(
        uncached.json(&path)["SecretString"],
        "agent-ttl-value-three"
    );
    put_value(&support::aws_endpoint(), &name, "agent-ttl-value-four").await;
    assert_eq!(
        uncached.json(&path)["SecretString"],
        "agent-ttl-value-four",
        "no cache"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_values_are_served_while_aws_is_down_within_the_bound() {
    let mut moto = support::spawn_moto();
    let endpoint = moto.endpoint().to_owned();
    let name = support::unique_name("agent-stale");
    support::seed_client(&endpoint)
        .create_secret()
        .name(&name)
        .secret_string("agent-stale-value-1Pz")
        .send()
        .await
        .unwrap();
    let env = [("SECRETS_AWS_MAX_ATTEMPTS", "1"), ("SECRETS_RETRIES", "0")];
    let stale = Agent::start(Setup::new("ttl_seconds = 1").env(&env).aws(&endpoint));
    let strict = Agent::start(
        Setup::new("ttl_seconds = 1\nignore_transient_errors = false")
            .env(&env)
            .aws(&endpoint),
    );
    let path = format!("/v1/{name}");
    assert_eq!(stale.json(&path)["SecretString"], "agent-stale-value-1Pz");
    assert_eq!(strict.json(&path)["SecretString"], "agent-stale-value-1Pz");
    moto.stop();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let r = stale.get(&path);
    assert_eq!(r.status, 200, "stale-on-error: {r:?}");
    assert!(r.body.contains("agent-stale-value-1Pz"));
    let r = strict.get(&path);
    assert_eq!(r.status, 502, "ignore_transient_errors = false: {r:?}");
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["__type"], "ConnectionError");
    let metrics = stale.get("/metrics").body;
    assert!(
        metrics.contains("secret_chain_stale_served_total 1"),
        "{metrics}"
    );
    stale.assert_logs_hold_none_of(&["agent-stale-value-1Pz"]);
}

#[tokio::test]
async fn a_backend_that_does_not_answer_in_time_is_a_504() {
    let mut moto = support::spawn_moto();
    let endpoint = moto.endpoint().to_owned();
    let env = [
        ("SECRETS_AWS_MAX_ATTEMPTS", "1"),
        ("SECRETS_RETRIES", "0"),
        ("SECRETS_AWS_TIMEOUT_MS", "400"),
    ];
    let agent = Agent::start(
        Setup::new("validate_credentials = false")
            .env(&env)
            .aws(&endpoint),
    );
    moto.freeze();
    let r = agent.get("/v1/agent-frozen");
    moto.thaw();
    assert_eq!(r.status, 504, "{r:?}");
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["__type"], "TimeoutError");
}

#[tokio::test]
async fn prefetched_secrets_are_cached_before_the_agent_listens() {
    let a = support::unique_name("agent-pre-a");
    let b = support::unique_name("agent-pre-b");
    create_secret(&a, "agent-pre-value-a1").await;
    create_secret(&b, "agent-pre-value-b2").await;
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("secrets.toml");
    std::fs::write(&manifest, format!("[secrets.B_VALUE]\npath = \"{b}\"\n")).unwrap();
    let config = format!(
        "prefetch = [\"{a}\"]\nmanifest = \"{}\"",
        manifest.display()
    );
    let agent = Agent::start(Setup::new(&config));
    let listing = agent.json("/secret-chain/v1/secrets").to_string();
    assert!(listing.contains(&a) && listing.contains(&b), "{listing}");
    let before = agent.get("/metrics").body;
    assert_eq!(
        agent.json(&format!("/v1/{a}"))["SecretString"],
        "agent-pre-value-a1"
    );
    assert_eq!(
        agent.json(&format!("/v1/{b}"))["SecretString"],
        "agent-pre-value-b2"
    );
    let after = agent.get("/metrics").body;
    let calls = |m: &str| {
        m.lines()
            .find(|l| l.starts_with("secret_chain_provider_calls_total{provider=\"aws\"}"))
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        calls(&before),
        calls(&after),
        "no backend call after the prefetch"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_cold_requests_make_one_backend_call() {
    let name = support::unique_name("agent-burst");
    create_secret(&name, "agent-burst-value-0Wd").await;
    let proxy = aws_proxy::AwsProxy::start(aws_proxy::Mode::Forward {
        upstream: support::aws_endpoint(),
        rewrite: None,
    })
    .await;
    let agent = Agent::start(
        Setup::new("max_conn = 1000\nvalidate_credentials = false").aws(&proxy.endpoint),
    );
    // A slow backend: every request is in flight before the first answer.
    proxy.set_delay(Duration::from_millis(1500));
    let path = format!("/v1/{name}");
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let (port, path) = (agent.port, path.clone());
        tasks.push(tokio::spawn(async move { raw_get(port, &path).await }));
    }
    for t in tasks {
        let answer = t.await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.contains("agent-burst-value-0Wd"));
    }
    assert_eq!(proxy.count("secretsmanager.GetSecretValue"), 1);
}

/// One GET on a connection of its own, without blocking a thread: the
/// whole answer as text.
async fn raw_get(port: u16, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\n{HEADER}: {TOKEN}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), s.read_to_end(&mut out))
        .await
        .expect("answered within a minute")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn a_denial_is_a_400_access_denied_exception() {
    let (addr, root) = (support::vault_addr(), support::vault_root_token());
    // A token with the default policy only: it may not read secret/.
    let r = support::http_request(
        "POST",
        &addr,
        "/v1/auth/token/create",
        &[
            ("X-Vault-Token", &root),
            ("Content-Type", "application/json"),
        ],
        Some(br#"{"policies":["default"],"ttl":"10m"}"#),
    )
    .unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let token = body["auth"]["client_token"].as_str().unwrap().to_owned();
    let env = [
        ("VAULT_ADDR", addr.as_str()),
        ("VAULT_TOKEN", token.as_str()),
    ];
    let agent = Agent::start(Setup::new("providers = [\"vault\"]").env(&env));
    let r = agent.get("/v1/agent/denied");
    assert_eq!(r.status, 400, "{r:?}");
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["__type"], "AccessDeniedException");
    assert!(!r.body.contains(&token));
    agent.assert_logs_hold_none_of(&[&token]);
}
