//! [`SecretsManagerBuilder`]: providers in order, cache settings, policy.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::chain::clock::Clock;
use crate::chain::config::{Config, DEFAULT_CACHE_TTL};
use crate::chain::SecretsManager;
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
pub struct SecretsManagerBuilder {
    pub(crate) providers: Vec<Box<dyn Provider>>,
    pub(crate) cache_ttl: Duration,
    pub(crate) stop_on_access_denied: bool,
    pub(crate) clock: Clock,
    pub(crate) known: Option<Arc<KnownSecrets>>,
}

impl fmt::Debug for SecretsManagerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsManagerBuilder")
            .field(
                "providers",
                &self.providers.iter().map(|p| p.name()).collect::<Vec<_>>(),
            )
            .field("cache_ttl", &self.cache_ttl)
            .field("stop_on_access_denied", &self.stop_on_access_denied)
            .finish_non_exhaustive()
    }
}

impl Default for SecretsManagerBuilder {
    fn default() -> Self {
        SecretsManagerBuilder {
            providers: Vec::new(),
            cache_ttl: DEFAULT_CACHE_TTL,
            stop_on_access_denied: false,
            clock: Clock::system(),
            known: None,
        }
    }
}

impl SecretsManagerBuilder {
    /// Appends a provider: providers are tried in the order they are added.
    pub fn provider(mut self, provider: impl Provider + 'static) -> Self {
        self.providers.push(Box::new(provider));
        self
    }

    /// Appends an already boxed provider.
    pub fn boxed_provider(mut self, provider: Box<dyn Provider>) -> Self {
        self.providers.push(provider);
        self
    }

    /// How long a fetched value is served from the cache (default 300 s).
    /// Zero disables caching: every read goes to the providers.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// When a provider denies access, stop the chain with that error
    /// instead of moving on to the next provider (default: move on, with a
    /// warning).
    pub fn stop_on_access_denied(mut self, stop: bool) -> Self {
        self.stop_on_access_denied = stop;
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

    /// Applies a [`Config`]: its providers (in order) and cache TTL.
    ///
    /// # Errors
    ///
    /// A configuration error when a provider cannot be configured.
    pub fn config(mut self, config: &Config) -> Result<Self, Error> {
        self.providers.extend(config.build_providers()?);
        self.cache_ttl = config.cache_ttl;
        Ok(self)
    }

    /// Builds the manager.
    ///
    /// # Errors
    ///
    /// A configuration error if no provider was added or two providers
    /// share a name.
    pub fn build(self) -> Result<SecretsManager, Error> {
        if self.providers.is_empty() {
            return Err(Error::config(
                "a secrets manager needs at least one provider",
            ));
        }
        for (i, p) in self.providers.iter().enumerate() {
            if self.providers[..i].iter().any(|q| q.name() == p.name()) {
                return Err(Error::config(format!(
                    "two providers are named '{}'; provider names must be unique",
                    p.name()
                )));
            }
        }
        Ok(SecretsManager::from_builder(self))
    }
}
