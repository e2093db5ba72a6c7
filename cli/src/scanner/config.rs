//! User rules from a TOML file (`secret-chain scan --config FILE`), in our
//! format or in gitleaks' (see `gitleaks.rs`).
//!
//! Our format:
//!
//! ```toml
//! [[rules]]
//! id = "acme-api-token"
//! regex = '''\bacme_([a-z0-9]{32})\b'''
//! keywords = ["acme_"]     # optional: the rule runs only where one occurs
//! min_entropy = 3.0        # optional: Shannon entropy (bits/char) of the secret
//! secret_group = 1         # optional: the capture group that is the secret
//! ```
//!
//! # Which format a file is read in
//!
//! With [`ConfigFormat::Auto`], a file is a gitleaks file when it has a key
//! only gitleaks has: `title`, `description`, `minVersion`, `[extend]`,
//! `[allowlist]`, `[[allowlists]]`, or a rule with `secretGroup`,
//! `entropy`, `path`, `description`, `tags`, `[rules.allowlist]`,
//! `[[rules.allowlists]]`; otherwise it is ours. A file that spells keys
//! both ways (`min_entropy` and `title`) is refused, naming both lines.
//! [`ConfigFormat::SecretChain`] and [`ConfigFormat::Gitleaks`] force one
//! format, where the other format's keys are unknown keys.
//!
//! Every key that neither format has is refused with its name and line.
//! The file's syntax is checked here; each rule is checked by
//! [`RuleSpec::check`] (ours) or [`GitleaksRule::check`], the checks the
//! library runs on every user rule, and its errors are given the file and
//! line.
//!
//! [`GitleaksRule::check`]: secret_chain::detect::GitleaksRule::check

use std::path::Path;
use std::str::FromStr;

use serde::Deserialize;
use toml::Spanned;

use super::gitleaks;
use super::read::{io_reason, read_capped};

/// The largest rules file read (it holds a few hundred rules at most).
pub(super) const MAX_RULES_FILE_BYTES: u64 = 4 << 20;
use secret_chain::detect::{RuleSet, RuleSpec};
use secret_chain::{Error, ErrorKind};

/// How a `--config` file is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigFormat {
    /// Gitleaks' format when the file has a gitleaks-only key, else ours.
    #[default]
    Auto,
    /// Ours: `[[rules]]` with `id`, `regex`, `keywords`, `min_entropy`,
    /// `secret_group`; the built-in rules run too.
    SecretChain,
    /// Gitleaks': its rules only, unless `[extend] useDefault = true`.
    Gitleaks,
}

impl FromStr for ConfigFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<ConfigFormat, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(ConfigFormat::Auto),
            "secret-chain" | "secret_chain" | "native" => Ok(ConfigFormat::SecretChain),
            "gitleaks" => Ok(ConfigFormat::Gitleaks),
            _ => Err(format!(
                "unknown config format '{s}' (expected auto, secret-chain or gitleaks)"
            )),
        }
    }
}

/// The rules of `scan` and `redact` with a `--config` file: for our
/// format the built-in rules plus the file's; for a gitleaks file what it
/// declares (the built-in rules only with `[extend] useDefault = true`).
/// Also the warnings to show the user: rules without keywords, unknown
/// ids in `disabledRules`, allowlists that can never apply here.
///
/// # Errors
///
/// [`ErrorKind::Io`] when the file (or a file it extends) cannot be read;
/// [`ErrorKind::Config`] naming the file, the line, the rule and the key
/// when the TOML, a key or a rule is bad.
pub fn load_rule_set(path: &Path, format: ConfigFormat) -> Result<(RuleSet, Vec<String>), Error> {
    let name = path.display().to_string();
    let text = read_rules_text(path, &name)?;
    let raw = parse_raw(&text, &name)?;
    match decide(&raw, &text, &name, format)? {
        ConfigFormat::Gitleaks => gitleaks::load(path, &text, raw),
        _ => {
            let (rules, warnings) = ours(raw, &text, &name)?;
            let set = RuleSet::builtin()
                .with_user_rules(rules)
                .map_err(|e| Error::config(format!("rules file '{name}': {}", e.message())))?;
            Ok((set, warnings))
        }
    }
}

/// Reads user rules in our format from a TOML file.
///
/// # Errors
///
/// [`ErrorKind::Io`] when the file cannot be read; [`ErrorKind::Config`]
/// naming the file, the line and the rule when the TOML or a rule is bad.
pub fn load_rules_file(path: &Path) -> Result<Vec<RuleSpec>, Error> {
    load_rules_file_with_warnings(path).map(|(rules, _)| rules)
}

/// As [`load_rules_file`], with the warnings to show the user: each rule
/// without keywords (it then runs its regex over the whole text).
///
/// # Errors
///
/// As [`load_rules_file`].
pub fn load_rules_file_with_warnings(path: &Path) -> Result<(Vec<RuleSpec>, Vec<String>), Error> {
    let name = path.display().to_string();
    let text = read_rules_text(path, &name)?;
    parse_with_warnings(&text, &name)
}

/// The text of a rules file, at most [`MAX_RULES_FILE_BYTES`], UTF-8.
pub(super) fn read_rules_text(path: &Path, name: &str) -> Result<String, Error> {
    let bytes = read_capped(path, MAX_RULES_FILE_BYTES).map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!("cannot read rules file '{name}': {}", io_reason(&e)),
        )
        .with_source(e)
    })?;
    let Some(bytes) = bytes else {
        return Err(Error::config(format!(
            "rules file '{name}' is larger than {} MiB",
            MAX_RULES_FILE_BYTES >> 20
        )));
    };
    String::from_utf8(bytes).map_err(|e| {
        let line = e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        Error::config(format!(
            "rules file '{name}' is not valid UTF-8 (line {line})"
        ))
    })
}

/// Parses user rules in our format; `source` names the file in error
/// messages.
///
/// Every regex is compiled here so that a mistake is reported with its
/// rule id and line.
///
/// # Errors
///
/// [`ErrorKind::Config`] naming `source`, the line and the rule.
pub fn parse_rules_toml(text: &str, source: &str) -> Result<Vec<RuleSpec>, Error> {
    parse_with_warnings(text, source).map(|(rules, _)| rules)
}

fn parse_with_warnings(text: &str, source: &str) -> Result<(Vec<RuleSpec>, Vec<String>), Error> {
    let raw = parse_raw(text, source)?;
    decide(&raw, text, source, ConfigFormat::SecretChain)?;
    ours(raw, text, source)
}

// The keys of both formats. Unknown keys are refused by serde, with the
// span of the key.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    pub(super) title: Option<Spanned<String>>,
    pub(super) description: Option<Spanned<String>>,
    #[serde(rename = "minVersion", alias = "minversion")]
    pub(super) min_version: Option<Spanned<String>>,
    pub(super) extend: Option<Spanned<RawExtend>>,
    pub(super) allowlist: Option<Spanned<RawAllowlist>>,
    pub(super) allowlists: Option<Spanned<Vec<Spanned<RawAllowlist>>>>,
    #[serde(default)]
    pub(super) rules: Vec<Spanned<RawRule>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExtend {
    #[serde(rename = "useDefault", alias = "usedefault")]
    pub(super) use_default: Option<Spanned<bool>>,
    pub(super) path: Option<Spanned<String>>,
    #[serde(alias = "URL")]
    pub(super) url: Option<Spanned<String>>,
    #[serde(rename = "disabledRules", alias = "disabledrules")]
    pub(super) disabled_rules: Option<Spanned<Vec<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAllowlist {
    /// Accepted and ignored.
    #[allow(dead_code)]
    pub(super) description: Option<serde::de::IgnoredAny>,
    pub(super) condition: Option<Spanned<String>>,
    pub(super) commits: Option<Spanned<Vec<String>>>,
    pub(super) paths: Option<Spanned<Vec<String>>>,
    #[serde(rename = "regexTarget", alias = "regextarget")]
    pub(super) regex_target: Option<Spanned<String>>,
    pub(super) regexes: Option<Spanned<Vec<String>>>,
    #[serde(alias = "stopWords")]
    pub(super) stopwords: Option<Spanned<Vec<String>>>,
    #[serde(rename = "targetRules", alias = "targetrules")]
    pub(super) target_rules: Option<Spanned<Vec<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    pub(super) id: Option<Spanned<String>>,
    pub(super) regex: Option<Spanned<String>>,
    pub(super) keywords: Option<Spanned<Vec<String>>>,
    // Ours.
    pub(super) min_entropy: Option<Spanned<toml::Value>>,
    pub(super) secret_group: Option<Spanned<toml::Value>>,
    // Gitleaks'.
    #[serde(rename = "secretGroup", alias = "secretgroup")]
    pub(super) secret_group_gitleaks: Option<Spanned<toml::Value>>,
    pub(super) entropy: Option<Spanned<toml::Value>>,
    pub(super) path: Option<Spanned<String>>,
    pub(super) description: Option<Spanned<String>>,
    pub(super) tags: Option<Spanned<Vec<String>>>,
    pub(super) allowlist: Option<Spanned<RawAllowlist>>,
    pub(super) allowlists: Option<Spanned<Vec<Spanned<RawAllowlist>>>>,
    // Gitleaks' composite rules: refused by name.
    #[serde(rename = "skipReport", alias = "skipreport")]
    pub(super) skip_report: Option<Spanned<toml::Value>>,
    pub(super) required: Option<Spanned<toml::Value>>,
}

/// Parses either format; a TOML error or an unknown key names its line.
pub(super) fn parse_raw(text: &str, source: &str) -> Result<RawFile, Error> {
    toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map(|s| format!(" line {}", line_of(text, s.start)))
            .unwrap_or_default();
        let msg = e.message().trim_end();
        // serde's "unknown field `x`, expected one of ..." lists the keys
        // of both formats: name the key only.
        let msg = match msg.strip_prefix("unknown field `") {
            Some(rest) => match rest.split_once('`') {
                Some((key, _)) => format!("unknown key `{key}`"),
                None => msg.to_owned(),
            },
            None => msg.to_owned(),
        };
        Error::config(format!("rules file '{source}'{at}: {msg}"))
    })
}

/// The format `raw` is read in: `format`, or for `Auto` the one its keys
/// show; an error when it has keys of the other format.
pub(super) fn decide(
    raw: &RawFile,
    text: &str,
    source: &str,
    format: ConfigFormat,
) -> Result<ConfigFormat, Error> {
    let (gl, ours) = markers(raw);
    let first = |m: &[(&'static str, usize)]| m.iter().min_by_key(|(_, at)| *at).copied();
    let at = |off: usize| line_of(text, off);
    match format {
        ConfigFormat::Auto => match (first(&gl), first(&ours)) {
            (Some((gk, go)), Some((ok, oo))) => Err(Error::config(format!(
                "rules file '{source}' line {}: `{ok}` is secret-chain's spelling, but line {} has `{gk}`, a gitleaks key: use one format (gitleaks spells them `entropy`, `secretGroup`)",
                at(oo),
                at(go)
            ))),
            (Some(_), None) => Ok(ConfigFormat::Gitleaks),
            _ => Ok(ConfigFormat::SecretChain),
        },
        ConfigFormat::SecretChain => match first(&gl) {
            Some((k, off)) => Err(Error::config(format!(
                "rules file '{source}' line {}: unknown key `{k}` (this is a gitleaks key; the file is read in secret-chain's format: --config-format gitleaks reads gitleaks files)",
                at(off)
            ))),
            None => Ok(ConfigFormat::SecretChain),
        },
        ConfigFormat::Gitleaks => match first(&ours) {
            Some((k, off)) => Err(Error::config(format!(
                "rules file '{source}' line {}: unknown key `{k}` in a gitleaks file (gitleaks spells it `{}`)",
                at(off),
                if k == "min_entropy" {
                    "entropy"
                } else {
                    "secretGroup"
                }
            ))),
            None => Ok(ConfigFormat::Gitleaks),
        },
    }
}

/// The gitleaks-only keys and our-only keys of `raw`, with their offsets.
type Markers = Vec<(&'static str, usize)>;

fn markers(raw: &RawFile) -> (Markers, Markers) {
    let mut gl: Markers = Vec::new();
    let mut ours: Markers = Vec::new();
    let add = |v: &mut Markers, k: &'static str, at: Option<usize>| {
        if let Some(at) = at {
            v.push((k, at));
        }
    };
    let s = |x: Option<std::ops::Range<usize>>| x.map(|r| r.start);
    add(&mut gl, "title", s(raw.title.as_ref().map(Spanned::span)));
    add(
        &mut gl,
        "description",
        s(raw.description.as_ref().map(Spanned::span)),
    );
    add(
        &mut gl,
        "minVersion",
        s(raw.min_version.as_ref().map(Spanned::span)),
    );
    add(
        &mut gl,
        "[extend]",
        s(raw.extend.as_ref().map(Spanned::span)),
    );
    add(
        &mut gl,
        "[allowlist]",
        s(raw.allowlist.as_ref().map(Spanned::span)),
    );
    add(
        &mut gl,
        "[[allowlists]]",
        s(raw.allowlists.as_ref().map(Spanned::span)),
    );
    for r in &raw.rules {
        let r = r.get_ref();
        add(
            &mut gl,
            "secretGroup",
            s(r.secret_group_gitleaks.as_ref().map(Spanned::span)),
        );
        add(&mut gl, "entropy", s(r.entropy.as_ref().map(Spanned::span)));
        add(&mut gl, "path", s(r.path.as_ref().map(Spanned::span)));
        add(
            &mut gl,
            "description",
            s(r.description.as_ref().map(Spanned::span)),
        );
        add(&mut gl, "tags", s(r.tags.as_ref().map(Spanned::span)));
        add(
            &mut gl,
            "[rules.allowlist]",
            s(r.allowlist.as_ref().map(Spanned::span)),
        );
        add(
            &mut gl,
            "[[rules.allowlists]]",
            s(r.allowlists.as_ref().map(Spanned::span)),
        );
        add(
            &mut gl,
            "skipReport",
            s(r.skip_report.as_ref().map(Spanned::span)),
        );
        add(
            &mut gl,
            "[[rules.required]]",
            s(r.required.as_ref().map(Spanned::span)),
        );
        add(
            &mut ours,
            "min_entropy",
            s(r.min_entropy.as_ref().map(Spanned::span)),
        );
        add(
            &mut ours,
            "secret_group",
            s(r.secret_group.as_ref().map(Spanned::span)),
        );
    }
    (gl, ours)
}

/// A TOML number as `f64` (`3` and `3.0` alike).
pub(super) fn number(v: &Spanned<toml::Value>) -> Option<f64> {
    match v.get_ref() {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(f) => Some(*f),
        _ => None,
    }
}

/// A TOML non-negative integer.
pub(super) fn count(v: &Spanned<toml::Value>) -> Option<usize> {
    match v.get_ref() {
        toml::Value::Integer(i) => usize::try_from(*i).ok(),
        _ => None,
    }
}

/// Our rules from a file already known to be in our format.
fn ours(raw: RawFile, text: &str, source: &str) -> Result<(Vec<RuleSpec>, Vec<String>), Error> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(raw.rules.len());
    let mut warnings = Vec::new();
    for spanned in raw.rules {
        let line = line_of(text, spanned.span().start);
        let rule = spanned.into_inner();
        let at = |e: Error| {
            Error::config(format!(
                "rules file '{source}' line {line}: {}",
                e.message()
            ))
        };
        let Some(id) = rule.id.map(Spanned::into_inner) else {
            return Err(at(Error::config("a rule has no `id`")));
        };
        let Some(regex) = rule.regex.map(Spanned::into_inner) else {
            return Err(at(Error::config(format!("rule '{id}': missing `regex`"))));
        };
        let min_entropy = match &rule.min_entropy {
            Some(v) => Some(number(v).ok_or_else(|| {
                at(Error::config(format!(
                    "rule '{id}': min_entropy must be a number"
                )))
            })?),
            None => None,
        };
        let secret_group = match &rule.secret_group {
            Some(v) => Some(count(v).ok_or_else(|| {
                at(Error::config(format!(
                    "rule '{id}': secret_group must be a non-negative integer"
                )))
            })?),
            None => None,
        };
        let spec = RuleSpec {
            id,
            regex,
            keywords: rule.keywords.map(Spanned::into_inner).unwrap_or_default(),
            min_entropy,
            secret_group,
        };
        spec.check().map_err(at)?;
        if !seen.insert(spec.id.clone()) {
            return Err(at(Error::config(format!(
                "rule '{}': duplicate rule id",
                spec.id
            ))));
        }
        if spec.keywords.is_empty() {
            warnings.push(no_keywords_warning(source, line, &spec.id));
        }
        out.push(spec);
    }
    Ok((out, warnings))
}

/// The warning for a rule without keywords.
pub(super) fn no_keywords_warning(source: &str, line: usize, id: &str) -> String {
    format!(
        "rules file '{source}' line {line}: rule '{id}' has no keywords: its regex runs over the whole text, which is much slower (add keywords = [\"...\"])"
    )
}

pub(super) fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_with_all_fields() {
        let text = r#"
[[rules]]
id = "acme-token"
regex = '''\bacme_([a-z0-9]{32})\b'''
keywords = ["acme_"]
min_entropy = 3.0
secret_group = 1

[[rules]]
id = "plain"
regex = 'plain_[A-Z]{10}'
min_entropy = 3
"#;
        let rules = parse_rules_toml(text, "rules.toml").unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].id, "acme-token");
        assert_eq!(rules[0].keywords, ["acme_"]);
        assert_eq!(rules[0].min_entropy, Some(3.0));
        assert_eq!(rules[0].secret_group, Some(1));
        assert_eq!(rules[1].keywords, Vec::<String>::new());
        assert_eq!(rules[1].min_entropy, Some(3.0));
    }

    #[test]
    fn a_bad_regex_names_the_rule_and_its_line() {
        let text = "[[rules]]\nid = \"ok\"\nregex = 'ok_[a-z]+'\n\n[[rules]]\nid = \"broken\"\nregex = 'tok_[a-z'\n";
        let e = parse_rules_toml(text, "r.toml").unwrap_err();
        let msg = e.to_string();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(
            msg.contains("'broken'") && msg.contains("line 5") && msg.contains("r.toml"),
            "{msg}"
        );
        assert!(!msg.contains("tok_"), "the regex is not echoed: {msg}");
    }

    #[test]
    fn a_toml_syntax_error_names_the_line() {
        let e = parse_rules_toml("[[rules]]\nid = \"x\"\nregex = \n", "r.toml").unwrap_err();
        assert!(e.to_string().contains("line 3"), "{e}");
    }

    #[test]
    fn unknown_fields_and_missing_regex_are_rejected() {
        let e = parse_rules_toml("[[rules]]\nid = \"x\"\nregexp = 'a'\n", "r").unwrap_err();
        assert_eq!(e.to_string(), "rules file 'r' line 3: unknown key `regexp`");
        let e = parse_rules_toml("[[rules]]\nid = \"x\"\n", "r").unwrap_err();
        assert!(e.to_string().contains("missing `regex`"), "{e}");
    }

    #[test]
    fn a_secret_group_beyond_the_regex_groups_is_rejected() {
        let e = parse_rules_toml(
            "[[rules]]\nid = \"x\"\nregex = 'a(b)c'\nsecret_group = 2\n",
            "r",
        )
        .unwrap_err();
        assert!(e.to_string().contains("secret_group"), "{e}");
    }

    #[test]
    fn a_rule_without_keywords_is_accepted_with_a_warning_naming_it_and_its_line() {
        let text = "[[rules]]\nid = \"kw\"\nregex = 'acme_[a-z]{8}'\nkeywords = [\"acme_\"]\n\n[[rules]]\nid = \"slow\"\nregex = 'tok_[a-z]{8}'\n";
        let (rules, warnings) = parse_with_warnings(text, "r.toml").unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("'slow'")
                && warnings[0].contains("line 6")
                && warnings[0].contains("r.toml"),
            "{warnings:?}"
        );
    }

    #[test]
    fn a_huge_regex_is_refused() {
        let e = parse_rules_toml(
            "[[rules]]\nid = \"big\"\nregex = '[a-z]{50000}'\nkeywords = [\"x\"]\n",
            "r",
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("'big'") && e.to_string().contains("line 1"),
            "{e}"
        );
    }

    #[test]
    fn a_regex_matching_empty_text_is_rejected() {
        assert!(parse_rules_toml("[[rules]]\nid = \"x\"\nregex = 'a*'\n", "r").is_err());
    }

    fn format_of(text: &str, format: ConfigFormat) -> Result<ConfigFormat, Error> {
        let raw = parse_raw(text, "f.toml")?;
        decide(&raw, text, "f.toml", format)
    }

    #[test]
    fn the_format_follows_the_keys_and_mixing_them_names_both_lines() {
        use ConfigFormat::{Auto, Gitleaks, SecretChain};
        let ours = "[[rules]]\nid = \"a\"\nregex = 'a_[a-z]{8}'\nsecret_group = 0\n";
        let plain = "[[rules]]\nid = \"a\"\nregex = 'a_[a-z]{8}'\n";
        for (text, want) in [
            (ours, SecretChain),
            (plain, SecretChain),
            ("title = \"t\"\n", Gitleaks),
            ("[extend]\nuseDefault = true\n", Gitleaks),
            ("[allowlist]\nstopwords = ['x']\n", Gitleaks),
            (
                "[[rules]]\nid = \"a\"\nregex = 'a(b)'\nsecretGroup = 1\n",
                Gitleaks,
            ),
            ("[[rules]]\nid = \"a\"\npath = 'a'\n", Gitleaks),
            (
                "[[rules]]\nid = \"a\"\nregex = 'a'\ntags = ['x']\n",
                Gitleaks,
            ),
            (
                "[[rules]]\nid = \"a\"\nregex = 'a'\n[[rules.allowlists]]\nstopwords = ['x']\n",
                Gitleaks,
            ),
        ] {
            assert_eq!(format_of(text, Auto).unwrap(), want, "{text}");
        }
        let mixed = "title = \"t\"\n[[rules]]\nid = \"a\"\nregex = 'a'\nmin_entropy = 3.0\n";
        let e = format_of(mixed, Auto).unwrap_err().to_string();
        assert!(
            e.contains("line 5")
                && e.contains("min_entropy")
                && e.contains("line 1")
                && e.contains("title"),
            "{e}"
        );
        let e = format_of("title = \"t\"\n", SecretChain)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1") && e.contains("`title`"), "{e}");
        let e = format_of(ours, Gitleaks).unwrap_err().to_string();
        assert!(e.contains("line 4") && e.contains("secretGroup"), "{e}");
        assert_eq!(format_of(plain, Gitleaks).unwrap(), Gitleaks);
    }

    #[test]
    fn an_unknown_key_anywhere_is_refused_with_its_line() {
        for (text, key, line) in [
            ("title = 't'\nbogus = 1\n", "bogus", 2),
            ("[extend]\nuseDefault = true\nfetch = true\n", "fetch", 3),
            (
                "[[rules]]\nid = 'a'\nregex = 'a'\n[[rules.allowlists]]\nstopwords = ['x']\nwords = ['y']\n",
                "words",
                6,
            ),
            (
                "[[allowlists]]\nregexes = ['x']\ntarget = ['y']\n",
                "target",
                3,
            ),
        ] {
            let e = parse_raw(text, "f.toml").unwrap_err().to_string();
            assert_eq!(
                e,
                format!("rules file 'f.toml' line {line}: unknown key `{key}`")
            );
        }
    }

    #[test]
    fn config_formats_parse_by_name() {
        assert_eq!(
            "gitleaks".parse::<ConfigFormat>(),
            Ok(ConfigFormat::Gitleaks)
        );
        assert_eq!(
            "secret-chain".parse::<ConfigFormat>(),
            Ok(ConfigFormat::SecretChain)
        );
        assert_eq!("AUTO".parse::<ConfigFormat>(), Ok(ConfigFormat::Auto));
        assert!("trufflehog".parse::<ConfigFormat>().is_err());
    }
}
