//! Rules with gitleaks' semantics ([`GitleaksRule`]), added to a set by
//! [`RuleSet::with_gitleaks_rules`], and the rule sets resolved for one
//! file path ([`RuleSet::for_path`]).
//!
//! What differs from a [`RuleSpec`]:
//!
//! - the regex is in Go (RE2) syntax: `\w`, `\d`, `\s`, `\b` are ASCII
//!   (see `go_regex.rs`);
//! - without a `secret_group` the secret is the first non-empty capture
//!   group (the whole match when the regex has none);
//! - `entropy`: the secret's Shannon entropy must be *greater* than it;
//! - `path`: a regex on the file path; the rule runs only in files whose
//!   path matches, and a rule with a path and no regex flags the file
//!   itself ([`RuleSet::file_rules`]);
//! - allowlists ([`AllowlistSpec`]), per rule and for the whole file;
//! - a rule whose id is one of the set's rules amends it (allowlists, a
//!   path, an entropy) or, with a regex, replaces it.
//!
//! Where no path is known (text given to [`RuleSet::find`] directly, the
//! masking layer, `redact` of stdin) a rule with a path does not run and a
//! path pattern of an allowlist never matches.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use regex_automata::meta::Regex;

use crate::error::Error;

use super::allowlist::{AllowlistSpec, Allows, CompiledAllow, Resolved};
use super::go_regex;
use super::rule::{FIRST_GROUP, Rule, RuleId, RuleSpec, USER_REGEX_SIZE_LIMIT, one_line};
use super::rule_set::{RuleSet, user_rule};

/// A rule as a gitleaks rules file declares it (`[[rules]]`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GitleaksRule {
    /// The rule id, reported with each finding.
    pub id: String,
    /// The pattern, in Go (RE2) syntax.
    pub regex: Option<String>,
    /// A pattern on the file path (Go syntax): the rule runs only in files
    /// whose path matches; without `regex` it flags those files.
    pub path: Option<String>,
    /// Literal words, one of which occurs near every match (ASCII
    /// case-insensitive); none: the regex runs over the whole text.
    pub keywords: Vec<String>,
    /// The secret's Shannon entropy (bits per byte) must exceed this; 0 or
    /// absent: no test.
    pub entropy: Option<f64>,
    /// The capture group that is the secret; 0 or absent: the first
    /// non-empty group.
    pub secret_group: Option<usize>,
    /// Candidates these allow are not findings.
    pub allowlists: Vec<AllowlistSpec>,
}

impl GitleaksRule {
    /// Checks the rule as [`RuleSpec::check`] checks ours (id, regex size
    /// and empty match, `secret_group`, entropy between 0 and 8, keywords),
    /// after turning the Go regex into Rust syntax; then its `path` and its
    /// allowlists. A rule with neither `regex` nor `path` passes here (it
    /// may amend a rule of the set it is added to); [`RuleSet::with_gitleaks_rules`]
    /// refuses it otherwise.
    ///
    /// # Errors
    ///
    /// A [`Config`](crate::ErrorKind::Config) error, `rule '<id>': <what>`.
    pub fn check(&self) -> Result<(), Error> {
        self.compile_parts().map(|_| ())
    }

    /// The Rust regex (checked), the compiled path and the secret group.
    fn compile_parts(&self) -> Result<(Option<RuleSpec>, Option<Regex>), Error> {
        let bad = |what: String| Error::config(format!("rule '{}': {what}", self.id));
        let spec = match &self.regex {
            Some(go) => {
                let rust = go_regex::translate(go)
                    .map_err(|e| bad(format!("regex: unsupported Go regex syntax: {e}")))?;
                let spec = RuleSpec {
                    id: self.id.clone(),
                    regex: rust,
                    keywords: self.keywords.clone(),
                    min_entropy: self.entropy,
                    secret_group: self.secret_group.filter(|&g| g > 0),
                };
                spec.check().map_err(|e| {
                    Error::config(
                        e.message()
                            .replace("secret_group", "secretGroup")
                            .replace("min_entropy", "entropy"),
                    )
                })?;
                Some(spec)
            }
            None => {
                // The id and the rest, without a regex.
                let probe = RuleSpec {
                    id: self.id.clone(),
                    regex: "x".into(),
                    keywords: self.keywords.clone(),
                    min_entropy: self.entropy,
                    secret_group: None,
                };
                probe
                    .check()
                    .map_err(|e| Error::config(e.message().replace("min_entropy", "entropy")))?;
                if self.secret_group.is_some_and(|g| g > 0) {
                    return Err(bad("secretGroup needs a regex".into()));
                }
                None
            }
        };
        let path = match &self.path {
            Some(p) => Some(compile_path(p).map_err(|e| bad(format!("path: {e}")))?),
            None => None,
        };
        for (i, a) in self.allowlists.iter().enumerate() {
            if !a.target_rules.is_empty() {
                return Err(bad(format!(
                    "allowlists[{i}]: targetRules belongs to a file-wide allowlist"
                )));
            }
            a.check()
                .map_err(|e| bad(format!("allowlists[{i}]: {}", e.message())))?;
        }
        Ok((spec, path))
    }
}

/// Compiles a Go path pattern (within the size limit of user regexes).
fn compile_path(go: &str) -> Result<Regex, String> {
    let rust = go_regex::translate(go).map_err(|e| format!("unsupported Go regex syntax: {e}"))?;
    regex::RegexBuilder::new(&rust)
        .size_limit(USER_REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("invalid regex: {}", one_line(&e.to_string())))?;
    Regex::new(&rust).map_err(|e| format!("invalid regex: {}", one_line(&e.to_string())))
}

/// The secret's entropy must exceed `e` (gitleaks skips a finding whose
/// entropy is at most the threshold); our test is `>= min`.
fn above(e: Option<f64>) -> Option<f64> {
    e.filter(|&e| e > 0.0).map(f64::next_up)
}

/// The rules and allowlists that depend on the file path, and the sets
/// resolved from them per file.
pub(super) struct PathScope {
    rules: Vec<Rule>,
    kws: Vec<Vec<String>>,
    /// rule -> its path pattern.
    path: Vec<Option<Regex>>,
    /// rule -> it has no regex: it flags the file.
    file_only: Vec<bool>,
    /// rule -> its allowlists (indexes into `allows`).
    rule_allows: Vec<Vec<usize>>,
    allows: Vec<Arc<CompiledAllow>>,
    /// Every rule id, in definition order.
    ids: Arc<[RuleId]>,
    /// Resolved sets, by what the path patterns said.
    cache: Mutex<HashMap<Vec<bool>, RuleSet>>,
}

/// How many resolved sets a scope keeps.
const CACHE_MAX: usize = 256;

/// Whether a set depends on the file path.
#[derive(Default)]
pub(super) enum Scope {
    /// It does not (or it was built from a set resolved for one file).
    #[default]
    None,
    /// It is the set for an unknown path; `for_path` resolves others.
    Base(Arc<PathScope>),
    /// It is resolved for one path.
    Variant {
        scope: Weak<PathScope>,
        ids: Arc<[RuleId]>,
    },
}

impl Scope {
    /// Every rule id of the scope, when there is one.
    pub(super) fn ids(&self) -> Option<&[RuleId]> {
        match self {
            Scope::None => None,
            Scope::Base(s) => Some(&s.ids),
            Scope::Variant { ids, .. } => Some(ids),
        }
    }
}

impl PathScope {
    /// What each path pattern says of `path` (all false when no path is
    /// known).
    fn key(&self, path: Option<&str>) -> Vec<bool> {
        let mut key = Vec::new();
        for p in self.path.iter().flatten() {
            key.push(path.is_some_and(|path| p.is_match(path)));
        }
        for a in self.allows.iter().filter(|a| a.has_paths()) {
            key.push(path.is_some_and(|path| a.path_matches(path)));
        }
        key
    }

    fn resolve(self: &Arc<Self>, path: Option<&str>) -> RuleSet {
        let key = self.key(path);
        if let Some(set) = self.cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return set;
        }
        let set = self.build(
            &key,
            Scope::Variant {
                scope: Arc::downgrade(self),
                ids: self.ids.clone(),
            },
        );
        if let Ok(mut c) = self.cache.lock()
            && c.len() < CACHE_MAX
        {
            c.insert(key, set.clone());
        }
        set
    }

    /// The set for the path patterns' answers `key`.
    fn build(&self, key: &[bool], scope: Scope) -> RuleSet {
        let mut bits = key.iter().copied();
        let path_bit: Vec<Option<bool>> = self
            .path
            .iter()
            .map(|p| p.as_ref().map(|_| bits.next().unwrap_or(false)))
            .collect();
        let allow_bit: Vec<bool> = self
            .allows
            .iter()
            .map(|a| a.has_paths() && bits.next().unwrap_or(false))
            .collect();
        let mut rules = Vec::new();
        let mut kws = Vec::new();
        let mut allows: Vec<Allows> = Vec::new();
        let mut file_rules = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            if path_bit[i] == Some(false) {
                continue;
            }
            let mut live = Vec::new();
            let mut whole_file = false;
            for &a in &self.rule_allows[i] {
                match self.allows[a].resolve(allow_bit[a]) {
                    Resolved::File => whole_file = true,
                    Resolved::Nothing => {}
                    Resolved::Candidates => live.push(self.allows[a].clone()),
                }
            }
            if whole_file {
                continue;
            }
            if self.file_only[i] {
                file_rules.push(rule.id.clone());
                continue;
            }
            rules.push(rule.clone_rule());
            kws.push(self.kws[i].clone());
            allows.push(Arc::from(live));
        }
        RuleSet::assemble_full(rules, kws, allows, scope, file_rules)
    }
}

impl RuleSet {
    /// This set plus gitleaks rules and file-wide allowlists, with
    /// gitleaks' semantics (see [`GitleaksRule`]).
    ///
    /// A rule whose id is a rule of this set amends it: with a `regex` it
    /// replaces it (keeping its keywords as well as its own); without, its
    /// allowlists are added, its `path` restricts the rule and its
    /// `entropy` is the new threshold (it may not add keywords or a
    /// secret group). Each file-wide allowlist applies to every rule of
    /// the result, or to its `target_rules`.
    ///
    /// # Errors
    ///
    /// A [`Config`](crate::ErrorKind::Config) error naming the rule: one
    /// that fails [`GitleaksRule::check`], two rules with one id, a new
    /// rule with neither regex nor path, an amendment that adds keywords
    /// or a secret group; or naming the allowlist: a bad pattern, a target
    /// rule that does not exist.
    pub fn with_gitleaks_rules(
        self,
        rules: Vec<GitleaksRule>,
        allowlists: Vec<AllowlistSpec>,
    ) -> Result<RuleSet, Error> {
        let (mut all, mut kws, base_allows) = self.parts();
        let base_len = all.len();
        let mut path: Vec<Option<Regex>> = vec![None; base_len];
        let mut file_only = vec![false; base_len];
        let mut compiled: Vec<Arc<CompiledAllow>> = Vec::new();
        let mut rule_allows: Vec<Vec<usize>> = vec![Vec::new(); base_len];
        // The allowlists the rules of this set have already.
        let mut carried: Vec<Vec<Arc<CompiledAllow>>> = (0..base_len)
            .map(|i| base_allows.get(i).map(|a| a.to_vec()).unwrap_or_default())
            .collect();
        let mut index: HashMap<String, usize> = HashMap::new();
        for (i, r) in all.iter().enumerate() {
            index.entry(r.id.as_str().to_owned()).or_insert(i);
        }
        let mut ids_added: std::collections::HashSet<String> = std::collections::HashSet::new();
        for g in rules {
            let bad = |what: &str| Error::config(format!("rule '{}': {what}", g.id));
            let (spec, path_re) = g.compile_parts()?;
            if !ids_added.insert(g.id.clone()) {
                return Err(bad("duplicate rule id"));
            }
            let mut own = Vec::new();
            for a in &g.allowlists {
                own.push(compiled.len());
                compiled.push(Arc::new(a.compile()?));
            }
            let target = index.get(&g.id).copied();
            match (target, spec) {
                (Some(i), Some(spec)) => {
                    // A replacement: its keywords and the old rule's.
                    let (rule, mut words) = user_rule(&spec, group_of(&spec), above(g.entropy))?;
                    for w in std::mem::take(&mut kws[i]) {
                        if !words.iter().any(|x| x.eq_ignore_ascii_case(&w)) {
                            words.push(w);
                        }
                    }
                    all[i] = rule;
                    kws[i] = words;
                    path[i] = path_re;
                    rule_allows[i].extend(own);
                }
                (Some(i), None) => {
                    if !g.keywords.is_empty() {
                        return Err(bad(
                            "keywords cannot be added to an existing rule (give a regex to replace it)",
                        ));
                    }
                    if let Some(e) = above(g.entropy) {
                        all[i].min_entropy = Some(e);
                    }
                    if path_re.is_some() {
                        path[i] = path_re;
                    }
                    rule_allows[i].extend(own);
                }
                (None, spec) => {
                    if spec.is_none() && path_re.is_none() {
                        return Err(bad(
                            "both regex and path are empty: the rule would find nothing",
                        ));
                    }
                    let (rule, words) = match &spec {
                        Some(spec) => user_rule(spec, group_of(spec), above(g.entropy))?,
                        // A path-only rule: its check never runs.
                        None => {
                            let probe = RuleSpec {
                                id: g.id.clone(),
                                regex: "x".into(),
                                keywords: Vec::new(),
                                min_entropy: None,
                                secret_group: None,
                            };
                            user_rule(&probe, 0, None)?
                        }
                    };
                    index.insert(g.id.clone(), all.len());
                    all.push(rule);
                    kws.push(words);
                    file_only.push(spec.is_none());
                    path.push(path_re);
                    rule_allows.push(own);
                    carried.push(Vec::new());
                }
            }
        }
        for (n, a) in allowlists.iter().enumerate() {
            let c = Arc::new(
                a.compile()
                    .map_err(|e| Error::config(format!("allowlists[{n}]: {}", e.message())))?,
            );
            let k = compiled.len();
            compiled.push(c);
            if a.target_rules.is_empty() {
                rule_allows.iter_mut().for_each(|r| r.push(k));
            } else {
                for t in &a.target_rules {
                    let Some(&i) = index.get(t) else {
                        return Err(Error::config(format!(
                            "allowlists[{n}]: targetRules names no rule '{t}'"
                        )));
                    };
                    if !rule_allows[i].contains(&k) {
                        rule_allows[i].push(k);
                    }
                }
            }
        }
        // The allowlists the rules of this set had stay theirs.
        for (i, extra) in carried.into_iter().enumerate() {
            for c in extra {
                rule_allows[i].push(compiled.len());
                compiled.push(c);
            }
        }
        let ids: Arc<[RuleId]> = all.iter().map(|r| r.id.clone()).collect();
        let scope = PathScope {
            rules: all,
            kws,
            path,
            file_only,
            rule_allows,
            allows: compiled,
            ids,
            cache: Mutex::new(HashMap::new()),
        };
        let depends =
            scope.path.iter().any(Option::is_some) || scope.allows.iter().any(|a| a.has_paths());
        if !depends {
            return Ok(scope.build(&[], Scope::None));
        }
        let scope = Arc::new(scope);
        let key = scope.key(None);
        Ok(scope.build(&key, Scope::Base(scope.clone())))
    }

    /// This set as it applies to the file at `path` (`/`-separated, as
    /// the scanner names it; `None`: no path known): the rules whose
    /// `path` does not match are left out, so are the rules an allowlist
    /// allows the whole file for, and the path-only rules that match are
    /// in [`file_rules`](Self::file_rules). A set without path-dependent
    /// rules is returned as it is. Sets are cached per combination of path
    /// answers, so that resolving costs a few regex tests per file.
    pub fn for_path(&self, path: Option<&str>) -> RuleSet {
        match &self.inner.scope {
            Scope::None => self.clone(),
            Scope::Base(s) => s.resolve(path),
            Scope::Variant { scope, .. } => match scope.upgrade() {
                Some(s) => s.resolve(path),
                None => self.clone(),
            },
        }
    }

    /// Whether some rule or allowlist of this set depends on the file path
    /// (then [`for_path`](Self::for_path) gives each file its own set).
    pub fn depends_on_path(&self) -> bool {
        !matches!(self.inner.scope, Scope::None)
    }

    /// The path-only rules (a `path` and no regex) that flag the file this
    /// set was resolved for by [`for_path`](Self::for_path).
    pub fn file_rules(&self) -> &[RuleId] {
        &self.inner.file_rules
    }
}

/// The compiled group of a gitleaks rule: its `secretGroup`, or the first
/// non-empty group when the regex has groups.
fn group_of(spec: &RuleSpec) -> usize {
    match spec.secret_group {
        Some(g) if g > 0 => g,
        _ => {
            let groups = regex_automata::util::syntax::parse(&spec.regex)
                .map(|h| h.properties().explicit_captures_len())
                .unwrap_or(0);
            if groups > 0 { FIRST_GROUP } else { 0 }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{AllowCondition, Finding, RegexTarget};

    fn rule(id: &str, regex: &str, keywords: &[&str]) -> GitleaksRule {
        GitleaksRule {
            id: id.into(),
            regex: Some(regex.into()),
            keywords: keywords.iter().map(|k| k.to_string()).collect(),
            ..GitleaksRule::default()
        }
    }

    fn found(set: &RuleSet, text: &str) -> Vec<(String, String)> {
        let mut out: Vec<Finding> = Vec::new();
        set.find(text, &mut out);
        out.iter()
            .map(|f| (f.rule.to_string(), text[f.start..f.end].to_string()))
            .collect()
    }

    fn set(rules: Vec<GitleaksRule>, allow: Vec<AllowlistSpec>) -> RuleSet {
        RuleSet::empty().with_gitleaks_rules(rules, allow).unwrap()
    }

    fn pair(id: &str, s: &str) -> (String, String) {
        (id.to_string(), s.to_string())
    }

    #[test]
    fn the_secret_is_the_first_non_empty_group_without_a_secret_group() {
        let r = rule(
            "acme",
            r#"(?:acme_key=(\w{12})|acme_token:"([\w]{16})")"#,
            &["acme_"],
        );
        let s = set(vec![r.clone()], vec![]);
        assert_eq!(
            found(&s, r#"{"acme_token:"Zk4q7Wm2Pn9Rx3Lb"}"#),
            [pair("acme", "Zk4q7Wm2Pn9Rx3Lb")]
        );
        assert_eq!(
            found(&s, "acme_key=q8Jx2mVn5Lz1 x"),
            [pair("acme", "q8Jx2mVn5Lz1")]
        );
        let whole = set(vec![rule("w", r"acme_[a-z0-9]{10}", &["acme_"])], vec![]);
        assert_eq!(
            found(&whole, "k acme_a1b2c3d4e5 z"),
            [pair("w", "acme_a1b2c3d4e5")]
        );
        let g2 = GitleaksRule {
            secret_group: Some(2),
            ..rule("g2", r"(acme)_([a-z0-9]{10})", &["acme_"])
        };
        assert_eq!(
            found(&set(vec![g2], vec![]), "acme_a1b2c3d4e5"),
            [pair("g2", "a1b2c3d4e5")]
        );
    }

    #[test]
    fn entropy_must_exceed_the_threshold() {
        // "aabb" has exactly 1 bit per byte.
        let at = |e| {
            let r = GitleaksRule {
                entropy: Some(e),
                ..rule("e", r"tok_(\w{4})\b", &["tok_"])
            };
            found(&set(vec![r], vec![]), "x tok_aabb y").len()
        };
        assert_eq!(at(1.0), 0);
        assert_eq!(at(0.99), 1);
        assert_eq!(at(0.0), 1);
    }

    #[test]
    fn every_match_on_a_line_is_found_after_one_an_allowlist_takes() {
        let r = GitleaksRule {
            allowlists: vec![AllowlistSpec {
                stopwords: vec!["example".into()],
                ..AllowlistSpec::default()
            }],
            ..rule("k", r"api_key=(\w{10,})", &["api_key"])
        };
        let s = set(vec![r], vec![]);
        assert_eq!(
            found(
                &s,
                "api_key=EXAMPLE0000key api_key=Rq7Lm2Xz9Wk4 api_key=Pp3Nn5Bb8Vv1"
            ),
            [pair("k", "Rq7Lm2Xz9Wk4"), pair("k", "Pp3Nn5Bb8Vv1")]
        );
    }

    #[test]
    fn a_file_wide_allowlist_reaches_built_in_rules_and_target_rules_only_those() {
        let gh = "ghp_b5h9M344OTFAQdfeb4g0MRcoIztgBqkFLglB"; // secret-chain:allow
        let line = format!("token {gh} acme_a1b2c3d4e5 in ci");
        let base = RuleSet::builtin();
        let acme = rule("acme", r"acme_[a-z0-9]{10}", &["acme_"]);
        let every = AllowlistSpec {
            regex_target: RegexTarget::Line,
            regexes: vec![r"\bin ci$".into()],
            ..AllowlistSpec::default()
        };
        let s = base
            .clone()
            .with_gitleaks_rules(vec![acme.clone()], vec![every.clone()])
            .unwrap();
        assert!(found(&s, &line).is_empty());
        let targeted = AllowlistSpec {
            target_rules: vec!["github-pat".into()],
            ..every
        };
        let s = base
            .with_gitleaks_rules(vec![acme], vec![targeted.clone()])
            .unwrap();
        assert_eq!(found(&s, &line), [pair("acme", "acme_a1b2c3d4e5")]);
        let e = RuleSet::empty()
            .with_gitleaks_rules(vec![], vec![targeted])
            .unwrap_err();
        assert!(e.to_string().contains("no rule 'github-pat'"), "{e}");
    }

    #[test]
    fn path_rules_and_path_allowlists_settle_per_file() {
        let scoped = GitleaksRule {
            path: Some(r"\.env$".into()),
            ..rule("env-token", r"TOKEN=(\w{12})", &["token="])
        };
        let file = GitleaksRule {
            id: "pem-file".into(),
            path: Some(r"(?i)\.pem$".into()),
            ..GitleaksRule::default()
        };
        let acme = rule("acme", r"acme_[a-z0-9]{10}", &["acme_"]);
        let skip_tests = AllowlistSpec {
            paths: vec![r"^tests/".into()],
            ..AllowlistSpec::default()
        };
        let and_fixture = AllowlistSpec {
            condition: AllowCondition::And,
            paths: vec![r"fixtures".into()],
            stopwords: vec!["fake".into()],
            ..AllowlistSpec::default()
        };
        let s = set(vec![scoped, file, acme], vec![skip_tests, and_fixture]);
        let text = "TOKEN=Ab3dEf6hIj9k acme_a1b2c3d4e5 acme_fake000000";
        // No path: the path rule does not run.
        assert_eq!(
            found(&s, text),
            [
                pair("acme", "acme_a1b2c3d4e5"),
                pair("acme", "acme_fake000000")
            ]
        );
        let env = s.for_path(Some("app/.env"));
        assert_eq!(found(&env, text).len(), 3);
        assert!(env.file_rules().is_empty());
        assert!(found(&s.for_path(Some("tests/a.log")), text).is_empty());
        assert_eq!(
            found(&s.for_path(Some("fixtures/a.log")), text),
            [pair("acme", "acme_a1b2c3d4e5")]
        );
        let pem = s.for_path(Some("keys/Server.PEM"));
        assert_eq!(
            pem.file_rules()
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>(),
            ["pem-file"]
        );
        // Cached, and resolving a resolved set resolves from the scope.
        assert_eq!(pem.for_path(Some("app/.env")).rule_ids(), s.rule_ids());
        assert_eq!(found(&pem.for_path(Some("app/.env")), text).len(), 3);
        assert!(s.rule_ids().contains(&"pem-file"));
    }

    #[test]
    fn a_rule_with_a_built_in_id_amends_or_replaces_it() {
        let gh = "ghp_b5h9M344OTFAQdfeb4g0MRcoIztgBqkFLglB"; // secret-chain:allow
        let amend = GitleaksRule {
            id: "github-pat".into(),
            allowlists: vec![AllowlistSpec {
                stopwords: vec!["b5h9m344".into()],
                ..AllowlistSpec::default()
            }],
            ..GitleaksRule::default()
        };
        let s = RuleSet::builtin()
            .with_gitleaks_rules(vec![amend], vec![])
            .unwrap();
        assert!(found(&s, &format!("t {gh}")).is_empty());
        let replace = rule("github-pat", r"ghp_([A-Za-z0-9]{8})", &[]);
        let s = RuleSet::builtin()
            .with_gitleaks_rules(vec![replace], vec![])
            .unwrap();
        assert_eq!(
            found(&s, &format!("t {gh}")),
            [pair("github-pat", "b5h9M344")]
        );
        let kw = GitleaksRule {
            id: "github-pat".into(),
            keywords: vec!["gh".into()],
            ..GitleaksRule::default()
        };
        let e = RuleSet::builtin()
            .with_gitleaks_rules(vec![kw], vec![])
            .unwrap_err();
        assert!(
            e.to_string().contains("'github-pat'") && e.to_string().contains("keywords"),
            "{e}"
        );
    }

    #[test]
    fn an_amendment_can_restrict_a_built_in_rule_to_some_paths() {
        let gh = "ghp_b5h9M344OTFAQdfeb4g0MRcoIztgBqkFLglB"; // secret-chain:allow
        let amend = GitleaksRule {
            id: "github-pat".into(),
            path: Some(r"^ci/".into()),
            ..GitleaksRule::default()
        };
        let s = RuleSet::builtin()
            .with_gitleaks_rules(vec![amend], vec![])
            .unwrap();
        assert!(s.depends_on_path());
        let line = format!("t {gh}");
        assert!(found(&s, &line).is_empty());
        assert!(found(&s.for_path(Some("src/a.log")), &line).is_empty());
        assert_eq!(
            found(&s.for_path(Some("ci/a.log")), &line),
            [pair("github-pat", gh)]
        );
        let plain = set(vec![rule("a", "acme_[a-z]{9}", &["acme_"])], vec![]);
        assert!(!plain.depends_on_path());
        assert_eq!(plain.for_path(Some("x")).rule_ids(), ["a"]);
    }

    #[test]
    fn bad_rules_are_refused_with_their_id() {
        for (r, what) in [
            (
                rule(
                    "big",
                    r"[\pL]{0,50}[\pL]{0,50}[\pL]{0,50}[\pL]{0,50}",
                    &["x"],
                ),
                "MiB",
            ),
            (rule("empty", r"a*", &["x"]), "empty"),
            (rule("bytes", r"a\Cb", &["x"]), r"\C"),
            (
                GitleaksRule {
                    secret_group: Some(3),
                    ..rule("group", r"(a)(b)", &["x"])
                },
                "secretGroup",
            ),
            (
                GitleaksRule {
                    entropy: Some(9.0),
                    ..rule("ent", r"abc", &["x"])
                },
                "entropy",
            ),
            (
                GitleaksRule {
                    id: "nothing".into(),
                    ..GitleaksRule::default()
                },
                "both regex and path",
            ),
            (
                GitleaksRule {
                    path: Some("(".into()),
                    ..rule("path", r"abc", &["x"])
                },
                "path",
            ),
        ] {
            let e = RuleSet::empty()
                .with_gitleaks_rules(vec![r.clone()], vec![])
                .unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.contains(&format!("'{}'", r.id)) && msg.contains(what),
                "{msg}"
            );
        }
    }

    #[test]
    fn a_generic_key_shaped_rule_fits_and_matches_ascii_words_only() {
        // Shaped like gitleaks' generic rule (written for this test).
        let r = GitleaksRule {
            entropy: Some(3.0),
            ..rule(
                "generic",
                r#"(?i)[\w.-]{0,50}?(?:key|secret|token)(?:[ \t\w.-]{0,20})[\s'"]{0,3}(?:=|:)[\x60'"\s=]{0,5}([\w.=-]{10,150})(?:[\x60'"\s;]|$)"#,
                &["key", "secret", "token"],
            )
        };
        let s = set(vec![r], vec![]);
        assert_eq!(
            found(&s, r#"config: { "api_secret": "Qm8vX2nL5pR7tK1w" }"#),
            [pair("generic", "Qm8vX2nL5pR7tK1w")]
        );
        // An ASCII \w stops at é, where no terminator follows, as in Go.
        assert!(found(&s, "token=Qm8vX2nL5pR7tK1wé").is_empty());
        assert_eq!(
            found(&s, "token=Qm8vX2nL5pR7tK1w;"),
            [pair("generic", "Qm8vX2nL5pR7tK1w")]
        );
    }
}
