//! Copies: once a secret is found on a line, every other occurrence of it
//! on that line is a finding too (`token = 'S' | 'S'` masks both `S`).
//!
//! [`RuleSet::find`](super::RuleSet::find) runs this pass after it has
//! merged its candidates: one search over each line that holds findings
//! (a finding across lines, a PEM key, takes all of its lines as one) for
//! the distinct secret strings of its findings, whatever their number, so
//! the cost stays linear in those lines (not one search per finding), and
//! the clean lines of a text (most of a log block) are not read again.
//! Copies on other lines are the [`DetectedSecrets`](super::DetectedSecrets)
//! pool's work: it is given the findings and searches the whole stream.
//!
//! The search is exact: every byte of every occurrence is covered, also
//! where occurrences overlap each other (a value whose end is another
//! value's start, a value that repeats itself). A leftmost-longest search
//! reports non-overlapping matches and can leave the tail of an
//! overlapping occurrence in clear; instead, one Aho-Corasick automaton
//! (standard semantics) is walked byte by byte and, at each position, the
//! longest value ending there is taken: the union of those spans covers
//! every occurrence of every value. Walking the automaton is one state
//! transition per byte; in its start state the walk jumps with `memchr`
//! to the next byte that can begin a value. The longest value of each
//! automaton state is worked out once per state.
//!
//! Values shorter than [`MIN_COPY_LEN`] characters are masked where they
//! were found, but their copies are not searched: a two-character
//! `pwd=ab` must not mask every `ab` of the line.
//!
//! Nothing extra runs when there are no findings (clean text), and a text
//! whose one value occurs only where it was found costs one `memmem`
//! search and no automaton.

use aho_corasick::automaton::Automaton;
use aho_corasick::nfa::contiguous::NFA;
use aho_corasick::{Anchored, MatchKind};
use foldhash::HashMap as FastMap;

use super::rule::{Finding, RuleId};

/// The minimum length, in characters, of a found secret whose copies are
/// searched and masked too (the masking layer's default minimum length of
/// a known value, [`DEFAULT_MIN_LEN`](crate::masking::DEFAULT_MIN_LEN)).
/// A shorter value is masked only where a rule found it.
pub const MIN_COPY_LEN: usize = 6;

/// Whether copies of `value` are searched: at least [`MIN_COPY_LEN`]
/// characters.
pub(super) fn long_enough(value: &[u8]) -> bool {
    // Counting characters only matters below 4 bytes per character.
    value.len() >= 4 * MIN_COPY_LEN
        || value.iter().filter(|&&b| (b & 0xC0) != 0x80).count() >= MIN_COPY_LEN
}

/// Adds the copies of the findings `out[from..]` of `text` (sorted, not
/// overlapping) to them: every other occurrence of a found secret becomes
/// a finding named after the rule of the original; a copy that overlaps
/// a finding is merged into it (the finding keeps its rule).
pub(super) fn add_copies(text: &str, out: &mut Vec<Finding>, from: usize) {
    if out.len() <= from {
        return;
    }
    let bytes = text.as_bytes();
    // The findings in order, cut in runs that share lines: each run is
    // searched in its lines only.
    let mut result: Option<Vec<Finding>> = None;
    let mut i = from;
    while i < out.len() {
        let rs = memchr::memrchr(b'\n', &bytes[..out[i].start]).map_or(0, |p| p + 1);
        let mut re = line_end(bytes, out[i].end);
        #[cfg(test)]
        super::testing::add_work(out[i].start - rs + re - out[i].end);
        let mut j = i + 1;
        while j < out.len() && out[j].start < re {
            // Only a finding that runs past the line (a PEM key) moves the
            // end: looking for the line's end from every finding of a long
            // line would read it once per finding.
            if out[j].end > re {
                re = line_end(bytes, out[j].end);
                #[cfg(test)]
                super::testing::add_work(re - out[j].end);
            }
            j += 1;
        }
        match copies_in_lines(bytes, rs, re, &out[i..j]) {
            Some(merged) => result
                .get_or_insert_with(|| out[from..i].to_vec())
                .extend(merged),
            None => {
                if let Some(r) = result.as_mut() {
                    r.extend_from_slice(&out[i..j]);
                }
            }
        }
        i = j;
    }
    if let Some(merged) = result {
        out.truncate(from);
        out.extend(merged);
    }
}

/// Where the line of a finding that ends at `end` ends: the first `\n` at
/// or after `end`, or the text's end.
fn line_end(bytes: &[u8], end: usize) -> usize {
    memchr::memchr(b'\n', &bytes[end..]).map_or(bytes.len(), |p| end + p)
}

/// The findings `found` of the lines `bytes[rs..re]` with the copies there
/// of their values added (in text offsets), or `None` when there are none
/// to add.
fn copies_in_lines(bytes: &[u8], rs: usize, re: usize, found: &[Finding]) -> Option<Vec<Finding>> {
    let lines = &bytes[rs..re];
    // The distinct values, with the rule of their first finding.
    let mut values: Vec<(&[u8], &RuleId)> = Vec::new();
    let mut seen: FastMap<&[u8], ()> = FastMap::default();
    for f in found {
        let v = &bytes[f.start..f.end];
        if long_enough(v) && seen.insert(v, ()).is_none() {
            values.push((v, &f.rule));
        }
    }
    if values.is_empty() {
        return None;
    }
    let local: Vec<Finding> = found
        .iter()
        .map(|f| Finding {
            rule: f.rule.clone(),
            start: f.start - rs,
            end: f.end - rs,
        })
        .collect();
    if values.len() == 1 && only_where_found(lines, values[0].0, &local) {
        return None;
    }
    let copies = cover(lines, &values);
    let mut merged = union(&local, copies)?;
    for f in &mut merged {
        f.start += rs;
        f.end += rs;
    }
    Some(merged)
}

/// Whether `value` occurs in `text` only at the starts of findings that
/// are exactly it (then there is no copy to add). One forward `memmem`
/// search, stopping at the first other occurrence.
fn only_where_found(text: &[u8], value: &[u8], found: &[Finding]) -> bool {
    let finder = memchr::memmem::Finder::new(value);
    let mut starts = found
        .iter()
        .filter(|f| &text[f.start..f.end] == value)
        .map(|f| f.start)
        .peekable();
    let mut at = 0;
    while let Some(p) = finder.find(&text[at..]) {
        let p = at + p;
        #[cfg(test)]
        super::testing::add_work(p + value.len() - at);
        while starts.next_if(|&s| s < p).is_some() {}
        if starts.next_if_eq(&p).is_none() {
            return false;
        }
        at = p + 1;
    }
    #[cfg(test)]
    super::testing::add_work(text.len() - at.min(text.len()));
    true
}

/// Up to this many values are searched with an automaton; more (a hostile
/// line of thousands of `password=` values) by their windows, see
/// [`cover`]: building an automaton of 47,000 values per MiB cost a
/// hundred times the search.
const AUTOMATON_AT_MOST: usize = 16;
/// Bytes of the window by which a value is indexed (every value searched
/// has at least [`MIN_COPY_LEN`] characters, so at least this many bytes).
const WINDOW: usize = MIN_COPY_LEN;
/// Most values indexed by one window: a value whose every window is held
/// by this many already is searched with the automaton instead, so that
/// a place of the text is compared with at most this many values.
const HOLDERS_AT_MOST: usize = 4;

/// The union of the occurrences of `values` in `text`, as spans in order
/// that do not overlap, each named after the rule of the value that
/// starts it. Exact: every byte of every occurrence is in a span.
///
/// Many values are each indexed by their [`WINDOW`]-byte window that the
/// fewest others share (a hash map, and a bit set in front of it); every
/// place of the text is tested against the bit set, and a set bit compares
/// the few values holding that window where they would start. Values that
/// share all their windows with others (a line of near-identical values)
/// go to the automaton, whose trie they then keep small.
pub(super) fn cover(text: &[u8], values: &[(&[u8], &RuleId)]) -> Vec<Finding> {
    if values.len() <= AUTOMATON_AT_MOST {
        return cover_with_automaton(text, values);
    }
    #[cfg(test)]
    super::testing::add_work(values.iter().map(|(v, _)| v.len()).sum::<usize>() + text.len());
    // Window -> how many values hold it, and `(value, offset)` of each.
    type Holders = (usize, [(u32, u32); HOLDERS_AT_MOST]);
    let mut index: FastMap<u64, Holders> = FastMap::default();
    index.reserve(values.len());
    let mut heavy: Vec<(&[u8], &RuleId)> = Vec::new();
    for (vi, &(v, rule)) in values.iter().enumerate() {
        let mut best = (usize::MAX, 0);
        for o in 0..=v.len() - WINDOW {
            let n = index.get(&window(v, o)).map_or(0, |h| h.0);
            if n < best.0 {
                best = (n, o);
                if n == 0 {
                    break;
                }
            }
        }
        if best.0 >= HOLDERS_AT_MOST {
            heavy.push((v, rule));
            continue;
        }
        let w = window(v, best.1);
        let h = index.entry(w).or_insert((0, [(0, 0); HOLDERS_AT_MOST]));
        h.1[h.0] = (vi as u32, best.1 as u32);
        h.0 += 1;
    }
    // About 16 bits per window, so that few places look the map up.
    let log2 = (index.len() * 16)
        .next_power_of_two()
        .trailing_zeros()
        .clamp(12, 24);
    let mut bits = vec![0u64; 1 << (log2 - 6)];
    for &w in index.keys() {
        let h = window_hash(w, log2);
        bits[h >> 6] |= 1 << (h & 63);
    }
    let mut found: Vec<Finding> = Vec::new();
    for p in 0..(text.len() + 1).saturating_sub(WINDOW) {
        let w = match text.get(p..p + 8) {
            Some(eight) => {
                u64::from_le_bytes(eight.try_into().expect("8 bytes")) & ((1 << (8 * WINDOW)) - 1)
            }
            None => window(text, p),
        };
        let h = window_hash(w, log2);
        if bits[h >> 6] & (1 << (h & 63)) == 0 {
            continue;
        }
        let Some(&(n, list)) = index.get(&w) else {
            continue;
        };
        for &(vi, off) in &list[..n] {
            let (v, rule) = values[vi as usize];
            let Some(s) = p.checked_sub(off as usize) else {
                continue;
            };
            if text.get(s..s + v.len()) == Some(v) {
                found.push(Finding {
                    rule: rule.clone(),
                    start: s,
                    end: s + v.len(),
                });
            }
        }
    }
    if !heavy.is_empty() {
        found.extend(cover_with_automaton(text, &heavy));
    }
    // Union of the spans, each named after the one that starts it.
    found.sort_by_key(|f| (f.start, std::cmp::Reverse(f.end)));
    let mut out: Vec<Finding> = Vec::with_capacity(found.len());
    for f in found {
        match out.last_mut() {
            Some(top) if f.start < top.end => top.end = top.end.max(f.end),
            _ => out.push(f),
        }
    }
    out
}

/// The [`WINDOW`] bytes of `b` at `o` as an integer.
#[inline(always)]
fn window(b: &[u8], o: usize) -> u64 {
    let mut w = [0u8; 8];
    w[..WINDOW].copy_from_slice(&b[o..o + WINDOW]);
    u64::from_le_bytes(w)
}

#[inline(always)]
fn window_hash(w: u64, log2: u32) -> usize {
    (w.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - log2)) as usize
}

/// [`cover`] with one Aho-Corasick automaton of the values.
fn cover_with_automaton(text: &[u8], values: &[(&[u8], &RuleId)]) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    let Ok(nfa) = NFA::builder()
        .match_kind(MatchKind::Standard)
        .prefilter(false)
        .build(values.iter().map(|(v, _)| v))
    else {
        // Too many states for the automaton's ids (gigabytes of values):
        // the findings stay as they are.
        return out;
    };
    #[cfg(test)]
    super::testing::add_work(values.iter().map(|(v, _)| v.len()).sum::<usize>() + text.len());
    let Ok(start) = nfa.start_state(Anchored::No) else {
        return out;
    };
    // The bytes that can begin a value: the walk skips the others while
    // it is in the start state.
    let mut first = [false; 256];
    let mut firsts: Vec<u8> = Vec::new();
    for (v, _) in values {
        if !first[v[0] as usize] {
            first[v[0] as usize] = true;
            firsts.push(v[0]);
        }
    }
    let skip = |at: usize| -> Option<usize> {
        let rest = &text[at..];
        let p = match firsts[..] {
            [a] => memchr::memchr(a, rest),
            [a, b] => memchr::memchr2(a, b, rest),
            [a, b, c] => memchr::memchr3(a, b, c, rest),
            _ => rest.iter().position(|&x| first[x as usize]),
        };
        p.map(|p| at + p)
    };
    // State -> (longest value ending there, its pattern).
    let mut longest: FastMap<u32, (usize, usize)> = FastMap::default();
    let mut sid = start;
    let mut i = 0;
    while i < text.len() {
        if sid == start {
            match skip(i) {
                Some(p) => i = p,
                None => break,
            }
        }
        sid = nfa.next_state(Anchored::No, sid, text[i]);
        i += 1;
        if !nfa.is_match(sid) {
            continue;
        }
        let (len, pid) = *longest.entry(sid.as_u32()).or_insert_with(|| {
            (0..nfa.match_len(sid))
                .map(|k| {
                    let pid = nfa.match_pattern(sid, k);
                    (nfa.pattern_len(pid), pid.as_usize())
                })
                .max()
                .unwrap_or((0, 0))
        });
        if len == 0 {
            continue;
        }
        // Ends only grow: a new span absorbs the spans it overlaps, and
        // is named after the one that starts first.
        let mut s = i - len;
        let mut rule = values[pid].1.clone();
        while out.last().is_some_and(|top| top.end > s) {
            let top = out.pop().expect("a last span");
            if top.start <= s {
                s = top.start;
                rule = top.rule;
            }
        }
        out.push(Finding {
            rule,
            start: s,
            end: i,
        });
    }
    out
}

/// `found` (sorted, not overlapping) and `copies` (the same) merged:
/// overlapping spans become one, named after the finding among them (or
/// the first copy). `None` when every copy lies inside a finding.
pub(super) fn union(found: &[Finding], copies: Vec<Finding>) -> Option<Vec<Finding>> {
    let mut j = 0;
    let inside = copies.iter().all(|c| {
        while j < found.len() && found[j].end <= c.start {
            j += 1;
        }
        j < found.len() && found[j].start <= c.start && c.end <= found[j].end
    });
    if inside {
        return None;
    }
    // (span, from a finding)
    let mut all: Vec<(Finding, bool)> = Vec::with_capacity(found.len() + copies.len());
    let (mut a, mut b) = (found.iter().peekable(), copies.into_iter().peekable());
    loop {
        let take_found = match (a.peek(), b.peek()) {
            (Some(f), Some(c)) => f.start <= c.start,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if take_found {
            all.push((a.next().expect("peeked").clone(), true));
        } else {
            all.push((b.next().expect("peeked"), false));
        }
    }
    let mut out: Vec<Finding> = Vec::with_capacity(all.len());
    let mut cur: Option<(Finding, bool)> = None;
    for (f, orig) in all {
        match &mut cur {
            Some((c, corig)) if f.start < c.end => {
                c.end = c.end.max(f.end);
                if orig && !*corig {
                    c.rule = f.rule;
                    *corig = true;
                }
            }
            _ => {
                if let Some((c, _)) = cur.take() {
                    out.push(c);
                }
                cur = Some((f, orig));
            }
        }
    }
    if let Some((c, _)) = cur {
        out.push(c);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::detect::RuleSet;
    use crate::detect::testing::{spans, take_work};

    const PAT: &str = "ghp_b5h9M344OTFAQdfeb4g0MRcoIztgBqkFLglB"; // secret-chain:allow
    const STRIPE: &str = "sk_live_OGAucWtJGXdfhxnmrl8kc5S6"; // secret-chain:allow

    fn rule(id: &str) -> RuleId {
        RuleId(Arc::from(id))
    }

    /// The spans of `cover` as (start, end, rule).
    fn covered(text: &str, values: &[(&str, &str)]) -> Vec<(usize, usize, String)> {
        let ids: Vec<RuleId> = values.iter().map(|(_, r)| rule(r)).collect();
        let vals: Vec<(&[u8], &RuleId)> = values
            .iter()
            .zip(&ids)
            .map(|((v, _), r)| (v.as_bytes(), r))
            .collect();
        cover(text.as_bytes(), &vals)
            .into_iter()
            .map(|f| (f.start, f.end, f.rule.as_str().to_string()))
            .collect()
    }

    /// Every byte of every occurrence of every value, the slow way.
    fn covered_by_brute_force(text: &[u8], values: &[&[u8]]) -> Vec<bool> {
        let mut c = vec![false; text.len()];
        for v in values {
            for s in 0..text.len() {
                if text[s..].starts_with(v) {
                    c[s..s + v.len()].iter_mut().for_each(|b| *b = true);
                }
            }
        }
        c
    }

    #[test]
    fn every_copy_of_a_found_secret_on_the_line_is_found_with_the_rule_of_the_original() {
        let cases: Vec<(String, Vec<(&str, &str)>)> = vec![
            (
                "token = 'Xk29fhQz7Lw' | 'Xk29fhQz7Lw'".replace("token", "password"),
                vec![
                    ("secret-named-key", "Xk29fhQz7Lw"),
                    ("secret-named-key", "Xk29fhQz7Lw"),
                ],
            ),
            (
                format!("{PAT} cloned, then {PAT}.git and \"{PAT}\""),
                vec![("github-pat", PAT); 3],
            ),
            (
                "{\"password\":\"Xk29fhQz7Lw\",\"note\":\"was Xk29fhQz7Lw\"}".to_string(),
                vec![
                    ("secret-named-key", "Xk29fhQz7Lw"),
                    ("secret-named-key", "Xk29fhQz7Lw"),
                ],
            ),
        ];
        for (line, want) in cases {
            let want: Vec<(String, String)> = want
                .into_iter()
                .map(|(r, s)| (r.to_string(), s.to_string()))
                .collect();
            assert_eq!(spans(&line), want, "{line}");
        }
    }

    #[test]
    fn several_families_on_one_line_each_have_their_copies_found() {
        let line = format!(
            "a={STRIPE} password=Xk29fhQz7Lw t={PAT} retry {PAT} with Xk29fhQz7Lw, {STRIPE}"
        );
        let got = spans(&line);
        let rules: Vec<&str> = got.iter().map(|(r, _)| r.as_str()).collect();
        let secrets: Vec<&str> = got.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(
            secrets,
            [STRIPE, "Xk29fhQz7Lw", PAT, PAT, "Xk29fhQz7Lw", STRIPE],
            "{got:?}"
        );
        assert_eq!(rules[0], rules[5]);
        assert_eq!(rules[1], rules[4]);
        assert_eq!((rules[2], rules[3]), ("github-pat", "github-pat"));
    }

    #[test]
    fn copies_of_a_value_shorter_than_the_minimum_are_not_searched() {
        let found = spans("pwd=ab12z then ab12z and ab12z");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].1, "ab12z");
        assert!(!long_enough(b"ab12z") && long_enough(b"ab12zq"));
        // Characters, not bytes: five two-byte letters are too short.
        assert!(!long_enough("äöüßé".as_bytes()) && long_enough("äöüßéa".as_bytes()));
    }

    #[test]
    fn multibyte_text_and_values_keep_char_boundaries() {
        let line = "ünï password=Pässwörd-Ümlaut9 — « Pässwörd-Ümlaut9 » ☃Pässwörd-Ümlaut9";
        let got = spans(line);
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got.iter().all(|(_, s)| s == "Pässwörd-Ümlaut9"));
    }

    #[test]
    fn overlapping_copies_are_covered_whole() {
        // A value whose end starts another, a value inside another, and a
        // value that overlaps itself.
        assert_eq!(
            covered("xxabcdefghijklxx", &[("abcdefgh", "a"), ("efghijkl", "b")]),
            [(2, 14, "a".to_string())]
        );
        assert_eq!(
            covered("cdefgh abcdefgh", &[("abcdefgh", "a"), ("cdefgh", "b")]),
            [(0, 6, "b".to_string()), (7, 15, "a".to_string())]
        );
        assert_eq!(
            covered("abcabcabc abcabc", &[("abcabc", "a")]),
            [(0, 9, "a".to_string()), (10, 16, "a".to_string())]
        );
        // Adjacent copies stay two spans.
        assert_eq!(
            covered("abcdefabcdef", &[("abcdef", "a")]),
            [(0, 6, "a".to_string()), (6, 12, "a".to_string())]
        );
        // A leftmost-longest search would leave `ijkl` of the second value
        // and `mno` of the third in clear here.
        assert_eq!(
            covered(
                "abcdefghijklmno",
                &[("abcdef", "a"), ("cdefghijkl", "b"), ("jklmno", "c")]
            ),
            [(0, 15, "a".to_string())]
        );
    }

    #[test]
    fn a_copy_overlapping_another_finding_is_merged_into_it() {
        let found = vec![
            Finding {
                rule: rule("kv"),
                start: 9,
                end: 17,
            },
            Finding {
                rule: rule("pat"),
                start: 30,
                end: 40,
            },
        ];
        let copies = vec![
            Finding {
                rule: rule("kv"),
                start: 9,
                end: 17,
            },
            Finding {
                rule: rule("kv"),
                start: 26,
                end: 34,
            },
            Finding {
                rule: rule("kv"),
                start: 50,
                end: 58,
            },
        ];
        let got: Vec<(usize, usize, &str)> = union(&found, copies)
            .unwrap()
            .iter()
            .map(|f| (f.start, f.end, f.rule.as_str()))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|(s, e, r)| (s, e, if r == "pat" { "pat" } else { "kv" }))
            .collect();
        assert_eq!(got, [(9, 17, "kv"), (26, 40, "pat"), (50, 58, "kv")]);
        // Copies inside findings change nothing.
        let inside = vec![Finding {
            rule: rule("kv"),
            start: 31,
            end: 39,
        }];
        assert!(union(&found, inside).is_none());
    }

    #[test]
    fn cover_masks_every_byte_of_every_occurrence_on_random_text() {
        // Small alphabet, so occurrences overlap and nest often.
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..3_000 {
            // A few values (the automaton), many over two letters (most of
            // them share every window: the automaton again), many over ten
            // (indexed by their windows).
            let (alphabet, k): (&[u8], usize) = match round % 3 {
                0 => (b"ab", 1 + (next() % 4) as usize),
                1 => (b"ab", 17 + (next() % 40) as usize),
                _ => (b"abcdefghij", 17 + (next() % 40) as usize),
            };
            let n = 20 + (next() % 200) as usize;
            let text: Vec<u8> = (0..n)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let values: Vec<Vec<u8>> = (0..k)
                .map(|_| {
                    let s = (next() % (n as u64 - 8)) as usize;
                    let l = 6 + (next() % 6) as usize;
                    text[s..(s + l).min(n)].to_vec()
                })
                .collect();
            let r = rule("r");
            let vals: Vec<(&[u8], &RuleId)> = values.iter().map(|v| (&v[..], &r)).collect();
            let mut got = vec![false; n];
            let spans = cover(&text, &vals);
            for w in spans.windows(2) {
                assert!(w[0].end <= w[1].start, "spans overlap: {spans:?}");
            }
            for f in &spans {
                got[f.start..f.end].iter_mut().for_each(|b| *b = true);
            }
            let refs: Vec<&[u8]> = values.iter().map(|v| &v[..]).collect();
            assert_eq!(
                got,
                covered_by_brute_force(&text, &refs),
                "{:?} in {:?}",
                values
                    .iter()
                    .map(|v| String::from_utf8_lossy(v))
                    .collect::<Vec<_>>(),
                String::from_utf8_lossy(&text)
            );
        }
    }

    /// A line of `n` `password=` values, each repeated bare later on the
    /// line, with multibyte text between them.
    fn repeated_values_line(n: usize) -> (String, Vec<String>) {
        let values: Vec<String> = (0..n).map(|i| format!("Qv{i:07}zK")).collect();
        let mut line = String::new();
        for v in &values {
            line.push_str(&format!("é password={v} ☃ "));
        }
        for v in values.iter().rev() {
            line.push_str(&format!("retry {v}; "));
        }
        (line, values)
    }

    #[test]
    fn a_long_line_with_thousands_of_findings_and_copies_costs_linear_work() {
        let rules = RuleSet::builtin();
        let mut work = Vec::new();
        for n in [2_000, 4_000] {
            let (line, values) = repeated_values_line(n);
            let mut out = Vec::new();
            rules.find(&line, &mut out);
            assert_eq!(out.len(), 2 * n);
            let got: Vec<&str> = out.iter().map(|f| &line[f.start..f.end]).collect();
            let mut want: Vec<&str> = values.iter().map(String::as_str).collect();
            want.extend(values.iter().rev().map(String::as_str));
            assert_eq!(got, want);
            // The copy pass alone: the findings of the rules, then the pass.
            let mut found: Vec<Finding> = out.iter().take(n).cloned().collect();
            take_work();
            add_copies(&line, &mut found, 0);
            let w = take_work();
            assert_eq!(found.len(), 2 * n);
            // One pass over the text to find its line's ends, one to
            // search it, and one over the values.
            assert!(
                w <= (2 * line.len() + values.iter().map(String::len).sum::<usize>()) as u64,
                "work {w} for {} bytes",
                line.len()
            );
            take_work();
            rules.find(&line, &mut Vec::new());
            work.push(take_work());
        }
        assert!(work[1] <= 2 * work[0] + 1_000, "work {work:?}");
    }

    #[test]
    fn only_the_lines_of_the_findings_are_searched_for_copies() {
        // `find` masks copies on the finding's line; a copy on another line
        // of the text is the pool's (`DetectedSecrets`) work.
        let text = format!("retry {STRIPE}\nkey: {STRIPE} and {STRIPE}\nbare {STRIPE}");
        let mut found = Vec::new();
        RuleSet::builtin().find(&text, &mut found);
        let lines: Vec<usize> = found
            .iter()
            .map(|f| text[..f.start].matches('\n').count())
            .collect();
        assert!(found.iter().all(|f| &text[f.start..f.end] == STRIPE));
        // Line 0 and 2 hold the key bare: found there by its rule (a
        // Stripe key needs no keyword), so each line has its own finding.
        assert_eq!(lines, vec![0, 1, 1, 2]);
        // A value found only on line 1, copied bare on lines 0 and 2.
        let secret = "Zq8-Lw3x-Pt7v-Rm2K";
        let text = format!("was {secret}\npassword={secret} again {secret}\nthen {secret}");
        let mut found = Vec::new();
        RuleSet::builtin().find(&text, &mut found);
        let spans: Vec<(usize, usize)> = found.iter().map(|f| (f.start, f.end)).collect();
        let line1 = text.find("password=").unwrap();
        let first = line1 + "password=".len();
        let again = text.rfind(&format!("again {secret}")).unwrap() + "again ".len();
        assert_eq!(
            spans,
            vec![(first, first + secret.len()), (again, again + secret.len())]
        );
    }

    #[test]
    fn a_value_found_once_costs_no_automaton() {
        let line = format!("clean text then token {PAT} and more clean text");
        let mut out = Vec::new();
        RuleSet::builtin().find(&line, &mut out);
        take_work();
        add_copies(&line, &mut out, 0);
        // Its line's ends found and one memmem search over it, no
        // automaton (which would count the text and the value again).
        assert!(take_work() <= 2 * line.len() as u64);
    }
}
