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
//! [`SecretValue::Document`], and the chain applies the document rule:
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
//! [`list`](Provider::list) walks `LIST /v1/{mount}/metadata/...` (sent as
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
//! | `SECRETS_VAULT_APPROLE_MOUNT` | `approle` | where AppRole is enabled |
//! | `VAULT_NAMESPACE` (or `BAO_NAMESPACE`) | none | sent as `X-Vault-Namespace` |
//! | `VAULT_CACERT` (or `BAO_CACERT`) | system roots | PEM file of a private CA |
//! | `SECRETS_VAULT_MOUNT` | `secret` | the KV v2 mount |
//! | `SECRETS_PREFIX` | none | folder under the mount (leading `/` dropped, trailing `/` added) |
//! | `SECRETS_VAULT_CONNECT_TIMEOUT_MS` | `1000` | TCP + TLS connect timeout |
//! | `SECRETS_VAULT_TIMEOUT_MS` | `5000` | whole-request timeout |
//! | `SECRETS_VAULT_ALLOW_HTTP` | `false` | allow plain `http://` to a non-loopback host outside local deployments |
//!
//! # Auth
//!
//! With a token, every request carries it as `X-Vault-Token`. With AppRole,
//! the provider logs in at `auth/{approle mount}/login` on first use, renews
//! the login token (`auth/token/renew-self`) when two thirds of its lease
//! have passed, and logs in again when it cannot be renewed any more. If a
//! request is refused with 403 and `auth/token/lookup-self` shows that the
//! token itself is dead (expired or revoked), the provider logs in again once
//! and retries the request once.
//!
//! (A token whose policies do not include `default` may be unable to look
//! itself up; its 403s are then read as "expired or revoked".)
//!
//! Tokens and secret ids are held as [`SecretString`]; they never appear in
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
//! KV version 1 mounts; auth methods other than token and AppRole
//! (Kubernetes, JWT, AWS IAM...); `~/.vault-token`; `VAULT_CAPATH`,
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

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::RwLock;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use zeroize::Zeroize;

use crate::clock::{Clock, Instant};
use crate::error::{Error, ErrorKind};
use crate::providers::endpoint::is_loopback;
use crate::providers::{BoxFuture, Provider, SecretValue, Version};
use crate::settings::Settings;

/// Default KV v2 mount (`SECRETS_VAULT_MOUNT`).
pub const DEFAULT_MOUNT: &str = "secret";
/// Default AppRole auth mount (`SECRETS_VAULT_APPROLE_MOUNT`).
pub const DEFAULT_APPROLE_MOUNT: &str = "approle";
/// Default connect timeout (`SECRETS_VAULT_CONNECT_TIMEOUT_MS`): 1000 ms.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);
/// Default whole-request timeout (`SECRETS_VAULT_TIMEOUT_MS`): 5000 ms.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_millis(5000);

/// The provider's name in chains, logs and errors.
const NAME: &str = "vault";
/// Log target of the provider's own events (never a value or token).
const LOG_TARGET: &str = "secret_chain::vault";
/// Characters escaped inside one path segment (everything but unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// Upper bound on the folders one `list` call walks, against cycles or
/// pathological trees.
const MAX_LIST_FOLDERS: usize = 10_000;

// ---------------------------------------------------------------------------
// Builder
// ---------------------------------------------------------------------------

enum AuthSpec {
    Token(SecretString),
    AppRole {
        role_id: SecretString,
        secret_id: SecretString,
    },
}

enum CaSource {
    Pem(Vec<u8>),
    File(PathBuf),
}

/// Builds a [`VaultProvider`] in code; [`VaultProvider::from_settings`] is the
/// same from environment variables.
///
/// ```
/// use std::time::Duration;
/// use secret_chain::providers::vault::VaultProvider;
///
/// let vault = VaultProvider::builder("http://127.0.0.1:8200")
///     .token("hvs.example-token")
///     .mount("kv")
///     .prefix("/myapp")
///     .request_timeout(Duration::from_secs(2))
///     .build()
///     .unwrap();
/// assert_eq!(vault.data_path("db"), "kv/data/myapp/db");
/// ```
pub struct VaultProviderBuilder {
    address: String,
    address_var: &'static str,
    auth: Option<AuthSpec>,
    approle_mount: String,
    mount: String,
    prefix: String,
    namespace: Option<String>,
    connect_timeout: Duration,
    request_timeout: Duration,
    ca: Option<(CaSource, String)>,
    refuse_plain_http: Option<String>,
    clock: Clock,
}

impl fmt::Debug for VaultProviderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = match &self.auth {
            None => "none",
            Some(AuthSpec::Token(_)) => "token",
            Some(AuthSpec::AppRole { .. }) => "approle",
        };
        f.debug_struct("VaultProviderBuilder")
            .field("address", &without_userinfo(&self.address))
            .field("auth", &auth)
            .field("mount", &self.mount)
            .field("prefix", &self.prefix)
            .field("namespace", &self.namespace)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl VaultProviderBuilder {
    fn new(address: impl Into<String>) -> VaultProviderBuilder {
        VaultProviderBuilder {
            address: address.into(),
            address_var: "the Vault address",
            auth: None,
            approle_mount: DEFAULT_APPROLE_MOUNT.to_owned(),
            mount: DEFAULT_MOUNT.to_owned(),
            prefix: String::new(),
            namespace: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            ca: None,
            refuse_plain_http: None,
            clock: Clock::system(),
        }
    }

    /// Authenticates with a token (sent as `X-Vault-Token`). Surrounding
    /// whitespace is trimmed.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.auth = Some(AuthSpec::Token(SecretString::from(token.into())));
        self
    }

    /// Authenticates with AppRole: the provider logs in with this role id and
    /// secret id, and renews or re-acquires the login token.
    pub fn approle(mut self, role_id: impl Into<String>, secret_id: impl Into<String>) -> Self {
        self.auth = Some(AuthSpec::AppRole {
            role_id: SecretString::from(role_id.into()),
            secret_id: SecretString::from(secret_id.into()),
        });
        self
    }

    /// The path AppRole is enabled at (default `approle`).
    pub fn approle_mount(mut self, mount: impl Into<String>) -> Self {
        self.approle_mount = mount.into();
        self
    }

    /// The KV v2 mount (default `secret`).
    pub fn mount(mut self, mount: impl Into<String>) -> Self {
        self.mount = mount.into();
        self
    }

    /// The folder under the mount that secret paths are relative to. A
    /// leading `/` is dropped and a trailing `/` added: `/myapp` and
    /// `myapp/` both mean the folder `myapp/`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// A Vault Enterprise / OpenBao namespace, sent as `X-Vault-Namespace`.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        let ns = namespace.into();
        self.namespace = Some(ns).filter(|s| !s.trim().is_empty());
        self
    }

    /// The TCP + TLS connect timeout (default 1000 ms).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The timeout of one whole request (default 5000 ms).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Trusts the CA certificate(s) of a PEM bundle, in addition to the
    /// built-in roots.
    pub fn ca_cert_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca = Some((CaSource::Pem(pem.into()), "the CA certificate".to_owned()));
        self
    }

    /// Trusts the CA certificate(s) of a PEM file (read by
    /// [`build`](Self::build)).
    pub fn ca_cert_file(mut self, path: impl AsRef<Path>) -> Self {
        let path = path.as_ref().to_path_buf();
        let label = format!("the CA certificate file '{}'", path.display());
        self.ca = Some((CaSource::File(path), label));
        self
    }

    /// Refuses a plain `http://` address whose host is not loopback. On by
    /// default in [`VaultProvider::from_settings`] outside local deployments;
    /// off by default here.
    pub fn refuse_plain_http(mut self, refuse: bool) -> Self {
        self.refuse_plain_http = refuse.then(|| "the builder requires TLS".to_owned());
        self
    }

    /// The clock that times token renewal (the system clock by default; a
    /// [`Clock::mock`] lets tests move time).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the provider. No request is sent: the first read logs in
    /// (AppRole) and connects.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] when the address is not an `http(s)://` URL,
    /// no credentials were given, a credential cannot be sent in a header,
    /// a timeout is zero, the CA certificate cannot be read or parsed, or
    /// the plain-HTTP guardrail refuses the address.
    pub fn build(self) -> Result<VaultProvider, Error> {
        let base = parse_address(&self.address, self.address_var)?;
        if let Some(why) = &self.refuse_plain_http {
            check_plain_http(&base, self.address_var, why)?;
        }
        let mut base_str = base.as_str().trim_end_matches('/').to_owned();
        if base_str.is_empty() {
            base_str = base.as_str().to_owned();
        }

        let mount = trim_slashes(&self.mount);
        if mount.is_empty() {
            return Err(Error::config("the KV mount (SECRETS_VAULT_MOUNT) is empty"));
        }
        check_segments(&mount).map_err(|why| {
            Error::config(format!(
                "the KV mount '{}' is not a valid path: {why}",
                self.mount
            ))
        })?;
        let prefix = normalise_prefix(&self.prefix);
        if !prefix.is_empty() {
            check_segments(prefix.trim_end_matches('/')).map_err(|why| {
                Error::config(format!(
                    "SECRETS_PREFIX '{}' is not a valid Vault path: {why}",
                    self.prefix
                ))
            })?;
        }
        let approle_mount = trim_slashes(&self.approle_mount);
        if approle_mount.is_empty() {
            return Err(Error::config(
                "the AppRole mount (SECRETS_VAULT_APPROLE_MOUNT) is empty",
            ));
        }
        check_segments(&approle_mount).map_err(|why| {
            Error::config(format!(
                "the AppRole mount '{}' is not a valid path: {why}",
                self.approle_mount
            ))
        })?;

        if self.connect_timeout.is_zero() {
            return Err(Error::config(
                "SECRETS_VAULT_CONNECT_TIMEOUT_MS must be greater than 0",
            ));
        }
        if self.request_timeout.is_zero() {
            return Err(Error::config(
                "SECRETS_VAULT_TIMEOUT_MS must be greater than 0",
            ));
        }

        let auth = match self.auth {
            None => {
                return Err(Error::config(
                    "the 'vault' provider needs credentials: set VAULT_TOKEN (or BAO_TOKEN), \
                     or VAULT_ROLE_ID and VAULT_SECRET_ID for AppRole",
                ));
            }
            Some(AuthSpec::Token(t)) => {
                let t = SecretString::from(t.expose_secret().trim());
                if t.expose_secret().is_empty() {
                    return Err(Error::config("the Vault token (VAULT_TOKEN) is empty"));
                }
                token_header(&t).map_err(|()| {
                    Error::config(
                        "the Vault token (VAULT_TOKEN) contains characters that cannot be sent in an HTTP header",
                    )
                })?;
                Auth::Token(Arc::new(Session::permanent(t)))
            }
            Some(AuthSpec::AppRole { role_id, secret_id }) => {
                if role_id.expose_secret().trim().is_empty() {
                    return Err(Error::config("VAULT_ROLE_ID is empty"));
                }
                if secret_id.expose_secret().trim().is_empty() {
                    return Err(Error::config("VAULT_SECRET_ID is empty"));
                }
                Auth::AppRole {
                    role_id: SecretString::from(role_id.expose_secret().trim()),
                    secret_id: SecretString::from(secret_id.expose_secret().trim()),
                    mount: approle_mount,
                }
            }
        };

        let namespace = match &self.namespace {
            Some(ns) => {
                let trimmed = ns.trim().trim_matches('/');
                Some(HeaderValue::from_str(trimmed).map_err(|_| {
                    Error::config(
                        "VAULT_NAMESPACE contains characters that cannot be sent in an HTTP header",
                    )
                })?)
            }
            None => None,
        };

        let mut client = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .timeout(self.request_timeout)
            .redirect(same_origin_redirects())
            .user_agent(concat!("secret-chain/", env!("CARGO_PKG_VERSION")));
        if let Some((source, label)) = &self.ca {
            for cert in load_ca(source, label)? {
                client = client.add_root_certificate(cert);
            }
        }
        let client = client.build().map_err(|e| {
            let what = match &self.ca {
                Some((_, label)) => format!(
                    "cannot build the Vault HTTP client: {label} holds a certificate that is not valid"
                ),
                None => "cannot build the Vault HTTP client".to_owned(),
            };
            Error::config(what).with_source(e.without_url())
        })?;

        Ok(VaultProvider {
            client,
            base: base_str,
            mount,
            prefix,
            namespace,
            auth,
            session: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
            clock: self.clock,
            connect_timeout: self.connect_timeout,
            request_timeout: self.request_timeout,
            generation: AtomicU64::new(0),
            logins: AtomicU64::new(0),
            renewals: AtomicU64::new(0),
        })
    }
}

// ---------------------------------------------------------------------------
// Provider
// ---------------------------------------------------------------------------

enum Auth {
    Token(Arc<Session>),
    AppRole {
        role_id: SecretString,
        secret_id: SecretString,
        mount: String,
    },
}

/// A token in use and when to refresh it.
struct Session {
    token: SecretString,
    /// Bumped on every login or renewal; a 403 re-login only happens if the
    /// token that was refused is still the current one.
    generation: u64,
    /// When to renew or re-login (two thirds of the lease); `None`: never.
    refresh_at: Option<Instant>,
    /// When the lease ends; `None`: never.
    expires_at: Option<Instant>,
    lease: Duration,
    renewable: bool,
}

impl Session {
    fn permanent(token: SecretString) -> Session {
        Session {
            token,
            generation: 0,
            refresh_at: None,
            expires_at: None,
            lease: Duration::ZERO,
            renewable: false,
        }
    }

    fn fresh(&self, now: Instant) -> bool {
        self.refresh_at.is_none_or(|r| now < r)
    }

    fn expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|e| now >= e)
    }
}

/// Counters of the provider's authentication work, for diagnostics and
/// metrics. Never holds a token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthStats {
    /// AppRole logins done (the first one included).
    pub logins: u64,
    /// Successful `auth/token/renew-self` calls.
    pub renewals: u64,
}

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

/// A response: status and body bytes (zeroized when dropped).
struct Reply {
    status: StatusCode,
    body: Vec<u8>,
}

impl Drop for Reply {
    fn drop(&mut self) {
        self.body.zeroize();
    }
}

impl Reply {
    fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// A short summary of Vault's `errors` array (messages such as
    /// "permission denied" or "Vault is sealed"; never values on a read).
    fn errors_summary(&self) -> Option<String> {
        let v = self.json()?;
        let errors = v.get("errors")?.as_array()?;
        let first = errors.iter().find_map(|e| e.as_str())?;
        // Go's multierror text is "1 error occurred:\n\t* permission denied\n\n":
        // keep one line of the message itself.
        let first = first.split_whitespace().collect::<Vec<_>>().join(" ");
        let first = match first.split_once("occurred: ") {
            Some((head, rest))
                if head.trim_end().ends_with("error") || head.trim_end().ends_with("errors") =>
            {
                rest
            }
            _ => first.as_str(),
        };
        let first = first.trim_start_matches("* ").trim();
        if first.is_empty() {
            return None;
        }
        let mut s: String = first.chars().take(100).collect();
        if s.len() < first.len() {
            s.push('…');
        }
        if errors.len() > 1 {
            s.push_str(&format!(" (+{} more)", errors.len() - 1));
        }
        Some(s)
    }
}

impl VaultProvider {
    /// A builder for a provider talking to `address` (`https://host:8200`).
    pub fn builder(address: impl Into<String>) -> VaultProviderBuilder {
        VaultProviderBuilder::new(address)
    }

    /// Builds the provider from the configuration's variables: see the
    /// table in the [module docs](self).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] naming the variable when the address or the
    /// credentials are missing, a number or boolean setting is malformed, the
    /// `VAULT_CACERT` file is unreadable or invalid, or when `DEPLOYMENT_ENV`
    /// is not local and `VAULT_ADDR` is plain `http://` to a host that is not
    /// loopback (allow it with `SECRETS_VAULT_ALLOW_HTTP=true`).
    pub fn from_settings(config: &Settings) -> Result<VaultProvider, Error> {
        let Some((address, address_var)) = config.first(&["VAULT_ADDR", "BAO_ADDR"]) else {
            return Err(Error::config(
                "the 'vault' provider needs an address: set VAULT_ADDR (or BAO_ADDR), e.g. https://vault.example:8200",
            ));
        };
        let mut b = VaultProvider::builder(address.trim());
        b.address_var = address_var;

        let token = config.first(&["VAULT_TOKEN", "BAO_TOKEN"]).map(|(t, _)| t);
        b = match (config.var("VAULT_ROLE_ID"), config.var("VAULT_SECRET_ID")) {
            (Some(role), Some(secret)) => b.approle(role, secret),
            (Some(_), None) => {
                return Err(Error::config(
                    "VAULT_ROLE_ID is set but VAULT_SECRET_ID is not: AppRole login needs both",
                ));
            }
            (None, Some(_)) => {
                return Err(Error::config(
                    "VAULT_SECRET_ID is set but VAULT_ROLE_ID is not: AppRole login needs both",
                ));
            }
            (None, None) => match token {
                Some(t) => b.token(t),
                None => {
                    return Err(Error::config(
                        "the 'vault' provider needs credentials: set VAULT_TOKEN (or BAO_TOKEN), \
                         or VAULT_ROLE_ID and VAULT_SECRET_ID for AppRole",
                    ));
                }
            },
        };
        if let Some(m) = config.var("SECRETS_VAULT_APPROLE_MOUNT") {
            b = b.approle_mount(m.trim());
        }
        if let Some(m) = config.var("SECRETS_VAULT_MOUNT") {
            b = b.mount(m.trim());
        }
        b = b.prefix(config.prefix());
        if let Some((ns, _)) = config.first(&["VAULT_NAMESPACE", "BAO_NAMESPACE"]) {
            b = b.namespace(ns);
        }
        if let Some((path, var)) = config.first(&["VAULT_CACERT", "BAO_CACERT"]) {
            let path = PathBuf::from(path.trim());
            let label = format!("{var} ('{}')", path.display());
            b.ca = Some((CaSource::File(path), label));
        }
        b = b
            .connect_timeout(
                config.millis("SECRETS_VAULT_CONNECT_TIMEOUT_MS", DEFAULT_CONNECT_TIMEOUT)?,
            )
            .request_timeout(config.millis("SECRETS_VAULT_TIMEOUT_MS", DEFAULT_REQUEST_TIMEOUT)?);
        let allow_http = config.bool("SECRETS_VAULT_ALLOW_HTTP", false)?;
        if !config.is_local_deployment() && !allow_http {
            b.refuse_plain_http = Some(format!(
                "DEPLOYMENT_ENV is '{}' (not local, dev, development or test)",
                config.deployment_env()
            ));
        }
        b.build()
    }

    /// The Vault path a secret name is read from, as it appears in errors:
    /// `{mount}/data/{prefix}{name}`.
    pub fn data_path(&self, name: &str) -> String {
        format!(
            "{}/data/{}{}",
            self.mount,
            self.prefix,
            name.trim_start_matches('/')
        )
    }

    /// How many AppRole logins and token renewals this provider has done.
    pub fn auth_stats(&self) -> AuthStats {
        AuthStats {
            logins: self.logins.load(Ordering::Relaxed),
            renewals: self.renewals.load(Ordering::Relaxed),
        }
    }

    // ---- reading ----

    async fn fetch_inner(&self, name: &str, version: &Version) -> Result<SecretValue, Error> {
        // `/db` and `db` are the same Vault path (AWS-style names often
        // start with `/`); `db/` is a folder, which holds no value.
        let name = name.trim_start_matches('/');
        let what = self.data_path(name);
        if name.ends_with('/') {
            return Err(Error::not_found(format!(
                "not found ({what}; a path ending in '/' is a folder, not a secret)"
            ))
            .with_provider(NAME));
        }
        check_segments(name).map_err(|why| {
            Error::new(
                ErrorKind::InvalidPath,
                format!("secret path '{name}' cannot be read from Vault: {why}"),
            )
            .with_provider(NAME)
        })?;
        let query = match version {
            Version::Current => String::new(),
            Version::Id(id) => match id.trim().parse::<u64>() {
                Ok(n) if n > 0 => format!("?version={n}"),
                _ => {
                    return Err(Error::not_found(format!(
                        "not found ({what}; Vault versions are positive numbers, '{id}' is not one)"
                    ))
                    .with_provider(NAME));
                }
            },
            Version::Stage(stage) => {
                return Err(Error::not_found(format!(
                    "not found ({what}; Vault KV has no stages such as '{stage}', only version numbers)"
                ))
                .with_provider(NAME));
            }
        };
        let url = format!(
            "{}/v1/{}/data/{}{}",
            self.base,
            encode_path(&self.mount),
            encode_path(&format!("{}{}", self.prefix, name)),
            query
        );
        let reply = self.authed(Method::GET, &url, &what).await?;
        match reply.status {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => {
                let why = match deleted_reason(&reply) {
                    Some(reason) => {
                        format!("not found ({what}; {} {reason})", version_label(version))
                    }
                    None => format!("not found ({what})"),
                };
                return Err(Error::not_found(why).with_provider(NAME));
            }
            _ => return Err(status_error(&reply, &what)),
        }
        let mut doc: Value = serde_json::from_slice(&reply.body).map_err(|e| {
            Error::unavailable(format!(
                "unavailable ({what}: the answer is not JSON: {})",
                crate::error::describe_json_error(&e)
            ))
            .with_provider(NAME)
        })?;
        drop(reply);
        let data = doc
            .get_mut("data")
            .map(|d| d.get_mut("data").map(Value::take));
        match data {
            Some(Some(Value::Object(map))) => {
                let text = serde_json::to_string(&map).map_err(|_| {
                    Error::unavailable(format!("unavailable ({what}: cannot re-encode the data)"))
                        .with_provider(NAME)
                })?;
                Ok(SecretValue::Document(SecretString::from(text)))
            }
            // KV v2 answers 200 with `data: null` for a deleted or
            // destroyed version on some servers.
            Some(Some(Value::Null)) => Err(Error::not_found(format!(
                "not found ({what}; {} is deleted or destroyed)",
                version_label(version)
            ))
            .with_provider(NAME)),
            _ => Err(Error::unavailable(format!(
                "unavailable ({what}: the answer has no data object; is '{}' a KV version 2 mount?)",
                self.mount
            ))
            .with_provider(NAME)),
        }
    }

    async fn list_inner(&self, prefix: &str) -> Result<Vec<String>, Error> {
        let prefix = prefix.trim_start_matches('/');
        // `prefix` is a string prefix of relative paths: list its folder and
        // keep the entries that start with the rest.
        let (folder, partial) = match prefix.rfind('/') {
            Some(i) => (&prefix[..=i], &prefix[i + 1..]),
            None => ("", prefix),
        };
        if !folder.is_empty() {
            check_segments(folder.trim_end_matches('/')).map_err(|why| {
                Error::new(
                    ErrorKind::InvalidPath,
                    format!("list prefix '{prefix}' is not a valid Vault path: {why}"),
                )
                .with_provider(NAME)
            })?;
        }
        let mut out = Vec::new();
        let mut queue = std::collections::VecDeque::from([folder.to_owned()]);
        let mut visited = 0usize;
        while let Some(dir) = queue.pop_front() {
            visited += 1;
            if visited > MAX_LIST_FOLDERS {
                return Err(Error::unavailable(format!(
                    "unavailable ({}/metadata/{}{prefix}: more than {MAX_LIST_FOLDERS} folders to list)",
                    self.mount, self.prefix
                ))
                .with_provider(NAME));
            }
            let top = dir == folder;
            for key in self.list_folder(&dir).await? {
                if top && !key.starts_with(partial) {
                    continue;
                }
                let path = format!("{dir}{key}");
                if key.ends_with('/') {
                    queue.push_back(path);
                } else {
                    out.push(path);
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The keys of one folder (relative to the prefix); 404 is empty.
    async fn list_folder(&self, dir: &str) -> Result<Vec<String>, Error> {
        let full = format!("{}{}", self.prefix, dir);
        let what = format!("{}/metadata/{}", self.mount, full);
        let url = format!(
            "{}/v1/{}/metadata/{}?list=true",
            self.base,
            encode_path(&self.mount),
            encode_path(&full)
        );
        let reply = self.authed(Method::GET, &url, &what).await?;
        match reply.status {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Ok(Vec::new()),
            _ => return Err(status_error(&reply, &what)),
        }
        let v = reply.json().ok_or_else(|| {
            Error::unavailable(format!("unavailable ({what}: the answer is not JSON)"))
                .with_provider(NAME)
        })?;
        let keys = v
            .get("data")
            .and_then(|d| d.get("keys"))
            .and_then(Value::as_array)
            .ok_or_else(|| {
                Error::unavailable(format!("unavailable ({what}: the answer has no keys)"))
                    .with_provider(NAME)
            })?;
        Ok(keys
            .iter()
            .filter_map(Value::as_str)
            .filter(|k| !k.is_empty() && *k != "/")
            .map(str::to_owned)
            .collect())
    }

    async fn health_inner(&self) -> Result<(), Error> {
        let what = "sys/health";
        let url = format!(
            "{}/v1/sys/health?standbyok=true&perfstandbyok=true",
            self.base
        );
        let reply = self
            .send_in(Method::GET, &url, what, None, None, false)
            .await?;
        match reply.status.as_u16() {
            200 => {}
            503 => {
                return Err(
                    Error::unavailable("unavailable (503 sealed; sys/health)").with_provider(NAME)
                );
            }
            501 => {
                return Err(
                    Error::unavailable("unavailable (501 not initialised; sys/health)")
                        .with_provider(NAME),
                );
            }
            _ => return Err(status_error(&reply, what)),
        }
        let what = "auth/token/lookup-self";
        let url = format!("{}/v1/auth/token/lookup-self", self.base);
        let reply = self.authed(Method::GET, &url, what).await?;
        match reply.status {
            StatusCode::OK => Ok(()),
            StatusCode::FORBIDDEN => Err(Error::access_denied(
                "access denied (auth/token/lookup-self: the token is invalid, expired or revoked)",
            )
            .with_provider(NAME)),
            _ => Err(status_error(&reply, what)),
        }
    }

    // ---- transport ----

    /// Sends one request. Transport failures (connect, timeout) become
    /// "unavailable" naming `what`; every HTTP status is returned.
    async fn send(
        &self,
        method: Method,
        url: &str,
        what: &str,
        token: Option<&SecretString>,
        body: Option<Vec<u8>>,
    ) -> Result<Reply, Error> {
        self.send_in(method, url, what, token, body, true).await
    }

    /// [`send`](Self::send), with or without the namespace header
    /// (`sys/health` lives in the root namespace only).
    async fn send_in(
        &self,
        method: Method,
        url: &str,
        what: &str,
        token: Option<&SecretString>,
        body: Option<Vec<u8>>,
        in_namespace: bool,
    ) -> Result<Reply, Error> {
        let mut headers = HeaderMap::new();
        if let Some(t) = token {
            let value = token_header(t).map_err(|()| {
                Error::access_denied(format!(
                    "access denied ({what}: the token cannot be sent in an HTTP header)"
                ))
                .with_provider(NAME)
            })?;
            headers.insert("x-vault-token", value);
        }
        if let Some(ns) = self.namespace.as_ref().filter(|_| in_namespace) {
            headers.insert("x-vault-namespace", ns.clone());
        }
        let mut req = self.client.request(method, url).headers(headers);
        if let Some(b) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| self.transport_error(e, what))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| self.transport_error(e, what))?;
        Ok(Reply {
            status,
            body: Vec::from(bytes),
        })
    }

    fn transport_error(&self, e: reqwest::Error, what: &str) -> Error {
        let detail = if e.is_timeout() {
            format!(
                "unavailable ({what}: {} timed out; connect timeout {} ms, request timeout {} ms)",
                self.base,
                self.connect_timeout.as_millis(),
                self.request_timeout.as_millis()
            )
        } else if e.is_connect() && mentions_certificate(&e) {
            format!(
                "unavailable ({what}: the TLS certificate of {} is not trusted; \
                 for a private CA set VAULT_CACERT)",
                self.base
            )
        } else if e.is_connect() {
            format!("unavailable ({what}: cannot connect to {})", self.base)
        } else {
            format!("unavailable ({what}: the request to {} failed)", self.base)
        };
        Error::unavailable(detail)
            .with_provider(NAME)
            .with_source(e.without_url())
    }

    /// Sends an authenticated request. A 403 whose token turns out to be
    /// dead (expired or revoked) leads to one AppRole re-login and one
    /// retry; for a static token it is reported as such.
    async fn authed(&self, method: Method, url: &str, what: &str) -> Result<Reply, Error> {
        let session = self.session().await?;
        let reply = self
            .send(method.clone(), url, what, Some(&session.token), None)
            .await?;
        if reply.status != StatusCode::FORBIDDEN {
            return Ok(reply);
        }
        if self.token_alive(&session.token).await != Some(false) {
            return Ok(reply); // a real permission problem (or unknown)
        }
        match &self.auth {
            Auth::Token(_) => Err(Error::access_denied(format!(
                "access denied ({what}; the token is expired or revoked)"
            ))
            .with_provider(NAME)),
            Auth::AppRole { .. } => {
                tracing::debug!(target: LOG_TARGET, path = what, "token refused as dead; logging in again");
                let fresh = self.relogin_after(session.generation).await?;
                self.send(method, url, what, Some(&fresh.token), None).await
            }
        }
    }

    /// `Some(true)` when lookup-self accepts the token, `Some(false)` when it
    /// refuses it (403), `None` when that cannot be told.
    async fn token_alive(&self, token: &SecretString) -> Option<bool> {
        let url = format!("{}/v1/auth/token/lookup-self", self.base);
        let reply = self
            .send(
                Method::GET,
                &url,
                "auth/token/lookup-self",
                Some(token),
                None,
            )
            .await
            .ok()?;
        match reply.status {
            StatusCode::OK => Some(true),
            StatusCode::FORBIDDEN => Some(false),
            _ => None,
        }
    }

    /// The token to use now: a static token, or the AppRole session,
    /// renewed or re-acquired when two thirds of its lease have passed.
    async fn session(&self) -> Result<Arc<Session>, Error> {
        if let Auth::Token(s) = &self.auth {
            return Ok(s.clone());
        }
        if let Some(s) = self.current_fresh() {
            return Ok(s);
        }
        let _guard = self.refresh.lock().await;
        if let Some(s) = self.current_fresh() {
            return Ok(s);
        }
        let now = self.clock.now();
        let current = self.session.read().clone();
        let next = match &current {
            Some(s) if s.renewable && !s.expired(now) => match self.renew(s).await {
                Ok(n) => Ok(n),
                Err(e) => {
                    tracing::debug!(target: LOG_TARGET, error = %e, "token renewal failed; logging in again");
                    self.login().await
                }
            },
            _ => self.login().await,
        };
        match next {
            Ok(n) => {
                let n = Arc::new(n);
                *self.session.write() = Some(n.clone());
                Ok(n)
            }
            // Vault is unreachable but the old token has not expired: keep
            // using it rather than fail early.
            Err(e) => match current {
                Some(s) if !s.expired(now) && e.kind() == ErrorKind::Unavailable => Ok(s),
                _ => Err(e),
            },
        }
    }

    fn current_fresh(&self) -> Option<Arc<Session>> {
        let s = self.session.read().clone()?;
        s.fresh(self.clock.now()).then_some(s)
    }

    /// Logs in again unless another task already did since the session of
    /// `generation` was refused.
    async fn relogin_after(&self, generation: u64) -> Result<Arc<Session>, Error> {
        let _guard = self.refresh.lock().await;
        if let Some(s) = self.session.read().clone()
            && s.generation != generation
        {
            return Ok(s);
        }
        let n = Arc::new(self.login().await?);
        *self.session.write() = Some(n.clone());
        Ok(n)
    }

    async fn login(&self) -> Result<Session, Error> {
        let Auth::AppRole {
            role_id,
            secret_id,
            mount,
        } = &self.auth
        else {
            return Err(Error::config("AppRole login without AppRole credentials"));
        };
        let what = format!("auth/{mount}/login");
        let url = format!("{}/v1/auth/{}/login", self.base, encode_path(mount));
        let body = serde_json::to_vec(&serde_json::json!({
            "role_id": role_id.expose_secret(),
            "secret_id": secret_id.expose_secret(),
        }))
        .map_err(|_| Error::config("cannot encode the AppRole login request"))?;
        let started = self.clock.now();
        let reply = self
            .send(Method::POST, &url, &what, None, Some(body))
            .await?;
        match reply.status {
            StatusCode::OK => {}
            StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN => {
                // Vault says "invalid role or secret ID"; should a server ever
                // echo a credential back, it is cut out here.
                let why = reply
                    .errors_summary()
                    .map(|w| {
                        w.replace(role_id.expose_secret(), "[role id]")
                            .replace(secret_id.expose_secret(), "[secret id]")
                    })
                    .unwrap_or_else(|| "the role id or secret id was refused".to_owned());
                return Err(Error::access_denied(format!(
                    "access denied (AppRole login at {what}: {why})"
                ))
                .with_provider(NAME));
            }
            StatusCode::NOT_FOUND => {
                return Err(Error::access_denied(format!(
                    "access denied (AppRole login at {what}: 404, is AppRole enabled at '{mount}'? set SECRETS_VAULT_APPROLE_MOUNT)"
                ))
                .with_provider(NAME));
            }
            _ => return Err(status_error(&reply, &what)),
        }
        let session = self.session_from_auth(&reply, &what, started, None)?;
        self.logins.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            target: LOG_TARGET,
            mount = %mount,
            lease_secs = session.lease.as_secs(),
            renewable = session.renewable,
            "approle login"
        );
        Ok(session)
    }

    async fn renew(&self, current: &Session) -> Result<Session, Error> {
        let what = "auth/token/renew-self";
        let url = format!("{}/v1/auth/token/renew-self", self.base);
        let started = self.clock.now();
        let reply = self
            .send(
                Method::POST,
                &url,
                what,
                Some(&current.token),
                Some(b"{}".to_vec()),
            )
            .await?;
        if reply.status != StatusCode::OK {
            return Err(status_error(&reply, what));
        }
        let session = self.session_from_auth(&reply, what, started, Some(current))?;
        self.renewals.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            target: LOG_TARGET,
            lease_secs = session.lease.as_secs(),
            renewable = session.renewable,
            "token renewed"
        );
        Ok(session)
    }

    /// Reads `auth.client_token`, `auth.lease_duration` and `auth.renewable`
    /// of a login or renewal answer.
    fn session_from_auth(
        &self,
        reply: &Reply,
        what: &str,
        started: Instant,
        previous: Option<&Session>,
    ) -> Result<Session, Error> {
        let bad = || {
            Error::unavailable(format!(
                "unavailable ({what}: the answer has no auth block)"
            ))
            .with_provider(NAME)
        };
        let mut v = reply.json().ok_or_else(bad)?;
        let auth = v
            .get_mut("auth")
            .filter(|a| a.is_object())
            .ok_or_else(bad)?;
        let token = match auth.get_mut("client_token").map(Value::take) {
            Some(Value::String(mut t)) if !t.is_empty() => {
                let s = SecretString::from(t.as_str());
                t.zeroize();
                s
            }
            _ => match previous {
                Some(p) => p.token.clone(),
                None => return Err(bad()),
            },
        };
        let lease = Duration::from_secs(
            auth.get("lease_duration")
                .and_then(Value::as_u64)
                .unwrap_or(0),
        );
        let mut renewable = auth
            .get("renewable")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        // A renewal that grants less than before has hit the token's max TTL:
        // the next refresh logs in again instead of renewing.
        if let Some(p) = previous
            && lease < p.lease
        {
            renewable = false;
        }
        let (refresh_at, expires_at) = if lease.is_zero() {
            (None, None)
        } else {
            (Some(started + lease * 2 / 3), Some(started + lease))
        };
        Ok(Session {
            token,
            generation: self.generation.fetch_add(1, Ordering::Relaxed) + 1,
            refresh_at,
            expires_at,
            lease,
            renewable,
        })
    }
}

impl Provider for VaultProvider {
    fn name(&self) -> &str {
        NAME
    }

    fn fetch<'a>(
        &'a self,
        name: &'a str,
        version: &'a Version,
    ) -> BoxFuture<'a, Result<SecretValue, Error>> {
        Box::pin(self.fetch_inner(name, version))
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, Error>> {
        Box::pin(self.list_inner(prefix))
    }

    /// `sys/health` (a sealed or uninitialised server is unavailable), then
    /// `auth/token/lookup-self` (a dead token is access denied).
    fn health(&self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(self.health_inner())
    }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Maps a status other than the ones the caller handles: 403 access denied,
/// 404 not found, anything else (5xx, sealed, rate limited) unavailable.
fn status_error(reply: &Reply, what: &str) -> Error {
    let code = reply.status.as_u16();
    let summary = reply.errors_summary();
    let detail = match code {
        403 => format!("access denied ({what})"),
        404 => format!("not found ({what})"),
        503 if summary
            .as_deref()
            .is_some_and(|s| s.to_ascii_lowercase().contains("sealed")) =>
        {
            format!("unavailable (503 sealed; {what})")
        }
        _ => match &summary {
            Some(s) => format!("unavailable ({code} {s}; {what})"),
            None => format!("unavailable ({code}; {what})"),
        },
    };
    let e = match code {
        403 => Error::access_denied(detail),
        404 => Error::not_found(detail),
        _ => Error::unavailable(detail),
    };
    e.with_provider(NAME)
}

/// Why a 404 on a data read is a deleted or destroyed version, if it is.
fn deleted_reason(reply: &Reply) -> Option<&'static str> {
    let v = reply.json()?;
    let meta = v.get("data")?.get("metadata")?;
    if meta.get("destroyed").and_then(Value::as_bool) == Some(true) {
        return Some("is destroyed");
    }
    match meta.get("deletion_time").and_then(Value::as_str) {
        Some(t) if !t.is_empty() => Some("is deleted"),
        _ => None,
    }
}

fn version_label(version: &Version) -> String {
    match version {
        Version::Id(id) => format!("version {}", id.trim()),
        _ => "the current version".to_owned(),
    }
}

/// Follows at most three redirects, and only to the same scheme, host and
/// port: `X-Vault-Token` is a custom header, which an HTTP client would
/// carry along to any host a redirect names. A redirect elsewhere is
/// returned as is (and reported as unavailable).
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let Some(first) = attempt.previous().first() else {
            return attempt.stop();
        };
        if attempt.previous().len() > 3 {
            attempt.stop()
        } else if attempt.url().origin() == first.origin() {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

/// Whether a transport error was a TLS certificate problem (rustls says
/// so in its error text, e.g. "invalid peer certificate: UnknownIssuer").
fn mentions_certificate(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.to_string().to_ascii_lowercase().contains("certificate") {
            return true;
        }
        cur = err.source();
    }
    false
}

fn token_header(token: &SecretString) -> Result<HeaderValue, ()> {
    let mut v = HeaderValue::from_str(token.expose_secret()).map_err(|_| ())?;
    v.set_sensitive(true);
    Ok(v)
}

fn parse_address(address: &str, var: &str) -> Result<Url, Error> {
    let address = address.trim();
    if address.is_empty() {
        return Err(Error::config(format!("{var} is empty")));
    }
    let url = Url::parse(address).map_err(|_| {
        Error::config(format!(
            "{var} is not a URL (expected http(s)://host:port, e.g. https://vault.example:8200)"
        ))
    })?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(Error::config(format!(
            "{var} must start with https:// or http://, not {}://",
            url.scheme()
        )));
    }
    if url.host().is_none() {
        return Err(Error::config(format!("{var} has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::config(format!(
            "{var} must not contain credentials; use VAULT_TOKEN or AppRole"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::config(format!(
            "{var} must not have a query or fragment"
        )));
    }
    Ok(url)
}

/// The address with any `user:password@` replaced (for `Debug`, before
/// [`parse_address`] has refused it).
fn without_userinfo(address: &str) -> String {
    let (scheme, rest) = address.split_once("://").unwrap_or(("", address));
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) if !scheme.is_empty() => format!("{scheme}://[credentials]@{}", &rest[at + 1..]),
        _ => address.to_owned(),
    }
}

fn check_plain_http(url: &Url, var: &str, why: &str) -> Result<(), Error> {
    if url.scheme() == "http" && !is_loopback(url.host_str().unwrap_or("")) {
        return Err(Error::config(format!(
            "{var} is plain http:// to a host that is not loopback, and {why}: \
             the Vault token and the secrets would cross the network unencrypted; \
             use https://, or set SECRETS_VAULT_ALLOW_HTTP=true to allow it"
        )));
    }
    Ok(())
}

fn load_ca(source: &CaSource, label: &str) -> Result<Vec<reqwest::Certificate>, Error> {
    let pem = match source {
        CaSource::Pem(p) => p.clone(),
        CaSource::File(path) => std::fs::read(path).map_err(|e| {
            Error::config(format!("cannot read {label}: {}", io_reason(&e))).with_source(e)
        })?,
    };
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
        Error::config(format!("{label} is not a valid PEM certificate bundle"))
            .with_source(e.without_url())
    })?;
    if certs.is_empty() {
        return Err(Error::config(format!(
            "{label} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)"
        )));
    }
    Ok(certs)
}

fn io_reason(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file",
        std::io::ErrorKind::PermissionDenied => "permission denied",
        std::io::ErrorKind::IsADirectory => "it is a directory",
        _ => "i/o error",
    }
}

fn trim_slashes(s: &str) -> String {
    s.trim().trim_matches('/').to_owned()
}

/// `/myapp` and `myapp/` both become `myapp/`; empty stays empty.
fn normalise_prefix(prefix: &str) -> String {
    let p = prefix.trim().trim_start_matches('/');
    if p.is_empty() {
        String::new()
    } else if p.ends_with('/') {
        p.to_owned()
    } else {
        format!("{p}/")
    }
}

/// Rejects paths that the URL layer would rewrite or that Vault cannot
/// address: empty, `.` or `..` segments, and control characters.
fn check_segments(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("it is empty");
    }
    if path.chars().any(char::is_control) {
        return Err("it contains a control character");
    }
    for seg in path.split('/') {
        match seg {
            "" => return Err("it has an empty segment ('//' or a leading or trailing '/')"),
            "." | ".." => return Err("it has a '.' or '..' segment"),
            _ => {}
        }
    }
    Ok(())
}

/// Percent-encodes each segment of a `/`-separated path (the separators
/// stay; an empty path stays empty).
fn encode_path(path: &str) -> String {
    path.split('/')
        .map(|seg| utf8_percent_encode(seg, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Settings {
        Settings::from_vars(pairs.iter().copied())
    }

    fn err(pairs: &[(&str, &str)]) -> Error {
        VaultProvider::from_settings(&config(pairs)).unwrap_err()
    }

    #[test]
    fn missing_address_is_a_config_error_naming_the_variables() {
        let e = err(&[("VAULT_TOKEN", "t")]);
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(
            e.to_string().contains("VAULT_ADDR") && e.to_string().contains("BAO_ADDR"),
            "{e}"
        );
    }

    #[test]
    fn missing_credentials_is_a_config_error_naming_the_variables() {
        let e = err(&[("VAULT_ADDR", "http://127.0.0.1:8200")]);
        assert_eq!(e.kind(), ErrorKind::Config);
        let m = e.to_string();
        assert!(
            m.contains("VAULT_TOKEN") && m.contains("VAULT_ROLE_ID"),
            "{m}"
        );
        let e = err(&[
            ("VAULT_ADDR", "http://127.0.0.1:8200"),
            ("VAULT_ROLE_ID", "r"),
        ]);
        assert!(e.to_string().contains("VAULT_SECRET_ID"), "{e}");
    }

    #[test]
    fn bao_variables_are_accepted_as_aliases() {
        let p = VaultProvider::from_settings(&config(&[
            ("BAO_ADDR", "http://127.0.0.1:8200/"),
            ("BAO_TOKEN", "s.tok"),
            ("BAO_NAMESPACE", "team-a"),
        ]))
        .unwrap();
        assert_eq!(p.base, "http://127.0.0.1:8200");
        assert_eq!(p.namespace.as_ref().unwrap().to_str().unwrap(), "team-a");
    }

    #[test]
    fn mount_and_prefix_shape_the_data_path() {
        let p = VaultProvider::from_settings(&config(&[
            ("VAULT_ADDR", "http://127.0.0.1:8200"),
            ("VAULT_TOKEN", "t"),
            ("SECRETS_VAULT_MOUNT", "/kv/"),
            ("SECRETS_PREFIX", "/myapp"),
        ]))
        .unwrap();
        assert_eq!(p.data_path("db"), "kv/data/myapp/db");
        let p = VaultProvider::builder("http://127.0.0.1:8200")
            .token("t")
            .build()
            .unwrap();
        assert_eq!(p.data_path("db"), "secret/data/db");
    }

    #[test]
    fn plain_http_to_a_remote_host_is_refused_outside_local_deployments() {
        let e = err(&[
            ("DEPLOYMENT_ENV", "production"),
            ("VAULT_ADDR", "http://vault.internal:8200"),
            ("VAULT_TOKEN", "t"),
        ]);
        assert_eq!(e.kind(), ErrorKind::Config);
        let m = e.to_string();
        assert!(
            m.contains("SECRETS_VAULT_ALLOW_HTTP") && m.contains("production"),
            "{m}"
        );
        for ok in [
            vec![
                ("DEPLOYMENT_ENV", "production"),
                ("VAULT_ADDR", "https://vault.internal:8200"),
            ],
            vec![
                ("DEPLOYMENT_ENV", "production"),
                ("VAULT_ADDR", "http://127.0.0.1:8200"),
            ],
            vec![
                ("DEPLOYMENT_ENV", "production"),
                ("VAULT_ADDR", "http://[::1]:8200"),
            ],
            vec![
                ("DEPLOYMENT_ENV", "production"),
                ("VAULT_ADDR", "http://localhost:8200"),
            ],
            vec![
                ("DEPLOYMENT_ENV", "production"),
                ("VAULT_ADDR", "http://vault.internal:8200"),
                ("SECRETS_VAULT_ALLOW_HTTP", "true"),
            ],
            vec![
                ("DEPLOYMENT_ENV", "dev"),
                ("VAULT_ADDR", "http://vault.internal:8200"),
            ],
        ] {
            let mut pairs = ok.clone();
            pairs.push(("VAULT_TOKEN", "t"));
            assert!(
                VaultProvider::from_settings(&config(&pairs)).is_ok(),
                "{ok:?}"
            );
        }
    }

    #[test]
    fn bad_addresses_are_config_errors() {
        for (addr, needle) in [
            ("vault.internal:8200", "https://"),
            ("not a url", "not a URL"),
            ("ftp://vault", "ftp://"),
            ("https://user:pw@vault", "credentials"),
        ] {
            let e = err(&[("VAULT_ADDR", addr), ("VAULT_TOKEN", "t")]);
            assert_eq!(e.kind(), ErrorKind::Config, "{addr}");
            assert!(e.to_string().contains(needle), "{addr}: {e}");
            assert!(e.to_string().contains("VAULT_ADDR"), "{addr}: {e}");
        }
        assert!(
            !err(&[
                ("VAULT_ADDR", "https://user:pw@vault"),
                ("VAULT_TOKEN", "t")
            ])
            .to_string()
            .contains("pw")
        );
    }

    #[test]
    fn bad_timeouts_are_config_errors_naming_the_variable() {
        let e = err(&[
            ("VAULT_ADDR", "http://127.0.0.1:8200"),
            ("VAULT_TOKEN", "t"),
            ("SECRETS_VAULT_TIMEOUT_MS", "5s"),
        ]);
        assert!(e.to_string().contains("SECRETS_VAULT_TIMEOUT_MS"), "{e}");
        let e = err(&[
            ("VAULT_ADDR", "http://127.0.0.1:8200"),
            ("VAULT_TOKEN", "t"),
            ("SECRETS_VAULT_CONNECT_TIMEOUT_MS", "0"),
        ]);
        assert!(
            e.to_string().contains("SECRETS_VAULT_CONNECT_TIMEOUT_MS"),
            "{e}"
        );
    }

    #[test]
    fn unreadable_or_invalid_ca_file_is_a_config_error_naming_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let e = err(&[
            ("VAULT_ADDR", "https://vault.internal:8200"),
            ("VAULT_TOKEN", "t"),
            ("VAULT_CACERT", missing.to_str().unwrap()),
        ]);
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(
            e.to_string().contains("VAULT_CACERT") && e.to_string().contains("no such file"),
            "{e}"
        );
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "this is not a certificate").unwrap();
        let e = err(&[
            ("VAULT_ADDR", "https://vault.internal:8200"),
            ("VAULT_TOKEN", "t"),
            ("VAULT_CACERT", junk.to_str().unwrap()),
        ]);
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains("VAULT_CACERT"), "{e}");
        let broken = dir.path().join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let e = err(&[
            ("VAULT_ADDR", "https://vault.internal:8200"),
            ("VAULT_TOKEN", "t"),
            ("VAULT_CACERT", broken.to_str().unwrap()),
        ]);
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains("VAULT_CACERT"), "{e}");
    }

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

    #[test]
    fn token_that_cannot_be_a_header_is_refused_without_echoing_it() {
        let e = VaultProvider::builder("http://127.0.0.1:8200")
            .token("bad\ntoken-secret")
            .build()
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(!e.to_string().contains("token-secret"), "{e}");
    }

    #[test]
    fn path_segments_are_encoded_and_dot_segments_refused() {
        assert_eq!(encode_path("my app/db?x#y"), "my%20app/db%3Fx%23y");
        assert_eq!(encode_path(""), "");
        assert!(check_segments("a/b").is_ok());
        for bad in ["", "a//b", "../sys", "a/./b", "a/", "a\nb"] {
            assert!(check_segments(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn prefix_is_normalised_to_a_folder() {
        assert_eq!(normalise_prefix(""), "");
        assert_eq!(normalise_prefix("/"), "");
        assert_eq!(normalise_prefix("/myapp"), "myapp/");
        assert_eq!(normalise_prefix("myapp/"), "myapp/");
        assert_eq!(normalise_prefix("/a/b/"), "a/b/");
    }

    #[test]
    fn status_errors_map_to_kinds_and_summarise_vault_errors() {
        let reply = |code: u16, body: &str| Reply {
            status: StatusCode::from_u16(code).unwrap(),
            body: body.as_bytes().to_vec(),
        };
        let e = status_error(
            &reply(503, r#"{"errors":["Vault is sealed"]}"#),
            "secret/data/x",
        );
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert_eq!(e.to_string(), "unavailable (503 sealed; secret/data/x)");
        let e = status_error(&reply(500, r#"{"errors":["internal error","b"]}"#), "p");
        assert_eq!(
            e.to_string(),
            "unavailable (500 internal error (+1 more); p)"
        );
        let e = status_error(
            &reply(
                500,
                r#"{"errors":["1 error occurred:\n\t* storage failure\n\n"]}"#,
            ),
            "p",
        );
        assert_eq!(e.to_string(), "unavailable (500 storage failure; p)");
        let e = status_error(&reply(502, "<html>bad gateway</html>"), "p");
        assert_eq!(e.to_string(), "unavailable (502; p)");
        assert_eq!(
            status_error(&reply(403, "{}"), "p").kind(),
            ErrorKind::AccessDenied
        );
        assert_eq!(
            status_error(&reply(404, "{}"), "p").kind(),
            ErrorKind::NotFound
        );
        let long = format!(r#"{{"errors":["{}"]}}"#, "x".repeat(500));
        assert!(status_error(&reply(500, &long), "p").to_string().len() < 150);
    }

    #[test]
    fn deleted_versions_are_recognised_from_the_404_body() {
        let reply = |body: &str| Reply {
            status: StatusCode::NOT_FOUND,
            body: body.as_bytes().to_vec(),
        };
        let deleted = r#"{"data":{"data":null,"metadata":{"deletion_time":"2024-01-01T00:00:00Z","destroyed":false}}}"#;
        assert_eq!(deleted_reason(&reply(deleted)), Some("is deleted"));
        let destroyed =
            r#"{"data":{"data":null,"metadata":{"deletion_time":"","destroyed":true}}}"#;
        assert_eq!(deleted_reason(&reply(destroyed)), Some("is destroyed"));
        assert_eq!(deleted_reason(&reply(r#"{"errors":[]}"#)), None);
    }

    #[test]
    fn sessions_refresh_at_two_thirds_of_the_lease() {
        let (clock, mock) = Clock::mock();
        let p = VaultProvider::builder("http://127.0.0.1:8200")
            .approle("r", "s")
            .clock(clock.clone())
            .build()
            .unwrap();
        let reply = Reply {
            status: StatusCode::OK,
            body: br#"{"auth":{"client_token":"tok","lease_duration":30,"renewable":true}}"#
                .to_vec(),
        };
        let s = p
            .session_from_auth(&reply, "login", clock.now(), None)
            .unwrap();
        assert!(s.fresh(clock.now()) && s.renewable);
        mock.advance(Duration::from_secs(19));
        assert!(s.fresh(clock.now()));
        mock.advance(Duration::from_secs(1));
        assert!(!s.fresh(clock.now()) && !s.expired(clock.now()));
        mock.advance(Duration::from_secs(10));
        assert!(s.expired(clock.now()));
        // A renewal granting less than before has hit the max TTL.
        let shorter = Reply {
            status: StatusCode::OK,
            body: br#"{"auth":{"client_token":"tok","lease_duration":10,"renewable":true}}"#
                .to_vec(),
        };
        let r = p
            .session_from_auth(&shorter, "renew", clock.now(), Some(&s))
            .unwrap();
        assert!(!r.renewable);
        assert!(r.generation > s.generation);
    }
}
