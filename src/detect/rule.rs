//! The rule types: what a user declares ([`RuleSpec`]), what a search
//! reports ([`Finding`], named by a [`RuleId`]), and the compiled [`Rule`]
//! with its [`Check`] that the [`RuleSet`](super::RuleSet) runs at a keyword
//! hit.

use std::fmt;
use std::sync::{Arc, OnceLock};

use regex_automata::meta::Regex;
use serde::Deserialize;

use crate::error::Error;

/// A user rule, as read from the `scan --config` TOML file
/// (`[[rules]]` tables with `id`, `regex`, `keywords`, `min_entropy`,
/// `secret_group`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct RuleSpec {
    /// A short name reported with each finding, e.g. `acme-api-key`.
    pub id: String,
    /// The pattern (Rust `regex` syntax).
    pub regex: String,
    /// Literal words, one of which occurs in (or just before) every match;
    /// matched ASCII case-insensitively. The regex then runs only in a
    /// window of the line around each hit. A rule without keywords runs over
    /// the whole text, which is much slower.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// The minimum Shannon entropy (bits per byte) of the secret part.
    #[serde(default)]
    pub min_entropy: Option<f64>,
    /// The capture group that holds the secret (0 or absent: the whole match).
    #[serde(default)]
    pub secret_group: Option<usize>,
}

/// The largest compiled size of a user regex (2 MiB): a pattern that needs
/// more (`[a-z]{50000}`, or a Unicode class such as `\w` repeated a hundred
/// times) is refused instead of slowing every search down.
pub const USER_REGEX_SIZE_LIMIT: usize = 2 << 20;

impl RuleSpec {
    /// Checks a user rule before it is added: the id is non-empty and uses
    /// only letters, digits, `-`, `_`, `.` and `/`; the regex compiles
    /// within the size limit and does not match empty text; `secret_group`
    /// exists; `min_entropy` is between 0 and 8 bits per character; no
    /// keyword is empty. [`RuleSet::with_user_rules`](super::RuleSet::with_user_rules)
    /// runs it on every rule.
    ///
    /// # Errors
    ///
    /// A [`Config`](crate::ErrorKind::Config) error, `rule '<id>': <what>`.
    pub fn check(&self) -> Result<(), Error> {
        let id_ok = !self.id.trim().is_empty()
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
        if !id_ok {
            return Err(Error::config(
                "rule id must be non-empty and use only letters, digits, '-', '_', '.', '/'",
            ));
        }
        let bad = |what: String| Error::config(format!("rule '{}': {what}", self.id));
        if self.regex.is_empty() {
            return Err(bad("regex is empty".into()));
        }
        let re = regex::RegexBuilder::new(&self.regex)
            .size_limit(USER_REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| match e {
                regex::Error::CompiledTooBig(_) => bad(format!(
                    "the regex compiles to more than {} MiB (a long repetition, or a Unicode class such as \\w repeated: try [A-Za-z0-9_] or (?-u))",
                    USER_REGEX_SIZE_LIMIT >> 20
                )),
                other => bad(format!("invalid regex: {}", one_line(&other.to_string()))),
            })?;
        if re.is_match("") {
            return Err(bad("regex matches the empty string".into()));
        }
        if let Some(g) = self.secret_group
            && g >= re.captures_len()
        {
            return Err(bad(format!(
                "secret_group = {g} but the regex has {} capture group(s)",
                re.captures_len() - 1
            )));
        }
        if let Some(h) = self.min_entropy
            && (!h.is_finite() || !(0.0..=8.0).contains(&h))
        {
            return Err(bad(
                "min_entropy must be between 0 and 8 (bits per character)".into(),
            ));
        }
        if self.keywords.iter().any(|k| k.is_empty()) {
            return Err(bad("keywords must not be empty strings".into()));
        }
        Ok(())
    }
}

/// The regex crate's message on one line, without the pattern it quotes
/// (the rule id and the file line say where): its `error: ...` line.
pub(super) fn one_line(s: &str) -> String {
    if let Some(reason) = s.lines().map(str::trim).find(|l| l.starts_with("error:")) {
        return reason.trim_start_matches("error:").trim().to_owned();
    }
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.chars().all(|c| c == '~' || c == '^'))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The name of the rule that produced a [`Finding`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RuleId(pub(super) Arc<str>);

impl RuleId {
    /// The rule's name, e.g. `github-pat`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One credential found in a text: the byte span of the secret part only
/// (for `password=hunter22` just `hunter22`).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule that matched.
    pub rule: RuleId,
    /// Byte offset where the secret starts.
    pub start: usize,
    /// Byte offset just past the secret.
    pub end: usize,
}

/// How a rule checks a keyword hit.
pub(super) enum Check {
    /// A regex run in a window around the hit.
    Regex {
        re: LazyRegex,
        /// Anchored at the keyword hit (the keyword is the token's prefix).
        anchored: bool,
        /// How far before the hit the match may start.
        back: usize,
        /// How far after the hit the match may end.
        fwd: usize,
        /// Capture group of the secret ([`FIRST_GROUP`]: the first
        /// non-empty one, as gitleaks does).
        group: usize,
        /// Snap the window to the line around the hit.
        line: bool,
        /// A cheap test at the hit (text bytes, hit start) that must pass
        /// before the regex runs; it never rejects a hit the regex accepts.
        pre: Option<fn(&[u8], usize) -> bool>,
        /// A pattern that matches inside every match of `re`, and its
        /// longest match when bounded: where none lies in the window, the
        /// regex is not run. Where the next one is, one search finds for
        /// all the hits before it (`memo.rs`).
        /// (Its longest match: [`LazyRegex::max_len`].)
        needs: Option<LazyRegex>,
        /// `(head, tail)` of an anchored `re` that is `head(tail)` with the
        /// secret in group 1: found with two plain searches, no captures.
        split: Option<(LazyRegex, LazyRegex)>,
    },
    /// A secret-named key followed by `=`, `:`, `=>` and a value.
    KeyValue,
    /// `scheme://user:password@host`.
    UrlPassword,
    /// `Bearer <token>`.
    Bearer,
    /// `Basic <base64 of user:password>`.
    Basic,
}

/// The `group` of a [`Check::Regex`] whose secret is its first non-empty
/// capture group (the whole match when every group is empty): gitleaks'
/// rule without a `secretGroup`.
pub(super) const FIRST_GROUP: usize = usize::MAX;

/// A rule's regex, compiled on first use: most built-in rules never see a
/// keyword hit in a given log, and compiling all of them (bounded
/// repetitions make large automata) would cost a scan tens of milliseconds
/// at start-up. Clones share the compiled regex.
#[derive(Clone)]
pub(super) struct LazyRegex {
    /// The pattern of a built-in rule (known to compile: a test compiles
    /// them all); empty for a regex compiled up front.
    src: &'static str,
    re: Arc<OnceLock<Regex>>,
    /// Its longest match, when bounded, worked out on first use too:
    /// parsing every built-in pattern for it was a third of start-up.
    max_len: Arc<OnceLock<Option<usize>>>,
}

impl LazyRegex {
    pub(super) fn builtin(src: &'static str) -> LazyRegex {
        LazyRegex {
            src,
            re: Arc::new(OnceLock::new()),
            max_len: Arc::new(OnceLock::new()),
        }
    }

    /// A regex compiled up front (a user rule), with the longest match of
    /// its pattern.
    pub(super) fn compiled(re: Regex, max_len: Option<usize>) -> LazyRegex {
        LazyRegex {
            src: "",
            re: Arc::new(OnceLock::from(re)),
            max_len: Arc::new(OnceLock::from(max_len)),
        }
    }

    /// The longest match the regex can make, when bounded: a search after
    /// one that found nothing starts where a match could still end past
    /// the empty window (`memo.rs`).
    pub(super) fn max_len(&self) -> Option<usize> {
        *self.max_len.get_or_init(|| max_match_len(self.src))
    }

    pub(super) fn get(&self) -> &Regex {
        self.re
            .get_or_init(|| Regex::new(self.src).expect("built-in rule regex compiles"))
    }

    /// The pattern of a built-in rule; empty for a regex compiled up front.
    #[cfg(test)]
    pub(super) fn src(&self) -> &'static str {
        self.src
    }
}

/// The longest match `pattern` can make, in bytes, when it is bounded.
pub(super) fn max_match_len(pattern: &str) -> Option<usize> {
    regex_automata::util::syntax::parse(pattern)
        .ok()?
        .properties()
        .maximum_len()
}

pub(super) struct Rule {
    pub(super) id: RuleId,
    /// Lower number wins when two findings overlap.
    pub(super) priority: u8,
    pub(super) check: Check,
    /// The byte before the hit must not be alphanumeric.
    pub(super) word_start: bool,
    /// The keyword must match with its exact case.
    pub(super) exact_case: bool,
    pub(super) min_entropy: Option<f64>,
    /// Entropy is measured after this many leading bytes (a vendor prefix).
    pub(super) entropy_skip: usize,
    /// Placeholders (`xxxx`, `<...>`, ...) are not findings.
    pub(super) placeholders: bool,
    /// Body must hold a digit and a letter (generic keys).
    pub(super) mixed: bool,
}

impl Rule {
    pub(super) fn clone_rule(&self) -> Rule {
        let check = match &self.check {
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
            } => Check::Regex {
                pre: *pre,
                needs: needs.clone(),
                split: split.clone(),
                re: re.clone(),
                anchored: *anchored,
                back: *back,
                fwd: *fwd,
                group: *group,
                line: *line,
            },
            Check::KeyValue => Check::KeyValue,
            Check::UrlPassword => Check::UrlPassword,
            Check::Bearer => Check::Bearer,
            Check::Basic => Check::Basic,
        };
        Rule {
            id: self.id.clone(),
            priority: self.priority,
            check,
            word_start: self.word_start,
            exact_case: self.exact_case,
            min_entropy: self.min_entropy,
            entropy_skip: self.entropy_skip,
            placeholders: self.placeholders,
            mixed: self.mixed,
        }
    }
}
