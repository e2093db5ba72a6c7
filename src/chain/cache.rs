//! The TTL cache: an immutable map swapped atomically on write.
//!
//! Writes copy the map, change the copy, swap it in (`arc-swap`) under a
//! writers' mutex and bump a generation counter. Secrets are few and fetched
//! rarely, so copy-on-write costs little and keeps the hit path free of any
//! lock.
//!
//! Reads keep, per thread, the map they last loaded with its generation:
//! while the generation has not moved (one shared, read-mostly atomic load),
//! the hit path touches nothing shared and writes nothing, so threads
//! reading together scale. A changed generation reloads the map through
//! `arc-swap`. A thread holds at most [`LOCAL_SLOTS`] maps (of the caches it
//! read last); an idle thread may keep an old map, and the values in it,
//! alive until it reads again or exits.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::thread::ThreadId;

use crossbeam_utils::CachePadded;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use arc_swap::ArcSwap;
use parking_lot::Mutex;

use crate::chain::path::Resolved;
use crate::clock::Instant;
use crate::error::Error;
use crate::providers::{SecretMetadata, Version};

/// What a cache entry holds: a value, or a remembered "not found".
pub(crate) enum Cached {
    Value(Resolved),
    Missing(Error),
}

/// One cached value.
pub(crate) struct Entry {
    pub(crate) value: Cached,
    /// What the backend said about the value (`None` for a miss). Behind a
    /// pointer so that the entry the hit path reads stays small.
    pub(crate) metadata: Option<Arc<SecretMetadata>>,
    /// Index of the provider that answered (`usize::MAX` for a miss).
    pub(crate) provider: usize,
    pub(crate) fetched_at: Instant,
    /// From here on, a read starts a background refresh.
    pub(crate) refresh_at: Instant,
    pub(crate) expires_at: Instant,
    /// Set once a background refresh of this entry has started.
    pub(crate) refreshing: AtomicBool,
    /// Unique per entry made (per fetch): what tells a reader that holds a
    /// rendering of an entry (the agent's response body) that the cache
    /// has a new one.
    pub(crate) id: u64,
}

static NEXT_ENTRY_ID: AtomicU64 = AtomicU64::new(1);

impl Entry {
    pub(crate) fn new(
        value: Cached,
        metadata: Option<Arc<SecretMetadata>>,
        provider: usize,
        fetched_at: Instant,
        refresh_at: Instant,
        expires_at: Instant,
    ) -> Entry {
        Entry {
            value,
            metadata,
            provider,
            fetched_at,
            refresh_at,
            expires_at,
            refreshing: AtomicBool::new(false),
            id: NEXT_ENTRY_ID.fetch_add(1, Ordering::Relaxed),
        }
    }
}

type Map = HashMap<Box<str>, Arc<Entry>, foldhash::fast::RandomState>;

/// How many caches' maps one thread keeps.
pub(crate) const LOCAL_SLOTS: usize = 4;

static NEXT_CACHE_ID: AtomicU64 = AtomicU64::new(1);

struct LocalSlot {
    cache: u64,
    generation: u64,
    map: Arc<Map>,
    hits: Arc<HitCells>,
}

/// Hit counters with one writer each: the thread that owns them bumps them
/// with a plain load and store (no locked instruction); `stats()` sums all.
#[derive(Default)]
pub(crate) struct HitCells {
    hits: CachePadded<AtomicU64>,
    negative: CachePadded<AtomicU64>,
}

/// What the hit path counts with: this thread's own cells, or (when the
/// thread-local copy cannot be used) the shared ones, bumped atomically.
pub(crate) struct Hits<'a> {
    cells: &'a HitCells,
    exclusive: bool,
}

impl Hits<'_> {
    #[inline]
    fn bump(&self, cell: &AtomicU64) {
        if self.exclusive {
            cell.store(
                cell.load(Ordering::Relaxed).wrapping_add(1),
                Ordering::Relaxed,
            );
        } else {
            cell.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a hit with a value.
    #[inline]
    pub(crate) fn hit(&self) {
        self.bump(&self.cells.hits);
    }

    /// Counts a hit with a remembered miss.
    #[inline]
    pub(crate) fn negative(&self) {
        self.bump(&self.cells.negative);
    }
}

thread_local! {
    static LOCAL: RefCell<Vec<LocalSlot>> = const { RefCell::new(Vec::new()) };
}

pub(crate) struct Cache {
    id: u64,
    /// At most this many entries (`None`: unbounded). A new key evicts the
    /// entry fetched longest ago, at insert time: the hit path keeps no
    /// bookkeeping.
    capacity: Option<usize>,
    generation: AtomicU64,
    map: ArcSwap<Map>,
    writers: Mutex<()>,
    /// Each reading thread's hit cells (one per thread, reused when its
    /// slot is evicted and made again).
    hit_cells: Mutex<Vec<(ThreadId, Arc<HitCells>)>>,
    /// Hits counted without a thread-local slot.
    shared_hits: HitCells,
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
    #[cfg(test)]
    pub(crate) fn new() -> Cache {
        Cache::bounded(None)
    }

    /// A cache of at most `capacity` entries (at least one).
    pub(crate) fn bounded(capacity: Option<usize>) -> Cache {
        Cache {
            id: NEXT_CACHE_ID.fetch_add(1, Ordering::Relaxed),
            capacity: capacity.map(|c| c.max(1)),
            generation: AtomicU64::new(0),
            map: ArcSwap::from_pointee(Map::default()),
            writers: Mutex::new(()),
            hit_cells: Mutex::new(Vec::new()),
            shared_hits: HitCells::default(),
        }
    }

    /// Total hits and negative hits counted so far, over all threads.
    pub(crate) fn hit_totals(&self) -> (u64, u64) {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let cells = self.hit_cells.lock();
        let mut totals = (get(&self.shared_hits.hits), get(&self.shared_hits.negative));
        for (_, c) in cells.iter() {
            totals.0 += get(&c.hits);
            totals.1 += get(&c.negative);
        }
        totals
    }

    fn cells_for_this_thread(&self) -> Arc<HitCells> {
        let me = std::thread::current().id();
        let mut cells = self.hit_cells.lock();
        if let Some((_, c)) = cells.iter().find(|(t, _)| *t == me) {
            return Arc::clone(c);
        }
        let c = Arc::new(HitCells::default());
        cells.push((me, Arc::clone(&c)));
        c
    }

    /// Runs `f` on the entry for `key`, if any, without cloning the entry;
    /// `f` counts what it answers with the [`Hits`] it is given.
    #[inline]
    pub(crate) fn with<R>(
        &self,
        key: &str,
        f: impl FnOnce(&Arc<Entry>, &Hits<'_>) -> R,
    ) -> Option<R> {
        let generation = self.generation.load(Ordering::Acquire);
        let mut f = Some(f);
        let local = LOCAL.try_with(|slots| {
            let mut slots = slots.try_borrow_mut().ok()?;
            let slot = self.local_slot(&mut slots, generation);
            let hits = Hits {
                cells: &slot.hits,
                exclusive: true,
            };
            let f = f.take().expect("called once");
            Some(slot.map.get(key).map(|e| f(e, &hits)))
        });
        match local {
            Ok(Some(found)) => found,
            // Thread-local storage torn down, or re-entered: read shared.
            _ => {
                let f = f.take().expect("not called yet");
                let hits = Hits {
                    cells: &self.shared_hits,
                    exclusive: false,
                };
                self.map.load().get(key).map(|e| f(e, &hits))
            }
        }
    }

    /// This thread's slot for this cache, its map reloaded when the
    /// generation moved.
    #[inline]
    fn local_slot<'s>(&self, slots: &'s mut Vec<LocalSlot>, generation: u64) -> &'s LocalSlot {
        let i = match slots.iter().position(|s| s.cache == self.id) {
            Some(i) => {
                if slots[i].generation != generation {
                    // Loaded after reading `generation`: at least that new.
                    slots[i].map = self.map.load_full();
                    slots[i].generation = generation;
                }
                i
            }
            None => {
                if slots.len() >= LOCAL_SLOTS {
                    slots.remove(0);
                }
                slots.push(LocalSlot {
                    cache: self.id,
                    generation,
                    map: self.map.load_full(),
                    hits: self.cells_for_this_thread(),
                });
                slots.len() - 1
            }
        };
        &slots[i]
    }

    /// The entry for `key`, shared.
    pub(crate) fn get(&self, key: &str) -> Option<Arc<Entry>> {
        self.map.load().get(key).cloned()
    }

    pub(crate) fn insert(&self, key: &str, entry: Arc<Entry>) {
        let _w = self.writers.lock();
        let mut next: Map = (**self.map.load()).clone();
        self.make_room(&mut next, key);
        next.insert(key.into(), entry);
        self.publish(next);
    }

    /// Inserts every entry with one copy of the map (a prefetch of
    /// hundreds of keys must not copy it hundreds of times).
    pub(crate) fn insert_many(&self, entries: Vec<(String, Arc<Entry>)>) {
        if entries.is_empty() {
            return;
        }
        let _w = self.writers.lock();
        let mut next: Map = (**self.map.load()).clone();
        for (key, entry) in entries {
            self.make_room(&mut next, &key);
            next.insert(key.into_boxed_str(), entry);
        }
        self.publish(next);
    }

    pub(crate) fn remove(&self, key: &str) {
        let _w = self.writers.lock();
        if !self.map.load().contains_key(key) {
            return;
        }
        let mut next: Map = (**self.map.load()).clone();
        next.remove(key);
        self.publish(next);
    }

    pub(crate) fn clear(&self) {
        let _w = self.writers.lock();
        self.publish(Map::default());
    }

    /// Evicts the entry fetched longest ago when `key` is new and the map
    /// is full. A linear scan: the map is copied on every write anyway.
    fn make_room(&self, map: &mut Map, key: &str) {
        let Some(capacity) = self.capacity else {
            return;
        };
        if map.contains_key(key) {
            return;
        }
        while map.len() >= capacity {
            let oldest = map
                .iter()
                .min_by_key(|(_, e)| e.fetched_at)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => map.remove(&k),
                None => break,
            };
        }
    }

    /// Every entry now, with its key (a copy of the map's pointers).
    pub(crate) fn entries(&self) -> Vec<(Box<str>, Arc<Entry>)> {
        self.map
            .load()
            .iter()
            .map(|(k, e)| (k.clone(), Arc::clone(e)))
            .collect()
    }

    /// Swaps in a new map, then moves the generation (writers' lock held).
    fn publish(&self, next: Map) {
        self.map.store(Arc::new(next));
        self.generation.fetch_add(1, Ordering::Release);
    }

    pub(crate) fn len(&self) -> usize {
        self.map.load().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::path::Resolved;
    use crate::clock::Clock;
    use secrecy::{ExposeSecret, SecretString};

    fn entry(v: &str) -> Arc<Entry> {
        let now = Clock::system().now();
        Arc::new(Entry::new(
            Cached::Value(Resolved::Text(SecretString::from(v))),
            None,
            0,
            now,
            now,
            now,
        ))
    }

    fn read(c: &Cache, key: &str) -> Option<String> {
        c.with(key, |e, _| match &e.value {
            Cached::Value(Resolved::Text(s)) => s.expose_secret().to_owned(),
            _ => panic!("text expected"),
        })
    }

    fn entry_fetched(v: &str, age_secs: u64) -> Arc<Entry> {
        let now = Clock::system().now() + std::time::Duration::from_secs(1000);
        let at = now - std::time::Duration::from_secs(age_secs);
        Arc::new(Entry::new(
            Cached::Value(Resolved::Text(SecretString::from(v))),
            None,
            0,
            at,
            now,
            now,
        ))
    }

    #[test]
    fn a_full_cache_evicts_the_entry_fetched_longest_ago() {
        let c = Cache::bounded(Some(2));
        c.insert("old", entry_fetched("v1", 30));
        c.insert("new", entry_fetched("v2", 10));
        // Replacing a key evicts nothing.
        c.insert("old", entry_fetched("v3", 5));
        assert_eq!(c.len(), 2);
        c.insert("newest", entry_fetched("v4", 0));
        assert_eq!(read(&c, "new"), None, "fetched 10 s ago, the oldest");
        assert_eq!(read(&c, "old").as_deref(), Some("v3"));
        assert_eq!(read(&c, "newest").as_deref(), Some("v4"));
        c.insert_many(vec![
            ("a".into(), entry_fetched("a", 5)),
            ("b".into(), entry_fetched("b", 4)),
        ]);
        assert_eq!(c.len(), 2);
        assert_eq!(read(&c, "a"), None);
        assert_eq!(read(&c, "b").as_deref(), Some("b"));
    }

    #[test]
    fn every_entry_gets_an_id_of_its_own() {
        assert_ne!(entry("x").id, entry("x").id);
    }

    #[test]
    fn a_write_is_seen_by_the_next_read_on_every_thread() {
        let c = Cache::new();
        assert_eq!(read(&c, "k"), None);
        c.insert("k", entry("v1"));
        assert_eq!(read(&c, "k").as_deref(), Some("v1"));
        std::thread::scope(|s| {
            s.spawn(|| assert_eq!(read(&c, "k").as_deref(), Some("v1")));
        });
        c.insert("k", entry("v2"));
        assert_eq!(read(&c, "k").as_deref(), Some("v2"));
        std::thread::scope(|s| {
            s.spawn(|| assert_eq!(read(&c, "k").as_deref(), Some("v2")));
        });
        c.remove("k");
        assert_eq!(read(&c, "k"), None);
        c.insert("k", entry("v3"));
        c.clear();
        assert_eq!(read(&c, "k"), None);
    }

    #[test]
    fn more_caches_than_thread_slots_stay_correct() {
        let caches: Vec<Cache> = (0..LOCAL_SLOTS * 3).map(|_| Cache::new()).collect();
        for (i, c) in caches.iter().enumerate() {
            c.insert("k", entry(&format!("value-{i}")));
        }
        for _ in 0..3 {
            for (i, c) in caches.iter().enumerate() {
                assert_eq!(read(c, "k"), Some(format!("value-{i}")));
            }
        }
        LOCAL.with(|l| assert!(l.borrow().len() <= LOCAL_SLOTS));
    }

    #[test]
    fn a_nested_read_falls_back_to_the_shared_map() {
        let c = Cache::new();
        c.insert("a", entry("outer"));
        c.insert("b", entry("inner"));
        let nested = c.with("a", |_, _| read(&c, "b")).flatten();
        assert_eq!(nested.as_deref(), Some("inner"));
    }
}

#[cfg(test)]
mod hit_tests {
    use super::*;

    #[test]
    fn hits_from_several_threads_add_up_exactly() {
        let c = Cache::new();
        let count = |c: &Cache| {
            c.with("k", |_, h| h.hit());
        };
        c.insert(
            "k",
            Arc::new(Entry::new(
                Cached::Missing(Error::not_found("x")),
                None,
                0,
                crate::clock::Clock::system().now(),
                crate::clock::Clock::system().now(),
                crate::clock::Clock::system().now(),
            )),
        );
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| (0..1000).for_each(|_| count(&c)));
            }
        });
        (0..10).for_each(|_| count(&c));
        assert_eq!(c.hit_totals(), (4010, 0));
    }
}
