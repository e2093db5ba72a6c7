//! The first pass of the rule engine: where does a rule keyword start?
//!
//! A bucketed shift-or filter (the scalar core of Hyperscan's FDR): the
//! keywords' first [`WIDTH`] bytes (their *prefixes*) are spread over 16
//! buckets, and one table lookup per text byte updates a 64-bit state that
//! holds, for each of the last four bytes and each bucket, whether that byte
//! could be at that position of a prefix of the bucket. After each byte, the
//! top 16 bits say which buckets may have a prefix starting three bytes
//! earlier. Case folding is in the table (`A` and `a` have the same entry),
//! so the text is read as it is: no folded copy, no blocks. The state holds
//! only the last four bytes, so the text is cut in two halves searched in
//! one loop, which lets the CPU work on both at once (more parts were
//! measured slower: the loop is bound by its instructions, not by the wait
//! of each step on the one before).
//!
//! The loop tests eight bytes per branch (the AND of their states, which it
//! keeps) and looks at the states of a chunk only when something may start
//! in it: their candidate places are gathered as bits without a branch, so
//! that only real candidates branch (a branch per state, mispredicted at
//! about one candidate in 26 bytes of a log, cost a sixth of a scan).
//!
//! A candidate is first tested exactly against the set of prefixes (a
//! hashed bit set, see [`PrefixSet`]): with a couple of hundred keywords,
//! most of the buckets' candidates start none. The others are confirmed by
//! comparing, ASCII case-insensitively, the keywords of its buckets
//! (longest first). Buckets group prefixes that look
//! alike at each position (`xoxa`, `xoxb`, ...) and mix common letters as
//! little as possible: a bucket's false candidates grow with the product,
//! over the four positions, of how common the bytes it accepts there are,
//! and groups are merged two by two, cheapest merge first, until 16 are
//! left.
//!
//! Any set of keywords works (a keyword shorter than four bytes leaves its
//! last positions open); many keywords only mean more false candidates.

/// Bytes of a keyword the filter looks at.
const WIDTH: usize = 4;
/// Buckets: 16 bits per position in a 64-bit state.
const BUCKETS: usize = 16;
/// The state's top bits: the buckets that may start `WIDTH - 1` bytes back.
const TOP: u32 = (BUCKETS * (WIDTH - 1)) as u32;
/// Most prefixes whose buckets are chosen by merging.
const MERGE_AT_MOST: usize = 160;
/// Most prefixes that are first merged with their neighbours in sorted
/// order down to [`MERGE_AT_MOST`] groups (more are cut into even runs).
const PREMERGE_AT_MOST: usize = 1024;
/// How many groups the neighbour merging leaves (the greedy merging costs
/// the cube of it, once per filter).
const PREMERGE_TO: usize = 112;
/// Bytes tested with one branch.
const CHUNK: usize = 8;
/// Texts of this length or more are searched in [`STREAMS`] parts at once,
/// shorter ones in one.
const STREAMS_FROM: usize = 4096;
const STREAMS: usize = 2;

/// Finds keywords, ASCII case-insensitively, leftmost-longest.
#[derive(Clone)]
pub(super) struct KeywordFilter {
    /// Per byte value: bit `16 * j + b` is clear when the byte may be at
    /// position `j` of a prefix in bucket `b`.
    table: Box<[u64; 256]>,
    /// The entry for a virtual byte past the end of the text: it matches
    /// only open positions (of keywords shorter than four bytes).
    pad: u64,
    /// How many keywords there are.
    keywords: usize,
    /// The prefixes of each bucket.
    buckets: Vec<Vec<Prefix>>,
    /// Which words start with a prefix (the exact test between the
    /// shift-or pass and `confirm`).
    exact: PrefixSet,
    /// The prefix a hashed `(word, length)` may be, as `(bucket << 16 |
    /// index) + 1` into `buckets` (0: none, [`SHARED`]: two prefixes share
    /// the slot, look in the buckets): `confirm` goes straight to the one
    /// prefix that can match instead of walking a bucket of a dozen.
    direct: Box<[u32]>,
    /// No keywords at all.
    empty: bool,
}

/// A keyword prefix: its bytes as a little-endian word (lowercase), which of
/// them count, its length, and the keywords that start with it, longest
/// first.
#[derive(Clone)]
struct Prefix {
    word: u32,
    mask: u32,
    len: u8,
    keywords: Vec<Tail>,
}

impl Prefix {
    /// The longest of this prefix's keywords at the start of `rest`
    /// (which starts with the prefix): its index and length.
    #[inline]
    fn longest_at(&self, rest: &[u8]) -> Option<(usize, usize)> {
        let skip = self.len as usize;
        let after = &rest[skip..];
        let word = lowercase_u64(head_u64(after));
        self.keywords
            .iter()
            .find(|tail| tail.matches(after, word))
            .map(|tail| (tail.keyword as usize, skip + tail.len))
    }
}

/// The bytes of a keyword after its prefix: the first eight as a
/// little-endian word and which of them count (one compare for most
/// keywords: `sk-` has a dozen longer keywords to rule out at each
/// `task-`), the others as they are.
#[derive(Clone)]
struct Tail {
    head: u64,
    head_mask: u64,
    rest: Box<[u8]>,
    len: usize,
    keyword: u32,
}

impl Tail {
    fn new(tail: &[u8], keyword: u32) -> Tail {
        let n = tail.len().min(8);
        let mut head = [0u8; 8];
        head[..n].copy_from_slice(&tail[..n]);
        Tail {
            head: u64::from_le_bytes(head),
            head_mask: if n == 8 { !0 } else { (1u64 << (8 * n)) - 1 },
            rest: tail[n..].into(),
            len: tail.len(),
            keyword,
        }
    }

    /// Whether `after` (the text after the prefix, its first eight bytes
    /// lowercased in `word`) starts with this tail.
    #[inline]
    fn matches(&self, after: &[u8], word: u64) -> bool {
        after.len() >= self.len
            && word & self.head_mask == self.head
            && after[8.min(self.len)..self.len]
                .iter()
                .zip(self.rest.iter())
                .all(|(a, b)| a.to_ascii_lowercase() == *b)
    }
}

impl std::fmt::Debug for KeywordFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeywordFilter")
            .field("keywords", &self.keywords)
            .finish()
    }
}

impl KeywordFilter {
    /// A filter over `keywords` (lowercase, not empty, distinct).
    pub(super) fn new<S: AsRef<str>>(keywords: &[S]) -> KeywordFilter {
        let keywords: Vec<Box<[u8]>> = keywords
            .iter()
            .map(|k| {
                k.as_ref()
                    .as_bytes()
                    .to_ascii_lowercase()
                    .into_boxed_slice()
            })
            .collect();
        // Distinct prefixes, none a prefix of another: a keyword is found
        // through the shortest prefix it starts with (`sk-proj-` through
        // `sk-`).
        let mut prefixes: Vec<&[u8]> = keywords
            .iter()
            .filter(|k| !k.is_empty())
            .map(|k| &k[..k.len().min(WIDTH)])
            .collect();
        prefixes.sort_unstable_by(|a, b| (a.len(), *a).cmp(&(b.len(), *b)));
        prefixes.dedup();
        let all = prefixes.clone();
        prefixes.retain(|p| !all.iter().any(|q| q.len() < p.len() && p.starts_with(q)));
        let bucket_of_prefix = assign_buckets(&prefixes);
        let exact = PrefixSet::new(&prefixes);

        let mut table = Box::new([!0u64; 256]);
        let mut pad = !0u64;
        for (p, &b) in prefixes.iter().zip(&bucket_of_prefix) {
            for j in 0..WIDTH {
                let bit = 1u64 << (BUCKETS * j + b);
                match p.get(j) {
                    Some(&c) => {
                        table[c as usize] &= !bit;
                        table[c.to_ascii_uppercase() as usize] &= !bit;
                    }
                    None => {
                        for e in table.iter_mut() {
                            *e &= !bit;
                        }
                        pad &= !bit;
                    }
                }
            }
        }
        let mut buckets: Vec<Vec<Prefix>> = vec![Vec::new(); BUCKETS];
        // In a bucket, the prefixes most likely in text (`toke`, `sess`) are
        // compared first.
        let alone: Vec<f64> = prefixes.iter().map(|p| bucket_cost(&[p])).collect();
        let mut order: Vec<usize> = (0..prefixes.len()).collect();
        order.sort_by(|&a, &b| alone[b].total_cmp(&alone[a]).then(a.cmp(&b)));
        for (p, &b) in order.iter().map(|&i| (prefixes[i], &bucket_of_prefix[i])) {
            let mut bytes = [0u8; WIDTH];
            bytes[..p.len()].copy_from_slice(p);
            let mut keywords_of: Vec<u32> = (0..keywords.len() as u32)
                .filter(|&k| keywords[k as usize].starts_with(p))
                .collect();
            keywords_of.sort_by_key(|&k| std::cmp::Reverse(keywords[k as usize].len()));
            buckets[b].push(Prefix {
                word: u32::from_le_bytes(bytes),
                mask: if p.len() == WIDTH {
                    !0
                } else {
                    (1u32 << (8 * p.len())) - 1
                },
                len: p.len() as u8,
                keywords: keywords_of
                    .into_iter()
                    .map(|k| Tail::new(&keywords[k as usize][p.len()..], k))
                    .collect(),
            });
        }
        let mut direct = vec![0u32; 1 << DIRECT_LOG2].into_boxed_slice();
        for (b, bucket) in buckets.iter().enumerate() {
            for (i, pre) in bucket.iter().enumerate() {
                let slot = &mut direct[direct_slot(pre.word, pre.len as usize)];
                *slot = match (*slot, u32::try_from(i)) {
                    (0, Ok(i)) if i < 1 << 16 => ((b as u32) << 16 | i) + 1,
                    _ => SHARED,
                };
            }
        }
        KeywordFilter {
            table,
            pad,
            empty: prefixes.is_empty(),
            keywords: keywords.len(),
            buckets,
            exact,
            direct,
        }
    }

    /// Calls `f(start, keyword)` for each keyword in `text`: leftmost-longest,
    /// non-overlapping, ASCII case-insensitive, in order, until `f` returns
    /// `false`.
    #[inline]
    pub(super) fn hits(&self, text: &[u8], mut f: impl FnMut(usize, usize) -> bool) {
        if self.empty {
            return;
        }
        let mut at = 0; // hits must start here or later
        let mut on_candidate = |p: usize, mask: u16| -> bool {
            if p < at {
                return true;
            }
            match self.confirm(text, p, mask) {
                Some((k, len)) => {
                    at = p + len;
                    f(p, k)
                }
                None => true,
            }
        };
        if text.len() < STREAMS_FROM {
            self.streams::<1>(text, &mut on_candidate);
        } else {
            self.streams::<STREAMS>(text, &mut on_candidate);
        }
    }

    /// The last `WIDTH - 1` starts, with virtual bytes past the end.
    #[inline]
    fn tail(&self, text: &[u8], mut d: u64, on: &mut impl FnMut(usize, u16) -> bool) {
        let len = text.len();
        for i in len..len + WIDTH - 1 {
            d = (d << BUCKETS) | self.pad;
            if let Some(mask) = starts(d) {
                let p = i + 1 - WIDTH;
                if self.exact.may_start(text, p) && !on(p, mask) {
                    return;
                }
            }
        }
    }

    /// Candidate starts in `text`, in order: the text is cut in `N` parts
    /// searched in one loop, which lets the CPU work on `N` states at once
    /// (each byte's step waits on the one before in its part); the later
    /// parts' candidates wait in buffers until the parts before are done.
    fn streams<const N: usize>(&self, text: &[u8], on: &mut impl FnMut(usize, u16) -> bool) {
        let t = &*self.table;
        let part = text.len() / N;
        // Part `s` starts at `s * part`; every part but the last also reads
        // the next one's first WIDTH - 1 bytes, so the starts up to the
        // next part's are its own.
        let parts: [&[u8]; N] = std::array::from_fn(|s| {
            let end = if s + 1 == N {
                text.len()
            } else {
                (s + 1) * part + WIDTH - 1
            };
            &text[s * part..end]
        });
        let mut later: [Vec<(usize, u16)>; N] = std::array::from_fn(|_| Vec::new());
        let mut d = [!0u64; N];
        let n = (parts.iter().map(|p| p.len()).min().unwrap_or(0) / CHUNK) * CHUNK;
        for ci in (0..n).step_by(CHUNK) {
            // One bounds check per chunk and part, none per byte.
            let chunks: [&[u8; CHUNK]; N] = std::array::from_fn(|s| {
                parts[s][ci..ci + CHUNK]
                    .try_into()
                    .expect("a chunk below the shortest part's length")
            });
            let mut states = [[0u64; CHUNK]; N];
            let mut all = !0u64;
            for k in 0..CHUNK {
                for s in 0..N {
                    d[s] = step(t, d[s], chunks[s][k]);
                    states[s][k] = d[s];
                    all &= d[s];
                }
            }
            if starts(all).is_none() {
                continue;
            }
            if !self.emit(text, &states[0], ci, on) {
                return;
            }
            for s in 1..N {
                let buf = &mut later[s];
                self.emit(text, &states[s], s * part + ci, &mut |p, mask| {
                    buf.push((p, mask));
                    true
                });
            }
        }
        // Each part's candidates in order: those found in the loop, then
        // its rest.
        for s in 0..N {
            for &(p, mask) in &later[s] {
                if !on(p, mask) {
                    return;
                }
            }
            if !self.feed(text, &mut d[s], &parts[s][n..], s * part + n, on) {
                return;
            }
        }
        self.tail(text, d[N - 1], on);
    }

    /// Calls `on` with the candidate starts of a chunk at `base` in the
    /// text whose states after each byte are `states`, those that pass the
    /// exact prefix test; `false` when `on` asked to stop.
    #[inline(always)]
    fn emit(
        &self,
        text: &[u8],
        states: &[u64; CHUNK],
        base: usize,
        on: &mut impl FnMut(usize, u16) -> bool,
    ) -> bool {
        // The candidate places as bits, without a branch per state: the
        // branches left are one per candidate.
        let mut at: u32 = 0;
        for (k, &d) in states.iter().enumerate() {
            at |= u32::from((d >> TOP) as u16 != 0xFFFF) << k;
        }
        while at != 0 {
            let k = at.trailing_zeros() as usize;
            at &= at - 1;
            let p = base + k + 1 - WIDTH;
            if self.exact.may_start(text, p) && !on(p, !((states[k] >> TOP) as u16)) {
                return false;
            }
        }
        true
    }

    /// Steps through `bytes` (at `base` in the text) one by one, calling
    /// `on` with each candidate start that passes the exact prefix test;
    /// `false` when `on` asked to stop.
    #[inline]
    fn feed(
        &self,
        text: &[u8],
        d: &mut u64,
        bytes: &[u8],
        base: usize,
        on: &mut impl FnMut(usize, u16) -> bool,
    ) -> bool {
        for (k, &c) in bytes.iter().enumerate() {
            *d = step(&self.table, *d, c);
            if let Some(mask) = starts(*d) {
                let p = base + k + 1 - WIDTH;
                if self.exact.may_start(text, p) && !on(p, mask) {
                    return false;
                }
            }
        }
        true
    }

    /// The longest keyword at `text[p..]`, where the buckets in `mask` may
    /// start one. At most one prefix matches at a position (none is a
    /// prefix of another): the direct table names it for each prefix
    /// length, or says to look in the buckets.
    #[inline]
    fn confirm(&self, text: &[u8], p: usize, mask: u16) -> Option<(usize, usize)> {
        let rest = &text[p..];
        let word = head_word(rest);
        for &len in &self.exact.lens[..self.exact.n] {
            if len > rest.len() {
                continue;
            }
            match self.direct[direct_slot(word & len_mask(len), len)] {
                0 => {}
                SHARED => return self.confirm_in_buckets(text, p, mask),
                at => {
                    let at = at - 1;
                    let pre = &self.buckets[(at >> 16) as usize][(at & 0xFFFF) as usize];
                    if pre.len as usize == len && word & pre.mask == pre.word {
                        return pre.longest_at(rest);
                    }
                }
            }
        }
        None
    }

    /// [`confirm`](Self::confirm) by walking the prefixes of the buckets
    /// in `mask`.
    fn confirm_in_buckets(&self, text: &[u8], p: usize, mut mask: u16) -> Option<(usize, usize)> {
        let rest = &text[p..];
        let word = head_word(rest);
        while mask != 0 {
            let b = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            for pre in &self.buckets[b] {
                if word & pre.mask != pre.word {
                    continue;
                }
                return pre.longest_at(rest);
            }
        }
        None
    }
}

/// The prefixes as a set of hashed words: whether some prefix starts at a
/// place, in a few operations, without the buckets' mixing. A bucket
/// accepts at each position every byte that one of its prefixes has
/// there, so with many keywords most of the shift-or pass's candidates
/// (`mple`, `n_id` in a log) start no prefix at all; this test turns them
/// away before `confirm` walks the bucket's prefixes. One bit per hashed
/// `(word, length)` in 2^16 (8 KiB): with a few hundred prefixes, well
/// under one false candidate in a hundred passes. (An exact hash set was
/// slower: its probe loop branches where the bit test does not.)
#[derive(Clone)]
struct PrefixSet {
    bits: Box<[u64]>,
    /// The lengths of the prefixes, longest first (`lens[..n]`).
    lens: [usize; WIDTH],
    n: usize,
}

const PREFIX_BITS_LOG2: u32 = 16;

impl PrefixSet {
    fn new(prefixes: &[&[u8]]) -> PrefixSet {
        let mut bits = vec![0u64; 1 << (PREFIX_BITS_LOG2 - 6)].into_boxed_slice();
        let mut lengths = [false; WIDTH + 1];
        for p in prefixes {
            let mut bytes = [0u8; WIDTH];
            bytes[..p.len()].copy_from_slice(p);
            let h = prefix_hash(u32::from_le_bytes(bytes), p.len());
            bits[h >> 6] |= 1 << (h & 63);
            lengths[p.len()] = true;
        }
        let mut lens = [0; WIDTH];
        let mut n = 0;
        for len in (1..=WIDTH).rev().filter(|&l| lengths[l]) {
            lens[n] = len;
            n += 1;
        }
        PrefixSet { bits, lens, n }
    }

    /// Whether a prefix may start at `text[p..]` (never `false` where one
    /// does).
    #[inline(always)]
    fn may_start(&self, text: &[u8], p: usize) -> bool {
        let rest = &text[p..];
        let word = head_word(rest);
        self.lens[..self.n].iter().any(|&len| {
            len <= rest.len() && {
                let h = prefix_hash(word & len_mask(len), len);
                self.bits[h >> 6] & (1 << (h & 63)) != 0
            }
        })
    }
}

/// The low `len` bytes of a word.
#[inline(always)]
fn len_mask(len: usize) -> u32 {
    if len >= WIDTH {
        !0
    } else {
        (1u32 << (8 * len)) - 1
    }
}

/// Slots of the direct table: 4 Ki (16 KiB), so that a few hundred
/// prefixes seldom share one.
const DIRECT_LOG2: u32 = 12;
/// A direct-table slot that two prefixes hash to.
const SHARED: u32 = u32::MAX;

#[inline(always)]
fn direct_slot(word: u32, len: usize) -> usize {
    prefix_hash(word, len) >> (PREFIX_BITS_LOG2 - DIRECT_LOG2)
}

#[inline(always)]
fn prefix_hash(word: u32, len: usize) -> usize {
    let x = (u64::from(word) | ((len as u64) << 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (x >> (64 - PREFIX_BITS_LOG2)) as usize
}

/// The state after byte `c`.
#[inline(always)]
fn step(table: &[u64; 256], d: u64, c: u8) -> u64 {
    (d << BUCKETS) | table[c as usize]
}

/// The buckets that may have a prefix starting `WIDTH - 1` bytes before the
/// last byte of state `d`, if any.
#[inline(always)]
fn starts(d: u64) -> Option<u16> {
    let top = (d >> TOP) as u16;
    (top != 0xFFFF).then_some(!top)
}

/// The first [`WIDTH`] bytes of `rest`, lowercased, as a little-endian
/// word (zeros past its end).
#[inline(always)]
fn head_word(rest: &[u8]) -> u32 {
    match rest.first_chunk::<WIDTH>() {
        Some(head) => lowercase_word(u32::from_le_bytes(*head)),
        None => {
            let mut head = [0u8; WIDTH];
            for (d, s) in head.iter_mut().zip(rest) {
                *d = s.to_ascii_lowercase();
            }
            u32::from_le_bytes(head)
        }
    }
}

/// The first eight bytes of `bytes` as a little-endian word (zeros past
/// its end).
#[inline(always)]
fn head_u64(bytes: &[u8]) -> u64 {
    match bytes.first_chunk::<8>() {
        Some(head) => u64::from_le_bytes(*head),
        None => {
            let mut head = [0u8; 8];
            head[..bytes.len()].copy_from_slice(bytes);
            u64::from_le_bytes(head)
        }
    }
}

/// `w` with its ASCII capitals lowercased, eight bytes at once.
#[inline]
fn lowercase_u64(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let low7 = w & (0x7f * ONES);
    let ge_a = low7.wrapping_add((0x80 - b'A' as u64) * ONES);
    let gt_z = low7.wrapping_add((0x80 - b'Z' as u64 - 1) * ONES);
    let upper = ge_a & !gt_z & !w & (0x80 * ONES);
    w | (upper >> 2)
}

/// `w` with its ASCII capitals lowercased, four bytes at once.
#[inline]
fn lowercase_word(w: u32) -> u32 {
    const ONES: u32 = 0x0101_0101;
    let low7 = w & (0x7f * ONES);
    let ge_a = low7.wrapping_add((0x80 - b'A' as u32) * ONES);
    let gt_z = low7.wrapping_add((0x80 - b'Z' as u32 - 1) * ONES);
    let upper = ge_a & !gt_z & !w & (0x80 * ONES);
    w | (upper >> 2)
}

/// How often a byte (folded) occurs in log text, in percent, roughly:
/// English letter frequencies, many digits (ids, times) and punctuation.
fn weight(b: u8) -> f64 {
    const LETTERS: [f64; 26] = [
        8.2, 1.5, 2.8, 4.3, 12.7, 2.2, 2.0, 6.1, 7.0, 0.15, 0.8, 4.0, 2.4, 6.7, 7.5, 1.9, 0.1, 6.0,
        6.3, 9.1, 2.8, 1.0, 2.4, 0.15, 2.0, 0.07,
    ];
    match b {
        b'a'..=b'z' => LETTERS[(b - b'a') as usize] * 0.6,
        b'0'..=b'9' => 1.5,
        b' ' => 12.0,
        b'-' | b'_' | b'.' | b':' | b'/' | b'=' | b'"' => 1.5,
        _ => 0.2,
    }
}

/// Expected false candidates of a bucket holding `set`: the product over
/// positions of how common the accepted bytes are (an open position
/// accepts everything).
fn bucket_cost(set: &[&[u8]]) -> f64 {
    if set.is_empty() {
        return 0.0;
    }
    let mut cost = 1.0;
    for j in 0..WIDTH {
        if set.iter().any(|p| p.len() <= j) {
            continue;
        }
        let mut seen = [false; 256];
        let mut sum = 0.0;
        for p in set {
            if !seen[p[j] as usize] {
                seen[p[j] as usize] = true;
                sum += weight(p[j]);
            }
        }
        cost *= (sum / 100.0).min(1.0);
    }
    cost
}

/// The bytes a group of prefixes has at each position (`None`: a prefix of
/// the group is shorter, the position is open), for [`bucket_cost`] of
/// merged groups without listing their members again: the greedy merging
/// asks for the cost of some 16,000 unions at start-up.
#[derive(Clone, Copy)]
struct ByteSets([Option<[u64; 4]>; WIDTH]);

impl ByteSets {
    fn of_group(prefixes: &[&[u8]], group: &[usize]) -> ByteSets {
        let mut sets = [Some([0u64; 4]); WIDTH];
        for &i in group {
            for (j, set) in sets.iter_mut().enumerate() {
                match (prefixes[i].get(j), set.as_mut()) {
                    (Some(&c), Some(bits)) => bits[c as usize >> 6] |= 1 << (c & 63),
                    (None, _) => *set = None,
                    (Some(_), None) => {}
                }
            }
        }
        ByteSets(sets)
    }

    fn union(&self, other: &ByteSets) -> ByteSets {
        ByteSets(std::array::from_fn(|j| match (self.0[j], other.0[j]) {
            (Some(a), Some(b)) => Some(std::array::from_fn(|w| a[w] | b[w])),
            _ => None,
        }))
    }

    /// [`bucket_cost`] of the group.
    fn cost(&self) -> f64 {
        let mut cost = 1.0;
        for bits in self.0.iter().flatten() {
            let mut sum = 0.0;
            for (w, &word) in bits.iter().enumerate() {
                let mut x = word;
                while x != 0 {
                    sum += weight((w * 64 + x.trailing_zeros() as usize) as u8);
                    x &= x - 1;
                }
            }
            cost *= (sum / 100.0).min(1.0);
        }
        cost
    }
}

/// A bucket for each prefix: start with one group per prefix and merge,
/// again and again, the two groups whose merge adds the least cost, until
/// [`BUCKETS`] groups are left.
fn assign_buckets(prefixes: &[&[u8]]) -> Vec<usize> {
    if prefixes.len() > PREMERGE_AT_MOST {
        // Merging costs n^3: with very many (user) keywords, cut the
        // sorted prefixes into even runs instead (neighbours look alike).
        let per = prefixes.len().div_ceil(BUCKETS);
        let mut order: Vec<usize> = (0..prefixes.len()).collect();
        order.sort_by_key(|&i| prefixes[i]);
        let mut out = vec![0; prefixes.len()];
        for (rank, i) in order.into_iter().enumerate() {
            out[i] = rank / per;
        }
        return out;
    }
    let mut groups: Vec<Vec<usize>> = if prefixes.len() > MERGE_AT_MOST {
        premerge(prefixes)
    } else {
        (0..prefixes.len()).map(|i| vec![i]).collect()
    };
    let mut sets: Vec<ByteSets> = groups
        .iter()
        .map(|g| ByteSets::of_group(prefixes, g))
        .collect();
    let mut cost: Vec<f64> = sets.iter().map(ByteSets::cost).collect();
    // grow[i][j] (i < j): how much merging groups i and j adds.
    let mut grow: Vec<Vec<f64>> = (0..groups.len())
        .map(|i| {
            (0..groups.len())
                .map(|j| {
                    if j > i {
                        sets[i].union(&sets[j]).cost() - cost[i] - cost[j]
                    } else {
                        f64::INFINITY
                    }
                })
                .collect()
        })
        .collect();
    while groups.len() > BUCKETS {
        let mut best = (f64::INFINITY, 0, 1);
        for (i, row) in grow.iter().enumerate() {
            for (j, &g) in row.iter().enumerate().skip(i + 1) {
                if g < best.0 {
                    best = (g, i, j);
                }
            }
        }
        let (_, i, j) = best;
        let moved = groups.remove(j);
        groups[i].extend(moved);
        let moved = sets.remove(j);
        sets[i] = sets[i].union(&moved);
        cost.remove(j);
        grow.remove(j);
        for row in &mut grow {
            row.remove(j);
        }
        cost[i] = sets[i].cost();
        for k in 0..groups.len() {
            if k != i {
                let (lo, hi) = (k.min(i), k.max(i));
                grow[lo][hi] = sets[lo].union(&sets[hi]).cost() - cost[lo] - cost[hi];
            }
        }
    }
    let mut out = vec![0; prefixes.len()];
    for (b, g) in groups.iter().enumerate() {
        for &i in g {
            out[i] = b;
        }
    }
    out
}

/// [`PREMERGE_TO`] groups of `prefixes`: in sorted order (neighbours
/// look alike), the two neighbouring groups whose merge adds the least
/// cost are merged, again and again (n^2: a scan per merge).
fn premerge(prefixes: &[&[u8]]) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..prefixes.len()).collect();
    order.sort_by_key(|&i| prefixes[i]);
    let mut groups: Vec<Vec<usize>> = order.into_iter().map(|i| vec![i]).collect();
    let mut sets: Vec<ByteSets> = groups
        .iter()
        .map(|g| ByteSets::of_group(prefixes, g))
        .collect();
    let mut cost: Vec<f64> = sets.iter().map(ByteSets::cost).collect();
    let grow_at = |sets: &[ByteSets], cost: &[f64], i: usize| {
        sets[i].union(&sets[i + 1]).cost() - cost[i] - cost[i + 1]
    };
    // grow[i]: what merging groups i and i + 1 adds.
    let mut grow: Vec<f64> = (0..groups.len() - 1)
        .map(|i| grow_at(&sets, &cost, i))
        .collect();
    while groups.len() > PREMERGE_TO {
        let i = (0..grow.len())
            .min_by(|&a, &b| grow[a].total_cmp(&grow[b]))
            .expect("two groups or more");
        let next = groups.remove(i + 1);
        groups[i].extend(next);
        let next = sets.remove(i + 1);
        sets[i] = sets[i].union(&next);
        cost.remove(i + 1);
        cost[i] = sets[i].cost();
        grow.remove(i);
        if i < grow.len() {
            grow[i] = grow_at(&sets, &cost, i);
        }
        if i > 0 {
            grow[i - 1] = grow_at(&sets, &cost, i - 1);
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Leftmost-longest hits by brute force.
    fn naive(keywords: &[&str], text: &[u8]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < text.len() {
            let best = keywords
                .iter()
                .enumerate()
                .filter(|(_, k)| {
                    !k.is_empty()
                        && text.len() - i >= k.len()
                        && text[i..i + k.len()].eq_ignore_ascii_case(k.as_bytes())
                })
                .max_by_key(|(_, k)| k.len());
            match best {
                Some((ki, k)) => {
                    out.push((i, ki));
                    i += k.len();
                }
                None => i += 1,
            }
        }
        out
    }

    fn hits(filter: &KeywordFilter, text: &[u8]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        filter.hits(text, |p, k| {
            out.push((p, k));
            true
        });
        out
    }

    #[test]
    fn hits_are_leftmost_longest_in_any_case_and_at_both_ends() {
        let kws = ["sk-", "sk-proj-", "token", "a", "pk", "xoxb-", "://"];
        let f = KeywordFilter::new(&kws);
        for text in [
            "sk-",
            "a",
            "SK-PROJ-abc Token tok pk",
            "xsk-proj-x://y XOXB-1 pk",
            "tokentoken sk",
            "",
        ] {
            assert_eq!(
                hits(&f, text.as_bytes()),
                naive(&kws, text.as_bytes()),
                "{text:?}"
            );
        }
    }

    #[test]
    fn long_texts_searched_in_parts_give_the_same_hits() {
        let kws = ["passw", "token", "sk-", "ghp_", "ab", "x"];
        let f = KeywordFilter::new(&kws);
        let unit = "lorem token ipsum PASSWORD=1 ghp_xyz sk-a tokensk- abx ";
        for len in [4095, 4096, 4097, 10_000, 10_001] {
            let text: String = unit.chars().cycle().take(len).collect();
            // Keywords across the middle and at the very end.
            for end in ["", "sk-", "x", "ab", "tok"] {
                let t = format!("{text}{end}");
                assert_eq!(
                    hits(&f, t.as_bytes()),
                    naive(&kws, t.as_bytes()),
                    "len {len} end {end:?}"
                );
            }
        }
    }

    #[test]
    fn words_are_lowercased_like_the_standard_library_does() {
        for w in [*b"AZaz", *b"@[`{", *b"\xc3\x89Q-", *b"\xffA\x80z", *b"Tok3"] {
            let want = u32::from_le_bytes(w.map(|c| c.to_ascii_lowercase()));
            assert_eq!(lowercase_word(u32::from_le_bytes(w)), want, "{w:?}");
        }
        for c in 0..=255u8 {
            let w = u32::from_le_bytes([c, b'A', c, b'z']);
            let want = u32::from_le_bytes([c, b'A', c, b'z'].map(|c| c.to_ascii_lowercase()));
            assert_eq!(lowercase_word(w), want, "{c}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Random keyword sets (1 to 9 bytes, a small alphabet so that they
        /// overlap and share prefixes) over random texts, short (one
        /// stream) and long (two halves): the same hits as brute force.
        #[test]
        fn hits_agree_with_brute_force(
            kws in proptest::collection::btree_set("[abAB_-]{1,9}", 1..40),
            unit in "[abcAB_ -]{1,64}",
            reps in 1usize..200,
        ) {
            let kws: Vec<String> = kws.into_iter().map(|k| k.to_ascii_lowercase()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
            let refs: Vec<&str> = kws.iter().map(String::as_str).collect();
            let f = KeywordFilter::new(&refs);
            let text = unit.repeat(reps);
            proptest::prop_assert_eq!(hits(&f, text.as_bytes()), naive(&refs, text.as_bytes()));
        }
    }

    #[test]
    fn the_prefix_set_admits_every_prefix_in_any_case_and_few_other_words() {
        let prefixes: Vec<&[u8]> = vec![b"toke", b"sk-", b"-u", b"x", b"@ent"];
        let set = PrefixSet::new(&prefixes);
        for p in &prefixes {
            for text in [
                p.to_vec(),
                p.to_ascii_uppercase(),
                [p, &b"tail"[..]].concat(),
            ] {
                assert!(
                    set.may_start(&text, 0),
                    "{:?}",
                    String::from_utf8_lossy(&text)
                );
                let padded = [&b"ab "[..], &text].concat();
                assert!(set.may_start(&padded, 3));
            }
        }
        // Words that start no prefix: at most a few false admissions.
        let others = (0..10_000u32)
            .map(|i| format!("{:04}", i).into_bytes())
            .filter(|w| set.may_start(w, 0))
            .count();
        assert!(others < 100, "{others} of 10,000 digit words admitted");
        // A prefix cut by the end of the text is not there.
        assert!(!set.may_start(b"tok", 0));
    }

    #[test]
    fn the_cost_of_byte_sets_is_the_cost_of_their_prefixes() {
        let prefixes: Vec<&[u8]> = vec![b"toke", b"sess", b"sk-", b"auth", b"ghp_", b"x", b"tok"];
        for a in 0..prefixes.len() {
            for b in a..prefixes.len() {
                let group = [a, b];
                let want = bucket_cost(&[prefixes[a], prefixes[b]]);
                let got = ByteSets::of_group(&prefixes, &group).cost();
                let merged = ByteSets::of_group(&prefixes, &[a])
                    .union(&ByteSets::of_group(&prefixes, &[b]))
                    .cost();
                assert!(
                    (want - got).abs() < 1e-12 && (want - merged).abs() < 1e-12,
                    "{a} {b}"
                );
            }
        }
    }

    #[test]
    fn stopping_early_stops_the_search() {
        let f = KeywordFilter::new(&["key"]);
        let text = "key ".repeat(5000);
        let mut n = 0;
        f.hits(text.as_bytes(), |_, _| {
            n += 1;
            n < 3
        });
        assert_eq!(n, 3);
    }

    #[test]
    fn thousands_of_keywords_are_bucketed_without_merging_and_all_found() {
        let kws: Vec<String> = (0..3000).map(|i| format!("{i:04x}z")).collect();
        let refs: Vec<&str> = kws.iter().map(String::as_str).collect();
        let f = KeywordFilter::new(&refs);
        let text: String = kws
            .iter()
            .step_by(7)
            .map(|k| format!("{} ", k.to_uppercase()))
            .collect();
        let found = hits(&f, text.as_bytes());
        assert_eq!(found, naive(&refs, text.as_bytes()));
        assert_eq!(found.len(), kws.len().div_ceil(7));
    }

    #[test]
    fn many_keywords_share_buckets_and_are_all_found() {
        let kws: Vec<String> = (0..300).map(|i| format!("kw{i:03}_")).collect();
        let refs: Vec<&str> = kws.iter().map(String::as_str).collect();
        let f = KeywordFilter::new(&refs);
        let text: String = kws
            .iter()
            .rev()
            .map(|k| format!("{} KW{}", k, &k[2..]))
            .collect();
        assert_eq!(hits(&f, text.as_bytes()), naive(&refs, text.as_bytes()));
    }
}
