//! Metadata on values, against the real servers: what AWS Secrets Manager
//! (moto) and Vault KV v2 (OpenBao) report about a rotated secret, what the
//! env provider reports, and that the chain answers it from its cache.
//!
//! Run with `scripts/test --test suite metadata::`.

use std::time::{Duration, SystemTime};

use secret_chain::providers::aws::AwsProvider;
use secret_chain::providers::vault::VaultProvider;
use secret_chain::providers::{EnvProvider, Provider};
use secret_chain::settings::Settings;
use secret_chain::{ExposeSecret, SecretMetadata, SecretsManager, Version};
use serde_json::{Value, json};

use crate::support;

/// Asserts that the backend dated the version within a minute of now (the
/// servers run on this machine, so their clock is ours).
#[track_caller]
fn assert_recent(created: Option<SystemTime>) {
    let created = created.expect("a created date");
    let now = SystemTime::now();
    let apart = now.duration_since(created).unwrap_or_else(|e| e.duration());
    assert!(
        apart < Duration::from_secs(60),
        "created {apart:?} away from now"
    );
}

/// Asserts that neither the metadata's `Debug` nor its id holds a value.
#[track_caller]
fn assert_no_value(m: &SecretMetadata, values: &[&str]) {
    let d = format!("{m:?}");
    for v in values {
        assert!(!d.contains(v), "{d}");
    }
}

// ---------------------------------------------------------------------------
// AWS Secrets Manager
// ---------------------------------------------------------------------------

fn aws_provider(endpoint: &str) -> AwsProvider {
    AwsProvider::from_settings(&Settings::from_vars([
        ("SECRETS_AWS_ENDPOINT", endpoint),
        ("SECRETS_AWS_REGION", support::AWS_TEST_REGION),
        ("AWS_ACCESS_KEY_ID", support::AWS_TEST_ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", support::AWS_TEST_SECRET_ACCESS_KEY),
    ]))
    .unwrap()
}

#[tokio::test]
async fn aws_reports_the_arn_version_stages_and_created_date_of_a_rotated_secret() {
    let endpoint = support::aws_endpoint();
    let id = support::unique_name("meta-aws");
    let seed = support::seed_client(&endpoint);
    let first = r#"{"password":"pw-first-1a2b3c"}"#;
    let second = r#"{"password":"pw-second-4d5e6f"}"#;
    let created = seed
        .create_secret()
        .name(&id)
        .secret_string(first)
        .send()
        .await
        .unwrap();
    let arn = created.arn.expect("moto returns the ARN");
    let v1 = created.version_id.expect("moto returns a version id");
    let v2 = seed
        .put_secret_value()
        .secret_id(&id)
        .secret_string(second)
        .send()
        .await
        .unwrap()
        .version_id
        .expect("moto returns a version id");
    assert_ne!(v1, v2);

    // What the provider itself returns.
    let p = aws_provider(&endpoint);
    let raw = p.fetch(&id, &Version::Current).await.unwrap();
    assert_eq!(raw.metadata().id(), Some(arn.as_str()));
    assert_eq!(raw.metadata().provider(), None, "the chain fills that in");

    // Through the chain: the current version.
    let m = SecretsManager::builder()
        .provider(aws_provider(&endpoint))
        .build()
        .unwrap();
    let current = m.get_secret_metadata(&id).await.unwrap();
    assert_eq!(current.id(), Some(arn.as_str()));
    assert_eq!(current.version_id(), Some(v2.as_str()));
    assert_eq!(current.stages(), ["AWSCURRENT"]);
    assert_eq!(current.provider(), Some("aws"));
    assert!(current.lease().is_none());
    assert_recent(current.created());
    assert_no_value(&current, &["pw-first", "pw-second"]);

    // The value came with it: reading it is a cache hit, no second call.
    assert_eq!(m.get_secret(&id).await.unwrap().expose_secret(), second);
    assert_eq!(m.get_secret_metadata(&id).await.unwrap(), current);
    assert_eq!(m.stats().providers[0].calls, 1);

    // The previous version, by its stage.
    let previous = Version::Stage("AWSPREVIOUS".into());
    let prev = m.get_secret_metadata_version(&id, &previous).await.unwrap();
    assert_eq!(prev.id(), Some(arn.as_str()));
    assert_eq!(prev.version_id(), Some(v1.as_str()));
    assert!(prev.has_stage("AWSPREVIOUS"), "{:?}", prev.stages());
    assert!(!prev.has_stage("AWSCURRENT"), "{:?}", prev.stages());
    assert_recent(prev.created());
    assert_eq!(
        m.get_secret_version(&id, &previous)
            .await
            .unwrap()
            .expose_secret(),
        first
    );

    // A field's metadata is its secret's.
    let field = m
        .get_secret_metadata(&format!("{id}#password"))
        .await
        .unwrap();
    assert_eq!(
        (field.id(), field.version_id()),
        (Some(arn.as_str()), Some(v2.as_str()))
    );
}

// ---------------------------------------------------------------------------
// Vault / OpenBao KV v2
// ---------------------------------------------------------------------------

/// Writes a new version of `secret/{path}` over the HTTP API (set-up,
/// outside the code under test).
async fn vault_put(path: &str, data: Value) {
    let resp = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("{}/v1/secret/data/{path}", support::vault_addr()))
        .header("X-Vault-Token", support::vault_root_token())
        .json(&json!({ "data": data }))
        .send()
        .await
        .unwrap_or_else(|e| panic!("set-up write of {path}: OpenBao did not answer: {e}"));
    assert!(
        resp.status().is_success(),
        "set-up write of {path} failed with {}",
        resp.status()
    );
}

fn vault_provider(prefix: &str) -> VaultProvider {
    VaultProvider::builder(support::vault_addr())
        .token(support::vault_root_token())
        .prefix(prefix)
        .build()
        .expect("provider builds")
}

#[tokio::test]
async fn vault_reports_the_data_path_version_and_created_date() {
    let dir = support::unique_name("meta-vault");
    vault_put(&format!("{dir}/db"), json!({ "password": "vault-pw-one" })).await;
    vault_put(&format!("{dir}/db"), json!({ "password": "vault-pw-two" })).await;

    let m = SecretsManager::builder()
        .provider(vault_provider(&dir))
        .build()
        .unwrap();
    let data_path = format!("secret/data/{dir}/db");
    let current = m.get_secret_metadata("db").await.unwrap();
    assert_eq!(current.id(), Some(data_path.as_str()));
    assert_eq!(current.version_id(), Some("2"));
    assert!(current.stages().is_empty(), "KV v2 has no stages");
    assert_eq!(current.provider(), Some("vault"));
    assert_recent(current.created());
    assert_no_value(&current, &["vault-pw"]);
    assert_eq!(
        m.get_secret("db").await.unwrap().expose_secret(),
        "vault-pw-two"
    );
    assert_eq!(m.stats().providers[0].calls, 1, "the value came with it");

    let first = m
        .get_secret_metadata_version("db", &Version::Id("1".into()))
        .await
        .unwrap();
    assert_eq!(first.id(), Some(data_path.as_str()));
    assert_eq!(first.version_id(), Some("1"));
    assert_recent(first.created());
    assert!(
        first.created() <= current.created(),
        "version 1 was written first"
    );
}

// ---------------------------------------------------------------------------
// Environment and .env file
// ---------------------------------------------------------------------------

#[tokio::test]
async fn env_reports_the_variable_and_the_file_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(".env");
    std::fs::write(&file, "STRIPE_API_KEY=sk_test_from_file_1234\n").unwrap();
    let env = EnvProvider::from_vars([("DATABASE_URL", "postgres://app:pw-env-5678@db/app")])
        .with_env_file(&file)
        .unwrap();
    let m = SecretsManager::builder().provider(env).build().unwrap();

    let from_env = m.get_secret_metadata("database/url").await.unwrap();
    assert_eq!(from_env.id(), Some("DATABASE_URL"));
    assert_eq!(from_env.provider(), Some("env"));
    assert_eq!(
        (from_env.version_id(), from_env.created()),
        (None, None),
        "the environment has no versions or dates"
    );
    let from_file = m.get_secret_metadata("stripe/api-key").await.unwrap();
    assert_eq!(
        from_file.id(),
        Some(format!("{}:STRIPE_API_KEY", file.display()).as_str())
    );
    assert_no_value(&from_env, &["pw-env"]);
    assert_no_value(&from_file, &["sk_test_from_file"]);
    assert_eq!(
        m.get_secret_metadata_blocking("database/url").unwrap(),
        from_env,
        "a hit, answered inside the runtime without blocking it"
    );
}
