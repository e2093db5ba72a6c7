//! Named provider instances: several providers of one kind in one chain,
//! each under its own name and reading its own settings (two `.env` files,
//! two KV v2 mounts on the shared OpenBao dev server).
//!
//! Run with `scripts/test --test suite named::`. Configurations come from
//! `Config::from_vars`, never from the process environment.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use secret_chain::providers::EnvProvider;
use secret_chain::{Config, ErrorKind, ExposeSecret, SecretsManager};
use serde_json::json;

use crate::support;

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Two `.env` files: `local` overrides one value of `shared` and has one
/// of its own; `shared` has one of its own.
fn two_env_files(dir: &Path) -> (String, String) {
    let local = dir.join("local.env");
    let shared = dir.join("shared.env");
    std::fs::write(
        &local,
        "DATABASE_URL=postgres://local-db-1\nLOCAL_ONLY=local-only-1\n",
    )
    .unwrap();
    std::fs::write(
        &shared,
        "DATABASE_URL=postgres://shared-db-1\nSHARED_ONLY=shared-only-1\n",
    )
    .unwrap();
    (
        local.to_str().unwrap().to_owned(),
        shared.to_str().unwrap().to_owned(),
    )
}

/// The same reads through any chain of `local` then `shared`.
async fn falls_back_in_order_under_both_names(m: &SecretsManager) {
    assert_eq!(m.provider_names(), ["local", "shared"]);
    let read = |path: &'static str| async move {
        m.get_secret(path)
            .await
            .map(|v| v.expose_secret().to_owned())
    };
    assert_eq!(read("database/url").await.unwrap(), "postgres://local-db-1");
    assert_eq!(read("local/only").await.unwrap(), "local-only-1");
    assert_eq!(read("shared/only").await.unwrap(), "shared-only-1");

    let e = read("nowhere/at/all").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(
        e.to_string(),
        "secret 'nowhere/at/all' not found: local: not found (NOWHERE_AT_ALL); \
         shared: not found (NOWHERE_AT_ALL)"
    );
    let named: Vec<_> = e.outcomes().iter().map(|o| o.provider.as_str()).collect();
    assert_eq!(named, ["local", "shared"]);

    // local answered two reads and missed two; shared was asked for those two.
    let stats: Vec<_> = m
        .stats()
        .providers
        .into_iter()
        .map(|p| (p.provider, p.calls, p.found, p.not_found))
        .collect();
    assert_eq!(
        stats,
        [
            ("local".to_owned(), 4, 2, 2),
            ("shared".to_owned(), 2, 1, 1)
        ]
    );
    let health: Vec<_> = m.health().await.into_iter().map(|h| h.provider).collect();
    assert_eq!(health, ["local", "shared"]);
}

#[tokio::test]
async fn two_env_files_under_their_own_names_through_the_builder() {
    let dir = tempfile::tempdir().unwrap();
    let (local, shared) = two_env_files(dir.path());
    let none = Vec::<(String, String)>::new;
    let m = SecretsManager::builder()
        .provider_named(
            "local",
            EnvProvider::from_vars(none())
                .with_env_file(Path::new(&local))
                .unwrap(),
        )
        .provider_named(
            "shared",
            EnvProvider::from_vars(none())
                .with_env_file(Path::new(&shared))
                .unwrap(),
        )
        .build()
        .unwrap();
    falls_back_in_order_under_both_names(&m).await;
}

#[tokio::test]
async fn two_env_files_through_secrets_providers() {
    let dir = tempfile::tempdir().unwrap();
    let (local, shared) = two_env_files(dir.path());
    let config = Config::from_vars(vars(&[
        ("SECRETS_PROVIDERS", "local=env,shared=env"),
        ("SECRETS_LOCAL_ENV_FILE", &local),
        ("SECRETS_SHARED_ENV_FILE", &shared),
        // The plain setting is what an instance without its own reads: here
        // both have their own, so this file is never opened.
        ("SECRETS_ENV_FILE", "/nonexistent/plain.env"),
    ]))
    .unwrap();
    let m = SecretsManager::from_config(&config).unwrap();
    falls_back_in_order_under_both_names(&m).await;
}

#[tokio::test]
async fn an_env_instance_without_its_own_file_reads_the_plain_setting() {
    let dir = tempfile::tempdir().unwrap();
    let (local, shared) = two_env_files(dir.path());
    let config = Config::from_vars(vars(&[
        ("SECRETS_PROVIDERS", "local=env,shared=env"),
        ("SECRETS_LOCAL_ENV_FILE", &local),
        ("SECRETS_ENV_FILE", &shared),
    ]))
    .unwrap();
    let m = SecretsManager::from_config(&config).unwrap();
    falls_back_in_order_under_both_names(&m).await;

    let missing = dir.path().join("missing.env");
    let e = Config::from_vars(vars(&[
        ("SECRETS_PROVIDERS", "local=env,shared=env"),
        ("SECRETS_LOCAL_ENV_FILE", &local),
        ("SECRETS_SHARED_ENV_FILE", missing.to_str().unwrap()),
    ]))
    .and_then(|c| SecretsManager::from_config(&c))
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(
        e.to_string()
            .starts_with("provider 'shared': SECRETS_SHARED_ENV_FILE names"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------
// Two KV v2 mounts as two named Vault instances
// ---------------------------------------------------------------------------

/// A set-up call to the shared dev server's HTTP API (root token) that must
/// succeed; retried for a few seconds because a new KV v2 mount answers
/// with an error until it has finished setting itself up.
fn bao(method: &str, path: &str, body: serde_json::Value) {
    let (addr, token) = (support::vault_addr(), support::vault_root_token());
    let body = body.to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = support::http_request(
            method,
            &addr,
            &format!("/v1/{path}"),
            &[
                ("X-Vault-Token", &token),
                ("Content-Type", "application/json"),
            ],
            Some(body.as_bytes()),
        );
        match r {
            Ok(r) if (200..300).contains(&r.status) => return,
            other if Instant::now() >= deadline => {
                panic!("set-up {method} {path} failed: {other:?}")
            }
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn kv_put(mount: &str, path: &str, value: &str) {
    bao(
        "POST",
        &format!("{mount}/data/{path}"),
        json!({ "data": { "value": value } }),
    );
}

#[tokio::test]
async fn two_kv_mounts_as_two_named_vault_instances() {
    let dr_mount = support::unique_name("kv-dr");
    bao(
        "POST",
        &format!("sys/mounts/{dr_mount}"),
        json!({ "type": "kv", "options": { "version": "2" } }),
    );
    let dir = support::unique_name("named");
    kv_put(
        "secret",
        &format!("{dir}/database/url"),
        "postgres://primary-1",
    );
    kv_put(&dr_mount, &format!("{dir}/database/url"), "postgres://dr-1");
    kv_put(&dr_mount, &format!("{dir}/only/in/dr"), "dr-only-value-1");

    let (addr, token) = (support::vault_addr(), support::vault_root_token());
    let config = Config::from_vars(vars(&[
        ("SECRETS_PROVIDERS", "primary=vault,dr=vault"),
        ("VAULT_ADDR", &addr),
        ("VAULT_TOKEN", &token),
        ("SECRETS_PREFIX", &dir),
        ("SECRETS_DR_VAULT_MOUNT", &dr_mount),
    ]))
    .unwrap();
    let m = SecretsManager::from_config(&config).unwrap();
    assert_eq!(m.provider_names(), ["primary", "dr"]);

    let (capture, guard) = support::capture::capture_thread_logs();
    assert_eq!(
        m.get_secret("database/url").await.unwrap().expose_secret(),
        "postgres://primary-1"
    );
    assert_eq!(
        m.get_secret("only/in/dr").await.unwrap().expose_secret(),
        "dr-only-value-1"
    );
    drop(guard);
    let logs = capture.text();
    let audit: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("secret_chain::audit"))
        .collect();
    assert!(
        audit.iter().any(|l| l.contains("path=\"only/in/dr\"")
            && l.contains("provider=\"primary\"")
            && l.contains("outcome=\"not_found\"")),
        "{logs}"
    );
    assert!(
        audit.iter().any(|l| l.contains("path=\"only/in/dr\"")
            && l.contains("provider=\"dr\"")
            && l.contains("outcome=\"ok\"")),
        "{logs}"
    );
    assert!(!logs.contains("dr-only-value-1"), "{logs}");

    let e = m.get_secret("nowhere").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(
        e.to_string(),
        format!(
            "secret 'nowhere' not found: primary: not found (secret/data/{dir}/nowhere); \
             dr: not found ({dr_mount}/data/{dir}/nowhere)"
        )
    );
    let named: Vec<_> = e.outcomes().iter().map(|o| o.provider.as_str()).collect();
    assert_eq!(named, ["primary", "dr"]);

    let stats: Vec<_> = m
        .stats()
        .providers
        .into_iter()
        .map(|p| (p.provider, p.found))
        .collect();
    assert_eq!(stats, [("primary".to_owned(), 1), ("dr".to_owned(), 1)]);
    let health = m.health().await;
    let answered: Vec<_> = health
        .iter()
        .map(|h| (h.provider.as_str(), h.result.is_ok()))
        .collect();
    assert_eq!(answered, [("primary", true), ("dr", true)]);
}

#[tokio::test]
async fn a_named_vault_instance_reports_its_own_settings() {
    // dr has an address of its own that is not a URL: the error names the
    // instance and the variable it read, and builds nothing.
    let (addr, token) = (support::vault_addr(), support::vault_root_token());
    let e = Config::from_vars(vars(&[
        ("SECRETS_PROVIDERS", "vault,dr=vault"),
        ("VAULT_ADDR", &addr),
        ("VAULT_TOKEN", &token),
        ("SECRETS_DR_VAULT_ADDR", "vault-dr.internal:8200"),
    ]))
    .and_then(|c| SecretsManager::from_config(&c))
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(
        e.to_string().starts_with("provider 'dr': ")
            && e.to_string().contains("SECRETS_DR_VAULT_ADDR"),
        "{e}"
    );
}
