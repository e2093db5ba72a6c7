//! The Vault / OpenBao KV v2 provider against a real OpenBao dev server on
//! loopback.
//!
//! Run with `bash scripts/test --test vault` (it starts the shared OpenBao
//! dev server). Every test works under its own unique KV folder (and its own
//! AppRole mount), because tests run in parallel against one server; tests
//! that stop or seal a server start a private one.

#![cfg(feature = "vault")]

use crate::support;

use std::collections::HashMap;

use std::sync::Arc;
use std::time::Duration;

use secret_chain::providers::vault::VaultProvider;
use secret_chain::providers::{EnvProvider, Provider, SecretData, SecretValue};
use secret_chain::settings::Settings;
use secret_chain::{Clock, Config, ErrorKind, ExposeSecret, SecretsManager, Version};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------
// Set-up over the HTTP API (outside the code under test)
// ---------------------------------------------------------------------------

pub(crate) struct Admin {
    http: reqwest::Client,
    pub(crate) addr: String,
    pub(crate) token: String,
}

struct AppRole {
    mount: String,
    role_id: String,
    secret_id: String,
}

impl Admin {
    /// The shared dev server with its root token.
    pub(crate) fn shared() -> Admin {
        Admin::new(&support::vault_addr(), &support::vault_root_token())
    }

    pub(crate) fn new(addr: &str, token: &str) -> Admin {
        Admin::with_client(
            reqwest::Client::builder().no_proxy().build().unwrap(),
            addr,
            token,
        )
    }

    fn with_client(http: reqwest::Client, addr: &str, token: &str) -> Admin {
        Admin {
            http,
            addr: addr.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        }
    }

    pub(crate) async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .http
            .request(method.clone(), format!("{}/v1/{path}", self.addr))
            .header("X-Vault-Token", &self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("set-up {method} {path}: OpenBao did not answer: {e}"));
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A set-up call that must succeed (2xx).
    pub(crate) async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, v) = self.call(method, path, body).await;
        assert!(
            (200..300).contains(&status),
            "set-up {method} {path} failed with {status}: {v}"
        );
        v
    }

    /// Writes a new version of `secret/{path}`.
    pub(crate) async fn kv_put(&self, path: &str, data: Value) {
        self.ok(
            "POST",
            &format!("secret/data/{path}"),
            Some(json!({ "data": data })),
        )
        .await;
    }

    pub(crate) async fn policy(&self, name: &str, hcl: &str) {
        self.ok(
            "PUT",
            &format!("sys/policies/acl/{name}"),
            Some(json!({ "policy": hcl })),
        )
        .await;
    }

    /// A new token with these policies (and the default one).
    pub(crate) async fn token_with(&self, policies: &[&str]) -> String {
        let v = self
            .ok(
                "POST",
                "auth/token/create",
                Some(json!({ "policies": policies, "ttl": "1h" })),
            )
            .await;
        v["auth"]["client_token"].as_str().unwrap().to_owned()
    }

    /// Enables AppRole at a unique mount and creates a role with `policies`
    /// and the given token TTLs; returns its role id and a fresh secret id.
    async fn approle(&self, policies: &[&str], token_ttl: &str, token_max_ttl: &str) -> AppRole {
        let mount = support::unique_name("approle");
        self.ok(
            "POST",
            &format!("sys/auth/{mount}"),
            Some(json!({ "type": "approle" })),
        )
        .await;
        self.ok(
            "POST",
            &format!("auth/{mount}/role/app"),
            Some(json!({
                "token_policies": policies,
                "token_ttl": token_ttl,
                "token_max_ttl": token_max_ttl,
            })),
        )
        .await;
        let v = self
            .ok("GET", &format!("auth/{mount}/role/app/role-id"), None)
            .await;
        let role_id = v["data"]["role_id"].as_str().unwrap().to_owned();
        let v = self
            .ok("POST", &format!("auth/{mount}/role/app/secret-id"), None)
            .await;
        let secret_id = v["data"]["secret_id"].as_str().unwrap().to_owned();
        AppRole {
            mount,
            role_id,
            secret_id,
        }
    }

    /// A policy that may read and list everything under `secret/{folder}/`.
    pub(crate) async fn read_policy(&self, folder: &str) -> String {
        let name = support::unique_name("read");
        self.policy(
            &name,
            &format!(
                r#"path "secret/data/{folder}/*" {{ capabilities = ["read"] }}
path "secret/metadata/{folder}/*" {{ capabilities = ["list"] }}"#
            ),
        )
        .await;
        name
    }
}

/// A unique folder for one test.
pub(crate) fn folder(test: &str) -> String {
    support::unique_name(&format!("vt-{test}"))
}

fn token_provider(addr: &str, token: &str, prefix: &str) -> VaultProvider {
    VaultProvider::builder(addr)
        .token(token)
        .prefix(prefix)
        .build()
        .expect("provider builds")
}

fn manager(p: VaultProvider) -> SecretsManager {
    SecretsManager::builder().provider(p).build().unwrap()
}

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn document(v: SecretValue) -> Value {
    match v.data() {
        SecretData::Document(s) => serde_json::from_str(s.expose_secret()).unwrap(),
        other => panic!("expected a document, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

#[tokio::test]
async fn token_auth_reads_a_single_key_secret_as_its_value() {
    let admin = Admin::shared();
    let dir = folder("single");
    admin
        .kv_put(
            &format!("{dir}/stripe"),
            json!({ "api_key": "sk_test_single_4242" }),
        )
        .await;

    let p = token_provider(&admin.addr, &admin.token, &dir);
    let raw = p.fetch("stripe", &Version::Current).await.unwrap();
    assert_eq!(document(raw), json!({ "api_key": "sk_test_single_4242" }));

    let m = manager(p);
    let v = m.get_secret("stripe").await.unwrap();
    assert_eq!(v.expose_secret(), "sk_test_single_4242");
}

#[tokio::test]
async fn field_selection_and_whole_object_json() {
    let admin = Admin::shared();
    let dir = folder("fields");
    let data = json!({ "user": "app", "password": "pw-fields-77", "port": 5432 });
    admin.kv_put(&format!("{dir}/db"), data.clone()).await;

    let m = manager(token_provider(
        &admin.addr,
        &admin.token,
        &format!("/{dir}"),
    ));
    assert_eq!(
        m.get_secret("db#password").await.unwrap().expose_secret(),
        "pw-fields-77"
    );
    assert_eq!(
        m.get_secret("db#port").await.unwrap().expose_secret(),
        "5432"
    );
    let whole: Value =
        serde_json::from_str(m.get_secret("db").await.unwrap().expose_secret()).unwrap();
    assert_eq!(whole, data);

    let e = m.get_secret("db#nope").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidJson);
    assert!(e.to_string().contains("'nope'"), "{e}");
    assert!(!e.to_string().contains("pw-fields-77"), "{e}");
}

#[tokio::test]
async fn nested_list_returns_paths_relative_to_the_prefix() {
    let admin = Admin::shared();
    let dir = folder("list");
    for p in ["a", "dir/b", "dir/sub/c", "dir/sub/deeper/d", "other/e"] {
        admin.kv_put(&format!("{dir}/{p}"), json!({ "v": p })).await;
    }
    let p = token_provider(&admin.addr, &admin.token, &dir);
    assert_eq!(
        p.list("").await.unwrap(),
        ["a", "dir/b", "dir/sub/c", "dir/sub/deeper/d", "other/e"]
    );
    assert_eq!(
        p.list("dir/").await.unwrap(),
        ["dir/b", "dir/sub/c", "dir/sub/deeper/d"]
    );
    assert_eq!(
        p.list("dir/s").await.unwrap(),
        ["dir/sub/c", "dir/sub/deeper/d"]
    );
    assert_eq!(p.list("o").await.unwrap(), ["other/e"]);
    assert_eq!(p.list("/other/").await.unwrap(), ["other/e"]);
    assert!(
        p.list("missing/").await.unwrap().is_empty(),
        "a 404 on list is an empty list"
    );

    let m = manager(p);
    assert_eq!(
        m.list_secrets("dir/sub/").await.unwrap(),
        ["dir/sub/c", "dir/sub/deeper/d"]
    );
}

#[tokio::test]
async fn a_version_id_reads_that_version() {
    let admin = Admin::shared();
    let dir = folder("versions");
    admin
        .kv_put(&format!("{dir}/rotating"), json!({ "value": "first-v1" }))
        .await;
    admin
        .kv_put(&format!("{dir}/rotating"), json!({ "value": "second-v2" }))
        .await;

    let m = manager(token_provider(&admin.addr, &admin.token, &dir));
    assert_eq!(
        m.get_secret("rotating").await.unwrap().expose_secret(),
        "second-v2"
    );
    let v1 = m
        .get_secret_version("rotating", &Version::Id("1".into()))
        .await
        .unwrap();
    assert_eq!(v1.expose_secret(), "first-v1");
    let v2 = m
        .get_secret_version("rotating", &Version::Id("2".into()))
        .await
        .unwrap();
    assert_eq!(v2.expose_secret(), "second-v2");

    let e = m
        .get_secret_version("rotating", &Version::Id("9".into()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");

    let p = token_provider(&admin.addr, &admin.token, &dir);
    let e = p
        .fetch("rotating", &Version::Id("abc".into()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(
        e.to_string().contains("positive numbers") && e.to_string().contains("'abc'"),
        "{e}"
    );
    let e = p
        .fetch("rotating", &Version::Stage("AWSPREVIOUS".into()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("no stages"), "{e}");
}

/// A KV v2 rotation reaches a watcher without a read: the background
/// fetch every TTL (here 1 s) brings the new version.
#[tokio::test]
async fn a_kv_rotation_reaches_watch() {
    let admin = Admin::shared();
    let dir = folder("watch");
    admin
        .kv_put(
            &format!("{dir}/db"),
            json!({ "password": "watch-pw-v1-1111" }),
        )
        .await;
    let m = SecretsManager::builder()
        .provider(token_provider(&admin.addr, &admin.token, &dir))
        .cache_ttl(std::time::Duration::from_secs(1))
        .build()
        .unwrap();
    let mut rx = m.watch("db").await.unwrap();
    assert_eq!(rx.borrow_and_update().expose_secret(), "watch-pw-v1-1111");
    admin
        .kv_put(
            &format!("{dir}/db"),
            json!({ "password": "watch-pw-v2-2222" }),
        )
        .await;
    tokio::time::timeout(std::time::Duration::from_secs(10), rx.changed())
        .await
        .expect("the rotation arrives within a few TTLs")
        .unwrap();
    assert_eq!(rx.borrow_and_update().expose_secret(), "watch-pw-v2-2222");
    assert_eq!(m.stats().watch_changes, 1);
}

#[tokio::test]
async fn deleted_version_is_not_found() {
    let admin = Admin::shared();
    let dir = folder("deleted");
    admin
        .kv_put(
            &format!("{dir}/gone"),
            json!({ "value": "old-deleted-value" }),
        )
        .await;
    admin
        .kv_put(
            &format!("{dir}/gone"),
            json!({ "value": "new-deleted-value" }),
        )
        .await;
    // Soft-delete the latest version (2), destroy version 1.
    admin
        .ok("DELETE", &format!("secret/data/{dir}/gone"), None)
        .await;
    admin
        .ok(
            "PUT",
            &format!("secret/destroy/{dir}/gone"),
            Some(json!({ "versions": [1] })),
        )
        .await;

    let p = token_provider(&admin.addr, &admin.token, &dir);
    let e = p.fetch("gone", &Version::Current).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("deleted"), "{e}");
    let e = p.fetch("gone", &Version::Id("1".into())).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("version 1 is destroyed"), "{e}");
    assert!(!e.to_string().contains("deleted-value"), "{e}");
}

#[tokio::test]
async fn missing_secret_is_not_found_naming_the_vault_path() {
    let admin = Admin::shared();
    let dir = folder("missing");
    let p = token_provider(&admin.addr, &admin.token, &dir);
    let e = p.fetch("db/url", &Version::Current).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(
        e.to_string(),
        format!("not found (secret/data/{dir}/db/url)")
    );
    assert_eq!(e.provider(), Some("vault"));

    let m = manager(p);
    let e = m.get_secret("db/url").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.outcomes().len(), 1);
    assert_eq!(
        e.outcomes()[0].detail,
        format!("not found (secret/data/{dir}/db/url)")
    );
}

#[tokio::test]
async fn path_traversal_is_refused_before_any_request() {
    let admin = Admin::shared();
    let p = token_provider(&admin.addr, &admin.token, "");
    for bad in ["../sys/health", "a/../../b", "a//b", "a/./b"] {
        let e = p.fetch(bad, &Version::Current).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidPath, "{bad}: {e}");
    }
    // A folder is not a secret: not found, so a chain moves on.
    let e = p
        .fetch("some/folder/", &Version::Current)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
}

#[tokio::test]
async fn a_leading_slash_is_the_same_path() {
    let admin = Admin::shared();
    let dir = folder("slash");
    admin
        .kv_put(&format!("{dir}/db"), json!({ "value": "slash-value" }))
        .await;
    let p = token_provider(&admin.addr, &admin.token, &dir);
    assert_eq!(
        document(p.fetch("/db", &Version::Current).await.unwrap())["value"],
        "slash-value"
    );
}

#[tokio::test]
async fn forbidden_path_is_access_denied() {
    let admin = Admin::shared();
    let dir = folder("denied");
    admin
        .kv_put(
            &format!("{dir}/allowed/key"),
            json!({ "value": "allowed-value-1" }),
        )
        .await;
    admin
        .kv_put(
            &format!("{dir}/forbidden/key"),
            json!({ "value": "forbidden-value-1" }),
        )
        .await;
    let policy = admin.read_policy(&format!("{dir}/allowed")).await;
    let token = admin.token_with(&[&policy]).await;

    let p = token_provider(&admin.addr, &token, &dir);
    let ok = manager(token_provider(&admin.addr, &token, &dir));
    assert_eq!(
        ok.get_secret("allowed/key").await.unwrap().expose_secret(),
        "allowed-value-1"
    );

    let e = p
        .fetch("forbidden/key", &Version::Current)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessDenied);
    assert_eq!(
        e.to_string(),
        format!("access denied (secret/data/{dir}/forbidden/key)")
    );
    let shown = format!("{e} {e:?}");
    assert!(
        !shown.contains(&token) && !shown.contains("forbidden-value-1"),
        "{shown}"
    );

    // Listing a folder the policy does not cover is denied too.
    let e = p.list("forbidden/").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");
}

#[tokio::test]
async fn revoked_static_token_is_access_denied_saying_so() {
    let admin = Admin::shared();
    let dir = folder("revoked-token");
    admin
        .kv_put(&format!("{dir}/k"), json!({ "value": "v-revoked-token" }))
        .await;
    let token = admin.token_with(&["default"]).await;
    admin
        .ok("POST", "auth/token/revoke", Some(json!({ "token": token })))
        .await;

    let p = token_provider(&admin.addr, &token, &dir);
    let e = p.fetch("k", &Version::Current).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessDenied);
    assert!(e.to_string().contains("expired or revoked"), "{e}");
    let e = p.health().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");
}

// ---------------------------------------------------------------------------
// AppRole
// ---------------------------------------------------------------------------

#[tokio::test]
async fn approle_login_from_config_reads_secrets_and_logs_in_once() {
    let admin = Admin::shared();
    let dir = folder("approle");
    admin
        .kv_put(&format!("{dir}/db"), json!({ "password": "approle-pw-1" }))
        .await;
    let policy = admin.read_policy(&dir).await;
    let role = admin.approle(&[&policy], "1h", "4h").await;

    let config = Config::from_vars(vars(&[
        ("SECRETS_PROVIDERS", "vault"),
        ("VAULT_ADDR", &admin.addr),
        ("VAULT_ROLE_ID", &role.role_id),
        ("VAULT_SECRET_ID", &role.secret_id),
        ("SECRETS_VAULT_APPROLE_MOUNT", &role.mount),
        ("SECRETS_PREFIX", &format!("/{dir}/")),
    ]))
    .unwrap();
    let p = VaultProvider::from_settings(config.settings()).unwrap();
    for _ in 0..3 {
        let v = p.fetch("db", &Version::Current).await.unwrap();
        assert_eq!(document(v)["password"], "approle-pw-1");
    }
    assert_eq!(p.auth_stats().logins, 1);
    assert_eq!(p.list("").await.unwrap(), ["db"]);
    p.health().await.unwrap();
    assert_eq!(p.auth_stats().logins, 1);
}

#[tokio::test]
async fn approle_with_a_wrong_secret_id_is_access_denied_without_leaking() {
    let admin = Admin::shared();
    let role = admin.approle(&["default"], "1h", "4h").await;
    let wrong = "00000000-1111-2222-3333-444444444444";
    let p = VaultProvider::builder(&admin.addr)
        .approle(&role.role_id, wrong)
        .approle_mount(&role.mount)
        .build()
        .unwrap();
    let e = p.fetch("anything", &Version::Current).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");
    assert!(
        e.to_string()
            .contains(&format!("auth/{}/login", role.mount)),
        "{e}"
    );
    let shown = format!("{e} {e:?} {p:?}");
    assert!(
        !shown.contains(wrong) && !shown.contains(&role.role_id),
        "{shown}"
    );

    let wrong_role = "55555555-6666-7777-8888-999999999999";
    let p = VaultProvider::builder(&admin.addr)
        .approle(wrong_role, &role.secret_id)
        .approle_mount(&role.mount)
        .build()
        .unwrap();
    let e = p.fetch("anything", &Version::Current).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");
    let shown = format!("{e} {e:?}");
    assert!(
        !shown.contains(wrong_role) && !shown.contains(&role.secret_id),
        "{shown}"
    );

    let missing_mount = VaultProvider::builder(&admin.addr)
        .approle(&role.role_id, &role.secret_id)
        .approle_mount("no-such-approle-mount")
        .build()
        .unwrap();
    let e = missing_mount
        .fetch("anything", &Version::Current)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");
}

#[tokio::test]
async fn revoked_approle_token_is_replaced_by_exactly_one_relogin() {
    let admin = Admin::shared();
    let dir = folder("relogin");
    admin
        .kv_put(&format!("{dir}/k"), json!({ "value": "relogin-value" }))
        .await;
    let policy = admin.read_policy(&dir).await;
    let role = admin.approle(&[&policy], "1h", "4h").await;
    let p = VaultProvider::builder(&admin.addr)
        .approle(&role.role_id, &role.secret_id)
        .approle_mount(&role.mount)
        .prefix(&dir)
        .build()
        .unwrap();
    assert_eq!(
        document(p.fetch("k", &Version::Current).await.unwrap())["value"],
        "relogin-value"
    );
    assert_eq!(p.auth_stats().logins, 1);
    // Revoke every token this role's login has issued: the provider's token
    // is now dead while its lease (by its own clock) is still young.
    admin
        .ok(
            "PUT",
            &format!("sys/leases/revoke-prefix/auth/{}/login", role.mount),
            None,
        )
        .await;
    assert_eq!(
        document(p.fetch("k", &Version::Current).await.unwrap())["value"],
        "relogin-value"
    );
    assert_eq!(p.auth_stats().logins, 2, "one re-login after the 403");

    // A real permission problem does not trigger a re-login.
    let outside = VaultProvider::builder(&admin.addr)
        .approle(&role.role_id, &role.secret_id)
        .approle_mount(&role.mount)
        .build()
        .unwrap();
    let denied = outside
        .fetch("not-in-policy/x", &Version::Current)
        .await
        .unwrap_err();
    assert_eq!(denied.kind(), ErrorKind::AccessDenied);
    assert_eq!(
        outside.auth_stats().logins,
        1,
        "a policy denial is not a dead token"
    );
}

#[tokio::test]
async fn expired_approle_token_is_replaced_by_one_relogin() {
    let admin = Admin::shared();
    let dir = folder("expired");
    admin
        .kv_put(&format!("{dir}/k"), json!({ "value": "expired-value" }))
        .await;
    let policy = admin.read_policy(&dir).await;
    let role = admin.approle(&[&policy], "2s", "2s").await;
    // A frozen clock: the provider never refreshes on its own, so the only
    // way to survive the expiry is the 403 -> re-login path.
    let (clock, _mock) = Clock::mock();
    let p = VaultProvider::builder(&admin.addr)
        .approle(&role.role_id, &role.secret_id)
        .approle_mount(&role.mount)
        .prefix(&dir)
        .clock(clock)
        .build()
        .unwrap();
    assert_eq!(
        document(p.fetch("k", &Version::Current).await.unwrap())["value"],
        "expired-value"
    );
    assert_eq!(p.auth_stats().logins, 1);

    // Waiting is the point of this test: let the 2 s token expire on the server.
    tokio::time::sleep(Duration::from_millis(3500)).await;

    assert_eq!(
        document(p.fetch("k", &Version::Current).await.unwrap())["value"],
        "expired-value"
    );
    assert_eq!(p.auth_stats().logins, 2);
    assert_eq!(p.auth_stats().renewals, 0);
}

#[tokio::test]
async fn approle_token_is_renewed_before_it_expires_and_replaced_after() {
    let admin = Admin::shared();
    let dir = folder("renew");
    admin
        .kv_put(&format!("{dir}/k"), json!({ "value": "renew-value" }))
        .await;
    let policy = admin.read_policy(&dir).await;
    let role = admin.approle(&[&policy], "60s", "1h").await;
    let (clock, mock) = Clock::mock();
    let p = VaultProvider::builder(&admin.addr)
        .approle(&role.role_id, &role.secret_id)
        .approle_mount(&role.mount)
        .prefix(&dir)
        .clock(clock)
        .build()
        .unwrap();
    p.fetch("k", &Version::Current).await.unwrap();
    assert_eq!(p.auth_stats().logins, 1);

    mock.advance(Duration::from_secs(30)); // half the lease: nothing to do
    p.fetch("k", &Version::Current).await.unwrap();
    assert_eq!((p.auth_stats().logins, p.auth_stats().renewals), (1, 0));

    mock.advance(Duration::from_secs(11)); // past two thirds: renew-self
    p.fetch("k", &Version::Current).await.unwrap();
    assert_eq!((p.auth_stats().logins, p.auth_stats().renewals), (1, 1));

    mock.advance(Duration::from_secs(120)); // past the renewed lease: log in again
    p.fetch("k", &Version::Current).await.unwrap();
    assert_eq!((p.auth_stats().logins, p.auth_stats().renewals), (2, 1));
}

#[tokio::test]
async fn concurrent_reads_after_a_revocation_share_one_relogin() {
    let admin = Admin::shared();
    let dir = folder("herd");
    admin
        .kv_put(&format!("{dir}/k"), json!({ "value": "herd-value" }))
        .await;
    let policy = admin.read_policy(&dir).await;
    let role = admin.approle(&[&policy], "1h", "4h").await;
    let p = Arc::new(
        VaultProvider::builder(&admin.addr)
            .approle(&role.role_id, &role.secret_id)
            .approle_mount(&role.mount)
            .prefix(&dir)
            .build()
            .unwrap(),
    );
    p.fetch("k", &Version::Current).await.unwrap();
    admin
        .ok(
            "PUT",
            &format!("sys/leases/revoke-prefix/auth/{}/login", role.mount),
            None,
        )
        .await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let p = p.clone();
            tokio::spawn(async move { p.fetch("k", &Version::Current).await.map(|_| ()) })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(
        p.auth_stats().logins,
        2,
        "eight refused reads, one re-login"
    );
}

// ---------------------------------------------------------------------------
// Failures and the chain
// ---------------------------------------------------------------------------

#[tokio::test]
async fn stopped_server_is_unavailable_and_the_chain_falls_back_to_env() {
    let token = "private-root-stopped";
    let mut server = support::spawn_bao(token);
    let admin = Admin::new(server.endpoint(), token);
    admin
        .kv_put("app/db", json!({ "url": "postgres://vault/app" }))
        .await;

    let vault = VaultProvider::builder(server.endpoint())
        .token(token)
        .prefix("app")
        .connect_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let m = SecretsManager::builder()
        .provider(vault)
        .provider(EnvProvider::from_vars([("DB", "postgres://env/app")]))
        .cache_ttl(Duration::ZERO)
        .build()
        .unwrap();
    assert_eq!(
        m.get_secret("db").await.unwrap().expose_secret(),
        "postgres://vault/app"
    );

    server.stop();

    assert_eq!(
        m.get_secret("db").await.unwrap().expose_secret(),
        "postgres://env/app"
    );
    let direct = token_provider(server.endpoint(), token, "app");
    let e = direct.fetch("db", &Version::Current).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(e.to_string().contains("secret/data/app/db"), "{e}");
    assert!(e.to_string().contains("cannot connect"), "{e}");
    assert!(!format!("{e} {e:?}").contains(token));
    let e = direct.health().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);

    // Nowhere else to go: the chain error lists both answers.
    let e = m.get_secret("other").await.unwrap_err();
    assert_eq!(e.outcomes().len(), 2);
    assert_eq!(e.outcomes()[0].kind, ErrorKind::Unavailable);
    assert_eq!(e.outcomes()[1].kind, ErrorKind::NotFound);
}

#[tokio::test]
async fn a_server_that_does_not_answer_times_out_as_unavailable() {
    let token = "private-root-frozen";
    let mut server = support::spawn_bao(token);
    let p = VaultProvider::builder(server.endpoint())
        .token(token)
        .request_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    // SIGSTOP: the kernel still accepts the connection, nobody answers.
    server.freeze();
    let e = p.fetch("anything", &Version::Current).await;
    server.thaw();
    let e = e.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(
        e.to_string().contains("timed out") && e.to_string().contains("300 ms"),
        "{e}"
    );
    assert!(!format!("{e} {e:?}").contains(token));
}

#[tokio::test]
async fn sealed_server_is_unavailable_and_health_says_sealed() {
    let token = "private-root-sealed";
    let server = support::spawn_bao(token);
    let admin = Admin::new(server.endpoint(), token);
    admin.kv_put("s", json!({ "value": "sealed-value" })).await;
    let p = token_provider(server.endpoint(), token, "");
    p.health().await.expect("an unsealed dev server is healthy");
    p.fetch("s", &Version::Current).await.unwrap();

    admin.ok("PUT", "sys/seal", None).await;

    let e = p.fetch("s", &Version::Current).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert_eq!(e.to_string(), "unavailable (503 sealed; secret/data/s)");
    let e = p.health().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(e.to_string().contains("sealed"), "{e}");
}

/// A private `bao server -dev -dev-tls` (its own generated CA), killed on
/// drop. tests/support's servers speak plain HTTP, so this one is started
/// here; it registers its pid with scripts/test like theirs do.
struct TlsBao {
    child: std::process::Child,
    port: u16,
    dir: tempfile::TempDir,
    registry: Option<std::path::PathBuf>,
}

impl TlsBao {
    fn start(token: &str) -> TlsBao {
        use std::os::unix::process::CommandExt;
        let port = support::free_port_pair();
        let dir = tempfile::tempdir().unwrap();
        let child = std::process::Command::new(support::bao_bin())
            .arg("server")
            .arg("-dev")
            .arg("-dev-no-store-token")
            .arg("-dev-tls")
            .arg(format!("-dev-tls-cert-dir={}", dir.path().display()))
            .arg(format!("-dev-root-token-id={token}"))
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start bao -dev-tls");
        let registry = std::env::var_os("SECRET_CHAIN_TEST_RUN_DIR")
            .map(|d| std::path::PathBuf::from(d).join(format!("pgid-{}", child.id())));
        if let Some(r) = &registry {
            let _ = std::fs::File::create(r);
        }
        TlsBao {
            child,
            port,
            dir,
            registry,
        }
    }

    fn addr(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    fn ca_file(&self) -> std::path::PathBuf {
        self.dir.path().join("vault-ca.pem")
    }

    /// Waits until the CA file exists and the server answers over TLS.
    async fn ready_client(&mut self) -> reqwest::Client {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("bao -dev-tls exited ({status}) before it was ready");
            }
            if let Ok(pem) = std::fs::read(self.ca_file())
                && let Ok(ca) = reqwest::Certificate::from_pem(&pem)
            {
                let client = reqwest::Client::builder()
                    .no_proxy()
                    .add_root_certificate(ca)
                    .build()
                    .unwrap();
                let health = client
                    .get(format!("{}/v1/sys/health", self.addr()))
                    .send()
                    .await;
                if health.is_ok_and(|r| r.status() == 200) {
                    return client;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "bao -dev-tls did not answer on port {} within 60 s",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for TlsBao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(r) = &self.registry {
            let _ = std::fs::remove_file(r);
        }
    }
}

#[tokio::test]
async fn private_ca_from_vault_cacert_is_trusted_and_required() {
    let token = "private-root-tls";
    let mut bao = TlsBao::start(token);
    let client = bao.ready_client().await;
    let admin = Admin::with_client(client, &bao.addr(), token);
    admin
        .kv_put("app/tls", json!({ "value": "over-tls-value" }))
        .await;

    let base = [
        ("SECRETS_PROVIDERS", "vault"),
        ("DEPLOYMENT_ENV", "production"),
        ("VAULT_TOKEN", token),
        ("SECRETS_PREFIX", "app"),
    ];
    let addr = bao.addr();
    let ca = bao.ca_file().display().to_string();
    let mut with_ca = base.to_vec();
    with_ca.extend([("VAULT_ADDR", addr.as_str()), ("VAULT_CACERT", ca.as_str())]);
    let p = VaultProvider::from_settings(&Settings::from_vars(vars(&with_ca))).unwrap();
    assert_eq!(
        document(p.fetch("tls", &Version::Current).await.unwrap())["value"],
        "over-tls-value"
    );
    p.health().await.unwrap();

    // Without the CA the server's certificate is not trusted: unavailable,
    // with a hint at VAULT_CACERT.
    let mut without = base.to_vec();
    without.push(("VAULT_ADDR", addr.as_str()));
    let p = VaultProvider::from_settings(&Settings::from_vars(vars(&without))).unwrap();
    let e = p.fetch("tls", &Version::Current).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(e.to_string().contains("VAULT_CACERT"), "{e}");
}

#[tokio::test]
async fn chain_vault_then_env_from_config() {
    let admin = Admin::shared();
    let dir = folder("chain");
    admin
        .kv_put(
            &format!("{dir}/database/url"),
            json!({ "value": "postgres://from-vault" }),
        )
        .await;
    let config = Config::from_vars(vars(&[
        ("SECRETS_PROVIDERS", "vault,env"),
        ("VAULT_ADDR", &admin.addr),
        ("VAULT_TOKEN", &admin.token),
        ("SECRETS_PREFIX", &dir),
        ("DATABASE_URL", "postgres://from-env"),
        ("ONLY_IN_ENV", "env-only-value"),
    ]))
    .unwrap();
    let m = SecretsManager::from_config(&config).unwrap();
    assert_eq!(m.provider_names(), ["vault", "env"]);
    assert_eq!(
        m.get_secret("database/url").await.unwrap().expose_secret(),
        "postgres://from-vault"
    );
    assert_eq!(
        m.get_secret("only/in/env").await.unwrap().expose_secret(),
        "env-only-value"
    );

    let e = m.get_secret("nowhere/at/all").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let msg = e.to_string();
    assert!(
        msg.contains(&format!(
            "vault: not found (secret/data/{dir}/nowhere/at/all)"
        )),
        "{msg}"
    );
    assert!(msg.contains("env: not found (NOWHERE_AT_ALL)"), "{msg}");
}

#[tokio::test]
async fn plain_http_guardrail_refuses_remote_http_outside_local_deployments() {
    let admin = Admin::shared();
    let e = SecretsManager::from_config(
        &Config::from_vars(vars(&[
            ("DEPLOYMENT_ENV", "production"),
            ("SECRETS_PROVIDERS", "vault"),
            ("VAULT_ADDR", "http://vault.example.com:8200"),
            ("VAULT_TOKEN", &admin.token),
        ]))
        .unwrap(),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("SECRETS_VAULT_ALLOW_HTTP"), "{e}");
    assert!(!e.to_string().contains(&admin.token), "{e}");

    // Loopback http is fine in production (the dev server is on 127.0.0.1).
    let dir = folder("guardrail");
    admin
        .kv_put(&format!("{dir}/k"), json!({ "value": "prod-loopback" }))
        .await;
    let m = SecretsManager::from_config(
        &Config::from_vars(vars(&[
            ("DEPLOYMENT_ENV", "production"),
            ("SECRETS_PROVIDERS", "vault"),
            ("VAULT_ADDR", &admin.addr),
            ("VAULT_TOKEN", &admin.token),
            ("SECRETS_PREFIX", &dir),
        ]))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        m.get_secret("k").await.unwrap().expose_secret(),
        "prod-loopback"
    );

    // Explicitly allowed.
    assert!(
        SecretsManager::from_config(
            &Config::from_vars(vars(&[
                ("DEPLOYMENT_ENV", "staging"),
                ("SECRETS_PROVIDERS", "vault"),
                ("VAULT_ADDR", "http://vault.example.com:8200"),
                ("VAULT_TOKEN", "t"),
                ("SECRETS_VAULT_ALLOW_HTTP", "true"),
            ]))
            .unwrap(),
        )
        .is_ok()
    );
}

#[tokio::test]
async fn namespace_is_sent_as_x_vault_namespace() {
    let admin = Admin::shared();
    let ns = support::unique_name("ns");
    admin
        .ok("POST", &format!("sys/namespaces/{ns}"), Some(json!({})))
        .await;
    let in_ns = Admin {
        http: admin.http.clone(),
        addr: admin.addr.clone(),
        token: admin.token.clone(),
    };
    // Mount KV v2 inside the namespace and write one secret there.
    let put = |method: &str, path: String, body: Value| {
        in_ns
            .http
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}/v1/{path}", in_ns.addr),
            )
            .header("X-Vault-Token", &in_ns.token)
            .header("X-Vault-Namespace", &ns)
            .json(&body)
            .send()
    };
    let r = put(
        "POST",
        "sys/mounts/kv".into(),
        json!({ "type": "kv", "options": { "version": "2" } }),
    )
    .await
    .unwrap();
    assert!(
        r.status().is_success(),
        "mount kv in namespace: {}",
        r.status()
    );
    let r = put(
        "POST",
        "kv/data/app/k".into(),
        json!({ "data": { "value": "namespaced-value" } }),
    )
    .await
    .unwrap();
    assert!(
        r.status().is_success(),
        "write in namespace: {}",
        r.status()
    );

    let p = VaultProvider::builder(&admin.addr)
        .token(&admin.token)
        .namespace(&ns)
        .mount("kv")
        .prefix("app")
        .build()
        .unwrap();
    assert_eq!(
        document(p.fetch("k", &Version::Current).await.unwrap())["value"],
        "namespaced-value"
    );
    // Without the namespace the same mount does not exist at the root.
    let root = VaultProvider::builder(&admin.addr)
        .token(&admin.token)
        .mount("kv")
        .prefix("app")
        .build()
        .unwrap();
    let e = root.fetch("k", &Version::Current).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
}

// ---------------------------------------------------------------------------
// Leaks
// ---------------------------------------------------------------------------

#[tokio::test]
async fn one_provider_reuses_one_connection() {
    let admin = Admin::shared();
    let dir = folder("reuse");
    admin
        .kv_put(&format!("{dir}/k"), json!({ "value": "reuse-value" }))
        .await;
    let p = token_provider(&admin.addr, &admin.token, &dir);
    let (capture, guard) = support::capture::capture_thread_logs();
    for _ in 0..5 {
        p.fetch("k", &Version::Current).await.unwrap();
    }
    p.list("").await.unwrap();
    drop(guard);
    let logs = capture.text();
    assert_eq!(
        logs.matches("starting new connection").count(),
        1,
        "six requests, one connection:\n{logs}"
    );
}

#[tokio::test]
async fn errors_debug_and_logs_never_hold_a_value_or_a_credential() {
    let admin = Admin::shared();
    let dir = folder("leak");
    let value = "leak-canary-value-0f9e8d";
    let other = "leak-canary-other-7a6b5c";
    admin
        .kv_put(&format!("{dir}/ok/k"), json!({ "value": value }))
        .await;
    admin
        .kv_put(&format!("{dir}/no/k"), json!({ "value": other }))
        .await;
    let policy = admin.read_policy(&format!("{dir}/ok")).await;
    let token = admin.token_with(&[&policy]).await;
    let role = admin.approle(&[&policy], "2s", "2s").await;

    let (capture, _guard) = support::capture::capture_thread_logs();

    let mut shown = Vec::new();
    let tp = token_provider(&admin.addr, &token, &dir);
    shown.push(format!("{tp:?}"));
    let ok = tp.fetch("ok/k", &Version::Current).await.unwrap();
    shown.push(format!("{ok:?}"));
    for (name, version) in [
        ("no/k", Version::Current),
        ("ok/missing", Version::Current),
        ("ok/k", Version::Id("x".into())),
    ] {
        let e = tp.fetch(name, &version).await.unwrap_err();
        shown.push(format!("{e} {e:?}"));
    }
    let e = tp.list("no/").await.unwrap_err();
    shown.push(format!("{e} {e:?}"));

    let (clock, _mock) = Clock::mock();
    let ap = VaultProvider::builder(&admin.addr)
        .approle(&role.role_id, &role.secret_id)
        .approle_mount(&role.mount)
        .prefix(&dir)
        .clock(clock)
        .build()
        .unwrap();
    shown.push(format!("{ap:?}"));
    ap.fetch("ok/k", &Version::Current).await.unwrap();
    admin
        .ok(
            "PUT",
            &format!("sys/leases/revoke-prefix/auth/{}/login", role.mount),
            None,
        )
        .await;
    ap.fetch("ok/k", &Version::Current).await.unwrap(); // re-login path
    let e = ap.fetch("no/k", &Version::Current).await.unwrap_err();
    shown.push(format!("{e} {e:?}"));

    let m = SecretsManager::builder()
        .provider(token_provider(&admin.addr, &token, &dir))
        .build()
        .unwrap();
    shown.push(format!("{m:?}"));
    let e = m.get_secret("no/k").await.unwrap_err();
    shown.push(format!("{e} {e:?}"));
    let e = m.get_secret("ok/k#nofield").await.unwrap_err();
    shown.push(format!("{e} {e:?}"));

    drop(_guard);
    let logs = capture.text();
    assert!(logs.contains("approle login"), "the capture works: {logs}");
    assert!(
        logs.contains("hyper_util"),
        "the HTTP stack's TRACE lines are captured too"
    );
    let everything = format!("{}\n{logs}", shown.join("\n"));
    for canary in [
        value,
        other,
        token.as_str(),
        role.role_id.as_str(),
        role.secret_id.as_str(),
        admin.token.as_str(),
    ] {
        assert!(
            !everything.contains(canary),
            "leaked {canary:?} in:\n{everything}"
        );
    }
}

#[tokio::test]
async fn error_text_never_echoes_the_token_when_the_address_is_unreachable() {
    let port = support::free_port();
    let token = "hvs.unreachable-token-canary";
    let p = VaultProvider::builder(format!("http://127.0.0.1:{port}"))
        .token(token)
        .build()
        .unwrap();
    let e = p.fetch("x", &Version::Current).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    let mut chain = format!("{e} {e:?}");
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        chain.push_str(&format!(" {s} {s:?}"));
        src = s.source();
    }
    assert!(!chain.contains(token), "{chain}");
}
