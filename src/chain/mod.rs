//! The [`SecretsManager`]: provider order, fallback policy and cache.
//!
//! A read first looks in the TTL cache (no lock, no backend call). On a
//! miss, concurrent readers of one key share one backend fetch
//! (single-flight); the fetch tries the providers in order. "Not found",
//! "unavailable" and (by default) "access denied" move on to the next
//! provider; any other error stops the chain. When every provider misses,
//! the error lists each provider's answer in order:
//!
//! ```text
//! secret 'database/url' not found: aws: not found (secret id /app/database/url); env: not found (DATABASE_URL)
//! ```

mod builder;
mod cache;
pub mod clock;
pub mod config;
pub(crate) mod global;
pub(crate) mod path;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::Mutex;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;

pub use builder::SecretsManagerBuilder;
pub use clock::{Clock, MockClock};
pub use config::{Config, ProviderKind};

use crate::error::{Error, ErrorKind, ProviderOutcome};
use crate::masking::KnownSecrets;
use crate::providers::{Provider, SecretValue, Version};
use cache::{Cache, Entry, key_for};
use path::{Resolved, SecretPath};

/// The audit log target: one event per backend fetch, never a value.
pub const AUDIT_TARGET: &str = "secret_chain::audit";

type Flight = Arc<OnceCell<Result<Arc<Entry>, Error>>>;

/// Loads secrets through an ordered chain of providers, with a TTL cache.
///
/// Cheap to clone: clones share the providers and the cache. Most
/// applications use the global one through [`crate::get_secret`].
///
/// # Example
///
/// ```
/// use secret_chain::SecretsManager;
/// use secret_chain::providers::EnvProvider;
/// use secrecy::ExposeSecret;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let manager = SecretsManager::builder()
///     .provider(EnvProvider::from_vars([("DATABASE_URL", "postgres://app@db/app")]))
///     .build()?;
/// let url = manager.get_secret("database/url").await?;
/// assert_eq!(url.expose_secret(), "postgres://app@db/app");
/// # Ok::<(), secret_chain::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct SecretsManager {
    inner: Arc<Inner>,
}

struct Inner {
    providers: Vec<Box<dyn Provider>>,
    cache: Cache,
    inflight: Mutex<HashMap<Box<str>, Flight>>,
    ttl: Duration,
    stop_on_access_denied: bool,
    clock: Clock,
    known: Arc<KnownSecrets>,
    blocking_runtime: OnceLock<Result<tokio::runtime::Runtime, String>>,
}

impl fmt::Debug for SecretsManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsManager")
            .field("providers", &self.provider_names())
            .field("cache_ttl", &self.inner.ttl)
            .field("cached", &self.inner.cache.len())
            .field("stop_on_access_denied", &self.inner.stop_on_access_denied)
            .finish()
    }
}

/// One provider's answer to a health check.
#[derive(Debug, Clone)]
pub struct ProviderHealth {
    /// The provider's name.
    pub provider: String,
    /// `Ok` with the round-trip time, or the provider's error.
    pub result: Result<Duration, Error>,
}

impl SecretsManager {
    /// A builder: add providers in order, then [`build`](SecretsManagerBuilder::build).
    pub fn builder() -> SecretsManagerBuilder {
        SecretsManagerBuilder::default()
    }

    /// A manager configured from the process environment (`SECRETS_PROVIDERS`,
    /// `SECRETS_CACHE_TTL`, ...; see the README).
    ///
    /// # Errors
    ///
    /// A configuration error naming the variable with a bad value, or the
    /// `DEPLOYMENT_ENV` guardrail.
    pub fn from_env() -> Result<SecretsManager, Error> {
        SecretsManager::from_config(&Config::from_process_env()?)
    }

    /// A manager from an already read [`Config`].
    ///
    /// # Errors
    ///
    /// A configuration error when a provider cannot be configured.
    pub fn from_config(config: &Config) -> Result<SecretsManager, Error> {
        SecretsManager::builder().config(config)?.build()
    }

    pub(crate) fn from_builder(b: SecretsManagerBuilder) -> SecretsManager {
        SecretsManager {
            inner: Arc::new(Inner {
                providers: b.providers,
                cache: Cache::new(),
                inflight: Mutex::new(HashMap::new()),
                ttl: b.cache_ttl,
                stop_on_access_denied: b.stop_on_access_denied,
                clock: b.clock,
                known: b.known.unwrap_or_default(),
                blocking_runtime: OnceLock::new(),
            }),
        }
    }

    /// The providers' names, in chain order.
    pub fn provider_names(&self) -> Vec<&str> {
        self.inner.providers.iter().map(|p| p.name()).collect()
    }

    /// The registry of every value this manager has fetched, for masking.
    pub fn known_secrets(&self) -> &Arc<KnownSecrets> {
        &self.inner.known
    }

    /// Reads a secret as a string. `path` is `name` or `name#field` (one
    /// field of a JSON secret).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] when no provider has it (the error lists each
    /// provider's answer), [`ErrorKind::Unavailable`] or
    /// [`ErrorKind::AccessDenied`] when no provider could answer,
    /// [`ErrorKind::InvalidJson`] for a missing field or non-JSON value,
    /// [`ErrorKind::InvalidPath`] for a malformed path.
    #[inline]
    pub async fn get_secret(&self, path: &str) -> Result<SecretString, Error> {
        if let Some(hit) = self.cached_text(path) {
            return hit;
        }
        self.get_secret_version(path, &Version::Current).await
    }

    /// Reads a secret at a given version (`AWSPREVIOUS`, a version id, ...).
    ///
    /// # Errors
    ///
    /// As [`get_secret`](Self::get_secret).
    pub async fn get_secret_version(
        &self,
        path: &str,
        version: &Version,
    ) -> Result<SecretString, Error> {
        let entry = self.entry(path, version).await?;
        entry.value.to_text(path, self.inner.providers[entry.provider].name())
    }

    /// Reads a secret as bytes (AWS `SecretBinary`, or a text value's bytes).
    ///
    /// # Errors
    ///
    /// As [`get_secret`](Self::get_secret).
    pub async fn get_secret_bytes(&self, path: &str) -> Result<SecretSlice<u8>, Error> {
        self.get_secret_bytes_version(path, &Version::Current).await
    }

    /// Reads a secret as bytes at a given version.
    ///
    /// # Errors
    ///
    /// As [`get_secret`](Self::get_secret).
    pub async fn get_secret_bytes_version(
        &self,
        path: &str,
        version: &Version,
    ) -> Result<SecretSlice<u8>, Error> {
        Ok(self.entry(path, version).await?.value.to_bytes())
    }

    /// Reads a JSON secret and deserializes it into `T`.
    ///
    /// # Errors
    ///
    /// As [`get_secret`](Self::get_secret); [`ErrorKind::InvalidJson`] when
    /// the value is not JSON of the shape of `T` (the message gives line and
    /// column, never the value).
    pub async fn get_secret_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        let s = self.get_secret(path).await?;
        parse_json(path, &s)
    }

    /// The names of the secrets under `prefix`: the union over all
    /// providers, sorted and deduplicated. Names only, never values.
    ///
    /// # Errors
    ///
    /// When every provider fails to list, an error with each one's answer.
    pub async fn list_secrets(&self, prefix: &str) -> Result<Vec<String>, Error> {
        let mut names = Vec::new();
        let mut outcomes = Vec::new();
        let mut any_ok = false;
        for p in &self.inner.providers {
            match p.list(prefix).await {
                Ok(found) => {
                    any_ok = true;
                    names.extend(found);
                }
                Err(e) => {
                    tracing::warn!(provider = p.name(), error = %e, "listing secrets failed");
                    outcomes.push(outcome(p.name(), &e));
                }
            }
        }
        if !any_ok {
            let kind = aggregate_kind(&outcomes);
            return Err(Error::new(
                kind,
                format!(
                    "cannot list secrets under '{prefix}': {}",
                    join_outcomes(&outcomes)
                ),
            )
            .with_outcomes(outcomes));
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Drops every cached value: the next read of each key fetches fresh.
    /// Values stay registered for masking.
    pub fn refresh(&self) {
        self.inner.cache.clear();
    }

    /// Drops one key's cached value (all versions of it stay cached).
    pub fn refresh_key(&self, path: &str) {
        self.inner.cache.remove(path);
    }

    /// Asks every provider whether it answers, in chain order.
    pub async fn health(&self) -> Vec<ProviderHealth> {
        let mut out = Vec::with_capacity(self.inner.providers.len());
        for p in &self.inner.providers {
            let start = std::time::Instant::now();
            let result = p.health().await.map(|()| start.elapsed());
            out.push(ProviderHealth {
                provider: p.name().to_owned(),
                result,
            });
        }
        out
    }

    // ---- blocking twins ----

    /// Blocking [`get_secret`](Self::get_secret), for synchronous callers.
    ///
    /// Must not be called from inside an async runtime (it would block a
    /// runtime thread): there it returns [`ErrorKind::BlockingInRuntime`].
    /// A cache hit is answered without any runtime.
    ///
    /// # Errors
    ///
    /// As [`get_secret`](Self::get_secret), plus
    /// [`ErrorKind::BlockingInRuntime`].
    pub fn get_secret_blocking(&self, path: &str) -> Result<SecretString, Error> {
        if let Some(hit) = self.cached_text(path) {
            return hit;
        }
        self.block_on("get_secret_blocking", self.get_secret(path))
    }

    /// Blocking [`get_secret_json`](Self::get_secret_json).
    ///
    /// # Errors
    ///
    /// As [`get_secret_blocking`](Self::get_secret_blocking).
    pub fn get_secret_json_blocking<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        let s = self.get_secret_blocking(path)?;
        parse_json(path, &s)
    }

    /// Blocking [`get_secret_bytes`](Self::get_secret_bytes).
    ///
    /// # Errors
    ///
    /// As [`get_secret_blocking`](Self::get_secret_blocking).
    pub fn get_secret_bytes_blocking(&self, path: &str) -> Result<SecretSlice<u8>, Error> {
        self.block_on("get_secret_bytes_blocking", self.get_secret_bytes(path))
    }

    /// Blocking [`list_secrets`](Self::list_secrets).
    ///
    /// # Errors
    ///
    /// As [`list_secrets`](Self::list_secrets), plus
    /// [`ErrorKind::BlockingInRuntime`].
    pub fn list_secrets_blocking(&self, prefix: &str) -> Result<Vec<String>, Error> {
        self.block_on("list_secrets_blocking", self.list_secrets(prefix))
    }

    fn block_on<T>(
        &self,
        what: &str,
        fut: impl std::future::Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::new(
                ErrorKind::BlockingInRuntime,
                format!(
                    "{what} was called from inside an async runtime, where it would block a worker thread; use the async method instead"
                ),
            ));
        }
        let rt = self.inner.blocking_runtime.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("secret-chain-blocking")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        });
        match rt {
            Ok(rt) => rt.block_on(fut),
            Err(e) => Err(Error::new(
                ErrorKind::Io,
                format!("cannot start the runtime for blocking calls: {e}"),
            )),
        }
    }

    // ---- internals ----

    /// The hit path: a lock-free map lookup and a clock read.
    #[inline]
    fn cached_text(&self, path: &str) -> Option<Result<SecretString, Error>> {
        let inner = &*self.inner;
        let now = inner.clock.now();
        inner
            .cache
            .with(path, |e| {
                (now < e.expires_at).then(|| match &e.value {
                    Resolved::Text(s) => Ok(s.clone()),
                    other => other.to_text(path, inner.providers[e.provider].name()),
                })
            })
            .flatten()
    }

    async fn entry(&self, path: &str, version: &Version) -> Result<Arc<Entry>, Error> {
        let parsed = SecretPath::parse(path)?;
        let key = key_for(path, version);
        if let Some(e) = self.fresh(&key) {
            return Ok(e);
        }
        let flight: Flight = {
            let mut inflight = self.inner.inflight.lock();
            // Re-check under the lock: a flight that just finished has
            // stored its entry before leaving the map.
            if let Some(e) = self.fresh(&key) {
                return Ok(e);
            }
            inflight.entry(key.as_ref().into()).or_default().clone()
        };
        let result = flight
            .get_or_init(|| self.fetch_and_store(&key, &parsed, path, version))
            .await
            .clone();
        {
            let mut inflight = self.inner.inflight.lock();
            if inflight
                .get(key.as_ref())
                .is_some_and(|f| Arc::ptr_eq(f, &flight))
            {
                inflight.remove(key.as_ref());
            }
        }
        result
    }

    fn fresh(&self, key: &str) -> Option<Arc<Entry>> {
        let now = self.inner.clock.now();
        self.inner.cache.get(key).filter(|e| now < e.expires_at)
    }

    async fn fetch_and_store(
        &self,
        key: &str,
        parsed: &SecretPath<'_>,
        path: &str,
        version: &Version,
    ) -> Result<Arc<Entry>, Error> {
        let (provider, value) = self.fetch_chain(parsed, path, version).await?;
        let now = self.inner.clock.now();
        let entry = Arc::new(Entry {
            value,
            provider,
            fetched_at: now,
            expires_at: now + self.inner.ttl,
        });
        if !self.inner.ttl.is_zero() {
            self.inner.cache.insert(key, entry.clone());
        }
        Ok(entry)
    }

    /// Tries each provider in order; returns the index of the one that
    /// answered and the resolved value.
    async fn fetch_chain(
        &self,
        parsed: &SecretPath<'_>,
        path: &str,
        version: &Version,
    ) -> Result<(usize, Resolved), Error> {
        let mut outcomes: Vec<ProviderOutcome> = Vec::new();
        for (i, p) in self.inner.providers.iter().enumerate() {
            let start = std::time::Instant::now();
            let result = p.fetch(parsed.name, version).await;
            let latency_ms = start.elapsed().as_secs_f64() * 1000.0;
            match result {
                Ok(value) => {
                    audit(path, p.name(), version, "ok", latency_ms);
                    self.register(&value);
                    let resolved = path::resolve(value, parsed, path, p.name())?;
                    if let Resolved::Text(s) = &resolved {
                        self.inner.known.register(s.expose_secret());
                    }
                    return Ok((i, resolved));
                }
                Err(e) => {
                    let kind = e.kind();
                    audit(path, p.name(), version, outcome_label(kind), latency_ms);
                    if kind == ErrorKind::AccessDenied {
                        tracing::warn!(
                            path,
                            provider = p.name(),
                            error = %e,
                            "provider denied access to the secret"
                        );
                    }
                    outcomes.push(outcome(p.name(), &e));
                    let stop = !kind.falls_through()
                        || (kind == ErrorKind::AccessDenied && self.inner.stop_on_access_denied);
                    if stop {
                        return Err(chain_error(path, kind, outcomes).with_provider(p.name()));
                    }
                }
            }
        }
        let kind = aggregate_kind(&outcomes);
        Err(chain_error(path, kind, outcomes))
    }

    fn register(&self, value: &SecretValue) {
        let known = &self.inner.known;
        match value {
            SecretValue::Text(s) | SecretValue::Document(s) => known.register(s.expose_secret()),
            SecretValue::Binary(b) => {
                if let Ok(s) = std::str::from_utf8(b.expose_secret()) {
                    known.register(s);
                }
            }
        }
    }
}

fn parse_json<T: DeserializeOwned>(path: &str, s: &SecretString) -> Result<T, Error> {
    serde_json::from_str(s.expose_secret()).map_err(|e| {
        Error::new(
            ErrorKind::InvalidJson,
            format!(
                "secret '{path}' is not the expected JSON: {}",
                path::describe_json_error(&e)
            ),
        )
    })
}

fn audit(path: &str, provider: &str, version: &Version, outcome: &str, latency_ms: f64) {
    match version {
        Version::Current => tracing::info!(
            target: AUDIT_TARGET,
            path,
            provider,
            outcome,
            latency_ms,
            "secret fetch"
        ),
        v => tracing::info!(
            target: AUDIT_TARGET,
            path,
            provider,
            version = %v,
            outcome,
            latency_ms,
            "secret fetch"
        ),
    }
}

fn outcome_label(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::NotFound => "not_found",
        ErrorKind::AccessDenied => "access_denied",
        ErrorKind::Unavailable => "unavailable",
        _ => "error",
    }
}

fn outcome(provider: &str, e: &Error) -> ProviderOutcome {
    ProviderOutcome {
        provider: provider.to_owned(),
        kind: e.kind(),
        detail: e.to_string(),
    }
}

/// The kind of a chain failure: not found if any provider said so; access
/// denied if every provider denied; otherwise unavailable.
fn aggregate_kind(outcomes: &[ProviderOutcome]) -> ErrorKind {
    if outcomes.iter().any(|o| o.kind == ErrorKind::NotFound) {
        ErrorKind::NotFound
    } else if !outcomes.is_empty() && outcomes.iter().all(|o| o.kind == ErrorKind::AccessDenied) {
        ErrorKind::AccessDenied
    } else if outcomes.iter().all(|o| o.kind.falls_through()) {
        ErrorKind::Unavailable
    } else {
        outcomes.last().map_or(ErrorKind::NotFound, |o| o.kind)
    }
}

fn join_outcomes(outcomes: &[ProviderOutcome]) -> String {
    outcomes
        .iter()
        .map(|o| o.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

fn chain_error(path: &str, kind: ErrorKind, outcomes: Vec<ProviderOutcome>) -> Error {
    let msg = format!("secret '{path}' {kind}: {}", join_outcomes(&outcomes));
    Error::new(kind, msg).with_outcomes(outcomes)
}

