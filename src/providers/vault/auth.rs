//! The token in use: a static token, or a login session (AppRole, JWT or
//! Kubernetes) that logs in on first use, renews at two thirds of its lease
//! and logs in again when it cannot renew; a 403 on a dead token leads to
//! one re-login shared by every task that saw it. [`AuthStats`] counts
//! logins and renewals.
//!
//! The three login methods differ only in what they send to
//! `auth/{mount}/login` ([`Auth::login_body`]); the session they start is
//! the same. A JWT login reads its token file at every login: projected
//! service-account tokens are rotated by the kubelet, and the token read an
//! hour ago may have expired.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use zeroize::Zeroize;

use super::http::{Reply, encode_path, status_error};
use super::{LOG_TARGET, NAME, VaultProvider};
use crate::clock::Instant;
use crate::error::{Error, ErrorKind};

pub(super) enum Auth {
    Token(Arc<Session>),
    AppRole {
        role_id: SecretString,
        secret_id: SecretString,
        mount: String,
    },
    /// JWT or Kubernetes auth: `role` and the token of `jwt_file`.
    Jwt {
        method: JwtMethod,
        role: String,
        jwt_file: PathBuf,
        /// The setting that named the file, for errors.
        jwt_file_label: String,
        mount: String,
    },
}

/// Which auth method a JWT login goes to: the body is the same, the server
/// checks the token differently (its own keys or OIDC discovery for `jwt`,
/// the Kubernetes TokenReview API for `kubernetes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum JwtMethod {
    Jwt,
    Kubernetes,
}

impl JwtMethod {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            JwtMethod::Jwt => "jwt",
            JwtMethod::Kubernetes => "kubernetes",
        }
    }

    fn label(self) -> &'static str {
        match self {
            JwtMethod::Jwt => "JWT",
            JwtMethod::Kubernetes => "Kubernetes",
        }
    }
}

/// The largest JWT file read: a service-account token is about 1 KiB; a
/// mistaken path to a large file must not fill memory.
const MAX_JWT_BYTES: u64 = 64 << 10;

/// What one login sends, and what an error about it may say.
struct Login {
    /// `AppRole`, `JWT`, `Kubernetes`.
    label: &'static str,
    /// `approle`, `jwt`, `kubernetes`, for logs.
    method: &'static str,
    mount: String,
    /// ` as role 'app'` for the methods that name a role.
    role: String,
    body: Vec<u8>,
    /// The credentials sent, cut out of anything a server says back.
    sent: Vec<(SecretString, &'static str)>,
    /// The setting that names the mount, for a 404.
    mount_setting: &'static str,
}

impl Drop for Login {
    fn drop(&mut self) {
        self.body.zeroize();
    }
}

impl Auth {
    /// The login request of a login method (`None` for a static token).
    async fn login_body(&self) -> Result<Option<Login>, Error> {
        match self {
            Auth::Token(_) => Ok(None),
            Auth::AppRole {
                role_id,
                secret_id,
                mount,
            } => Ok(Some(Login {
                label: "AppRole",
                method: "approle",
                mount: mount.clone(),
                role: String::new(),
                body: login_json(&serde_json::json!({
                    "role_id": role_id.expose_secret(),
                    "secret_id": secret_id.expose_secret(),
                }))?,
                sent: vec![
                    (role_id.clone(), "[role id]"),
                    (secret_id.clone(), "[secret id]"),
                ],
                mount_setting: "SECRETS_VAULT_APPROLE_MOUNT",
            })),
            Auth::Jwt {
                method,
                role,
                jwt_file,
                jwt_file_label,
                mount,
            } => {
                let jwt = read_jwt(jwt_file, jwt_file_label, *method).await?;
                Ok(Some(Login {
                    label: method.label(),
                    method: method.as_str(),
                    mount: mount.clone(),
                    role: format!(" as role '{role}'"),
                    body: login_json(&serde_json::json!({
                        "role": role,
                        "jwt": jwt.expose_secret(),
                    }))?,
                    sent: vec![(jwt, "[jwt]")],
                    mount_setting: "SECRETS_VAULT_AUTH_MOUNT",
                }))
            }
        }
    }

    /// Whether a dead token can be replaced by logging in again.
    fn can_login(&self) -> bool {
        !matches!(self, Auth::Token(_))
    }
}

fn login_json(body: &Value) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(body).map_err(|_| Error::config("cannot encode the Vault login request"))
}

/// Reads the JWT of `file` (trimmed), at every login.
///
/// # Errors
///
/// Access denied naming the file and the setting when it cannot be read,
/// is empty or too large: without it no login is possible, and the chain
/// may still find the secret elsewhere.
async fn read_jwt(file: &Path, label: &str, method: JwtMethod) -> Result<SecretString, Error> {
    use tokio::io::AsyncReadExt;
    let refused = |why: &str| {
        Error::access_denied(format!(
            "access denied ({} login: cannot use the JWT file {label}: {why})",
            method.label()
        ))
        .with_provider(NAME)
    };
    let reason = |e: &std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => "no such file",
        std::io::ErrorKind::PermissionDenied => "permission denied",
        _ => "i/o error",
    };
    let f = tokio::fs::File::open(file)
        .await
        .map_err(|e| refused(reason(&e)))?;
    let mut raw = Vec::new();
    let read = f.take(MAX_JWT_BYTES + 1).read_to_end(&mut raw).await;
    if let Err(e) = read {
        raw.zeroize();
        return Err(refused(reason(&e)));
    }
    if raw.len() as u64 > MAX_JWT_BYTES {
        raw.zeroize();
        return Err(refused("it is larger than 64 KiB, which no JWT is"));
    }
    let jwt = match std::str::from_utf8(&raw) {
        Ok(text) => SecretString::from(text.trim()),
        Err(_) => {
            raw.zeroize();
            return Err(refused("it is not text"));
        }
    };
    raw.zeroize();
    if jwt.expose_secret().is_empty() {
        return Err(refused("it is empty"));
    }
    Ok(jwt)
}

/// A token in use and when to refresh it.
pub(super) struct Session {
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
    pub(super) fn permanent(token: SecretString) -> Session {
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
    /// Logins done (AppRole, JWT or Kubernetes; the first one included).
    pub logins: u64,
    /// Successful `auth/token/renew-self` calls.
    pub renewals: u64,
}

impl VaultProvider {
    /// How many logins and token renewals this provider has done.
    pub fn auth_stats(&self) -> AuthStats {
        AuthStats {
            logins: self.logins.load(Ordering::Relaxed),
            renewals: self.renewals.load(Ordering::Relaxed),
        }
    }

    /// Sends an authenticated request. A 403 whose token turns out to be
    /// dead (expired or revoked) leads to one re-login (AppRole, JWT or
    /// Kubernetes) and one retry; for a static token it is reported as such.
    pub(super) async fn authed(
        &self,
        method: Method,
        url: &str,
        what: &str,
    ) -> Result<Reply, Error> {
        self.authed_with(method, url, what, None).await
    }

    /// [`authed`](Self::authed) with a JSON request body (sent again as it
    /// was after a re-login).
    pub(super) async fn authed_with(
        &self,
        method: Method,
        url: &str,
        what: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Reply, Error> {
        let session = self.session().await?;
        let reply = self
            .send(
                method.clone(),
                url,
                what,
                Some(&session.token),
                body.clone(),
            )
            .await?;
        if reply.status != StatusCode::FORBIDDEN {
            return Ok(reply);
        }
        if self.token_alive(&session.token).await != Some(false) {
            return Ok(reply); // a real permission problem (or unknown)
        }
        if !self.auth.can_login() {
            return Err(Error::access_denied(format!(
                "access denied ({what}; the token is expired or revoked)"
            ))
            .with_provider(NAME)
            .with_http_status(403));
        }
        tracing::debug!(target: LOG_TARGET, path = what, "token refused as dead; logging in again");
        let fresh = self.relogin_after(session.generation).await?;
        self.send(method, url, what, Some(&fresh.token), body).await
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

    /// The token to use now: a static token, or the login session,
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
        let Some(mut login) = self.auth.login_body().await? else {
            return Err(Error::config("a Vault login without login credentials"));
        };
        let mount = &login.mount;
        let what = format!("auth/{mount}/login");
        let url = format!("{}/v1/auth/{}/login", self.base, encode_path(mount));
        let started = self.clock.now();
        let body = std::mem::take(&mut login.body);
        let reply = self
            .send(Method::POST, &url, &what, None, Some(body))
            .await?;
        let label = login.label;
        let role = &login.role;
        match reply.status {
            StatusCode::OK => {}
            StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN => {
                // Vault says "invalid role or secret ID", "token is expired",
                // "permission denied"; should a server ever echo a
                // credential back, it is cut out here.
                let why = reply
                    .errors_summary()
                    .map(|w| {
                        login.sent.iter().fold(w, |w, (secret, shown)| {
                            w.replace(secret.expose_secret(), shown)
                        })
                    })
                    .unwrap_or_else(|| "the credentials were refused".to_owned());
                return Err(Error::access_denied(format!(
                    "access denied ({label} login at {what}{role}: {why})"
                ))
                .with_provider(NAME)
                .with_http_status(reply.status.as_u16()));
            }
            StatusCode::NOT_FOUND => {
                return Err(Error::access_denied(format!(
                    "access denied ({label} login at {what}{role}: 404, is {label} auth enabled at '{mount}'? set {})",
                    login.mount_setting
                ))
                .with_provider(NAME)
                .with_http_status(404));
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
            "{} login",
            login.method
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;

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
