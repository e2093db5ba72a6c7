//! Access tokens: fetched from the credentials' source ([`Credentials`]),
//! cached, and fetched again before they expire (when less than a quarter
//! of their life, at most five minutes, is left), one fetch at a time.
//! A token the API refused (401) is forgotten, so the next call fetches a
//! new one.
//!
//! Tokens are [`SecretString`]s, sent in a header marked sensitive; no
//! error, `Debug` output or log line holds one, nor a refresh token or a
//! signed assertion. Token endpoint errors show only their OAuth error
//! code (`invalid_grant`) when it looks like one.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::RwLock;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::adc::{Credentials, Source};
use super::http::{Target, send};
use super::{LOG_TARGET, NAME};
use crate::error::Error;
use crate::providers::endpoint::parse_url;

/// Refresh a token at the latest this long before it expires.
const REFRESH_AHEAD_MAX: Duration = Duration::from_secs(300);
/// The lifetime assumed when a token endpoint does not say.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);

/// A cached access token.
struct Token {
    header: HeaderValue,
    refresh_at: Instant,
    expires_at: Instant,
}

/// The credentials and the token they last gave.
pub(super) struct Auth {
    source: Source,
    cached: RwLock<Option<Arc<Token>>>,
    refresh: tokio::sync::Mutex<()>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("source", &self.source)
            .field("token_cached", &self.cached.read().is_some())
            .finish()
    }
}

#[derive(Deserialize)]
struct TokenReply {
    access_token: SecretString,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct OAuthError {
    error: Option<String>,
}

impl Auth {
    pub(super) fn new(source: Source) -> Auth {
        Auth {
            source,
            cached: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    /// The `Authorization` header to send, or `None` without credentials.
    ///
    /// # Errors
    ///
    /// Access denied when the token endpoint refuses the credentials;
    /// unavailable when it cannot be reached or fails.
    pub(super) async fn header(
        &self,
        client: &reqwest::Client,
        target: Target<'_>,
    ) -> Result<Option<HeaderValue>, Error> {
        if matches!(self.source.credentials, Credentials::None) {
            return Ok(None);
        }
        if let Some(t) = self.fresh() {
            return Ok(Some(t.header.clone()));
        }
        let _one_at_a_time = self.refresh.lock().await;
        // Another caller may have fetched one while this one waited.
        if let Some(t) = self.fresh() {
            return Ok(Some(t.header.clone()));
        }
        match self.fetch(client, target).await {
            Ok(token) => {
                let header = token.header.clone();
                *self.cached.write() = Some(Arc::new(token));
                Ok(Some(header))
            }
            // A token that is still valid serves while the endpoint fails.
            Err(e) => match self.cached.read().as_ref() {
                Some(t) if t.expires_at > Instant::now() + Duration::from_secs(10) => {
                    tracing::warn!(target: LOG_TARGET, error = %e, "refreshing the gcp access token failed; using the current one until it expires");
                    Ok(Some(t.header.clone()))
                }
                _ => Err(e),
            },
        }
    }

    /// Whether a token is sent at all.
    pub(super) fn has_credentials(&self) -> bool {
        !matches!(self.source.credentials, Credentials::None)
    }

    /// Forgets the cached token (the API answered 401 with it).
    pub(super) fn forget(&self) {
        *self.cached.write() = None;
    }

    fn fresh(&self) -> Option<Arc<Token>> {
        self.cached
            .read()
            .as_ref()
            .filter(|t| t.refresh_at > Instant::now())
            .cloned()
    }

    async fn fetch(&self, client: &reqwest::Client, target: Target<'_>) -> Result<Token, Error> {
        let origin = &self.source.origin;
        let what = format!("gcp access token from {origin}");
        let (request, authority) = match &self.source.credentials {
            Credentials::None => unreachable!("checked by header()"),
            Credentials::Metadata { base } => (
                client
                    .get(format!(
                        "{base}/computeMetadata/v1/instance/service-accounts/default/token"
                    ))
                    .header("Metadata-Flavor", "Google"),
                base.trim_start_matches("http://").to_owned(),
            ),
            Credentials::AuthorizedUser {
                client_id,
                client_secret,
                refresh_token,
                token_uri,
            } => {
                let body = SecretString::from(format!(
                    "grant_type=refresh_token&client_id={}&client_secret={}&refresh_token={}",
                    form(client_id),
                    form(client_secret.expose_secret()),
                    form(refresh_token.expose_secret()),
                ));
                (post_form(client, token_uri, body), authority_of(token_uri))
            }
            Credentials::ServiceAccount { account, token_uri } => {
                let now = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let assertion = account.assertion(token_uri, now).map_err(|why| {
                    Error::access_denied(format!("access denied ({what}: {why})"))
                        .with_provider(NAME)
                })?;
                let body = SecretString::from(format!(
                    "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={}",
                    form(assertion.expose_secret())
                ));
                (post_form(client, token_uri, body), authority_of(token_uri))
            }
        };
        let target = Target {
            authority: &authority,
            ..target
        };
        let reply = send(request, &what, target).await?;
        if !(200..300).contains(&reply.status) {
            let code = reply.status;
            let oauth = serde_json::from_slice::<OAuthError>(&reply.body)
                .ok()
                .and_then(|e| e.error)
                .filter(|c| {
                    !c.is_empty()
                        && c.len() <= 32
                        && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                });
            let said = oauth
                .as_deref()
                .map_or_else(|| format!("HTTP {code}"), |c| format!("HTTP {code} {c}"));
            let e = if (400..500).contains(&code) && code != 429 {
                Error::access_denied(format!(
                    "access denied ({what}: the token endpoint refused the credentials, {said})"
                ))
            } else {
                Error::unavailable(format!(
                    "unavailable ({what}: the token endpoint failed, {said})"
                ))
            };
            let e = e.with_provider(NAME).with_http_status(code);
            return Err(match oauth {
                Some(c) => e.with_code(c),
                None => e,
            });
        }
        let parsed: TokenReply = serde_json::from_slice(&reply.body).map_err(|_| {
            Error::unavailable(format!(
                "unavailable ({what}: the token endpoint's answer holds no access_token)"
            ))
            .with_provider(NAME)
        })?;
        let mut header = HeaderValue::from_str(&format!(
            "Bearer {}",
            parsed.access_token.expose_secret().trim()
        ))
        .map_err(|_| {
            Error::unavailable(format!(
                "unavailable ({what}: the access token cannot be sent in an HTTP header)"
            ))
            .with_provider(NAME)
        })?;
        header.set_sensitive(true);
        let lifetime = parsed
            .expires_in
            .map_or(DEFAULT_LIFETIME, Duration::from_secs);
        let now = Instant::now();
        tracing::debug!(target: LOG_TARGET, origin = %origin, lifetime_s = lifetime.as_secs(), "fetched a gcp access token");
        Ok(Token {
            header,
            refresh_at: now + lifetime - refresh_ahead(lifetime),
            expires_at: now + lifetime,
        })
    }
}

/// How long before expiry a token of `lifetime` is refreshed: a quarter
/// of its life, at most five minutes.
fn refresh_ahead(lifetime: Duration) -> Duration {
    (lifetime / 4).min(REFRESH_AHEAD_MAX)
}

fn post_form(client: &reqwest::Client, uri: &str, body: SecretString) -> reqwest::RequestBuilder {
    client
        .post(uri)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body.expose_secret().to_owned())
}

/// `host:port` of a token endpoint, for errors (checked when the file was
/// read).
fn authority_of(uri: &str) -> String {
    parse_url(uri).map_or_else(|_| "the token endpoint".to_owned(), |e| e.authority())
}

fn form(value: &str) -> String {
    utf8_percent_encode(value, NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_refreshed_a_quarter_of_their_life_early_at_most_five_minutes() {
        assert_eq!(
            refresh_ahead(Duration::from_secs(3600)),
            Duration::from_secs(300)
        );
        assert_eq!(
            refresh_ahead(Duration::from_secs(400)),
            Duration::from_secs(100)
        );
        assert_eq!(refresh_ahead(Duration::ZERO), Duration::ZERO);
    }
}
