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
//! Resilience, all driven by the manager's [`Clock`](crate::Clock):
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
//!
//! ## Where things are
//!
//! One concept per file, the public API first, then the steps of a read.
//!
//! - `manager.rs`: the [`SecretsManager`] struct, its constructors and
//!   the public async methods, as thin entry points into the files below;
//! - `hit.rs`: the hit path, a cached value answered without a lock or a
//!   backend call;
//! - `miss.rs`: the miss path: single-flight per key, stale-on-error,
//!   negative caching, storing with a jittered TTL;
//! - `prefetch.rs`: [`SecretsManager::prefetch`], many keys through the
//!   chain at once (a provider's `fetch_many` per step), with the miss
//!   path's single-flight, caching and masking, and one error for every
//!   failed path;
//! - `refresh.rs`: refresh-ahead in the background, and the refetch of a
//!   credential rejected downstream;
//! - `lease.rs`: leased (dynamic) values held by secret name: cache
//!   entries that follow the lease, every `#field` from one lease,
//!   replacement, revocation at [`SecretsManager::shutdown`];
//! - `upkeep.rs`: the background task of a held lease: renewal at about
//!   two thirds, new credentials before it ends;
//! - `watch.rs`: [`SecretsManager::watch`], a receiver of a key's value;
//! - `fallback.rs`: the fallback order, trying the providers in turn (one
//!   name, or a batch of names), and the aggregated error that lists each
//!   provider's answer;
//! - `attempt.rs`: one provider attempt (of one name or a batch): the
//!   breaker's check, retries with backoff within the budget, the counters
//!   and the audit event ([`AUDIT_TARGET`]);
//! - `metadata.rs`: the metadata kept beside each cached value
//!   (`get_secret_metadata`);
//! - `register.rs`: fetched values registered for masking;
//! - `load.rs`: [`SecretsManager::load`], a `#[derive(Deserialize)]`
//!   struct filled field by field from one prefetch, every missing
//!   required field reported at once;
//! - `blocking.rs`: the blocking twins (`get_secret_blocking`, ...) and
//!   the [`ErrorKind::BlockingInRuntime`](crate::ErrorKind::BlockingInRuntime)
//!   check.
//!
//! Around them: `builder.rs` ([`SecretsManagerBuilder`]), `named.rs` (a
//! provider under its name in the chain, the name every message uses),
//! `config.rs` ([`Config`]: the chain's settings from the environment), `cache.rs` (the
//! TTL cache, lock-free on reads), `path.rs` (`name#field` paths and field
//! selection), `resilience.rs` (the circuit breaker, the retry policy and
//! the counters behind [`Stats`])
//! and `global.rs` (the process-wide manager behind [`crate::get_secret`]).

// First, so that the docs list its methods before the blocking twins.
mod manager;

mod attempt;
mod blocking;
mod fallback;
mod hit;
mod lease;
pub(crate) mod load;
mod metadata;
mod miss;
mod prefetch;
mod refresh;
mod register;
mod snapshot;
mod upkeep;
mod watch;

mod builder;
mod cache;
mod config;
pub(crate) mod global;
#[cfg(test)]
mod lease_tests;
mod named;
pub(crate) mod path;
mod resilience;
#[cfg(test)]
mod test_support;

pub use attempt::AUDIT_TARGET;
pub use builder::SecretsManagerBuilder;
pub use config::{Config, ProviderEntry, ProviderKind};
pub use fallback::Listing;
pub use manager::{ProviderHealth, SecretsManager};
pub use resilience::{BreakerState, ProviderStats, Stats};
pub use snapshot::{CachedSecret, Snapshot, SnapshotValue};

// For `global.rs` and `builder.rs`.
pub(crate) use hit::GetSecret;
pub(crate) use manager::Settings;
