//! [`SecretsManager::watch`]: a receiver of a key's value that changes
//! when a fetch brings a different value.
//!
//! Every fetch that stores a fresh value of a watched key (a miss after
//! expiry or [`refresh_key`](SecretsManager::refresh_key), refresh-ahead,
//! [`credential_rejected`](SecretsManager::credential_rejected), a
//! prefetch) tells its watchers; and while a receiver lives, one task per
//! key fetches it again every (jittered) TTL, at least a second apart, even
//! when nobody reads it, so that a rotation reaches a service that reads
//! its credential once at start-up. A failed background fetch keeps the
//! last value, logs a warning (the path and the error, never a value) and
//! counts in [`Stats::watch_failures`](super::Stats::watch_failures). The
//! task ends when the last receiver is dropped.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::watch;

use super::SecretsManager;
use super::cache::Entry;
use crate::error::{Error, ErrorKind};
use crate::providers::Version;

/// The shortest time between two background fetches of a watched key
/// (with a TTL of zero, the cache keeps nothing to time them by).
pub(crate) const WATCH_MIN_INTERVAL: Duration = Duration::from_secs(1);

/// The watched keys and their senders.
#[derive(Default)]
pub(super) struct Watchers {
    senders: Mutex<HashMap<Box<str>, watch::Sender<SecretString>>>,
    /// How many keys are watched: the store path looks at the map only
    /// when some are.
    keys: AtomicUsize,
}

impl SecretsManager {
    /// The value of `path` now, in a receiver that changes whenever a
    /// fetch brings a different value (see the module docs of
    /// `chain/watch.rs`: fetches by reads, refresh-ahead,
    /// [`refresh_key`](Self::refresh_key) then a read,
    /// [`credential_rejected`](Self::credential_rejected), and a background
    /// fetch every TTL while a receiver lives). Receivers of one key share
    /// one background task.
    ///
    /// ```no_run
    /// # async fn pool(url: &str) {}
    /// # async fn run(manager: secret_chain::SecretsManager) -> Result<(), secret_chain::Error> {
    /// use secret_chain::ExposeSecret;
    /// let mut url = manager.watch("database/url").await?;
    /// pool(url.borrow().expose_secret()).await;
    /// while url.changed().await.is_ok() {
    ///     // Rotated: build a new pool; the old one drains on its own.
    ///     let new_url = url.borrow_and_update().expose_secret().to_owned();
    ///     pool(&new_url).await;
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`get_secret`](Self::get_secret) for the first value;
    /// [`ErrorKind::Config`] outside a Tokio runtime (the background fetch
    /// needs one).
    pub async fn watch(&self, path: &str) -> Result<watch::Receiver<SecretString>, Error> {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return Err(Error::new(
                ErrorKind::Config,
                format!("watch('{path}') needs a Tokio runtime for its background refresh"),
            ));
        };
        let value = self.get_secret(path).await?;
        let (receiver, sender) = {
            let mut senders = self.inner.watchers.senders.lock();
            match senders.get(path) {
                Some(tx) if !tx.is_closed() => return Ok(tx.subscribe()),
                _ => {
                    let (tx, rx) = watch::channel(value);
                    if senders.insert(path.into(), tx.clone()).is_none() {
                        self.inner.watchers.keys.fetch_add(1, Ordering::Release);
                    }
                    (rx, tx)
                }
            }
        };
        let manager = self.clone();
        let path = path.to_owned();
        handle.spawn(async move { manager.keep_watched(&path, sender).await });
        Ok(receiver)
    }

    /// The background task of a watched key: a fetch every interval until
    /// the last receiver is dropped, then the key is no longer watched.
    async fn keep_watched(&self, path: &str, sender: watch::Sender<SecretString>) {
        loop {
            let interval = self.watch_interval();
            tokio::select! {
                () = sender.closed() => break,
                () = tokio::time::sleep(interval) => {}
            }
            let before = self.inner.cache.get(path);
            // A held lease is kept up by its own upkeep, which tells the
            // watchers when it brings new credentials: fetching it here
            // would make a new credential every TTL. Read it through the
            // cache instead (a fetch only once the lease is gone).
            let leased = super::path::SecretPath::parse(path)
                .is_ok_and(|p| self.servable_lease(p.name).is_some());
            match self.entry(path, &Version::Current, !leased).await {
                // The same entry back from a forced fetch: its provider
                // was down and the cache served it stale.
                Ok(e) if !leased && before.as_ref().is_some_and(|b| Arc::ptr_eq(b, &e)) => {
                    self.watch_failed(path, "its provider is unavailable; the last value stays");
                }
                Ok(_) => {}
                Err(err) => self.watch_failed(path, &err.to_string()),
            }
        }
        let mut senders = self.inner.watchers.senders.lock();
        if senders.get(path).is_some_and(|tx| tx.same_channel(&sender)) {
            senders.remove(path);
            self.inner.watchers.keys.fetch_sub(1, Ordering::Release);
        }
    }

    fn watch_interval(&self) -> Duration {
        let s = &self.inner.settings;
        let jitter = s.ttl_jitter.clamp(0.0, 0.5);
        s.ttl
            .mul_f64(1.0 - jitter * rand::random::<f64>())
            .max(WATCH_MIN_INTERVAL)
    }

    fn watch_failed(&self, path: &str, why: &str) {
        self.inner
            .counters
            .watch_failures
            .fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            path,
            error = why,
            "background refresh of a watched secret failed; watchers keep the last value"
        );
    }

    /// After [`refresh_key`](Self::refresh_key): a watched key is fetched
    /// again now, in the background (without a runtime, at the next
    /// background fetch).
    pub(super) fn refetch_if_watched(&self, path: &str) {
        if self.inner.watchers.keys.load(Ordering::Acquire) == 0
            || !self.inner.watchers.senders.lock().contains_key(path)
        {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let manager = self.clone();
        let path = path.to_owned();
        handle.spawn(async move {
            if let Err(err) = manager.entry(&path, &Version::Current, true).await {
                manager.watch_failed(&path, &err.to_string());
            }
        });
    }

    /// Tells the watchers of `key` (if any) the value of a freshly fetched
    /// `entry`, when it differs from what they hold.
    pub(super) fn notify_watchers(&self, key: &str, entry: &Entry) {
        if self.inner.watchers.keys.load(Ordering::Acquire) == 0 {
            return;
        }
        let Some(sender) = self.inner.watchers.senders.lock().get(key).cloned() else {
            return;
        };
        let Ok(value) = self.entry_text(key, entry) else {
            return;
        };
        let changed = sender.send_if_modified(|held| {
            if held.expose_secret() == value.expose_secret() {
                return false;
            }
            *held = value;
            true
        });
        if changed {
            self.inner
                .counters
                .watch_changes
                .fetch_add(1, Ordering::Relaxed);
            tracing::info!(path = key, "a watched secret changed; watchers told");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use secrecy::ExposeSecret;

    use crate::chain::SecretsManager;
    use crate::chain::test_support::Switch;
    use crate::error::ErrorKind;

    fn paused_rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap()
    }

    fn manager(p: &Switch, ttl: Duration) -> SecretsManager {
        SecretsManager::builder()
            .provider(p.clone())
            .cache_ttl(ttl)
            .ttl_jitter(0.0)
            .build()
            .unwrap()
    }

    #[test]
    fn a_rotation_reaches_the_watcher_without_any_read() {
        let p = Switch::new("vault", "password-v1-aaaa");
        let m = manager(&p, Duration::from_secs(60));
        paused_rt().block_on(async {
            let mut rx = m.watch("db/password").await.unwrap();
            assert_eq!(rx.borrow().expose_secret(), "password-v1-aaaa");
            p.set(Ok("password-v2-bbbb"));
            // No read: the background fetch after one TTL brings it.
            tokio::time::timeout(Duration::from_secs(61), rx.changed())
                .await
                .expect("changed within a TTL")
                .unwrap();
            assert_eq!(rx.borrow_and_update().expose_secret(), "password-v2-bbbb");
            // The same value again is no change.
            tokio::time::sleep(Duration::from_secs(120)).await;
            assert!(!rx.has_changed().unwrap());
        });
        assert_eq!(m.stats().watch_changes, 1);
        assert!(p.calls() >= 3, "fetched in the background: {}", p.calls());
    }

    #[test]
    fn a_refetch_by_credential_rejected_is_seen_at_once() {
        let p = Switch::new("aws", "token-one-1111");
        let m = manager(&p, Duration::from_secs(3600));
        paused_rt().block_on(async {
            let mut rx = m.watch("api/token").await.unwrap();
            let mut second = m.watch("api/token").await.unwrap();
            p.set(Ok("token-two-2222"));
            m.credential_rejected("api/token").await.unwrap();
            assert!(rx.has_changed().unwrap());
            assert_eq!(rx.borrow_and_update().expose_secret(), "token-two-2222");
            assert_eq!(second.borrow_and_update().expose_secret(), "token-two-2222");
        });
    }

    #[test]
    fn refresh_key_fetches_a_watched_key_at_once() {
        let p = Switch::new("vault", "cert-old-5555");
        let m = manager(&p, Duration::from_secs(3600));
        paused_rt().block_on(async {
            let mut rx = m.watch("tls/cert").await.unwrap();
            p.set(Ok("cert-new-6666"));
            m.refresh_key("tls/cert");
            tokio::time::timeout(Duration::from_secs(1), rx.changed())
                .await
                .expect("changed at once, not after the TTL")
                .unwrap();
            assert_eq!(rx.borrow_and_update().expose_secret(), "cert-new-6666");
        });
    }

    #[test]
    fn a_failed_background_fetch_keeps_the_value_and_counts() {
        let p = Switch::new("vault", "kept-value-3333");
        let m = SecretsManager::builder()
            .provider(p.clone())
            .cache_ttl(Duration::from_secs(10))
            .ttl_jitter(0.0)
            .max_stale(Duration::ZERO)
            .build()
            .unwrap();
        paused_rt().block_on(async {
            let rx = m.watch("k").await.unwrap();
            p.set(Err(ErrorKind::Unavailable));
            tokio::time::sleep(Duration::from_secs(25)).await;
            assert_eq!(rx.borrow().expose_secret(), "kept-value-3333");
            assert!(!rx.has_changed().unwrap());
        });
        assert!(m.stats().watch_failures >= 2, "{:?}", m.stats());
    }

    #[test]
    fn the_task_ends_with_the_last_receiver() {
        let p = Switch::new("vault", "value-4444-abcd");
        let m = manager(&p, Duration::from_secs(5));
        paused_rt().block_on(async {
            let rx = m.watch("k").await.unwrap();
            tokio::time::sleep(Duration::from_secs(12)).await;
            drop(rx);
            tokio::time::sleep(Duration::from_secs(1)).await;
            let calls = p.calls();
            tokio::time::sleep(Duration::from_secs(60)).await;
            assert_eq!(p.calls(), calls, "no fetch once nobody watches");
            assert_eq!(m.inner.watchers.senders.lock().len(), 0);
            // Watching again starts a new task.
            let _rx = m.watch("k").await.unwrap();
            tokio::time::sleep(Duration::from_secs(6)).await;
            assert!(p.calls() > calls);
        });
    }

    #[test]
    fn watch_outside_a_runtime_is_refused_and_errors_name_the_path() {
        let p = Switch::new("vault", "v-5555-abcdef");
        let m = manager(&p, Duration::from_secs(5));
        let e = futures_lite_block_on(m.watch("k"));
        assert_eq!(e.unwrap_err().kind(), ErrorKind::Config);
        p.set(Err(ErrorKind::NotFound));
        let e = paused_rt().block_on(m.watch("missing/key")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
    }

    /// Polls a future to completion on this thread, outside any runtime.
    fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }
}
