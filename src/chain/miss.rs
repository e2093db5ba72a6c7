//! The miss path: what happens when the cache has no fresh entry.
//!
//! - **single-flight**: concurrent readers of one key share one fetch
//!   through the chain (the [fallback order](super::fallback));
//! - **stale-on-error**: when a cached value has expired and its provider
//!   is unavailable, the value is served for up to `max_stale` past expiry;
//! - **negative caching**: "not found" from every provider is remembered
//!   for the negative TTL.
//!
//! A fetched value is stored with a jittered TTL and, when refresh-ahead is
//! on, the time from which a read starts a [background refresh](super::refresh).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::OnceCell;

use super::SecretsManager;
use super::cache::{Cached, Entry, key_for};
use super::lease;
use super::path::{Resolved, SecretPath};
use crate::error::{Error, ErrorKind};
use crate::providers::{SecretMetadata, Version};

/// One key's shared fetch: the first reader runs it, the others await its
/// result.
pub(super) type Flight = Arc<OnceCell<Result<Arc<Entry>, Error>>>;

impl SecretsManager {
    /// The entry for `path` at `version`: from the cache when fresh (unless
    /// `force`), otherwise through one shared fetch per key.
    pub(super) async fn entry(
        &self,
        path: &str,
        version: &Version,
        force: bool,
    ) -> Result<Arc<Entry>, Error> {
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
            .get_or_init(|| self.fetch_and_store(&key, &parsed, path, version, force))
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

    pub(super) fn fresh(&self, key: &str) -> Option<Arc<Entry>> {
        let now = self.inner.clock.now();
        self.inner.cache.get(key).filter(|e| now < e.expires_at)
    }

    async fn fetch_and_store(
        &self,
        key: &str,
        parsed: &SecretPath<'_>,
        path: &str,
        version: &Version,
        force: bool,
    ) -> Result<Arc<Entry>, Error> {
        let previous = self.inner.cache.get(key);
        let current = *version == Version::Current;
        // Another field of a held lease: cut from its value, so that every
        // field of one secret comes from one lease (no backend call).
        let held = self
            .servable_lease(parsed.name)
            .filter(|_| current && !force);
        let fetched = match &held {
            Some(held) => self.cut_from_held(held, parsed, path),
            None => self.fetch_chain(parsed, path, version, force).await,
        };
        let fresh = fetched.is_ok() && current;
        let leased = fetched.as_ref().is_ok_and(|(_, _, m)| m.lease().is_some());
        let (store, answer) = self.settle(path, version, previous, fetched);
        if let Some(entry) = store {
            self.inner.cache.insert(key, entry);
        }
        if fresh && let Ok(entry) = &answer {
            self.notify_watchers(key, entry);
        }
        if fresh && leased && held.is_none() {
            self.recut_siblings(path);
        }
        answer
    }

    /// What a fetch through the chain leaves in the cache and answers: a
    /// value is stored with a jittered TTL (unless the TTL is zero); a
    /// failure serves the `previous` value when stale-on-error allows, and
    /// is remembered for the negative TTL when every provider said "not
    /// found". The caller stores the entry (one key, or a whole prefetch at
    /// once).
    pub(super) fn settle(
        &self,
        path: &str,
        version: &Version,
        previous: Option<Arc<Entry>>,
        fetched: Result<(usize, Resolved, SecretMetadata), Error>,
    ) -> (Option<Arc<Entry>>, Result<Arc<Entry>, Error>) {
        let s = &self.inner.settings;
        match fetched {
            Ok((provider, value, metadata)) => {
                let now = self.inner.clock.now();
                let ttl = jittered(s.ttl, s.ttl_jitter);
                let refresh_at = if s.refresh_ahead && *version == Version::Current {
                    now + ttl.mul_f64(0.75 + 0.15 * rand::random::<f64>())
                } else {
                    now + ttl
                };
                let (fetched_at, refresh_at, expires_at) = match metadata.lease() {
                    None => (now, refresh_at, now + ttl),
                    // A held lease: its entries follow the lease, and the
                    // upkeep, not a read, refreshes them.
                    Some(lease) => match self.lease_times(path, lease) {
                        Some((fetched_at, until)) => (fetched_at, until, until),
                        // Not held (another version, after shutdown):
                        // never served past the lease.
                        None => {
                            let until = (now + ttl)
                                .min(lease::serve_until(now + lease.duration(), lease.duration()));
                            (now, refresh_at.min(until), until)
                        }
                    },
                };
                let entry = Arc::new(Entry::new(
                    Cached::Value(value),
                    Some(Arc::new(metadata)),
                    provider,
                    fetched_at,
                    refresh_at,
                    expires_at,
                ));
                let store = (!s.ttl.is_zero()).then(|| entry.clone());
                (store, Ok(entry))
            }
            Err(e) => {
                // A leased value is never served past its lease.
                let stale = previous
                    .filter(|p| matches!(p.value, Cached::Value(_)))
                    .filter(|p| p.metadata.as_ref().is_none_or(|m| m.lease().is_none()))
                    .and_then(|prev| self.serve_stale(&prev, &e, path));
                if let Some(stale) = stale {
                    return (None, Ok(stale));
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
                        None,
                        usize::MAX,
                        now,
                        until,
                        until,
                    ));
                    return (Some(entry), Err(e));
                }
                (None, Err(e))
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
}

pub(super) fn missing_to_err(e: Arc<Entry>) -> Result<Arc<Entry>, Error> {
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use secrecy::ExposeSecret;

    use crate::chain::SecretsManager;
    use crate::chain::test_support::{Scripted, Switch, env, rt};
    use crate::clock::Clock;
    use crate::error::ErrorKind;
    use crate::providers::SecretValue;

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
}
