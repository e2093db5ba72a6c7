//! What the earlier keyword hits of one search proved about the text, so
//! that later hits of the same rule do not read it again.
//!
//! A rule runs in a window around each hit of its keyword, and the windows
//! of close hits overlap: a line of `-----BEGIN RSA PRIVATE KEY-----`
//! headers without an END line read the 64 KiB window of the PEM rule once
//! per header, and a line of `sk-sk-sk-...` ran the generic key regex and
//! its checks over 200 bytes every 3 bytes. These facts carry over from one
//! hit to the next. Each proves that the rule finds nothing (or nothing
//! that `accept` takes) at a hit, so skipping the rule there never changes
//! a finding:
//!
//! - *Needs*: a rule may name a pattern that matches inside every match of
//!   its regex (the PEM END line, a JWT's `.eyJ...`). One search finds
//!   where the next match of it starts; no window that ends before that
//!   place can hold a match of the rule.
//! - *Digits and letters*: a rule that wants both in its secret finds
//!   nothing in a window that lacks either; where the next ones are is
//!   found once for the hits before them.
//! - *Entropy* ([`ByteWindow`]): a secret's Shannon entropy is at most log2
//!   of the number of distinct bytes it holds, so a window with too few
//!   distinct bytes cannot give a secret random enough. The byte counts
//!   slide along with the windows.
//! - *Empty windows*: after an unanchored search found nothing in a window,
//!   a later window inside it finds nothing either, and a later window that
//!   reaches further is searched only from where a match could still end
//!   past the empty one (when the regex's matches have a bounded length).
//!
//! The first two give a position before which every later hit of the rule
//! is skipped with one comparison (the rule set keeps it with the end of
//! the rule's last finding). Hits come in text order, so each fact only
//! moves forward and every byte is read a bounded number of times per rule:
//! the cost of a line is linear in its length, whatever it holds.

use regex_automata::Input;
use regex_automata::meta::Regex;

/// What one forward search for a pattern proved: none of its matches lies
/// in `from..free`. `free` is where the first match (lying in `from..to`)
/// starts, or `to` when the search reached `to` without one.
#[derive(Clone, Copy)]
struct Proof {
    from: usize,
    to: usize,
    free: usize,
}

impl Proof {
    /// `free` for a query from `from` about a window ending at `end`, when
    /// this proof answers it: a later `from` up to the match found sees
    /// the same first match; without a match, only windows up to `to` are
    /// covered.
    fn answers(self, from: usize, end: usize) -> Option<usize> {
        let found = self.free < self.to;
        (self.from <= from && from <= self.free && (found || end <= self.to)).then_some(self.free)
    }

    /// How far a new search from `from` for a window ending at `end` goes:
    /// one window past it, so a run of hits searches about twice what
    /// their windows span (a search to the end of the text would make a
    /// single hit cost the rest of the text).
    fn reach(text_len: usize, from: usize, end: usize) -> usize {
        text_len.min(end + (end - from.min(end)))
    }
}

/// The facts of one search (one [`RuleSet::find`](super::RuleSet::find)
/// call). Nothing is allocated until a rule needs it.
pub(super) struct Memo {
    /// Tests compare the findings with a memo that proves nothing.
    #[cfg(test)]
    off: bool,
    /// (rule, where its `needs` does not match).
    needs: Vec<(usize, Proof)>,
    /// Where no ASCII digit is.
    digit: Option<Proof>,
    /// Where no ASCII letter is.
    letter: Option<Proof>,
    /// (rule, start, end): a window in which the rule's regex has no match.
    empty: Vec<(usize, usize, usize)>,
    /// (rule, the byte counts of its last window).
    windows: Vec<(usize, ByteWindow)>,
}

impl Memo {
    pub(super) fn new() -> Memo {
        Memo {
            #[cfg(test)]
            off: super::testing::shortcuts_off(),
            needs: Vec::new(),
            digit: None,
            letter: None,
            empty: Vec::new(),
            windows: Vec::new(),
        }
    }

    /// A place `free` such that no match of `needs` lies in `from..free`;
    /// the window `from..end` holds one only if `end > free`. Searches
    /// only when what an earlier call for this rule proved does not answer.
    pub(super) fn needs_free(
        &mut self,
        rule: usize,
        (needs, max_len): (&Regex, Option<usize>),
        text: &str,
        from: usize,
        end: usize,
    ) -> usize {
        #[cfg(test)]
        if self.off {
            return 0;
        }
        let slot = self.needs.iter().position(|m| m.0 == rule);
        let old = slot.map(|i| self.needs[i].1);
        if let Some(free) = old.and_then(|p| p.answers(from, end)) {
            return free;
        }
        // After a search that found nothing up to `to`, a match fully in
        // from..to is ruled out: one ending past `to` starts at most
        // `max_len` before its end, so the new search goes on from there
        // rather than read the old range again.
        let mut at = from;
        if let (Some(p), Some(l)) = (old, max_len)
            && p.free == p.to
            && p.from <= from
            && from <= p.to
        {
            at = from.max((p.to + 1).saturating_sub(l));
            while !text.is_char_boundary(at) {
                at -= 1;
            }
        }
        let to = Proof::reach(text.len(), from, end);
        let found = needs.search(&Input::new(text).range(at..to));
        #[cfg(test)]
        super::testing::add_work(found.as_ref().map_or(to, |m| m.end()) - at);
        let free = found.map_or(to, |m| m.start());
        let proof = Proof { from, to, free };
        match slot {
            Some(i) => self.needs[i].1 = proof,
            None => self.needs.push((rule, proof)),
        }
        free
    }

    /// Places such that no ASCII digit, and no ASCII letter, lies between
    /// `from` and them (for a window `from..end`).
    pub(super) fn digit_and_letter_free(
        &mut self,
        text: &[u8],
        from: usize,
        end: usize,
    ) -> (usize, usize) {
        #[cfg(test)]
        if self.off {
            return (0, 0);
        }
        (
            free_of(&mut self.digit, text, from, end, u8::is_ascii_digit),
            free_of(&mut self.letter, text, from, end, u8::is_ascii_alphabetic),
        )
    }

    /// Where an unanchored search of `rule` over `start..end` must begin,
    /// or `None` when an earlier search proved that the window holds no
    /// match. `max_len` is the longest match the regex can make.
    pub(super) fn unanchored_from(
        &self,
        rule: usize,
        start: usize,
        end: usize,
        max_len: Option<usize>,
    ) -> Option<usize> {
        #[cfg(test)]
        if self.off {
            return Some(start);
        }
        let Some(&(_, s0, e0)) = self.empty.iter().find(|m| m.0 == rule) else {
            return Some(start);
        };
        if start < s0 || start > e0 {
            return Some(start);
        }
        if end <= e0 {
            return None;
        }
        // A match in start..end ends past e0 (none lies in s0..e0), so it
        // starts at most max_len before its end.
        Some(max_len.map_or(start, |l| start.max((e0 + 1).saturating_sub(l))))
    }

    /// Records that `rule`'s regex has no match in `start..end`.
    pub(super) fn found_nothing(&mut self, rule: usize, start: usize, end: usize) {
        #[cfg(test)]
        if self.off {
            return;
        }
        match self.empty.iter_mut().find(|m| m.0 == rule) {
            Some(m) => *m = (rule, start, end),
            None => self.empty.push((rule, start, end)),
        }
    }

    /// The byte counts of `text[lo..hi]` for `rule`, slid on from its
    /// previous window.
    pub(super) fn window(&mut self, rule: usize, text: &[u8], lo: usize, hi: usize) -> &ByteWindow {
        #[cfg(test)]
        if self.off {
            // As many distinct bytes as there are: no entropy is ruled out.
            self.windows.clear();
            let mut all = ByteWindow::new(0);
            all.distinct = 256;
            self.windows.push((rule, all));
            return &self.windows[0].1;
        }
        let i = match self.windows.iter().position(|w| w.0 == rule) {
            Some(i) => i,
            None => {
                self.windows.push((rule, ByteWindow::new(lo)));
                self.windows.len() - 1
            }
        };
        let w = &mut self.windows[i].1;
        w.slide(text, lo, hi);
        w
    }
}

/// A place such that no byte that `class` takes lies between `from` and
/// it, proved by `memo` or by a new search (then remembered).
fn free_of(
    memo: &mut Option<Proof>,
    text: &[u8],
    from: usize,
    end: usize,
    class: fn(&u8) -> bool,
) -> usize {
    if let Some(free) = memo.and_then(|p| p.answers(from, end)) {
        return free;
    }
    let to = Proof::reach(text.len(), from, end);
    let free = text[from.min(to)..to]
        .iter()
        .position(class)
        .map_or(to, |p| from + p);
    #[cfg(test)]
    super::testing::add_work(free.saturating_sub(from));
    *memo = Some(Proof { from, to, free });
    free
}

/// Counts of the bytes of a window of the text.
pub(super) struct ByteWindow {
    lo: usize,
    hi: usize,
    counts: Box<[u32; 256]>,
    distinct: u32,
}

impl ByteWindow {
    fn new(at: usize) -> ByteWindow {
        ByteWindow {
            lo: at,
            hi: at,
            counts: Box::new([0; 256]),
            distinct: 0,
        }
    }

    /// Makes the window `lo..hi`: bytes leave at the front and enter at the
    /// back, so windows that move forward cost what they move.
    fn slide(&mut self, text: &[u8], lo: usize, hi: usize) {
        let hi = hi.max(lo);
        if lo < self.lo || hi < self.hi {
            // Hits come in order, so windows never move back; if one did,
            // start afresh rather than count wrong.
            while self.lo < self.hi {
                self.remove(text[self.lo]);
                self.lo += 1;
            }
            self.lo = lo;
            self.hi = lo;
        }
        while self.lo < lo.min(self.hi) {
            self.remove(text[self.lo]);
            self.lo += 1;
        }
        // All of the old window left: the new one starts empty at `lo`.
        self.hi = self.hi.max(lo);
        self.lo = lo;
        #[cfg(test)]
        super::testing::add_work(hi - self.hi);
        while self.hi < hi {
            self.add(text[self.hi]);
            self.hi += 1;
        }
    }

    fn add(&mut self, b: u8) {
        let c = &mut self.counts[b as usize];
        self.distinct += u32::from(*c == 0);
        *c += 1;
    }

    fn remove(&mut self, b: u8) {
        let c = &mut self.counts[b as usize];
        *c -= 1;
        self.distinct -= u32::from(*c == 0);
    }

    /// An upper bound of the Shannon entropy (bits per byte) of any part
    /// of the window: log2 of its distinct bytes, plus a margin far above
    /// the rounding error of [`shannon_entropy`](super::shannon_entropy).
    /// Zero when at most one byte value occurs (the entropy is then exactly
    /// zero).
    pub(super) fn max_entropy(&self) -> f64 {
        if self.distinct <= 1 {
            0.0
        } else {
            f64::from(self.distinct).log2() + 1e-9
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::detect::testing::{spans, take_work, without_shortcuts};
    use crate::detect::{Finding, RuleSet, RuleSpec};

    /// A small deterministic generator (xorshift).
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
        fn run(&mut self, alphabet: &[u8], n: usize) -> String {
            (0..n)
                .map(|_| alphabet[self.below(alphabet.len())] as char)
                .collect()
        }
    }

    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const PEM_BEGIN: &str = "-----BEGIN RSA PRIVATE KEY-----";

    fn user_rules() -> RuleSet {
        let rule = |id: &str, regex: &str, keywords: &[&str], min_entropy, secret_group| RuleSpec {
            id: id.into(),
            regex: regex.into(),
            keywords: keywords.iter().map(|k| k.to_string()).collect(),
            min_entropy,
            secret_group,
        };
        RuleSet::builtin()
            .with_user_rules(vec![
                rule("acme-key", "acme_[a-z0-9]{12}", &["acme_"], None, None),
                rule(
                    "acme-random",
                    "(?:zz|acme)[-_]([A-Za-z0-9]{16,40})",
                    &["acme", "zz-"],
                    Some(3.0),
                    Some(1),
                ),
                rule("unbounded", "tok_[a-z]+x", &["tok_"], None, None),
                rule("before-keyword", "[0-9]{6}-acme", &["acme"], None, None),
            ])
            .unwrap()
    }

    fn find(rules: &RuleSet, text: &str) -> Vec<Finding> {
        let mut out = Vec::new();
        rules.find(text, &mut out);
        out
    }

    /// Random text that hits many rules in many ways: keywords alone and
    /// repeated, near-miss and real credentials, PEM lines, separators.
    fn random_text(r: &mut Rng, len: usize) -> String {
        const WORDS: &[&str] = &[
            "sk-",
            "pk-",
            "sk-proj-",
            "sk-ant-",
            "ghp_",
            "eyJ",
            "-----BEGIN",
            PEM_BEGIN,
            "-----END RSA PRIVATE KEY-----",
            "-----END CERTIFICATE-----",
            "aws",
            "AWS_SK",
            "aws_secret_access_key",
            "twilio",
            "twilio_auth_token",
            "T3BlbkFJ",
            ".eyJ",
            "password",
            "token",
            "secret",
            "api_key",
            "Bearer ",
            "Basic ",
            "://",
            "acme_",
            "acme-",
            "acme",
            "zz-",
            "tok_",
            "000000-acme",
            "AKIA",
            "xoxb-",
            "glpat-",
            " PRIVATE KEY-----",
            "-----BEGIN EC PRIVATE KEY BLOCK-----",
            "\\\\n",
            "-A",
        ];
        const SEPS: &[&str] = &[
            "", " ", "-", "_", "=", ": ", "\"", "'", "\\n", "\n", ".", "/", "@", ":", "=>", ")",
            "))))", "(", ">", "<", "]", ",", ";", "&", "é", "\\\"",
        ];
        let mut out = String::new();
        while out.len() < len {
            let piece = match r.below(10) {
                0..=3 => r.pick(WORDS).to_string(),
                4..=5 => r.pick(SEPS).to_string(),
                6 => {
                    let n = [8, 20, 32, 40, 64, 250][r.below(6)];
                    r.run(ALNUM, n)
                }
                7 => {
                    let n = 30 + r.below(6);
                    r.run(b"0123456789abcdef", n)
                }
                8 => {
                    let n = 5 + r.below(200);
                    r.run(b"ab1-", n)
                }
                _ => {
                    // A burst of one piece repeated.
                    let unit = format!("{}{}", r.pick(WORDS), r.pick(SEPS));
                    unit.repeat(1 + r.below(60))
                }
            };
            out.push_str(&piece);
        }
        out
    }

    #[test]
    fn the_memo_never_changes_a_finding() {
        let rules = user_rules();
        let mut r = Rng(0x2545_F491_4F6C_DD1D);
        for round in 0..300 {
            let len = 512 + r.below(6000);
            let text = random_text(&mut r, len);
            let with = find(&rules, &text);
            let without = without_shortcuts(|| find(&rules, &text));
            assert_eq!(with, without, "round {round}");
        }
    }

    /// One line of `n` units.
    fn line(n: usize, mut unit: impl FnMut(usize) -> String) -> String {
        (0..n).map(&mut unit).collect()
    }

    #[test]
    fn dense_lines_give_every_value_token_and_pem_body() {
        let mut r = Rng(7);
        let values: Vec<String> = (0..3000)
            .map(|i| format!("{}{i}", r.run(ALNUM, 8)))
            .collect();
        let text = line(values.len(), |i| format!("password={} ", values[i]));
        let want: Vec<(String, String)> = values
            .iter()
            .map(|v| ("secret-named-key".to_string(), v.clone()))
            .collect();
        assert_eq!(spans(&text), want);

        let tokens: Vec<String> = (0..3000)
            .map(|_| format!("ghp_{}", r.run(ALNUM, 36)))
            .collect();
        let text = line(tokens.len(), |i| format!("{} ", tokens[i]));
        let want: Vec<(String, String)> = tokens
            .iter()
            .map(|t| ("github-pat".to_string(), t.clone()))
            .collect();
        assert_eq!(spans(&text), want);

        let bodies: Vec<String> = (0..3000).map(|_| r.run(ALNUM, 64)).collect();
        let text = line(bodies.len(), |i| format!("{PEM_BEGIN}\\n{}\\n ", bodies[i]));
        let want: Vec<(String, String)> = bodies
            .iter()
            .map(|b| ("private-key".to_string(), b.clone()))
            .collect();
        assert_eq!(spans(&text), want);

        // Keywords alone are no finding; what follows them still is.
        let key = format!("sk-{}9", r.run(ALNUM, 40));
        let body = r.run(ALNUM, 64);
        for (bare, tail) in [
            (
                PEM_BEGIN.repeat(3000),
                format!("\\n{body}\\n-----END RSA PRIVATE KEY-----"),
            ),
            ("sk-".repeat(30_000), format!(" {key}")),
        ] {
            assert!(spans(&bare).is_empty());
            let text = format!("{bare}{tail}");
            let found = spans(&text);
            assert_eq!(found, without_shortcuts(|| spans(&text)));
            let (rule, last) = found.last().expect("a finding at the end");
            assert!(
                last.ends_with(&body) || *last == key,
                "{rule}: {} bytes",
                last.len()
            );
        }
    }

    /// The work of a search of each text (see `testing::add_work`).
    fn work(rules: &RuleSet, texts: &[String]) -> Vec<u64> {
        texts
            .iter()
            .map(|t| {
                take_work();
                find(rules, t);
                take_work()
            })
            .collect()
    }

    #[test]
    fn dense_lines_cost_work_linear_in_their_length() {
        let rules = user_rules();
        let mut r = Rng(11);
        type Make = Box<dyn Fn(&mut Rng, usize) -> String>;
        let cases: Vec<(&str, Make)> = vec![
            (
                "password",
                Box::new(|r, n| line(n, |_| format!("password={} ", r.run(ALNUM, 12)))),
            ),
            (
                "ghp",
                Box::new(|r, n| line(n, |_| format!("ghp_{} ", r.run(ALNUM, 36)))),
            ),
            ("pem headers", Box::new(|_, n| PEM_BEGIN.repeat(n))),
            (
                "pem bodies",
                Box::new(|r, n| line(n, |_| format!("{PEM_BEGIN}\\n{}\\n ", r.run(ALNUM, 64)))),
            ),
            ("sk-", Box::new(|_, n| "sk-".repeat(n))),
            ("sk-1", Box::new(|_, n| "sk-1".repeat(n))),
            ("jwt parts", Box::new(|_, n| "-eyJ".repeat(n))),
            ("aws names", Box::new(|_, n| "-aws-sk".repeat(n))),
            ("twilio", Box::new(|_, n| "twilio ".repeat(n))),
            ("user rule", Box::new(|_, n| "acme_".repeat(n))),
            // One value, doubled: trimming its `)` was quadratic.
            (
                "closing brackets",
                Box::new(|_, n| format!("password={} ", ")".repeat(n / 8))),
            ),
        ];
        for (name, make) in &cases {
            // Below the 64 KiB PEM window, where reading the window at each
            // hit grew with the square of the line.
            let unit = make(&mut r, 2).len() - make(&mut r, 1).len();
            let n = 16_000 / unit.max(1);
            let texts = vec![make(&mut r, n), make(&mut r, 2 * n)];
            let w = work(&rules, &texts);
            // Twice the text, at most twice the work, plus what a rare hit
            // near the end may read past the shorter text (two windows of
            // the widest rule, the PEM one).
            assert!(w[1] <= 2 * w[0] + 2 * 65_600, "{name}: work {w:?}");
            // And a few bytes read per byte of text, whatever it holds (a
            // rule whose hits are skipped reads about two windows per
            // window it moves; reading a window per hit was 60 to 300).
            let per_byte = w[1] as f64 / texts[1].len() as f64;
            assert!(
                per_byte <= 16.0,
                "{name}: {per_byte:.1} bytes read per byte"
            );
        }
        // Without the memo, the same count sees the PEM window read again
        // at each header: it is what this test would catch.
        let texts = vec![PEM_BEGIN.repeat(400), PEM_BEGIN.repeat(800)];
        let w = without_shortcuts(|| work(&rules, &texts));
        assert!(w[1] > 3 * w[0], "work without the memo {w:?}");
    }

    #[test]
    fn a_line_of_any_builtin_keyword_repeated_costs_linear_work() {
        // Every keyword of every built-in rule, alone and with near-miss
        // values after it: a new rule whose window is read again at each
        // hit fails here, whatever its family.
        let rules = RuleSet::builtin();
        let (_, keywords) = super::super::builtin::rules();
        let mut seen = std::collections::BTreeSet::new();
        for kw in keywords.iter().flatten() {
            if !seen.insert(kw.clone()) {
                continue;
            }
            for unit in [
                kw.clone(),
                format!("{kw} "),
                format!("{kw}=A1b2C3d4E5f6G7h8 "),
                format!("{kw}0123456789abcdef0123456789abcdef"),
                format!("{kw}: \"x\", "),
            ] {
                // Big enough that reading a window per hit shows (the per-byte
                // bound), small enough for a debug build.
                let n = 8_000 / unit.len();
                let texts = vec![unit.repeat(n), unit.repeat(2 * n)];
                let w = work(&rules, &texts);
                assert!(w[1] <= 2 * w[0] + 2 * 65_600, "{unit:?}: work {w:?}");
                // A bounded token regex may read its longest match at each
                // hit (`github_pat_` repeated: 255 bytes every 11): linear,
                // but it must stay a small multiple of the text.
                let per_byte = w[1] as f64 / texts[1].len() as f64;
                assert!(
                    per_byte <= 32.0,
                    "{unit:?}: {per_byte:.1} bytes read per byte"
                );
            }
        }
    }
}
