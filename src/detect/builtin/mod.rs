//! The built-in rules: one [`Def`] per vendor token format, grouped by
//! field in one file each (listed in [`FAMILIES`]), and the four parser
//! rules (secret-named keys, URL passwords, `Bearer`, `Basic`) with their
//! keywords. To add a vendor format, add a [`Def`] to its field's file
//! (and a case to that file's tests).

use std::sync::Arc;

use super::rule::{Check, LazyRegex, Rule, RuleId};

/// The regex text between a context keyword's name and its value:
/// `name=value`, `name: value`, `"name": "value"`, `name => value`,
/// `name := value`, JSON-escaped quotes; bounded (an unanchored window
/// rule needs matches of bounded length).
macro_rules! assign {
    () => {
        r#"(?:\\*["'])?\s{0,4}(?::|=>|:=|=)\s{0,4}(?:\\*["'])?"#
    };
}

/// A context keyword's setting as a YAML block one level deep
/// (`cloudflare:` then an indented `api_token: ...` on the next line): the
/// regex text between the vendor name and the nested key's name.
macro_rules! nested {
    () => {
        r"(?::[ \t]{0,4}\r?\n[ \t]{1,16}[\w.\-]{1,32})?"
    };
}

mod ai;
mod azure;
mod cloud;
mod code;
mod commerce;
mod context;
mod devops;
mod generic;
mod keys;
mod messaging;
mod near;
mod observability;
mod work;

/// Every family file's rules, in the order their candidates are made (the
/// generic `sk-`/`pk-` rule last).
const FAMILIES: &[&[Def]] = &[
    ai::DEFS,
    commerce::DEFS,
    cloud::DEFS,
    code::DEFS,
    messaging::DEFS,
    keys::DEFS,
    work::DEFS,
    azure::DEFS,
    devops::DEFS,
    observability::DEFS,
    generic::DEFS,
];

/// Definition of one built-in regex rule.
pub(super) struct Def {
    pub(super) id: &'static str,
    pub(super) keywords: &'static [&'static str],
    pub(super) regex: &'static str,
    /// `None`: anchored at the keyword; `Some(back)`: unanchored window.
    pub(super) back: Option<usize>,
    pub(super) fwd: usize,
    pub(super) group: usize,
    pub(super) entropy: Option<f64>,
    pub(super) entropy_skip: usize,
    pub(super) word_start: bool,
    pub(super) exact_case: bool,
    pub(super) mixed: bool,
    pub(super) pre: Option<fn(&[u8], usize) -> bool>,
    /// A pattern that matches inside every match of `regex` (a part of
    /// it that a line of repeated keywords lacks): without one in the
    /// window, the regex does not run. See `memo.rs`.
    pub(super) needs: Option<&'static str>,
    /// `(head, tail)` when `regex` is exactly `head(tail)` (a test checks
    /// it) and the secret is the tail: found without the capture engine.
    pub(super) split: Option<(&'static str, &'static str)>,
}

pub(super) const fn tok(
    id: &'static str,
    keywords: &'static [&'static str],
    regex: &'static str,
) -> Def {
    Def {
        id,
        keywords,
        regex,
        back: None,
        fwd: 300,
        group: 0,
        entropy: None,
        entropy_skip: 0,
        word_start: true,
        exact_case: false,
        mixed: false,
        pre: None,
        needs: None,
        split: None,
    }
}

/// Keywords that start the key-name check.
const KV_KEYWORDS: &[&str] = &[
    "pass",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "credential",
    "auth",
    "cookie",
    "session",
    "dsn",
    "apikey",
    "api_key",
    "api-key",
    "api.key",
    "accesskey",
    "access_key",
    "access-key",
    "privatekey",
    "private_key",
    "private-key",
    "signing_key",
    "signingkey",
    "encryption_key",
    "encryptionkey",
    "master_key",
    "masterkey",
    "app_key",
    "appkey",
    "account_key",
    "accountkey",
    "connection_string",
    "connectionstring",
    "conn_str",
    "connstr",
    // Names secret only by convention, with a random value (`*_KEY`,
    // `*_PAT`).
    "_key",
    "-key",
    "_pat",
    // curl's user flags, and the `curl` word that makes `-u` curl's.
    "-u",
    "--user",
    "--proxy-user",
    "curl",
    // Oracle's `jdbc:oracle:thin:user/password@host`.
    "jdbc:",
];

/// The built-in rules and the keywords of each, in definition order
/// ([`RuleSet::builtin`](super::RuleSet::builtin) compiles them once per
/// process).
pub(super) fn rules() -> (Vec<Rule>, Vec<Vec<String>>) {
    let mut rules = Vec::new();
    let mut kws: Vec<Vec<String>> = Vec::new();
    for d in FAMILIES.iter().flat_map(|f| f.iter()) {
        let re = LazyRegex::builtin(d.regex);
        let anchored = d.back.is_none();
        rules.push(Rule {
            id: RuleId(Arc::from(d.id)),
            priority: if d.id == "generic-prefixed-key" { 3 } else { 0 },
            check: Check::Regex {
                re,
                anchored,
                back: d.back.unwrap_or(0),
                fwd: d.fwd,
                group: d.group,
                line: false,
                pre: d.pre,
                needs: d.needs.map(LazyRegex::builtin),
                split: d
                    .split
                    .map(|(h, t)| (LazyRegex::builtin(h), LazyRegex::builtin(t))),
            },
            word_start: d.word_start,
            exact_case: d.exact_case,
            min_entropy: d.entropy,
            entropy_skip: d.entropy_skip,
            placeholders: true,
            mixed: d.mixed,
        });
        kws.push(d.keywords.iter().map(|s| s.to_string()).collect());
    }
    let special = [
        ("secret-named-key", Check::KeyValue, KV_KEYWORDS, false, 2u8),
        ("url-password", Check::UrlPassword, &["://"][..], false, 1),
        (
            "authorization-bearer",
            Check::Bearer,
            &["bearer"][..],
            true,
            1,
        ),
        ("http-basic-auth", Check::Basic, &["basic"][..], true, 1),
    ];
    for (id, check, keywords, word_start, priority) in special {
        rules.push(Rule {
            id: RuleId(Arc::from(id)),
            priority,
            check,
            word_start,
            exact_case: false,
            min_entropy: None,
            entropy_skip: 0,
            placeholders: true,
            mixed: false,
        });
        kws.push(keywords.iter().map(|s| s.to_string()).collect());
    }
    (rules, kws)
}

/// Whether a keyword hit has the case that its `exact_case` rule wants,
/// decided by rule id: a new `exact_case` rule whose keyword is not all
/// uppercase needs an arm here.
pub(super) fn exact_case_match(hit: &[u8], rule: &Rule) -> bool {
    // The rule's keywords with their real case are the regex's literal
    // prefixes: compare the hit with the uppercase/lowercase form that the
    // rule expects by re-checking the first bytes against the regex later;
    // here only reject hits whose letters are all lowercase when the rule
    // wants uppercase (AKIA, SK, SG., AIza, AGE-, GR, eyJ, -----BEGIN).
    match rule.id.as_str() {
        "gcp-api-key" => hit == b"AIza",
        "jwt" => hit == b"eyJ",
        "private-key" => hit == b"-----BEGIN",
        "sendgrid-api-key" => hit == b"SG.",
        "twilio-api-key" => hit.starts_with(b"SK"),
        "discord-bot-token" => hit == b"Bot ",
        _ => hit.iter().all(|b| !b.is_ascii_lowercase()),
    }
}

/// Whether a value that rule `rule` matched keeps its family's own
/// structure, where the family defines more than its regex can say (a
/// JWT's header and payload decode as JSON, a PEM body is base64),
/// decided by rule id.
pub(super) fn valid_shape(rule: &Rule, secret: &str) -> bool {
    match rule.id.as_str() {
        "jwt" => keys::jwt_decodes(secret),
        "private-key" => keys::pem_body_is_base64(secret),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::RuleSet;
    use crate::detect::testing::secret;

    #[test]
    fn every_builtin_regex_compiles_and_ids_are_listed() {
        let set = RuleSet::builtin();
        // Built-in regexes compile on first use: compile them all here.
        for rule in set.rules() {
            if let Check::Regex { re, .. } = &rule.check {
                re.get();
            }
        }
        let ids = set.rule_ids();
        assert!(ids.contains(&"github-pat"));
        assert!(ids.contains(&"secret-named-key"));
        assert!(ids.contains(&"private-key"));
    }

    #[test]
    fn a_split_regex_is_its_head_and_its_tail_as_the_secret_group() {
        for d in FAMILIES.iter().flat_map(|f| f.iter()) {
            if let Some((head, tail)) = d.split {
                assert_eq!(d.regex, format!("{head}({tail})"), "{}", d.id);
                assert_eq!((d.back, d.group), (None, 1), "{}: anchored, group 1", d.id);
            }
        }
    }

    #[test]
    fn vendor_tokens_are_found_with_their_exact_span() {
        let cases = [
            (
                "token ghp_b5h9M344OTFAQdfeb4g0MRcoIztgBqkFLglB.",
                "ghp_b5h9M344OTFAQdfeb4g0MRcoIztgBqkFLglB",
            ),
            ("key (AKIAPVUD4ALW7MJJD7E6)", "AKIAPVUD4ALW7MJJD7E6"),
            (
                "k=sk_live_OGAucWtJGXdfhxnmrl8kc5S6, next",
                "sk_live_OGAucWtJGXdfhxnmrl8kc5S6",
            ),
            (
                "x AIzajIGKhTVfWJCNQCzLdJHx4uHhLS9v0yyYiDX y",
                "AIzajIGKhTVfWJCNQCzLdJHx4uHhLS9v0yyYiDX",
            ),
            (
                "sid SK1c0e7034ead78784debac97effa385a0",
                "SK1c0e7034ead78784debac97effa385a0",
            ),
            (
                "npm npm_Bmhxmcm8KO6turIKxGjHsVaGoEuvbFsQ0mIm",
                "npm_Bmhxmcm8KO6turIKxGjHsVaGoEuvbFsQ0mIm",
            ),
            (
                "hf 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 ok",
                "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",
            ),
            (
                "'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'",
                "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",
            ),
            (
                "dapi00661fccd268a29a0d347301ef56e64d-2 x",
                "dapi00661fccd268a29a0d347301ef56e64d-2",
            ),
            (
                "dop_v1_c3cd6089065c3146e80a9c222670bbe4f4c54977656cf2d133187c8df95247f2",
                "dop_v1_c3cd6089065c3146e80a9c222670bbe4f4c54977656cf2d133187c8df95247f2",
            ),
            (
                "AGE-SECRET-KEY-1QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7LQPZRY9X8GF2TVDW0S3JN54KHCE",
                "AGE-SECRET-KEY-1QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7LQPZRY9X8GF2TVDW0S3JN54KHCE",
            ),
            (
                "deepseek sk-866028de71159b42b4ea410fb9102f29",
                "sk-866028de71159b42b4ea410fb9102f29",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(secret(text), vec![want.to_string()], "in {text:?}");
        }
    }
}
