//! The HashiCorp Vault / OpenBao provider: secrets of a KV version 2 engine.
//!
//! Vault and its open-source fork OpenBao speak the same HTTP API; this
//! provider is a small client on [`reqwest`] with rustls (one HTTP client per
//! provider, so connections are reused), not a general Vault SDK.
//!
//! # Mapping
//!
//! A secret path `name` is read with `GET /v1/{mount}/data/{prefix}{name}`.
//! The provider returns the secret's `data` object as a
//! [`SecretData::Document`], and the chain applies the document rule:
//!
//! | data                                  | `get_secret("db")`        | `get_secret("db#password")` |
//! |---------------------------------------|---------------------------|-----------------------------|
//! | `{"value": "s3cr3t"}` (one key)        | `s3cr3t`                  | error: no field `password`  |
//! | `{"user": "app", "password": "pw"}`   | the whole object as JSON  | `pw`                        |
//!
//! [`Version::Id`]`("3")` reads version 3 (`?version=3`). Vault has no
//! stages, so [`Version::Stage`] is answered "not found". A version that was
//! deleted or destroyed is "not found" too.
//!
//! A value's metadata comes from the answer's `metadata` object: the
//! `version` number as the version id and `created_time` as the creation
//! date; the id is the data path (`secret/data/myapp/db`).
//!
//! [`list`](crate::providers::Provider::list) walks `LIST /v1/{mount}/metadata/...` (sent as
//! `GET ...?list=true`, which every Vault and OpenBao accepts), descending
//! into sub-folders, and returns paths relative to the prefix. A folder that
//! does not exist lists as empty.
//!
//! # Configuration ([`VaultProvider::from_settings`])
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `VAULT_ADDR` (or `BAO_ADDR`) | required | server address, `https://vault.example:8200` |
//! | `VAULT_TOKEN` (or `BAO_TOKEN`) | | token auth |
//! | `VAULT_ROLE_ID` + `VAULT_SECRET_ID` | | AppRole auth (wins over a token when set) |
//! | `SECRETS_VAULT_AUTH` | inferred | `token`, `approle`, `jwt` or `kubernetes`; unset: AppRole when its ids are set, else a token |
//! | `SECRETS_VAULT_ROLE` | | the role to log in as (`jwt`, `kubernetes`) |
//! | `SECRETS_VAULT_JWT_FILE` | `kubernetes`: `/var/run/secrets/kubernetes.io/serviceaccount/token` | the file holding the JWT, read at every login (required for `jwt`) |
//! | `SECRETS_VAULT_AUTH_MOUNT` | `approle` / `jwt` / `kubernetes` | where the login method is enabled |
//! | `SECRETS_VAULT_APPROLE_MOUNT` | `approle` | where AppRole is enabled (`SECRETS_VAULT_AUTH_MOUNT` wins) |
//! | `VAULT_NAMESPACE` (or `BAO_NAMESPACE`) | none | sent as `X-Vault-Namespace` |
//! | `VAULT_CACERT` (or `BAO_CACERT`) | system roots | PEM file of a private CA |
//! | `SECRETS_VAULT_MOUNT` | `secret` | the KV v2 mount |
//! | `SECRETS_PREFIX` | none | folder under the mount (leading `/` dropped, trailing `/` added) |
//! | `SECRETS_VAULT_CONNECT_TIMEOUT_MS` | `1000` | TCP + TLS connect timeout |
//! | `SECRETS_VAULT_TIMEOUT_MS` | `5000` | whole-request timeout |
//! | `SECRETS_VAULT_ALLOW_HTTP` | `false` | allow plain `http://` to a non-loopback host outside local deployments |
//!
//! A named instance (`dr=vault` in `SECRETS_PROVIDERS`) reads each of these
//! with its name after `SECRETS_` first: `SECRETS_DR_VAULT_ADDR`, then
//! `VAULT_ADDR` ([`Settings::for_instance`](crate::settings::Settings::for_instance)).
//!
//! # Auth
//!
//! With a token, every request carries it as `X-Vault-Token`. With AppRole,
//! JWT or Kubernetes auth, the provider logs in at `auth/{mount}/login` on
//! first use (AppRole with its role and secret ids; JWT and Kubernetes with
//! `{"role": ..., "jwt": ...}`, the JWT read from its file at every login,
//! since the kubelet rotates projected service-account tokens), renews
//! the login token (`auth/token/renew-self`) when two thirds of its lease
//! have passed, and logs in again when it cannot be renewed any more. If a
//! request is refused with 403 and `auth/token/lookup-self` shows that the
//! token itself is dead (expired or revoked), the provider logs in again once
//! and retries the request once.
//!
//! (A token whose policies do not include `default` may be unable to look
//! itself up; its 403s are then read as "expired or revoked".)
//!
//! Tokens, secret ids and JWTs are held as [`SecretString`]; they never appear in
//! an error, in `Debug` output or in a log line. Error details name the Vault
//! path (`not found (secret/data/myapp/db)`), never a value. Redirects are
//! followed only to the same origin, since `X-Vault-Token` would otherwise
//! travel to whatever host a redirect names.
//!
//! # Errors
//!
//! 404 is "not found"; 403 is "access denied"; 5xx, a sealed server (503),
//! connection failures and timeouts are "unavailable". All three let the
//! chain move on to the next provider.
//!
//! # Not supported
//!
//! KV version 1 mounts; auth methods other than token, AppRole, JWT and
//! Kubernetes (AWS IAM, TLS certificates...); a JWT given as a literal
//! value (only a file: projected tokens rotate); `~/.vault-token`; `VAULT_CAPATH`,
//! `VAULT_CLIENT_CERT` and `VAULT_SKIP_VERIFY`; response wrapping.
//!
//! # Example
//!
//! ```no_run
//! use secret_chain::SecretsManager;
//! use secret_chain::providers::vault::VaultProvider;
//!
//! # async fn run() -> Result<(), secret_chain::Error> {
//! let vault = VaultProvider::builder("https://vault.internal:8200")
//!     .approle("3f2a...role-id", "9c1b...secret-id")
//!     .mount("secret")
//!     .prefix("myapp/")
//!     .build()?;
//! let manager = SecretsManager::builder().provider(vault).build()?;
//! let password = manager.get_secret("database#password").await?;
//! # drop(password);
//! # Ok(())
//! # }
//! ```
//!
//! # Code map
//!
//! - `builder.rs`: [`VaultProviderBuilder`], [`VaultProvider::from_settings`],
//!   CA loading and the plain-HTTP check;
//! - `auth.rs`: the token or login session (AppRole, JWT, Kubernetes): login, renewal at two thirds
//!   of the lease, re-login (one shared re-login on a dead-token 403),
//!   [`AuthStats`];
//! - `http.rs`: sending one request (same-origin redirects, timeouts) and
//!   mapping statuses and Vault error bodies to error kinds, without quoting
//!   a body or a token;
//! - `dynamic.rs`: [`VaultDynamicProvider`] (`vault-dynamic`): paths of
//!   the dynamic engines read as written (`database/creds/app`), the
//!   answer's `data` with its lease, lease renewal and revocation;
//! - `kv.rs`: KV v2 data and metadata paths, versions, reading a secret's
//!   `data` object, recursive listing, `sys/health`, and the [`Provider`]
//!   impl.
//!
//! [`SecretData::Document`]: crate::providers::SecretData::Document
//! [`Version::Id`]: crate::providers::Version::Id
//! [`Version::Stage`]: crate::providers::Version::Stage
//! [`Provider`]: crate::providers::Provider
//! [`SecretString`]: secrecy::SecretString

mod auth;
mod builder;
mod dynamic;
mod http;
mod kv;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use parking_lot::RwLock;
use reqwest::header::HeaderValue;

pub use auth::AuthStats;
pub use builder::{
    DEFAULT_APPROLE_MOUNT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_JWT_MOUNT, DEFAULT_KUBERNETES_JWT_FILE,
    DEFAULT_KUBERNETES_MOUNT, DEFAULT_MOUNT, DEFAULT_REQUEST_TIMEOUT, VaultProviderBuilder,
};
pub use dynamic::VaultDynamicProvider;

use crate::clock::Clock;
use auth::{Auth, Session};
pub(crate) use http::{Reply, status_error};

/// The provider's name in chains, logs and errors.
const NAME: &str = "vault";
/// Log target of the provider's own events (never a value or token).
const LOG_TARGET: &str = "secret_chain::vault";

/// Reads secrets from a Vault or OpenBao KV version 2 engine.
///
/// Build it with [`VaultProvider::builder`] or from environment variables
/// with [`VaultProvider::from_settings`]. See the [module docs](self) for the
/// mapping, the settings and the auth behaviour.
pub struct VaultProvider {
    client: reqwest::Client,
    base: String,
    mount: String,
    prefix: String,
    namespace: Option<HeaderValue>,
    auth: Auth,
    session: RwLock<Option<Arc<Session>>>,
    refresh: tokio::sync::Mutex<()>,
    clock: Clock,
    connect_timeout: Duration,
    request_timeout: Duration,
    generation: AtomicU64,
    logins: AtomicU64,
    renewals: AtomicU64,
}

impl fmt::Debug for VaultProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = match &self.auth {
            Auth::Token(_) => "token".to_owned(),
            Auth::AppRole { mount, .. } => format!("approle at auth/{mount}"),
            Auth::Jwt {
                method,
                role,
                mount,
                jwt_file,
                ..
            } => format!(
                "{} role '{role}' at auth/{mount} (token file {})",
                method.as_str(),
                jwt_file.display()
            ),
        };
        f.debug_struct("VaultProvider")
            .field("address", &self.base)
            .field("mount", &self.mount)
            .field("prefix", &self.prefix)
            .field(
                "namespace",
                &self.namespace.as_ref().and_then(|h| h.to_str().ok()),
            )
            .field("auth", &auth)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_credentials() {
        let p = VaultProvider::builder("http://127.0.0.1:8200")
            .token("hvs.tok-very-secret-123")
            .build()
            .unwrap();
        let d = format!("{p:?}");
        assert!(!d.contains("tok-very-secret"), "{d}");
        assert!(d.contains("token"), "{d}");
        let b = VaultProvider::builder("http://127.0.0.1:8200")
            .approle("role-secret-1", "secret-id-secret-2");
        let d = format!("{b:?}");
        assert!(
            !d.contains("role-secret-1") && !d.contains("secret-id-secret-2"),
            "{d}"
        );
        let p = b.build().unwrap();
        let d = format!("{p:?}");
        assert!(
            !d.contains("role-secret-1") && !d.contains("secret-id-secret-2"),
            "{d}"
        );
        let b = VaultProvider::builder("https://admin:url-pw-secret@vault:8200/x").token("t");
        let d = format!("{b:?}");
        assert!(
            !d.contains("url-pw-secret") && d.contains("vault:8200"),
            "{d}"
        );
    }
}
