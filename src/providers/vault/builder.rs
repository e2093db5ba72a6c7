//! Building a [`VaultProvider`]: [`VaultProviderBuilder`] in code and
//! [`VaultProvider::from_settings`] from the environment, with address and
//! path checks, CA certificate loading and the plain-HTTP guardrail.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use parking_lot::RwLock;
use reqwest::Url;
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use super::VaultProvider;
use super::auth::{Auth, JwtMethod, Session};
use super::http::{check_segments, same_origin_redirects, token_header};
use crate::clock::Clock;
use crate::error::Error;
use crate::providers::endpoint::is_loopback;
use crate::settings::Settings;

/// Default KV v2 mount (`SECRETS_VAULT_MOUNT`).
pub const DEFAULT_MOUNT: &str = "secret";
/// Default AppRole auth mount (`SECRETS_VAULT_APPROLE_MOUNT`).
pub const DEFAULT_APPROLE_MOUNT: &str = "approle";
/// Default JWT auth mount (`SECRETS_VAULT_AUTH_MOUNT` with
/// `SECRETS_VAULT_AUTH=jwt`).
pub const DEFAULT_JWT_MOUNT: &str = "jwt";
/// Default Kubernetes auth mount (`SECRETS_VAULT_AUTH_MOUNT` with
/// `SECRETS_VAULT_AUTH=kubernetes`).
pub const DEFAULT_KUBERNETES_MOUNT: &str = "kubernetes";
/// Where the kubelet mounts a pod's service-account token: the default
/// `SECRETS_VAULT_JWT_FILE` of Kubernetes auth.
pub const DEFAULT_KUBERNETES_JWT_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";
/// Default connect timeout (`SECRETS_VAULT_CONNECT_TIMEOUT_MS`): 1000 ms.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);
/// Default whole-request timeout (`SECRETS_VAULT_TIMEOUT_MS`): 5000 ms.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_millis(5000);

enum AuthSpec {
    Token(SecretString),
    AppRole {
        role_id: SecretString,
        secret_id: SecretString,
    },
    Jwt {
        method: JwtMethod,
        role: String,
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
    /// The variable the address was read from (an instance's own, for a
    /// named one), for error messages.
    address_var: Cow<'static, str>,
    auth: Option<AuthSpec>,
    approle_mount: String,
    /// The mount of the login method, when set (`SECRETS_VAULT_AUTH_MOUNT`).
    auth_mount: Option<String>,
    /// The JWT file and the words that name it in errors.
    jwt_file: Option<(PathBuf, String)>,
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
            Some(AuthSpec::Jwt { method, .. }) => method.as_str(),
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
            address_var: Cow::Borrowed("the Vault address"),
            auth: None,
            approle_mount: DEFAULT_APPROLE_MOUNT.to_owned(),
            auth_mount: None,
            jwt_file: None,
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

    /// Authenticates with JWT auth: logs in as `role` with the JWT that
    /// `jwt_file` holds, read again at every login (a rotated token is
    /// picked up), and renews or re-acquires the login token as AppRole's.
    pub fn jwt(mut self, role: impl Into<String>, jwt_file: impl AsRef<Path>) -> Self {
        self.auth = Some(AuthSpec::Jwt {
            method: JwtMethod::Jwt,
            role: role.into(),
        });
        self.jwt_file(jwt_file)
    }

    /// Authenticates with Kubernetes auth: logs in as `role` with the pod's
    /// service-account token ([`DEFAULT_KUBERNETES_JWT_FILE`] unless
    /// [`jwt_file`](Self::jwt_file) names another), read again at every
    /// login.
    pub fn kubernetes(mut self, role: impl Into<String>) -> Self {
        self.auth = Some(AuthSpec::Jwt {
            method: JwtMethod::Kubernetes,
            role: role.into(),
        });
        self
    }

    /// The file that holds the JWT of JWT or Kubernetes auth (a projected
    /// service-account token).
    pub fn jwt_file(mut self, path: impl AsRef<Path>) -> Self {
        let path = path.as_ref().to_path_buf();
        let label = format!("'{}'", path.display());
        self.jwt_file = Some((path, label));
        self
    }

    /// The path the login method is enabled at: default `approle`, `jwt`
    /// or `kubernetes` after the method.
    pub fn auth_mount(mut self, mount: impl Into<String>) -> Self {
        self.auth_mount = Some(mount.into());
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
    /// a JWT or Kubernetes login has no role or its token file does not
    /// exist, an auth mount is not a valid path,
    /// a timeout is zero, the CA certificate cannot be read or parsed, or
    /// the plain-HTTP guardrail refuses the address.
    ///
    /// [`ErrorKind::Config`]: crate::ErrorKind::Config
    pub fn build(self) -> Result<VaultProvider, Error> {
        let base = parse_address(&self.address, &self.address_var)?;
        if let Some(why) = &self.refuse_plain_http {
            check_plain_http(&base, &self.address_var, why)?;
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
                let mount = match &self.auth_mount {
                    Some(m) => checked_mount(m, "AppRole", "SECRETS_VAULT_AUTH_MOUNT")?,
                    None => checked_mount(
                        &self.approle_mount,
                        "AppRole",
                        "SECRETS_VAULT_APPROLE_MOUNT",
                    )?,
                };
                Auth::AppRole {
                    role_id: SecretString::from(role_id.expose_secret().trim()),
                    secret_id: SecretString::from(secret_id.expose_secret().trim()),
                    mount,
                }
            }
            Some(AuthSpec::Jwt { method, role }) => {
                jwt_auth(method, &role, self.auth_mount.as_deref(), self.jwt_file)?
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

impl VaultProvider {
    /// A builder for a provider talking to `address` (`https://host:8200`).
    pub fn builder(address: impl Into<String>) -> VaultProviderBuilder {
        VaultProviderBuilder::new(address)
    }

    /// Builds the provider from the configuration's variables: see the
    /// table in the [module docs](super).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] naming the variable when the address or the
    /// credentials are missing, `SECRETS_VAULT_AUTH` is not a known method
    /// or lacks its settings (`SECRETS_VAULT_ROLE`, `SECRETS_VAULT_JWT_FILE`),
    /// a number or boolean setting is malformed, the
    /// `VAULT_CACERT` file is unreadable or invalid, or when `DEPLOYMENT_ENV`
    /// is not local and `VAULT_ADDR` is plain `http://` to a host that is not
    /// loopback (allow it with `SECRETS_VAULT_ALLOW_HTTP=true`).
    ///
    /// [`ErrorKind::Config`]: crate::ErrorKind::Config
    pub fn from_settings(config: &Settings) -> Result<VaultProvider, Error> {
        let Some((address, address_var)) = config.first(&["VAULT_ADDR", "BAO_ADDR"]) else {
            return Err(Error::config(
                "the 'vault' provider needs an address: set VAULT_ADDR (or BAO_ADDR), e.g. https://vault.example:8200",
            ));
        };
        let mut b = VaultProvider::builder(address.trim());
        b.address_var = address_var;

        b = auth_from_settings(b, config)?;
        if let Some(m) = config.var("SECRETS_VAULT_APPROLE_MOUNT") {
            b = b.approle_mount(m.trim());
        }
        if let Some(m) = config.var("SECRETS_VAULT_AUTH_MOUNT") {
            b = b.auth_mount(m.trim());
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
}

/// The login method of `SECRETS_VAULT_AUTH` (`token`, `approle`, `jwt`,
/// `kubernetes`), or, when it is unset, AppRole when its two ids are set,
/// else a token.
fn auth_from_settings(
    b: VaultProviderBuilder,
    config: &Settings,
) -> Result<VaultProviderBuilder, Error> {
    let token = config.first(&["VAULT_TOKEN", "BAO_TOKEN"]);
    let role_id = config.var("VAULT_ROLE_ID");
    let secret_id = config.var("VAULT_SECRET_ID");
    let method = config.first(&["SECRETS_VAULT_AUTH"]);
    let approle = |b: VaultProviderBuilder| match (role_id, secret_id) {
        (Some(role), Some(secret)) => Ok(b.approle(role, secret)),
        (Some(_), None) => Err(Error::config(
            "VAULT_ROLE_ID is set but VAULT_SECRET_ID is not: AppRole login needs both",
        )),
        (None, Some(_)) => Err(Error::config(
            "VAULT_SECRET_ID is set but VAULT_ROLE_ID is not: AppRole login needs both",
        )),
        (None, None) => Err(Error::config(
            "SECRETS_VAULT_AUTH is 'approle' but VAULT_ROLE_ID and VAULT_SECRET_ID are not set",
        )),
    };
    let Some((method, method_var)) = method else {
        if role_id.is_some() || secret_id.is_some() {
            return approle(b);
        }
        return match token {
            Some((t, _)) => Ok(b.token(t)),
            None => Err(Error::config(
                "the 'vault' provider needs credentials: set VAULT_TOKEN (or BAO_TOKEN), \
                 VAULT_ROLE_ID and VAULT_SECRET_ID for AppRole, or SECRETS_VAULT_AUTH=jwt or kubernetes \
                 with SECRETS_VAULT_ROLE",
            )),
        };
    };
    let jwt_method = match method.to_ascii_lowercase().as_str() {
        "token" => {
            return match token {
                Some((t, _)) => Ok(b.token(t)),
                None => Err(Error::config(format!(
                    "{method_var} is 'token' but VAULT_TOKEN (or BAO_TOKEN) is not set"
                ))),
            };
        }
        "approle" => return approle(b),
        "jwt" => JwtMethod::Jwt,
        "kubernetes" | "k8s" => JwtMethod::Kubernetes,
        _ => {
            return Err(Error::config(format!(
                "{method_var} must be token, approle, jwt or kubernetes"
            )));
        }
    };
    let Some((role, _)) = config.first(&["SECRETS_VAULT_ROLE"]) else {
        return Err(Error::config(format!(
            "{method_var} is '{}' but SECRETS_VAULT_ROLE (the Vault role to log in as) is not set",
            jwt_method.as_str()
        )));
    };
    let (file, label) = match (config.first(&["SECRETS_VAULT_JWT_FILE"]), jwt_method) {
        (Some((file, var)), _) => (file, format!("{var} ('{file}')")),
        (None, JwtMethod::Kubernetes) => (
            DEFAULT_KUBERNETES_JWT_FILE,
            format!("SECRETS_VAULT_JWT_FILE (default '{DEFAULT_KUBERNETES_JWT_FILE}')"),
        ),
        (None, JwtMethod::Jwt) => {
            return Err(Error::config(format!(
                "{method_var} is 'jwt' but SECRETS_VAULT_JWT_FILE (the file holding the JWT) is not set"
            )));
        }
    };
    let mut b = match jwt_method {
        JwtMethod::Jwt => b.jwt(role, file),
        JwtMethod::Kubernetes => b.kubernetes(role),
    };
    // Errors about the file name the setting it came from.
    b.jwt_file = Some((PathBuf::from(file), label));
    Ok(b)
}

/// The login method's state, checked: a role, a readable-looking JWT file
/// and a valid mount.
fn jwt_auth(
    method: JwtMethod,
    role: &str,
    auth_mount: Option<&str>,
    jwt_file: Option<(PathBuf, String)>,
) -> Result<Auth, Error> {
    let role = role.trim();
    if role.is_empty() {
        return Err(Error::config(
            "the Vault role to log in as (SECRETS_VAULT_ROLE) is empty",
        ));
    }
    if role.chars().any(char::is_control) {
        return Err(Error::config(
            "the Vault role to log in as (SECRETS_VAULT_ROLE) contains a control character",
        ));
    }
    let (jwt_file, jwt_file_label) = match (jwt_file, method) {
        (Some(f), _) => f,
        (None, JwtMethod::Kubernetes) => (
            PathBuf::from(DEFAULT_KUBERNETES_JWT_FILE),
            format!("SECRETS_VAULT_JWT_FILE (default '{DEFAULT_KUBERNETES_JWT_FILE}')"),
        ),
        (None, JwtMethod::Jwt) => {
            return Err(Error::config(
                "JWT auth needs the file that holds the JWT: set SECRETS_VAULT_JWT_FILE",
            ));
        }
    };
    // Checked now so that a wrong path is a start-up error; the file is
    // read at every login, since the kubelet rotates projected tokens.
    if !jwt_file.is_file() {
        let why = if jwt_file.exists() {
            "is not a file"
        } else {
            "does not exist"
        };
        return Err(Error::config(format!(
            "the JWT file {jwt_file_label} {why}"
        )));
    }
    let (label, default) = match method {
        JwtMethod::Jwt => ("JWT", DEFAULT_JWT_MOUNT),
        JwtMethod::Kubernetes => ("Kubernetes", DEFAULT_KUBERNETES_MOUNT),
    };
    let mount = checked_mount(
        auth_mount.unwrap_or(default),
        label,
        "SECRETS_VAULT_AUTH_MOUNT",
    )?;
    Ok(Auth::Jwt {
        method,
        role: role.to_owned(),
        jwt_file,
        jwt_file_label,
        mount,
    })
}

/// An auth mount without its slashes, refused when empty or not a path.
fn checked_mount(mount: &str, label: &str, setting: &str) -> Result<String, Error> {
    let trimmed = trim_slashes(mount);
    if trimmed.is_empty() {
        return Err(Error::config(format!(
            "the {label} mount ({setting}) is empty"
        )));
    }
    check_segments(&trimmed).map_err(|why| {
        Error::config(format!(
            "the {label} mount '{mount}' ({setting}) is not a valid path: {why}"
        ))
    })?;
    Ok(trimmed)
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

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

/// The largest CA file read (`VAULT_CACERT=/dev/zero` must not fill memory;
/// the whole Mozilla bundle is about 200 KiB).
const MAX_CA_FILE_BYTES: u64 = 4 << 20;

fn load_ca(source: &CaSource, label: &str) -> Result<Vec<reqwest::Certificate>, Error> {
    let pem = match source {
        CaSource::Pem(p) => p.clone(),
        CaSource::File(path) => {
            use std::io::Read;
            let read_error = |e: std::io::Error| {
                Error::config(format!("cannot read {label}: {}", io_reason(&e))).with_source(e)
            };
            let mut pem = Vec::new();
            std::fs::File::open(path)
                .map_err(read_error)?
                .take(MAX_CA_FILE_BYTES + 1)
                .read_to_end(&mut pem)
                .map_err(read_error)?;
            if pem.len() as u64 > MAX_CA_FILE_BYTES {
                return Err(Error::config(format!(
                    "{label} is larger than {} MiB; a CA bundle is a few hundred KiB",
                    MAX_CA_FILE_BYTES >> 20
                )));
            }
            pem
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

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
    fn a_named_instance_reads_its_own_mount_and_names_its_own_address() {
        let s = config(&[
            ("VAULT_ADDR", "http://127.0.0.1:8200"),
            ("VAULT_TOKEN", "t"),
            ("SECRETS_VAULT_MOUNT", "kv"),
            ("SECRETS_DR_VAULT_MOUNT", "kv-dr"),
        ]);
        let dr = VaultProvider::from_settings(&s.for_instance("dr", "vault")).unwrap();
        assert_eq!(dr.data_path("db"), "kv-dr/data/db");
        let plain = VaultProvider::from_settings(&s.for_instance("vault", "vault")).unwrap();
        assert_eq!(plain.data_path("db"), "kv/data/db");

        let s = config(&[
            ("VAULT_ADDR", "http://127.0.0.1:8200"),
            ("SECRETS_DR_VAULT_ADDR", "vault.dr:8200"),
            ("VAULT_TOKEN", "t"),
        ]);
        let e = VaultProvider::from_settings(&s.for_instance("dr", "vault")).unwrap_err();
        assert!(e.to_string().contains("SECRETS_DR_VAULT_ADDR"), "{e}");
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
    fn token_that_cannot_be_a_header_is_refused_without_echoing_it() {
        let e = VaultProvider::builder("http://127.0.0.1:8200")
            .token("bad\ntoken-secret")
            .build()
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(!e.to_string().contains("token-secret"), "{e}");
    }

    #[test]
    fn the_auth_setting_selects_the_method_and_names_what_is_missing() {
        let addr = ("VAULT_ADDR", "http://127.0.0.1:8200");
        let dir = tempfile::tempdir().unwrap();
        let jwt = dir.path().join("token");
        std::fs::write(&jwt, "eyJhbGciOiJFUzI1NiJ9.jwt-file-canary.sig\n").unwrap();
        let jwt = jwt.to_str().unwrap();
        for (pairs, needle) in [
            (
                vec![("SECRETS_VAULT_AUTH", "ldap")],
                "SECRETS_VAULT_AUTH must be token, approle, jwt or kubernetes",
            ),
            (vec![("SECRETS_VAULT_AUTH", "jwt")], "SECRETS_VAULT_ROLE"),
            (
                vec![("SECRETS_VAULT_AUTH", "jwt"), ("SECRETS_VAULT_ROLE", "app")],
                "SECRETS_VAULT_JWT_FILE",
            ),
            (
                vec![
                    ("SECRETS_VAULT_AUTH", "jwt"),
                    ("SECRETS_VAULT_ROLE", "app"),
                    ("SECRETS_VAULT_JWT_FILE", "/nonexistent/jwt"),
                ],
                "SECRETS_VAULT_JWT_FILE ('/nonexistent/jwt') does not exist",
            ),
            (
                vec![
                    ("SECRETS_VAULT_AUTH", "kubernetes"),
                    ("SECRETS_VAULT_ROLE", "app"),
                ],
                "SECRETS_VAULT_JWT_FILE (default '/var/run/secrets/kubernetes.io/serviceaccount/token')",
            ),
            (
                vec![
                    ("SECRETS_VAULT_AUTH", "kubernetes"),
                    ("SECRETS_VAULT_ROLE", "app"),
                    ("SECRETS_VAULT_JWT_FILE", jwt),
                    ("SECRETS_VAULT_AUTH_MOUNT", "a/../b"),
                ],
                "SECRETS_VAULT_AUTH_MOUNT",
            ),
            (vec![("SECRETS_VAULT_AUTH", "approle")], "VAULT_ROLE_ID"),
            (vec![("SECRETS_VAULT_AUTH", "token")], "VAULT_TOKEN"),
        ] {
            let mut pairs = pairs.clone();
            pairs.push(addr);
            let e = err(&pairs);
            assert_eq!(e.kind(), ErrorKind::Config, "{pairs:?}");
            assert!(e.to_string().contains(needle), "{pairs:?}: {e}");
        }

        let ok = |pairs: &[(&str, &str)]| {
            let mut pairs = pairs.to_vec();
            pairs.push(addr);
            format!(
                "{:?}",
                VaultProvider::from_settings(&config(&pairs)).unwrap()
            )
        };
        let d = ok(&[
            ("SECRETS_VAULT_AUTH", "JWT"),
            ("SECRETS_VAULT_ROLE", "app"),
            ("SECRETS_VAULT_JWT_FILE", jwt),
            // A token set too: the method says which one is used.
            ("VAULT_TOKEN", "hvs.ignored-token-canary"),
        ]);
        assert!(d.contains("jwt role 'app' at auth/jwt"), "{d}");
        assert!(!d.contains("canary"), "{d}");
        let d = ok(&[
            ("SECRETS_VAULT_AUTH", "kubernetes"),
            ("SECRETS_VAULT_ROLE", "app"),
            ("SECRETS_VAULT_JWT_FILE", jwt),
            ("SECRETS_VAULT_AUTH_MOUNT", "/k8s-prod/"),
        ]);
        assert!(d.contains("kubernetes role 'app' at auth/k8s-prod"), "{d}");
        // AppRole: the old mount setting still works, the new one too.
        let approle = [("VAULT_ROLE_ID", "r"), ("VAULT_SECRET_ID", "s")];
        let mut pairs = approle.to_vec();
        pairs.push(("SECRETS_VAULT_APPROLE_MOUNT", "old-style"));
        assert!(ok(&pairs).contains("approle at auth/old-style"));
        let mut pairs = approle.to_vec();
        pairs.push(("SECRETS_VAULT_AUTH_MOUNT", "new-style"));
        pairs.push(("SECRETS_VAULT_AUTH", "approle"));
        assert!(ok(&pairs).contains("approle at auth/new-style"));
        assert!(ok(&[("VAULT_TOKEN", "t")]).contains("auth: \"token\""));

        // A named instance reads its own role.
        let s = config(&[
            addr,
            ("SECRETS_VAULT_AUTH", "jwt"),
            ("SECRETS_VAULT_JWT_FILE", jwt),
            ("SECRETS_VAULT_ROLE", "plain"),
            ("SECRETS_DR_VAULT_ROLE", "dr-role"),
        ]);
        let dr = VaultProvider::from_settings(&s.for_instance("dr", "vault")).unwrap();
        assert!(format!("{dr:?}").contains("role 'dr-role'"), "{dr:?}");
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
    fn a_ca_file_without_end_is_refused_at_the_size_limit() {
        let e = load_ca(
            &CaSource::File("/dev/zero".into()),
            "VAULT_CACERT ('/dev/zero')",
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains("larger than 4 MiB"), "{e}");
    }
}
