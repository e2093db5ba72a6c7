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
//!
//! # Where things are
//!
//! - `rule.rs`: the rule types: [`RuleSpec`] (a user rule), [`Finding`],
//!   [`RuleId`], and the compiled rule with its check (regex or parser).
//! - `rule_set.rs`: [`RuleSet`]: building a set (built-in, user rules,
//!   subsets), running the rules at keyword hits, `Basic` payloads, merging
//!   overlapping candidates.
//! - `gitleaks.rs`: rules with gitleaks' semantics ([`GitleaksRule`],
//!   [`RuleSet::with_gitleaks_rules`]) and the sets resolved per file path
//!   ([`RuleSet::for_path`]); `allowlist.rs` their allowlists
//!   ([`AllowlistSpec`]); `go_regex.rs` Go (RE2) regex syntax in Rust
//!   syntax (ASCII `\w`, `\d`, `\s`, `\b`).
//! - `builtin/`: the built-in rules: `mod.rs` the rule definition and the
//!   parser rules' keywords, one file per field of vendor token formats
//!   (`ai.rs` with the `sk-` keys, `cloud.rs`, `code.rs`, `commerce.rs`,
//!   `messaging.rs`, `keys.rs` for PEM/JWT/age, `generic.rs` the catch-all
//!   `sk-`/`pk-` rule).
//! - `copies.rs`: the last pass of a search: every other occurrence of a
//!   secret found in the text is a finding too ([`MIN_COPY_LEN`]).
//! - `seen.rs`: [`DetectedSecrets`], the secrets found earlier in a
//!   stream, matched in its later text; `window_index.rs` its sampled
//!   index of 4-byte windows.
//! - `filter.rs`: the first pass, the keyword prefilter.
//! - `memo.rs`: what the earlier hits of a search proved (where the next
//!   PEM END line is, which windows hold no match), so close hits do not
//!   re-read their windows and a line costs time linear in its length.
//! - `values.rs`: the hand-written parsers: `key=value`, URL passwords,
//!   `Bearer` tokens, PEM bodies.
//! - `names.rs`: [`is_secret_name`], which key names are secret.
//! - `placeholder.rs`: [`is_placeholder`] and the value words that are not
//!   secrets.
//! - `entropy.rs`: [`shannon_entropy`].

mod allowlist;
#[cfg(test)]
mod breadth;
mod builtin;
mod copies;
mod entropy;
mod filter;
mod gitleaks;
mod go_regex;
mod memo;
mod names;
mod placeholder;
mod rule;
mod rule_set;
mod seen;
#[cfg(test)]
mod testing;
mod values;
mod window_index;

pub use allowlist::{AllowCondition, AllowlistSpec, RegexTarget};
pub use copies::MIN_COPY_LEN;
pub use entropy::shannon_entropy;
pub use gitleaks::GitleaksRule;
pub use names::is_secret_name;
pub use placeholder::is_placeholder;
pub(crate) use placeholder::is_value_word;
pub use rule::{Finding, RuleId, RuleSpec, USER_REGEX_SIZE_LIMIT};
pub use rule_set::RuleSet;
pub use seen::{
    DEFAULT_DETECTED_BYTES, DEFAULT_DETECTED_RETENTION, DEFAULT_DETECTED_VALUES, DetectedLimits,
    DetectedSecrets,
};
