//! The public face of the chain: the [`SecretsManager`] struct and its
//! state, its `Debug`, the constructors, and the public async methods as
//! thin entry points into the modules that do the work (see the map in
//! the [`chain`](super) module docs).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::Mutex;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde::de::DeserializeOwned;

use super::builder::SecretsManagerBuilder;
use super::cache::{Cache, Cached, Entry};
use super::config::Config;
use super::fallback::is_missing_everywhere;
use super::metadata::entry_metadata;
use super::miss::Flight;
use super::named::NamedProvider;
use super::resilience::{
    Breaker, BreakerState, Counters, Policy, ProviderCounters, ProviderStats, Stats,
};
use crate::clock::{Clock, Instant};
use crate::error::{Error, ErrorKind};
use crate::masking::KnownSecrets;
use crate::providers::{SecretMetadata, Version};

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
    pub(super) inner: Arc<Inner>,
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

/// The longest duration the cache adds to an instant: about 100 years,
/// i.e. never. A configured `SECRETS_CACHE_TTL=18446744073709551615` (or
/// `Duration::MAX`) would overflow the clock when added to it.
pub(crate) const LONGEST: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

impl Settings {
    /// Caps every duration that is added to an instant at [`LONGEST`].
    pub(crate) fn saturate(&mut self) {
        for d in [
            &mut self.ttl,
            &mut self.max_stale,
            &mut self.negative_ttl,
            &mut self.reject_interval,
            &mut self.policy.breaker_cooldown,
            &mut self.policy.retry_budget,
            &mut self.policy.retry_base,
        ] {
            *d = (*d).min(LONGEST);
        }
    }
}

pub(super) struct Inner {
    pub(super) providers: Vec<NamedProvider>,
    pub(super) breakers: Vec<Breaker>,
    pub(super) provider_counters: Vec<ProviderCounters>,
    pub(super) counters: Counters,
    pub(super) cache: Cache,
    pub(super) inflight: Mutex<HashMap<Box<str>, Flight>>,
    pub(super) rejections: Mutex<HashMap<Box<str>, Instant>>,
    pub(super) watchers: super::watch::Watchers,
    pub(super) leases: Arc<super::lease::Leases>,
    pub(super) settings: Settings,
    pub(super) clock: Clock,
    pub(super) known: Arc<KnownSecrets>,
    pub(super) blocking_runtime: OnceLock<Result<tokio::runtime::Runtime, String>>,
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
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct ProviderHealth {
    /// The provider's name in the chain (its instance name).
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
                cache: Cache::bounded(b.cache_capacity),
                inflight: Mutex::new(HashMap::new()),
                rejections: Mutex::new(HashMap::new()),
                watchers: Default::default(),
                leases: Default::default(),
                settings: b.settings,
                clock: b.clock,
                known,
                blocking_runtime: OnceLock::new(),
            }),
        }
    }

    /// The providers' names in the chain (instance names), in chain order.
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

    /// What the backend said about a secret, never its value: its id (AWS
    /// ARN, Vault data path, variable name), version id, stages, creation
    /// date, and the provider in the chain that answered
    /// ([`SecretMetadata::provider`]). `name#field` reports the metadata of
    /// secret `name`.
    ///
    /// Read through the cache like [`get_secret`](Self::get_secret): a
    /// cached value answers with the metadata kept beside it, without a
    /// backend call; a miss fetches the value, caches it and answers with
    /// what came with it.
    ///
    /// # Errors
    ///
    /// As [`get_secret`](Self::get_secret): the value must be readable.
    pub async fn get_secret_metadata(&self, path: &str) -> Result<SecretMetadata, Error> {
        self.get_secret_metadata_version(path, &Version::Current)
            .await
    }

    /// The metadata of a secret at a given version (`AWSPREVIOUS`, a
    /// version id, ...), as [`get_secret_metadata`](Self::get_secret_metadata).
    ///
    /// # Errors
    ///
    /// As [`get_secret`](Self::get_secret).
    pub async fn get_secret_metadata_version(
        &self,
        path: &str,
        version: &Version,
    ) -> Result<SecretMetadata, Error> {
        let entry = self.entry(path, version, false).await?;
        entry_metadata(&entry)
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

    /// Warms the cache with `paths` (`name` or `name#field`, current
    /// versions), so that their reads are cache hits.
    ///
    /// The paths go through the chain as single reads would, but each
    /// provider is asked for every name still missing at once
    /// ([`Provider::fetch_many`](crate::providers::Provider::fetch_many):
    /// AWS `BatchGetSecretValue`, 20 ids a call; other providers a few
    /// reads at a time), and what it does not have goes to the next
    /// provider. The `#field` paths of one secret share its fetch. What a
    /// read would do with an answer, a prefetch does: cache it with the
    /// TTL, remember "not found" from every provider, serve a stale value
    /// while its provider is unavailable, register the value for masking.
    /// A path already cached fresh is not fetched again; one that another
    /// reader is fetching is awaited; readers that come meanwhile wait for
    /// the prefetch's answer.
    ///
    /// # Errors
    ///
    /// When any path cannot be read, one error listing every failed path:
    /// [`Error::failures`] holds each one's error, with its
    /// [`path`](Error::path) and each provider's
    /// [outcome](Error::outcomes) (code and HTTP status included), never a
    /// value. Its kind is the one the failures share; when they differ,
    /// [`ErrorKind::Unavailable`] if any is, else the first one's. The
    /// paths that were found are cached all the same.
    ///
    /// # Example
    ///
    /// ```
    /// use secret_chain::SecretsManager;
    /// use secret_chain::providers::EnvProvider;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let manager = SecretsManager::builder()
    ///     .provider(EnvProvider::from_vars([
    ///         ("DB", r#"{"user":"app","password":"pw-123456"}"#),
    ///         ("API_KEY", "key-123456"),
    ///     ]))
    ///     .build()?;
    /// manager.prefetch(["db#user", "db#password", "api/key"]).await?;
    /// assert_eq!(manager.stats().providers[0].calls, 2, "db was read once");
    ///
    /// let e = manager.prefetch(["api/key", "nowhere", "db#port"]).await.unwrap_err();
    /// let failed: Vec<_> = e.failures().iter().map(|f| f.path().unwrap()).collect();
    /// assert_eq!(failed, ["nowhere", "db#port"]);
    /// # Ok::<(), secret_chain::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn prefetch<I, S>(&self, paths: I) -> impl Future<Output = Result<(), Error>> + Send + '_
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        // Collected here, so the future holds no iterator of the caller's.
        let mut seen = std::collections::HashSet::new();
        let paths: Vec<String> = paths
            .into_iter()
            .filter_map(|p| {
                let p = p.as_ref();
                seen.insert(p.to_owned()).then(|| p.to_owned())
            })
            .collect();
        self.prefetch_paths(paths)
    }

    /// The names of the secrets under `prefix`: the union over all
    /// providers, sorted and deduplicated. Names only, never values.
    ///
    /// # Errors
    ///
    /// When every provider fails to list, an error with each one's answer.
    /// A provider that fails while others answer is logged (a warning) and
    /// left out: [`list_secrets_report`](Self::list_secrets_report) says
    /// which.
    pub async fn list_secrets(&self, prefix: &str) -> Result<Vec<String>, Error> {
        Ok(self.list_union(prefix).await?.names)
    }

    /// As [`list_secrets`](Self::list_secrets), and which providers could
    /// not list (the listing is then incomplete).
    ///
    /// # Errors
    ///
    /// When every provider fails to list, an error with each one's answer.
    pub async fn list_secrets_report(&self, prefix: &str) -> Result<super::Listing, Error> {
        self.list_union(prefix).await
    }

    /// Drops every cached value (and remembered miss): the next read of
    /// each key fetches fresh. Values stay registered for masking.
    pub fn refresh(&self) {
        self.let_go_of_leases(None);
        self.inner.cache.clear();
    }

    /// Drops one key's cached value: its next read fetches fresh. A key
    /// that is [watched](Self::watch) is fetched again at once, in the
    /// background, and its watchers see the new value. For a leased
    /// secret, the next read gets new credentials (for every `#field` of
    /// it); the old lease is left to expire.
    pub fn refresh_key(&self, path: &str) {
        if let Ok(parsed) = super::path::SecretPath::parse(path) {
            self.let_go_of_leases(Some(parsed.name));
        }
        self.inner.cache.remove(path);
        self.refetch_if_watched(path);
    }

    /// Revokes the leases this manager holds (leased values such as Vault
    /// database credentials, including ones it replaced that have not
    /// ended) and stops renewing them; their cached values are dropped.
    /// Call it when the service stops, after its connections are closed,
    /// so that no credential outlives the process. Static values stay
    /// cached and readable; a leased value read afterwards is served until
    /// its lease ends, neither renewed nor revoked.
    ///
    /// # Errors
    ///
    /// When some leases could not be revoked (the backend is down): one
    /// error with how many, and the first one's answer. Those leases end
    /// on their own at their TTL.
    pub async fn shutdown(&self) -> Result<(), Error> {
        self.close_leases().await
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
        self.refetch_rejected(path).await
    }

    /// Asks every provider whether it answers, in chain order.
    pub async fn health(&self) -> Vec<ProviderHealth> {
        let mut out = Vec::with_capacity(self.inner.providers.len());
        let now = self.inner.clock.now();
        for (i, p) in self.inner.providers.iter().enumerate() {
            let start = std::time::Instant::now();
            let result = p.provider().health().await.map(|()| start.elapsed());
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
            watch_changes: c.watch_changes.load(Ordering::Relaxed),
            watch_failures: c.watch_failures.load(Ordering::Relaxed),
            lease_renewals: c.lease_renewals.load(Ordering::Relaxed),
            lease_renewal_failures: c.lease_renewal_failures.load(Ordering::Relaxed),
            lease_replacements: c.lease_replacements.load(Ordering::Relaxed),
            leases_revoked: c.leases_revoked.load(Ordering::Relaxed),
            leases_held: self.leases_held(),
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

    /// An entry's value as text, or its remembered miss as the error.
    pub(super) fn entry_text(&self, path: &str, entry: &Entry) -> Result<SecretString, Error> {
        match &entry.value {
            Cached::Value(v) => v.to_text(path, self.inner.providers[entry.provider].name()),
            Cached::Missing(e) => Err(e.clone()),
        }
    }
}

/// `s` deserialized as `T`; the error names the path, never the value.
pub(super) fn parse_json<T: DeserializeOwned>(path: &str, s: &SecretString) -> Result<T, Error> {
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::SecretsManager;
    use crate::chain::test_support::{Scripted, env, rt};
    use crate::error::ErrorKind;
    use crate::providers::SecretValue;

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
