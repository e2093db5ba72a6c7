//! Secret backends: the [`Provider`] trait and one module per backend.
//!
//! A provider answers two questions: "what is the value of secret `name`?"
//! ([`Provider::fetch`], or [`Provider::fetch_many`] for several names at
//! once) and "which secrets exist under `prefix`?" ([`Provider::list`]). It answers "not found", "access denied" and
//! "unavailable" with an [`Error`] of that [`ErrorKind`](crate::ErrorKind), and
//! the [`SecretsManager`](crate::SecretsManager) decides whether to move on to
//! the next provider.
//!
//! The trait is object-safe: a chain holds `Box<dyn Provider>`, so a user can
//! plug in a backend of their own.
//!
//! A fetched [`SecretValue`] is the secret's [`SecretData`] (text, bytes or
//! a key/value document) and its [`SecretMetadata`] (`value.rs`,
//! `metadata.rs`).
//!
//! ```
//! use secret_chain::providers::{BoxFuture, Provider, SecretValue, Version};
//! use secret_chain::Error;
//!
//! #[derive(Debug)]
//! struct Fixed;
//!
//! impl Provider for Fixed {
//!     fn name(&self) -> &str {
//!         "fixed"
//!     }
//!     fn fetch<'a>(&'a self, name: &'a str, _v: &'a Version) -> BoxFuture<'a, Result<SecretValue, Error>> {
//!         Box::pin(async move {
//!             match name {
//!                 "greeting" => Ok(SecretValue::text("hello")),
//!                 _ => Err(Error::not_found("not found")),
//!             }
//!         })
//!     }
//!     fn list<'a>(&'a self, _prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, Error>> {
//!         Box::pin(async { Ok(vec!["greeting".to_owned()]) })
//!     }
//! }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::error::{Error, ErrorKind};

#[cfg(feature = "aws")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws")))]
pub mod aws;
// The client settings and the error mapping the AWS providers share.
#[cfg(any(feature = "aws", feature = "ssm"))]
mod aws_common;
pub(crate) mod batch;
mod dotenv;
#[cfg(any(feature = "aws", feature = "ssm", feature = "vault", feature = "gcp"))]
mod endpoint;
pub mod env;
#[cfg(feature = "files")]
#[cfg_attr(docsrs, doc(cfg(feature = "files")))]
pub mod files;
#[cfg(feature = "gcp")]
#[cfg_attr(docsrs, doc(cfg(feature = "gcp")))]
pub mod gcp;
mod metadata;
// Only Vault reports dates as text so far.
#[cfg(feature = "vault")]
mod rfc3339;
#[cfg(feature = "ssm")]
#[cfg_attr(docsrs, doc(cfg(feature = "ssm")))]
pub mod ssm;
mod value;
#[cfg(feature = "vault")]
#[cfg_attr(docsrs, doc(cfg(feature = "vault")))]
pub mod vault;

pub use batch::{FETCH_MANY_CONCURRENCY, fetch_each};
pub use env::EnvProvider;
pub use metadata::{Lease, SecretMetadata};
#[cfg(feature = "vault")]
pub(crate) use rfc3339::parse as rfc3339_parse;
pub(crate) use value::file_text;
pub use value::{SecretData, SecretValue};

/// A boxed, sendable future: the return type of [`Provider`] methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Which version of a secret to read.
///
/// Providers that do not version secrets (env) answer only
/// [`Version::Current`] and report other versions as not found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Version {
    /// The current version (`AWSCURRENT` in AWS, the latest version in Vault).
    #[default]
    Current,
    /// A named stage, such as `AWSPREVIOUS` or `AWSPENDING` (AWS).
    Stage(String),
    /// A specific version id (AWS version id, Vault version number).
    Id(String),
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::Current => f.write_str("current"),
            Version::Stage(s) => write!(f, "stage {s}"),
            Version::Id(id) => write!(f, "version {id}"),
        }
    }
}

/// A secret backend.
///
/// Implementations must be cheap to call concurrently (`&self`), must map
/// their failures to [`ErrorKind::NotFound`](crate::ErrorKind::NotFound),
/// [`ErrorKind::AccessDenied`](crate::ErrorKind::AccessDenied) or
/// [`ErrorKind::Unavailable`](crate::ErrorKind::Unavailable) so that the
/// chain can fall through, and must never put a secret value in an error
/// or a log line. Error messages are relative to the provider
/// (`not found (DATABASE_URL)`): the chain adds the path and the name.
///
/// The methods return boxed futures so that the trait stays object-safe;
/// implement the logic in an ordinary `async fn` and box it here.
pub trait Provider: Send + Sync + fmt::Debug {
    /// The provider's name, used in logs, errors and `secret-chain check`.
    fn name(&self) -> &str;

    /// Fetches secret `name` (without any `#field` suffix) at `version`,
    /// with the [`SecretMetadata`] the backend reports (its id, version,
    /// stages, creation date): fill what the answer holds, leave the rest
    /// empty, and never fail a read because a metadata field is missing or
    /// does not parse.
    fn fetch<'a>(
        &'a self,
        name: &'a str,
        version: &'a Version,
    ) -> BoxFuture<'a, Result<SecretValue, Error>>;

    /// Fetches the current version of each of `names` (without `#field`
    /// suffixes): one result per name, in the order given, each as
    /// [`fetch`](Provider::fetch) would answer it.
    ///
    /// [`SecretsManager::prefetch`](crate::SecretsManager::prefetch) warms
    /// its cache with this. The default calls `fetch` for each name, at
    /// most [`FETCH_MANY_CONCURRENCY`] at a time ([`fetch_each`]); a
    /// backend with a batch call (AWS `BatchGetSecretValue`) overrides it.
    /// An override must answer every name: a name that the batch call did
    /// not answer is fetched alone, not dropped.
    fn fetch_many<'a>(
        &'a self,
        names: &'a [&'a str],
    ) -> BoxFuture<'a, Vec<Result<SecretValue, Error>>> {
        Box::pin(fetch_each(self, names))
    }

    /// Lists the names of the secrets under `prefix` (relative paths, the
    /// way [`fetch`](Provider::fetch) takes them). Names only, never values.
    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, Error>>;

    /// Whether the provider answers. The default lists the empty prefix.
    fn health(&self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move { self.list("").await.map(|_| ()) })
    }

    /// Renews `lease`, one this provider issued with a value
    /// ([`SecretMetadata::lease`]), asking for `increment` more from now;
    /// answers the lease as the backend granted it (a backend caps a lease
    /// at its maximum TTL, so the duration may be shorter than asked).
    ///
    /// The [`SecretsManager`](crate::SecretsManager) calls this in the
    /// background at about two thirds of a lease, and fetches a new value
    /// instead when renewal fails or falls short. The default refuses: a
    /// provider that issues leases overrides it.
    fn renew_lease<'a>(
        &'a self,
        lease: &'a Lease,
        increment: Duration,
    ) -> BoxFuture<'a, Result<Lease, Error>> {
        let _ = (lease, increment);
        Box::pin(async move { Err(no_leases(self.name(), "renew")) })
    }

    /// Revokes `lease` ahead of its end
    /// ([`SecretsManager::shutdown`](crate::SecretsManager::shutdown)).
    /// The default refuses, as [`renew_lease`](Provider::renew_lease) does.
    fn revoke_lease<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<(), Error>> {
        let _ = lease;
        Box::pin(async move { Err(no_leases(self.name(), "revoke")) })
    }
}

/// The answer of a provider that issues no leases to a lease call.
fn no_leases(provider: &str, what: &str) -> Error {
    Error::new(
        ErrorKind::Config,
        format!("{provider} issues no leases, so it cannot {what} one"),
    )
    .with_provider(provider)
}
