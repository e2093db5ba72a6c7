//! The built-in rules: one [`Def`] per vendor token format in [`BUILTIN`]
//! (the `sk-` keys, `ghp_`, `AKIA`, `xoxb-`, PEM blocks, JWTs, ...), and
//! the four parser rules (secret-named keys, URL passwords, `Bearer`,
//! `Basic`) with their keywords. To add a vendor format, add a [`Def`]
//! here.

use std::sync::Arc;

use super::placeholder::has;
use super::rule::{Check, LazyRegex, Rule, RuleId, max_match_len};

/// Definition of one built-in regex rule.
struct Def {
    id: &'static str,
    keywords: &'static [&'static str],
    regex: &'static str,
    /// `None`: anchored at the keyword; `Some(back)`: unanchored window.
    back: Option<usize>,
    fwd: usize,
    group: usize,
    entropy: Option<f64>,
    entropy_skip: usize,
    word_start: bool,
    exact_case: bool,
    mixed: bool,
    pre: Option<fn(&[u8], usize) -> bool>,
    /// A pattern that matches inside every match of `regex` (a part of
    /// it that a line of repeated keywords lacks): without one in the
    /// window, the regex does not run. See `memo.rs`.
    needs: Option<&'static str>,
    /// `(head, tail)` when `regex` is exactly `head(tail)` (a test checks
    /// it) and the secret is the tail: found without the capture engine.
    split: Option<(&'static str, &'static str)>,
}

const fn tok(id: &'static str, keywords: &'static [&'static str], regex: &'static str) -> Def {
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

// Token ends: the next byte is not part of the token alphabet.
const BUILTIN: &[Def] = &[
    // OpenAI
    tok(
        "openai-api-key",
        &["sk-proj-", "sk-svcacct-", "sk-admin-", "sk-none-"],
        r"sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_\-]{20,400}",
    ),
    Def {
        needs: Some("T3BlbkFJ"),
        ..tok(
            "openai-api-key",
            &["sk-"],
            r"sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}\b",
        )
    },
    // Anthropic
    tok(
        "anthropic-api-key",
        &["sk-ant-"],
        r"sk-ant-(?:api|admin|oat|sid)[0-9]{2}-[A-Za-z0-9_\-]{20,300}",
    ),
    // OpenRouter
    tok(
        "openrouter-api-key",
        &["sk-or-"],
        r"sk-or-v[0-9]+-[A-Za-z0-9]{32,128}\b",
    ),
    // DeepSeek (and other 32-hex sk- keys)
    Def {
        needs: Some("[a-f0-9]{32}"),
        ..tok("deepseek-api-key", &["sk-"], r"sk-[a-f0-9]{32}\b")
    },
    // Langfuse
    tok(
        "langfuse-key",
        &["sk-lf-", "pk-lf-"],
        r"(?:sk|pk)-lf-[0-9A-Za-z]{8}(?:-?[0-9A-Za-z]{4}){3}-?[0-9A-Za-z]{12}\b",
    ),
    // Stripe
    tok(
        "stripe-key",
        &[
            "sk_live_", "sk_test_", "sk_prod_", "rk_live_", "rk_test_", "rk_prod_", "pk_live_",
            "pk_test_", "pk_prod_",
        ],
        r"(?:sk|rk|pk)_(?:live|test|prod)_[A-Za-z0-9]{10,255}\b",
    ),
    tok(
        "stripe-webhook-secret",
        &["whsec_"],
        r"whsec_[A-Za-z0-9+/]{24,128}",
    ),
    // AWS
    Def {
        exact_case: true,
        ..tok(
            "aws-access-key-id",
            &["AKIA", "ASIA", "ABIA", "ACCA", "A3T"],
            r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b",
        )
    },
    Def {
        back: Some(0),
        fwd: 160,
        group: 1,
        pre: Some(aws_name_has_secret),
        needs: Some(
            r#"(?i)(?:secret|sk)[\w.\-]{0,24}(?:\\*["'])?\s*(?::|=>|:=|=)\s*(?:\\*["'])?[A-Za-z0-9/+]{40}"#,
        ),
        ..tok(
            "aws-secret-access-key",
            &["aws"],
            r#"(?i)aws[\w.\-]{0,32}?(?:secret|sk)[\w.\-]{0,24}(?:\\*["'])?\s*(?::|=>|:=|=)\s*(?:\\*["'])?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+]|$)"#,
        )
    },
    // GitHub
    tok("github-pat", &["ghp_"], r"ghp_[0-9A-Za-z]{36,251}\b"),
    tok("github-oauth", &["gho_"], r"gho_[0-9A-Za-z]{36,251}\b"),
    tok(
        "github-app-token",
        &["ghu_", "ghs_"],
        r"gh[us]_[0-9A-Za-z]{36,251}\b",
    ),
    tok(
        "github-refresh-token",
        &["ghr_"],
        r"ghr_[0-9A-Za-z]{36,251}\b",
    ),
    tok(
        "github-fine-grained-pat",
        &["github_pat_"],
        r"github_pat_[0-9A-Za-z_]{40,255}\b",
    ),
    // GitLab
    tok(
        "gitlab-token",
        &[
            "glpat-", "glrt-", "gldt-", "glptt-", "glft-", "glsoat-", "glcbt-", "glimt-",
            "glagent-", "gloas-", "glrtr-", "glffct-",
        ],
        r"gl(?:pat|rt|dt|ptt|ft|soat|cbt|imt|agent|oas|rtr|ffct)-[0-9A-Za-z_\-]{20,255}(?:\.[0-9A-Za-z_\-]{2,64}){0,2}",
    ),
    Def {
        exact_case: true,
        ..tok(
            "gitlab-runner-registration-token",
            &["GR1348941"],
            r"GR1348941[0-9A-Za-z_\-]{20,64}",
        )
    },
    // Slack
    tok(
        "slack-token",
        &[
            "xoxb-", "xoxp-", "xoxa-", "xoxo-", "xoxs-", "xoxr-", "xoxe-", "xoxe.",
        ],
        r"xox(?:e\.xox[bp]|[abposre])-[0-9]+-[0-9A-Za-z\-]{8,300}",
    ),
    tok(
        "slack-app-token",
        &["xapp-"],
        r"(?i)xapp-[0-9]+-[A-Z0-9]+-[0-9]+-[a-z0-9]+",
    ),
    Def {
        word_start: false,
        group: 1,
        ..tok(
            "slack-webhook-url",
            &["hooks.slack.com/"],
            r"hooks\.slack\.com/(?:services|workflows|triggers)/([A-Za-z0-9+/_\-]{20,200})",
        )
    },
    // Google
    Def {
        exact_case: true,
        ..tok("gcp-api-key", &["AIza"], r"AIza[0-9A-Za-z_\-]{35}\b")
    },
    // Twilio
    Def {
        exact_case: true,
        ..tok(
            "twilio-api-key",
            &[
                "SK0", "SK1", "SK2", "SK3", "SK4", "SK5", "SK6", "SK7", "SK8", "SK9", "SKa", "SKb",
                "SKc", "SKd", "SKe", "SKf", "SKA", "SKB", "SKC", "SKD", "SKE", "SKF",
            ],
            r"SK[0-9a-fA-F]{32}\b",
        )
    },
    Def {
        back: Some(0),
        fwd: 120,
        group: 1,
        needs: Some(r#"(?i)(?::|=>|:=|=)\s*(?:\\*["'])?[a-f0-9]{32}"#),
        ..tok(
            "twilio-auth-token",
            &["twilio"],
            r#"(?i)twilio[\w.\-]{0,24}(?:\\*["'])?\s*(?::|=>|:=|=)\s*(?:\\*["'])?([a-f0-9]{32})\b"#,
        )
    },
    // SendGrid
    Def {
        exact_case: true,
        ..tok(
            "sendgrid-api-key",
            &["SG."],
            r"SG\.[A-Za-z0-9_\-]{16,32}\.[A-Za-z0-9_\-]{30,64}",
        )
    },
    // npm, PyPI
    tok("npm-access-token", &["npm_"], r"npm_[A-Za-z0-9]{36}\b"),
    tok(
        "pypi-upload-token",
        &["pypi-ageicHlwaS5vcmc"],
        r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,1000}",
    ),
    // Hugging Face
    tok("huggingface-token", &["hf_"], r"hf_[A-Za-z]{34}\b"),
    tok(
        "huggingface-org-token",
        &["api_org_"],
        r"api_org_[A-Za-z]{34}\b",
    ),
    // DigitalOcean
    tok(
        "digitalocean-token",
        &["dop_v1_", "doo_v1_", "dor_v1_"],
        r"do[opr]_v1_[a-f0-9]{64}\b",
    ),
    // Shopify
    tok(
        "shopify-token",
        &["shpat_", "shpca_", "shppa_", "shpss_"],
        r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b",
    ),
    // Databricks
    tok(
        "databricks-token",
        &["dapi"],
        r"dapi[a-f0-9]{32}(?:-[0-9])?\b",
    ),
    // age
    Def {
        exact_case: true,
        ..tok(
            "age-secret-key",
            &["AGE-SECRET-KEY-1"],
            r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
        )
    },
    // JWT
    Def {
        fwd: 8192,
        exact_case: true,
        needs: Some(r"\.eyJ[A-Za-z0-9_\-]{8,}\."),
        ..tok(
            "jwt",
            &["eyJ"],
            r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.(?:[A-Za-z0-9_\-+/]{8,}={0,2})?",
        )
    },
    // PEM private keys: the body between the BEGIN and END lines.
    Def {
        fwd: 65536,
        group: 1,
        word_start: false,
        exact_case: true,
        needs: Some(r"-----END[ A-Z0-9_\-]{0,64}PRIVATE KEY(?: BLOCK)?-----"),
        ..tok(
            "private-key",
            &["-----BEGIN"],
            r"-----BEGIN[ A-Z0-9_\-]{0,64}PRIVATE KEY(?: BLOCK)?-----((?s:.)+?)-----END[ A-Z0-9_\-]{0,64}PRIVATE KEY(?: BLOCK)?-----",
        )
    },
    // A truncated PEM block (no END line in reach): the base64 run after the header.
    Def {
        fwd: 65536,
        group: 1,
        word_start: false,
        exact_case: true,
        split: Some((
            r"-----BEGIN[ A-Z0-9_\-]{0,64}PRIVATE KEY(?: BLOCK)?-----",
            r"(?:\\+[nr]|[\r\n\t ]|[A-Za-z0-9+/=:,.]|-[A-Za-z0-9])+",
        )),
        ..tok(
            "private-key",
            &["-----BEGIN"],
            r"-----BEGIN[ A-Z0-9_\-]{0,64}PRIVATE KEY(?: BLOCK)?-----((?:\\+[nr]|[\r\n\t ]|[A-Za-z0-9+/=:,.]|-[A-Za-z0-9])+)",
        )
    },
    // Generic sk-/pk- keys: long and random enough.
    Def {
        entropy: Some(3.5),
        entropy_skip: 3,
        mixed: true,
        ..tok(
            "generic-prefixed-key",
            &["sk-", "pk-"],
            r"[sp]k-[A-Za-z0-9_\-]{20,200}",
        )
    },
];

/// Keywords that start the key-name check.
const KV_KEYWORDS: &[&str] = &[
    "passw",
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
];

/// The built-in rules and the keywords of each, in definition order
/// ([`RuleSet::builtin`](super::RuleSet::builtin) compiles them once per
/// process).
pub(super) fn rules() -> (Vec<Rule>, Vec<Vec<String>>) {
    let mut rules = Vec::new();
    let mut kws: Vec<Vec<String>> = Vec::new();
    for d in BUILTIN {
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
                needs: d.needs.map(|n| (LazyRegex::builtin(n), max_match_len(n))),
                split: d
                    .split
                    .map(|(h, t)| (LazyRegex::builtin(h), LazyRegex::builtin(t))),
                // Only unanchored searches use it (a cheap parse, no compile).
                max_len: if anchored {
                    None
                } else {
                    max_match_len(d.regex)
                },
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
        _ => hit.iter().all(|b| !b.is_ascii_lowercase()),
    }
}

/// The `aws-secret-access-key` regex needs `secret` or `sk` in the name
/// run (`[\w.\-]`) right after an `aws` in its window (the hit's `aws` or
/// a later one up to 163 bytes on): `amazonaws.com`, `aws-region` and
/// prose are rejected before the regex runs. Non-ASCII bytes count as name
/// bytes (`\w` is Unicode), so this never rejects a match.
fn aws_name_has_secret(b: &[u8], hs: usize) -> bool {
    let we = (hs + 3 + 160).min(b.len());
    let mut p = hs;
    while p + 3 <= we {
        if b[p..p + 3].eq_ignore_ascii_case(b"aws") {
            let from = p + 3;
            let mut end = from;
            while end < we
                && (b[end].is_ascii_alphanumeric()
                    || matches!(b[end], b'_' | b'.' | b'-')
                    || b[end] >= 0x80)
            {
                end += 1;
            }
            let run = &b[from..end];
            if has(run, b"sk", true) || has(run, b"secret", true) {
                return true;
            }
            p = end.max(p + 1);
        } else {
            p += 1;
        }
    }
    false
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
        for d in BUILTIN {
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
                "hf hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh ok",
                "hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh",
            ),
            (
                "'shpat_0123456789abcdef0123456789ABCDEF'",
                "shpat_0123456789abcdef0123456789ABCDEF",
            ),
            (
                "dapi0123456789abcdef0123456789abcdef-2 x",
                "dapi0123456789abcdef0123456789abcdef-2",
            ),
            (
                "dop_v1_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "dop_v1_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            ),
            (
                "AGE-SECRET-KEY-1QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7LQPZRY9X8GF2TVDW0S3JN54KHCE",
                "AGE-SECRET-KEY-1QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7LQPZRY9X8GF2TVDW0S3JN54KHCE",
            ),
            (
                "deepseek sk-0123456789abcdef0123456789abcdef",
                "sk-0123456789abcdef0123456789abcdef",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(secret(text), vec![want.to_string()], "in {text:?}");
        }
    }

    #[test]
    fn aws_secret_keys_are_found_and_aws_hostnames_skip_the_regex() {
        let key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzKEYq8Zw3B";
        for line in [
            format!("aws_secret_access_key = {key}"),
            format!("AWS_SECRET_ACCESS_KEY=\"{key}\""),
            format!("aws region asiaws_secret_access_key={key}"),
            format!("awsSecretKey: {key}"),
        ] {
            assert_eq!(secret(&line), vec![key.to_string()], "{line}");
        }
        let host = "GET https://s3.amazonaws.com/bucket/aws-region=us-east-1 key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzKEYq8Zw3B";
        assert!(!aws_name_has_secret(
            host.as_bytes(),
            host.find("aws").unwrap()
        ));
        assert!(aws_name_has_secret(b"x aws_sk: y", 2));
    }
}
