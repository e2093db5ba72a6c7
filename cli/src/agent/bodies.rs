//! Pre-serialised answers: each secret's JSON is rendered once per fetch
//! and shared by every response until the cache holds a new fetch
//! ([`Snapshot::fetch_id`] changes). A hit reads one map without a lock
//! and clones a pointer: no allocation, no rendering.
//!
//! Bounded like the cache (`cache_size`): a new key evicts the rendering
//! made longest ago.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use secret_chain::Snapshot;

use super::body::Shared;
use super::render;

struct Rendered {
    fetch_id: u64,
    body: Shared,
    made: Instant,
    /// Responses served from this rendering (for the status listing).
    hits: AtomicU64,
}

type Map = HashMap<Box<str>, Arc<Rendered>, foldhash::fast::RandomState>;

pub(crate) struct Bodies {
    map: ArcSwap<Map>,
    writers: Mutex<()>,
    capacity: usize,
}

impl std::fmt::Debug for Bodies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bodies")
            .field("entries", &self.map.load().len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl Bodies {
    pub(crate) fn new(capacity: usize) -> Bodies {
        Bodies {
            map: ArcSwap::from_pointee(Map::default()),
            writers: Mutex::new(()),
            capacity: capacity.max(1),
        }
    }

    /// The answer for `key` (the secret id, with its version when one was
    /// asked for) at `snapshot`: the shared rendering when it is of the
    /// same fetch, a new one otherwise.
    #[inline]
    pub(crate) fn body(&self, key: &str, name: &str, snapshot: &Snapshot) -> Shared {
        if let Some(r) = self.map.load().get(key)
            && r.fetch_id == snapshot.fetch_id()
        {
            r.hits.fetch_add(1, Ordering::Relaxed);
            return Arc::clone(&r.body);
        }
        let body: Shared = Arc::new(render::secret_json(name, snapshot));
        self.insert(key, snapshot.fetch_id(), Arc::clone(&body));
        body
    }

    fn insert(&self, key: &str, fetch_id: u64, body: Shared) {
        let _w = self.writers.lock();
        let mut next: Map = (**self.map.load()).clone();
        if !next.contains_key(key) {
            while next.len() >= self.capacity {
                let oldest = next
                    .iter()
                    .min_by_key(|(_, r)| r.made)
                    .map(|(k, _)| k.clone());
                match oldest {
                    Some(k) => next.remove(&k),
                    None => break,
                };
            }
        }
        next.insert(
            key.into(),
            Arc::new(Rendered {
                fetch_id,
                body,
                made: Instant::now(),
                hits: AtomicU64::new(1),
            }),
        );
        self.map.store(Arc::new(next));
    }

    /// Responses served per key so far.
    pub(crate) fn hits(&self) -> HashMap<String, u64> {
        self.map
            .load()
            .iter()
            .map(|(k, r)| (k.to_string(), r.hits.load(Ordering::Relaxed)))
            .collect()
    }

    /// Drops every rendering (SIGHUP); each is zeroed once no response
    /// holds it.
    pub(crate) fn clear(&self) {
        let _w = self.writers.lock();
        self.map.store(Arc::new(Map::default()));
    }
}
