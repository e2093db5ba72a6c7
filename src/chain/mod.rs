//! The [`SecretsManager`]: provider order, fallback policy, cache and
//! resilience.
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
//!
//! Resilience, all driven by the manager's [`Clock`]:
//!
//! - **stale-on-error**: when a cached value has expired and its provider is
//!   unavailable, the value is served for up to `max_stale` past expiry,
//!   with a warning; "not found" and "access denied" are never papered over;
//! - **refresh-ahead**: a key read in the last part of its TTL (a jittered
//!   fraction) is refreshed in the background while callers keep the cached
//!   value; TTLs carry jitter so that a fleet does not refresh in step;
//! - **negative caching**: "not found" is remembered briefly;
//! - **retries and a circuit breaker** per provider: unavailable answers are
//!   retried with exponential backoff and jitter within a time budget; after
//!   repeated failures the provider is skipped for a cool-down, then probed.

mod builder;
mod cache;
pub mod config;
pub(crate) mod global;
pub(crate) mod path;
pub mod resilience;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use parking_lot::Mutex;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;

pub use builder::SecretsManagerBuilder;
pub use config::{Config, ProviderKind};
pub use resilience::{BreakerState, ProviderStats, Stats};

use crate::clock::{Clock, Instant};
use crate::error::{Error, ErrorKind, ProviderOutcome};
use crate::masking::KnownSecrets;
use crate::providers::{Provider, SecretValue, Version};
use cache::{Cache, Cached, Entry, key_for};
use path::{Resolved, SecretPath};
use resilience::{Breaker, Counters, Policy, ProviderCounters};

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

/// Cache and resilience settings, fixed at build time.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) ttl: Duration,
    pub(crate) ttl_jitter: f64,
    pub(crate) refresh_ahead: bool,
    pub(crate) max_stale: Duration,
    pub(crate) negative_ttl: Duration,
    pub(crate) reject_interval: Duration,
    pub(crate) stop_on_access_denied: bool,
    pub(crate) stats: bool,
    pub(crate) policy: Policy,
}

struct Inner {
    providers: Vec<Box<dyn Provider>>,
    breakers: Vec<Breaker>,
    provider_counters: Vec<ProviderCounters>,
    counters: Counters,
    cache: Cache,
    inflight: Mutex<HashMap<Box<str>, Flight>>,
    rejections: Mutex<HashMap<Box<str>, Instant>>,
    settings: Settings,
    clock: Clock,
    known: Arc<KnownSecrets>,
    blocking_runtime: OnceLock<Result<tokio::runtime::Runtime, String>>,
}

impl fmt::Debug for SecretsManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsManager")
            .field("providers", &self.provider_names())
            .field("settings", &self.inner.settings)
            .field("cached", &self.inner.cache.len())
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
    /// The provider's circuit breaker.
    pub breaker: BreakerState,
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
        let n = b.providers.len();
        let known: Arc<KnownSecrets> = b.known.unwrap_or_default();
        SecretsManager {
            inner: Arc::new(Inner {
                providers: b.providers,
                breakers: (0..n).map(|_| Breaker::new()).collect(),
                provider_counters: (0..n).map(|_| ProviderCounters::default()).collect(),
                counters: Counters::new(),
                cache: Cache::new(),
                inflight: Mutex::new(HashMap::new()),
                rejections: Mutex::new(HashMap::new()),
                settings: b.settings,
                clock: b.clock,
                known,
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
    /// A cache hit is answered when this is called, without a lock or a
    /// backend call; the returned future is then ready at once. A miss
    /// fetches through the chain when the future is awaited.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] when no provider has it (the error lists each
    /// provider's answer), [`ErrorKind::Unavailable`] or
    /// [`ErrorKind::AccessDenied`] when no provider could answer,
    /// [`ErrorKind::InvalidJson`] for a missing field or non-JSON value,
    /// [`ErrorKind::InvalidPath`] for a malformed path.
    #[inline]
    pub fn get_secret<'a>(
        &'a self,
        path: &'a str,
    ) -> impl Future<Output = Result<SecretString, Error>> + Send + 'a {
        self.get_secret_future(path)
    }

    /// Reads a secret that may not exist: `Ok(None)` when every provider
    /// answered "not found" (or that answer is remembered), the value
    /// otherwise.
    ///
    /// # Errors
    ///
    /// As [`get_secret`](Self::get_secret), except that "not found" from
    /// every provider is `Ok(None)`. When one provider said "not found"
    /// and another could not answer, that is still an error: the secret
    /// may exist in the one that did not answer.
    pub async fn get_secret_opt(&self, path: &str) -> Result<Option<SecretString>, Error> {
        match self.get_secret(path).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if is_missing_everywhere(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    #[inline]
    pub(crate) fn get_secret_future<'a>(&'a self, path: &'a str) -> GetSecret<'a> {
        match self.cached_text(path) {
            Some(hit) => GetSecret::Ready(Some(hit)),
            None => GetSecret::Miss(Box::pin(self.get_secret_version(path, &Version::Current))),
        }
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
        let entry = self.entry(path, version, false).await?;
        self.entry_text(path, &entry)
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
        let entry = self.entry(path, version, false).await?;
        match &entry.value {
            Cached::Value(v) => Ok(v.to_bytes()),
            Cached::Missing(e) => Err(e.clone()),
        }
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

    /// Drops every cached value (and remembered miss): the next read of
    /// each key fetches fresh. Values stay registered for masking.
    pub fn refresh(&self) {
        self.inner.cache.clear();
    }

    /// Drops one key's cached value: its next read fetches fresh.
    pub fn refresh_key(&self, path: &str) {
        self.inner.cache.remove(path);
    }

    /// Reports that a credential was rejected downstream (for example a
    /// database or an API answered 401 after a rotation) and returns the
    /// value to retry with.
    ///
    /// The key is refetched at once, bypassing the cache, at most once per
    /// rejection interval (default 30 s) per key: a storm of 401s makes one
    /// backend call. Within the interval, the cached value is returned.
    /// The rotated-out value stays registered for masking.
    ///
    /// # Errors
    ///
    /// As [`get_secret`](Self::get_secret).
    pub async fn credential_rejected(&self, path: &str) -> Result<SecretString, Error> {
        let now = self.inner.clock.now();
        let interval = self.inner.settings.reject_interval;
        let allowed = {
            let mut seen = self.inner.rejections.lock();
            match seen.get(path) {
                Some(t) if now.saturating_duration_since(*t) < interval => false,
                _ => {
                    seen.insert(path.into(), now);
                    true
                }
            }
        };
        if !allowed {
            tracing::debug!(
                path,
                "credential rejected again within the interval; not refetching"
            );
            return self.get_secret(path).await;
        }
        self.inner
            .counters
            .rejected_refetches
            .fetch_add(1, Ordering::Relaxed);
        tracing::info!(path, "credential rejected downstream; refetching");
        let entry = self.entry(path, &Version::Current, true).await?;
        self.entry_text(path, &entry)
    }

    /// Asks every provider whether it answers, in chain order.
    pub async fn health(&self) -> Vec<ProviderHealth> {
        let mut out = Vec::with_capacity(self.inner.providers.len());
        let now = self.inner.clock.now();
        for (i, p) in self.inner.providers.iter().enumerate() {
            let start = std::time::Instant::now();
            let result = p.health().await.map(|()| start.elapsed());
            out.push(ProviderHealth {
                provider: p.name().to_owned(),
                result,
                breaker: self.inner.breakers[i].state(now),
            });
        }
        out
    }

    /// A snapshot of the counters: hits, misses, stale values served, and
    /// per provider calls, answers, errors and breaker state.
    pub fn stats(&self) -> Stats {
        let inner = &*self.inner;
        let now = inner.clock.now();
        let c = &inner.counters;
        let (hits, negative_hits) = inner.cache.hit_totals();
        Stats {
            hits,
            negative_hits,
            misses: c.misses.load(Ordering::Relaxed),
            stale_served: c.stale_served.load(Ordering::Relaxed),
            refresh_ahead: c.refresh_ahead.load(Ordering::Relaxed),
            rejected_refetches: c.rejected_refetches.load(Ordering::Relaxed),
            cached_entries: inner.cache.len(),
            providers: inner
                .providers
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    ProviderStats::from_counters(
                        p.name(),
                        &inner.provider_counters[i],
                        inner.breakers[i].state(now),
                    )
                })
                .collect(),
        }
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

    /// The hit path: a lock-free map lookup, a clock read and a striped
    /// counter; a read in the refresh-ahead window also starts a background
    /// refresh (once per entry) without waiting for it.
    #[inline]
    fn cached_text(&self, path: &str) -> Option<Result<SecretString, Error>> {
        let inner = &*self.inner;
        let now = inner.clock.recent();
        inner
            .cache
            .with(path, |e, hits| {
                if now >= e.expires_at {
                    return None;
                }
                if now >= e.refresh_at {
                    self.refresh_ahead(path, e);
                }
                Some(match &e.value {
                    Cached::Value(Resolved::Text(s)) => {
                        if inner.settings.stats {
                            hits.hit();
                        }
                        #[cfg(feature = "metrics")]
                        metrics::counter!("secret_chain_cache_hits_total").increment(1);
                        Ok(s.clone())
                    }
                    Cached::Value(other) => {
                        if inner.settings.stats {
                            hits.hit();
                        }
                        other.to_text(path, inner.providers[e.provider].name())
                    }
                    Cached::Missing(err) => {
                        if inner.settings.stats {
                            hits.negative();
                        }
                        Err(err.clone())
                    }
                })
            })
            .flatten()
    }

    #[cold]
    fn refresh_ahead(&self, path: &str, e: &Entry) {
        if e.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            // A blocking caller: the value is fetched at expiry instead.
            e.refreshing.store(false, Ordering::Release);
            return;
        };
        self.inner
            .counters
            .refresh_ahead
            .fetch_add(1, Ordering::Relaxed);
        let manager = self.clone();
        let path = path.to_owned();
        handle.spawn(async move {
            if let Err(err) = manager.entry(&path, &Version::Current, true).await {
                tracing::debug!(path, error = %err, "refresh-ahead failed; the cached value stays until it expires");
            }
        });
    }

    fn entry_text(&self, path: &str, entry: &Entry) -> Result<SecretString, Error> {
        match &entry.value {
            Cached::Value(v) => v.to_text(path, self.inner.providers[entry.provider].name()),
            Cached::Missing(e) => Err(e.clone()),
        }
    }

    /// The entry for `path` at `version`: from the cache when fresh (unless
    /// `force`), otherwise through one shared fetch per key.
    async fn entry(&self, path: &str, version: &Version, force: bool) -> Result<Arc<Entry>, Error> {
        let parsed = SecretPath::parse(path)?;
        let key = key_for(path, version);
        if !force {
            if let Some(e) = self.fresh(&key) {
                return missing_to_err(e);
            }
            self.inner.counters.misses.fetch_add(1, Ordering::Relaxed);
        }
        let flight: Flight = {
            let mut inflight = self.inner.inflight.lock();
            // Re-check under the lock: a flight that just finished has
            // stored its entry before leaving the map.
            if let Some(e) = self.fresh(&key).filter(|_| !force) {
                return missing_to_err(e);
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
        missing_to_err(result?)
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
        let s = &self.inner.settings;
        let previous = self.inner.cache.get(key);
        match self.fetch_chain(parsed, path, version).await {
            Ok((provider, value)) => {
                let now = self.inner.clock.now();
                let ttl = jittered(s.ttl, s.ttl_jitter);
                let refresh_at = if s.refresh_ahead && *version == Version::Current {
                    now + ttl.mul_f64(0.75 + 0.15 * rand::random::<f64>())
                } else {
                    now + ttl
                };
                let entry = Arc::new(Entry::new(
                    Cached::Value(value),
                    provider,
                    now,
                    refresh_at,
                    now + ttl,
                ));
                if !s.ttl.is_zero() {
                    self.inner.cache.insert(key, entry.clone());
                }
                Ok(entry)
            }
            Err(e) => {
                let stale = previous
                    .filter(|p| matches!(p.value, Cached::Value(_)))
                    .and_then(|prev| self.serve_stale(&prev, &e, path));
                if let Some(stale) = stale {
                    return Ok(stale);
                }
                // Remember a miss only when every provider said "not found":
                // a miss caused by an outage must not outlive the outage.
                let all_missing = !e.outcomes().is_empty()
                    && e.outcomes().iter().all(|o| o.kind == ErrorKind::NotFound);
                if all_missing && !s.negative_ttl.is_zero() {
                    let now = self.inner.clock.now();
                    let until = now + s.negative_ttl;
                    let entry = Arc::new(Entry::new(
                        Cached::Missing(e.clone()),
                        usize::MAX,
                        now,
                        until,
                        until,
                    ));
                    self.inner.cache.insert(key, entry);
                }
                Err(e)
            }
        }
    }

    /// Stale-on-error: the previous value, when its own provider was
    /// unavailable and the value is within `max_stale` of its expiry.
    fn serve_stale(&self, prev: &Arc<Entry>, e: &Error, path: &str) -> Option<Arc<Entry>> {
        let provider = self.inner.providers.get(prev.provider)?.name();
        let unavailable = e
            .outcomes()
            .iter()
            .any(|o| o.provider == provider && o.kind == ErrorKind::Unavailable);
        if !unavailable {
            return None;
        }
        let now = self.inner.clock.now();
        let age = now.saturating_duration_since(prev.fetched_at);
        let max_stale = self.inner.settings.max_stale;
        if now < prev.expires_at + max_stale {
            self.inner
                .counters
                .stale_served
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                path,
                provider,
                age_secs = age.as_secs(),
                max_stale_secs = max_stale.as_secs(),
                "serving a stale secret: its provider is unavailable"
            );
            Some(prev.clone())
        } else {
            tracing::warn!(
                path,
                provider,
                age_secs = age.as_secs(),
                max_stale_secs = max_stale.as_secs(),
                "cached secret is older than the stale window; not serving it"
            );
            None
        }
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
            let policy = &self.inner.settings.policy;
            if let Err(refused) = self.inner.breakers[i].allow(self.inner.clock.now(), policy) {
                self.inner.provider_counters[i]
                    .skipped_open
                    .fetch_add(1, Ordering::Relaxed);
                outcomes.push(ProviderOutcome {
                    provider: p.name().to_owned(),
                    kind: ErrorKind::Unavailable,
                    detail: format!(
                        "unavailable (circuit open after {} failures; next probe in {} s)",
                        refused.failures,
                        refused.retry_in.as_secs()
                    ),
                });
                continue;
            }
            match self
                .call_provider(i, p.as_ref(), parsed.name, path, version)
                .await
            {
                Ok(value) => {
                    self.register_value(&value);
                    // A selected field or a one-key document's value differs
                    // from the raw value (non-string JSON fields are not
                    // among the registry's field values); a plain value was
                    // just registered.
                    let derived =
                        parsed.field.is_some() || matches!(value, SecretValue::Document(_));
                    let resolved = path::resolve(value, parsed, path, p.name())?;
                    if let (true, Resolved::Text(s)) = (derived, &resolved) {
                        self.register(s.expose_secret());
                    }
                    return Ok((i, resolved));
                }
                Err(e) => {
                    let kind = e.kind();
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
                        || (kind == ErrorKind::AccessDenied
                            && self.inner.settings.stop_on_access_denied);
                    if stop {
                        return Err(chain_error(path, kind, outcomes).with_provider(p.name()));
                    }
                }
            }
        }
        let kind = aggregate_kind(&outcomes);
        Err(chain_error(path, kind, outcomes))
    }

    /// One provider's fetch, with retries of unavailable answers within the
    /// retry budget, breaker bookkeeping, counters and the audit event.
    async fn call_provider(
        &self,
        i: usize,
        p: &dyn Provider,
        name: &str,
        path: &str,
        version: &Version,
    ) -> Result<SecretValue, Error> {
        let policy = &self.inner.settings.policy;
        let counters = &self.inner.provider_counters[i];
        let started = std::time::Instant::now();
        let mut attempt = 0;
        loop {
            let start = std::time::Instant::now();
            counters.calls.fetch_add(1, Ordering::Relaxed);
            let result = p.fetch(name, version).await;
            let latency_ms = (start.elapsed().as_secs_f64() * 1e6).round() / 1e3;
            let label = match &result {
                Ok(_) => {
                    counters.found.fetch_add(1, Ordering::Relaxed);
                    "ok"
                }
                Err(e) => match e.kind() {
                    ErrorKind::NotFound => {
                        counters.not_found.fetch_add(1, Ordering::Relaxed);
                        "not_found"
                    }
                    ErrorKind::AccessDenied => {
                        counters.denied.fetch_add(1, Ordering::Relaxed);
                        "access_denied"
                    }
                    ErrorKind::Unavailable => {
                        counters.unavailable.fetch_add(1, Ordering::Relaxed);
                        "unavailable"
                    }
                    _ => {
                        counters.other_errors.fetch_add(1, Ordering::Relaxed);
                        "error"
                    }
                },
            };
            audit(path, p.name(), version, label, latency_ms, attempt);
            #[cfg(feature = "metrics")]
            metrics::counter!("secret_chain_backend_calls_total", "provider" => p.name().to_owned(), "outcome" => label)
                .increment(1);
            match result {
                Err(e) if e.kind() == ErrorKind::Unavailable => {
                    attempt += 1;
                    let backoff = policy.backoff(attempt);
                    if attempt <= policy.retries
                        && started.elapsed() + backoff <= policy.retry_budget
                    {
                        tokio::time::sleep(backoff).await;
                        continue;
                    }
                    if self.inner.breakers[i].on_failure(self.inner.clock.now(), policy) {
                        tracing::warn!(
                            provider = p.name(),
                            cooldown_secs = policy.breaker_cooldown.as_secs(),
                            "provider keeps failing; circuit opened, skipping it during the cool-down"
                        );
                    }
                    return Err(e);
                }
                other => {
                    self.inner.breakers[i].on_answer();
                    return other;
                }
            }
        }
    }

    /// Registers a fetched value for masking. A value can be served (and
    /// so logged) until its TTL and the stale window have passed: it stays
    /// masked that long, plus the registry's retention, after its last
    /// fetch, also once it has rotated out.
    fn register(&self, value: &str) {
        let s = &self.inner.settings;
        self.inner
            .known
            .register_for(value, s.ttl.saturating_add(s.max_stale));
    }

    fn register_value(&self, value: &SecretValue) {
        match value {
            SecretValue::Text(s) | SecretValue::Document(s) => self.register(s.expose_secret()),
            SecretValue::Binary(b) => {
                if let Ok(s) = std::str::from_utf8(b.expose_secret()) {
                    self.register(s);
                }
            }
        }
    }
}

/// The future of [`SecretsManager::get_secret`]: ready on a cache hit, a
/// boxed fetch on a miss (so a hit never builds the fetch's state).
pub(crate) enum GetSecret<'a> {
    Ready(Option<Result<SecretString, Error>>),
    Miss(crate::providers::BoxFuture<'a, Result<SecretString, Error>>),
}

impl Future for GetSecret<'_> {
    type Output = Result<SecretString, Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            GetSecret::Ready(v) => {
                Poll::Ready(v.take().expect("GetSecret polled after completion"))
            }
            GetSecret::Miss(f) => f.as_mut().poll(cx),
        }
    }
}

fn missing_to_err(e: Arc<Entry>) -> Result<Arc<Entry>, Error> {
    match &e.value {
        Cached::Missing(err) => Err(err.clone()),
        Cached::Value(_) => Ok(e),
    }
}

/// `ttl` shortened by a random fraction of up to `jitter`.
fn jittered(ttl: Duration, jitter: f64) -> Duration {
    if jitter <= 0.0 {
        return ttl;
    }
    ttl.mul_f64(1.0 - jitter.min(0.5) * rand::random::<f64>())
}

fn parse_json<T: DeserializeOwned>(path: &str, s: &SecretString) -> Result<T, Error> {
    serde_json::from_str(s.expose_secret()).map_err(|e| {
        Error::new(
            ErrorKind::InvalidJson,
            format!(
                "secret '{path}' is not the expected JSON: {}",
                crate::error::describe_json_error(&e)
            ),
        )
    })
}

fn audit(
    path: &str,
    provider: &str,
    version: &Version,
    outcome: &str,
    latency_ms: f64,
    retry: u32,
) {
    match version {
        Version::Current => tracing::info!(
            target: AUDIT_TARGET,
            path,
            provider,
            outcome,
            latency_ms,
            retry,
            "secret fetch"
        ),
        v => tracing::info!(
            target: AUDIT_TARGET,
            path,
            provider,
            version = %v,
            outcome,
            latency_ms,
            retry,
            "secret fetch"
        ),
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
/// Whether `e` says that every provider answered "not found".
fn is_missing_everywhere(e: &Error) -> bool {
    e.kind() == ErrorKind::NotFound && e.outcomes().iter().all(|o| o.kind == ErrorKind::NotFound)
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::{BoxFuture, EnvProvider};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A provider with scripted answers that counts its calls.
    #[derive(Debug)]
    struct Scripted {
        name: &'static str,
        answer: fn(&str) -> Result<SecretValue, Error>,
        calls: Arc<AtomicUsize>,
        delay: Duration,
    }

    impl Scripted {
        fn new(
            name: &'static str,
            answer: fn(&str) -> Result<SecretValue, Error>,
        ) -> (Self, Arc<AtomicUsize>) {
            let calls = Arc::new(AtomicUsize::new(0));
            (
                Scripted {
                    name,
                    answer,
                    calls: calls.clone(),
                    delay: Duration::ZERO,
                },
                calls,
            )
        }
    }

    impl Provider for Scripted {
        fn name(&self) -> &str {
            self.name
        }
        fn fetch<'a>(
            &'a self,
            name: &'a str,
            _v: &'a Version,
        ) -> BoxFuture<'a, Result<SecretValue, Error>> {
            Box::pin(async move {
                self.calls.fetch_add(1, Ordering::SeqCst);
                if !self.delay.is_zero() {
                    tokio::time::sleep(self.delay).await;
                }
                (self.answer)(name)
            })
        }
        fn list<'a>(&'a self, _prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, Error>> {
            Box::pin(async move {
                match (self.answer)("list") {
                    Ok(_) => Ok(vec![format!("{}/b", self.name), "shared/a".to_owned()]),
                    Err(e) => Err(e),
                }
            })
        }
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn env(pairs: &[(&str, &str)]) -> EnvProvider {
        EnvProvider::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn first_provider_that_has_the_secret_answers() {
        let (a, a_calls) = Scripted::new("aws", |_| Ok(SecretValue::text("from-aws-123")));
        let m = SecretsManager::builder()
            .provider(a)
            .provider(env(&[("DATABASE_URL", "from-env-123")]))
            .build()
            .unwrap();
        let v = rt().block_on(m.get_secret("database/url")).unwrap();
        assert_eq!(v.expose_secret(), "from-aws-123");
        assert_eq!(a_calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn not_found_moves_to_next_provider() {
        let (a, _) = Scripted::new("aws", |_| Err(Error::not_found("not found")));
        let m = SecretsManager::builder()
            .provider(a)
            .provider(env(&[("DATABASE_URL", "from-env-123")]))
            .build()
            .unwrap();
        let v = rt().block_on(m.get_secret("database/url")).unwrap();
        assert_eq!(v.expose_secret(), "from-env-123");
    }

    #[test]
    fn unavailable_moves_to_next_provider() {
        let (a, _) = Scripted::new("aws", |_| {
            Err(Error::unavailable("unavailable (connection refused)"))
        });
        let m = SecretsManager::builder()
            .provider(a)
            .provider(env(&[("DATABASE_URL", "from-env-123")]))
            .build()
            .unwrap();
        assert!(rt().block_on(m.get_secret("database/url")).is_ok());
    }

    #[test]
    fn aggregated_error_lists_every_provider_in_order() {
        let (a, _) = Scripted::new("aws", |_| Err(Error::not_found("not found")));
        let m = SecretsManager::builder()
            .provider(a)
            .provider(env(&[]))
            .build()
            .unwrap();
        let e = rt().block_on(m.get_secret("database/url")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(
            e.to_string(),
            "secret 'database/url' not found: aws: not found; env: not found (DATABASE_URL)"
        );
        let names: Vec<_> = e.outcomes().iter().map(|o| o.provider.as_str()).collect();
        assert_eq!(names, ["aws", "env"]);
    }

    #[test]
    fn all_unavailable_is_unavailable_and_all_denied_is_denied() {
        let (a, _) = Scripted::new("aws", |_| Err(Error::unavailable("unavailable (timeout)")));
        let (v, _) = Scripted::new("vault", |_| {
            Err(Error::access_denied("access denied (403)"))
        });
        let m = SecretsManager::builder()
            .provider(a)
            .provider(v)
            .build()
            .unwrap();
        let e = rt().block_on(m.get_secret("x/y")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(
            e.to_string()
                .contains("aws: unavailable (timeout); vault: access denied (403)"),
            "{e}"
        );

        let (v, _) = Scripted::new("vault", |_| {
            Err(Error::access_denied("access denied (403)"))
        });
        let m = SecretsManager::builder().provider(v).build().unwrap();
        assert_eq!(
            rt().block_on(m.get_secret("x")).unwrap_err().kind(),
            ErrorKind::AccessDenied
        );
    }

    #[test]
    fn access_denied_moves_on_by_default_and_can_stop_the_chain() {
        let denied = |_: &str| {
            Err(Error::access_denied(
                "access denied (AccessDeniedException)",
            ))
        };
        let (a, _) = Scripted::new("aws", denied);
        let m = SecretsManager::builder()
            .provider(a)
            .provider(env(&[("K", "env-value-1")]))
            .build()
            .unwrap();
        assert!(rt().block_on(m.get_secret("k")).is_ok());

        let (a, _) = Scripted::new("aws", denied);
        let m = SecretsManager::builder()
            .provider(a)
            .provider(env(&[("K", "env-value-1")]))
            .stop_on_access_denied(true)
            .build()
            .unwrap();
        let e = rt().block_on(m.get_secret("k")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AccessDenied);
        assert_eq!(e.outcomes().len(), 1);
        assert_eq!(e.provider(), Some("aws"));
    }

    #[test]
    fn a_cache_hit_makes_no_backend_call_until_the_ttl_passes() {
        let (clock, mock) = Clock::mock();
        let (a, calls) = Scripted::new("aws", |_| Ok(SecretValue::text("value-123456")));
        let m = SecretsManager::builder()
            .provider(a)
            .cache_ttl(Duration::from_secs(300))
            .ttl_jitter(0.0)
            .refresh_ahead(false)
            .clock(clock)
            .build()
            .unwrap();
        let rt = rt();
        for _ in 0..5 {
            rt.block_on(m.get_secret("k")).unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        mock.advance(Duration::from_secs(299));
        rt.block_on(m.get_secret("k")).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        mock.advance(Duration::from_secs(2));
        rt.block_on(m.get_secret("k")).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn refresh_drops_cached_values() {
        let (a, calls) = Scripted::new("aws", |_| Ok(SecretValue::text("value-123456")));
        let m = SecretsManager::builder().provider(a).build().unwrap();
        let rt = rt();
        rt.block_on(m.get_secret("k")).unwrap();
        m.refresh();
        rt.block_on(m.get_secret("k")).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        m.refresh_key("k");
        rt.block_on(m.get_secret("k")).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn zero_ttl_disables_the_cache() {
        let (a, calls) = Scripted::new("aws", |_| Ok(SecretValue::text("value-123456")));
        let m = SecretsManager::builder()
            .provider(a)
            .cache_ttl(Duration::ZERO)
            .build()
            .unwrap();
        let rt = rt();
        rt.block_on(m.get_secret("k")).unwrap();
        rt.block_on(m.get_secret("k")).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn field_paths_select_from_json_for_any_provider() {
        let (a, _) = Scripted::new("custom", |_| {
            Ok(SecretValue::text(
                r#"{"user":"app","password":"pw-abcdef"}"#,
            ))
        });
        let m = SecretsManager::builder().provider(a).build().unwrap();
        let rt = rt();
        assert_eq!(
            rt.block_on(m.get_secret("db#password"))
                .unwrap()
                .expose_secret(),
            "pw-abcdef"
        );
        let e = rt.block_on(m.get_secret("db#missing")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidJson);
        assert!(
            e.to_string().contains("'missing'") && e.to_string().contains("db#missing"),
            "{e}"
        );
        assert!(!e.to_string().contains("pw-abcdef"));
    }

    #[test]
    fn typed_json_errors_do_not_echo_the_value() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Db {
            port: u16,
        }
        let (a, _) = Scripted::new("custom", |_| {
            Ok(SecretValue::text(r#"{"port":"hunter2-secret"}"#))
        });
        let m = SecretsManager::builder().provider(a).build().unwrap();
        let e = rt().block_on(m.get_secret_json::<Db>("db")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidJson);
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(!format!("{e:?}").contains("hunter2"));
        let (a, _) = Scripted::new("custom", |_| Ok(SecretValue::text(r#"{"port":5432}"#)));
        let m = SecretsManager::builder().provider(a).build().unwrap();
        assert_eq!(
            rt().block_on(m.get_secret_json::<Db>("db")).unwrap().port,
            5432
        );
    }

    #[test]
    fn concurrent_misses_for_one_key_make_one_backend_call() {
        let (mut a, calls) = Scripted::new("slow", |_| Ok(SecretValue::text("value-123456")));
        a.delay = Duration::from_millis(50);
        let m = SecretsManager::builder().provider(a).build().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let tasks: Vec<_> = (0..100)
                .map(|_| {
                    let m = m.clone();
                    tokio::spawn(async move { m.get_secret("k").await.map(|_| ()) })
                })
                .collect();
            for t in tasks {
                t.await.unwrap().unwrap();
            }
        });
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn blocking_twins_work_outside_a_runtime_and_refuse_inside_one() {
        let m = SecretsManager::builder()
            .provider(env(&[("K", "value-123456")]))
            .build()
            .unwrap();
        assert_eq!(
            m.get_secret_blocking("k").unwrap().expose_secret(),
            "value-123456"
        );
        assert_eq!(m.list_secrets_blocking("k").unwrap(), Vec::<String>::new());
        let m2 = m.clone();
        let e = rt()
            .block_on(async move { m2.list_secrets_blocking("") })
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BlockingInRuntime);
        assert!(e.to_string().contains("async"), "{e}");
        let m3 = SecretsManager::builder()
            .provider(env(&[("Q", "value-123456")]))
            .build()
            .unwrap();
        let e = rt()
            .block_on(async move { m3.get_secret_blocking("q") })
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BlockingInRuntime);
    }

    #[test]
    fn list_is_the_sorted_union_and_survives_one_failing_provider() {
        let (a, _) = Scripted::new("aws", |_| Ok(SecretValue::text("x")));
        let (b, _) = Scripted::new("vault", |_| Ok(SecretValue::text("x")));
        let (c, _) = Scripted::new("broken", |_| Err(Error::unavailable("unavailable")));
        let m = SecretsManager::builder()
            .provider(a)
            .provider(b)
            .provider(c)
            .build()
            .unwrap();
        assert_eq!(
            rt().block_on(m.list_secrets("")).unwrap(),
            ["aws/b", "shared/a", "vault/b"]
        );
        let (c, _) = Scripted::new("broken", |_| Err(Error::unavailable("unavailable")));
        let m = SecretsManager::builder().provider(c).build().unwrap();
        let e = rt().block_on(m.list_secrets("")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
    }

    #[test]
    fn builder_refuses_an_empty_chain_and_duplicate_names() {
        assert_eq!(
            SecretsManager::builder().build().unwrap_err().kind(),
            ErrorKind::Config
        );
        let e = SecretsManager::builder()
            .provider(env(&[]))
            .provider(env(&[]))
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("'env'"), "{e}");
    }

    #[test]
    fn fetched_values_are_registered_for_masking() {
        let m = SecretsManager::builder()
            .provider(env(&[("K", "value-123456")]))
            .build()
            .unwrap();
        assert!(m.known_secrets().is_empty());
        rt().block_on(m.get_secret("k")).unwrap();
        assert!(!m.known_secrets().is_empty());
    }

    #[test]
    fn debug_output_holds_no_value() {
        let m = SecretsManager::builder()
            .provider(env(&[("K", "value-123456")]))
            .build()
            .unwrap();
        let v = rt().block_on(m.get_secret("k")).unwrap();
        assert!(!format!("{m:?}").contains("value-123456"));
        assert!(!format!("{v:?}").contains("value-123456"));
    }

    #[test]
    fn each_fetch_emits_an_audit_event_without_the_value() {
        use std::io::Write;
        #[derive(Clone, Default)]
        struct Buf(Arc<parking_lot::Mutex<Vec<u8>>>);
        impl Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let w = buf.clone();
        let sub = tracing_subscriber::fmt()
            .with_writer(move || w.clone())
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .finish();
        let (a, _) = Scripted::new("aws", |_| Err(Error::not_found("not found")));
        let m = SecretsManager::builder()
            .provider(a)
            .provider(env(&[("DATABASE_URL", "postgres://u:pw-zyx987@db/app")]))
            .build()
            .unwrap();
        tracing::subscriber::with_default(sub, || {
            rt().block_on(m.get_secret("database/url")).unwrap();
        });
        let out = String::from_utf8(buf.0.lock().clone()).unwrap();
        assert!(out.contains("secret_chain::audit"), "{out}");
        assert!(
            out.contains("provider=\"aws\"") && out.contains("outcome=\"not_found\""),
            "{out}"
        );
        assert!(
            out.contains("provider=\"env\"") && out.contains("outcome=\"ok\""),
            "{out}"
        );
        assert!(out.contains("latency_ms"), "{out}");
        assert!(!out.contains("pw-zyx987"), "{out}");
    }

    /// A provider whose answer a test switches at run time.
    #[derive(Debug, Clone)]
    struct Switch {
        name: &'static str,
        state: Arc<parking_lot::Mutex<Result<String, ErrorKind>>>,
        calls: Arc<AtomicUsize>,
    }

    impl Switch {
        fn new(name: &'static str, value: &str) -> Switch {
            Switch {
                name,
                state: Arc::new(parking_lot::Mutex::new(Ok(value.to_owned()))),
                calls: Arc::new(AtomicUsize::new(0)),
            }
        }
        fn set(&self, answer: Result<&str, ErrorKind>) {
            *self.state.lock() = answer.map(str::to_owned);
        }
        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
    }

    impl Provider for Switch {
        fn name(&self) -> &str {
            self.name
        }
        fn fetch<'a>(
            &'a self,
            _n: &'a str,
            _v: &'a Version,
        ) -> BoxFuture<'a, Result<SecretValue, Error>> {
            Box::pin(async move {
                self.calls.fetch_add(1, Ordering::SeqCst);
                match &*self.state.lock() {
                    Ok(v) => Ok(SecretValue::text(v.clone())),
                    Err(kind) => Err(Error::new(*kind, format!("{kind} (scripted)"))),
                }
            })
        }
        fn list<'a>(&'a self, _p: &'a str) -> BoxFuture<'a, Result<Vec<String>, Error>> {
            Box::pin(async { Ok(Vec::new()) })
        }
    }

    fn resilient(p: &Switch, clock: Clock) -> SecretsManager {
        SecretsManager::builder()
            .provider(p.clone())
            .cache_ttl(Duration::from_secs(60))
            .ttl_jitter(0.0)
            .refresh_ahead(false)
            .max_stale(Duration::from_secs(600))
            .retries(0, Duration::from_millis(1), Duration::from_millis(10))
            .circuit_breaker(1000, Duration::from_secs(30))
            .clock(clock)
            .build()
            .unwrap()
    }

    #[test]
    fn stale_value_is_served_while_the_provider_is_down_until_max_stale() {
        let (clock, mock) = Clock::mock();
        let p = Switch::new("aws", "value-v1-abcdef");
        let m = resilient(&p, clock);
        let rt = rt();
        rt.block_on(m.get_secret("k")).unwrap();
        p.set(Err(ErrorKind::Unavailable));
        mock.advance(Duration::from_secs(61));
        let v = rt.block_on(m.get_secret("k")).unwrap();
        assert_eq!(v.expose_secret(), "value-v1-abcdef");
        mock.advance(Duration::from_secs(598));
        assert!(
            rt.block_on(m.get_secret("k")).is_ok(),
            "still within the stale window"
        );
        assert_eq!(m.stats().stale_served, 2);
        mock.advance(Duration::from_secs(2));
        let e = rt.block_on(m.get_secret("k")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        // Back up: fresh values again, without a restart.
        p.set(Ok("value-v2-abcdef"));
        assert_eq!(
            rt.block_on(m.get_secret("k")).unwrap().expose_secret(),
            "value-v2-abcdef"
        );
    }

    #[test]
    fn not_found_and_denied_are_not_papered_over_with_stale_values() {
        let (clock, mock) = Clock::mock();
        let p = Switch::new("aws", "value-v1-abcdef");
        let m = resilient(&p, clock);
        let rt = rt();
        rt.block_on(m.get_secret("k")).unwrap();
        p.set(Err(ErrorKind::NotFound));
        mock.advance(Duration::from_secs(61));
        assert_eq!(
            rt.block_on(m.get_secret("k")).unwrap_err().kind(),
            ErrorKind::NotFound
        );
        rt.block_on(m.get_secret("j")).unwrap_err();
        p.set(Err(ErrorKind::AccessDenied));
        mock.advance(Duration::from_secs(61));
        rt.block_on(async { m.refresh() });
        assert_eq!(
            rt.block_on(m.get_secret("k")).unwrap_err().kind(),
            ErrorKind::AccessDenied
        );
        assert_eq!(m.stats().stale_served, 0);
    }

    #[test]
    fn cold_reads_fail_when_the_provider_is_down() {
        let (clock, _) = Clock::mock();
        let p = Switch::new("aws", "x");
        p.set(Err(ErrorKind::Unavailable));
        let m = resilient(&p, clock);
        let e = rt().block_on(m.get_secret("k")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(e.to_string().contains("aws: unavailable"), "{e}");
    }

    #[test]
    fn not_found_is_remembered_for_the_negative_ttl() {
        let (clock, mock) = Clock::mock();
        let p = Switch::new("aws", "x");
        p.set(Err(ErrorKind::NotFound));
        let m = SecretsManager::builder()
            .provider(p.clone())
            .negative_ttl(Duration::from_secs(30))
            .clock(clock)
            .build()
            .unwrap();
        let rt = rt();
        for _ in 0..10 {
            assert_eq!(
                rt.block_on(m.get_secret("missing")).unwrap_err().kind(),
                ErrorKind::NotFound
            );
        }
        assert_eq!(p.calls(), 1);
        assert_eq!(m.stats().negative_hits, 9);
        // A miss caused by an outage is not remembered.
        p.set(Err(ErrorKind::Unavailable));
        let m2 = SecretsManager::builder()
            .provider(p.clone())
            .provider(env(&[]))
            .retries(0, Duration::from_millis(1), Duration::from_millis(1))
            .negative_ttl(Duration::from_secs(30))
            .build()
            .unwrap();
        let before = p.calls();
        for _ in 0..3 {
            assert_eq!(
                rt.block_on(m2.get_secret("missing")).unwrap_err().kind(),
                ErrorKind::NotFound
            );
        }
        assert_eq!(p.calls() - before, 3);
        p.set(Err(ErrorKind::NotFound));
        p.set(Ok("now-it-exists"));
        mock.advance(Duration::from_secs(31));
        assert_eq!(
            rt.block_on(m.get_secret("missing"))
                .unwrap()
                .expose_secret(),
            "now-it-exists"
        );
    }

    #[test]
    fn refresh_ahead_refreshes_in_the_background_and_callers_keep_the_value() {
        let (clock, mock) = Clock::mock();
        let p = Switch::new("aws", "value-v1-abcdef");
        let m = SecretsManager::builder()
            .provider(p.clone())
            .cache_ttl(Duration::from_secs(100))
            .ttl_jitter(0.0)
            .clock(clock)
            .build()
            .unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            m.get_secret("k").await.unwrap();
            p.set(Ok("value-v2-abcdef"));
            mock.advance(Duration::from_secs(91)); // past 75-90 % of the TTL
            let v = m.get_secret("k").await.unwrap();
            assert_eq!(
                v.expose_secret(),
                "value-v1-abcdef",
                "the caller got the cached value"
            );
            for _ in 0..100 {
                if p.calls() >= 2
                    && m.get_secret("k").await.unwrap().expose_secret() == "value-v2-abcdef"
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            assert_eq!(
                m.get_secret("k").await.unwrap().expose_secret(),
                "value-v2-abcdef"
            );
        });
        assert_eq!(p.calls(), 2, "one background refresh");
        assert_eq!(m.stats().refresh_ahead, 1);
    }

    #[test]
    fn retries_hide_a_transient_failure() {
        #[derive(Debug)]
        struct FailOnce(AtomicUsize);
        impl Provider for FailOnce {
            fn name(&self) -> &str {
                "flaky"
            }
            fn fetch<'a>(
                &'a self,
                _n: &'a str,
                _v: &'a Version,
            ) -> BoxFuture<'a, Result<SecretValue, Error>> {
                Box::pin(async move {
                    if self.0.fetch_add(1, Ordering::SeqCst) == 0 {
                        Err(Error::unavailable("unavailable (connection reset)"))
                    } else {
                        Ok(SecretValue::text("value-after-retry"))
                    }
                })
            }
            fn list<'a>(&'a self, _p: &'a str) -> BoxFuture<'a, Result<Vec<String>, Error>> {
                Box::pin(async { Ok(Vec::new()) })
            }
        }
        let m = SecretsManager::builder()
            .provider(FailOnce(AtomicUsize::new(0)))
            .retries(2, Duration::from_millis(1), Duration::from_secs(1))
            .build()
            .unwrap();
        assert_eq!(
            rt().block_on(m.get_secret("k")).unwrap().expose_secret(),
            "value-after-retry"
        );
        let s = m.stats();
        assert_eq!((s.providers[0].calls, s.providers[0].unavailable), (2, 1));
    }

    #[test]
    fn the_breaker_skips_a_dead_provider_then_probes_it_after_the_cooldown() {
        let (clock, mock) = Clock::mock();
        let dead = Switch::new("aws", "x");
        dead.set(Err(ErrorKind::Unavailable));
        let m = SecretsManager::builder()
            .provider(dead.clone())
            .provider(env(&[("K", "env-value-123")]))
            .cache_ttl(Duration::ZERO)
            .retries(0, Duration::from_millis(1), Duration::from_millis(1))
            .circuit_breaker(3, Duration::from_secs(30))
            .clock(clock)
            .build()
            .unwrap();
        let rt = rt();
        for _ in 0..10 {
            assert_eq!(
                rt.block_on(m.get_secret("k")).unwrap().expose_secret(),
                "env-value-123"
            );
        }
        assert_eq!(dead.calls(), 3, "skipped once the breaker opened");
        let s = m.stats();
        assert_eq!(s.providers[0].breaker, BreakerState::Open);
        assert_eq!(s.providers[0].skipped_open, 7);
        let e = rt.block_on(m.get_secret("nope")).unwrap_err();
        assert!(e.to_string().contains("circuit open"), "{e}");
        dead.set(Ok("aws-is-back-123"));
        mock.advance(Duration::from_secs(31));
        assert_eq!(
            rt.block_on(m.get_secret("k")).unwrap().expose_secret(),
            "aws-is-back-123"
        );
        assert_eq!(m.stats().providers[0].breaker, BreakerState::Closed);
    }

    #[test]
    fn a_rejected_credential_is_refetched_once_per_interval() {
        let (clock, mock) = Clock::mock();
        let p = Switch::new("aws", "old-password-1");
        let m = SecretsManager::builder()
            .provider(p.clone())
            .reject_interval(Duration::from_secs(30))
            .clock(clock)
            .build()
            .unwrap();
        let rt = rt();
        rt.block_on(m.get_secret("db")).unwrap();
        p.set(Ok("new-password-2"));
        let v = rt.block_on(m.credential_rejected("db")).unwrap();
        assert_eq!(v.expose_secret(), "new-password-2");
        for _ in 0..5 {
            rt.block_on(m.credential_rejected("db")).unwrap();
        }
        assert_eq!(p.calls(), 2, "one refetch for a storm of rejections");
        assert_eq!(
            rt.block_on(m.get_secret("db")).unwrap().expose_secret(),
            "new-password-2"
        );
        mock.advance(Duration::from_secs(31));
        rt.block_on(m.credential_rejected("db")).unwrap();
        assert_eq!(p.calls(), 3);
        assert_eq!(m.stats().rejected_refetches, 2);
    }

    #[test]
    fn stats_count_hits_and_misses() {
        let m = SecretsManager::builder()
            .provider(env(&[("K", "value-123456")]))
            .build()
            .unwrap();
        let rt = rt();
        for _ in 0..5 {
            rt.block_on(m.get_secret("k")).unwrap();
        }
        let s = m.stats();
        assert_eq!((s.hits, s.misses, s.cached_entries), (4, 1, 1));
        assert_eq!(s.providers[0].calls, 1);
        assert_eq!(s.providers[0].found, 1);
    }
}
