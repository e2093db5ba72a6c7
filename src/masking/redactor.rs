//! The [`Redactor`]: one object that rewrites text with every secret masked.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::RwLock;

use crate::detect::{DetectedLimits, DetectedSecrets, Finding, RuleSet, RuleSpec};
use crate::error::Error;
use crate::masking::known::KnownSecrets;

/// The default mask.
pub const DEFAULT_MASK: &str = "****";

/// Rewrites text so that no secret survives: known values (live from one or
/// more [`KnownSecrets`] registries, with their encoded forms), credential
/// shapes and secret-named keys ([`RuleSet`]), and extra secrets or patterns
/// the user adds. Only the secret span is replaced by the mask; the rest of
/// the text stays readable.
///
/// A secret that a rule finds stays masked: every other occurrence of it
/// in the same text, and in every text this redactor (or a clone of it)
/// masks later, is masked too, bare or not. The redactor keeps the values
/// it found in a [`DetectedSecrets`] pool, bounded by
/// [`DetectedLimits`] (by default 1,000 values, 256 KiB, one hour since a
/// value was last found; the oldest dropped first), separate from the
/// known values, which it never touches;
/// [`RedactorBuilder::detected_limits`] sizes it and
/// [`RedactorBuilder::without_detected`] turns it off. Values shorter than
/// [`MIN_COPY_LEN`](crate::detect::MIN_COPY_LEN) characters are masked
/// only where a rule finds them. While the pool is empty, checking it is
/// one atomic load; once it holds values, one more sampled search per
/// text.
///
/// Cheap to clone (shared); `Send` and `Sync`.
///
/// # Example
///
/// ```
/// use std::sync::Arc;
/// use secret_chain::masking::{KnownSecrets, Redactor};
///
/// let known = Arc::new(KnownSecrets::new());
/// let redactor = Redactor::builder().known(known.clone()).build()?;
/// known.register("correct-horse-battery");
/// assert_eq!(
///     redactor.redact("login password=hunter22 then correct-horse-battery"),
///     "login password=**** then ****"
/// );
/// // Nothing to mask: the same text, not copied.
/// assert!(matches!(redactor.redact("all clear"), std::borrow::Cow::Borrowed(_)));
/// // Found once by a rule, masked bare from then on.
/// assert_eq!(redactor.redact("retrying with hunter22"), "retrying with ****");
/// # Ok::<(), secret_chain::Error>(())
/// ```
#[derive(Clone)]
pub struct Redactor {
    inner: Arc<Inner>,
}

struct Inner {
    known: Vec<Arc<KnownSecrets>>,
    extra: Arc<KnownSecrets>,
    rules: Option<RuleSet>,
    mask: String,
    /// The values the rules found so far (`None`: turned off).
    detected: Option<Detected>,
}

/// The redactor's pool of detected values, shared by its clones.
struct Detected {
    pool: RwLock<DetectedSecrets>,
    /// Whether the pool holds nothing: the clean path reads only this.
    empty: AtomicBool,
    generation: AtomicU64,
}

impl Detected {
    fn new(limits: DetectedLimits) -> Detected {
        Detected {
            pool: RwLock::new(DetectedSecrets::with_limits(limits)),
            empty: AtomicBool::new(true),
            generation: AtomicU64::new(0),
        }
    }

    /// Remembers `findings` of `text` (taking the write lock only when
    /// that changes the pool), then merges into them the copies in `text`
    /// of every value held.
    fn add_copies(&self, text: &str, findings: &mut Vec<Finding>) {
        if findings.is_empty() && self.empty.load(Ordering::Acquire) {
            return;
        }
        let now = Instant::now();
        if !findings.is_empty() && self.pool.read().needs_remember_at(text, findings, now) {
            let mut pool = self.pool.write();
            pool.remember_at(text, findings, now);
            self.published(&pool);
        }
        if self.empty.load(Ordering::Acquire) {
            return;
        }
        let mut copies = Vec::new();
        self.pool.read().find_at(text, &mut copies, now);
        if copies.is_empty() {
            return;
        }
        let mut all = std::mem::take(findings);
        all.extend(copies);
        merge_findings(&mut all);
        *findings = all;
    }

    fn remember_value(&self, value: &str) {
        let now = Instant::now();
        if !self.pool.read().needs_remember_value_at(value, now) {
            return;
        }
        let mut pool = self.pool.write();
        pool.remember_value_at(value, now);
        self.published(&pool);
    }

    fn published(&self, pool: &DetectedSecrets) {
        self.empty.store(pool.is_empty(), Ordering::Release);
        self.generation.store(pool.generation(), Ordering::Release);
    }

    fn is_match(&self, text: &str) -> bool {
        !self.empty.load(Ordering::Acquire) && self.pool.read().is_match(text)
    }
}

/// Sorts `v` and merges the findings that overlap (the first keeps its
/// rule).
fn merge_findings(v: &mut Vec<Finding>) {
    v.sort_by_key(|f| (f.start, std::cmp::Reverse(f.end)));
    let mut out: Vec<Finding> = Vec::with_capacity(v.len());
    for f in v.drain(..) {
        match out.last_mut() {
            Some(last) if f.start < last.end => last.end = last.end.max(f.end),
            _ => out.push(f),
        }
    }
    *v = out;
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("known", &self.inner.known)
            .field("extra", &self.inner.extra.len())
            .field("rules", &self.inner.rules)
            .field("mask", &self.inner.mask)
            .field(
                "detected",
                &self.inner.detected.as_ref().map(|d| d.pool.read().len()),
            )
            .finish()
    }
}

impl Default for Redactor {
    fn default() -> Self {
        Redactor::builder()
            .build()
            .expect("a redactor without user rules builds")
    }
}

/// Builds a [`Redactor`]; see [`Redactor::builder`].
#[derive(Clone)]
pub struct RedactorBuilder {
    known: Vec<Arc<KnownSecrets>>,
    extra: Vec<zeroize::Zeroizing<String>>,
    rules: Option<RuleSet>,
    user_rules: Vec<RuleSpec>,
    mask: String,
    detected: Option<DetectedLimits>,
}

impl fmt::Debug for RedactorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedactorBuilder")
            .field("known", &self.known)
            .field("extra_secrets", &self.extra.len())
            .field("user_rules", &self.user_rules.len())
            .field("mask", &self.mask)
            .field("detected", &self.detected)
            .finish()
    }
}

impl Default for RedactorBuilder {
    fn default() -> Self {
        RedactorBuilder {
            known: Vec::new(),
            extra: Vec::new(),
            rules: Some(RuleSet::builtin()),
            user_rules: Vec::new(),
            mask: DEFAULT_MASK.to_owned(),
            detected: Some(DetectedLimits::default()),
        }
    }
}

impl RedactorBuilder {
    /// Masks the values of this registry, live: values registered later are
    /// masked too. Call more than once to watch several registries.
    pub fn known(mut self, known: Arc<KnownSecrets>) -> Self {
        self.known.push(known);
        self
    }

    /// Masks this literal value (any length, with its encoded forms).
    pub fn extra_secret(mut self, value: impl Into<String>) -> Self {
        self.extra.push(zeroize::Zeroizing::new(value.into()));
        self
    }

    /// Masks whatever matches `regex` (Rust regex syntax; the whole match).
    /// A pattern without keywords runs over the whole text, which is slower
    /// than the built-in rules; prefer [`rule`](Self::rule) with keywords.
    pub fn pattern(mut self, regex: impl Into<String>) -> Self {
        let n = self.user_rules.len();
        self.user_rules.push(RuleSpec {
            id: format!("user-pattern-{n}"),
            regex: regex.into(),
            keywords: Vec::new(),
            min_entropy: None,
            secret_group: None,
        });
        self
    }

    /// Adds a user rule (keywords, secret group, entropy).
    pub fn rule(mut self, rule: RuleSpec) -> Self {
        self.user_rules.push(rule);
        self
    }

    /// Replaces the rule set (default: [`RuleSet::builtin`]).
    pub fn rules(mut self, rules: RuleSet) -> Self {
        self.rules = Some(rules);
        self
    }

    /// Turns the credential rules off: only known and extra values are masked.
    pub fn without_rules(mut self) -> Self {
        self.rules = None;
        self
    }

    /// The text that replaces each secret (default `****`).
    pub fn mask(mut self, mask: impl Into<String>) -> Self {
        self.mask = mask.into();
        self
    }

    /// Sizes the pool of values the rules found, which stay masked in
    /// later text (default [`DetectedLimits::default`]: 1,000 values,
    /// 256 KiB, one hour; `max_values: 0` turns it off).
    pub fn detected_limits(mut self, limits: DetectedLimits) -> Self {
        self.detected = (limits.max_values > 0).then_some(limits);
        self
    }

    /// Turns the pool of found values off: a value a rule finds is masked
    /// in that text only (its copies there included), not in later ones.
    pub fn without_detected(mut self) -> Self {
        self.detected = None;
        self
    }

    /// Builds the redactor.
    ///
    /// # Errors
    ///
    /// A [`Config`](crate::ErrorKind::Config) error naming the pattern when
    /// a user regex does not compile.
    pub fn build(self) -> Result<Redactor, Error> {
        let rules = match (self.rules, self.user_rules.is_empty()) {
            (Some(r), true) => Some(r),
            (Some(r), false) => Some(r.with_user_rules(self.user_rules)?),
            (None, true) => None,
            (None, false) => Some(RuleSet::empty().with_user_rules(self.user_rules)?),
        };
        let extra = Arc::new(KnownSecrets::with_settings(1, std::time::Duration::MAX));
        extra.register_many(self.extra.iter().map(|s| s.as_str()));
        Ok(Redactor {
            inner: Arc::new(Inner {
                known: self.known,
                extra,
                rules,
                mask: self.mask,
                detected: self.detected.map(Detected::new),
            }),
        })
    }
}

impl Redactor {
    /// A builder: built-in rules, mask `****`, no known values.
    pub fn builder() -> RedactorBuilder {
        RedactorBuilder::default()
    }

    /// A redactor for the values of `known` plus the built-in rules.
    pub fn new(known: Arc<KnownSecrets>) -> Redactor {
        Redactor::builder()
            .known(known)
            .build()
            .expect("a redactor without user rules builds")
    }

    /// The mask text.
    pub fn mask(&self) -> &str {
        &self.inner.mask
    }

    /// Adds a literal value to mask from now on (any length).
    pub fn add_secret(&self, value: &str) {
        self.inner.extra.register(value);
    }

    /// Changes whenever a watched registry (or the extra secrets) gets a
    /// new matcher; see [`KnownSecrets::generation`].
    pub(crate) fn generation(&self) -> u64 {
        let detected = self
            .inner
            .detected
            .as_ref()
            .map_or(0, |d| d.generation.load(Ordering::Acquire));
        self.inner
            .known
            .iter()
            .fold(self.inner.extra.generation(), |g, k| {
                g.wrapping_add(k.generation())
            })
            .wrapping_add(detected)
    }

    /// Remembers `value` as a secret found now (the value of a
    /// secret-named field, masked whole): later copies of it are masked.
    /// Only a single token is taken (no whitespace, not a placeholder or
    /// a word such as `true`), so that a `Debug` form such as
    /// `Config { .. }` or `[REDACTED]` is not masked everywhere. Nothing
    /// happens when the pool is off.
    pub(crate) fn remember_secret(&self, value: &str) {
        let Some(d) = &self.inner.detected else {
            return;
        };
        if value.chars().count() < crate::detect::MIN_COPY_LEN
            || value.chars().any(char::is_whitespace)
            || crate::detect::is_placeholder(value)
            || crate::detect::is_value_word(value)
        {
            return;
        }
        d.remember_value(value);
    }

    /// Whether built-in or user rules are active.
    pub fn has_rules(&self) -> bool {
        self.inner.rules.is_some()
    }

    /// Whether `text` may hold something to mask: a known value, a
    /// keyword of a rule, or a value found earlier. `false` means
    /// [`redact`](Self::redact) returns the text unchanged.
    pub fn may_match(&self, text: &str) -> bool {
        self.inner.known.iter().any(|k| k.is_match(text))
            || self.inner.extra.is_match(text)
            || self
                .inner
                .rules
                .as_ref()
                .is_some_and(|r| r.has_candidates(text))
            || self
                .inner
                .detected
                .as_ref()
                .is_some_and(|d| d.is_match(text))
    }

    /// The byte ranges to mask in `text`: merged, in order.
    pub fn spans(&self, text: &str, out: &mut Vec<Range<usize>>) {
        let start = out.len();
        for k in &self.inner.known {
            k.find(text, out);
        }
        self.inner.extra.find(text, out);
        let mut findings: Vec<Finding> = Vec::new();
        if let Some(rules) = &self.inner.rules {
            rules.find(text, &mut findings);
        }
        if let Some(d) = &self.inner.detected {
            d.add_copies(text, &mut findings);
        }
        out.extend(findings.into_iter().map(|f| f.start..f.end));
        merge_ranges(out, start);
    }

    /// `text` with every secret replaced by the mask; borrowed (no copy)
    /// when there is nothing to mask.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut spans = Vec::new();
        self.spans(text, &mut spans);
        if spans.is_empty() {
            return Cow::Borrowed(text);
        }
        Cow::Owned(apply(text, &spans, &self.inner.mask))
    }

    /// Like [`redact`](Self::redact), but lines that are JSON objects are
    /// rewritten string by string (escapes decoded before matching, the mask
    /// JSON-escaped), so JSON stays valid JSON; values under secret-named
    /// keys are masked whole.
    pub fn redact_lines<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if !text.contains('{') {
            return self.redact(text);
        }
        let mut out: Option<String> = None;
        let mut copied = 0;
        let mut pos = 0;
        for line in text.split_inclusive('\n') {
            let body = line.trim_end_matches(['\n', '\r']);
            let trimmed = body.trim();
            let replaced = if trimmed.starts_with('{') && trimmed.ends_with('}') {
                super::json::redact_json(self, body)
            } else {
                match self.redact(body) {
                    Cow::Borrowed(_) => None,
                    Cow::Owned(s) => Some(s),
                }
            };
            if let Some(new) = replaced {
                let o = out.get_or_insert_with(|| String::with_capacity(text.len() + 16));
                o.push_str(&text[copied..pos]);
                o.push_str(&new);
                copied = pos + body.len();
            }
            pos += line.len();
        }
        match out {
            Some(mut o) => {
                o.push_str(&text[copied..]);
                Cow::Owned(o)
            }
            None => Cow::Borrowed(text),
        }
    }
}

fn merge_ranges(v: &mut Vec<Range<usize>>, start: usize) {
    if v.len() - start <= 1 {
        return;
    }
    v[start..].sort_unstable_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
    let mut w = start;
    for i in start + 1..v.len() {
        let r = v[i].clone();
        if r.start <= v[w].end {
            if r.end > v[w].end {
                v[w].end = r.end;
            }
        } else {
            w += 1;
            v[w] = r;
        }
    }
    v.truncate(w + 1);
}

pub(crate) fn apply(text: &str, spans: &[Range<usize>], mask: &str) -> String {
    let mut out = String::with_capacity(text.len() + spans.len() * mask.len());
    let mut last = 0;
    for r in spans {
        // Spans from byte-level matches are widened to char boundaries.
        let mut s = r.start.max(last);
        while s > last && !text.is_char_boundary(s) {
            s -= 1;
        }
        let mut e = r.end.min(text.len());
        while e < text.len() && !text.is_char_boundary(e) {
            e += 1;
        }
        if e <= s {
            continue;
        }
        out.push_str(&text[last..s]);
        out.push_str(mask);
        last = e;
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_to_mask_borrows_the_text() {
        let r = Redactor::default();
        assert!(matches!(r.redact("GET /health 200 3ms"), Cow::Borrowed(_)));
    }

    #[test]
    fn known_and_pattern_spans_are_masked_and_merged() {
        let known = Arc::new(KnownSecrets::new());
        known.register("hunter22xyz");
        let r = Redactor::builder()
            .known(known)
            .mask("[MASKED]")
            .build()
            .unwrap();
        assert_eq!(r.redact("password=hunter22xyz ok"), "password=[MASKED] ok");
        assert_eq!(
            r.redact("a hunter22xyz b ghp_b5h9M344OTFAQdfeb4g0MRcoIztgBqkFLglB"),
            "a [MASKED] b [MASKED]"
        );
    }

    #[test]
    fn extra_secrets_and_patterns_are_masked() {
        let r = Redactor::builder()
            .extra_secret("abc")
            .pattern(r"ord-\d{4}")
            .build()
            .unwrap();
        assert_eq!(r.redact("x abc ord-1234 y"), "x **** **** y");
        r.add_secret("later-added");
        assert_eq!(r.redact("later-added"), "****");
    }

    #[test]
    fn a_bad_pattern_is_a_config_error() {
        let e = Redactor::builder().pattern("(").build().unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Config);
    }

    #[test]
    fn json_lines_stay_valid_json() {
        let known = Arc::new(KnownSecrets::new());
        known.register("va\"lue\\with-quotes");
        let r = Redactor::new(known);
        let line = serde_json::json!({"msg": "k=va\"lue\\with-quotes", "password": "x1y2z3", "n": {"token": 12345678}}).to_string();
        let text = format!("plain password=abc123\n{line}\n");
        let out = r.redact_lines(&text);
        let mut lines = out.lines();
        assert_eq!(lines.next().unwrap(), "plain password=****");
        let v: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert_eq!(v["msg"], "k=****");
        assert_eq!(v["password"], "****");
        assert_eq!(v["n"]["token"], "****");
    }

    #[test]
    fn a_found_secret_stays_masked_in_later_texts_and_clones() {
        let known = Arc::new(KnownSecrets::new());
        let r = Redactor::new(known.clone());
        assert_eq!(
            r.redact(
                "token = 'Zq8-Lw3x-Pt7v' | 'Zq8-Lw3x-Pt7v'"
                    .replace("token", "password")
                    .as_str()
            ),
            "password = '****' | '****'"
        );
        assert!(r.may_match("retry with Zq8-Lw3x-Pt7v"));
        assert_eq!(r.redact("retry with Zq8-Lw3x-Pt7v"), "retry with ****");
        let clone = r.clone();
        assert_eq!(
            clone.redact("{\"m\":\"Zq8-Lw3x-Pt7v\"}"),
            "{\"m\":\"****\"}"
        );
        // The registry of fetched values is another thing: untouched.
        assert_eq!(known.len(), 0);
        // Clean text stays borrowed.
        assert!(matches!(r.redact("GET /health 200"), Cow::Borrowed(_)));
        assert!(!r.may_match("GET /health 200"));
    }

    #[test]
    fn the_pool_is_shared_between_threads() {
        let r = Redactor::default();
        let values: Vec<String> = (0..8).map(|i| format!("Th{i}-Kq7r-Uu9w")).collect();
        std::thread::scope(|s| {
            for v in &values {
                let r = r.clone();
                s.spawn(move || r.redact(&format!("password={v}")).into_owned());
            }
        });
        let line = values.join(" ");
        assert_eq!(r.redact(&line), ["****"; 8].join(" "));
    }

    #[test]
    fn the_pool_can_be_sized_or_turned_off() {
        let off = Redactor::builder().without_detected().build().unwrap();
        assert_eq!(
            off.redact("password=Zq8-Lw3x-Pt7v Zq8-Lw3x-Pt7v"),
            "password=**** ****"
        );
        assert_eq!(
            off.redact("retry with Zq8-Lw3x-Pt7v"),
            "retry with Zq8-Lw3x-Pt7v"
        );
        let zero = Redactor::builder()
            .detected_limits(crate::detect::DetectedLimits {
                max_values: 0,
                ..Default::default()
            })
            .build()
            .unwrap();
        zero.redact("password=Zq8-Lw3x-Pt7v");
        assert_eq!(zero.redact("Zq8-Lw3x-Pt7v"), "Zq8-Lw3x-Pt7v");
        let one = Redactor::builder()
            .detected_limits(crate::detect::DetectedLimits {
                max_values: 1,
                ..Default::default()
            })
            .build()
            .unwrap();
        one.redact("password=Zq8-Lw3x-Pt7v");
        one.redact("password=Yy7-Kk3x-Pp7q");
        assert_eq!(
            one.redact("Zq8-Lw3x-Pt7v Yy7-Kk3x-Pp7q"),
            "Zq8-Lw3x-Pt7v ****"
        );
    }

    #[test]
    fn values_of_secret_named_keys_in_json_stay_masked_later() {
        let r = Redactor::default();
        let first = r.redact_lines("{\"user\":\"svc\",\"api_key\":\"Kq7-Rt5y-Uu9w\"}\n");
        assert_eq!(first, "{\"user\":\"svc\",\"api_key\":\"****\"}\n");
        assert_eq!(r.redact("calling with Kq7-Rt5y-Uu9w"), "calling with ****");
        // Short values and words are not remembered.
        r.redact_lines("{\"password\":\"ab12z\",\"token\":\"true\"}");
        assert_eq!(r.redact("ab12z true"), "ab12z true");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Events through one redactor: once a rule finds a secret, no
        /// later event (nor that one) holds it, wherever it is.
        #[test]
        fn a_found_secret_never_survives_in_that_event_or_a_later_one(
            secrets in proptest::collection::vec("[A-Za-z0-9]{8,24}", 1..4),
            events in proptest::collection::vec(
                proptest::collection::vec((0usize..4, 0usize..4, "[a-z0-9 ,.:-]{0,10}"), 1..6),
                1..12,
            ),
        ) {
            let r = Redactor::default();
            let rules = RuleSet::builtin();
            let mut found: Vec<String> = Vec::new();
            for parts in &events {
                let text: String = parts
                    .iter()
                    .map(|(which, how, filler)| {
                        let s = &secrets[which % secrets.len()];
                        match how {
                            0 => format!("{filler} password={s} "),
                            1 => format!("{filler} https://svc:{s}@db/x "),
                            2 => format!("{filler} {{\"api_key\":\"{s}\"}} "),
                            _ => format!("{filler} {s} "),
                        }
                    })
                    .collect();
                let mut f = Vec::new();
                rules.find(&text, &mut f);
                for f in &f {
                    let v = &text[f.start..f.end];
                    if v.chars().count() >= crate::detect::MIN_COPY_LEN {
                        found.push(v.to_string());
                    }
                }
                let out = r.redact(&text);
                for v in &found {
                    proptest::prop_assert!(!out.contains(v.as_str()), "{v:?} in {out:?}");
                }
            }
        }
    }
}
