//! `vault-dynamic` against OpenBao's database secrets engine and a real
//! PostgreSQL, both started by `scripts/test`: credentials renewed,
//! replaced before their maximum TTL, told through `watch`, never served
//! expired, revoked at shutdown; and every credential handed out logs in
//! to PostgreSQL when it is handed out.
//!
//! Each test enables the engine at a mount of its own (roles with
//! `default_ttl=6s`, `max_ttl=15s`), so they run in parallel on one server.

#![cfg(feature = "vault")]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use secret_chain::providers::vault::{VaultDynamicProvider, VaultProvider};
use secret_chain::{Config, ErrorKind, ExposeSecret, SecretsManager};
use serde::Deserialize;
use serde_json::json;

use crate::support;
use crate::vault::Admin;

#[derive(Deserialize, Clone, PartialEq, Eq, Debug)]
struct DbCreds {
    username: String,
    password: String,
}

#[track_caller]
fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run `scripts/test`, which starts PostgreSQL for these tests")
    })
}

/// Whether `creds` log in to the test PostgreSQL now (a password login
/// over TCP: a dropped or expired role cannot).
async fn logs_in(creds: &DbCreds) -> bool {
    let addr = env("SECRET_CHAIN_TEST_PG_ADDR");
    let (host, port) = addr.rsplit_once(':').unwrap();
    let out = tokio::process::Command::new(env("SECRET_CHAIN_TEST_PSQL"))
        .args(["-X", "-w", "-tA", "-h", host, "-p", port, "-d", "postgres"])
        .args(["-U", &creds.username, "-c", "select 1"])
        .env("PGPASSWORD", &creds.password)
        .env("PGCONNECT_TIMEOUT", "5")
        .output()
        .await
        .expect("psql runs");
    out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "1"
}

/// Enables the database engine at a new mount of `admin`'s server, pointed
/// at the test PostgreSQL, with role `app` (`default_ttl`, `max_ttl`).
/// Returns the mount.
async fn database_engine(admin: &Admin, default_ttl: &str, max_ttl: &str) -> String {
    let mount = support::unique_name("db");
    admin
        .ok(
            "POST",
            &format!("sys/mounts/{mount}"),
            Some(json!({ "type": "database" })),
        )
        .await;
    let addr = env("SECRET_CHAIN_TEST_PG_ADDR");
    admin
        .ok(
            "POST",
            &format!("{mount}/config/pg"),
            Some(json!({
                "plugin_name": "postgresql-database-plugin",
                "connection_url": format!("postgresql://{{{{username}}}}:{{{{password}}}}@{addr}/postgres?sslmode=disable"),
                "username": "postgres",
                "password": env("SECRET_CHAIN_TEST_PG_PASSWORD"),
                "allowed_roles": "*",
            })),
        )
        .await;
    admin
        .ok(
            "POST",
            &format!("{mount}/roles/app"),
            Some(json!({
                "db_name": "pg",
                "creation_statements": [
                    "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';"
                ],
                "default_ttl": default_ttl,
                "max_ttl": max_ttl,
            })),
        )
        .await;
    mount
}

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A manager whose chain is `db=vault-dynamic` on `addr`, from the
/// environment variables a deployment would set.
fn manager(addr: &str, token: &str) -> SecretsManager {
    let config = Config::from_vars(vars(&[
        ("SECRETS_PROVIDERS", "db=vault-dynamic"),
        ("VAULT_ADDR", addr),
        ("VAULT_TOKEN", token),
        ("SECRETS_PREFIX", "ignored/by/dynamic"),
    ]))
    .unwrap();
    SecretsManager::from_config(&config).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn db_credentials_are_renewed_then_replaced_before_max_ttl_and_every_one_logs_in() {
    let admin = Admin::shared();
    let mount = database_engine(&admin, "6s", "15s").await;
    let path = format!("{mount}/creds/app");
    let m = manager(&admin.addr, &admin.token);
    let mut rx = m.watch(&path).await.unwrap();

    // (credential, first seen, last seen)
    let mut seen: Vec<(DbCreds, Instant, Instant)> = Vec::new();
    let mut told: Vec<DbCreds> = Vec::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(40) {
        let creds: DbCreds = m
            .get_secret_json(&path)
            .await
            .unwrap_or_else(|e| panic!("a read failed after {:?}: {e}", start.elapsed()));
        assert!(
            logs_in(&creds).await,
            "{} does not log in at {:?}",
            creds.username,
            start.elapsed()
        );
        let now = Instant::now();
        match seen.last_mut() {
            Some(last) if last.0 == creds => last.2 = now,
            _ => seen.push((creds, now, now)),
        }
        if rx.has_changed().unwrap() {
            let v: DbCreds = serde_json::from_str(rx.borrow_and_update().expose_secret()).unwrap();
            told.push(v);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    let first = &seen[0];
    assert!(
        first.2 - first.1 > Duration::from_secs(7),
        "the first credential lived past its 6 s TTL (renewed): {:?}",
        first.2 - first.1
    );
    assert!(
        seen.len() >= 3,
        "new credentials before each max TTL: {}",
        seen.len()
    );
    for pair in seen.windows(2) {
        assert!(
            pair[1].1 - pair[0].1 < Duration::from_secs(15),
            "a new credential came {:?} after the previous one",
            pair[1].1 - pair[0].1
        );
    }
    let replaced: Vec<DbCreds> = seen[1..].iter().map(|s| s.0.clone()).collect();
    assert_eq!(told, replaced, "each new credential arrived through watch");
    let s = m.stats();
    assert!(s.lease_renewals >= 2, "{s:?}");
    assert!(s.lease_replacements as usize >= seen.len() - 1, "{s:?}");
    assert_eq!(s.leases_held, 1);

    // Shutdown revokes: the credential in use stops logging in.
    let last = seen.last().unwrap().0.clone();
    assert!(logs_in(&last).await);
    m.shutdown().await.unwrap();
    assert!(!logs_in(&last).await, "revoked at shutdown");
    assert!(m.stats().leases_revoked >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_renewal_brings_new_credentials_before_the_old_ones_end() {
    let admin = Admin::shared();
    let mount = database_engine(&admin, "6s", "15s").await;
    let path = format!("{mount}/creds/app");
    // May read credentials, may not renew their leases.
    let policy = support::unique_name("creds-only");
    admin
        .policy(
            &policy,
            &format!(r#"path "{path}" {{ capabilities = ["read"] }}"#),
        )
        .await;
    // Without the default policy, which lets a token renew its own leases.
    let created = admin
        .ok(
            "POST",
            "auth/token/create",
            Some(json!({ "policies": [policy], "no_default_policy": true, "ttl": "1h" })),
        )
        .await;
    let token = created["auth"]["client_token"].as_str().unwrap().to_owned();
    let m = manager(&admin.addr, &token);

    let first: DbCreds = m.get_secret_json(&path).await.unwrap();
    let start = Instant::now();
    let mut replaced_after = None;
    while start.elapsed() < Duration::from_secs(9) {
        let creds: DbCreds = m.get_secret_json(&path).await.unwrap();
        assert!(
            logs_in(&creds).await,
            "{} at {:?}",
            creds.username,
            start.elapsed()
        );
        if creds != first && replaced_after.is_none() {
            replaced_after = Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let after = replaced_after.expect("replaced");
    assert!(
        after < Duration::from_secs(6),
        "before the first lease ended: {after:?}"
    );
    let s = m.stats();
    assert!(s.lease_renewal_failures >= 1, "{s:?}");
    assert_eq!(s.lease_renewals, 0, "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_vault_down_the_credential_is_served_until_its_lease_ends_then_a_clear_error() {
    let token = "private-root-dynamic-down";
    let mut server = support::spawn_bao(token);
    let admin = Admin::new(server.endpoint(), token);
    let mount = database_engine(&admin, "6s", "15s").await;
    let path = format!("{mount}/creds/app");
    let vault = VaultProvider::builder(server.endpoint())
        .token(token)
        .connect_timeout(Duration::from_millis(300))
        .request_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let m = SecretsManager::builder()
        .provider(VaultDynamicProvider::new(vault))
        .retries(0, Duration::from_millis(1), Duration::from_millis(1))
        .max_stale(Duration::from_secs(3600))
        .build()
        .unwrap();
    let creds: DbCreds = m.get_secret_json(&path).await.unwrap();
    let fetched = Instant::now();
    server.stop();

    let error = loop {
        match m.get_secret_json::<DbCreds>(&path).await {
            Ok(c) => {
                assert_eq!(c, creds);
                assert!(
                    logs_in(&c).await,
                    "served after it stopped working: {:?}",
                    fetched.elapsed()
                );
            }
            Err(e) => break e,
        }
        assert!(
            fetched.elapsed() < Duration::from_secs(8),
            "never served past its lease"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let served = fetched.elapsed();
    assert!(
        served > Duration::from_secs(4),
        "served while its lease lasted: {served:?}"
    );
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    let text = error.to_string();
    assert!(
        text.contains(&path) && text.contains("vault-dynamic"),
        "{text}"
    );
    assert!(
        !text.contains(&creds.password) && !text.contains(token),
        "{text}"
    );
    assert!(m.stats().lease_renewal_failures >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_come_from_one_lease_and_shutdown_revokes_it() {
    let admin = Admin::shared();
    let mount = database_engine(&admin, "1m", "5m").await;
    let path = format!("{mount}/creds/app");
    let m = manager(&admin.addr, &admin.token);
    let (user_path, password_path) = (format!("{path}#username"), format!("{path}#password"));
    let (user, password) = tokio::join!(m.get_secret(&user_path), m.get_secret(&password_path));
    let creds = DbCreds {
        username: user.unwrap().expose_secret().to_owned(),
        password: password.unwrap().expose_secret().to_owned(),
    };
    assert!(logs_in(&creds).await, "the two fields are one credential");
    let meta = m.get_secret_metadata(&path).await.unwrap();
    let lease = meta.lease().expect("a lease").clone();
    assert!(lease.renewable());
    assert_eq!(lease.duration(), Duration::from_secs(60));
    assert_eq!(meta.provider(), Some("db"));

    m.shutdown().await.unwrap();
    assert!(!logs_in(&creds).await, "revoked");
    let (status, _) = admin
        .call(
            "PUT",
            "sys/leases/lookup",
            Some(json!({ "lease_id": lease.id() })),
        )
        .await;
    assert_eq!(status, 400, "the lease is gone");
}

#[tokio::test]
async fn engines_without_leases_and_unknown_roles() {
    let admin = Admin::shared();
    // TOTP: a code, no lease.
    let totp = support::unique_name("totp");
    admin
        .ok(
            "POST",
            &format!("sys/mounts/{totp}"),
            Some(json!({ "type": "totp" })),
        )
        .await;
    admin
        .ok(
            "POST",
            &format!("{totp}/keys/app"),
            Some(json!({ "generate": true, "issuer": "secret-chain", "account_name": "ci" })),
        )
        .await;
    let vault = VaultProvider::builder(&admin.addr)
        .token(&admin.token)
        .build()
        .unwrap();
    let m = SecretsManager::builder()
        .provider(VaultDynamicProvider::new(vault))
        .provider(secret_chain::providers::EnvProvider::from_vars([(
            "DATABASE_URL",
            "postgres://env",
        )]))
        .build()
        .unwrap();
    let code = m
        .get_secret(&format!("{totp}/code/app#code"))
        .await
        .unwrap();
    assert!(
        code.expose_secret().len() == 6 && code.expose_secret().bytes().all(|b| b.is_ascii_digit()),
        "a TOTP code: {} characters, a JSON object: {}",
        code.expose_secret().len(),
        code.expose_secret().starts_with('{')
    );
    assert!(
        m.get_secret_metadata(&format!("{totp}/code/app"))
            .await
            .unwrap()
            .lease()
            .is_none()
    );
    assert_eq!(m.stats().leases_held, 0);
    // An unknown role is not found, and the chain moves on; a KV-style
    // path is read as written, never under a KV mount.
    let mount = database_engine(&admin, "1m", "5m").await;
    let e = m
        .get_secret(&format!("{mount}/creds/nobody"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert_eq!(
        m.get_secret("database/url").await.unwrap().expose_secret(),
        "postgres://env"
    );
    let names = m.list_secrets(&format!("{mount}/roles/")).await.unwrap();
    assert_eq!(names, [format!("{mount}/roles/app")]);
}
