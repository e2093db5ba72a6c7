//! Smoke tests for the test infrastructure itself: the shared servers that
//! `scripts/test` starts answer, and private servers can be stopped and
//! restarted on the same port.

use crate::support;

use std::time::Duration;

#[test]
fn servers_shared_moto_answers() {
    let endpoint = support::aws_endpoint();
    let resp = support::http_get(&endpoint, "/", &[]).expect("shared moto answers on /");
    assert!(
        (200..500).contains(&resp.status),
        "unexpected status {} from moto at {endpoint}",
        resp.status
    );
}

#[test]
fn servers_shared_moto_speaks_secrets_manager() {
    let endpoint = support::aws_endpoint();
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={}/20240101/{}/secretsmanager/aws4_request, \
         SignedHeaders=host, Signature=0000",
        support::AWS_TEST_ACCESS_KEY_ID,
        support::AWS_TEST_REGION
    );
    let resp = support::http_request(
        "POST",
        &endpoint,
        "/",
        &[
            ("X-Amz-Target", "secretsmanager.ListSecrets"),
            ("Content-Type", "application/x-amz-json-1.1"),
            ("Authorization", &auth),
        ],
        Some(b"{}"),
    )
    .expect("moto answers a ListSecrets call");
    assert_eq!(resp.status, 200, "ListSecrets: {resp:?}");
    assert!(
        resp.body.contains("SecretList"),
        "ListSecrets body: {}",
        resp.body
    );
}

#[test]
fn servers_shared_bao_is_healthy_and_token_works() {
    let addr = support::vault_addr();
    let token = support::vault_root_token();

    let health =
        support::http_get(&addr, "/v1/sys/health", &[]).expect("bao answers /v1/sys/health");
    assert_eq!(health.status, 200, "health: {}", health.body);
    assert!(
        health.body.contains("\"sealed\":false"),
        "health body: {}",
        health.body
    );

    let me = support::http_get(
        &addr,
        "/v1/auth/token/lookup-self",
        &[("X-Vault-Token", &token)],
    )
    .expect("bao answers lookup-self");
    assert_eq!(me.status, 200, "root token is not accepted");

    // The dev server mounts KV v2 at secret/.
    let mount = support::http_get(&addr, "/v1/sys/mounts/secret", &[("X-Vault-Token", &token)])
        .expect("bao answers sys/mounts/secret");
    assert_eq!(mount.status, 200, "sys/mounts/secret: {}", mount.body);
    assert!(
        mount.body.contains("\"version\":\"2\""),
        "secret/ is not KV v2: {}",
        mount.body
    );

    let bad = support::http_get(
        &addr,
        "/v1/auth/token/lookup-self",
        &[("X-Vault-Token", "not-a-token")],
    )
    .expect("bao answers lookup-self");
    assert_eq!(bad.status, 403, "a wrong token must be refused");
}

#[test]
fn servers_private_moto_stops_and_restarts_on_same_port() {
    let mut moto = support::spawn_moto();
    let port = moto.port();
    assert_eq!(moto.endpoint(), format!("http://127.0.0.1:{port}"));
    assert!(
        support::http_get(moto.endpoint(), "/", &[]).is_ok(),
        "private moto answers"
    );

    moto.stop();
    assert!(!moto.is_running());
    let err = std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(1),
    )
    .expect_err("stopped server's port must refuse connections");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");

    moto.restart();
    assert_eq!(moto.port(), port, "restart keeps the port");
    assert!(moto.is_running());
    assert!(
        support::http_get(moto.endpoint(), "/", &[]).is_ok(),
        "restarted moto answers"
    );
}

#[test]
fn servers_private_bao_stops_and_restarts_with_same_token() {
    let token = format!("sc-private-{}", std::process::id());
    let mut bao = support::spawn_bao(&token);
    let port = bao.port();
    let health = support::http_get(bao.endpoint(), "/v1/sys/health", &[]).unwrap();
    assert_eq!(health.status, 200);

    bao.stop();
    assert!(
        !support::port_accepts(port),
        "stopped bao's port must refuse connections"
    );

    bao.restart();
    assert_eq!(bao.port(), port);
    let me = support::http_get(
        bao.endpoint(),
        "/v1/auth/token/lookup-self",
        &[("X-Vault-Token", &token)],
    )
    .unwrap();
    assert_eq!(me.status, 200, "same root token after restart");

    // bao prints its banner (with the root token) just after it is ready:
    // wait for it, then check the private log holds the token only redacted.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let log = loop {
        let log = std::fs::read_to_string(bao.log_path()).unwrap_or_default();
        if log.contains("Root Token:") || std::time::Instant::now() >= deadline {
            break log;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        log.contains("Root Token: <redacted"),
        "no redacted banner in {}",
        bao.log_path().display()
    );
    assert!(
        !log.contains(&token),
        "root token leaked into {}",
        bao.log_path().display()
    );
}

#[test]
fn servers_frozen_server_accepts_but_does_not_answer() {
    let mut moto = support::spawn_moto();
    moto.freeze();
    let started = std::time::Instant::now();
    let res = support::http_get(moto.endpoint(), "/", &[]);
    assert!(res.is_err(), "a frozen server must not answer: {res:?}");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "should time out, not be refused"
    );
    moto.thaw();
    assert!(
        support::http_get(moto.endpoint(), "/", &[]).is_ok(),
        "thawed moto answers"
    );
}
