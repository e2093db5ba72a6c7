//! User rules from a TOML file (`secret-chain scan --config FILE`).
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
//! The file's syntax is checked here; each rule is checked by
//! [`RuleSpec::check`], the same check the library runs on every user rule,
//! and its errors are given the file and line.

use std::path::Path;

use serde::Deserialize;

use super::read::{io_reason, read_capped};

/// The largest rules file read (it holds a few hundred rules at most).
pub(super) const MAX_RULES_FILE_BYTES: u64 = 4 << 20;
use secret_chain::detect::RuleSpec;
use secret_chain::{Error, ErrorKind};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    rules: Vec<toml::Spanned<UserRule>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserRule {
    id: String,
    regex: String,
    #[serde(default)]
    keywords: Vec<String>,
    min_entropy: Option<f64>,
    secret_group: Option<usize>,
}

/// Reads user rules from a TOML file.
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
    let text = String::from_utf8(bytes).map_err(|e| {
        let line = e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        Error::config(format!(
            "rules file '{name}' is not valid UTF-8 (line {line})"
        ))
    })?;
    parse_with_warnings(&text, &name)
}

/// Parses user rules; `source` names the file in error messages.
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
    let file: RulesFile = toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map(|s| format!(" line {}", line_of(text, s.start)))
            .unwrap_or_default();
        Error::config(format!(
            "rules file '{source}'{at}: {}",
            e.message().trim_end()
        ))
    })?;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(file.rules.len());
    let mut warnings = Vec::new();
    for spanned in file.rules {
        let line = line_of(text, spanned.span().start);
        let rule = spanned.into_inner();
        let spec = RuleSpec {
            id: rule.id,
            regex: rule.regex,
            keywords: rule.keywords,
            min_entropy: rule.min_entropy,
            secret_group: rule.secret_group,
        };
        let at = |e: Error| {
            Error::config(format!(
                "rules file '{source}' line {line}: {}",
                e.message()
            ))
        };
        spec.check().map_err(at)?;
        if !seen.insert(spec.id.clone()) {
            return Err(at(Error::config(format!(
                "rule '{}': duplicate rule id",
                spec.id
            ))));
        }
        if spec.keywords.is_empty() {
            warnings.push(format!(
                "rules file '{source}' line {line}: rule '{}' has no keywords: its regex runs over the whole text, which is much slower (add keywords = [\"...\"])",
                spec.id
            ));
        }
        out.push(spec);
    }
    Ok((out, warnings))
}

fn line_of(text: &str, offset: usize) -> usize {
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
"#;
        let rules = parse_rules_toml(text, "rules.toml").unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].id, "acme-token");
        assert_eq!(rules[0].keywords, ["acme_"]);
        assert_eq!(rules[0].min_entropy, Some(3.0));
        assert_eq!(rules[0].secret_group, Some(1));
        assert_eq!(rules[1].keywords, Vec::<String>::new());
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
    }

    #[test]
    fn a_toml_syntax_error_names_the_line() {
        let e = parse_rules_toml("[[rules]]\nid = \"x\"\nregex = \n", "r.toml").unwrap_err();
        assert!(e.to_string().contains("line 3"), "{e}");
    }

    #[test]
    fn unknown_fields_and_missing_regex_are_rejected() {
        assert!(parse_rules_toml("[[rules]]\nid = \"x\"\nregexp = 'a'\n", "r").is_err());
        assert!(parse_rules_toml("[[rules]]\nid = \"x\"\n", "r").is_err());
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
}
