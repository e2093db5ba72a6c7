//! [`SecretsManagerBuilder`]: providers in order, cache settings, policy.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::chain::config::{Config, DEFAULT_CACHE_TTL};
use crate::chain::named::{NamedProvider, check_names};
use crate::chain::resilience::{
    DEFAULT_MAX_STALE, DEFAULT_NEGATIVE_TTL, DEFAULT_REJECT_INTERVAL, DEFAULT_TTL_JITTER, Policy,
};
use crate::chain::{SecretsManager, Settings};
use crate::clock::Clock;
use crate::error::Error;
use crate::masking::KnownSecrets;
use crate::providers::Provider;

/// Builds a [`SecretsManager`]. Start from [`SecretsManager::builder`].
///
/// ```
/// use std::time::Duration;
/// use secret_chain::SecretsManager;
/// use secret_chain::providers::EnvProvider;
///
/// let manager = SecretsManager::builder()
///     .provider(EnvProvider::from_vars([("DATABASE_URL", "postgres://localhost/app")]))
///     .cache_ttl(Duration::from_secs(60))
///     .build()
///     .unwrap();
/// # let _ = manager;
/// ```
///
/// Two providers of one kind go in under names of their own
/// ([`provider_named`](Self::provider_named)):
///
/// ```
/// use secret_chain::SecretsManager;
/// use secret_chain::providers::EnvProvider;
///
/// let manager = SecretsManager::builder()
///     .provider_named("local", EnvProvider::from_vars([("A", "1")]))
///     .provider_named("shared", EnvProvider::from_vars([("B", "2")]))
///     .build()
///     .unwrap();
/// assert_eq!(manager.provider_names(), ["local", "shared"]);
/// ```
pub struct SecretsManagerBuilder {
    pub(crate) providers: Vec<NamedProvider>,
    pub(crate) settings: Settings,
    pub(crate) clock: Clock,
    pub(crate) known: Option<Arc<KnownSecrets>>,
    pub(crate) cache_capacity: Option<usize>,
}

impl fmt::Debug for SecretsManagerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsManagerBuilder")
            .field(
                "providers",
                &self
                    .providers
                    .iter()
                    .map(NamedProvider::name)
                    .collect::<Vec<_>>(),
            )
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Default for SecretsManagerBuilder {
    fn default() -> Self {
        SecretsManagerBuilder {
            providers: Vec::new(),
            settings: Settings {
                ttl: DEFAULT_CACHE_TTL,
                ttl_jitter: DEFAULT_TTL_JITTER,
                refresh_ahead: true,
                max_stale: DEFAULT_MAX_STALE,
                negative_ttl: DEFAULT_NEGATIVE_TTL,
                reject_interval: DEFAULT_REJECT_INTERVAL,
                stop_on_access_denied: false,
                stats: true,
                policy: Policy::default(),
            },
            clock: Clock::system(),
            known: None,
            cache_capacity: None,
        }
    }
}

impl SecretsManagerBuilder {
    /// Appends a provider: providers are tried in the order they are added.
    /// The chain names it by its own name ([`Provider::name`], its kind:
    /// `aws`, `vault`, `env`).
    pub fn provider(mut self, provider: impl Provider + 'static) -> Self {
        self.providers.push(NamedProvider::own(Box::new(provider)));
        self
    }

    /// Appends a provider under a name of its own, so that a chain can hold
    /// several of one kind (two Vault clusters, a primary and a DR
    /// account). The chain uses that name wherever it names the provider:
    /// errors and their outcomes, [`stats`](SecretsManager::stats),
    /// [`health`](SecretsManager::health), the audit events, the metrics and
    /// the warnings. A name holds ASCII letters, digits, `-` and `_`;
    /// [`build`](Self::build) refuses any other.
    pub fn provider_named(
        mut self,
        name: impl Into<String>,
        provider: impl Provider + 'static,
    ) -> Self {
        self.providers
            .push(NamedProvider::named(name, Box::new(provider)));
        self
    }

    /// Appends an already boxed provider, under its own name.
    pub fn boxed_provider(mut self, provider: Box<dyn Provider>) -> Self {
        self.providers.push(NamedProvider::own(provider));
        self
    }

    /// Appends an already boxed provider under a name of its own, as
    /// [`provider_named`](Self::provider_named) does.
    pub fn boxed_provider_named(
        mut self,
        name: impl Into<String>,
        provider: Box<dyn Provider>,
    ) -> Self {
        self.providers.push(NamedProvider::named(name, provider));
        self
    }

    /// How long a fetched value is served from the cache (default 300 s).
    /// Zero disables caching: every read goes to the providers.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.settings.ttl = ttl;
        self
    }

    /// Each entry's TTL is shortened by a random fraction of up to `jitter`
    /// (default 0.1, at most 0.5) so that a fleet does not refresh in step.
    /// Zero gives exact TTLs.
    pub fn ttl_jitter(mut self, jitter: f64) -> Self {
        self.settings.ttl_jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 0.5)
        } else {
            0.0
        };
        self
    }

    /// Refresh-ahead (default on): a key read in the last 10-25 % of its TTL
    /// (jittered) is refreshed in the background; callers keep getting the
    /// cached value and never wait for the refresh.
    pub fn refresh_ahead(mut self, on: bool) -> Self {
        self.settings.refresh_ahead = on;
        self
    }

    /// Stale-on-error window (default 3600 s): how long past its expiry a
    /// cached value is still served while its provider is unavailable.
    /// Zero disables stale serving.
    pub fn max_stale(mut self, window: Duration) -> Self {
        self.settings.max_stale = window;
        self
    }

    /// How long "not found" is remembered (default 30 s); zero disables
    /// negative caching.
    pub fn negative_ttl(mut self, ttl: Duration) -> Self {
        self.settings.negative_ttl = ttl;
        self
    }

    /// Retries of an unavailable provider within one fetch (default 2),
    /// with exponential backoff from `base` (default 50 ms) and jitter, and
    /// no retry once the fetch has spent `budget` (default 2 s).
    pub fn retries(mut self, retries: u32, base: Duration, budget: Duration) -> Self {
        self.settings.policy.retries = retries;
        self.settings.policy.retry_base = base;
        self.settings.policy.retry_budget = budget;
        self
    }

    /// The circuit breaker of each provider: after `threshold` consecutive
    /// unavailable answers (default 5) the provider is skipped for
    /// `cooldown` (default 30 s), then probed with one call.
    pub fn circuit_breaker(mut self, threshold: u32, cooldown: Duration) -> Self {
        self.settings.policy.breaker_threshold = threshold.max(1);
        self.settings.policy.breaker_cooldown = cooldown;
        self
    }

    /// Count cache hits for [`SecretsManager::stats`] (default on). The
    /// counter is striped across cache lines, so it costs a few
    /// nanoseconds and does not limit multi-threaded reads; turn it off
    /// only to measure without it.
    pub fn count_hits(mut self, on: bool) -> Self {
        self.settings.stats = on;
        self
    }

    /// Minimum interval between two refetches of one key through
    /// [`SecretsManager::credential_rejected`] (default 30 s).
    pub fn reject_interval(mut self, interval: Duration) -> Self {
        self.settings.reject_interval = interval;
        self
    }

    /// When a provider denies access, stop the chain with that error
    /// instead of moving on to the next provider (default: move on, with a
    /// warning).
    pub fn stop_on_access_denied(mut self, stop: bool) -> Self {
        self.settings.stop_on_access_denied = stop;
        self
    }

    /// The clock the cache reads. Tests pass [`Clock::mock`].
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Shares a registry of known secret values with a masking layer. By
    /// default the manager creates its own ([`SecretsManager::known_secrets`]).
    pub fn known_secrets(mut self, known: Arc<KnownSecrets>) -> Self {
        self.known = Some(known);
        self
    }

    /// Bounds the cache to `entries` entries (values and remembered
    /// misses; at least 1; unbounded by default). A new key evicts the
    /// entry fetched longest ago, at insert time, so that a hit keeps no
    /// bookkeeping; a server that reads names its clients choose (the
    /// agent) needs the bound.
    pub fn cache_capacity(mut self, entries: usize) -> Self {
        self.cache_capacity = Some(entries.max(1));
        self
    }

    /// Applies a [`Config`]: its providers (in order) and cache TTL.
    ///
    /// # Errors
    ///
    /// A configuration error when a provider cannot be configured.
    pub fn config(mut self, config: &Config) -> Result<Self, Error> {
        self.providers.extend(config.build_providers()?);
        if self.known.is_none() {
            // SECRETS_MASK_RETENTION, SECRETS_MASK_MIN_LENGTH.
            self.known = Some(Arc::new(KnownSecrets::from_settings(config.settings())?));
        }
        let s = &mut self.settings;
        s.ttl = config.cache_ttl;
        s.max_stale = config.max_stale;
        s.negative_ttl = config.negative_ttl;
        s.refresh_ahead = config.refresh_ahead;
        s.policy.retries = config.retries;
        s.policy.breaker_threshold = config.breaker_threshold.max(1);
        s.policy.breaker_cooldown = config.breaker_cooldown;
        Ok(self)
    }

    /// Builds the manager.
    ///
    /// # Errors
    ///
    /// A configuration error if no provider was added, a name given to
    /// [`provider_named`](Self::provider_named) is not valid, or two
    /// providers share a name (the error names both entries).
    pub fn build(self) -> Result<SecretsManager, Error> {
        if self.providers.is_empty() {
            return Err(Error::config(
                "a secrets manager needs at least one provider",
            ));
        }
        check_names(&self.providers)?;
        let mut b = self;
        b.settings.saturate();
        Ok(SecretsManager::from_builder(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::test_support::env;
    use crate::error::ErrorKind;

    #[test]
    fn durations_too_large_for_the_clock_saturate_instead_of_panicking() {
        use secrecy::ExposeSecret;
        let (clock, mock) = crate::clock::Clock::mock();
        let (flaky, _) = crate::chain::test_support::Scripted::new("aws", |_| {
            Err(Error::unavailable("unavailable (test)"))
        });
        let m = SecretsManager::builder()
            .provider(flaky)
            .provider(env(&[("A", "val-1234567")]))
            .cache_ttl(Duration::MAX)
            .negative_ttl(Duration::MAX)
            .max_stale(Duration::MAX)
            .circuit_breaker(1, Duration::MAX)
            .retries(0, Duration::from_millis(1), Duration::from_millis(1))
            .clock(clock)
            .build()
            .unwrap();
        let rt = crate::chain::test_support::rt();
        assert_eq!(
            rt.block_on(m.get_secret("a")).unwrap().expose_secret(),
            "val-1234567"
        );
        assert!(rt.block_on(m.get_secret("missing")).is_err());
        mock.advance(Duration::from_secs(3600 * 24 * 365));
        assert_eq!(
            rt.block_on(m.get_secret("a")).unwrap().expose_secret(),
            "val-1234567"
        );
        assert!(rt.block_on(m.get_secret("missing")).is_err());
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
    fn duplicate_instance_names_name_both_entries() {
        let e = SecretsManager::builder()
            .provider_named("primary", env(&[]))
            .provider(env(&[]))
            .provider_named("primary", env(&[]))
            .build()
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(
            e.to_string()
                .starts_with("two providers are named 'primary' (entries 1 and 3)"),
            "{e}"
        );
        // A given name may clash with another provider's own name.
        let e = SecretsManager::builder()
            .provider(env(&[]))
            .provider_named("env", env(&[]))
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("'env' (entries 1 and 2)"), "{e}");
        let m = SecretsManager::builder()
            .provider(env(&[]))
            .provider_named("local", env(&[]))
            .build()
            .unwrap();
        assert_eq!(m.provider_names(), ["env", "local"]);
    }

    #[test]
    fn invalid_given_names_are_refused_without_echoing_them() {
        for bad in ["", "has space", "s3cr3t=value", "dr.eu"] {
            let e = SecretsManager::builder()
                .provider(env(&[]))
                .provider_named(bad, env(&[]))
                .build()
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{bad:?}");
            assert!(e.to_string().contains("provider entry 2"), "{bad:?}: {e}");
            if !bad.is_empty() {
                assert!(!e.to_string().contains(bad), "{bad:?}: {e}");
            }
        }
    }
}
