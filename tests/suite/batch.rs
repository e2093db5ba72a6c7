//! Batches and prefetch against the real servers: `BatchGetSecretValue`
//! on moto seen through a counting HTTP proxy (which can also refuse the
//! batch call, as AWS does without `secretsmanager:BatchGetSecretValue`),
//! the default `fetch_many` of env and Vault, every failure in one error,
//! the backend's code and status in each outcome, and the readable clause
//! for a closed port.
//!
//! Run with `scripts/test --test suite batch::`.

#![cfg(all(feature = "aws", feature = "vault"))]

use crate::support;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_secretsmanager::Client;
use secret_chain::providers::aws::AwsProvider;
use secret_chain::providers::vault::VaultProvider;
use secret_chain::providers::{EnvProvider, Provider, SecretData};
use secret_chain::settings::Settings;
use secret_chain::{Config, ErrorKind, ExposeSecret, SecretsManager};

use crate::support::aws_proxy::{AwsProxy, Mode};
use crate::support::seed_client;

const BATCH: &str = "secretsmanager.BatchGetSecretValue";
const GET: &str = "secretsmanager.GetSecretValue";

fn vars(endpoint: &str, extra: &[(&str, &str)]) -> HashMap<String, String> {
    support::aws_vars(
        &[
            ("SECRETS_PROVIDERS", "aws"),
            ("SECRETS_AWS_ENDPOINT", endpoint),
            ("SECRETS_AWS_TIMEOUT_MS", "5000"),
        ],
        extra,
    )
}

fn aws(endpoint: &str, extra: &[(&str, &str)]) -> AwsProvider {
    AwsProvider::from_settings(&Settings::from_vars(vars(endpoint, extra))).unwrap()
}

async fn create(client: &Client, id: &str, value: &str) {
    client
        .create_secret()
        .name(id)
        .secret_string(value)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "seeding {id}: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            )
        });
}

/// A proxy in front of moto that counts the requests of each action and,
/// when told to, answers `BatchGetSecretValue` itself with the 400
/// `AccessDeniedException` AWS gives a caller without the permission.
async fn proxy(upstream: &str, deny_batch: bool) -> AwsProxy {
    let mode = if deny_batch {
        Mode::Refuse {
            upstream: upstream.to_owned(),
            action: BATCH.to_owned(),
            status: "400 Bad Request".to_owned(),
            headers: "Content-Type: application/x-amz-json-1.1\r\nx-amzn-ErrorType: AccessDeniedException\r\n".to_owned(),
            body: r#"{"__type":"AccessDeniedException","message":"User is not authorized to perform: secretsmanager:BatchGetSecretValue"}"#.to_owned(),
        }
    } else {
        Mode::Forward {
            upstream: upstream.to_owned(),
            rewrite: None,
        }
    };
    AwsProxy::start(mode).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefetch_of_45_secrets_makes_3_batch_calls_and_the_reads_are_cache_hits() {
    let endpoint = support::aws_endpoint();
    let seed = seed_client(&endpoint);
    let prefix = support::unique_name("batch45");
    for i in 0..45 {
        create(
            &seed,
            &format!("{prefix}/svc/key-{i:02}"),
            &format!("batch-value-{i:02}"),
        )
        .await;
    }
    let proxy = proxy(&endpoint, false).await;
    let m = SecretsManager::builder()
        .provider(aws(&proxy.endpoint, &[("SECRETS_PREFIX", &prefix)]))
        .cache_ttl(Duration::from_secs(300))
        .build()
        .unwrap();
    let paths: Vec<String> = (0..45).map(|i| format!("svc/key-{i:02}")).collect();
    m.prefetch(&paths).await.unwrap();
    assert_eq!(proxy.count(BATCH), 3, "45 secrets, 20 a call");
    assert_eq!(proxy.count(GET), 0);
    let s = m.stats();
    assert_eq!((s.misses, s.hits, s.cached_entries), (45, 0, 45));
    assert_eq!((s.providers[0].calls, s.providers[0].found), (45, 45));

    for (i, path) in paths.iter().enumerate() {
        let v = m.get_secret(path).await.unwrap();
        assert_eq!(v.expose_secret(), format!("batch-value-{i:02}"));
    }
    let meta = m.get_secret_metadata("svc/key-07").await.unwrap();
    assert!(
        meta.id()
            .is_some_and(|arn| arn.starts_with("arn:aws:secretsmanager:")),
        "{meta:?}"
    );
    assert!(
        meta.version_id().is_some() && meta.created().is_some(),
        "{meta:?}"
    );
    assert_eq!(meta.stages(), ["AWSCURRENT"]);
    let s = m.stats();
    assert_eq!(s.hits, 45, "every read answered from the cache");
    assert_eq!(s.misses, 45, "no read missed");
    assert_eq!(proxy.count(BATCH) + proxy.count(GET), 3, "no backend call");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_batch_call_falls_back_to_single_gets_with_the_right_values() {
    let endpoint = support::aws_endpoint();
    let seed = seed_client(&endpoint);
    let prefix = support::unique_name("batch-denied");
    for i in 0..8 {
        create(
            &seed,
            &format!("{prefix}/k{i}"),
            &format!("denied-batch-value-{i}"),
        )
        .await;
    }
    let proxy = proxy(&endpoint, true).await;
    let p = aws(&proxy.endpoint, &[("SECRETS_PREFIX", &prefix)]);
    let names = ["k0", "k1", "k2", "k3", "k4"];
    let answers = p.fetch_many(&names).await;
    for (i, answer) in answers.iter().enumerate() {
        match answer.as_ref().map(|v| v.data()) {
            Ok(SecretData::Text(s)) => {
                assert_eq!(s.expose_secret(), format!("denied-batch-value-{i}"))
            }
            other => panic!("k{i}: {other:?}"),
        }
    }
    assert_eq!((proxy.count(BATCH), proxy.count(GET)), (1, 5));

    // Remembered: the next batch goes one by one without asking again.
    let m = SecretsManager::builder().provider(p).build().unwrap();
    m.prefetch(["k5", "k6", "k7"]).await.unwrap();
    assert_eq!((proxy.count(BATCH), proxy.count(GET)), (1, 8));
    assert_eq!(
        m.get_secret("k6").await.unwrap().expose_secret(),
        "denied-batch-value-6"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefetch_reports_every_missing_path_with_each_providers_outcome() {
    let endpoint = support::aws_endpoint();
    let seed = seed_client(&endpoint);
    let prefix = support::unique_name("batch-miss");
    create(&seed, &format!("{prefix}/api/key"), "aws-api-key-123456").await;
    create(
        &seed,
        &format!("{prefix}/db"),
        r#"{"user":"app","password":"aws-db-pw-123456"}"#,
    )
    .await;
    let proxy = proxy(&endpoint, false).await;
    let m = SecretsManager::builder()
        .provider(aws(&proxy.endpoint, &[("SECRETS_PREFIX", &prefix)]))
        .provider(EnvProvider::from_vars([(
            "ONLY_IN_ENV",
            "env-only-value-1",
        )]))
        .build()
        .unwrap();
    let e = m
        .prefetch([
            "api/key",
            "missing/one",
            "db#user",
            "only/in-env",
            "db#password",
            "missing/two",
        ])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(proxy.count(BATCH), 1, "five secrets, one batch (db once)");
    assert_eq!(proxy.count(GET), 0);
    let failed: Vec<_> = e.failures().iter().map(|f| f.path().unwrap()).collect();
    assert_eq!(failed, ["missing/one", "missing/two"]);
    for f in e.failures() {
        let o = f.outcomes();
        assert_eq!(o.len(), 2, "{f}");
        assert_eq!(
            (o[0].provider.as_str(), o[0].kind),
            ("aws", ErrorKind::NotFound)
        );
        assert_eq!(
            o[0].code.as_deref(),
            Some("ResourceNotFoundException"),
            "{f}"
        );
        assert_eq!(
            o[0].detail,
            format!("not found (secret id {prefix}/{})", f.path().unwrap())
        );
        assert_eq!(
            (o[1].provider.as_str(), o[1].kind),
            ("env", ErrorKind::NotFound)
        );
    }
    let shown = format!("{e} {e:?}");
    assert!(
        shown.contains("secret 'missing/one' not found: aws: not found"),
        "{e}"
    );
    for value in ["aws-api-key", "aws-db-pw", "env-only-value", "\"app\""] {
        assert!(!shown.contains(value), "the error holds a value: {shown}");
    }
    // What was found is cached, the env one included (env's default
    // fetch_many), and the fields came from one fetch of `db`.
    let before = proxy.count(BATCH) + proxy.count(GET);
    assert_eq!(
        m.get_secret("db#password").await.unwrap().expose_secret(),
        "aws-db-pw-123456"
    );
    assert_eq!(
        m.get_secret("db#user").await.unwrap().expose_secret(),
        "app"
    );
    assert_eq!(
        m.get_secret("only/in-env").await.unwrap().expose_secret(),
        "env-only-value-1"
    );
    assert_eq!(
        m.get_secret("api/key").await.unwrap().expose_secret(),
        "aws-api-key-123456"
    );
    assert_eq!(proxy.count(BATCH) + proxy.count(GET), before);
    assert_eq!(m.stats().hits, 4);
}

#[tokio::test]
async fn the_default_fetch_many_serves_env_and_vault() {
    let env = EnvProvider::from_vars([("A_KEY", "env-a-123456"), ("B_KEY", "env-b-123456")]);
    let answers = env.fetch_many(&["a/key", "nope", "b/key"]).await;
    assert!(
        matches!(&answers[0], Ok(v) if matches!(v.data(), SecretData::Text(s) if s.expose_secret() == "env-a-123456"))
    );
    assert_eq!(answers[1].as_ref().unwrap_err().kind(), ErrorKind::NotFound);
    assert!(answers[2].is_ok());

    let (addr, token) = (support::vault_addr(), support::vault_root_token());
    let folder = support::unique_name("batch-vault");
    for i in 0..3 {
        let r = support::http_request(
            "POST",
            &addr,
            &format!("/v1/secret/data/{folder}/k{i}"),
            &[
                ("X-Vault-Token", &token),
                ("Content-Type", "application/json"),
            ],
            Some(format!(r#"{{"data":{{"value":"vault-batch-{i}-123456"}}}}"#).as_bytes()),
        )
        .unwrap();
        assert!((200..300).contains(&r.status), "{r:?}");
    }
    let vault = VaultProvider::builder(&addr)
        .token(&token)
        .prefix(format!("{folder}/"))
        .build()
        .unwrap();
    let m = SecretsManager::builder().provider(vault).build().unwrap();
    m.prefetch(["k0", "k1", "k2"]).await.unwrap();
    assert_eq!(m.stats().providers[0].calls, 3);
    assert_eq!(
        m.get_secret("k1").await.unwrap().expose_secret(),
        "vault-batch-1-123456"
    );
    assert_eq!(m.stats().hits, 1);
    let e = m.prefetch(["k9"]).await.unwrap_err();
    let o = &e.failures()[0].outcomes()[0];
    assert_eq!((o.kind, o.http_status), (ErrorKind::NotFound, Some(404)));
}

#[tokio::test]
async fn outcomes_carry_the_backends_code_and_status_and_never_a_value() {
    let endpoint = support::aws_endpoint();
    let prefix = support::unique_name("batch-codes");
    let m = SecretsManager::builder()
        .provider(aws(&endpoint, &[("SECRETS_PREFIX", &prefix)]))
        .build()
        .unwrap();
    let e = m.get_secret("not/there").await.unwrap_err();
    let o = &e.outcomes()[0];
    assert_eq!(o.code.as_deref(), Some("ResourceNotFoundException"));
    // The server's own status, as it answered: AWS says 400, moto 404.
    assert_eq!(o.http_status, Some(404));

    // A token Vault does not know: 403.
    let vault = VaultProvider::builder(support::vault_addr())
        .token("hvs.not-a-real-token-s3cr3t")
        .build()
        .unwrap();
    let m = SecretsManager::builder()
        .provider(vault)
        .provider(EnvProvider::from_vars([("OTHER", "x")]))
        .build()
        .unwrap();
    let e = m.get_secret("app/db").await.unwrap_err();
    let o = &e.outcomes()[0];
    assert_eq!(
        (o.provider.as_str(), o.kind),
        ("vault", ErrorKind::AccessDenied)
    );
    assert_eq!(o.http_status, Some(403));
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains("s3cr3t"), "{shown}");
}

#[tokio::test]
async fn a_closed_loopback_port_is_one_readable_clause_naming_host_and_port() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let endpoint = format!("http://127.0.0.1:{port}");
    let m = SecretsManager::builder()
        .provider(aws(&endpoint, &[("SECRETS_AWS_MAX_ATTEMPTS", "1")]))
        .retries(0, Duration::from_millis(1), Duration::from_millis(1))
        .build()
        .unwrap();
    let e = m.get_secret("db/password").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert_eq!(
        e.outcomes()[0].detail,
        format!(
            "cannot connect to AWS Secrets Manager at 127.0.0.1:{port} (secret id db/password): connection refused"
        )
    );
    let e = m.prefetch(["db/password", "api/key"]).await.unwrap_err();
    for f in e.failures() {
        let detail = &f.outcomes()[0].detail;
        assert!(
            detail.starts_with(&format!(
                "cannot connect to AWS Secrets Manager at 127.0.0.1:{port}"
            )) && detail.contains("connection refused"),
            "{detail}"
        );
        assert!(!detail.contains("ConnectorError"), "{detail}");
    }

    // A port out of range is refused before anything connects.
    let e = SecretsManager::from_config(
        &Config::from_vars(vars("http://127.0.0.1:99999", &[])).unwrap(),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(
        e.to_string().contains(
            "SECRETS_AWS_ENDPOINT is not a valid endpoint URL: its port must be between 1 and 65535"
        ),
        "{e}"
    );
    assert!(!e.to_string().contains("99999"), "{e}");
}

#[test]
fn no_log_line_of_a_prefetch_holds_a_value_even_at_trace_level() {
    let endpoint = support::aws_endpoint();
    let prefix = support::unique_name("batch-leak");
    let value = format!("leak-canary-{}", support::unique_name("v"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let seed = seed_client(&endpoint);
        create(&seed, &format!("{prefix}/a"), &value).await;
        create(
            &seed,
            &format!("{prefix}/b"),
            &format!(r#"{{"pw":"{value}"}}"#),
        )
        .await;
    });
    let captured = support::capture::Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    support::capture::with_subscriber(subscriber, || {
        rt.block_on(async {
            let m = SecretsManager::builder()
                .provider(aws(&endpoint, &[("SECRETS_PREFIX", &prefix)]))
                .build()
                .unwrap();
            let e = m
                .prefetch(["a", "b#pw", "b#nope", "gone"])
                .await
                .unwrap_err();
            assert_eq!(e.failures().len(), 2);
            assert!(!format!("{e} {e:?}").contains(&value));
        });
    });
    let out = captured.text();
    assert!(
        out.contains("batch=3"),
        "the audit events were not captured:\n{out}"
    );
    assert!(
        out.contains("BatchGetSecretValue"),
        "SDK events were not captured:\n{out}"
    );
    assert!(!out.contains(&value), "a log line holds the secret value");
}
