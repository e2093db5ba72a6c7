//! The AWS agent's contract: both request forms, the answers' JSON, the
//! checks in their order, the token from env or file, the Unix socket,
//! `/metrics` and the listing.

use std::os::unix::fs::PermissionsExt;

use base64::Engine;

use super::harness::{Agent, HEADER, Setup, TOKEN, create_secret, put_value, unix_get};
use crate::support;

#[tokio::test]
async fn both_request_forms_answer_with_get_secret_values_json() {
    let name = support::unique_name("agent/db");
    let arn = create_secret(&name, "agent-first-value-7Qx").await;
    let second = put_value(&support::aws_endpoint(), &name, "agent-second-value-8Rz").await;
    let bin = support::unique_name("agent-bin");
    support::seed_client(&support::aws_endpoint())
        .create_secret()
        .name(&bin)
        .secret_binary(aws_sdk_secretsmanager::primitives::Blob::new(vec![
            0u8, 1, 2, 250,
        ]))
        .send()
        .await
        .unwrap();
    let agent = Agent::start(Setup::new(""));
    assert!(
        agent.first_line.contains("listening on") && agent.first_line.contains(&agent.base()),
        "{}",
        agent.first_line
    );

    let by_query = agent.json(&format!("/secretsmanager/get?secretId={name}"));
    assert_eq!(by_query["ARN"], arn.as_str());
    assert_eq!(by_query["Name"], name.as_str());
    assert_eq!(by_query["VersionId"], second.as_str());
    assert_eq!(by_query["SecretString"], "agent-second-value-8Rz");
    assert_eq!(by_query["VersionStages"], serde_json::json!(["AWSCURRENT"]));
    let created = by_query["CreatedDate"].as_str().expect("a string");
    assert!(created.parse::<f64>().unwrap() > 1.6e9, "{created}");
    assert!(by_query.get("SecretBinary").is_none());

    let by_path = agent.json(&format!("/v1/{name}"));
    assert_eq!(by_path, by_query, "the path form answers the same");
    // By ARN, Name is still AWS's name.
    let by_arn = agent.json(&format!("/secretsmanager/get?secretId={arn}"));
    assert_eq!(by_arn["Name"], name.as_str());

    let previous = agent.json(&format!(
        "/secretsmanager/get?secretId={name}&versionStage=AWSPREVIOUS"
    ));
    assert_eq!(previous["SecretString"], "agent-first-value-7Qx");
    assert_eq!(
        previous["VersionStages"],
        serde_json::json!(["AWSPREVIOUS"])
    );
    let by_id = agent.json(&format!("/v1/{name}?versionId={second}"));
    assert_eq!(by_id["SecretString"], "agent-second-value-8Rz");
    let mixed = agent.get(&format!(
        "/v1/{name}?versionId={second}&versionStage=AWSPREVIOUS"
    ));
    assert_eq!(mixed.status, 400, "{mixed:?}");

    let binary = agent.json(&format!("/v1/{bin}"));
    assert!(binary.get("SecretString").is_none());
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(binary["SecretBinary"].as_str().unwrap())
        .unwrap();
    assert_eq!(decoded, [0u8, 1, 2, 250]);

    // AWS's status passes on: moto answers 404 (AWS itself 400).
    let missing = agent.get("/v1/agent-no-such-secret");
    assert_eq!(missing.status, 404, "{missing:?}");
    let body: serde_json::Value = serde_json::from_str(&missing.body).unwrap();
    assert_eq!(body["__type"], "ResourceNotFoundException");
    agent.assert_logs_hold_none_of(&["agent-first-value-7Qx", "agent-second-value-8Rz"]);
}

#[test]
fn checks_come_in_the_aws_agents_order_with_its_short_texts() {
    let agent = Agent::start(Setup::new(""));
    let check = |method: &str, path: &str, headers: &[(&str, &str)], status: u16, body: &str| {
        let r = agent.request(method, path, headers);
        assert_eq!(r.status, status, "{method} {path} {headers:?}: {r:?}");
        assert_eq!(r.body, body, "{method} {path} {headers:?}");
    };
    let good = [(HEADER, TOKEN)];
    check("GET", "/ping", &[], 200, "healthy");
    check("POST", "/ping", &[], 405, "Not allowed");
    check("GET", "/v1/x", &[], 403, "Bad Token");
    check("GET", "/v1/x", &[(HEADER, "wrong-token")], 403, "Bad Token");
    check(
        "GET",
        "/v1/x",
        &[("X-Vault-Token", TOKEN)], // moto answers 404 (AWS 400): passed on
        404,
        r#"{"__type":"ResourceNotFoundException", "message":"secret 'x' not found: aws: not found (secret id x)"}"#,
    );
    check(
        "GET",
        "/v1/x",
        &[(HEADER, TOKEN), ("X-Forwarded-For", "10.0.0.1")],
        400,
        "Forwarded",
    );
    check("POST", "/v1/x", &[], 403, "Bad Token");
    check("POST", "/v1/x", &good, 405, "Not allowed");
    check(
        "DELETE",
        "/secretsmanager/get?secretId=x",
        &good,
        405,
        "Not allowed",
    );
    check("GET", "/elsewhere", &good, 404, "Not found");
    check(
        "GET",
        "/secretsmanager/get",
        &good,
        400,
        "missing parameter secretId",
    );
    check("GET", "/v1/", &good, 400, "missing secret ID");
    check(
        "GET",
        "/secretsmanager/get?secretId=x&refreshNow=maybe",
        &good,
        400,
        "invalid refreshNow value",
    );
    check(
        "GET",
        "/secretsmanager/get?secretId=x&colour=red",
        &good,
        400,
        "unknown parameter: colour",
    );
    check(
        "GET",
        "/v1/x?secretId=y",
        &good,
        400,
        "unknown parameter: secretId",
    );
    agent.assert_logs_hold_none_of(&[]);
}

#[test]
fn connections_past_max_conn_get_429_and_ping_two_more() {
    let agent = Agent::start(Setup::new("max_conn = 1"));
    // One idle keep-alive connection takes the only slot.
    let idle = std::net::TcpStream::connect(("127.0.0.1", agent.port)).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let r = agent.get("/v1/anything");
    assert_eq!(r.status, 429, "{r:?}");
    assert_eq!(r.body, "Connection limit exceeded");
    assert_eq!(agent.request("GET", "/ping", &[]).status, 200);
    drop(idle);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(agent.request("GET", "/ping", &[]).status, 200);
    assert_ne!(agent.get("/v1/anything").status, 429);
}

#[tokio::test]
async fn the_token_comes_from_a_file_and_is_read_again_on_sighup() {
    let name = support::unique_name("agent-tokfile");
    create_secret(&name, "agent-tokfile-value-3Kp").await;
    let token_dir = tempfile::tempdir().unwrap();
    let file = token_dir.path().join("token");
    std::fs::write(&file, "first-file-token-91ab\n").unwrap();
    let url = format!("file://{}", file.display());
    let env = [("AWS_TOKEN", url.as_str())];
    let agent = Agent::start(Setup::new("").env(&env));
    let path = format!("/v1/{name}");
    assert_eq!(
        agent
            .request("GET", &path, &[(HEADER, "first-file-token-91ab")])
            .status,
        200
    );
    assert_eq!(agent.request("GET", &path, &[(HEADER, TOKEN)]).status, 403);
    std::fs::write(&file, "second-file-token-82cd").unwrap();
    agent.signal(rustix::process::Signal::HUP);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        agent
            .request("GET", &path, &[(HEADER, "first-file-token-91ab")])
            .status,
        403
    );
    let r = agent.request("GET", &path, &[(HEADER, "second-file-token-82cd")]);
    assert_eq!(r.status, 200, "{r:?}");
    assert!(!agent.logs().contains("file-token"), "{}", agent.logs());
}

#[test]
fn a_missing_token_or_a_bad_config_exits_2_and_a_taken_port_3() {
    let dir = tempfile::tempdir().unwrap();
    let run = |config: &str, env: &[(&str, &str)]| {
        super::harness::write_config(dir.path(), config);
        let out = super::harness::command(dir.path(), &Setup::new(config).env(env))
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run("http_port = 2773\nttl = 5", &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("unknown key `ttl`"), "{err}");
    let (code, err) = run("cache_size = 5000", &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("`cache_size`"), "{err}");
    let (code, err) = run("ssrf_env_variables = [\"NO_SUCH_TOKEN_VAR\"]", &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("NO_SUCH_TOKEN_VAR"), "{err}");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (code, err) = run(&format!("http_port = {port}"), &[]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains(&port.to_string()), "{err}");
}

#[tokio::test]
async fn a_unix_socket_is_served_with_mode_0600() {
    let name = support::unique_name("agent-unix");
    create_secret(&name, "agent-unix-value-5Tw").await;
    let sock_dir = tempfile::tempdir().unwrap();
    let sock = sock_dir.path().join("agent.sock");
    let config = format!("unix_socket = \"{}\"\nhttp = false", sock.display());
    let mut agent = Agent::start(Setup::new(&config));
    assert!(
        agent
            .first_line
            .contains(&format!("unix:{}", sock.display())),
        "{}",
        agent.first_line
    );
    assert!(
        !agent.first_line.contains("http://"),
        "{}",
        agent.first_line
    );
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let (status, body) = unix_get(&sock, &format!("/v1/{name}"), &[(HEADER, TOKEN)]);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("agent-unix-value-5Tw"));
    assert_eq!(unix_get(&sock, "/v1/x", &[]).0, 403);
    assert!(
        support::http_get(&agent.base(), "/ping", &[]).is_err(),
        "no TCP"
    );
    assert_eq!(agent.terminate().code(), Some(0));
    assert!(!sock.exists(), "the socket file is removed at exit");
}

#[tokio::test]
async fn metrics_and_the_listing_need_the_token_and_hold_no_value() {
    let name = support::unique_name("agent-status");
    create_secret(&name, "agent-status-value-6Yv").await;
    let agent = Agent::start(Setup::new(""));
    for _ in 0..3 {
        assert_eq!(agent.get(&format!("/v1/{name}")).status, 200);
    }
    assert_eq!(agent.get("/v1/agent-status-missing").status, 404);
    assert_eq!(agent.request("GET", "/metrics", &[]).status, 403);
    assert_eq!(
        agent.request("GET", "/secret-chain/v1/secrets", &[]).status,
        403
    );
    let metrics = agent.get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(metrics.headers.to_ascii_lowercase().contains("text/plain"));
    for line in [
        "secret_chain_cache_hits_total 2",
        "secret_chain_cache_misses_total 2",
        "secret_chain_provider_calls_total{provider=\"aws\"} 2",
        "secret_chain_agent_requests_total 7",
        "# TYPE secret_chain_cached_entries gauge",
    ] {
        assert!(metrics.body.contains(line), "{line} in\n{}", metrics.body);
    }
    let listing = agent.json("/secret-chain/v1/secrets");
    let text = listing.to_string();
    assert!(!text.contains("agent-status-value"), "{text}");
    let entries = listing["secrets"].as_array().unwrap();
    let found = entries.iter().find(|e| e["path"] == name.as_str()).unwrap();
    assert_eq!(found["provider"], "aws");
    assert_eq!(found["hits"], 3);
    assert!(found["version_id"].is_string());
    assert!(found["age_seconds"].is_u64() && found["fetched_at"].is_u64());
    let missing = entries
        .iter()
        .find(|e| e["path"] == "agent-status-missing")
        .unwrap();
    assert!(
        missing["last_error"]
            .as_str()
            .unwrap()
            .contains("not found")
    );
    agent.assert_logs_hold_none_of(&["agent-status-value-6Yv"]);
}

#[test]
fn a_config_file_with_every_aws_agent_key_starts_unchanged() {
    let port = support::free_port();
    let config = format!(
        "log_level = \"INFO\"\nlog_to_file = true\nhttp_port = \"{port}\"\nregion = \"us-east-1\"\nttl_seconds = \"300\"\ncache_size = \"1000\"\nmax_conn = \"800\"\npath_prefix = \"/v1/\"\nssrf_headers = [\"X-Aws-Parameters-Secrets-Token\", \"X-Vault-Token\"]\nssrf_env_variables = [\"AWS_TOKEN\", \"AWS_SESSION_TOKEN\"]\nvalidate_credentials = true\nignore_transient_errors = true\n"
    );
    let agent = Agent::start(Setup::new(&config));
    assert_eq!(agent.request("GET", "/ping", &[]).body, "healthy");
    // log_to_file: the AWS agent's place, relative to the working directory.
    let log = agent.path("logs/secret_chain_agent.log");
    let mut waited = 0;
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("listening on")
    {
        assert!(waited < 50, "no log file at {}", log.display());
        std::thread::sleep(std::time::Duration::from_millis(100));
        waited += 1;
    }
}
