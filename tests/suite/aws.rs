//! The AWS Secrets Manager provider against a real moto server on loopback.
//!
//! Run with `bash scripts/test --test aws` (it starts the shared moto
//! server); tests that stop, freeze or lock down a server start a private
//! one.

#![cfg(feature = "aws")]

use crate::support;

use std::collections::HashMap;

use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::primitives::Blob;
use secret_chain::providers::aws::AwsProvider;
use secret_chain::providers::{EnvProvider, Provider, SecretData, SecretValue};
use secret_chain::settings::Settings;
use secret_chain::{Config, ErrorKind, ExposeSecret, SecretsManager, Version};

use crate::support::seed_client;

/// The variables a deployment pointing at `endpoint` would set.
fn vars(endpoint: &str, extra: &[(&str, &str)]) -> HashMap<String, String> {
    support::aws_vars(
        &[
            ("SECRETS_PROVIDERS", "aws"),
            ("SECRETS_AWS_ENDPOINT", endpoint),
        ],
        extra,
    )
}

fn provider(endpoint: &str, extra: &[(&str, &str)]) -> AwsProvider {
    AwsProvider::from_settings(&Settings::from_vars(vars(endpoint, extra))).unwrap()
}

async fn create(client: &Client, id: &str, value: &str) -> String {
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
        })
        .version_id
        .expect("moto returns a version id")
}

fn text(v: SecretValue) -> String {
    match v.data() {
        SecretData::Text(s) => s.expose_secret().to_owned(),
        other => panic!("expected text, got {other:?}"),
    }
}

#[tokio::test]
async fn text_secret_and_json_field_are_read_through_the_chain() {
    let endpoint = support::aws_endpoint();
    let prefix = format!("/{}", support::unique_name("aws-text"));
    let seed = seed_client(&endpoint);
    create(&seed, &format!("{prefix}/stripe/api-key"), "sk_live_abc123").await;
    create(
        &seed,
        &format!("{prefix}/database"),
        r#"{"user":"app","password":"pw-9f8e7d","port":5432}"#,
    )
    .await;

    let config = Config::from_vars(vars(&endpoint, &[("SECRETS_PREFIX", &prefix)])).unwrap();
    let manager = SecretsManager::from_config(&config).unwrap();
    assert_eq!(manager.provider_names(), vec!["aws"]);
    assert_eq!(
        manager
            .get_secret("stripe/api-key")
            .await
            .unwrap()
            .expose_secret(),
        "sk_live_abc123"
    );
    assert_eq!(
        manager
            .get_secret("database#password")
            .await
            .unwrap()
            .expose_secret(),
        "pw-9f8e7d"
    );
    assert_eq!(
        manager
            .get_secret("database#port")
            .await
            .unwrap()
            .expose_secret(),
        "5432"
    );
}

#[tokio::test]
async fn binary_secret_is_read_as_bytes() {
    let endpoint = support::aws_endpoint();
    let id = support::unique_name("aws-binary");
    let bytes = vec![0u8, 159, 146, 150, 255, 1, 2, 3];
    seed_client(&endpoint)
        .create_secret()
        .name(&id)
        .secret_binary(Blob::new(bytes.clone()))
        .send()
        .await
        .unwrap();

    let p = provider(&endpoint, &[]);
    match p.fetch(&id, &Version::Current).await.unwrap().data() {
        SecretData::Binary(b) => assert_eq!(b.expose_secret(), bytes.as_slice()),
        other => panic!("expected binary, got {other:?}"),
    }
    let manager = SecretsManager::builder().provider(p).build().unwrap();
    assert_eq!(
        manager.get_secret_bytes(&id).await.unwrap().expose_secret(),
        bytes.as_slice()
    );
    let e = manager.get_secret(&id).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidValue, "{e}");
}

#[tokio::test]
async fn previous_stage_and_version_id_read_the_older_value() {
    let endpoint = support::aws_endpoint();
    let id = support::unique_name("aws-rotated");
    let seed = seed_client(&endpoint);
    let first_version = create(&seed, &id, "password-v1").await;
    seed.put_secret_value()
        .secret_id(&id)
        .secret_string("password-v2")
        .send()
        .await
        .unwrap();

    let p = provider(&endpoint, &[]);
    assert_eq!(
        text(p.fetch(&id, &Version::Current).await.unwrap()),
        "password-v2"
    );
    assert_eq!(
        text(
            p.fetch(&id, &Version::Stage("AWSPREVIOUS".into()))
                .await
                .unwrap()
        ),
        "password-v1"
    );
    assert_eq!(
        text(p.fetch(&id, &Version::Id(first_version)).await.unwrap()),
        "password-v1"
    );

    let e = p
        .fetch(&id, &Version::Stage("NO_SUCH_STAGE".into()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains("stage NO_SUCH_STAGE"), "{e}");
}

#[tokio::test]
async fn missing_secret_falls_through_to_env_and_the_error_lists_both() {
    let endpoint = support::aws_endpoint();
    let prefix = support::unique_name("aws-miss");
    let p = provider(&endpoint, &[("SECRETS_PREFIX", &prefix)]);
    let manager = SecretsManager::builder()
        .provider(p)
        .provider(EnvProvider::from_vars([(
            "FEATURE_FLAG_KEY",
            "from-env-1234",
        )]))
        .build()
        .unwrap();

    assert_eq!(
        manager
            .get_secret("feature/flag-key")
            .await
            .unwrap()
            .expose_secret(),
        "from-env-1234"
    );

    let e = manager.get_secret("database/url").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let outcomes = e.outcomes();
    assert_eq!(outcomes.len(), 2, "{e}");
    assert_eq!(outcomes[0].provider, "aws");
    assert_eq!(outcomes[0].kind, ErrorKind::NotFound);
    assert_eq!(
        outcomes[0].detail,
        format!("not found (secret id {prefix}/database/url)")
    );
    assert_eq!(outcomes[1].provider, "env");
}

#[tokio::test]
async fn list_returns_names_under_the_prefix_across_pages() {
    let endpoint = support::aws_endpoint();
    let prefix = support::unique_name("aws-list");
    let seed = seed_client(&endpoint);
    // More than one page (ListSecrets pages hold at most 100 entries).
    for i in 0..105 {
        create(&seed, &format!("{prefix}/svc/key-{i:03}"), "v").await;
    }
    create(&seed, &format!("{prefix}/other/one"), "v").await;
    create(&seed, &format!("{prefix}-sibling/svc/key-000"), "v").await;

    let p = provider(&endpoint, &[("SECRETS_PREFIX", &prefix)]);
    let names = p.list("svc/").await.unwrap();
    assert_eq!(names.len(), 105, "{names:?}");
    assert_eq!(names[0], "svc/key-000");
    assert_eq!(names[104], "svc/key-104");

    let all = p.list("").await.unwrap();
    assert_eq!(
        all.len(),
        106,
        "the sibling prefix must not be listed: {all:?}"
    );
    assert!(all.contains(&"other/one".to_owned()));
    p.health().await.unwrap();
}

#[tokio::test]
async fn stopped_server_is_unavailable_and_the_chain_falls_through() {
    let mut moto = support::spawn_moto();
    let id = support::unique_name("aws-down");
    create(&seed_client(moto.endpoint()), &id, "only-in-aws").await;
    let p = provider(moto.endpoint(), &[("SECRETS_AWS_MAX_ATTEMPTS", "2")]);
    assert_eq!(
        text(p.fetch(&id, &Version::Current).await.unwrap()),
        "only-in-aws"
    );

    moto.stop();
    let e = p.fetch(&id, &Version::Current).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    // One readable clause naming the provider and host:port, not the
    // connector's raw `ConnectorError { .. }`.
    let at = format!("AWS Secrets Manager at 127.0.0.1:{}", moto.port());
    assert!(e.to_string().contains(&at), "{e}");
    assert!(e.to_string().ends_with("connection refused"), "{e}");
    assert!(!e.to_string().contains("ConnectorError"), "{e}");
    assert_eq!(p.health().await.unwrap_err().kind(), ErrorKind::Unavailable);

    let manager = SecretsManager::builder()
        .provider(p)
        .provider(EnvProvider::from_vars([(
            "FALLBACK_KEY",
            "env-fallback-value",
        )]))
        .build()
        .unwrap();
    assert_eq!(
        manager
            .get_secret("fallback/key")
            .await
            .unwrap()
            .expose_secret(),
        "env-fallback-value"
    );
}

#[tokio::test]
async fn frozen_server_times_out_as_unavailable() {
    let mut moto = support::spawn_moto();
    let p = provider(
        moto.endpoint(),
        &[
            ("SECRETS_AWS_TIMEOUT_MS", "300"),
            ("SECRETS_AWS_MAX_ATTEMPTS", "1"),
        ],
    );
    moto.freeze();
    let e = p.fetch("anything", &Version::Current).await.unwrap_err();
    moto.thaw();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(e.to_string().contains("timed out"), "{e}");
    assert!(e.to_string().contains("300 ms"), "{e}");
}

#[test]
fn blocking_reads_work_outside_a_runtime() {
    let endpoint = support::aws_endpoint();
    let id = support::unique_name("aws-blocking");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(create(&seed_client(&endpoint), &id, "blocking-value-42"));
    drop(rt);

    // The SDK client is created lazily inside the manager's own runtime.
    let manager = SecretsManager::builder()
        .provider(provider(&endpoint, &[]))
        .build()
        .unwrap();
    assert_eq!(
        manager.get_secret_blocking(&id).unwrap().expose_secret(),
        "blocking-value-42"
    );
    assert!(manager.list_secrets_blocking("").unwrap().contains(&id));
}

/// A private moto that checks credentials on every request
/// (`INITIAL_NO_AUTH_ACTION_COUNT=0`); killed with its process group on drop.
struct AuthMoto {
    child: Child,
    endpoint: String,
}

impl AuthMoto {
    fn start() -> AuthMoto {
        let port = support::free_port();
        let log_dir = std::env::var_os("SECRET_CHAIN_TEST_LOG_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let log = std::fs::File::create(log_dir.join(format!("private-moto-auth-{port}.log")))
            .expect("create the moto log file");
        let child = Command::new(support::moto_bin())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "0")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start moto_server");
        // Registered like support's private servers, so that scripts/test
        // stops it even if this test is killed before the guard drops.
        if let Some(reg) = AuthMoto::registry_file(child.id()) {
            let _ = std::fs::File::create(reg);
        }
        let guard = AuthMoto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto with auth did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        guard
    }
}

impl AuthMoto {
    fn registry_file(pid: u32) -> Option<std::path::PathBuf> {
        std::env::var_os("SECRET_CHAIN_TEST_RUN_DIR")
            .map(|d| std::path::PathBuf::from(d).join(format!("pgid-{pid}")))
    }
}

impl Drop for AuthMoto {
    fn drop(&mut self) {
        if let Some(reg) = AuthMoto::registry_file(self.child.id()) {
            let _ = std::fs::remove_file(reg);
        }
        // Negative pid: the whole process group.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn unknown_credentials_are_access_denied_and_the_chain_moves_on() {
    let moto = AuthMoto::start();
    let p = provider(&moto.endpoint, &[]);
    let e = p.fetch("db/password", &Version::Current).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");

    let manager = SecretsManager::builder()
        .provider(p)
        .provider(EnvProvider::from_vars([("DB_PASSWORD", "env-pw-5678")]))
        .build()
        .unwrap();
    assert_eq!(
        manager
            .get_secret("db/password")
            .await
            .unwrap()
            .expose_secret(),
        "env-pw-5678"
    );

    let strict = SecretsManager::builder()
        .provider(provider(&moto.endpoint, &[]))
        .provider(EnvProvider::from_vars([("DB_PASSWORD", "env-pw-5678")]))
        .stop_on_access_denied(true)
        .build()
        .unwrap();
    let e = strict.get_secret("db/password").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");
}

#[test]
fn no_log_line_or_error_holds_a_value_even_at_trace_level() {
    let endpoint = support::aws_endpoint();
    let id = support::unique_name("aws-leak");
    let value = format!("leak-canary-{}", support::unique_name("v"));
    let json_value = format!(r#"{{"password":"{value}"}}"#);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(create(&seed_client(&endpoint), &id, &json_value));

    let captured = support::capture::Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    support::capture::with_subscriber(subscriber, || {
        rt.block_on(async {
            let manager = SecretsManager::builder()
                .provider(provider(&endpoint, &[]))
                .build()
                .unwrap();
            let got = manager.get_secret(&format!("{id}#password")).await.unwrap();
            assert_eq!(got.expose_secret(), value);
            // A field that is not there: the error must not quote the JSON.
            let e = manager.get_secret(&format!("{id}#user")).await.unwrap_err();
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains(&value), "error leaks the value: {shown}");
            let fetched = provider(&endpoint, &[])
                .fetch(&id, &Version::Current)
                .await
                .unwrap();
            assert!(!format!("{fetched:?}").contains(&value));
        });
    });
    let out = captured.text();
    assert!(
        out.contains("secret fetch"),
        "the audit event was not captured:\n{out}"
    );
    assert!(
        out.contains("aws_smithy_runtime"),
        "SDK trace events were not captured:\n{out}"
    );
    assert!(!out.contains(&value), "a log line holds the secret value");
}
