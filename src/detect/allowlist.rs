//! Allowlists with gitleaks' semantics: what a gitleaks rules file declares
//! under `[[rules.allowlists]]` or `[[allowlists]]` ([`AllowlistSpec`]),
//! compiled, resolved for one file path, and checked at each candidate.
//!
//! An allowlist holds up to four checks: `regexes` (on the secret, the
//! whole regex match or the line, as `regex_target` says), `stopwords`
//! (case-insensitive substrings of the secret), `paths` (on the file path)
//! and `commits` (git commits: there is no git history here, so a commit
//! never matches, as in `gitleaks dir`). With the condition `OR` (the
//! default) any one check allows a candidate; with `AND` every check the
//! allowlist has must.
//!
//! The path checks are settled once per file ([`resolve`](CompiledAllow::resolve)):
//! an allowlist that allows a whole file drops its rules for that file, one
//! that can no longer allow anything there is left out, and the others are
//! checked at each candidate of their rules.

use std::sync::Arc;

use aho_corasick::AhoCorasick;
use regex_automata::meta::Regex;

use crate::error::Error;

use super::go_regex;
use super::rule::USER_REGEX_SIZE_LIMIT;

/// How the checks of an [`AllowlistSpec`] combine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AllowCondition {
    /// Any one check allows (gitleaks' default).
    #[default]
    Or,
    /// Every check the allowlist has must allow.
    And,
}

/// What the `regexes` of an [`AllowlistSpec`] are matched against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegexTarget {
    /// The secret (the rule's secret group; gitleaks' default).
    #[default]
    Secret,
    /// The rule's whole regex match (for a built-in parser rule, the
    /// secret).
    Match,
    /// The line that holds the match.
    Line,
}

/// An allowlist as gitleaks declares it: candidates it allows are not
/// findings. Regexes are in Go (RE2) syntax, as in gitleaks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AllowlistSpec {
    /// `OR` (any check) or `AND` (every check present).
    pub condition: AllowCondition,
    /// What `regexes` are matched against.
    pub regex_target: RegexTarget,
    /// Patterns; a candidate is allowed when one matches its target
    /// (unanchored; an empty leftmost match does not count, as in gitleaks).
    pub regexes: Vec<String>,
    /// Words; a candidate is allowed when its secret contains one, ignoring
    /// case.
    pub stopwords: Vec<String>,
    /// Patterns on the file path; where no path is known they never match.
    pub paths: Vec<String>,
    /// Git commits: never match here (no git history is scanned), as in
    /// `gitleaks dir`.
    pub commits: Vec<String>,
    /// Of a file-wide allowlist: the ids of the rules it applies to (empty:
    /// every rule).
    pub target_rules: Vec<String>,
}

impl AllowlistSpec {
    /// Checks the allowlist: at least one of `regexes`, `stopwords`,
    /// `paths`, `commits`; every pattern compiles (Go syntax, within the
    /// size limit of user regexes); no stopword is empty.
    ///
    /// # Errors
    ///
    /// A [`Config`](crate::ErrorKind::Config) error naming the key and the
    /// position of the bad entry (never its text beyond the key).
    pub fn check(&self) -> Result<(), Error> {
        self.compile().map(|_| ())
    }

    pub(super) fn compile(&self) -> Result<CompiledAllow, Error> {
        if self.regexes.is_empty()
            && self.stopwords.is_empty()
            && self.paths.is_empty()
            && self.commits.is_empty()
        {
            return Err(Error::config(
                "allowlist must contain at least one check: regexes, stopwords, paths or commits",
            ));
        }
        if let Some(i) = self.stopwords.iter().position(String::is_empty) {
            return Err(Error::config(format!(
                "allowlist stopwords[{i}] is an empty string"
            )));
        }
        let regexes = compile_many("regexes", &self.regexes)?;
        let paths = compile_many("paths", &self.paths)?;
        let stopwords = if self.stopwords.is_empty() {
            None
        } else {
            let words: Vec<String> = self.stopwords.iter().map(|w| w.to_lowercase()).collect();
            Some(AhoCorasick::new(&words).map_err(|e| {
                Error::config("allowlist stopwords cannot be compiled").with_source(e)
            })?)
        };
        Ok(CompiledAllow {
            and: self.condition == AllowCondition::And,
            target: self.regex_target,
            regexes,
            stopwords,
            paths,
            commits: !self.commits.is_empty(),
        })
    }
}

/// Compiles the Go patterns of `key` into one regex (leftmost-first over
/// them, each with its own flags).
fn compile_many(key: &str, patterns: &[String]) -> Result<Option<Regex>, Error> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut rust = Vec::with_capacity(patterns.len());
    for (i, p) in patterns.iter().enumerate() {
        let bad = |what: String| Error::config(format!("allowlist {key}[{i}]: {what}"));
        let t =
            go_regex::translate(p).map_err(|e| bad(format!("unsupported Go regex syntax: {e}")))?;
        regex::RegexBuilder::new(&t)
            .size_limit(USER_REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| match e {
                regex::Error::CompiledTooBig(_) => bad(format!(
                    "the regex compiles to more than {} MiB",
                    USER_REGEX_SIZE_LIMIT >> 20
                )),
                other => bad(format!(
                    "invalid regex: {}",
                    super::rule::one_line(&other.to_string())
                )),
            })?;
        rust.push(t);
    }
    Regex::new_many(&rust).map(Some).map_err(|e| {
        Error::config(format!(
            "allowlist {key}: the regexes do not compile together"
        ))
        .with_source(e)
    })
}

/// A compiled allowlist.
#[derive(Debug)]
pub(super) struct CompiledAllow {
    and: bool,
    target: RegexTarget,
    regexes: Option<Regex>,
    stopwords: Option<AhoCorasick>,
    paths: Option<Regex>,
    commits: bool,
}

/// What an allowlist does in one file.
pub(super) enum Resolved {
    /// It allows the whole file: its rules find nothing there.
    File,
    /// It allows nothing there.
    Nothing,
    /// It is checked at each candidate.
    Candidates,
}

impl CompiledAllow {
    /// Whether this allowlist has path patterns (its effect depends on the
    /// file).
    pub(super) fn has_paths(&self) -> bool {
        self.paths.is_some()
    }

    /// Whether its path patterns match `path`.
    pub(super) fn path_matches(&self, path: &str) -> bool {
        self.paths.as_ref().is_some_and(|re| re.is_match(path))
    }

    /// Whether it has content checks (regexes, stopwords).
    fn has_content(&self) -> bool {
        self.regexes.is_some() || self.stopwords.is_some()
    }

    /// What it does in a file whose path patterns match (`path_matched`),
    /// or not (also where no path is known).
    pub(super) fn resolve(&self, path_matched: bool) -> Resolved {
        if self.and {
            // A commit check never passes; a path check must.
            if self.commits || (self.paths.is_some() && !path_matched) {
                Resolved::Nothing
            } else if self.has_content() {
                Resolved::Candidates
            } else {
                Resolved::File
            }
        } else if path_matched {
            Resolved::File
        } else if self.has_content() {
            Resolved::Candidates
        } else {
            Resolved::Nothing
        }
    }

    /// Whether it allows the candidate `secret` (a span of `text`) whose
    /// whole match is `whole` (the path checks are settled already).
    fn allows(
        &self,
        text: &str,
        secret: (usize, usize),
        whole: (usize, usize),
        lines: &mut LineMemo,
    ) -> bool {
        let regex = self.regexes.as_ref().map(|re| {
            let (s, e) = match self.target {
                RegexTarget::Secret => secret,
                RegexTarget::Match => whole,
                RegexTarget::Line => {
                    let id = std::ptr::from_ref(self) as usize;
                    return lines.get(id, text, whole, re);
                }
            };
            first_match_nonempty(re, &text[s..e])
        });
        let stop = self.stopwords.as_ref().map(|ac| {
            let lower = text[secret.0..secret.1].to_lowercase();
            ac.is_match(&lower)
        });
        if self.and {
            regex.unwrap_or(true) && stop.unwrap_or(true)
        } else {
            regex.unwrap_or(false) || stop.unwrap_or(false)
        }
    }
}

/// gitleaks takes a regex to match when its leftmost match is non-empty.
fn first_match_nonempty(re: &Regex, hay: &str) -> bool {
    re.find(hay).is_some_and(|m| m.end() > m.start())
}

/// The allowlists of one rule.
pub(super) type Allows = Arc<[Arc<CompiledAllow>]>;

/// Whether one of `allows` allows the candidate.
pub(super) fn any_allows(
    allows: &[Arc<CompiledAllow>],
    text: &str,
    secret: (usize, usize),
    whole: (usize, usize),
    lines: &mut LineMemo,
) -> bool {
    let whole = (whole.0.min(secret.0), whole.1.max(secret.1));
    allows.iter().any(|a| a.allows(text, secret, whole, lines))
}

/// The line of the last candidate and what the `line` regexes said of it
/// (by allowlist address): candidates on one long line are checked
/// against it once.
#[derive(Default)]
pub(super) struct LineMemo {
    line: Option<(usize, usize)>,
    results: Vec<(usize, bool)>,
}

impl LineMemo {
    fn get(&mut self, id: usize, text: &str, whole: (usize, usize), re: &Regex) -> bool {
        let inside = self
            .line
            .is_some_and(|(ls, le)| ls <= whole.0 && whole.1 <= le);
        if !inside {
            let b = text.as_bytes();
            let ls = memchr::memrchr(b'\n', &b[..whole.0]).map_or(0, |p| p + 1);
            let le = memchr::memchr(b'\n', &b[whole.1..]).map_or(b.len(), |p| whole.1 + p);
            self.line = Some((ls, le));
            self.results.clear();
        }
        if let Some(&(_, r)) = self.results.iter().find(|(i, _)| *i == id) {
            return r;
        }
        let (ls, le) = self.line.unwrap_or((0, text.len()));
        let r = first_match_nonempty(re, &text[ls..le]);
        self.results.push((id, r));
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> AllowlistSpec {
        AllowlistSpec::default()
    }

    fn allows(a: &AllowlistSpec, text: &str, secret: &str, whole: &str) -> bool {
        let c = a.compile().unwrap();
        let s = text.find(secret).unwrap();
        let w = text.find(whole).unwrap();
        c.allows(
            text,
            (s, s + secret.len()),
            (w, w + whole.len()),
            &mut LineMemo::default(),
        )
    }

    #[test]
    fn regexes_look_at_the_target_the_allowlist_names() {
        let text = "env=staging key=abc123XYZ end";
        let re = |target, pat: &str| AllowlistSpec {
            regex_target: target,
            regexes: vec![pat.into()],
            ..spec()
        };
        for (target, pat, want) in [
            (RegexTarget::Secret, "^abc", true),
            (RegexTarget::Secret, "key=", false),
            (RegexTarget::Match, "^key=", true),
            (RegexTarget::Match, "staging", false),
            (RegexTarget::Line, "env=staging", true),
            (RegexTarget::Line, "production", false),
        ] {
            assert_eq!(
                allows(&re(target, pat), text, "abc123XYZ", "key=abc123XYZ"),
                want,
                "{target:?} {pat}"
            );
        }
    }

    #[test]
    fn stopwords_are_case_insensitive_substrings_of_the_secret() {
        let a = AllowlistSpec {
            stopwords: vec!["Example".into()],
            ..spec()
        };
        assert!(allows(
            &a,
            "k=myEXAMPLEkey1",
            "myEXAMPLEkey1",
            "k=myEXAMPLEkey1"
        ));
        assert!(!allows(&a, "example k=realkey1", "realkey1", "k=realkey1"));
    }

    #[test]
    fn and_needs_every_check_or_needs_one() {
        let both = |condition| AllowlistSpec {
            condition,
            regexes: vec!["^test".into()],
            stopwords: vec!["fake".into()],
            ..spec()
        };
        let t = "k=test_fake_1 k=test_real_2";
        for (cond, secret, want) in [
            (AllowCondition::Or, "test_real_2", true),
            (AllowCondition::And, "test_real_2", false),
            (AllowCondition::And, "test_fake_1", true),
        ] {
            assert_eq!(
                allows(&both(cond), t, secret, secret),
                want,
                "{cond:?} {secret}"
            );
        }
    }

    #[test]
    fn paths_settle_per_file_and_commits_never_match() {
        let c = |condition, paths: bool, regexes: bool, commits: bool| {
            AllowlistSpec {
                condition,
                paths: if paths {
                    vec![r"^test/".into()]
                } else {
                    vec![]
                },
                regexes: if regexes { vec!["x".into()] } else { vec![] },
                commits: if commits {
                    vec!["abc123".into()]
                } else {
                    vec![]
                },
                ..spec()
            }
            .compile()
            .unwrap()
        };
        use AllowCondition::{And, Or};
        let name = |r: Resolved| match r {
            Resolved::File => "file",
            Resolved::Nothing => "nothing",
            Resolved::Candidates => "candidates",
        };
        for (a, matched, want) in [
            (c(Or, true, false, false), true, "file"),
            (c(Or, true, false, false), false, "nothing"),
            (c(Or, true, true, false), false, "candidates"),
            (c(And, true, false, false), true, "file"),
            (c(And, true, true, false), true, "candidates"),
            (c(And, true, true, false), false, "nothing"),
            (c(And, false, true, true), false, "nothing"),
            (c(Or, false, false, true), false, "nothing"),
            (c(Or, false, true, true), false, "candidates"),
        ] {
            assert_eq!(name(a.resolve(matched)), want);
        }
        assert!(c(Or, true, false, false).path_matches("test/a.log"));
        assert!(!c(Or, true, false, false).path_matches("src/test/a.log"));
    }

    #[test]
    fn an_empty_allowlist_and_bad_patterns_are_refused_by_key_and_index() {
        assert!(
            spec()
                .check()
                .unwrap_err()
                .to_string()
                .contains("at least one")
        );
        let e = AllowlistSpec {
            regexes: vec!["ok".into(), "(unclosed".into()],
            ..spec()
        }
        .check()
        .unwrap_err();
        assert!(e.to_string().contains("regexes[1]"), "{e}");
        let e = AllowlistSpec {
            paths: vec![r"a\C".into()],
            ..spec()
        }
        .check()
        .unwrap_err();
        assert!(e.to_string().contains("paths[0]"), "{e}");
    }

    #[test]
    fn an_empty_leftmost_match_does_not_allow() {
        let a = AllowlistSpec {
            regexes: vec!["x*".into()],
            ..spec()
        };
        assert!(!allows(&a, "k=abcx", "abcx", "abcx"));
        assert!(allows(&a, "k=xabc", "xabc", "xabc"));
    }
}
