//! A sampled index of 4-byte windows: where in a text may a value of a
//! [`DetectedSecrets`](super::DetectedSecrets) pool start?
//!
//! Each value is indexed by `stride` consecutive 4-byte windows of its.
//! A text is read at every `stride`-th byte only: wherever a value of at
//! least `stride + 3` bytes occurs, one of its indexed windows lies at
//! such a place. Each sampled window costs one 4-byte load and a bit test;
//! only a set bit looks the window up and hands the values that hold it
//! there to the caller to compare.
//!
//! The stride is what a scan costs: a pool of long values (tokens, keys)
//! is read at every 12th to 28th byte (the shortest value's length less
//! three), a pool that holds a short password at every third. So the pool
//! keeps two indexes, one per length class, and the short one costs
//! nothing while it is empty.

use foldhash::HashMap as FastMap;

pub(super) struct WindowIndex {
    stride: usize,
    /// A 4-byte window -> `(slot, offset of the window in the value)`.
    grams: FastMap<u32, Vec<(u32, u32)>>,
    /// One bit per hashed window in `grams` (bits of removed windows stay
    /// set until `stale` says to rebuild).
    bits: Vec<u64>,
    shift: u32,
    stale: usize,
    values: usize,
}

impl WindowIndex {
    /// An empty index for up to `max_values` values, read every `stride`
    /// bytes.
    pub(super) fn new(stride: usize, max_values: usize) -> WindowIndex {
        // About 64 bits per indexed window, between 4 Ki and 16 Mi bits:
        // a false bit in 64 probes. The set is read at every 3rd to 28th
        // byte only, so its place in the second-level cache cost less
        // than the mispredicted branches of a denser one (16 bits per
        // window, which fit the first level, were measured 3% slower on
        // a whole scan).
        let windows = max_values.min(1 << 20) * stride;
        let log2 = (windows.max(1) * 64)
            .next_power_of_two()
            .trailing_zeros()
            .clamp(12, 24);
        WindowIndex {
            stride,
            grams: FastMap::default(),
            bits: vec![0; 1 << (log2 - 6)],
            shift: 32 - log2,
            stale: 0,
            values: 0,
        }
    }

    /// The shortest value this index can hold, in bytes.
    pub(super) fn min_len(&self) -> usize {
        4 + self.stride - 1
    }

    /// Every how many bytes a text is read.
    pub(super) fn stride(&self) -> usize {
        self.stride
    }

    pub(super) fn is_empty(&self) -> bool {
        self.values == 0
    }

    /// Where `v` (at least [`min_len`](Self::min_len) bytes) would be
    /// indexed: the offset of the first of the `stride` consecutive
    /// windows that the fewest values share, and how many values share
    /// them in all (each shared window costs a compare per value holding
    /// it wherever the text has it).
    pub(super) fn best_span(&self, v: &[u8]) -> (u32, usize) {
        let shared: Vec<usize> = (0..=v.len() - 4)
            .map(|o| self.grams.get(&word(v, o)).map_or(0, Vec::len))
            .collect();
        let mut sum: usize = shared[..self.stride].iter().sum();
        let (mut at, mut best) = (0, sum);
        for o in 1..=shared.len() - self.stride {
            if best == 0 {
                break;
            }
            sum = sum + shared[o + self.stride - 1] - shared[o - 1];
            if sum < best {
                (at, best) = (o, sum);
            }
        }
        (at as u32, best)
    }

    /// Indexes `v` as slot `id` at offset `at` (what
    /// [`best_span`](Self::best_span) gave).
    pub(super) fn insert(&mut self, id: u32, v: &[u8], at: u32) {
        let at = at as usize;
        for k in 0..self.stride {
            let w = word(v, at + k);
            self.grams.entry(w).or_default().push((id, (at + k) as u32));
            self.set_bit(w);
        }
        self.values += 1;
    }

    /// Removes slot `id`, value `v` indexed at offset `at`.
    pub(super) fn remove(&mut self, id: u32, v: &[u8], at: u32) {
        for k in 0..self.stride {
            let w = word(v, at as usize + k);
            if let Some(list) = self.grams.get_mut(&w) {
                list.retain(|&(i, _)| i != id);
                if list.is_empty() {
                    self.grams.remove(&w);
                    self.stale += 1;
                }
            }
        }
        self.values -= 1;
        if self.stale > self.grams.len() + 64 {
            // Clear the bits of removed windows: rebuild from the index.
            self.bits.iter_mut().for_each(|b| *b = 0);
            let keys: Vec<u32> = self.grams.keys().copied().collect();
            for w in keys {
                self.set_bit(w);
            }
            self.stale = 0;
        }
    }

    /// Calls `verify(p, holders)` for each sampled place `p` of `b` whose
    /// window is indexed, with the `(slot, offset)` pairs that hold it: a
    /// value held at offset `off` may start at `p - off`.
    #[inline]
    pub(super) fn probe(&self, b: &[u8], mut verify: impl FnMut(usize, &[(u32, u32)])) {
        if self.values == 0 || b.len() < self.min_len() {
            return;
        }
        let stride = self.stride;
        let mut check = |p: usize, w: u32| {
            if let Some(list) = self.grams.get(&w) {
                verify(p, list);
            }
        };
        let mut p = 0;
        // Four probes per round: one branch covers them when no bit is
        // set (the usual case).
        let round = 4 * stride;
        while p + round < b.len() {
            let w = [
                word(b, p),
                word(b, p + stride),
                word(b, p + 2 * stride),
                word(b, p + 3 * stride),
            ];
            if self.bit(w[0]) | self.bit(w[1]) | self.bit(w[2]) | self.bit(w[3]) {
                for (k, w) in w.into_iter().enumerate() {
                    if self.bit(w) {
                        check(p + k * stride, w);
                    }
                }
            }
            p += round;
        }
        while p + 4 <= b.len() {
            let w = word(b, p);
            if self.bit(w) {
                check(p, w);
            }
            p += stride;
        }
        #[cfg(test)]
        super::testing::add_work(b.len() / stride);
    }

    #[inline(always)]
    fn bit(&self, w: u32) -> bool {
        let h = hash(w, self.shift);
        self.bits[(h >> 6) & (self.bits.len() - 1)] & (1 << (h & 63)) != 0
    }

    fn set_bit(&mut self, w: u32) {
        let h = hash(w, self.shift);
        let n = self.bits.len();
        self.bits[(h >> 6) & (n - 1)] |= 1 << (h & 63);
    }
}

#[inline(always)]
fn word(b: &[u8], p: usize) -> u32 {
    match b[p..].first_chunk::<4>() {
        Some(w) => u32::from_le_bytes(*w),
        None => 0,
    }
}

#[inline(always)]
fn hash(w: u32, shift: u32) -> usize {
    (w.wrapping_mul(0x9E37_79B1) >> shift) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every place where a value occurs is reported, whatever its
    /// alignment to the stride.
    #[test]
    fn every_occurrence_of_a_value_is_probed_at_every_alignment() {
        for stride in [3, 12] {
            let mut index = WindowIndex::new(stride, 10);
            let value = b"Zq8Lw3xPt7vR2mKd9"; // 17 bytes
            let (at, _) = index.best_span(value);
            index.insert(7, value, at);
            for pad in 0..2 * stride {
                let mut text = vec![b'.'; pad];
                text.extend_from_slice(value);
                text.extend_from_slice(b" tail");
                let mut starts = Vec::new();
                index.probe(&text, |p, holders| {
                    for &(id, off) in holders {
                        assert_eq!(id, 7);
                        if let Some(s) = p.checked_sub(off as usize) {
                            starts.push(s);
                        }
                    }
                });
                assert!(
                    starts.contains(&pad),
                    "stride {stride}, value at {pad} (indexed at {at}): {starts:?}"
                );
            }
        }
    }

    #[test]
    fn a_removed_value_is_no_longer_probed() {
        let mut index = WindowIndex::new(12, 10);
        let value = b"Zq8Lw3xPt7vR2mKd9";
        let (at, _) = index.best_span(value);
        index.insert(1, value, at);
        index.remove(1, value, at);
        assert!(index.is_empty());
        let mut calls = 0;
        index.probe(b"xx Zq8Lw3xPt7vR2mKd9 yy", |_, _| calls += 1);
        assert_eq!(calls, 0);
    }

    #[test]
    fn the_least_shared_windows_are_indexed() {
        let mut index = WindowIndex::new(3, 10);
        let (at, shared) = index.best_span(b"abcdefgh");
        assert_eq!((at, shared), (0, 0));
        index.insert(1, b"abcdefgh", at);
        // The second value shares `abcd`, `bcde`, `cdef` with the first
        // at its start: its indexed windows are its last three.
        assert_eq!(index.best_span(b"abcdefXYZ"), (3, 0));
        // One that shares all but one of its windows.
        assert_eq!(index.best_span(b"abcdefg"), (1, 2));
    }
}
