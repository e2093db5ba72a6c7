//! The registry of secret values the manager has handed out, and the literal
//! matcher that finds them (and their encoded forms) in log text.
//!
//! # How matching stays off the logging path
//!
//! The matcher (leftmost-longest literal matching; see `Literals`: a
//! sampled 4-gram index for forms of 6 bytes or more, which stays faster
//! than an Aho-Corasick DFA with thousands of values and without its
//! memory, and a leftmost-longest Aho-Corasick automaton for shorter ones)
//! is held in an [`ArcSwap`]. A log call loads the current matcher without
//! a lock and never waits. [`KnownSecrets::register`] changes the value
//! set under a mutex that only registering threads take, builds a small
//! matcher for the values not yet in the big one and swaps it in before it
//! returns, so a value is masked from the moment `register` returns. A
//! background thread then folds everything into one big matcher and swaps
//! again; while it works, log calls search both. (Up to 64 values the big
//! matcher is simply rebuilt on the registering thread.)
//!
//! # Encoded forms
//!
//! As the GitHub Actions runner does (`ValueEncoders.cs`), every value is
//! also matched as: base64 (standard and URL-safe alphabets, at each of the
//! three byte alignments, so `base64("user:" + password)` is caught),
//! percent-encoded (every non-alphanumeric byte, the RFC 3986 component set,
//! form encoding, upper and lower case hex), JSON-escaped (as-is and
//! ASCII-only `\uXXXX`), Rust-`Debug`-escaped and XML-escaped.
//!
//! # Retention
//!
//! A value stays registered for the retention period after it was last
//! registered (default 3600 s, at least the stale window of the cache), so
//! an old value still in flight after a rotation stays masked.
//! [`KnownSecrets::register_for`] lets the manager add the time the value
//! stays live in its cache. Expired values are dropped when the matcher is
//! next rebuilt.
//!
//! # What is not protected
//!
//! The registry and the matcher hold values and their encoded forms in
//! zeroizing buffers; the index keeps 4-byte windows of each form as
//! plain integers, and the automaton for forms shorter than 6 bytes
//! stores them in its own tables; those are freed, not zeroized.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use arc_swap::ArcSwap;
use foldhash::HashMap as FastMap;
use parking_lot::Mutex;
use zeroize::Zeroizing;

/// Default minimum length (in characters) of a registered value.
pub const DEFAULT_MIN_LEN: usize = 6;

/// Default retention of a value after its last registration.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(3600);

/// Up to this many values the whole matcher is rebuilt synchronously;
/// above it, new values go to a small matcher and a background thread
/// merges.
const SYNC_REBUILD_MAX: usize = 64;

/// Values that must never appear in logs: every value the manager fetched,
/// its top-level JSON fields and their encoded forms.
///
/// Shared between a [`SecretsManager`](crate::SecretsManager) (which
/// registers) and any number of [`Redactor`](super::Redactor)s (which
/// match); see the module docs for the concurrency design.
///
/// # Example
///
/// ```
/// use secret_chain::masking::KnownSecrets;
///
/// let known = KnownSecrets::new();
/// known.register("hunter2-correct-horse");
/// let mut spans = Vec::new();
/// known.find("login with hunter2-correct-horse ok", &mut spans);
/// assert_eq!(spans, vec![11..32]);
/// ```
pub struct KnownSecrets {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    matcher: ArcSwap<Matcher>,
    merging: AtomicBool,
    /// Bumped after every new matcher is published.
    generation: AtomicU64,
}

/// Publishes `m`, then bumps the generation (so a reader that sees the new
/// generation also sees the new matcher).
fn set_matcher(shared: &Shared, m: Matcher) {
    shared.matcher.store(Arc::new(m));
    shared.generation.fetch_add(1, Ordering::AcqRel);
}

struct State {
    values: HashMap<Val, Entry>,
    min_len: usize,
    retention: Duration,
}

struct Entry {
    last: Instant,
    keep: Duration,
    in_base: bool,
}

/// A registered value, zeroized on drop, hashable as its text.
#[derive(PartialEq, Eq)]
struct Val(Zeroizing<String>);

impl Hash for Val {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.as_str().hash(state);
    }
}

impl Borrow<str> for Val {
    fn borrow(&self) -> &str {
        self.0.as_str()
    }
}

#[derive(Default)]
struct Matcher {
    base: Option<Arc<Literals>>,
    recent: Option<Literals>,
}

impl Default for KnownSecrets {
    fn default() -> Self {
        KnownSecrets::with_settings(DEFAULT_MIN_LEN, DEFAULT_RETENTION)
    }
}

impl KnownSecrets {
    /// An empty registry with the default minimum length (6 characters) and
    /// retention (3600 s).
    pub fn new() -> KnownSecrets {
        KnownSecrets::default()
    }

    /// An empty registry with a minimum value length (in characters; values
    /// shorter are not registered, so that `true` or `1` are not masked
    /// everywhere) and a retention period.
    pub fn with_settings(min_len: usize, retention: Duration) -> KnownSecrets {
        KnownSecrets {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    values: HashMap::new(),
                    min_len: min_len.max(1),
                    retention,
                }),
                matcher: ArcSwap::from_pointee(Matcher::default()),
                merging: AtomicBool::new(false),
                generation: AtomicU64::new(0),
            }),
        }
    }

    /// A registry configured from `settings`: `SECRETS_MASK_RETENTION`
    /// (seconds a value stays masked after it was last registered, default
    /// 3600) and `SECRETS_MASK_MIN_LENGTH` (characters, default 6).
    ///
    /// # Errors
    ///
    /// A [`Config`](crate::ErrorKind::Config) error naming the variable when
    /// a value is not a number (or the minimum length is 0).
    pub fn from_settings(
        settings: &crate::settings::Settings,
    ) -> Result<KnownSecrets, crate::Error> {
        let retention = settings.u64(
            "SECRETS_MASK_RETENTION",
            DEFAULT_RETENTION.as_secs(),
            "a whole number of seconds",
        )?;
        let min_len = settings.u64(
            "SECRETS_MASK_MIN_LENGTH",
            DEFAULT_MIN_LEN as u64,
            "a whole number of characters (at least 1)",
        )?;
        if min_len == 0 {
            return Err(crate::Error::config(
                "SECRETS_MASK_MIN_LENGTH must be a whole number of characters (at least 1), not '0'",
            ));
        }
        Ok(KnownSecrets::with_settings(
            usize::try_from(min_len).unwrap_or(usize::MAX),
            Duration::from_secs(retention),
        ))
    }

    /// Sets the retention: how long a value stays masked after it was last
    /// registered. Applies from the next rebuild.
    pub fn set_retention(&self, retention: Duration) {
        self.shared.state.lock().retention = retention;
    }

    /// The retention period.
    pub fn retention(&self) -> Duration {
        self.shared.state.lock().retention
    }

    /// Sets the minimum length (characters) of values registered from now on.
    pub fn set_min_len(&self, min_len: usize) {
        self.shared.state.lock().min_len = min_len.max(1);
    }

    /// The minimum length (characters) of a registered value.
    pub fn min_len(&self) -> usize {
        self.shared.state.lock().min_len
    }

    /// Registers a value (and, for a JSON object, its top-level string
    /// fields; for a value with surrounding whitespace, also its trimmed
    /// form). Values shorter than [`min_len`](Self::min_len) are skipped.
    /// The value is masked from the moment this returns.
    pub fn register(&self, value: &str) {
        self.register_for(value, Duration::ZERO);
    }

    /// Registers a value the manager keeps live for `live_for` (its cache
    /// TTL plus stale window): it stays masked for `live_for` plus the
    /// retention after this call.
    pub fn register_for(&self, value: &str, live_for: Duration) {
        let now = Instant::now();
        let mut st = self.shared.state.lock();
        let min_len = st.min_len;
        let keep = st.retention.saturating_add(live_for);
        let mut added = false;
        for_each_candidate(value, min_len, |c| {
            added |= insert(&mut st, c, now, keep);
        });
        if added {
            self.publish(&mut st);
        }
    }

    /// Registers several values with one rebuild.
    pub fn register_many<'a>(&self, values: impl IntoIterator<Item = &'a str>) {
        let now = Instant::now();
        let mut st = self.shared.state.lock();
        let min_len = st.min_len;
        let keep = st.retention;
        let mut added = false;
        for value in values {
            for_each_candidate(value, min_len, |c| {
                added |= insert(&mut st, c, now, keep);
            });
        }
        if added {
            self.publish(&mut st);
        }
    }

    /// Drops values whose retention has passed and rebuilds the matcher now.
    pub fn prune(&self) {
        let mut st = self.shared.state.lock();
        prune_expired(&mut st, Instant::now());
        let base = build(st.values.keys().map(|v| v.0.as_str()));
        for e in st.values.values_mut() {
            e.in_base = true;
        }
        set_matcher(
            &self.shared,
            Matcher {
                base: base.map(Arc::new),
                recent: None,
            },
        );
    }

    /// How many values are registered (not counting encoded forms).
    pub fn len(&self) -> usize {
        self.shared.state.lock().values.len()
    }

    /// Whether no value is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends the byte ranges of every registered value (or encoded form)
    /// found in `text`, leftmost-longest, sorted by start (ranges from the
    /// big and the recent matcher may overlap). Never blocks on a
    /// registration or a rebuild.
    pub fn find(&self, text: &str, out: &mut Vec<Range<usize>>) {
        if self.never_published() {
            return;
        }
        let m = self.shared.matcher.load();
        let before = out.len();
        if let Some(ac) = &m.base {
            ac.find(text.as_bytes(), out);
        }
        if let Some(ac) = &m.recent {
            ac.find(text.as_bytes(), out);
        }
        if out.len() - before > 1 {
            out[before..].sort_unstable_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
        }
    }

    /// A counter that changes whenever the matcher changes (a value was
    /// registered, merged or pruned): text masked while it had one value
    /// needs masking again once it has another, to catch values registered
    /// since.
    pub fn generation(&self) -> u64 {
        self.shared.generation.load(Ordering::Acquire)
    }

    /// Whether any registered value occurs in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        if self.never_published() {
            return false;
        }
        let m = self.shared.matcher.load();
        m.base
            .as_ref()
            .is_some_and(|ac| ac.is_match(text.as_bytes()))
            || m.recent
                .as_ref()
                .is_some_and(|ac| ac.is_match(text.as_bytes()))
    }

    /// Whether no matcher was ever published (nothing was ever
    /// registered): one atomic load instead of loading the matcher.
    #[inline]
    fn never_published(&self) -> bool {
        self.shared.generation.load(Ordering::Acquire) == 0
    }

    /// Publishes a matcher that covers every value: a full rebuild for a
    /// small set, otherwise a small matcher for the values not yet in the
    /// big one, and a background merge.
    fn publish(&self, st: &mut State) {
        if st.values.len() <= SYNC_REBUILD_MAX {
            prune_expired(st, Instant::now());
            let base = build(st.values.keys().map(|v| v.0.as_str()));
            for e in st.values.values_mut() {
                e.in_base = true;
            }
            set_matcher(
                &self.shared,
                Matcher {
                    base: base.map(Arc::new),
                    recent: None,
                },
            );
            return;
        }
        let recent = build(
            st.values
                .iter()
                .filter(|(_, e)| !e.in_base)
                .map(|(v, _)| v.0.as_str()),
        );
        let base = self.shared.matcher.load().base.clone();
        self.shared
            .matcher
            .store(Arc::new(Matcher { base, recent }));
        if !self.shared.merging.swap(true, Ordering::AcqRel) {
            let shared = Arc::downgrade(&self.shared);
            let spawned = std::thread::Builder::new()
                .name("secret-chain-mask-rebuild".into())
                .spawn(move || merge_loop(shared));
            if spawned.is_err() {
                // No thread: merge on this (registering) thread.
                self.shared.merging.store(false, Ordering::Release);
                merge_now(&self.shared, st);
            }
        }
    }
}

/// Background merge: rebuild the big matcher from a snapshot, off the lock.
fn merge_loop(shared: std::sync::Weak<Shared>) {
    loop {
        let Some(sh) = shared.upgrade() else { return };
        let snapshot: Vec<Zeroizing<String>> = {
            let mut st = sh.state.lock();
            prune_expired(&mut st, Instant::now());
            st.values
                .keys()
                .map(|v| Zeroizing::new(v.0.as_str().to_owned()))
                .collect()
        };
        let base = build(snapshot.iter().map(|s| s.as_str())).map(Arc::new);
        let mut st = sh.state.lock();
        for s in &snapshot {
            if let Some(e) = st.values.get_mut(s.as_str()) {
                e.in_base = true;
            }
        }
        let pending = st.values.values().any(|e| !e.in_base);
        let recent = if pending {
            build(
                st.values
                    .iter()
                    .filter(|(_, e)| !e.in_base)
                    .map(|(v, _)| v.0.as_str()),
            )
        } else {
            None
        };
        set_matcher(&sh, Matcher { base, recent });
        if !pending {
            sh.merging.store(false, Ordering::Release);
            return;
        }
    }
}

fn merge_now(shared: &Shared, st: &mut State) {
    prune_expired(st, Instant::now());
    let base = build(st.values.keys().map(|v| v.0.as_str()));
    for e in st.values.values_mut() {
        e.in_base = true;
    }
    set_matcher(
        shared,
        Matcher {
            base: base.map(Arc::new),
            recent: None,
        },
    );
}

fn insert(st: &mut State, value: &str, now: Instant, keep: Duration) -> bool {
    if let Some(e) = st.values.get_mut(value) {
        e.last = now;
        e.keep = e.keep.max(keep);
        return false;
    }
    st.values.insert(
        Val(Zeroizing::new(value.to_owned())),
        Entry {
            last: now,
            keep,
            in_base: false,
        },
    );
    true
}

fn prune_expired(st: &mut State, now: Instant) {
    st.values
        .retain(|_, e| now.saturating_duration_since(e.last) <= e.keep);
}

/// The longest value registered whole (with its encoded forms, about ten
/// times its size in the matcher): a larger one is not masked by value.
pub const MAX_REGISTERED_VALUE_BYTES: usize = 1 << 20;

/// The most top-level fields of one JSON value registered.
pub const MAX_REGISTERED_FIELDS: usize = 1000;

/// The value, its trimmed form and, for a JSON object, its top-level
/// string fields: each one that is long enough. Bounded: a value over
/// [`MAX_REGISTERED_VALUE_BYTES`] is skipped (and its fields not parsed),
/// and at most [`MAX_REGISTERED_FIELDS`] fields are taken, with a warning
/// that says so (never a value): a 68 MB secret with a million fields must
/// not cost gigabytes of matcher.
fn for_each_candidate(value: &str, min_len: usize, mut f: impl FnMut(&str)) {
    if value.len() > MAX_REGISTERED_VALUE_BYTES {
        tracing::warn!(
            bytes = value.len(),
            limit = MAX_REGISTERED_VALUE_BYTES,
            "a secret value is too large to be masked by value; only credential patterns mask it in logs"
        );
        return;
    }
    let long_enough = |s: &str| s.chars().take(min_len).count() >= min_len;
    if long_enough(value) {
        f(value);
    }
    let trimmed = value.trim();
    if trimmed.len() != value.len() && long_enough(trimmed) {
        f(trimmed);
    }
    if trimmed.starts_with('{')
        && let Ok(serde_json::Value::Object(map)) =
            serde_json::from_str::<serde_json::Value>(trimmed)
    {
        let strings = map.values().filter_map(|v| match v {
            serde_json::Value::String(s) if long_enough(s) => Some(s),
            _ => None,
        });
        for (taken, s) in strings.enumerate() {
            if taken == MAX_REGISTERED_FIELDS {
                tracing::warn!(
                    fields = map.len(),
                    limit = MAX_REGISTERED_FIELDS,
                    "a JSON secret has more string fields than are masked by value; the rest are masked only as part of the whole value"
                );
                break;
            }
            f(s);
        }
    }
}

/// Builds the matcher over every value's forms.
fn build<'a>(values: impl Iterator<Item = &'a str>) -> Option<Literals> {
    let mut patterns: Vec<Zeroizing<Vec<u8>>> = Vec::new();
    let mut forms = Vec::new();
    for v in values {
        forms.clear();
        encoded_forms(v, &mut forms);
        for (i, f) in forms.drain(..).enumerate() {
            // The value itself (already long enough), and encoded forms of 4+ bytes.
            if i == 0 || f.len() >= 4 {
                patterns.push(Zeroizing::new(f.as_bytes().to_vec()));
            }
        }
    }
    Literals::new(patterns)
}

/// Sampling stride of the long-pattern index: every pattern of at least
/// `4 + STRIDE - 1` bytes has a 4-byte window starting at a multiple of
/// `STRIDE` in the text, wherever it occurs.
const STRIDE: usize = 3;
const MIN_LONG: usize = 4 + STRIDE - 1;

/// A set of literal byte strings matched leftmost-longest.
///
/// Patterns of [`MIN_LONG`] bytes or more are found with a sampled q-gram
/// index: at every third text position one unaligned 4-byte load, a
/// multiply and a bit test against a bitset of the patterns' 4-byte windows
/// at offsets 0, 1 and 2; only a set bit looks the window up and compares
/// the candidate patterns. This stays fast with thousands of patterns,
/// where an Aho-Corasick NFA walks its trie at every byte and a DFA takes
/// too much memory. Shorter patterns go to a small leftmost-longest
/// Aho-Corasick automaton. Pattern bytes are held zeroizing.
struct Literals {
    long: Vec<Zeroizing<Vec<u8>>>,
    /// `(pattern, offset of the window in it)`, grouped by window; within a
    /// window by descending offset (ascending start), then longest first.
    entries: Vec<(u32, u8)>,
    index: FastMap<u32, (u32, u32)>,
    bits: Vec<u64>,
    shift: u32,
    short: Option<AhoCorasick>,
}

impl Literals {
    fn new(mut patterns: Vec<Zeroizing<Vec<u8>>>) -> Option<Literals> {
        patterns.sort_unstable_by(|a, b| a.as_slice().cmp(b.as_slice()));
        patterns.dedup_by(|a, b| a.as_slice() == b.as_slice());
        if patterns.is_empty() {
            return None;
        }
        let (long, short): (Vec<_>, Vec<_>) =
            patterns.into_iter().partition(|p| p.len() >= MIN_LONG);
        let mut grams: Vec<(u32, u8, u32)> = Vec::with_capacity(long.len() * STRIDE);
        for (i, p) in long.iter().enumerate() {
            for off in 0..STRIDE {
                grams.push((window(p, off), off as u8, i as u32));
            }
        }
        grams.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0)
                .then(b.1.cmp(&a.1))
                .then(long[b.2 as usize].len().cmp(&long[a.2 as usize].len()))
        });
        // About 32 bits per window, between 4 Ki and 16 Mi bits.
        let log2 = (grams.len().max(1) * 32)
            .next_power_of_two()
            .trailing_zeros()
            .clamp(12, 24);
        let mut bits = vec![0u64; 1usize << (log2 - 6)];
        let shift = 32 - log2;
        let mut index: FastMap<u32, (u32, u32)> = FastMap::default();
        let mut i = 0;
        while i < grams.len() {
            let g = grams[i].0;
            let mut j = i;
            while j < grams.len() && grams[j].0 == g {
                j += 1;
            }
            index.insert(g, (i as u32, j as u32));
            let h = hash(g, shift);
            bits[h >> 6] |= 1 << (h & 63);
            i = j;
        }
        let entries = grams.into_iter().map(|(_, off, p)| (p, off)).collect();
        let short = if short.is_empty() {
            None
        } else {
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostLongest)
                .build(short.iter().map(|p| p.as_slice()))
                .ok()
        };
        Some(Literals {
            long,
            entries,
            index,
            bits,
            shift,
            short,
        })
    }

    /// The leftmost-longest match whose start is in `[p - 2, p]` and at
    /// least `from`, given the window `w` at sampled position `p` whose bit
    /// is set (the slow path: a hash lookup and byte compares).
    #[inline(never)]
    fn verify(&self, b: &[u8], p: usize, w: u32, from: usize) -> Option<(usize, usize)> {
        let &(s, e) = self.index.get(&w)?;
        for &(pi, off) in &self.entries[s as usize..e as usize] {
            let off = off as usize;
            if off > p || p - off < from {
                continue;
            }
            let start = p - off;
            let pat = &self.long[pi as usize];
            if b[start..].starts_with(pat) {
                return Some((start, start + pat.len()));
            }
        }
        None
    }

    /// Whether the bit of window `w` is set (the fast path: one multiply
    /// and one load; the bitset length is a power of two).
    #[inline(always)]
    fn bit(&self, w: u32) -> bool {
        let h = hash(w, self.shift);
        let bits = &self.bits;
        bits[(h >> 6) & (bits.len() - 1)] & (1 << (h & 63)) != 0
    }

    /// The first match found from sampled position `p` on (a multiple of
    /// [`STRIDE`]) that starts at or after `from`, and the sampled
    /// position after it.
    #[inline]
    fn next(&self, b: &[u8], mut p: usize, from: usize) -> Option<(usize, usize)> {
        #[inline(always)]
        fn word(b: &[u8], p: usize) -> u32 {
            u32::from_le_bytes([b[p], b[p + 1], b[p + 2], b[p + 3]])
        }
        // Four probes per round: the loads are independent, and one
        // branch covers all four when no bit is set (the usual case).
        const ROUND: usize = 4 * STRIDE;
        while p + ROUND < b.len() {
            let chunk = &b[p..p + ROUND + 1];
            let w0 = word(chunk, 0);
            let w1 = word(chunk, STRIDE);
            let w2 = word(chunk, 2 * STRIDE);
            let w3 = word(chunk, 3 * STRIDE);
            if self.bit(w0) | self.bit(w1) | self.bit(w2) | self.bit(w3) {
                for (k, w) in [w0, w1, w2, w3].into_iter().enumerate() {
                    if self.bit(w)
                        && let Some(m) = self.verify(b, p + k * STRIDE, w, from)
                    {
                        return Some(m);
                    }
                }
            }
            p += ROUND;
        }
        while p + 4 <= b.len() {
            let w = word(b, p);
            if self.bit(w)
                && let Some(m) = self.verify(b, p, w, from)
            {
                return Some(m);
            }
            p += STRIDE;
        }
        None
    }

    fn find(&self, b: &[u8], out: &mut Vec<Range<usize>>) {
        if !self.long.is_empty() && b.len() >= MIN_LONG {
            let mut from = 0;
            let mut p = 0;
            while let Some((s, e)) = self.next(b, p, from) {
                out.push(s..e);
                from = e;
                p = e.div_ceil(STRIDE) * STRIDE;
            }
        }
        if let Some(ac) = &self.short {
            out.extend(ac.find_iter(b).map(|m| m.range()));
        }
    }

    fn is_match(&self, b: &[u8]) -> bool {
        if !self.long.is_empty() && b.len() >= MIN_LONG && self.next(b, 0, 0).is_some() {
            return true;
        }
        self.short.as_ref().is_some_and(|ac| ac.is_match(b))
    }
}

#[inline]
fn window(p: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([p[off], p[off + 1], p[off + 2], p[off + 3]])
}

#[inline]
fn hash(w: u32, shift: u32) -> usize {
    (w.wrapping_mul(0x9E37_79B1) >> shift) as usize
}

/// Every form in which `value` may appear in a log line.
pub(crate) fn encoded_forms(value: &str, out: &mut Vec<Zeroizing<String>>) {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    out.push(Zeroizing::new(value.to_owned()));
    let bytes = value.as_bytes();
    let n = bytes.len();
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for align in 0..3usize {
            // The value starts `align` bytes into a 3-byte group: drop the
            // characters that depend on the bytes around it.
            let mut buf = Zeroizing::new(vec![0u8; align]);
            buf.extend_from_slice(bytes);
            let enc = Zeroizing::new(engine.encode(&*buf));
            let skip = if align == 0 { 0 } else { align + 1 };
            let end = (4 * (align + n)) / 3;
            if end > skip && end <= enc.len() && end - skip >= 6 {
                out.push(Zeroizing::new(enc[skip..end].to_owned()));
            }
        }
    }
    // Percent-encodings.
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    for set in [NON_ALPHANUMERIC, COMPONENT] {
        let enc: String = utf8_percent_encode(value, set).to_string();
        if enc != value {
            let lower = lower_hex_escapes(&enc);
            if value.contains(' ') {
                out.push(Zeroizing::new(enc.replace("%20", "+")));
            }
            out.push(Zeroizing::new(lower));
            out.push(Zeroizing::new(enc));
        }
    }
    // JSON-escaped.
    if let Ok(json) = serde_json::to_string(value) {
        let inner = &json[1..json.len() - 1];
        if inner != value {
            out.push(Zeroizing::new(inner.to_owned()));
        }
        if !inner.is_ascii() {
            let mut ascii = String::with_capacity(inner.len() * 2);
            for c in inner.chars() {
                if c.is_ascii() {
                    ascii.push(c);
                } else {
                    let mut units = [0u16; 2];
                    for u in c.encode_utf16(&mut units) {
                        ascii.push_str(&format!("\\u{:04x}", u));
                    }
                }
            }
            out.push(Zeroizing::new(ascii));
        }
        // Escaped twice (a JSON document inside a JSON string).
        if let Ok(twice) = serde_json::to_string(inner)
            && twice[1..twice.len() - 1] != *inner
        {
            out.push(Zeroizing::new(twice[1..twice.len() - 1].to_owned()));
        }
    }
    // Rust Debug.
    let dbg = format!("{value:?}");
    let dbg = Zeroizing::new(dbg);
    if dbg[1..dbg.len() - 1] != *value {
        out.push(Zeroizing::new(dbg[1..dbg.len() - 1].to_owned()));
    }
    // XML.
    if value.contains(['<', '>', '&', '"', '\'']) {
        let xml = value
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&apos;");
        out.push(Zeroizing::new(xml));
    }
}

fn lower_hex_escapes(enc: &str) -> String {
    let mut out = String::with_capacity(enc.len());
    let b = enc.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push('%');
            out.push((b[i + 1] as char).to_ascii_lowercase());
            out.push((b[i + 2] as char).to_ascii_lowercase());
            i += 3;
        } else {
            let c = enc[i..].chars().next().unwrap_or('\u{0}');
            out.push(c);
            i += c.len_utf8().max(1);
        }
    }
    out
}

impl fmt::Debug for KnownSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KnownSecrets({} values)", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn masked(known: &KnownSecrets, text: &str) -> bool {
        let mut v = Vec::new();
        known.find(text, &mut v);
        !v.is_empty()
    }

    #[test]
    fn short_values_are_not_registered() {
        let k = KnownSecrets::new();
        k.register("true");
        k.register("12345");
        assert!(k.is_empty());
        k.register("123456");
        assert_eq!(k.len(), 1);
    }

    #[test]
    fn one_secret_registers_a_bounded_number_of_fields_and_bytes() {
        let k = KnownSecrets::new();
        let fields: Vec<String> = (0..MAX_REGISTERED_FIELDS + 500)
            .map(|i| format!("\"f{i}\":\"field-value-{i:06}\""))
            .collect();
        k.register(&format!("{{{}}}", fields.join(",")));
        // The whole document and the first fields, not every field.
        assert_eq!(k.len(), 1 + MAX_REGISTERED_FIELDS);
        let huge = "x".repeat(MAX_REGISTERED_VALUE_BYTES + 1);
        k.register(&huge);
        assert_eq!(k.len(), 1 + MAX_REGISTERED_FIELDS);
    }

    #[test]
    fn json_documents_register_their_top_level_string_fields() {
        let k = KnownSecrets::new();
        k.register(r#"{"username":"svc-user","password":"pa55-word!","port":5432}"#);
        assert!(masked(&k, "password is pa55-word! here"));
        assert!(masked(&k, "user svc-user"));
    }

    #[test]
    fn base64_at_every_alignment_is_found() {
        let k = KnownSecrets::new();
        k.register("correct-horse-battery");
        for prefix in ["", "u", "us", "user:"] {
            let enc = base64::engine::general_purpose::STANDARD
                .encode(format!("{prefix}correct-horse-battery and more"));
            assert!(masked(&k, &format!("Basic {enc}")), "prefix {prefix:?}");
            let url = base64::engine::general_purpose::URL_SAFE
                .encode(format!("{prefix}correct-horse-battery"));
            assert!(masked(&k, &url), "url prefix {prefix:?}");
        }
    }

    #[test]
    fn escaped_forms_are_found() {
        let k = KnownSecrets::new();
        let v = "p\"a/s s\\w&rd<é>";
        k.register(v);
        let json = serde_json::to_string(v).unwrap();
        assert!(masked(&k, &json));
        assert!(masked(&k, &format!("{v:?}")));
        let pct = percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
        assert!(masked(&k, &pct));
        assert!(masked(&k, &pct.to_lowercase()));
        assert!(masked(&k, "p&quot;a/s s\\w&amp;rd&lt;é&gt;"));
        assert!(masked(&k, "p\\\"a/s s\\\\w&rd<\\u00e9>"));
    }

    #[test]
    fn leftmost_longest_hides_the_longer_value() {
        let k = KnownSecrets::new();
        k.register("abcdef");
        k.register("abcdefghijkl");
        let mut v = Vec::new();
        k.find("x abcdefghijkl y", &mut v);
        assert_eq!(v, vec![2..14]);
    }

    #[test]
    fn many_values_are_all_found_during_and_after_the_background_merge() {
        let k = KnownSecrets::new();
        let values: Vec<String> = (0..300).map(|i| format!("value-{i:04}-secret")).collect();
        for v in &values {
            k.register(v);
            assert!(masked(&k, &format!("log {v} end")), "{v}");
        }
        for v in &values {
            assert!(masked(&k, v), "{v}");
        }
    }

    #[test]
    fn rotated_values_stay_until_the_retention_passes() {
        let k = KnownSecrets::with_settings(6, Duration::from_secs(3600));
        k.register("old-value-1");
        k.register("new-value-2");
        k.prune();
        assert!(masked(&k, "old-value-1"));
        let k = KnownSecrets::with_settings(6, Duration::ZERO);
        k.register("old-value-1");
        std::thread::sleep(Duration::from_millis(2));
        k.prune();
        assert!(!masked(&k, "old-value-1"));
        k.register_for("live-value-3", Duration::from_secs(60));
        k.prune();
        assert!(masked(&k, "live-value-3"));
    }

    #[test]
    fn settings_come_from_the_environment_with_defaults() {
        let cfg =
            |pairs: &[(&str, &str)]| crate::settings::Settings::from_vars(pairs.iter().copied());
        let k = KnownSecrets::from_settings(&cfg(&[])).unwrap();
        assert_eq!((k.min_len(), k.retention()), (6, Duration::from_secs(3600)));
        let k = KnownSecrets::from_settings(&cfg(&[
            ("SECRETS_MASK_RETENTION", "60"),
            ("SECRETS_MASK_MIN_LENGTH", "8"),
        ]))
        .unwrap();
        assert_eq!((k.min_len(), k.retention()), (8, Duration::from_secs(60)));
        let e =
            KnownSecrets::from_settings(&cfg(&[("SECRETS_MASK_RETENTION", "soon")])).unwrap_err();
        assert!(e.to_string().contains("SECRETS_MASK_RETENTION"), "{e}");
        assert!(KnownSecrets::from_settings(&cfg(&[("SECRETS_MASK_MIN_LENGTH", "0")])).is_err());
    }

    #[test]
    fn values_are_found_at_every_offset_and_text_length() {
        // Covers the four-probe rounds, the tail loop and every alignment
        // of a value to the sampling stride.
        let k = KnownSecrets::new();
        let values: Vec<String> = (0..80).map(|i| format!("Val{i:03}-zq")).collect();
        k.register_many(values.iter().map(|s| s.as_str()));
        k.prune();
        let v = &values[17];
        for pre in 0..20 {
            for post in 0..5 {
                let text = format!("{}{v}{}", "x".repeat(pre), "y".repeat(post));
                let mut spans = Vec::new();
                k.find(&text, &mut spans);
                assert_eq!(spans, vec![pre..pre + v.len()], "{text}");
                assert!(k.is_match(&text), "{text}");
            }
        }
        // Several values back to back and apart.
        let text = format!("{}{} - {}..{}", values[1], values[2], values[3], values[79]);
        let mut spans = Vec::new();
        k.find(&text, &mut spans);
        let found: Vec<&str> = spans.iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(found, vec![&values[1], &values[2], &values[3], &values[79]]);
        assert!(!k.is_match("Val000-z Val00-zq al000-zq"));
    }

    #[test]
    fn debug_shows_only_the_count() {
        let k = KnownSecrets::new();
        k.register("s3cr3t-value");
        assert_eq!(format!("{k:?}"), "KnownSecrets(1 values)");
    }
}
