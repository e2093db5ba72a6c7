//! Leased secrets: values a backend issued for a limited time (Vault
//! database credentials), held by the manager until their lease ends.
//!
//! A fetched value whose metadata carries a [`Lease`] is *held*, by secret
//! name (`database/creds/app`, without `#field`), with its raw document:
//!
//! - its cache entries (`database/creds/app`, `...#username`,
//!   `...#password`) follow the lease, not the TTL: they are served until
//!   shortly before the lease ends ([`serve_until`]) and never stale, and
//!   a read never starts a refresh (the upkeep does, off the hot path);
//! - every `#field` of one name comes from the same lease: a field read
//!   later is cut from the held document without a backend call, and a
//!   fetch that finds a held lease it did not ask to replace adopts it
//!   (and revokes the one it got), so concurrent first reads of
//!   `#username` and `#password` cannot pair two credentials;
//! - a forced fetch (upkeep, [`credential_rejected`], `refresh_key` then a
//!   read) replaces the held lease: the cache entries of every field are
//!   cut from the new document, watchers are told, and the old lease is
//!   left to expire (connection pools drain on their own) or revoked by
//!   [`shutdown`];
//! - the upkeep task (`upkeep.rs`) renews it at about two thirds and
//!   replaces it when it cannot be renewed far enough.
//!
//! [`credential_rejected`]: SecretsManager::credential_rejected
//! [`shutdown`]: SecretsManager::shutdown

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;

use super::SecretsManager;
use super::attempt::AUDIT_TARGET;
use super::cache::{Cached, Entry};
use super::path::{Resolved, SecretPath};
use crate::clock::Instant;
use crate::error::{Error, ErrorKind};
use crate::providers::{BoxFuture, Lease, SecretData, SecretMetadata};

/// The leases a manager holds, and the ones it replaced that have not
/// ended yet (revoked at shutdown).
#[derive(Default)]
pub(super) struct Leases {
    held: Mutex<HashMap<Box<str>, Arc<Held>>>,
    retired: Mutex<Vec<Retired>>,
    /// Set by [`SecretsManager::shutdown`]: nothing is held any more.
    closed: AtomicBool,
    /// Wakes the upkeep tasks at shutdown.
    pub(super) stop: Notify,
}

/// One held lease and the value it came with.
pub(super) struct Held {
    pub(super) name: Box<str>,
    pub(super) provider: usize,
    data: SecretData,
    pub(super) fetched_at: Instant,
    /// What a renewal asks for: the lease's first duration.
    pub(super) increment: Duration,
    state: Mutex<LeaseState>,
    /// The cache keys cut from this value (`name`, `name#field`).
    keys: Mutex<Vec<Box<str>>>,
}

/// A held lease as it stands after its last renewal.
#[derive(Clone)]
pub(super) struct LeaseState {
    pub(super) lease: Lease,
    /// When the lease was last granted (issued or renewed).
    pub(super) granted_at: Instant,
    pub(super) ends_at: Instant,
    pub(super) metadata: Arc<SecretMetadata>,
}

impl LeaseState {
    /// When the upkeep renews (or replaces) it: about two thirds of the
    /// granted duration, jittered so that a fleet does not renew in step.
    pub(super) fn renew_at(&self) -> Instant {
        let share = 0.62 + 0.08 * rand::random::<f64>();
        self.granted_at + self.lease.duration().mul_f64(share)
    }
}

struct Retired {
    provider: usize,
    lease: Lease,
    ends_at: Instant,
}

/// The margin before a lease ends in which its value is no longer handed
/// out: a tenth of its duration, between 100 ms and 5 s, so that a caller
/// never gets a credential that dies before it is used.
pub(super) fn margin(duration: Duration) -> Duration {
    (duration / 10).clamp(Duration::from_millis(100), Duration::from_secs(5))
}

/// The last instant a value of a lease granted for `duration` until
/// `ends_at` is served.
pub(super) fn serve_until(ends_at: Instant, duration: Duration) -> Instant {
    ends_at - margin(duration)
}

impl Leases {
    pub(super) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

impl Held {
    pub(super) fn state(&self) -> LeaseState {
        self.state.lock().clone()
    }

    pub(super) fn serve_until(&self) -> Instant {
        let s = self.state.lock();
        serve_until(s.ends_at, s.lease.duration())
    }

    pub(super) fn keys(&self) -> Vec<Box<str>> {
        self.keys.lock().clone()
    }

    fn add_key(&self, key: &str) {
        let mut keys = self.keys.lock();
        if !keys.iter().any(|k| &**k == key) {
            keys.push(key.into());
        }
    }
}

impl SecretsManager {
    /// Whether fetched values with leases are held: not with a zero TTL
    /// (no cache: each read gets its own lease and leaves it to Vault) and
    /// not after shutdown.
    fn holds_leases(&self) -> bool {
        !self.inner.settings.ttl.is_zero() && !self.inner.leases.closed.load(Ordering::Acquire)
    }

    /// The held lease of secret `name` while its value may be served.
    pub(super) fn servable_lease(&self, name: &str) -> Option<Arc<Held>> {
        let held = self.inner.leases.held.lock().get(name).cloned()?;
        (self.inner.clock.now() < held.serve_until()).then_some(held)
    }

    /// Whether `held` is still the lease held for its name.
    pub(super) fn is_held(&self, held: &Arc<Held>) -> bool {
        self.inner
            .leases
            .held
            .lock()
            .get(&*held.name)
            .is_some_and(|h| Arc::ptr_eq(h, held))
    }

    /// A value provider `i` answered for secret `name` with a lease: held,
    /// and its upkeep started. A fetch that was not asked to replace
    /// (`force` false) and finds a lease held meanwhile adopts that one,
    /// revoking its own. Answers the value to hand out and its metadata.
    pub(super) fn hold(
        &self,
        i: usize,
        name: &str,
        data: SecretData,
        metadata: SecretMetadata,
        force: bool,
    ) -> (SecretData, SecretMetadata) {
        let Some(lease) = metadata.lease().cloned() else {
            return (data, metadata);
        };
        if !self.holds_leases() || lease.duration().is_zero() {
            return (data, metadata);
        }
        let now = self.inner.clock.now();
        let replaced = {
            let mut held = self.inner.leases.held.lock();
            if let Some(current) = held.get(name).filter(|_| !force)
                && now < current.serve_until()
            {
                let current = current.clone();
                drop(held);
                self.revoke_in_background(i, lease, "adopted");
                let state = current.state();
                return (duplicate(&current.data), (*state.metadata).clone());
            }
            let fresh = Arc::new(Held {
                name: name.into(),
                provider: i,
                data: duplicate(&data),
                fetched_at: now,
                increment: lease.duration(),
                state: Mutex::new(LeaseState {
                    lease: lease.clone(),
                    granted_at: now,
                    ends_at: now + lease.duration(),
                    metadata: Arc::new(metadata.clone()),
                }),
                keys: Mutex::new(Vec::new()),
            });
            let old = held.insert(name.into(), fresh.clone());
            if let Some(old) = &old {
                for key in old.keys() {
                    fresh.add_key(&key);
                }
            }
            self.spawn_upkeep(fresh);
            old
        };
        if let Some(old) = replaced {
            let state = old.state();
            self.inner
                .counters
                .lease_replacements
                .fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                target: AUDIT_TARGET,
                path = name,
                provider = self.inner.providers[i].name(),
                lease = %state.lease.short_id(),
                new_lease = %lease.short_id(),
                lease_left_ms = state.ends_at.saturating_duration_since(now).as_millis() as u64,
                "lease replaced"
            );
            let mut retired = self.inner.leases.retired.lock();
            retired.retain(|r| r.ends_at > now);
            retired.push(Retired {
                provider: old.provider,
                lease: state.lease,
                ends_at: state.ends_at,
            });
        } else {
            tracing::info!(
                target: AUDIT_TARGET,
                path = name,
                provider = self.inner.providers[i].name(),
                lease = %lease.short_id(),
                lease_secs = lease.duration().as_secs(),
                renewable = lease.renewable(),
                "lease held"
            );
        }
        (data, metadata)
    }

    /// Cuts the value of `path` from the held lease, as a fetch would have
    /// answered it (no backend call).
    pub(super) fn cut_from_held(
        &self,
        held: &Held,
        parsed: &SecretPath<'_>,
        path: &str,
    ) -> Result<(usize, Resolved, SecretMetadata), Error> {
        let state = held.state();
        self.resolve_answer(
            held.provider,
            duplicate(&held.data),
            (*state.metadata).clone(),
            parsed,
            path,
        )
    }

    /// The times of a cache entry for `key` of a leased value: fetched at,
    /// and served until (also the refresh time: a read never refreshes a
    /// leased value, the upkeep does). The key is remembered with the
    /// held lease, so that renewals and replacements reach it. `None` when
    /// the lease is not held (zero TTL, after shutdown, another version).
    pub(super) fn lease_times(&self, key: &str, lease: &Lease) -> Option<(Instant, Instant)> {
        let name = SecretPath::parse(key).ok()?.name;
        let held = self.inner.leases.held.lock().get(name).cloned()?;
        let state = held.state();
        if state.lease.id() != lease.id() {
            return None;
        }
        held.add_key(key);
        Some((
            held.fetched_at,
            serve_until(state.ends_at, state.lease.duration()),
        ))
    }

    /// After a fetch replaced the lease of `path`'s secret: the other keys
    /// cut from the old value are cut from the new one, stored, and their
    /// watchers told.
    pub(super) fn recut_siblings(&self, path: &str) {
        let Ok(parsed) = SecretPath::parse(path) else {
            return;
        };
        let Some(held) = self.servable_lease(parsed.name) else {
            return;
        };
        let mut store = Vec::new();
        for key in held.keys() {
            if &*key == path {
                continue;
            }
            let Ok(sibling) = SecretPath::parse(&key) else {
                continue;
            };
            let previous = self.inner.cache.get(&key);
            if previous
                .as_ref()
                .and_then(|e| e.metadata.as_ref()?.lease().map(|l| l.id().to_owned()))
                .as_deref()
                == Some(held.state().lease.id())
            {
                continue; // cut from this lease already
            }
            let answer = self.cut_from_held(&held, &sibling, &key);
            let (entry, result) =
                self.settle(&key, &crate::providers::Version::Current, previous, answer);
            if let Ok(e) = &result {
                self.notify_watchers(&key, e);
            }
            store.extend(entry.map(|e| (key.to_string(), e)));
        }
        self.inner.cache.insert_many(store);
    }

    /// After a renewal: the cache entries of `held` served until the new
    /// end, with the renewed lease in their metadata.
    pub(super) fn extend_entries(&self, held: &Held) {
        let state = held.state();
        let until = serve_until(state.ends_at, state.lease.duration());
        let mut store = Vec::new();
        for key in held.keys() {
            let Some(e) = self.inner.cache.get(&key) else {
                continue;
            };
            let Cached::Value(value) = &e.value else {
                continue;
            };
            let metadata = e.metadata.as_ref().map(|m| {
                let provider = m.provider().unwrap_or_default().to_owned();
                Arc::new((*state.metadata).clone().with_provider(provider))
            });
            store.push((
                key.to_string(),
                Arc::new(Entry::new(
                    Cached::Value(value.clone()),
                    metadata,
                    e.provider,
                    e.fetched_at,
                    until,
                    until,
                )),
            ));
        }
        self.inner.cache.insert_many(store);
    }

    /// Records a renewal the backend granted.
    pub(super) fn renewed(&self, held: &Held, granted: Lease) {
        let now = self.inner.clock.now();
        let mut state = held.state.lock();
        let metadata = (*state.metadata).clone().with_lease(granted.clone());
        *state = LeaseState {
            ends_at: now + granted.duration(),
            granted_at: now,
            lease: granted,
            metadata: Arc::new(metadata),
        };
    }

    /// Lets go of `held` (its lease ended, or a fetch brought a value
    /// without a lease): it is no longer renewed or replaced.
    pub(super) fn release(&self, held: &Arc<Held>) {
        let mut map = self.inner.leases.held.lock();
        if map.get(&*held.name).is_some_and(|h| Arc::ptr_eq(h, held)) {
            map.remove(&*held.name);
        }
    }

    /// Stops holding the lease of secret `name` (every one with `None`):
    /// the next read fetches new credentials; the old lease is left to
    /// expire (and revoked at shutdown).
    pub(super) fn let_go_of_leases(&self, name: Option<&str>) {
        let now = self.inner.clock.now();
        let gone: Vec<Arc<Held>> = {
            let mut held = self.inner.leases.held.lock();
            match name {
                Some(n) => held.remove(n).into_iter().collect(),
                None => held.drain().map(|(_, h)| h).collect(),
            }
        };
        if gone.is_empty() {
            return;
        }
        let mut retired = self.inner.leases.retired.lock();
        retired.retain(|r| r.ends_at > now);
        for h in gone {
            for key in h.keys() {
                self.inner.cache.remove(&key);
            }
            let state = h.state();
            retired.push(Retired {
                provider: h.provider,
                lease: state.lease,
                ends_at: state.ends_at,
            });
        }
    }

    /// The number of leases held now.
    pub(super) fn leases_held(&self) -> usize {
        self.inner.leases.held.lock().len()
    }

    fn revoke_in_background(&self, i: usize, lease: Lease, why: &'static str) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let manager = self.clone();
        handle.spawn(async move {
            let _ = manager.revoke(i, &lease, why).await;
        });
    }

    /// Revokes one lease, with its audit event.
    async fn revoke(&self, i: usize, lease: &Lease, why: &'static str) -> Result<(), Error> {
        let provider = self.inner.providers[i].name();
        match self.inner.providers[i].provider().revoke_lease(lease).await {
            Ok(()) => {
                self.inner
                    .counters
                    .leases_revoked
                    .fetch_add(1, Ordering::Relaxed);
                tracing::info!(target: AUDIT_TARGET, provider, lease = %lease.short_id(), why, "lease revoked");
                Ok(())
            }
            Err(e) => {
                tracing::warn!(target: AUDIT_TARGET, provider, lease = %lease.short_id(), why, error = %e, "lease revocation failed");
                Err(e)
            }
        }
    }

    /// The body of [`shutdown`](Self::shutdown).
    pub(super) async fn close_leases(&self) -> Result<(), Error> {
        let leases = &self.inner.leases;
        leases.closed.store(true, Ordering::Release);
        leases.stop.notify_waiters();
        let now = self.inner.clock.now();
        let held: Vec<Arc<Held>> = leases.held.lock().drain().map(|(_, h)| h).collect();
        let mut to_revoke: Vec<(usize, Lease)> = Vec::new();
        for h in &held {
            for key in h.keys() {
                self.inner.cache.remove(&key);
            }
            let state = h.state();
            if now < state.ends_at {
                to_revoke.push((h.provider, state.lease));
            }
        }
        to_revoke.extend(
            leases
                .retired
                .lock()
                .drain(..)
                .filter(|r| now < r.ends_at)
                .map(|r| (r.provider, r.lease)),
        );
        let revocations: Vec<BoxFuture<'_, Result<(), Error>>> = to_revoke
            .iter()
            .map(|(i, lease)| Box::pin(self.revoke(*i, lease, "shutdown")) as BoxFuture<'_, _>)
            .collect();
        let results = crate::providers::batch::join_bounded(revocations, 8).await;
        let failed: Vec<Error> = results.into_iter().filter_map(Result::err).collect();
        match failed.first() {
            None => Ok(()),
            Some(first) => Err(Error::new(
                first.kind(),
                format!(
                    "shutdown: {} of {} leases could not be revoked (they end on their own); first: {first}",
                    failed.len(),
                    to_revoke.len()
                ),
            )),
        }
    }
}

/// A copy of a value (secrets are not `Clone`, on purpose).
pub(super) fn duplicate(data: &SecretData) -> SecretData {
    use secrecy::{ExposeSecret, SecretSlice, SecretString};
    match data {
        SecretData::Text(s) => SecretData::Text(SecretString::from(s.expose_secret())),
        SecretData::Document(s) => SecretData::Document(SecretString::from(s.expose_secret())),
        SecretData::Binary(b) => SecretData::Binary(SecretSlice::from(b.expose_secret().to_vec())),
        SecretData::File(b) => SecretData::File(SecretSlice::from(b.expose_secret().to_vec())),
    }
}

/// Whether an error from a lease call means the backend refused (the
/// lease is gone or cannot be renewed), rather than could not answer.
pub(super) fn refused(e: &Error) -> bool {
    e.kind() != ErrorKind::Unavailable
}
