//! The TTL cache: an immutable map swapped atomically on write.
//!
//! Reads load the current map through `arc-swap` (no lock, no shared
//! reference count touched) and look the key up; writes copy the map,
//! change the copy and swap it in under a writers' mutex. Secrets are few
//! and fetched rarely, so copy-on-write costs little and keeps the hit path
//! free of any lock.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use arc_swap::ArcSwap;
use parking_lot::Mutex;

use crate::chain::clock::Instant;
use crate::chain::path::Resolved;
use crate::error::Error;
use crate::providers::Version;

/// What a cache entry holds: a value, or a remembered "not found".
pub(crate) enum Cached {
    Value(Resolved),
    Missing(Error),
}

/// One cached value.
pub(crate) struct Entry {
    pub(crate) value: Cached,
    /// Index of the provider that answered (`usize::MAX` for a miss).
    pub(crate) provider: usize,
    pub(crate) fetched_at: Instant,
    /// From here on, a read starts a background refresh.
    pub(crate) refresh_at: Instant,
    pub(crate) expires_at: Instant,
    /// Set once a background refresh of this entry has started.
    pub(crate) refreshing: AtomicBool,
}

impl Entry {
    pub(crate) fn new(
        value: Cached,
        provider: usize,
        fetched_at: Instant,
        refresh_at: Instant,
        expires_at: Instant,
    ) -> Entry {
        Entry {
            value,
            provider,
            fetched_at,
            refresh_at,
            expires_at,
            refreshing: AtomicBool::new(false),
        }
    }
}

type Map = HashMap<Box<str>, Arc<Entry>, foldhash::fast::RandomState>;

pub(crate) struct Cache {
    map: ArcSwap<Map>,
    writers: Mutex<()>,
}

/// The cache key of a path at a version: the path itself for the current
/// version (no allocation on the hit path), `path\0tag` otherwise. Paths
/// never contain NUL (the parser refuses it).
pub(crate) fn key_for<'a>(path: &'a str, version: &Version) -> Cow<'a, str> {
    match version {
        Version::Current => Cow::Borrowed(path),
        Version::Stage(s) => Cow::Owned(format!("{path}\0stage:{s}")),
        Version::Id(id) => Cow::Owned(format!("{path}\0id:{id}")),
    }
}

impl Cache {
    pub(crate) fn new() -> Cache {
        Cache {
            map: ArcSwap::from_pointee(Map::default()),
            writers: Mutex::new(()),
        }
    }

    /// Runs `f` on the entry for `key`, if any, without cloning the entry.
    #[inline]
    pub(crate) fn with<R>(&self, key: &str, f: impl FnOnce(&Entry) -> R) -> Option<R> {
        let map = self.map.load();
        map.get(key).map(|e| f(e))
    }

    /// The entry for `key`, shared.
    pub(crate) fn get(&self, key: &str) -> Option<Arc<Entry>> {
        self.map.load().get(key).cloned()
    }

    pub(crate) fn insert(&self, key: &str, entry: Arc<Entry>) {
        let _w = self.writers.lock();
        let mut next: Map = (**self.map.load()).clone();
        next.insert(key.into(), entry);
        self.map.store(Arc::new(next));
    }

    pub(crate) fn remove(&self, key: &str) {
        let _w = self.writers.lock();
        if !self.map.load().contains_key(key) {
            return;
        }
        let mut next: Map = (**self.map.load()).clone();
        next.remove(key);
        self.map.store(Arc::new(next));
    }

    pub(crate) fn clear(&self) {
        let _w = self.writers.lock();
        self.map.store(Arc::new(Map::default()));
    }

    pub(crate) fn len(&self) -> usize {
        self.map.load().len()
    }
}
