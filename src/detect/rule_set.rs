//! [`RuleSet`]: the compiled rules, the keyword index that maps a hit of
//! the first pass to the rules to run, the run of one rule in a window
//! around its hit, and the merging of overlapping candidates into
//! findings.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use regex_automata::meta::Regex;
use regex_automata::{Anchored, Input};

use crate::error::Error;

use super::allowlist::{Allows, LineMemo, any_allows};
use super::builtin::{self, exact_case_match, valid_shape};
use super::entropy::shannon_entropy;
use super::filter::KeywordFilter;
use super::gitleaks::Scope;
use super::memo::Memo;
use super::placeholder::{has, is_placeholder};
use super::rule::{Check, FIRST_GROUP, Finding, LazyRegex, Rule, RuleId, RuleSpec, max_match_len};
use super::values::{KvContext, bearer, key_value, kv_name_span, trim_pem, url_password};

pub(super) struct Inner {
    pub(super) rules: Vec<Rule>,
    keywords: Vec<String>,
    /// keyword index -> (rule, length of that rule's own keyword) to run on
    /// a hit; a hit of a keyword also runs the rules of the keywords that
    /// are its prefixes (the filter reports the longest keyword only).
    by_keyword: Vec<Vec<(usize, usize)>>,
    /// Finds the keywords (the first pass).
    filter: KeywordFilter,
    /// Rules without keywords: run over the whole text.
    unanchored: Vec<usize>,
    /// rule -> the length of its longest keyword.
    longest_keyword: Vec<usize>,
    /// rule -> the allowlists checked at each of its candidates (gitleaks
    /// rules files); empty when no rule has any.
    pub(super) allows: Vec<Allows>,
    /// The rules and allowlists that depend on the file path, when some
    /// do (see `gitleaks.rs`).
    pub(super) scope: Scope,
    /// The path-only rules that flag the file this set was resolved for.
    pub(super) file_rules: Vec<RuleId>,
}

/// A compiled set of credential rules. Cheap to clone (shared), `Send` and
/// `Sync`.
#[derive(Clone)]
pub struct RuleSet {
    pub(super) inner: Arc<Inner>,
}

impl fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.inner.rules.len())
            .finish()
    }
}

impl RuleSet {
    /// All built-in credential families and the secret-named key rule.
    /// Compiled once per process; later calls share it.
    pub fn builtin() -> RuleSet {
        static BUILTIN_SET: OnceLock<RuleSet> = OnceLock::new();
        BUILTIN_SET
            .get_or_init(|| {
                let (rules, kws) = builtin::rules();
                RuleSet::assemble(rules, kws)
            })
            .clone()
    }

    /// An empty rule set (finds nothing); add rules with
    /// [`with_user_rules`](RuleSet::with_user_rules).
    pub fn empty() -> RuleSet {
        RuleSet::assemble(Vec::new(), Vec::new())
    }

    /// This set plus `rules`.
    ///
    /// # Errors
    ///
    /// A [`Config`](crate::ErrorKind::Config) error naming the rule id when
    /// a rule fails [`RuleSpec::check`] or two rules share an id.
    pub fn with_user_rules(self, rules: Vec<RuleSpec>) -> Result<RuleSet, Error> {
        if rules.is_empty() {
            return Ok(self);
        }
        // Rebuild from the definitions: rules are not Clone (compiled regexes
        // are, cheaply), so re-create the set.
        let (mut all, mut kws, mut allows) = self.parts();
        let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
        for spec in &rules {
            spec.check()?;
            if !seen.insert(spec.id.as_str()) {
                return Err(Error::config(format!(
                    "rule '{}': duplicate rule id",
                    spec.id
                )));
            }
        }
        for spec in rules {
            let (rule, keywords) =
                user_rule(&spec, spec.secret_group.unwrap_or(0), spec.min_entropy)?;
            all.push(rule);
            kws.push(keywords);
            if !allows.is_empty() {
                allows.push(Arc::from(Vec::new()));
            }
        }
        Ok(RuleSet::assemble_full(
            all,
            kws,
            allows,
            Scope::None,
            self.inner.file_rules.clone(),
        ))
    }

    /// The rules of this set (cheap clones), their keywords and their
    /// allowlists (empty when none has any).
    pub(super) fn parts(&self) -> (Vec<Rule>, Vec<Vec<String>>, Vec<Allows>) {
        let n = self.inner.rules.len();
        let rules = self.inner.rules.iter().map(Rule::clone_rule).collect();
        let kws = (0..n).map(|i| self.keywords_of(i)).collect();
        (rules, kws, self.inner.allows.clone())
    }

    fn assemble(rules: Vec<Rule>, kws: Vec<Vec<String>>) -> RuleSet {
        RuleSet::assemble_full(rules, kws, Vec::new(), Scope::None, Vec::new())
    }

    /// A set of `rules` with keywords `kws` (one list per rule) and
    /// allowlists `allows` (one per rule, or none at all).
    pub(super) fn assemble_full(
        rules: Vec<Rule>,
        kws: Vec<Vec<String>>,
        allows: Vec<Allows>,
        scope: Scope,
        file_rules: Vec<RuleId>,
    ) -> RuleSet {
        debug_assert!(allows.is_empty() || allows.len() == rules.len());
        let allows = if allows.iter().all(|a| a.is_empty()) {
            Vec::new()
        } else {
            allows
        };
        let mut keywords: Vec<String> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut own: Vec<Vec<usize>> = Vec::new();
        let mut unanchored = Vec::new();
        for (ri, words) in kws.iter().enumerate() {
            if words.is_empty() {
                unanchored.push(ri);
            }
            for w in words {
                let key = w.to_ascii_lowercase();
                let k = *index.entry(key.clone()).or_insert_with(|| {
                    keywords.push(key);
                    own.push(Vec::new());
                    keywords.len() - 1
                });
                if !own[k].contains(&ri) {
                    own[k].push(ri);
                }
            }
        }
        let mut by_keyword: Vec<Vec<(usize, usize)>> = vec![Vec::new(); keywords.len()];
        for (k, word) in keywords.iter().enumerate() {
            for (j, other) in keywords.iter().enumerate() {
                if word.starts_with(other.as_str()) {
                    for &ri in &own[j] {
                        if !by_keyword[k].iter().any(|&(r, _)| r == ri) {
                            by_keyword[k].push((ri, other.len()));
                        }
                    }
                }
            }
        }
        let filter = KeywordFilter::new(&keywords);
        let longest_keyword = kws
            .iter()
            .map(|words| words.iter().map(String::len).max().unwrap_or(0))
            .collect();
        RuleSet {
            inner: Arc::new(Inner {
                rules,
                keywords,
                by_keyword,
                filter,
                unanchored,
                longest_keyword,
                allows,
                scope,
                file_rules,
            }),
        }
    }

    /// The ids of all rules, in definition order, without duplicates.
    pub fn rule_ids(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        // A set resolved for one file lists every rule of its scope.
        let ids: Vec<&RuleId> = match self.inner.scope.ids() {
            Some(all) => all.iter().collect(),
            None => self
                .inner
                .rules
                .iter()
                .map(|r| &r.id)
                .chain(&self.inner.file_rules)
                .collect(),
        };
        for id in ids {
            if !out.contains(&id.as_str()) {
                out.push(id.as_str());
            }
        }
        out
    }

    /// Appends the credentials found in `text` to `out`: non-overlapping,
    /// in order of position, placeholders excluded. Overlapping candidates
    /// are merged into one span named after the most specific rule.
    ///
    /// Every other occurrence, on its line, of a secret found there (of
    /// at least [`MIN_COPY_LEN`](super::MIN_COPY_LEN) characters) is a
    /// finding too, named after the rule of the original: in
    /// `token = 'S' | 'S'` both `S` are found. This takes one more pass
    /// over the lines that have findings, whatever their number, and none
    /// over the others (see `copies.rs`). Copies on other lines of `text`
    /// are found by a [`DetectedSecrets`](super::DetectedSecrets) pool
    /// given these findings, as `redact`, `scan` and the masking layer do.
    pub fn find(&self, text: &str, out: &mut Vec<Finding>) {
        let mut cands: Vec<Cand> = Vec::new();
        self.candidates(text, &mut cands, true);
        let from = out.len();
        merge(cands, &self.inner.rules, out);
        super::copies::add_copies(text, out, from);
    }

    /// A rule set holding only the rules whose id is in `ids` (to time or
    /// test rules one by one).
    pub fn subset(&self, ids: &[&str]) -> RuleSet {
        let mut rules = Vec::new();
        let mut kws = Vec::new();
        let mut allows = Vec::new();
        for (i, r) in self.inner.rules.iter().enumerate() {
            if ids.contains(&r.id.as_str()) {
                rules.push(r.clone_rule());
                kws.push(self.keywords_of(i));
                if let Some(a) = self.inner.allows.get(i) {
                    allows.push(a.clone());
                }
            }
        }
        let file_rules = self
            .inner
            .file_rules
            .iter()
            .filter(|id| ids.contains(&id.as_str()))
            .cloned()
            .collect();
        RuleSet::assemble_full(rules, kws, allows, Scope::None, file_rules)
    }

    fn keywords_of(&self, rule: usize) -> Vec<String> {
        self.inner
            .by_keyword
            .iter()
            .enumerate()
            .filter(|(k, rs)| {
                rs.iter()
                    .any(|&(r, len)| r == rule && len == self.inner.keywords[*k].len())
            })
            .map(|(k, _)| self.inner.keywords[k].clone())
            .collect()
    }

    /// Calls `f(start, keyword)` for each keyword hit, leftmost-longest and
    /// non-overlapping, ASCII case-insensitive, until `f` returns `false`.
    #[inline]
    fn keyword_hits(&self, text: &str, f: impl FnMut(usize, usize) -> bool) {
        self.inner.filter.hits(text.as_bytes(), f);
    }

    /// The compiled rules, in definition order (for tests that look at
    /// every rule).
    #[cfg(test)]
    pub(super) fn rules(&self) -> &[Rule] {
        &self.inner.rules
    }

    /// Whether `text` holds a keyword of any rule (a cheap pre-check: a
    /// `false` means [`find`](Self::find) finds nothing).
    pub fn has_candidates(&self, text: &str) -> bool {
        if !self.inner.unanchored.is_empty() {
            return true;
        }
        let bytes = text.as_bytes();
        let mut found = false;
        self.keyword_hits(text, |hs, k| {
            found = self.inner.by_keyword[k]
                .iter()
                .any(|&(ri, len)| self.hit_passes(&self.inner.rules[ri], bytes, hs, len));
            !found
        });
        found
    }

    #[inline]
    fn hit_passes(&self, rule: &Rule, bytes: &[u8], hs: usize, len: usize) -> bool {
        if rule.word_start && hs > 0 && bytes[hs - 1].is_ascii_alphanumeric() {
            return false;
        }
        !rule.exact_case || exact_case_match(&bytes[hs..hs + len], rule)
    }

    /// Whether any rule finds something in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        let mut cands = Vec::new();
        self.candidates(text, &mut cands, true);
        !cands.is_empty()
    }

    fn candidates(&self, text: &str, cands: &mut Vec<Cand>, decode_basic: bool) {
        let inner = &*self.inner;
        let bytes = text.as_bytes();
        // skip[rule]: no hit of the rule before it can give a finding: the
        // end of its last finding (hits inside it), or where `memo` proved
        // the rule finds nothing up to (on the stack for up to 256 rules).
        // Made at the first hit: most lines have none, and zeroing (or
        // allocating) one slot per rule was a good part of a line's cost.
        let mut stack: Option<[usize; 256]> = None;
        let mut heap = Vec::new();
        let rules_len = inner.rules.len();
        // The key-value rule's last (rule, name span): a second keyword
        // in the same name (`auth.session`) gives the same result.
        let mut last_kv = (usize::MAX, 0, 0);
        // What the key-value rule saw at earlier hits (a `curl` word).
        let mut kv_ctx = KvContext::default();
        // What earlier hits proved, so close hits do not re-read their
        // windows (see `memo.rs`).
        let mut memo = Memo::new();
        // The line of the last candidate that an allowlist checked.
        let mut lines = LineMemo::default();
        self.keyword_hits(text, |hs, k| {
            let skip: &mut [usize] = if rules_len <= 256 {
                // Lazily: `get_or_insert` would build (zero) the array at
                // every hit.
                #[allow(clippy::unnecessary_lazy_evaluations)]
                let made = stack.get_or_insert_with(|| [0; 256]);
                &mut made[..rules_len]
            } else {
                if heap.is_empty() {
                    heap.resize(rules_len, 0);
                }
                &mut heap
            };
            for &(ri, len) in &inner.by_keyword[k] {
                let rule = &inner.rules[ri];
                if hs < skip[ri] || !self.hit_passes(rule, bytes, hs, len) {
                    continue;
                }
                // The key-value rule here rather than in `run_rule`: its
                // name span is computed once, for the repeat check and the
                // rule.
                let mut whole = None;
                let found = if matches!(rule.check, Check::KeyValue) {
                    let (ns, ne) = kv_name_span(bytes, hs, hs + len);
                    if last_kv == (ri, ns, ne) {
                        continue;
                    }
                    last_kv = (ri, ns, ne);
                    key_value(text, ns, ne, &mut kv_ctx).map(|(s, e)| (s, e, None))
                } else {
                    let search = Search {
                        memo: &mut memo,
                        skip: &mut skip[ri],
                        whole: &mut whole,
                    };
                    self.run_rule(ri, text, hs, hs + len, decode_basic, search)
                };
                // The key-value and URL parsers have rejected placeholders
                // of this very span already: checking again cost as much
                // as the parse on a line of many short values.
                let parsed = matches!(rule.check, Check::KeyValue | Check::UrlPassword);
                if let Some((s, e, id)) = found
                    && e > s
                    && (parsed || !(rule.placeholders && is_placeholder(&text[s..e])))
                    && self.accept_shape(rule, &text[s..e])
                    && !self.allowed(ri, text, (s, e), whole, &mut lines)
                {
                    skip[ri] = skip[ri].max(e);
                    cands.push(Cand {
                        start: s,
                        end: e,
                        rule: ri,
                        id,
                    });
                }
            }
            true
        });
        for &ri in &inner.unanchored {
            let rule = &inner.rules[ri];
            if let Check::Regex { re, group, .. } = &rule.check {
                let re = re.get();
                let mut caps = re.create_captures();
                let mut at = 0;
                while at <= text.len() {
                    re.search_captures(&Input::new(text).range(at..), &mut caps);
                    let Some(m) = caps.get_match() else { break };
                    if let Some(sp) = secret_group(&caps, *group)
                        && sp.end > sp.start
                        && self.accept(rule, &text[sp.start..sp.end])
                        && !self.allowed(
                            ri,
                            text,
                            (sp.start, sp.end),
                            Some((m.start(), m.end())),
                            &mut lines,
                        )
                    {
                        cands.push(Cand {
                            start: sp.start,
                            end: sp.end,
                            rule: ri,
                            id: None,
                        });
                    }
                    at = if m.end() > m.start() {
                        m.end()
                    } else {
                        next_char(text, m.end())
                    };
                }
            }
        }
    }

    /// Whether an allowlist of rule `ri` allows the candidate `secret`, a
    /// span of `text` (whose whole match is `whole`, when known).
    #[inline]
    fn allowed(
        &self,
        ri: usize,
        text: &str,
        secret: (usize, usize),
        whole: Option<(usize, usize)>,
        lines: &mut LineMemo,
    ) -> bool {
        match self.inner.allows.get(ri) {
            Some(a) if !a.is_empty() => any_allows(a, text, secret, whole.unwrap_or(secret), lines),
            _ => false,
        }
    }

    fn accept(&self, rule: &Rule, secret: &str) -> bool {
        !(rule.placeholders && is_placeholder(secret)) && self.accept_shape(rule, secret)
    }

    /// The digit-and-letter and entropy tests of `accept`, and the
    /// family's own structure (`builtin::valid_shape`).
    fn accept_shape(&self, rule: &Rule, secret: &str) -> bool {
        let body = secret
            .get(rule.entropy_skip.min(secret.len())..)
            .unwrap_or(secret);
        if rule.mixed
            && !(body.bytes().any(|b| b.is_ascii_digit())
                && body.bytes().any(|b| b.is_ascii_alphabetic()))
        {
            return false;
        }
        if let Some(min) = rule.min_entropy
            && shannon_entropy(body.as_bytes()) < min
        {
            return false;
        }
        valid_shape(rule, secret)
    }

    /// Runs rule `ri` at a keyword hit; returns the secret span and, for a
    /// Basic payload hiding another credential, that credential's rule.
    fn run_rule(
        &self,
        ri: usize,
        text: &str,
        hs: usize,
        he: usize,
        decode_basic: bool,
        search: Search<'_>,
    ) -> Option<(usize, usize, Option<RuleId>)> {
        let Search { memo, skip, whole } = search;
        let rule = &self.inner.rules[ri];
        match &rule.check {
            Check::Regex {
                re,
                anchored,
                back,
                fwd,
                group,
                line,
                pre,
                needs,
                split,
            } => {
                if let Some(pre) = pre
                    && !pre(text.as_bytes(), hs)
                {
                    return None;
                }
                let mut ws = floor_boundary(text, hs.saturating_sub(*back));
                let mut we = ceil_boundary(text, (he + *fwd).min(text.len()));
                if *line {
                    let b = text.as_bytes();
                    if let Some(p) = memchr::memrchr(b'\n', &b[ws..hs]) {
                        ws += p + 1;
                    }
                    if let Some(p) = memchr::memchr(b'\n', &b[he..we]) {
                        we = he + p;
                    }
                }
                let start = if *anchored { hs } else { ws };
                // Each check below proves that the regex finds nothing, or
                // nothing `accept` takes, at this hit (see `memo.rs`). A
                // proof about the text up to some place `q` holds for every
                // later hit whose window ends before `q`: the window of a
                // hit at `h` ends before `h + reach`, so hits before
                // `q - reach` are skipped at once.
                let reach = self.inner.longest_keyword[ri] + *fwd + 3;
                if let Some(needs) = needs {
                    let q = memo.needs_free(ri, (needs.get(), needs.max_len()), text, start, we);
                    if q >= we {
                        *skip = (*skip).max(q.saturating_sub(reach));
                        return None;
                    }
                }
                // The secret lies in start..we; an anchored whole match
                // starts at the hit, and its checked part after the skip.
                let lo = if *anchored && *group == 0 {
                    (start + rule.entropy_skip).min(we)
                } else {
                    start
                };
                if rule.mixed {
                    let (digit, letter) = memo.digit_and_letter_free(text.as_bytes(), lo, we);
                    let q = digit.max(letter);
                    if q >= we {
                        *skip = (*skip).max(q.saturating_sub(reach));
                        return None;
                    }
                }
                if let Some(min) = rule.min_entropy
                    && memo.window(ri, text.as_bytes(), lo, we).max_entropy() < min
                {
                    return None;
                }
                let (from, mode) = if *anchored {
                    (start, Anchored::Yes)
                } else {
                    let from = memo.unanchored_from(ri, start, we, re.max_len())?;
                    (floor_boundary(text, from), Anchored::No)
                };
                #[cfg(test)]
                super::testing::add_regex_work(re.src(), text, from, we, *anchored);
                let mut input = Input::new(text).range(from..we).anchored(mode);
                #[cfg(test)]
                let re_src = re.src();
                let re = re.get();
                if *group == 0 {
                    let mut first = true;
                    let m = loop {
                        let Some(m) = re.search(&input) else {
                            if !*anchored && first {
                                memo.found_nothing(ri, start, we);
                            }
                            return None;
                        };
                        if *anchored || m.end() > hs {
                            break m;
                        }
                        // A match that ends before the hit (one an earlier
                        // hit found, or one that was not taken): this hit's
                        // match, if any, lies after it.
                        first = false;
                        input.set_start(next_char(text, m.end().max(m.start())).min(we));
                        #[cfg(test)]
                        super::testing::add_regex_work(re_src, text, input.start(), we, false);
                    };
                    *whole = Some((m.start(), m.end()));
                    Some((m.start(), m.end(), None))
                } else {
                    #[cfg(test)]
                    let split = split.as_ref().filter(|_| !super::testing::shortcuts_off());
                    if let Some((head, tail)) = split {
                        // `re` is `head(tail)`: a regex tries the ways
                        // `head` can match in order and keeps the first
                        // that `tail` can follow, so where `tail` matches
                        // at the end of `head`'s own match, that is the
                        // match and `tail` the secret group: found by DFA
                        // searches instead of the capture engine (about a
                        // microsecond per PEM header). The whole regex
                        // first: most hits have no match at all.
                        let m = re.search(&input)?;
                        #[cfg(test)]
                        super::testing::add_regex_work(head.src(), text, from, we, true);
                        let h = head.get().search(&input)?;
                        let after = Input::new(text).range(h.end()..we).anchored(Anchored::Yes);
                        #[cfg(test)]
                        super::testing::add_regex_work(tail.src(), text, h.end(), we, true);
                        if let Some(t) = tail.get().search(&after)
                            && t.end() == m.end()
                        {
                            *whole = Some((m.start(), m.end()));
                            return Some(trim_pem(text, t.start(), t.end(), None));
                        }
                    }
                    let mut caps = re.create_captures();
                    re.search_captures(&input, &mut caps);
                    if !*anchored && !caps.is_match() {
                        memo.found_nothing(ri, start, we);
                    }
                    // As above: skip the matches that end before the hit.
                    while !*anchored
                        && let Some(m) = caps.get_match()
                        && m.end() <= hs
                    {
                        input.set_start(next_char(text, m.end().max(m.start())).min(we));
                        #[cfg(test)]
                        super::testing::add_regex_work(re_src, text, input.start(), we, false);
                        re.search_captures(&input, &mut caps);
                    }
                    let m = caps.get_match()?;
                    let sp = secret_group(&caps, *group)?;
                    *whole = Some((m.start(), m.end()));
                    Some((sp.start, sp.end, None)).map(|(s, e, id)| trim_pem(text, s, e, id))
                }
            }
            Check::KeyValue => {
                let (ns, ne) = kv_name_span(text.as_bytes(), hs, he);
                key_value(text, ns, ne, &mut KvContext::default()).map(|(s, e)| (s, e, None))
            }
            Check::UrlPassword => url_password(text, hs).map(|(s, e)| (s, e, None)),
            Check::Bearer => bearer(text, hs, he).map(|(s, e)| (s, e, None)),
            Check::Basic => self.basic(text, hs, he, decode_basic),
        }
    }

    fn basic(
        &self,
        text: &str,
        hs: usize,
        he: usize,
        decode: bool,
    ) -> Option<(usize, usize, Option<RuleId>)> {
        let b = text.as_bytes();
        let mut i = he;
        let ws = i;
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        if i == ws {
            return None;
        }
        let s = i;
        while i < b.len()
            && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'+' | b'/' | b'=' | b'-' | b'_'))
        {
            i += 1;
        }
        let e = i;
        // `Basic realm="api"`: a challenge's parameter, not a payload.
        if e - s < 4 || challenge_param(b, s, e) {
            return None;
        }
        use base64::Engine;
        let payload = &text[s..e];
        let trimmed = payload.trim_end_matches('=');
        let decoded = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(trimmed)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(trimmed))
            .ok()
            .and_then(|d| String::from_utf8(d).ok());
        if let Some(d) = &decoded
            && let Some(colon) = d.find(':')
            && !d.chars().any(|c| c.is_control())
        {
            let pass = &d[colon + 1..];
            if pass.is_empty() || is_placeholder(pass) {
                return None;
            }
            // A credential hiding inside the payload names the finding.
            let mut inner_id = None;
            if decode {
                let mut cands = Vec::new();
                self.candidates(d, &mut cands, false);
                if let Some(c) = cands
                    .iter()
                    .min_by_key(|c| self.inner.rules[c.rule].priority)
                {
                    let r = &self.inner.rules[c.rule];
                    if r.priority == 0 {
                        inner_id = Some(r.id.clone());
                    }
                }
            }
            return Some((s, e, inner_id));
        }
        // Not user:password: still a secret right after an Authorization key.
        let from = floor_boundary(text, hs.saturating_sub(40));
        // (`authorization` contains `auth`.)
        if has(&text.as_bytes()[from..hs], b"auth", true) {
            return Some((s, e, None));
        }
        None
    }
}

/// The compiled rule of a user rule (checked already) whose secret is
/// capture group `group` and whose secret must have at least `min_entropy`
/// bits per byte, and its keywords.
pub(super) fn user_rule(
    spec: &RuleSpec,
    group: usize,
    min_entropy: Option<f64>,
) -> Result<(Rule, Vec<String>), Error> {
    let re = Regex::new(&spec.regex).map_err(|e| {
        Error::config(format!("rule '{}': the regex does not compile", spec.id)).with_source(e)
    })?;
    let keywords: Vec<String> = spec
        .keywords
        .iter()
        .filter(|k| !k.is_empty())
        .cloned()
        .collect();
    let rule = Rule {
        id: RuleId(Arc::from(spec.id.as_str())),
        priority: 0,
        check: Check::Regex {
            re: LazyRegex::compiled(re, max_match_len(&spec.regex)),
            anchored: false,
            back: 512,
            fwd: 1024,
            group,
            line: true,
            pre: None,
            needs: None,
            split: None,
        },
        word_start: false,
        exact_case: false,
        min_entropy,
        entropy_skip: 0,
        placeholders: true,
        mixed: false,
    };
    Ok((rule, keywords))
}

/// `realm=` in `Basic realm="api"`: a word and `=` before a quote, a
/// challenge's parameter rather than a base64 payload.
pub(super) fn challenge_param(b: &[u8], s: usize, e: usize) -> bool {
    e > s + 1
        && b[e - 1] == b'='
        && b.get(e) == Some(&b'"')
        && b[s..e - 1].iter().all(u8::is_ascii_alphabetic)
}

/// The state of one search that a rule run reads and updates.
struct Search<'a> {
    /// What earlier hits proved (see `memo.rs`).
    memo: &'a mut Memo,
    /// The rule's hits before this place are not run: raised where `memo`
    /// proves the rule finds nothing at the hits up to a later place.
    skip: &'a mut usize,
    /// Set to the whole regex match of a found secret (for allowlists
    /// that look at the match).
    whole: &'a mut Option<(usize, usize)>,
}

struct Cand {
    start: usize,
    end: usize,
    rule: usize,
    id: Option<RuleId>,
}

fn merge(mut cands: Vec<Cand>, rules: &[Rule], out: &mut Vec<Finding>) {
    if cands.is_empty() {
        return;
    }
    cands.sort_by_key(|c| (c.start, std::cmp::Reverse(c.end)));
    let mut cur: Option<(usize, usize, u8, RuleId)> = None;
    for c in cands {
        let r = &rules[c.rule];
        let id = c.id.unwrap_or_else(|| r.id.clone());
        match &mut cur {
            Some((_, e, p, rid)) if c.start < *e => {
                *e = (*e).max(c.end);
                if r.priority < *p {
                    *p = r.priority;
                    *rid = id;
                }
            }
            _ => {
                if let Some((s, e, _, rid)) = cur.take() {
                    out.push(Finding {
                        rule: rid,
                        start: s,
                        end: e,
                    });
                }
                cur = Some((c.start, c.end, r.priority, id));
            }
        }
    }
    if let Some((s, e, _, rid)) = cur {
        out.push(Finding {
            rule: rid,
            start: s,
            end: e,
        });
    }
}

/// The span of the secret in a match: capture group `group`, or with
/// [`FIRST_GROUP`] the first non-empty group (the whole match when there is
/// none).
fn secret_group(
    caps: &regex_automata::util::captures::Captures,
    group: usize,
) -> Option<regex_automata::Span> {
    if group != FIRST_GROUP {
        return caps.get_group(group);
    }
    (1..caps.group_len())
        .filter_map(|g| caps.get_group(g))
        .find(|sp| sp.end > sp.start)
        .or_else(|| caps.get_group(0))
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(text: &str, mut i: usize) -> usize {
    while i < text.len() && !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

fn next_char(text: &str, i: usize) -> usize {
    ceil_boundary(text, i + 1).max(i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_rules_are_checked_strictly_and_ids_must_be_unique() {
        let spec = |id: &str, regex: &str| RuleSpec {
            id: id.into(),
            regex: regex.into(),
            keywords: vec!["acme_".into()],
            min_entropy: None,
            secret_group: None,
        };
        let bad = [
            spec("", "acme_[a-z]{8}"),
            spec("has space", "acme_[a-z]{8}"),
            spec("empty-match", "a*"),
            spec("broken", "acme_[a-z"),
            RuleSpec {
                secret_group: Some(1),
                ..spec("no-group", "acme_[a-z]{8}")
            },
            RuleSpec {
                min_entropy: Some(9.0),
                ..spec("entropy", "acme_[a-z]{8}")
            },
            RuleSpec {
                keywords: vec![String::new()],
                ..spec("kw", "acme_[a-z]{8}")
            },
        ];
        for s in bad {
            let e = RuleSet::empty()
                .with_user_rules(vec![s.clone()])
                .unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Config, "{s:?}");
        }
        let e = RuleSet::empty()
            .with_user_rules(vec![
                spec("twice", "acme_[a-z]{8}"),
                spec("twice", "acme_[0-9]{8}"),
            ])
            .unwrap_err();
        assert_eq!(e.to_string(), "rule 'twice': duplicate rule id");
        let ok = RuleSet::empty()
            .with_user_rules(vec![spec("acme", "acme_[a-z]{8}")])
            .unwrap();
        assert!(ok.is_match("key acme_qzkvtmwp here"));
    }
    use crate::detect::testing::{secret, spans};

    #[test]
    fn every_match_of_a_user_rule_on_a_line_is_found() {
        // The second search of a line starts where the first one did; the
        // match it finds first ends before the second hit.
        for (regex, group) in [
            ("acme_[a-z0-9]{12}", None),
            ("acme_([a-z0-9]{12})", Some(1)),
        ] {
            let rules = RuleSet::empty()
                .with_user_rules(vec![RuleSpec {
                    id: "acme".into(),
                    regex: regex.into(),
                    keywords: vec!["acme_".into()],
                    min_entropy: None,
                    secret_group: group,
                }])
                .unwrap();
            let line = "k acme_k7m2q9x4b1z8 x acme_p3w8r5t1v6n0 y acme_h4j9d2s7f5g1";
            let mut out = Vec::new();
            rules.find(line, &mut out);
            let got: Vec<&str> = out.iter().map(|f| &line[f.start..f.end]).collect();
            let want: Vec<String> = ["k7m2q9x4b1z8", "p3w8r5t1v6n0", "h4j9d2s7f5g1"]
                .iter()
                .map(|s| {
                    if group.is_some() {
                        s.to_string()
                    } else {
                        format!("acme_{s}")
                    }
                })
                .collect();
            assert_eq!(got, want, "{regex}");
        }
    }

    #[test]
    fn basic_auth_payload_is_masked_and_an_inner_credential_names_the_finding() {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode("alice:s3cret-pass");
        let line = format!("Authorization: Basic {b64}");
        let found = spans(&line);
        assert_eq!(found, vec![("http-basic-auth".to_string(), b64.clone())]);
        let inner = base64::engine::general_purpose::STANDARD
            .encode("x:ghp_b5h9M344OTFAQdfeb4g0MRcoIztgBqkFLglB");
        let found = spans(&format!("Authorization: Basic {inner}"));
        assert_eq!(found[0].0, "github-pat");
    }

    #[test]
    fn user_rules_are_added_and_bad_regexes_name_the_rule() {
        let rules = RuleSet::builtin()
            .with_user_rules(vec![RuleSpec {
                id: "acme-key".into(),
                regex: r"acme_([a-z0-9]{12})".into(),
                keywords: vec!["acme_".into()],
                min_entropy: None,
                secret_group: Some(1),
            }])
            .unwrap();
        let mut out = Vec::new();
        rules.find("k acme_wq7f2kz90mxb x", &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].rule.as_str(), "acme-key");
        assert_eq!((out[0].start, out[0].end), (7, 19));
        let err = RuleSet::builtin()
            .with_user_rules(vec![RuleSpec {
                id: "broken-rule".into(),
                regex: "(unclosed".into(),
                keywords: vec![],
                min_entropy: None,
                secret_group: None,
            }])
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Config);
        assert!(err.to_string().contains("broken-rule"));
    }

    #[test]
    fn keywords_across_the_middle_of_a_long_text_and_in_any_case_are_found() {
        // Long texts are searched in two halves at once: a keyword across
        // the middle is found once, as on a short line.
        for shift in 0..16 {
            for (word, want) in [
                ("PASSWORD=hunter22x", "hunter22x"),
                (
                    "ghp_b5h9M344OTFAQdfeb4g0MRcoIztgBqkFLglB",
                    "ghp_b5h9M344OTFAQdfeb4g0MRcoIztgBqkFLglB",
                ),
            ] {
                let before = 8192 - 24 + shift;
                let mut text = "a".repeat(before);
                text.push(' ');
                text.push_str(word);
                text.push(' ');
                text.push_str(&"b".repeat(16384 - text.len()));
                assert_eq!(
                    secret(&text),
                    vec![want.to_string()],
                    "shift {shift}, {word}"
                );
                assert_eq!(secret(&format!("x {word}")), vec![want.to_string()]);
            }
        }
        assert_eq!(secret("X-API-KEY: 9a7c2654f69d"), vec!["9a7c2654f69d"]);
        assert_eq!(secret("Db_PASSword=hunter22"), vec!["hunter22"]);
    }
}
