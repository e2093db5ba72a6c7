//! The hit path: a cached value is answered when `get_secret` is called,
//! without a lock or a backend call, and its future is ready at once. A
//! miss boxes the fetch (the [miss path](super::miss)) so that a hit never
//! builds its state.
//!
//! This path costs tens of nanoseconds (`benches/cache.rs`, group
//! `hit_path`): keep it `#[inline]` and free of indirection.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use secrecy::SecretString;

use super::SecretsManager;
use super::cache::Cached;
use super::path::Resolved;
use crate::error::Error;
use crate::providers::Version;

impl SecretsManager {
    /// The future behind [`get_secret`](Self::get_secret) and the global
    /// [`crate::get_secret`].
    #[inline]
    pub(crate) fn get_secret_future<'a>(&'a self, path: &'a str) -> GetSecret<'a> {
        match self.cached_text(path) {
            Some(hit) => GetSecret::Ready(Some(hit)),
            None => GetSecret::Miss(Box::pin(self.get_secret_version(path, &Version::Current))),
        }
    }

    /// The hit path: a lock-free map lookup, a clock read and a striped
    /// counter; a read in the refresh-ahead window also starts a background
    /// refresh (once per entry) without waiting for it.
    #[inline]
    pub(super) fn cached_text(&self, path: &str) -> Option<Result<SecretString, Error>> {
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use crate::chain::SecretsManager;
    use crate::chain::test_support::{Scripted, rt};
    use crate::clock::Clock;
    use crate::providers::SecretValue;

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
}
