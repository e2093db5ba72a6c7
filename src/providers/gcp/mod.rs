//! The Google Cloud Secret Manager provider (cargo feature `gcp`).
//!
//! A small REST client on [`reqwest`] with rustls (the `vault` provider's
//! HTTP stack), not the official `google-cloud-secretmanager-v1` crate:
//! that crate adds about twenty crates to the build (its generated API
//! types, `google-cloud-gax`, `google-cloud-auth`, a second major version
//! of reqwest, serde_with), while this provider adds none (JWT signing uses
//! the `ring` that rustls already builds). The README says more.
//!
//! # Mapping
//!
//! A secret path becomes a secret id: each `/` becomes the separator
//! (`SECRETS_GCP_SEPARATOR`, default `_`) and the prefix
//! (`SECRETS_GCP_PREFIX`, else `SECRETS_PREFIX`) goes in front joined with
//! it, so `database/password` reads the id `database_password`, or
//! `myapp_database_password` with the prefix `myapp`
//! ([`GcpProvider::secret_id`]). Ids hold only letters, digits, `_` and
//! `-` (at most 255): a path that does not map to a valid id (`db.url`,
//! `a//b`) is "not found", with an error that names the path and says
//! why; it is never read as some other id. (Not found rather than a path
//! error, so that a chain `gcp,env` still asks `env` for `DB.URL`.)
//!
//! The value is read with `GET /v1/projects/{project}/secrets/{id}/versions/{version}:access`.
//! A payload that is UTF-8 is text, any other payload bytes. The payload's
//! `dataCrc32c` is checked when the answer has one: a mismatch is an
//! "unavailable" error with the code `DATA_LOSS` (the chain reads again),
//! never a value.
//!
//! [`Version::Current`] reads `latest`; [`Version::Id`]`("3")` reads
//! version 3 (`"latest"` is accepted too); [`Version::Stage`]`("prod")`
//! reads the version with the alias `prod` (GCP version aliases, which
//! start with a letter). A disabled or destroyed version is "not found".
//!
//! A value's [`SecretMetadata`](crate::providers::SecretMetadata) holds the
//! full version resource name (`projects/123/secrets/db/versions/3`) as
//! its id, the version number as its version id and the alias asked for as
//! its stage. The access call does not return the version's creation time,
//! and the read-only role cannot ask for it (`versions.get` is not part of
//! `roles/secretmanager.secretAccessor`), so `created` stays empty.
//!
//! # Listing
//!
//! [`Provider::list`] reads `GET /v1/projects/{project}/secrets` page by
//! page (250 a page, at most 250 pages) with `filter=name:{id prefix}`,
//! and keeps the ids that start with the mapped prefix. Ids are mapped
//! back to paths only as far as that is unambiguous (`_` in an id may have
//! been `/` or `_`): the listing prefix as given, then the rest of the id
//! unchanged. `list("database/")` gives `database/password`; `list("")`
//! gives `database_password`. Each reads the secret it was listed for.
//! [`Provider::health`] (`secret-chain check`) lists one secret.
//!
//! There is no batch read in the API: [`Provider::fetch_many`] is the
//! default (each name read alone, a few at a time).
//!
//! # Settings
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `SECRETS_GCP_PROJECT` | `GOOGLE_CLOUD_PROJECT`; required | the project id (or number) |
//! | `SECRETS_GCP_PREFIX` | `SECRETS_PREFIX`, then none | put in front of each id, joined with the separator |
//! | `SECRETS_GCP_SEPARATOR` | `_` | what `/` in a path becomes |
//! | `SECRETS_GCP_ENDPOINT` | `https://secretmanager.googleapis.com` | an emulator or a private endpoint; plain `http://` only on loopback |
//! | `SECRETS_GCP_AUTH` | `auto` | `auto`: none for a plain-`http://` loopback endpoint, Application Default Credentials otherwise; `adc`: ADC always; `none`: no token |
//! | `GOOGLE_APPLICATION_CREDENTIALS` | | a service-account key or `authorized_user` JSON file |
//! | `SECRETS_GCP_CONNECT_TIMEOUT_MS` | `1000` | TCP + TLS connect timeout |
//! | `SECRETS_GCP_TIMEOUT_MS` | `5000` | whole-request timeout |
//!
//! Retries and the breaker are the chain's (`SECRETS_RETRIES`,
//! `SECRETS_BREAKER_*`), as for every provider. A named instance
//! (`dr=gcp` in `SECRETS_PROVIDERS`) reads each setting with its name
//! after `SECRETS_` first (`SECRETS_DR_GCP_PROJECT`,
//! `SECRETS_DR_GOOGLE_APPLICATION_CREDENTIALS`, ...).
//!
//! # Credentials
//!
//! Application Default Credentials, in Google's order (`adc.rs`): the
//! `GOOGLE_APPLICATION_CREDENTIALS` file (a service-account key, signed
//! into a JWT and exchanged for a token, or a user's refresh token), the
//! gcloud ADC file (`gcloud auth application-default login`), then the
//! metadata server (GCE, GKE, Cloud Run; `GCE_METADATA_HOST` moves it).
//! Tokens are cached and fetched again before they expire (`auth.rs`);
//! a 401 drops the token and the call is sent once more with a new one.
//! Workload identity federation (`external_account`) and impersonation
//! files are refused with an error that says so.
//!
//! IAM: `roles/secretmanager.secretAccessor` on the secrets
//! (`secretmanager.versions.access`); `list` and `secret-chain check` need
//! `secretmanager.secrets.list` on the project (`roles/secretmanager.viewer`).
//!
//! # Errors
//!
//! 404 `NOT_FOUND` is not found; 403 `PERMISSION_DENIED` and 401
//! `UNAUTHENTICATED` are access denied; 429, 5xx, timeouts and connection
//! failures are unavailable (`errors.rs`). Errors name `gcp`, the secret
//! id and the project (`not found (gcp secret db_password (version
//! latest) in project my-proj)`), keep the status string as their
//! [`code`](crate::Error::code) and the HTTP status, and never hold a value
//! or a token.
//!
//! # Example
//!
//! ```no_run
//! use secret_chain::SecretsManager;
//! use secret_chain::providers::gcp::GcpProvider;
//! use secret_chain::settings::Settings;
//!
//! let settings = Settings::from_vars([("SECRETS_GCP_PROJECT", "my-project"), ("SECRETS_GCP_PREFIX", "billing")]);
//! let manager = SecretsManager::builder()
//!     .provider(GcpProvider::from_settings(&settings)?)
//!     .build()?;
//! # let _ = manager;
//! # Ok::<(), secret_chain::Error>(())
//! ```
//!
//! # Code map
//!
//! `config.rs` (settings), `ids.rs` (paths and ids), `adc.rs` (finding
//! credentials), `jwt.rs` (service-account assertions), `auth.rs` (tokens),
//! `http.rs` (one request), `access.rs` (reading a version, `crc32c.rs`),
//! `list.rs` (listing, health), `errors.rs` (statuses to error kinds).
//!
//! [`Version::Current`]: crate::providers::Version::Current
//! [`Version::Id`]: crate::providers::Version::Id
//! [`Version::Stage`]: crate::providers::Version::Stage

mod access;
mod adc;
mod auth;
mod config;
mod crc32c;
mod errors;
mod http;
mod ids;
mod jwt;
mod list;

use std::fmt;
use std::time::Duration;

use crate::error::Error;
use crate::providers::{BoxFuture, Provider, SecretValue, Version};
use auth::Auth;
use ids::SecretIds;

/// The provider's name (its kind in `SECRETS_PROVIDERS`).
const NAME: &str = "gcp";
/// Log target of the provider's own events (never a value or a token).
const LOG_TARGET: &str = "secret_chain::gcp";

/// Secret Manager's global endpoint (`SECRETS_GCP_ENDPOINT`).
pub const DEFAULT_ENDPOINT: &str = "https://secretmanager.googleapis.com";
/// Default connect timeout (`SECRETS_GCP_CONNECT_TIMEOUT_MS`): 1000 ms.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);
/// Default whole-request timeout (`SECRETS_GCP_TIMEOUT_MS`): 5000 ms.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(5000);

/// Reads secrets from Google Cloud Secret Manager (see the
/// [module docs](self)). Build it with [`GcpProvider::from_settings`].
pub struct GcpProvider {
    client: reqwest::Client,
    /// The endpoint without a trailing `/`.
    base: String,
    /// The endpoint's `host:port`, which errors name.
    authority: String,
    project: String,
    ids: SecretIds,
    auth: Auth,
    connect_timeout: Duration,
    request_timeout: Duration,
}

impl fmt::Debug for GcpProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GcpProvider")
            .field("endpoint", &self.base)
            .field("project", &self.project)
            .field("ids", &self.ids)
            .field("auth", &self.auth)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl GcpProvider {
    /// The secret id that `path` reads (see the [module docs](self)).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) naming the path
    /// and saying why when it maps to no valid secret id.
    ///
    /// ```
    /// # use secret_chain::providers::gcp::GcpProvider;
    /// # use secret_chain::settings::Settings;
    /// let p = GcpProvider::from_settings(&Settings::from_vars([
    ///     ("SECRETS_GCP_PROJECT", "my-project"),
    ///     ("SECRETS_GCP_PREFIX", "myapp"),
    /// ]))?;
    /// assert_eq!(p.secret_id("database/password")?, "myapp_database_password");
    /// assert!(p.secret_id("database.password").is_err());
    /// # Ok::<(), secret_chain::Error>(())
    /// ```
    pub fn secret_id(&self, path: &str) -> Result<String, Error> {
        self.ids.secret_id(path).map_err(|why| {
            Error::not_found(format!(
                "not found (gcp project {}: the path '{path}' has no valid secret id: {why})",
                self.project
            ))
            .with_provider(NAME)
        })
    }

    fn target(&self) -> http::Target<'_> {
        http::Target {
            authority: &self.authority,
            connect_timeout: self.connect_timeout,
            request_timeout: self.request_timeout,
        }
    }
}

impl Provider for GcpProvider {
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

    fn health(&self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(self.health_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;

    #[test]
    fn debug_shows_where_credentials_come_from_never_them() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("user.json");
        std::fs::write(
            &key,
            r#"{"type":"authorized_user","client_id":"cid","client_secret":"cs-s3cr3t","refresh_token":"rt-s3cr3t"}"#,
        )
        .unwrap();
        let p = GcpProvider::from_settings(&Settings::from_vars([
            ("SECRETS_GCP_PROJECT", "p"),
            ("GOOGLE_APPLICATION_CREDENTIALS", key.to_str().unwrap()),
        ]))
        .unwrap();
        let d = format!("{p:?}");
        assert!(
            d.contains("user credentials of GOOGLE_APPLICATION_CREDENTIALS"),
            "{d}"
        );
        assert!(!d.contains("s3cr3t"), "{d}");
    }
}
