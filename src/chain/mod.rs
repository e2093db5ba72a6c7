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
            let latency_ms = (start.elapsed().as_secs_f64() * 1e6).round() / 1e3;
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
        fn new(name: &'static str, answer: fn(&str) -> Result<SecretValue, Error>) -> (Self, Arc<AtomicUsize>) {
            let calls = Arc::new(AtomicUsize::new(0));
            (
                Scripted { name, answer, calls: calls.clone(), delay: Duration::ZERO },
                calls,
            )
        }
    }

    impl Provider for Scripted {
        fn name(&self) -> &str {
            self.name
        }
        fn fetch<'a>(&'a self, name: &'a str, _v: &'a Version) -> BoxFuture<'a, Result<SecretValue, Error>> {
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
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
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
        let (a, _) = Scripted::new("aws", |_| Err(Error::unavailable("unavailable (connection refused)")));
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
        let (v, _) = Scripted::new("vault", |_| Err(Error::access_denied("access denied (403)")));
        let m = SecretsManager::builder().provider(a).provider(v).build().unwrap();
        let e = rt().block_on(m.get_secret("x/y")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(e.to_string().contains("aws: unavailable (timeout); vault: access denied (403)"), "{e}");

        let (v, _) = Scripted::new("vault", |_| Err(Error::access_denied("access denied (403)")));
        let m = SecretsManager::builder().provider(v).build().unwrap();
        assert_eq!(rt().block_on(m.get_secret("x")).unwrap_err().kind(), ErrorKind::AccessDenied);
    }

    #[test]
    fn access_denied_moves_on_by_default_and_can_stop_the_chain() {
        let denied = |_: &str| Err(Error::access_denied("access denied (AccessDeniedException)"));
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
        let m = SecretsManager::builder().provider(a).cache_ttl(Duration::ZERO).build().unwrap();
        let rt = rt();
        rt.block_on(m.get_secret("k")).unwrap();
        rt.block_on(m.get_secret("k")).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn field_paths_select_from_json_for_any_provider() {
        let (a, _) = Scripted::new("custom", |_| Ok(SecretValue::text(r#"{"user":"app","password":"pw-abcdef"}"#)));
        let m = SecretsManager::builder().provider(a).build().unwrap();
        let rt = rt();
        assert_eq!(rt.block_on(m.get_secret("db#password")).unwrap().expose_secret(), "pw-abcdef");
        let e = rt.block_on(m.get_secret("db#missing")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidJson);
        assert!(e.to_string().contains("'missing'") && e.to_string().contains("db#missing"), "{e}");
        assert!(!e.to_string().contains("pw-abcdef"));
    }

    #[test]
    fn typed_json_errors_do_not_echo_the_value() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Db {
            port: u16,
        }
        let (a, _) = Scripted::new("custom", |_| Ok(SecretValue::text(r#"{"port":"hunter2-secret"}"#)));
        let m = SecretsManager::builder().provider(a).build().unwrap();
        let e = rt().block_on(m.get_secret_json::<Db>("db")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidJson);
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(!format!("{e:?}").contains("hunter2"));
        let (a, _) = Scripted::new("custom", |_| Ok(SecretValue::text(r#"{"port":5432}"#)));
        let m = SecretsManager::builder().provider(a).build().unwrap();
        assert_eq!(rt().block_on(m.get_secret_json::<Db>("db")).unwrap().port, 5432);
    }

    #[test]
    fn concurrent_misses_for_one_key_make_one_backend_call() {
        let (mut a, calls) = Scripted::new("slow", |_| Ok(SecretValue::text("value-123456")));
        a.delay = Duration::from_millis(50);
        let m = SecretsManager::builder().provider(a).build().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
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
        let m = SecretsManager::builder().provider(env(&[("K", "value-123456")])).build().unwrap();
        assert_eq!(m.get_secret_blocking("k").unwrap().expose_secret(), "value-123456");
        assert_eq!(m.list_secrets_blocking("k").unwrap(), Vec::<String>::new());
        let m2 = m.clone();
        let e = rt().block_on(async move { m2.list_secrets_blocking("") }).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BlockingInRuntime);
        assert!(e.to_string().contains("async"), "{e}");
        let m3 = SecretsManager::builder().provider(env(&[("Q", "value-123456")])).build().unwrap();
        let e = rt().block_on(async move { m3.get_secret_blocking("q") }).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BlockingInRuntime);
    }

    #[test]
    fn list_is_the_sorted_union_and_survives_one_failing_provider() {
        let (a, _) = Scripted::new("aws", |_| Ok(SecretValue::text("x")));
        let (b, _) = Scripted::new("vault", |_| Ok(SecretValue::text("x")));
        let (c, _) = Scripted::new("broken", |_| Err(Error::unavailable("unavailable")));
        let m = SecretsManager::builder().provider(a).provider(b).provider(c).build().unwrap();
        assert_eq!(rt().block_on(m.list_secrets("")).unwrap(), ["aws/b", "shared/a", "vault/b"]);
        let (c, _) = Scripted::new("broken", |_| Err(Error::unavailable("unavailable")));
        let m = SecretsManager::builder().provider(c).build().unwrap();
        let e = rt().block_on(m.list_secrets("")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
    }

    #[test]
    fn builder_refuses_an_empty_chain_and_duplicate_names() {
        assert_eq!(SecretsManager::builder().build().unwrap_err().kind(), ErrorKind::Config);
        let e = SecretsManager::builder().provider(env(&[])).provider(env(&[])).build().unwrap_err();
        assert!(e.to_string().contains("'env'"), "{e}");
    }

    #[test]
    fn fetched_values_are_registered_for_masking() {
        let m = SecretsManager::builder().provider(env(&[("K", "value-123456")])).build().unwrap();
        assert!(m.known_secrets().is_empty());
        rt().block_on(m.get_secret("k")).unwrap();
        assert!(!m.known_secrets().is_empty());
    }

    #[test]
    fn debug_output_holds_no_value() {
        let m = SecretsManager::builder().provider(env(&[("K", "value-123456")])).build().unwrap();
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
        assert!(out.contains("provider=\"aws\"") && out.contains("outcome=\"not_found\""), "{out}");
        assert!(out.contains("provider=\"env\"") && out.contains("outcome=\"ok\""), "{out}");
        assert!(out.contains("latency_ms"), "{out}");
        assert!(!out.contains("pw-zyx987"), "{out}");
    }
}
