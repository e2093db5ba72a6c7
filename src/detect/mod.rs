//! The credential rule engine: built-in credential families, secret-named
//! keys and user rules, shared by the [`Redactor`](crate::masking::Redactor) and the
//! log scanner.
//!
//! Every rule is anchored on literal keywords. A first pass finds keyword
//! hits (ASCII case-insensitive, leftmost-longest) with a bucketed shift-or
//! filter over the text as it is (see `filter.rs`: one table lookup per
//! byte, case folding in the table, candidates confirmed against the
//! keywords of their bucket). Only then does the rule run, in a bounded
//! window around the hit: an anchored regex for the vendor formats
//! (compiled on first use), or a hand-written parser for `key=value` pairs,
//! URLs with a password and `Authorization` headers. No regex ever runs
//! over whole clean text (except a user rule declared without keywords).
//!
//! Placeholders are never findings: `xxxx`, `****`, `<...>`, `${...}`,
//! `{{...}}`, `[REDACTED]`, `your-key-here` and AWS's documented
//! `...EXAMPLE` keys.
//!
//! # Example
//!
//! ```
//! use secret_chain::detect::RuleSet;
//!
//! let rules = RuleSet::builtin();
//! let line = "cloning with token ghp_b5h9M344OTFAQdfeb4g0MRcoIztgBqkFLglB done";
//! let mut found = Vec::new();
//! rules.find(line, &mut found);
//! assert_eq!(found.len(), 1);
//! assert_eq!(found[0].rule.as_str(), "github-pat");
//! assert_eq!(&line[found[0].start..found[0].end], "ghp_b5h9M344OTFAQdfeb4g0MRcoIztgBqkFLglB");
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use regex_automata::meta::Regex;
use regex_automata::{Anchored, Input};
use serde::Deserialize;

use crate::error::Error;

mod filter;

use filter::KeywordFilter;

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

/// The name of the rule that produced a [`Finding`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RuleId(Arc<str>);

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
enum Check {
    /// A regex run in a window around the hit.
    Regex {
        re: LazyRegex,
        /// Anchored at the keyword hit (the keyword is the token's prefix).
        anchored: bool,
        /// How far before the hit the match may start.
        back: usize,
        /// How far after the hit the match may end.
        fwd: usize,
        /// Capture group of the secret.
        group: usize,
        /// Snap the window to the line around the hit.
        line: bool,
        /// A cheap test at the hit (text bytes, hit start) that must pass
        /// before the regex runs; it never rejects a hit the regex accepts.
        pre: Option<fn(&[u8], usize) -> bool>,
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

/// A rule's regex, compiled on first use: most built-in rules never see a
/// keyword hit in a given log, and compiling all of them (bounded
/// repetitions make large automata) would cost a scan tens of milliseconds
/// at start-up. Clones share the compiled regex.
#[derive(Clone)]
struct LazyRegex {
    /// The pattern of a built-in rule (known to compile: a test compiles
    /// them all); empty for a regex compiled up front.
    src: &'static str,
    re: Arc<OnceLock<Regex>>,
}

impl LazyRegex {
    fn builtin(src: &'static str) -> LazyRegex {
        LazyRegex {
            src,
            re: Arc::new(OnceLock::new()),
        }
    }

    fn compiled(re: Regex) -> LazyRegex {
        LazyRegex {
            src: "",
            re: Arc::new(OnceLock::from(re)),
        }
    }

    fn get(&self) -> &Regex {
        self.re
            .get_or_init(|| Regex::new(self.src).expect("built-in rule regex compiles"))
    }
}

struct Rule {
    id: RuleId,
    /// Lower number wins when two findings overlap.
    priority: u8,
    check: Check,
    /// The byte before the hit must not be alphanumeric.
    word_start: bool,
    /// The keyword must match with its exact case.
    exact_case: bool,
    min_entropy: Option<f64>,
    /// Entropy is measured after this many leading bytes (a vendor prefix).
    entropy_skip: usize,
    /// Placeholders (`xxxx`, `<...>`, ...) are not findings.
    placeholders: bool,
    /// Body must hold a digit and a letter (generic keys).
    mixed: bool,
}

struct Inner {
    rules: Vec<Rule>,
    keywords: Vec<String>,
    /// keyword index -> (rule, length of that rule's own keyword) to run on
    /// a hit; a hit of a keyword also runs the rules of the keywords that
    /// are its prefixes (the filter reports the longest keyword only).
    by_keyword: Vec<Vec<(usize, usize)>>,
    /// Finds the keywords (the first pass).
    filter: KeywordFilter,
    /// Rules without keywords: run over the whole text.
    unanchored: Vec<usize>,
}

/// A compiled set of credential rules. Cheap to clone (shared), `Send` and
/// `Sync`.
#[derive(Clone)]
pub struct RuleSet {
    inner: Arc<Inner>,
}

impl fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.inner.rules.len())
            .finish()
    }
}

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
    tok(
        "openai-api-key",
        &["sk-"],
        r"sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}\b",
    ),
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
    tok("deepseek-api-key", &["sk-"], r"sk-[a-f0-9]{32}\b"),
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

/// Words that make a key name secret when they are its last name segment
/// (matched by [`is_secret_last`]; a test checks that both agree).
#[cfg(test)]
const SECRET_LAST: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "credential",
    "credentials",
    "auth",
    "authorization",
    "cookie",
    "session",
    "dsn",
    "apikey",
    "accesskey",
    "privatekey",
    "secretkey",
    "authtoken",
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "clientsecret",
    "connectionstring",
    "connstr",
];

/// Pairs of last two segments that make a key name secret.
const SECRET_PAIRS: &[(&str, &str)] = &[
    ("api", "key"),
    ("access", "key"),
    ("private", "key"),
    ("secret", "key"),
    ("connection", "string"),
    ("conn", "string"),
    ("session", "key"),
    ("signing", "key"),
    ("encryption", "key"),
    ("master", "key"),
    ("auth", "key"),
    ("app", "key"),
    ("account", "key"),
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

/// Authorization schemes: the value after them is the secret.
const SCHEMES: &[&str] = &[
    "bearer",
    "basic",
    "token",
    "digest",
    "negotiate",
    "ntlm",
    "apikey",
    "api-key",
    "key",
    "jwt",
    "mac",
    "hawk",
    "sso-key",
    "otoken",
];

impl RuleSet {
    /// All built-in credential families and the secret-named key rule.
    /// Compiled once per process; later calls share it.
    pub fn builtin() -> RuleSet {
        static BUILTIN_SET: OnceLock<RuleSet> = OnceLock::new();
        BUILTIN_SET
            .get_or_init(|| {
                let mut rules = Vec::new();
                let mut kws: Vec<Vec<String>> = Vec::new();
                for d in BUILTIN {
                    let re = LazyRegex::builtin(d.regex);
                    rules.push(Rule {
                        id: RuleId(Arc::from(d.id)),
                        priority: if d.id == "generic-prefixed-key" { 3 } else { 0 },
                        check: Check::Regex {
                            re,
                            anchored: d.back.is_none(),
                            back: d.back.unwrap_or(0),
                            fwd: d.fwd,
                            group: d.group,
                            line: false,
                            pre: d.pre,
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
    /// A [`Config`](crate::ErrorKind::Config) error naming the rule id when a
    /// regex does not compile, the id is empty, or `secret_group` names a
    /// group the regex does not have.
    pub fn with_user_rules(self, rules: Vec<RuleSpec>) -> Result<RuleSet, Error> {
        if rules.is_empty() {
            return Ok(self);
        }
        // Rebuild from the definitions: rules are not Clone (compiled regexes
        // are, cheaply), so re-create the set.
        let mut all: Vec<Rule> = Vec::new();
        let mut kws: Vec<Vec<String>> = Vec::new();
        for (i, r) in self.inner.rules.iter().enumerate() {
            all.push(r.clone_rule());
            kws.push(self.keywords_of(i));
        }
        for spec in rules {
            if spec.id.trim().is_empty() {
                return Err(Error::config("a user rule has an empty id"));
            }
            let re = Regex::new(&spec.regex).map_err(|e| {
                Error::config(format!("rule `{}`: the regex does not compile", spec.id))
                    .with_source(e)
            })?;
            let group = spec.secret_group.unwrap_or(0);
            if group >= re.group_info().group_len(regex_automata::PatternID::ZERO) {
                return Err(Error::config(format!(
                    "rule `{}`: secret_group {} does not exist in the regex",
                    spec.id, group
                )));
            }
            if let Some(e) = spec.min_entropy
                && !(e.is_finite() && e >= 0.0)
            {
                return Err(Error::config(format!(
                    "rule `{}`: min_entropy must be a number >= 0",
                    spec.id
                )));
            }
            let keywords: Vec<String> = spec
                .keywords
                .iter()
                .filter(|k| !k.is_empty())
                .cloned()
                .collect();
            all.push(Rule {
                id: RuleId(Arc::from(spec.id.as_str())),
                priority: 0,
                check: Check::Regex {
                    re: LazyRegex::compiled(re),
                    anchored: false,
                    back: 512,
                    fwd: 1024,
                    group,
                    line: true,
                    pre: None,
                },
                word_start: false,
                exact_case: false,
                min_entropy: spec.min_entropy,
                entropy_skip: 0,
                placeholders: true,
                mixed: false,
            });
            kws.push(keywords);
        }
        Ok(RuleSet::assemble(all, kws))
    }

    fn assemble(rules: Vec<Rule>, kws: Vec<Vec<String>>) -> RuleSet {
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
        RuleSet {
            inner: Arc::new(Inner {
                rules,
                keywords,
                by_keyword,
                filter,
                unanchored,
            }),
        }
    }

    /// The ids of all rules, in definition order, without duplicates.
    pub fn rule_ids(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for r in &self.inner.rules {
            if !out.contains(&r.id.as_str()) {
                out.push(r.id.as_str());
            }
        }
        out
    }

    /// Appends the credentials found in `text` to `out`: non-overlapping,
    /// in order of position, placeholders excluded. Overlapping candidates
    /// are merged into one span named after the most specific rule.
    pub fn find(&self, text: &str, out: &mut Vec<Finding>) {
        let mut cands: Vec<Cand> = Vec::new();
        self.candidates(text, &mut cands, true);
        merge(cands, &self.inner.rules, out);
    }

    /// A rule set holding only the rules whose id is in `ids` (to time or
    /// test rules one by one).
    pub fn subset(&self, ids: &[&str]) -> RuleSet {
        let mut rules = Vec::new();
        let mut kws = Vec::new();
        for (i, r) in self.inner.rules.iter().enumerate() {
            if ids.contains(&r.id.as_str()) {
                rules.push(r.clone_rule());
                kws.push(self.keywords_of(i));
            }
        }
        RuleSet::assemble(rules, kws)
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
        // covered[rule]: end of the last finding of that rule, to skip
        // hits inside it (on the stack for the usual number of rules).
        let mut stack = [0usize; 64];
        let mut heap = Vec::new();
        let covered: &mut [usize] = if inner.rules.len() <= stack.len() {
            &mut stack[..inner.rules.len()]
        } else {
            heap.resize(inner.rules.len(), 0);
            &mut heap
        };
        // The key-value rule's last (rule, name span): a second keyword
        // in the same name (`auth.session`) gives the same result.
        let mut last_kv = (usize::MAX, 0, 0);
        self.keyword_hits(text, |hs, k| {
            for &(ri, len) in &inner.by_keyword[k] {
                let rule = &inner.rules[ri];
                if hs < covered[ri] || !self.hit_passes(rule, bytes, hs, len) {
                    continue;
                }
                // The key-value rule here rather than in `run_rule`: its
                // name span is computed once, for the repeat check and the
                // rule.
                let found = if matches!(rule.check, Check::KeyValue) {
                    let (ns, ne) = kv_name_span(bytes, hs, hs + len);
                    if last_kv == (ri, ns, ne) {
                        continue;
                    }
                    last_kv = (ri, ns, ne);
                    key_value(text, ns, ne).map(|(s, e)| (s, e, None))
                } else {
                    self.run_rule(rule, text, hs, hs + len, decode_basic)
                };
                if let Some((s, e, id)) = found
                    && e > s
                    && self.accept(rule, &text[s..e])
                {
                    covered[ri] = e;
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
                    if let Some(sp) = caps.get_group(*group)
                        && sp.end > sp.start
                        && self.accept(rule, &text[sp.start..sp.end])
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

    fn accept(&self, rule: &Rule, secret: &str) -> bool {
        if rule.placeholders && is_placeholder(secret) {
            return false;
        }
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
        true
    }

    /// Runs one rule at a keyword hit; returns the secret span and, for a
    /// Basic payload hiding another credential, that credential's rule.
    fn run_rule(
        &self,
        rule: &Rule,
        text: &str,
        hs: usize,
        he: usize,
        decode_basic: bool,
    ) -> Option<(usize, usize, Option<RuleId>)> {
        match &rule.check {
            Check::Regex {
                re,
                anchored,
                back,
                fwd,
                group,
                line,
                pre,
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
                let (start, mode) = if *anchored {
                    (hs, Anchored::Yes)
                } else {
                    (ws, Anchored::No)
                };
                let input = Input::new(text).range(start..we).anchored(mode);
                let re = re.get();
                if *group == 0 {
                    let m = re.search(&input)?;
                    if !*anchored && m.end() <= hs {
                        return None;
                    }
                    Some((m.start(), m.end(), None))
                } else {
                    let mut caps = re.create_captures();
                    re.search_captures(&input, &mut caps);
                    let sp = caps.get_group(*group)?;
                    Some((sp.start, sp.end, None)).map(|(s, e, id)| trim_pem(text, s, e, id))
                }
            }
            Check::KeyValue => {
                let (ns, ne) = kv_name_span(text.as_bytes(), hs, he);
                key_value(text, ns, ne).map(|(s, e)| (s, e, None))
            }
            Check::UrlPassword => url_password(text, hs).map(|(s, e)| (s, e, None)),
            Check::Bearer => bearer(text, he).map(|(s, e)| (s, e, None)),
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
        if e - s < 4 {
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

impl Rule {
    fn clone_rule(&self) -> Rule {
        let check = match &self.check {
            Check::Regex {
                re,
                anchored,
                back,
                fwd,
                group,
                line,
                pre,
            } => Check::Regex {
                pre: *pre,
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

fn exact_case_match(hit: &[u8], rule: &Rule) -> bool {
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

/// The PEM body without the line breaks (real or `\n`-escaped) that frame it.
fn trim_pem(
    text: &str,
    mut s: usize,
    mut e: usize,
    id: Option<RuleId>,
) -> (usize, usize, Option<RuleId>) {
    let b = text.as_bytes();
    loop {
        if s < e && matches!(b[s], b'\r' | b'\n' | b' ' | b'\t') {
            s += 1;
        } else if s + 1 < e && b[s] == b'\\' && matches!(b[s + 1], b'n' | b'r') {
            s += 2;
        } else if s + 2 < e && b[s] == b'\\' && b[s + 1] == b'\\' && matches!(b[s + 2], b'n' | b'r')
        {
            s += 3;
        } else {
            break;
        }
    }
    loop {
        if e > s && matches!(b[e - 1], b'\r' | b'\n' | b' ' | b'\t') {
            e -= 1;
        } else if e >= s + 2 && b[e - 2] == b'\\' && matches!(b[e - 1], b'n' | b'r') {
            e -= 2;
            while e > s && b[e - 1] == b'\\' {
                e -= 1;
            }
        } else {
            break;
        }
    }
    (s, e, id)
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

/// Shannon entropy of `data` in bits per byte.
pub fn shannon_entropy(data: &[u8]) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in data {
        counts[b as usize] += 1;
    }
    let n = data.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// Whether `value` is a placeholder rather than a secret: `xxxx`, `****`,
/// `<your-key>`, `${VAR}`, `{{ .Values.x }}`, `[REDACTED]`, `$VAR`,
/// `%VAR%`, `your-token-here`, AWS's `...EXAMPLE` keys, `(empty)`.
pub fn is_placeholder(value: &str) -> bool {
    let v = value.trim();
    if v.is_empty() {
        return true;
    }
    let b = v.as_bytes();
    let first = b[0];
    let last = b[b.len() - 1];
    if (first == b'<' && last == b'>')
        || v.starts_with("${")
        || v.starts_with("{{")
        || v.starts_with("$(")
    {
        return true;
    }
    if first == b'['
        && last == b']'
        && b[1..b.len() - 1]
            .iter()
            .all(|c| c.is_ascii_alphabetic() || *c == b'_' || *c == b' ' || *c == b'-')
    {
        return true;
    }
    if first == b'('
        && last == b')'
        && b[1..b.len() - 1]
            .iter()
            .all(|c| c.is_ascii_alphabetic() || *c == b' ')
    {
        return true;
    }
    if first == b'$'
        && b.len() > 1
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        && (b[1].is_ascii_alphabetic() || b[1] == b'_')
    {
        return true;
    }
    if first == b'%' && last == b'%' && b.len() > 2 {
        return true;
    }
    if b.iter().all(|&c| c == b[0]) {
        return true;
    }
    if has(b, b"****", false)
        || has(b, b"....", false)
        || has(b, "…".as_bytes(), false)
        || has(b, b"EXAMPLE", false)
    {
        return true;
    }
    if has(b, b"xxxx", true) || has(b, b"redacted", true) || has(b, b"placeholder", true) {
        return true;
    }
    if (has(b, b"your-", true)
        || has(b, b"your_", true)
        || b.get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"your")))
        && ["key", "token", "secret", "password", "pass", "here", "api"]
            .iter()
            .any(|w| has(b, w.as_bytes(), true))
    {
        return true;
    }
    let ends = |w: &[u8]| b.len() >= w.len() && b[b.len() - w.len()..].eq_ignore_ascii_case(w);
    if ends(b"-here") || ends(b"_here") || has(b, b"-here-", true) || has(b, b"_here_", true) {
        return true;
    }
    // sk-... / sk_test_... with only punctuation after the prefix.
    false
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

/// Whether `hay` contains `needle` (ASCII case-insensitively when `fold`);
/// for the short values checked here a plain window scan beats a searcher.
fn has(hay: &[u8], needle: &[u8], fold: bool) -> bool {
    hay.len() >= needle.len()
        && hay.windows(needle.len()).any(|w| {
            if fold {
                w.eq_ignore_ascii_case(needle)
            } else {
                w == needle
            }
        })
}

fn is_value_word(v: &str) -> bool {
    const WORDS: &[&str] = &[
        "true",
        "false",
        "yes",
        "no",
        "null",
        "none",
        "nil",
        "undefined",
        "on",
        "off",
        "enabled",
        "disabled",
        "required",
        "optional",
        "set",
        "unset",
        "missing",
        "empty",
        "n/a",
    ];
    WORDS.iter().any(|w| v.eq_ignore_ascii_case(w))
}

/// Whether a key or field name is secret-named: its last name segment (or
/// last two) is a secret word. Segments split on `_`, `-`, `.`, spaces and
/// camelCase, so `db_password`, `x-api-key`, `AWS_SECRET_ACCESS_KEY`,
/// `authToken` are secret, while `max_tokens`, `token_count`,
/// `password_reset`, `key_id`, `public_key` and `api_version` are not.
pub fn is_secret_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let Some((s, e)) = last_segment(bytes, bytes.len()) else {
        return false;
    };
    // Compare lowercase copies on the stack (no word is longer than 16).
    let mut last = [0u8; 16];
    let Some(last) = fold_into(&bytes[s..e], &mut last) else {
        return false;
    };
    if is_secret_last(last) {
        return true;
    }
    // Only `...key` and `...string` need the segment before.
    if !matches!(last, b"key" | b"string") {
        return false;
    }
    let Some((ps, pe)) = last_segment(bytes, s) else {
        return false;
    };
    let mut prev = [0u8; 16];
    let Some(prev) = fold_into(&bytes[ps..pe], &mut prev) else {
        return false;
    };
    SECRET_PAIRS
        .iter()
        .any(|(a, b)| a.as_bytes() == prev && b.as_bytes() == last)
}

/// The last name segment of `bytes[..end]`, found from the end: a segment
/// boundary is a separator or a lowercase-to-uppercase step.
fn last_segment(bytes: &[u8], mut end: usize) -> Option<(usize, usize)> {
    let mut j = end;
    while j > 0 {
        j -= 1;
        let c = bytes[j];
        if matches!(
            c,
            b'_' | b'-' | b'.' | b' ' | b'/' | b':' | b'[' | b']' | b'"' | b'\''
        ) {
            if end > j + 1 {
                return Some((j + 1, end));
            }
            end = j;
        } else if c.is_ascii_uppercase() && j > 0 && bytes[j - 1].is_ascii_lowercase() {
            return Some((j, end));
        }
    }
    (end > 0).then_some((0, end))
}

/// Whether a lowercase segment is in [`SECRET_LAST`] (a `match`: the
/// compiler switches on the length first).
fn is_secret_last(w: &[u8]) -> bool {
    matches!(
        w,
        b"password"
            | b"passwd"
            | b"pwd"
            | b"passphrase"
            | b"secret"
            | b"token"
            | b"credential"
            | b"credentials"
            | b"auth"
            | b"authorization"
            | b"cookie"
            | b"session"
            | b"dsn"
            | b"apikey"
            | b"accesskey"
            | b"privatekey"
            | b"secretkey"
            | b"authtoken"
            | b"accesstoken"
            | b"refreshtoken"
            | b"idtoken"
            | b"clientsecret"
            | b"connectionstring"
            | b"connstr"
    )
}

/// `word` in ASCII lowercase in `buf`, or `None` when it does not fit.
fn fold_into<'b>(word: &[u8], buf: &'b mut [u8; 16]) -> Option<&'b [u8]> {
    let out = buf.get_mut(..word.len())?;
    for (d, s) in out.iter_mut().zip(word) {
        *d = s.to_ascii_lowercase();
    }
    Some(out)
}

/// Bytes of a key name: ASCII letters, digits, `_`, `-` and `.`.
const NAME_BYTES: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
        c += 1;
    }
    t
};

fn is_name_byte(b: u8) -> bool {
    NAME_BYTES[b as usize]
}

/// The key name around a keyword hit `hs..he`.
fn kv_name_span(b: &[u8], hs: usize, he: usize) -> (usize, usize) {
    let mut ns = hs;
    while ns > 0 && is_name_byte(b[ns - 1]) && hs - ns < 64 {
        ns -= 1;
    }
    let mut ne = he;
    while ne < b.len() && is_name_byte(b[ne]) && ne - he < 64 {
        ne += 1;
    }
    while ne > he && matches!(b[ne - 1], b'.' | b'-') {
        ne -= 1;
    }
    (ns, ne)
}

/// `name=value`, `name: value`, `"name": "value"`, `name => value`,
/// `--name value`, for the key name `text[ns..ne]` (around a keyword hit,
/// see [`kv_name_span`]): the result depends on the name span only.
fn key_value(text: &str, ns: usize, ne: usize) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let cli_flag = text[ns..ne].starts_with("--");
    let mut i = ne;
    // Closing quote of a quoted key (possibly JSON-escaped, once or more).
    let bs = b[i..].iter().take_while(|&&c| c == b'\\').count();
    if bs > 0 && b.get(i + bs) == Some(&b'"') {
        i += bs + 1;
    } else if i < b.len() && matches!(b[i], b'"' | b'\'' | b'`') {
        i += 1;
    } else if i < b.len() && b[i] == b']' {
        i += 1; // params[password]=...
    }
    let ws_before = skip_blanks(b, i);
    i += ws_before;
    let sep_len = if b[i..].starts_with(b"=>") || b[i..].starts_with(b":=") {
        2
    } else if i < b.len() && b[i] == b'=' {
        if b.get(i + 1) == Some(&b'=') {
            return None;
        }
        1
    } else if i < b.len() && b[i] == b':' {
        if b.get(i + 1) == Some(&b':') || b.get(i + 1) == Some(&b'/') {
            return None;
        }
        1
    } else if cli_flag && ws_before == 1 && i < b.len() && b[i] != b'-' {
        0
    } else {
        return None;
    };
    // Most keyword hits are not secret-named (`max_tokens=`) or have no
    // value (prose): the cheaper test, the separator, runs first.
    if !is_secret_name(&text[ns..ne]) {
        return None;
    }
    let is_eq = sep_len == 1 && b[i] == b'=';
    i += sep_len;
    let ws_after = skip_blanks(b, i);
    if is_eq && ws_before == 0 && ws_after > 0 {
        // `password= (empty)`: nothing assigned.
        return None;
    }
    i += ws_after;
    let header_cookie = !is_eq && ne - ns >= 6 && b[ne - 6..ne].eq_ignore_ascii_case(b"cookie");
    if !is_eq && !header_cookie {
        // The prose test below, early, for the common case of a plain word
        // (`auth.session: session refreshed`); an authorization scheme
        // word (`token: Bearer ...`) goes the long way.
        let word = b[i..]
            .iter()
            .take_while(|c| c.is_ascii_alphabetic())
            .count();
        if (1..20).contains(&word)
            && matches!(b.get(i + word), None | Some(b' ' | b'\t' | b'\n' | b'\r'))
            && !SCHEMES
                .iter()
                .any(|w| b[i..i + word].eq_ignore_ascii_case(w.as_bytes()))
        {
            return None;
        }
    }
    let (s, e) = value_span(text, i, header_cookie)?;
    // `auth: session started` (a log target, prose): after a colon, a bare
    // value must look like a credential, not a word.
    if !is_eq && s > 0 && !matches!(b[s - 1], b'"' | b'\'' | b'`') {
        let v = &b[s..e];
        if v.len() < 20 && v.iter().all(|c| c.is_ascii_alphabetic()) {
            return None;
        }
    }
    Some((s, e))
}

fn skip_blanks(b: &[u8], i: usize) -> usize {
    let mut j = i;
    while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
        j += 1;
    }
    j - i
}

/// The value starting at `i`: quoted, escaped-quoted or bare.
fn value_span(text: &str, i: usize, to_line_end: bool) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    if i >= b.len() {
        return None;
    }
    let limit = (i + 4096).min(b.len());
    let bs = b[i..limit].iter().take_while(|&&c| c == b'\\').count();
    let (s, e) = if bs > 0 && b.get(i + bs) == Some(&b'"') {
        // An escaped quote (`\"`, `\\\"`, ...): the value ends at the same
        // escaped quote.
        let s = i + bs + 1;
        let mut j = s;
        loop {
            match memchr::memchr(b'"', &b[j..limit]) {
                Some(p) => {
                    let q = j + p;
                    let run = b[s..q].iter().rev().take_while(|&&c| c == b'\\').count();
                    if run >= bs {
                        break (s, q - run);
                    }
                    j = q + 1;
                }
                None => return bare_value(text, s, limit, to_line_end),
            }
        }
    } else if matches!(b[i], b'"' | b'\'' | b'`') {
        let q = b[i];
        let s = i + 1;
        let mut j = s;
        while j < limit && b[j] != q && b[j] != b'\n' {
            if b[j] == b'\\' {
                j += 1;
            }
            j += 1;
        }
        let e = j.min(limit);
        if e >= limit || b.get(e) == Some(&b'\n') {
            // Unterminated: treat as bare from after the quote.
            return bare_value(text, s, limit, to_line_end);
        }
        (s, e)
    } else if matches!(b[i], b'{' | b'[') && !is_placeholder_start(&b[i..limit]) {
        return None;
    } else {
        return bare_value(text, i, limit, to_line_end);
    };
    finish_value(text, s, e)
}

fn is_placeholder_start(b: &[u8]) -> bool {
    b.starts_with(b"[REDACTED]") || b.starts_with(b"[redacted]")
}

fn bare_value(text: &str, s: usize, limit: usize, to_line_end: bool) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let mut j = s;
    while j < limit {
        let c = b[j];
        if c == b'\n' || c == b'\r' || c == b'"' {
            break;
        }
        if !to_line_end && (c == b' ' || c == b'\t') {
            break;
        }
        if c == b'\\' && matches!(b.get(j + 1), Some(b'"' | b'n' | b'r' | b't')) {
            break;
        }
        if matches!(c, b'&' | b';' | b',') && !to_line_end && next_is_assignment(&b[j + 1..limit]) {
            break;
        }
        j += 1;
    }
    let mut e = j;
    // Trailing punctuation belongs to the sentence, not the value.
    while e > s {
        let c = b[e - 1];
        let trim = match c {
            b'.' | b',' | b';' | b':' | b'!' | b'?' | b'\'' | b'`' => true,
            b')' => count(&b[s..e], b'(') < count(&b[s..e], b')'),
            b']' => count(&b[s..e], b'[') < count(&b[s..e], b']'),
            b'}' => count(&b[s..e], b'{') < count(&b[s..e], b'}'),
            b'>' => count(&b[s..e], b'<') < count(&b[s..e], b'>'),
            _ => false,
        };
        if trim {
            e -= 1;
        } else {
            break;
        }
    }
    finish_value(text, s, e)
}

fn count(b: &[u8], c: u8) -> usize {
    b.iter().filter(|&&x| x == c).count()
}

fn next_is_assignment(b: &[u8]) -> bool {
    let mut k = 0;
    while k < b.len()
        && k < 64
        && (b[k].is_ascii_alphanumeric() || matches!(b[k], b'_' | b'-' | b'.'))
    {
        k += 1;
    }
    k > 0 && k < b.len() && b[k] == b'=' && b[0].is_ascii_alphabetic() | (b[0] == b'_')
}

/// Strips an authorization scheme and rejects placeholders and plain words.
fn finish_value(text: &str, s: usize, e: usize) -> Option<(usize, usize)> {
    if e <= s {
        return None;
    }
    let mut s = s;
    let v = &text[s..e];
    // `Bearer <token>`: the secret is after the scheme.
    if let Some(sp) = v.find([' ', '\t']) {
        let scheme = &v[..sp];
        if SCHEMES.iter().any(|w| scheme.eq_ignore_ascii_case(w)) {
            let rest = v[sp..].trim_start_matches([' ', '\t']);
            s = e - rest.len();
        }
    } else if SCHEMES.iter().any(|w| v.eq_ignore_ascii_case(w)) {
        // Bare scheme word followed by the token.
        let b = text.as_bytes();
        let ws = skip_blanks(b, e);
        if ws == 0 {
            return None;
        }
        let limit = (e + ws + 4096).min(b.len());
        return bare_value(text, e + ws, limit, false).filter(|(ts, _)| *ts == e + ws);
    }
    let v = &text[s..e];
    if v.is_empty() || is_placeholder(v) || is_value_word(v) {
        return None;
    }
    Some((s, e))
}

/// `scheme://user:password@host`: the password.
fn url_password(text: &str, hs: usize) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    // A scheme before `://`.
    if hs == 0 || !(b[hs - 1].is_ascii_alphanumeric() || matches!(b[hs - 1], b'+' | b'.' | b'-')) {
        return None;
    }
    let auth_start = hs + 3;
    let limit = (auth_start + 1024).min(b.len());
    let mut j = auth_start;
    let mut at = None;
    while j < limit {
        let c = b[j];
        if matches!(
            c,
            b'/' | b' ' | b'\t' | b'\n' | b'\r' | b'"' | b'<' | b'>' | b'\\'
        ) {
            break;
        }
        if c == b'@' {
            at = Some(j);
        }
        j += 1;
    }
    let at = at?;
    let colon = memchr::memchr(b':', &b[auth_start..at])? + auth_start;
    let (s, e) = (colon + 1, at);
    if e <= s || is_placeholder(&text[s..e]) {
        return None;
    }
    Some((s, e))
}

/// `Bearer <token>`: the token.
fn bearer(text: &str, he: usize) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let ws = skip_blanks(b, he);
    if ws == 0 {
        return None;
    }
    let s = he + ws;
    let mut e = s;
    while e < b.len()
        && e - s < 4096
        && (b[e].is_ascii_alphanumeric()
            || matches!(b[e], b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'='))
    {
        e += 1;
    }
    while e > s && b[e - 1] == b'.' {
        e -= 1;
    }
    let tok = &b[s..e];
    if tok.len() < 8 {
        return None;
    }
    let symbolic = tok
        .iter()
        .any(|c| c.is_ascii_digit() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/'));
    if !symbolic && tok.len() < 20 {
        return None;
    }
    Some((s, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(text: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        RuleSet::builtin().find(text, &mut out);
        out.into_iter()
            .map(|f| {
                (
                    f.rule.as_str().to_string(),
                    text[f.start..f.end].to_string(),
                )
            })
            .collect()
    }

    fn secret(text: &str) -> Vec<String> {
        spans(text).into_iter().map(|(_, s)| s).collect()
    }

    #[test]
    fn every_builtin_regex_compiles_and_ids_are_listed() {
        let set = RuleSet::builtin();
        // Built-in regexes compile on first use: compile them all here.
        for rule in &set.inner.rules {
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
    fn secret_named_keys_mask_only_the_value() {
        assert_eq!(secret("user=bob password=hunter22 ip=1"), vec!["hunter22"]);
        assert_eq!(secret(r#"{"db_password": "p@ss w0rd"}"#), vec!["p@ss w0rd"]);
        assert_eq!(secret("X-Api-Key: 9a7c2654f69d"), vec!["9a7c2654f69d"]);
        assert_eq!(
            secret("AWS_SECRET_ACCESS_KEY='abc123def'"),
            vec!["abc123def"]
        );
        assert_eq!(secret("_authToken=abcdef123456"), vec!["abcdef123456"]);
        assert_eq!(secret("the password=hunter22."), vec!["hunter22"]);
        assert_eq!(secret("(password=hunter22)"), vec!["hunter22"]);
        assert_eq!(
            secret(r#"body={\"password\":\"s3cr3t!\"}"#),
            vec!["s3cr3t!"]
        );
        assert_eq!(secret("--password s3cr3tval"), vec!["s3cr3tval"]);
        assert_eq!(
            secret("Authorization: Token abcdef0123456789"),
            vec!["abcdef0123456789"]
        );
        assert_eq!(
            secret("auth=\"Bearer abc.def-123456\""),
            vec!["abc.def-123456"]
        );
    }

    #[test]
    fn non_secret_names_and_empty_values_are_left_alone() {
        for line in [
            "max_tokens=4096 token_count=12 password_reset=false key_id=abc public_key=xyz api_version=2024-06-01",
            "require_password=true",
            "password= (empty) for user",
            r#"{"password":""}"#,
            "password=${DB_PASSWORD} password={{ .Values.db.password }} password=******** api_key=<redacted>",
            "env: DB_PASSWORD: ${{ secrets.DB_PASSWORD }}",
            "Authorization: Bearer [REDACTED]",
            "session_id=abc123 token_type=bearer",
            "a == password",
        ] {
            assert!(spans(line).is_empty(), "{line:?} gave {:?}", spans(line));
        }
    }

    #[test]
    fn placeholders_and_lookalikes_are_not_findings() {
        for line in [
            "sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "sk_test_xxxxxxxxxxxxxxxxxxxxxxxx",
            "AKIAIOSFODNN7EXAMPLE",
            "glpat-xxxxxxxxxxxxxxxxxxxx",
            "SLACK_BOT_TOKEN=xoxb-your-token-here",
            "export OPENAI_API_KEY=<sk-your-key-here>",
            "pk-index-rebuild asterisk-pbx task-48213 pk_orders_id",
            "postgres://app_user:****@db.internal:5432/orders",
            "redis://default:${REDIS_PASSWORD}@cache-1:6379/0",
            "git@github.com:acme/app.git https://api.example.com/v1/users?page=2&limit=50",
            "using basic authentication and a bearer token",
            "-----BEGIN PUBLIC KEY-----\\nMOcCr/YHIU6XGMopztmQR6QlIDXD\\n-----END PUBLIC KEY-----",
        ] {
            assert!(spans(line).is_empty(), "{line:?} gave {:?}", spans(line));
        }
    }

    #[test]
    fn url_passwords_pem_bodies_and_jwts_are_found() {
        assert_eq!(
            secret("postgres://app:9lstafBh@db:5432/x"),
            vec!["9lstafBh"]
        );
        assert_eq!(secret("redis://:pa:ss@h"), vec!["pa:ss"]);
        let pem = "k -----BEGIN RSA PRIVATE KEY-----\\nABCDEF+/abc\\nGHIJ==\\n-----END RSA PRIVATE KEY----- done";
        assert_eq!(secret(pem), vec!["ABCDEF+/abc\\nGHIJ=="]);
        let jwt = "jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U)";
        assert_eq!(
            secret(jwt),
            vec![
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
            ]
        );
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
        rules.find("k acme_abcdef123456 x", &mut out);
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

    /// The forward definition of [`is_secret_name`]: split the whole name,
    /// compare the last two segments.
    fn secret_name_by_splitting(name: &str) -> bool {
        let mut segs: Vec<String> = Vec::new();
        let mut cur = String::new();
        let b = name.as_bytes();
        for (i, ch) in name.char_indices() {
            let c = b[i];
            if matches!(
                c,
                b'_' | b'-' | b'.' | b' ' | b'/' | b':' | b'[' | b']' | b'"' | b'\''
            ) {
                segs.push(std::mem::take(&mut cur));
            } else {
                if c.is_ascii_uppercase() && i > 0 && b[i - 1].is_ascii_lowercase() {
                    segs.push(std::mem::take(&mut cur));
                }
                cur.push(ch);
            }
        }
        segs.push(cur);
        segs.retain(|s| !s.is_empty());
        let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
        match lower.as_slice() {
            [] => false,
            [.., last] if SECRET_LAST.contains(&last.as_str()) => true,
            [.., prev, last] => SECRET_PAIRS.iter().any(|(a, b)| a == prev && b == last),
            _ => false,
        }
    }

    #[test]
    fn secret_name_check_from_the_end_agrees_with_splitting_the_whole_name() {
        let parts = [
            "api",
            "Key",
            "_",
            "-",
            ".",
            "password",
            "PASS",
            "word",
            "x",
            "token",
            "Token",
            "s",
            "session",
            "é",
            "::",
            "connection",
            "String",
            "auth",
            "A",
            "key",
            " ",
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut name = String::new();
            for _ in 0..(state % 5 + 1) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                name.push_str(parts[(state % parts.len() as u64) as usize]);
            }
            assert_eq!(
                is_secret_name(&name),
                secret_name_by_splitting(&name),
                "{name:?}"
            );
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

    #[test]
    fn the_secret_word_match_holds_exactly_the_listed_words() {
        for w in SECRET_LAST {
            assert!(is_secret_last(w.as_bytes()), "{w}");
        }
        let arms = include_str!("mod.rs")
            .split("fn is_secret_last")
            .nth(1)
            .unwrap()
            .split('}')
            .next()
            .unwrap()
            .matches("b\"")
            .count();
        assert_eq!(arms, SECRET_LAST.len());
    }

    #[test]
    fn secret_names_split_on_segments_and_camel_case() {
        for n in [
            "password",
            "db_password",
            "x-api-key",
            "AWS_SECRET_ACCESS_KEY",
            "authToken",
            "apiKey",
            "jdbc.password",
            "client_secret",
            "Set-Cookie",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in [
            "max_tokens",
            "token_count",
            "password_reset",
            "key_id",
            "public_key",
            "api_version",
            "key",
            "oauth",
            "author",
        ] {
            assert!(!is_secret_name(n), "{n}");
        }
    }
}
