//! [`DetectedSecrets`]: the secrets found earlier in a stream, so that a
//! later bare copy of one (`retrying with S`, with no keyword around it)
//! is masked too.

use std::collections::VecDeque;
use std::fmt;
use std::hash::BuildHasher;
use std::time::{Duration, Instant};

use foldhash::HashMap as FastMap;
use zeroize::Zeroizing;

use super::copies::{long_enough, union};
use super::rule::{Finding, RuleId};
use super::window_index::WindowIndex;

/// Default of [`DetectedLimits::max_values`].
pub const DEFAULT_DETECTED_VALUES: usize = 1000;
/// Default of [`DetectedLimits::max_bytes`] (256 KiB).
pub const DEFAULT_DETECTED_BYTES: usize = 256 << 10;
/// Default of [`DetectedLimits::retention`] (one hour).
pub const DEFAULT_DETECTED_RETENTION: Duration = Duration::from_secs(3600);

/// The bounds of a [`DetectedSecrets`] pool: when a new value would pass
/// `max_values` or `max_bytes`, the values remembered longest ago are
/// dropped first; a value not found again for `retention` is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectedLimits {
    /// How many values are kept (0: none, the pool is off).
    pub max_values: usize,
    /// How many bytes of values are kept in all.
    pub max_bytes: usize,
    /// How long a value stays after it was last found.
    pub retention: Duration,
}

impl Default for DetectedLimits {
    fn default() -> Self {
        DetectedLimits {
            max_values: DEFAULT_DETECTED_VALUES,
            max_bytes: DEFAULT_DETECTED_BYTES,
            retention: DEFAULT_DETECTED_RETENTION,
        }
    }
}

/// The secrets found so far in one stream (a log file, the output of a
/// process, the events of a masking layer), matched in later text.
///
/// A rule finds `password=S` on line 1; line 5 says `retrying with S`,
/// which no rule finds. [`remember`](Self::remember) the findings of each
/// piece of text and [`find`](Self::find) in the next pieces (or do both
/// with [`add_copies`](Self::add_copies)): every occurrence of a value
/// remembered earlier is a finding, named after the rule that found it
/// first.
///
/// The pool is bounded in count, bytes and time ([`DetectedLimits`]);
/// it holds only what it was given, never the values of a
/// [`KnownSecrets`](crate::masking::KnownSecrets) registry, which it
/// neither reads nor evicts. Values shorter than
/// [`MIN_COPY_LEN`](super::MIN_COPY_LEN) characters are not remembered,
/// nor values of more than 64 bytes that mostly repeat themselves
/// (`abab…ab`: the period is less than half the length), whose
/// overlapping copies would make a search cost more than linear; both
/// stay masked where a rule finds them (and their copies in that text).
///
/// # Cost
///
/// Remembering a value costs time in its length: there is no matcher to
/// rebuild. Values are found with sampled indexes of 4-byte windows (as
/// the known-values matcher does, see `window_index.rs`): values of 15
/// bytes or more (tokens, keys: most found secrets) at every 12th to 28th
/// byte of the text (the shortest such value's length less three),
/// shorter ones at every third, only while the pool holds one; one 4-byte load and a bit test per sample, and only a set bit
/// looks the window up and compares the values that hold it there. A pool
/// that is empty costs nothing.
///
/// Values are held in zeroizing buffers; the index keeps 4-byte windows of
/// them as plain integers (freed, not zeroized). `Debug` shows counts only.
///
/// # Example
///
/// ```
/// use secret_chain::detect::{DetectedSecrets, RuleSet};
///
/// let rules = RuleSet::builtin();
/// let mut seen = DetectedSecrets::new();
/// let mut found = Vec::new();
/// let line1 = "login password=Hunter2-Correct-Horse";
/// rules.find(line1, &mut found);
/// seen.add_copies(line1, &mut found);
/// assert_eq!(&line1[found[0].start..found[0].end], "Hunter2-Correct-Horse");
///
/// let line5 = "retrying with Hunter2-Correct-Horse";
/// let mut found = Vec::new();
/// rules.find(line5, &mut found);
/// assert!(found.is_empty());
/// seen.add_copies(line5, &mut found);
/// assert_eq!(found[0].rule.as_str(), "secret-named-key");
/// assert_eq!(&line5[found[0].start..], "Hunter2-Correct-Horse");
/// ```
pub struct DetectedSecrets {
    limits: DetectedLimits,
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    /// `(slot, stamp)` for each time a value was remembered, oldest first;
    /// an entry whose stamp is not its slot's current one is stale.
    order: VecDeque<(u32, u64)>,
    /// Hash of a value -> the slots holding values with that hash.
    by_hash: FastMap<u64, Vec<u32>>,
    /// The values shorter than `long.min_len()` bytes.
    short: WindowIndex,
    /// The others, sampled more sparsely.
    long: WindowIndex,
    /// Values dropped from `long` since its stride was last set: after as
    /// many as it holds, the stride may grow again.
    long_removed: usize,
    len: usize,
    bytes: usize,
    stamp: u64,
    generation: u64,
}

struct Slot {
    value: Zeroizing<Vec<u8>>,
    rule: RuleId,
    /// When it was last remembered.
    seen: Instant,
    stamp: u64,
    /// Offset of the first of its indexed windows.
    at: u32,
    /// In the index of long values.
    long: bool,
}

impl fmt::Debug for DetectedSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DetectedSecrets")
            .field("values", &self.len)
            .field("bytes", &self.bytes)
            .field("limits", &self.limits)
            .finish()
    }
}

impl Default for DetectedSecrets {
    fn default() -> Self {
        DetectedSecrets::with_limits(DetectedLimits::default())
    }
}

/// The stride of the index of short values: a value of at least
/// `4 + SHORT_STRIDE - 1` bytes (every value here: 6 characters) has one
/// of any three consecutive windows of its at a sampled place, wherever
/// it occurs.
const SHORT_STRIDE: usize = 3;
const MIN_BYTES: usize = 4 + SHORT_STRIDE - 1;
/// The strides of the index of values of `4 + LONG_STRIDE_MIN - 1` (15)
/// bytes or more: the shortest value's length less three, so that each
/// of its occurrences holds a sampled place, between these two. The
/// stride is what a search costs (one probe per stride bytes), and found
/// tokens and keys are mostly 30 bytes or more.
const LONG_STRIDE_MIN: usize = 12;
const LONG_STRIDE_MAX: usize = 28;

impl DetectedSecrets {
    /// An empty pool with the default limits (1,000 values, 256 KiB, one
    /// hour).
    pub fn new() -> DetectedSecrets {
        DetectedSecrets::default()
    }

    /// An empty pool with these limits.
    pub fn with_limits(limits: DetectedLimits) -> DetectedSecrets {
        DetectedSecrets {
            limits,
            slots: Vec::new(),
            free: Vec::new(),
            order: VecDeque::new(),
            by_hash: FastMap::default(),
            short: WindowIndex::new(SHORT_STRIDE, limits.max_values),
            long: WindowIndex::new(LONG_STRIDE_MAX, limits.max_values),
            long_removed: 0,
            len: 0,
            bytes: 0,
            stamp: 0,
            generation: 0,
        }
    }

    /// The limits of this pool.
    pub fn limits(&self) -> DetectedLimits {
        self.limits
    }

    /// How many values the pool holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the pool holds no value.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many bytes of values the pool holds.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Changes whenever a value is added or dropped.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Drops every value.
    pub fn clear(&mut self) {
        *self = DetectedSecrets::with_limits(self.limits);
    }

    /// Remembers the secret of each finding (`text[f.start..f.end]`) now;
    /// see [`remember_at`](Self::remember_at).
    pub fn remember(&mut self, text: impl AsRef<[u8]>, findings: &[Finding]) {
        self.remember_at(text, findings, Instant::now());
    }

    /// Remembers the secret of each finding (`text[f.start..f.end]`) as
    /// found at `now`, with the finding's rule. A value already held is
    /// kept with its first rule and found again from `now` on. Values
    /// older than the retention are dropped first; then, while the new
    /// value would pass the count or byte limit, the value remembered
    /// longest ago. A value that alone passes the byte limit is not kept.
    pub fn remember_at(&mut self, text: impl AsRef<[u8]>, findings: &[Finding], now: Instant) {
        if self.limits.max_values == 0 || findings.is_empty() {
            return;
        }
        let text = text.as_ref();
        self.expire(now);
        let max_bytes = self.limits.max_bytes;
        let keepable = |f: &Finding| -> Option<&[u8]> {
            let v = text.get(f.start..f.end)?;
            let keep = v.len() >= MIN_BYTES
                && long_enough(v)
                && v.len() <= max_bytes
                && u32::try_from(v.len()).is_ok()
                && !too_repetitive(v);
            keep.then_some(v)
        };
        let from = self.first_kept(findings, &keepable);
        for f in &findings[from..] {
            let Some(v) = keepable(f) else {
                continue;
            };
            if let Some(id) = self.lookup(v) {
                self.stamp += 1;
                let slot = self.slots[id as usize].as_mut().expect("a live slot");
                slot.seen = now;
                slot.stamp = self.stamp;
                self.order.push_back((id, self.stamp));
                continue;
            }
            while self.len > 0
                && (self.len + 1 > self.limits.max_values
                    || self.bytes + v.len() > self.limits.max_bytes)
            {
                self.evict_oldest();
            }
            self.insert(v, &f.rule, now);
        }
        // Refreshing pushes an entry per remembering: drop the stale ones
        // before they outnumber the values.
        if self.order.len() > 2 * self.len + 16 {
            let slots = &self.slots;
            self.order.retain(|&(id, stamp)| {
                slots[id as usize]
                    .as_ref()
                    .is_some_and(|s| s.stamp == stamp)
            });
        }
    }

    /// Where in `findings` the values that the pool would still hold
    /// after remembering them all, in order, begin: with more findings
    /// than the pool holds values (a hostile line of thousands of
    /// `password=` values), the earlier ones would each be added and then
    /// dropped again, oldest first, by the later ones. So the findings are
    /// read from the end until their distinct values fill the pool (in
    /// count or bytes); the ones before are skipped, which leaves the pool
    /// as remembering them all would.
    fn first_kept<'t>(
        &self,
        findings: &[Finding],
        keepable: &impl Fn(&Finding) -> Option<&'t [u8]>,
    ) -> usize {
        if findings.len() <= self.limits.max_values {
            return 0;
        }
        let mut distinct: FastMap<&[u8], ()> = FastMap::default();
        let mut bytes = 0;
        for (i, f) in findings.iter().enumerate().rev() {
            let Some(v) = keepable(f) else {
                continue;
            };
            if distinct.contains_key(v) {
                continue;
            }
            if bytes + v.len() > self.limits.max_bytes {
                return i + 1;
            }
            bytes += v.len();
            distinct.insert(v, ());
            if distinct.len() == self.limits.max_values {
                return i;
            }
        }
        0
    }

    /// Remembers `value`, which the caller knows to be a secret (the value
    /// of a secret-named field, masked whole without a rule running), as
    /// found at `now` by the `secret-named-key` rule; see
    /// [`remember_at`](Self::remember_at).
    pub fn remember_value_at(&mut self, value: &str, now: Instant) {
        self.remember_at(value, &[named(value)], now);
    }

    /// [`needs_remember_at`](Self::needs_remember_at) for
    /// [`remember_value_at`](Self::remember_value_at).
    pub fn needs_remember_value_at(&self, value: &str, now: Instant) -> bool {
        self.needs_remember_at(value, &[named(value)], now)
    }

    /// Whether [`remember_at`](Self::remember_at) with these findings
    /// would change the pool: a value to add, or one to keep longer (held
    /// for more than a sixteenth of the retention since it was last
    /// remembered). A pool shared between threads takes its write lock
    /// only then.
    pub fn needs_remember_at(
        &self,
        text: impl AsRef<[u8]>,
        findings: &[Finding],
        now: Instant,
    ) -> bool {
        if self.limits.max_values == 0 {
            return false;
        }
        let text = text.as_ref();
        findings.iter().any(|f| {
            let Some(v) = text.get(f.start..f.end) else {
                return false;
            };
            if v.len() < MIN_BYTES || !long_enough(v) || v.len() > self.limits.max_bytes {
                return false;
            }
            match self.lookup(v) {
                Some(id) => self.slots[id as usize].as_ref().is_some_and(|s| {
                    now.saturating_duration_since(s.seen) > self.limits.retention / 16
                }),
                // (A repetitive value is not kept: nothing to do.)
                None => !too_repetitive(v),
            }
        })
    }

    /// Appends to `out` every occurrence in `text` of a value remembered
    /// less than the retention ago, as findings named after the rule that
    /// found the value: in order, overlapping occurrences merged into one.
    pub fn find(&self, text: impl AsRef<[u8]>, out: &mut Vec<Finding>) {
        self.find_at(text, out, Instant::now());
    }

    /// [`find`](Self::find) at time `now`.
    pub fn find_at(&self, text: impl AsRef<[u8]>, out: &mut Vec<Finding>, now: Instant) {
        let b = text.as_ref();
        if self.len == 0 || b.len() < MIN_BYTES {
            return;
        }
        let mut hits: Vec<Finding> = Vec::new();
        for index in [&self.long, &self.short] {
            index.probe(b, |p, holders| self.verify(b, p, holders, now, &mut hits));
        }
        if hits.is_empty() {
            return;
        }
        hits.sort_by_key(|h| (h.start, std::cmp::Reverse(h.end)));
        let mut cur: Option<Finding> = None;
        for h in hits {
            match &mut cur {
                Some(c) if h.start < c.end => c.end = c.end.max(h.end),
                _ => {
                    if let Some(c) = cur.take() {
                        out.push(c);
                    }
                    cur = Some(h);
                }
            }
        }
        out.extend(cur);
    }

    /// Whether `text` holds a value remembered less than the retention ago.
    pub fn is_match(&self, text: impl AsRef<[u8]>) -> bool {
        if self.len == 0 {
            return false;
        }
        let mut out = Vec::new();
        self.find(text, &mut out);
        !out.is_empty()
    }

    /// The stream step: remembers `findings` (what the rules found in
    /// `text`, sorted and not overlapping, as [`RuleSet::find`](super::RuleSet::find)
    /// gives them), then merges into them every occurrence in `text` of a
    /// value remembered so far, this text's included (so copies across the
    /// valid pieces of text that is not all UTF-8 are found too). A copy
    /// that overlaps a finding is merged into it; the finding keeps its
    /// rule.
    pub fn add_copies(&mut self, text: impl AsRef<[u8]>, findings: &mut Vec<Finding>) {
        self.add_copies_at(text, findings, Instant::now());
    }

    /// [`add_copies`](Self::add_copies) at time `now`.
    pub fn add_copies_at(
        &mut self,
        text: impl AsRef<[u8]>,
        findings: &mut Vec<Finding>,
        now: Instant,
    ) {
        let text = text.as_ref();
        self.remember_at(text, findings, now);
        let mut copies = Vec::new();
        self.find_at(text, &mut copies, now);
        if copies.is_empty() {
            return;
        }
        if let Some(merged) = union(findings, copies) {
            *findings = merged;
        }
    }

    /// The slow path of a set bit: the values that hold the window at
    /// `p`, each compared where it would start.
    #[inline(never)]
    fn verify(
        &self,
        b: &[u8],
        p: usize,
        holders: &[(u32, u32)],
        now: Instant,
        hits: &mut Vec<Finding>,
    ) {
        for &(id, off) in holders {
            #[cfg(test)]
            super::testing::add_work(1);
            let off = off as usize;
            if off > p {
                continue;
            }
            let s = p - off;
            let Some(slot) = self.slots[id as usize].as_ref() else {
                continue;
            };
            let e = s + slot.value.len();
            if e <= b.len()
                && b[s..e] == slot.value[..]
                && now.saturating_duration_since(slot.seen) < self.limits.retention
            {
                hits.push(Finding {
                    rule: slot.rule.clone(),
                    start: s,
                    end: e,
                });
            }
        }
    }

    fn lookup(&self, v: &[u8]) -> Option<u32> {
        self.by_hash
            .get(&value_hash(v))?
            .iter()
            .copied()
            .find(|&id| {
                self.slots[id as usize]
                    .as_ref()
                    .is_some_and(|s| s.value[..] == *v)
            })
    }

    /// Where to index `v`: in the index of long values when it is long
    /// enough and a span of its windows there is shared by few other
    /// values (about one per window); else in the index of short values,
    /// whose three windows can avoid what values share (`tok_AAAAAAAA_…`
    /// for a thousand of them: a long span would hold shared windows, and
    /// each place of the text with one would be compared with every value
    /// holding it).
    fn place(&mut self, v: &[u8]) -> (bool, u32) {
        if v.len() >= 4 + LONG_STRIDE_MIN - 1 {
            self.fit_long_stride(v.len());
            let (at, shared) = self.long.best_span(v);
            if shared <= self.long.stride() {
                return (true, at);
            }
        }
        (false, self.short.best_span(v).0)
    }

    /// Narrows the long index's stride, if need be, so that a value of
    /// `len` bytes fits in it (an empty index takes the value's own).
    #[cold]
    #[inline(never)]
    fn fit_long_stride(&mut self, len: usize) {
        let want = (len - 3).clamp(LONG_STRIDE_MIN, LONG_STRIDE_MAX);
        if self.long.is_empty() {
            if self.long.stride() != want {
                self.long = WindowIndex::new(want, self.limits.max_values);
                self.long_removed = 0;
            }
        } else if want < self.long.stride() {
            self.restride_long(want);
        }
    }

    /// Indexes the long values again at `stride`; one whose windows there
    /// are too shared moves to the short index.
    #[cold]
    #[inline(never)]
    fn restride_long(&mut self, stride: usize) {
        let mut long = WindowIndex::new(stride, self.limits.max_values);
        for (id, slot) in self.slots.iter_mut().enumerate() {
            let Some(slot) = slot.as_mut().filter(|s| s.long) else {
                continue;
            };
            let id = id as u32;
            let (at, shared) = long.best_span(&slot.value);
            if shared <= stride {
                long.insert(id, &slot.value, at);
                slot.at = at;
            } else {
                let (at, _) = self.short.best_span(&slot.value);
                self.short.insert(id, &slot.value, at);
                slot.at = at;
                slot.long = false;
            }
        }
        self.long = long;
        self.long_removed = 0;
    }

    /// After a long value is dropped: once as many were dropped as the
    /// index holds, the stride follows the shortest value left (a search
    /// after a burst of short tokens must not stay slow; the rebuild costs
    /// as much as the removals since the last one, so it is linear).
    #[cold]
    #[inline(never)]
    fn widen_long_stride(&mut self) {
        self.long_removed += 1;
        if self.long.is_empty() || self.long_removed < self.len.max(64) {
            return;
        }
        let shortest = self
            .slots
            .iter()
            .flatten()
            .filter(|s| s.long)
            .map(|s| s.value.len())
            .min();
        self.long_removed = 0;
        if let Some(len) = shortest {
            let want = (len - 3).clamp(LONG_STRIDE_MIN, LONG_STRIDE_MAX);
            if want > self.long.stride() {
                self.restride_long(want);
            }
        }
    }

    fn insert(&mut self, v: &[u8], rule: &RuleId, now: Instant) {
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.slots.push(None);
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 values")
            }
        };
        let (long, at) = self.place(v);
        if long {
            self.long.insert(id, v, at);
        } else {
            self.short.insert(id, v, at);
        }
        self.by_hash.entry(value_hash(v)).or_default().push(id);
        self.stamp += 1;
        self.slots[id as usize] = Some(Slot {
            value: Zeroizing::new(v.to_vec()),
            rule: rule.clone(),
            seen: now,
            stamp: self.stamp,
            at,
            long,
        });
        self.order.push_back((id, self.stamp));
        self.len += 1;
        self.bytes += v.len();
        self.generation += 1;
    }

    fn remove(&mut self, id: u32) {
        let Some(slot) = self.slots[id as usize].take() else {
            return;
        };
        let v = &slot.value[..];
        if slot.long {
            self.long.remove(id, v, slot.at);
        } else {
            self.short.remove(id, v, slot.at);
        }
        let was_long = slot.long;
        let h = value_hash(v);
        if let Some(ids) = self.by_hash.get_mut(&h) {
            ids.retain(|&i| i != id);
            if ids.is_empty() {
                self.by_hash.remove(&h);
            }
        }
        self.free.push(id);
        self.len -= 1;
        self.bytes -= v.len();
        self.generation += 1;
        if was_long {
            self.widen_long_stride();
        }
    }

    /// Drops the value remembered longest ago.
    fn evict_oldest(&mut self) {
        while let Some((id, stamp)) = self.order.pop_front() {
            if self.slots[id as usize]
                .as_ref()
                .is_some_and(|s| s.stamp == stamp)
            {
                self.remove(id);
                return;
            }
        }
    }

    /// Drops the values not remembered for the retention.
    fn expire(&mut self, now: Instant) {
        while let Some(&(id, stamp)) = self.order.front() {
            match self.slots[id as usize].as_ref() {
                Some(s) if s.stamp == stamp => {
                    if now.saturating_duration_since(s.seen) < self.limits.retention {
                        return;
                    }
                    self.order.pop_front();
                    self.remove(id);
                }
                _ => {
                    self.order.pop_front();
                }
            }
        }
    }
}

/// A finding of all of `value` by the `secret-named-key` rule.
fn named(value: &str) -> Finding {
    static RULE: std::sync::OnceLock<RuleId> = std::sync::OnceLock::new();
    let rule = RULE.get_or_init(|| RuleId(std::sync::Arc::from("secret-named-key")));
    Finding {
        rule: rule.clone(),
        start: 0,
        end: value.len(),
    }
}

fn value_hash(v: &[u8]) -> u64 {
    foldhash::fast::FixedState::default().hash_one(v)
}

/// Values up to this long are kept even when they repeat themselves.
const MAX_REPETITIVE_LEN: usize = 64;

/// Whether `v` is longer than [`MAX_REPETITIVE_LEN`] and repeats itself
/// with a period of less than half its length (`abab…ab`): in a text that
/// repeats the same way, its copies overlap at every period, and comparing
/// each would cost time in the text's length times the value's. Shorter
/// repetitive values (`abcabcabc`, a weak password) cost at most 64
/// compares per sampled window, and are kept.
fn too_repetitive(v: &[u8]) -> bool {
    v.len() > MAX_REPETITIVE_LEN && periodic(v)
}

/// Whether `v` repeats itself with a period of less than half its length.
fn periodic(v: &[u8]) -> bool {
    // The longest proper border (prefix that is also a suffix), KMP.
    let mut border = vec![0usize; v.len()];
    let mut k = 0;
    for i in 1..v.len() {
        while k > 0 && v[i] != v[k] {
            k = border[k - 1];
        }
        if v[i] == v[k] {
            k += 1;
        }
        border[i] = k;
    }
    let period = v.len() - border[v.len() - 1];
    2 * period < v.len()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::detect::RuleSet;
    use crate::detect::testing::take_work;

    fn rule(id: &str) -> RuleId {
        RuleId(Arc::from(id))
    }

    /// A finding of `value` in `text` (its first occurrence).
    fn at(text: &str, value: &str) -> Finding {
        let s = text.find(value).expect("the value is in the text");
        Finding {
            rule: rule("r"),
            start: s,
            end: s + value.len(),
        }
    }

    fn limits(max_values: usize, max_bytes: usize, secs: u64) -> DetectedLimits {
        DetectedLimits {
            max_values,
            max_bytes,
            retention: Duration::from_secs(secs),
        }
    }

    /// What the pool finds in `text` at `now`, as strings.
    fn found(pool: &DetectedSecrets, text: &str, now: Instant) -> Vec<String> {
        let mut out = Vec::new();
        pool.find_at(text, &mut out, now);
        out.iter()
            .map(|f| text[f.start..f.end].to_string())
            .collect()
    }

    fn remember(pool: &mut DetectedSecrets, values: &[&str], now: Instant) {
        let text = values.join(" ");
        let f: Vec<Finding> = values.iter().map(|v| at(&text, v)).collect();
        pool.remember_at(&text, &f, now);
    }

    #[test]
    fn a_secret_found_on_line_one_is_found_bare_on_line_five() {
        let rules = RuleSet::builtin();
        let mut pool = DetectedSecrets::new();
        let lines = [
            "connect password=Zq8-Lw3x-Pt7v host=db1",
            "GET /health 200",
            "GET /health 200",
            "GET /health 200",
            "auth failed for Zq8-Lw3x-Pt7v, retrying",
        ];
        let mut per_line = Vec::new();
        for line in lines {
            let mut f = Vec::new();
            rules.find(line, &mut f);
            pool.add_copies(line, &mut f);
            per_line.push(
                f.iter()
                    .map(|f| (f.rule.to_string(), line[f.start..f.end].to_string()))
                    .collect::<Vec<_>>(),
            );
        }
        let kv = ("secret-named-key".to_string(), "Zq8-Lw3x-Pt7v".to_string());
        assert_eq!(per_line[0], std::slice::from_ref(&kv));
        assert!(per_line[1..4].iter().all(Vec::is_empty));
        assert_eq!(per_line[4], [kv]);
    }

    #[test]
    fn the_pool_keeps_at_most_max_values_and_drops_the_oldest_first() {
        let t0 = Instant::now();
        let mut pool = DetectedSecrets::with_limits(limits(3, 1 << 20, 3600));
        remember(
            &mut pool,
            &["value-one-1", "value-two-2", "value-three-3"],
            t0,
        );
        assert_eq!(pool.len(), 3);
        // Found again: now the youngest.
        remember(&mut pool, &["value-one-1"], t0);
        remember(&mut pool, &["value-four-4"], t0);
        assert_eq!(pool.len(), 3);
        let text = "value-one-1 value-two-2 value-three-3 value-four-4";
        assert_eq!(
            found(&pool, text, t0),
            ["value-one-1", "value-three-3", "value-four-4"]
        );
    }

    #[test]
    fn the_pool_keeps_at_most_max_bytes() {
        let t0 = Instant::now();
        let mut pool = DetectedSecrets::with_limits(limits(100, 24, 3600));
        remember(&mut pool, &["aaaa-1111", "bbbb-2222"], t0);
        assert_eq!(pool.bytes(), 18);
        remember(&mut pool, &["cccc-3333"], t0);
        assert_eq!((pool.len(), pool.bytes()), (2, 18));
        assert_eq!(
            found(&pool, "aaaa-1111 bbbb-2222 cccc-3333", t0),
            ["bbbb-2222", "cccc-3333"]
        );
        // A value bigger than the whole budget is not kept, and drops
        // nothing.
        remember(&mut pool, &["dddddddd-4444-4444-4444-4444"], t0);
        assert_eq!(pool.len(), 2);
    }

    #[test]
    fn values_older_than_the_retention_are_not_found_and_are_dropped() {
        let t0 = Instant::now();
        let mut pool = DetectedSecrets::with_limits(limits(100, 1 << 20, 10));
        remember(&mut pool, &["old-value-111"], t0);
        remember(&mut pool, &["new-value-222"], t0 + Duration::from_secs(6));
        let text = "old-value-111 new-value-222";
        assert_eq!(found(&pool, text, t0 + Duration::from_secs(9)).len(), 2);
        let later = t0 + Duration::from_secs(11);
        assert_eq!(found(&pool, text, later), ["new-value-222"]);
        let g = pool.generation();
        remember(&mut pool, &["third-value-333"], later);
        assert_eq!(pool.len(), 2);
        assert_ne!(pool.generation(), g);
        // Found again in time: kept for another retention.
        remember(&mut pool, &["new-value-222"], t0 + Duration::from_secs(15));
        assert_eq!(
            found(&pool, text, t0 + Duration::from_secs(24)),
            ["new-value-222"]
        );
    }

    #[test]
    fn short_repetitive_and_disabled_values_are_not_remembered() {
        let t0 = Instant::now();
        let mut pool = DetectedSecrets::new();
        let long_repetitive = "xyz".repeat(30);
        remember(&mut pool, &["ab12z", &long_repetitive], t0);
        assert!(pool.is_empty());
        remember(&mut pool, &["abababab", "Zq8-Lw3x"], t0);
        assert_eq!(pool.len(), 2);
        assert_eq!(found(&pool, "abababababab", t0), ["abababababab"]);
        let mut off = DetectedSecrets::with_limits(limits(0, 1 << 20, 3600));
        remember(&mut off, &["Zq8-Lw3x"], t0);
        assert!(off.is_empty());
        assert!(!off.is_match("Zq8-Lw3x"));
        let dbg = format!("{pool:?}");
        assert!(!dbg.contains("Zq8") && dbg.contains("values: 2"), "{dbg}");
    }

    #[test]
    fn every_occurrence_of_a_remembered_value_is_found_on_random_text() {
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let t0 = Instant::now();
        for _ in 0..500 {
            let n = 30 + (next() % 200) as usize;
            let text: String = (0..n)
                .map(|_| ['a', 'b', 'c', 'é'][(next() % 4) as usize])
                .collect();
            let b = text.as_bytes();
            let mut pool = DetectedSecrets::new();
            let mut values: Vec<Vec<u8>> = Vec::new();
            for _ in 0..1 + next() % 5 {
                let mut s = (next() % (b.len() as u64 - 12)) as usize;
                while !text.is_char_boundary(s) {
                    s += 1;
                }
                // 8 to 47 bytes: both indexes, every long stride.
                let mut e = s + 8 + (next() % 40) as usize;
                while e < b.len() && !text.is_char_boundary(e) {
                    e += 1;
                }
                let e = e.min(b.len());
                let f = Finding {
                    rule: rule("r"),
                    start: s,
                    end: e,
                };
                pool.remember_at(b, std::slice::from_ref(&f), t0);
                if pool.lookup(&b[s..e]).is_some() {
                    values.push(b[s..e].to_vec());
                }
            }
            let mut out = Vec::new();
            pool.find_at(b, &mut out, t0);
            let mut got = vec![false; b.len()];
            for f in &out {
                got[f.start..f.end].iter_mut().for_each(|x| *x = true);
            }
            let mut want = vec![false; b.len()];
            for v in &values {
                for s in 0..b.len() {
                    if b[s..].starts_with(v) {
                        want[s..s + v.len()].iter_mut().for_each(|x| *x = true);
                    }
                }
            }
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn remembering_more_findings_than_the_pool_holds_keeps_what_one_by_one_would() {
        let t0 = Instant::now();
        // Values with repeats, some too short to keep, of varied lengths.
        let values: Vec<String> = (0..400u32)
            .map(|i| {
                let n = i.wrapping_mul(2_654_435_761) % 97;
                format!("v{n:02}-{}", "x".repeat((n % 23) as usize))
            })
            .collect();
        let text = values.join(" ");
        let mut at = 0;
        let findings: Vec<Finding> = values
            .iter()
            .map(|v| {
                let f = Finding {
                    rule: rule("r"),
                    start: at,
                    end: at + v.len(),
                };
                at += v.len() + 1;
                f
            })
            .collect();
        for lim in [
            limits(10, 10_000, 60),
            limits(100, 300, 60),
            limits(50, 64, 60),
        ] {
            let mut all = DetectedSecrets::with_limits(lim);
            all.remember_at(&text, &findings, t0);
            let mut one = DetectedSecrets::with_limits(lim);
            for f in &findings {
                one.remember_at(&text, std::slice::from_ref(f), t0);
            }
            assert_eq!(
                (all.len(), all.bytes()),
                (one.len(), one.bytes()),
                "{lim:?}"
            );
            assert_eq!(found(&all, &text, t0), found(&one, &text, t0), "{lim:?}");
            assert!(!all.is_empty());
        }
    }

    #[test]
    fn values_sharing_a_prefix_are_indexed_by_their_rarer_windows() {
        let t0 = Instant::now();
        let mut pool = DetectedSecrets::new();
        let values: Vec<String> = (0..1_000)
            .map(|i| {
                format!(
                    "tok_AAAAAAAA_{:08x}",
                    (i as u32).wrapping_mul(2_654_435_761)
                )
            })
            .collect();
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        for chunk in refs.chunks(50) {
            remember(&mut pool, chunk, t0);
        }
        assert_eq!(pool.len(), 1_000);
        // A text full of the shared prefix: few compares per probe.
        let text = "tok_AAAAAAAA_ ".repeat(5_000);
        take_work();
        assert!(found(&pool, &text, t0).is_empty());
        let w = take_work();
        assert!(
            w <= 2 * text.len() as u64,
            "work {w} for {} bytes",
            text.len()
        );
        let hit = format!("{text}{}", values[777]);
        assert_eq!(found(&pool, &hit, t0), [values[777].clone()]);
    }

    #[test]
    fn a_short_repetitive_value_in_a_text_that_repeats_costs_linear_work() {
        let t0 = Instant::now();
        let mut pool = DetectedSecrets::new();
        let v = "ab".repeat(32); // 64 bytes, period 2
        remember(&mut pool, &[&v], t0);
        assert_eq!(pool.len(), 1);
        let mut work = Vec::new();
        for n in [50_000, 100_000] {
            let text = "ab".repeat(n);
            take_work();
            assert_eq!(found(&pool, &text, t0), std::slice::from_ref(&text));
            work.push(take_work());
        }
        assert!(work[1] <= 2 * work[0] + 100, "work {work:?}");
        assert!(work[1] <= 200_000, "work {work:?}");
    }

    /// A distinct value of `len` letters and digits for each `i`.
    fn token(i: u64, len: usize) -> String {
        let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"[(x % 57) as usize]
                    as char
            })
            .collect()
    }

    /// Every value is found wherever it stands, at every alignment to
    /// the stride.
    fn assert_all_found(pool: &DetectedSecrets, values: &[String], now: Instant) {
        for pad in 0..30 {
            let text = format!("{}{}", ".".repeat(pad), values.join(" - "));
            assert_eq!(found(pool, &text, now), values, "pad {pad}");
        }
    }

    #[test]
    fn the_long_stride_follows_the_shortest_long_value() {
        let t0 = Instant::now();
        let mut pool = DetectedSecrets::new();
        let long = token(1, 40);
        remember(&mut pool, &[&long], t0);
        assert_eq!(pool.long.stride(), LONG_STRIDE_MAX);
        assert_all_found(&pool, std::slice::from_ref(&long), t0);
        // A shorter value narrows the stride; both are found.
        let short = token(2, 16);
        remember(&mut pool, &[&short], t0);
        assert_eq!(pool.long.stride(), 13);
        assert_all_found(&pool, &[long.clone(), short.clone()], t0);
        let mid = token(3, 22);
        remember(&mut pool, &[&mid], t0);
        assert_eq!(pool.long.stride(), 13);
        assert_all_found(&pool, &[long, short, mid], t0);
    }

    #[test]
    fn the_long_stride_widens_again_once_the_short_values_are_gone() {
        let t0 = Instant::now();
        let mut pool = DetectedSecrets::with_limits(limits(50, 1 << 20, 3600));
        remember(&mut pool, &[&token(0, 15)], t0);
        assert_eq!(pool.long.stride(), LONG_STRIDE_MIN);
        let values: Vec<String> = (1..=300).map(|i| token(i, 36)).collect();
        for v in &values {
            remember(&mut pool, &[v], t0);
        }
        assert_eq!(pool.len(), 50);
        assert_eq!(pool.long.stride(), LONG_STRIDE_MAX);
        assert_all_found(&pool, &values[250..], t0);
        assert!(found(&pool, &token(0, 15), t0).is_empty());
    }

    #[test]
    fn an_empty_pool_reads_nothing() {
        let pool = DetectedSecrets::new();
        take_work();
        assert!(!pool.is_match("some text password=hunter22"));
        assert_eq!(take_work(), 0);
    }
}
