//! What keeps a service up when a backend has a bad hour: the per-provider
//! circuit breaker (`breaker.rs` at the crate root, which providers use
//! too), the retry policy, and the counters behind
//! [`SecretsManager::stats`](crate::SecretsManager::stats).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use crate::breaker::BreakerState;
pub(crate) use crate::breaker::{
    Breaker, BreakerPolicy, DEFAULT_BREAKER_COOLDOWN, DEFAULT_BREAKER_THRESHOLD,
};

/// Default TTL jitter: entries live 90-100 % of the TTL.
pub(crate) const DEFAULT_TTL_JITTER: f64 = 0.1;
/// Default `SECRETS_MAX_STALE`: serve a stale value for up to an hour past
/// its expiry while its provider is unavailable.
pub(crate) const DEFAULT_MAX_STALE: Duration = Duration::from_secs(3600);
/// Default `SECRETS_NEGATIVE_TTL`: remember "not found" for 30 seconds.
pub(crate) const DEFAULT_NEGATIVE_TTL: Duration = Duration::from_secs(30);
/// Default `SECRETS_RETRIES`: retries of an unavailable provider per fetch.
pub(crate) const DEFAULT_RETRIES: u32 = 2;
/// Default `SECRETS_RETRY_BASE_MS`: first backoff, doubled per retry.
pub(crate) const DEFAULT_RETRY_BASE: Duration = Duration::from_millis(50);
/// Default retry budget: retries stop once a fetch has spent this long.
pub(crate) const DEFAULT_RETRY_BUDGET: Duration = Duration::from_secs(2);
/// Default minimum interval between two refetches of one key after
/// [`SecretsManager::credential_rejected`](crate::SecretsManager::credential_rejected).
pub(crate) const DEFAULT_REJECT_INTERVAL: Duration = Duration::from_secs(30);

/// Retry and breaker settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    pub(crate) retries: u32,
    pub(crate) retry_base: Duration,
    pub(crate) retry_budget: Duration,
    pub(crate) breaker_threshold: u32,
    pub(crate) breaker_cooldown: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            retries: DEFAULT_RETRIES,
            retry_base: DEFAULT_RETRY_BASE,
            retry_budget: DEFAULT_RETRY_BUDGET,
            breaker_threshold: DEFAULT_BREAKER_THRESHOLD,
            breaker_cooldown: DEFAULT_BREAKER_COOLDOWN,
        }
    }
}

impl Policy {
    /// Backoff before retry `attempt` (1-based): base * 2^(attempt-1), with
    /// full jitter between half and all of it.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .retry_base
            .saturating_mul(1 << attempt.saturating_sub(1).min(16));
        let half = exp / 2;
        half + half.mul_f64(rand::random::<f64>())
    }
}

impl BreakerPolicy for Policy {
    fn threshold(&self) -> u32 {
        self.breaker_threshold
    }
    fn cooldown(&self) -> Duration {
        self.breaker_cooldown
    }
}

/// Per-provider counters.
#[derive(Default)]
pub(crate) struct ProviderCounters {
    pub(crate) calls: AtomicU64,
    pub(crate) found: AtomicU64,
    pub(crate) not_found: AtomicU64,
    pub(crate) denied: AtomicU64,
    pub(crate) unavailable: AtomicU64,
    pub(crate) other_errors: AtomicU64,
    pub(crate) skipped_open: AtomicU64,
}

/// Manager-wide counters.
pub(crate) struct Counters {
    pub(crate) misses: AtomicU64,
    pub(crate) stale_served: AtomicU64,
    pub(crate) refresh_ahead: AtomicU64,
    pub(crate) rejected_refetches: AtomicU64,
    pub(crate) watch_changes: AtomicU64,
    pub(crate) watch_failures: AtomicU64,
    pub(crate) lease_renewals: AtomicU64,
    pub(crate) lease_renewal_failures: AtomicU64,
    pub(crate) lease_replacements: AtomicU64,
    pub(crate) leases_revoked: AtomicU64,
}

impl Counters {
    pub(crate) fn new() -> Counters {
        Counters {
            misses: AtomicU64::new(0),
            stale_served: AtomicU64::new(0),
            refresh_ahead: AtomicU64::new(0),
            rejected_refetches: AtomicU64::new(0),
            watch_changes: AtomicU64::new(0),
            watch_failures: AtomicU64::new(0),
            lease_renewals: AtomicU64::new(0),
            lease_renewal_failures: AtomicU64::new(0),
            lease_replacements: AtomicU64::new(0),
            leases_revoked: AtomicU64::new(0),
        }
    }
}

/// A snapshot of a manager's counters: [`SecretsManager::stats`](crate::SecretsManager::stats).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Reads answered from the cache with a value.
    pub hits: u64,
    /// Reads answered from the cache with a remembered "not found".
    pub negative_hits: u64,
    /// Reads that went to the providers (a single-flight group counts once
    /// per caller).
    pub misses: u64,
    /// Reads answered with a stale value because its provider was down.
    pub stale_served: u64,
    /// Background refreshes started by refresh-ahead.
    pub refresh_ahead: u64,
    /// Refetches after [`credential_rejected`](crate::SecretsManager::credential_rejected).
    pub rejected_refetches: u64,
    /// Times the watchers of a key were handed a new value
    /// ([`watch`](crate::SecretsManager::watch)).
    pub watch_changes: u64,
    /// Background fetches of a watched key that failed (the watchers kept
    /// the last value).
    pub watch_failures: u64,
    /// Leases renewed (`sys/leases/renew` for Vault).
    pub lease_renewals: u64,
    /// Renewals refused or failed (new credentials were fetched instead,
    /// or the renewal was tried again).
    pub lease_renewal_failures: u64,
    /// Leased values replaced by new ones (renewal refused or short, max
    /// TTL near, a rejected credential); the old lease is left to expire.
    pub lease_replacements: u64,
    /// Leases revoked ([`shutdown`](crate::SecretsManager::shutdown), or a
    /// duplicate lease of a secret already held).
    pub leases_revoked: u64,
    /// Leases held now (renewed and replaced in the background).
    pub leases_held: usize,
    /// Entries in the cache (values and remembered misses).
    pub cached_entries: usize,
    /// Per provider, in chain order.
    pub providers: Vec<ProviderStats>,
}

/// One provider's counters in [`Stats`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProviderStats {
    /// The provider's name in the chain (its instance name).
    pub provider: String,
    /// Backend calls made (each retry counts).
    pub calls: u64,
    /// Calls that returned a value.
    pub found: u64,
    /// Calls answered "not found".
    pub not_found: u64,
    /// Calls answered "access denied".
    pub denied: u64,
    /// Calls that failed as unavailable (timeouts, 5xx, refused).
    pub unavailable: u64,
    /// Other errors (invalid value, configuration).
    pub other_errors: u64,
    /// Calls skipped because the breaker was open.
    pub skipped_open: u64,
    /// The breaker's state now.
    pub breaker: BreakerState,
}

impl ProviderStats {
    pub(crate) fn from_counters(
        provider: &str,
        c: &ProviderCounters,
        breaker: BreakerState,
    ) -> Self {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ProviderStats {
            provider: provider.to_owned(),
            calls: get(&c.calls),
            found: get(&c.found),
            not_found: get(&c.not_found),
            denied: get(&c.denied),
            unavailable: get(&c.unavailable),
            other_errors: get(&c.other_errors),
            skipped_open: get(&c.skipped_open),
            breaker,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;

    fn policy() -> Policy {
        Policy {
            breaker_threshold: 3,
            breaker_cooldown: Duration::from_secs(10),
            ..Policy::default()
        }
    }

    #[test]
    fn breaker_opens_after_threshold_and_half_opens_after_cooldown() {
        let (clock, mock) = Clock::mock();
        let b = Breaker::new();
        let p = policy();
        assert!(!b.on_failure(clock.now(), &p));
        assert!(!b.on_failure(clock.now(), &p));
        assert!(b.allow(clock.now(), &p).is_ok());
        assert!(b.on_failure(clock.now(), &p));
        assert_eq!(b.state(clock.now()), BreakerState::Open);
        let refused = b.allow(clock.now(), &p).expect_err("open refuses");
        assert_eq!(refused.retry_in, Duration::from_secs(10));
        mock.advance(Duration::from_secs(10));
        assert!(b.allow(clock.now(), &p).is_ok(), "probe goes through");
        assert!(
            b.allow(clock.now(), &p).is_err(),
            "only one probe at a time"
        );
        b.on_answer();
        assert_eq!(b.state(clock.now()), BreakerState::Closed);
    }

    #[test]
    fn failed_probe_reopens_the_breaker() {
        let (clock, mock) = Clock::mock();
        let b = Breaker::new();
        let p = policy();
        for _ in 0..3 {
            b.on_failure(clock.now(), &p);
        }
        mock.advance(Duration::from_secs(11));
        assert!(b.allow(clock.now(), &p).is_ok());
        assert!(b.on_failure(clock.now(), &p));
        assert_eq!(b.state(clock.now()), BreakerState::Open);
    }

    #[test]
    fn an_answer_resets_the_failure_count() {
        let (clock, _) = Clock::mock();
        let b = Breaker::new();
        let p = policy();
        b.on_failure(clock.now(), &p);
        b.on_failure(clock.now(), &p);
        b.on_answer();
        assert!(!b.on_failure(clock.now(), &p));
        assert_eq!(b.state(clock.now()), BreakerState::Closed);
    }

    #[test]
    fn backoff_grows_and_stays_within_its_jitter_band() {
        let p = Policy::default();
        for attempt in 1..5 {
            let full = p.retry_base * (1 << (attempt - 1));
            let d = p.backoff(attempt);
            assert!(d >= full / 2 && d <= full, "{attempt}: {d:?}");
        }
    }
}
