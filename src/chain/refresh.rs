//! Fetching a key again while callers hold its value.
//!
//! - **refresh-ahead**: a key read in the last part of its TTL (a jittered
//!   fraction, set when the value is stored) is refreshed in the background,
//!   once per entry, while callers keep the cached value;
//! - **rejected credentials**: [`SecretsManager::credential_rejected`]
//!   refetches a key at once, bypassing the cache, at most once per
//!   rejection interval per key.

use std::sync::atomic::Ordering;

use secrecy::SecretString;

use super::SecretsManager;
use super::cache::Entry;
use crate::error::Error;
use crate::providers::Version;

impl SecretsManager {
    /// Starts one background refetch of `path` for entry `e`, read in its
    /// refresh-ahead window (called from the hit path, so kept out of it).
    #[cold]
    pub(super) fn refresh_ahead(&self, path: &str, e: &Entry) {
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

    /// The body of [`credential_rejected`](Self::credential_rejected): the
    /// per-key rejection interval, then a forced refetch.
    pub(super) async fn refetch_rejected(&self, path: &str) -> Result<SecretString, Error> {
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
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use secrecy::ExposeSecret;

    use crate::chain::SecretsManager;
    use crate::chain::test_support::{Switch, rt};
    use crate::clock::Clock;

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
}
