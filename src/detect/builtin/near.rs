//! Regex pieces for rules whose secret has no prefix of its own (a UUID,
//! 32 hex digits, 40 letters and digits) and is found only near a vendor
//! word: the setting `POSTMARK_SERVER_TOKEN=...`, the header
//! `X-Algolia-API-Key: ...`, the nested `"zendesk": {"token": "..."}`.
//! And the test that every family file runs on its rules: lines of their
//! keywords repeated cost work linear in their length.

/// The regex of a setting whose name starts with the vendor word `$kw`
/// and holds `token`, `key` or `secret`, set to `$value` (group 1), which
/// `$end` follows. The name may be one object deep (`"postmark":
/// {"serverToken": ...}`, `algolia: {appId: 'X', apiKey: ...}`,
/// `postmark:\n  api_key: ...`, also with the
/// newline escaped as in a JSON log line). Every repetition
/// is bounded, so the memo can skip windows already searched (see
/// `memo.rs`).
macro_rules! named {
    ($kw:literal, $value:literal, $end:literal) => {
        concat!(
            "(?i)",
            $kw,
            r#"(?:[\w.\-]{0,24}?(?:\\*["'])?[ \t]{0,4}:(?:\s|\\[nrt]){0,16}(?:\{(?:[^{}\r\n]{0,80}?,)?\s{0,16})?(?:\\*["'])?)?"#,
            r#"[\w.\-]{0,24}?(?:token|key|secret)[\w.\-]{0,12}"#,
            r#"(?:\\*["'])?[ \t]{0,4}(?::|=>|:=|=)[ \t]{0,4}(?:\\*["'])?("#,
            $value,
            ")",
            $end
        )
    };
}

/// The `needs` of a [`named!`] rule: the end of the name, the separator
/// and the value. A line of the vendor word repeated lacks it.
macro_rules! named_needs {
    ($value:literal) => {
        concat!(
            r#"(?i)(?:token|key|secret)[\w.\-]{0,12}(?:\\*["'])?[ \t]{0,4}(?::|=>|:=|=)[ \t]{0,4}(?:\\*["'])?"#,
            $value
        )
    };
}

pub(super) use {named, named_needs};

#[cfg(test)]
pub(super) mod testing {
    use super::super::Def;
    use crate::detect::testing::{take_work, without_shortcuts};
    use crate::detect::{Finding, RuleSet};

    const ALNUM: &str = "q7Ve2LmK9xTz0RbWc4NpHs8JdYf3UaGk6iEo1Xw5";
    const HEX: &str = "3f9a0c7e51b2d846e0a9c3f7152b8d4e6a0f3c9e";

    fn find(rules: &RuleSet, text: &str) -> Vec<Finding> {
        let mut out = Vec::new();
        rules.find(text, &mut out);
        out
    }

    /// Lines of each keyword of `defs` repeated (bare, with a separator,
    /// with a value that almost fits), and of each of `units` repeated:
    /// twice the line costs at most about twice the work, a few bytes read
    /// per byte, and the memo changes no finding. As
    /// `dense_lines_cost_work_linear_in_their_length` in `memo.rs`, for the
    /// rules of one family file only (`a_line_of_any_builtin_keyword_...`
    /// there runs every keyword against the whole set).
    pub(in crate::detect::builtin) fn assert_dense_lines_linear(defs: &[Def], units: &[&str]) {
        let mut ids: Vec<&str> = defs.iter().map(|d| d.id).collect();
        ids.dedup();
        let rules = RuleSet::builtin().subset(&ids);
        let widest = defs
            .iter()
            .map(|d| d.back.unwrap_or(0) + d.fwd + 64)
            .max()
            .unwrap_or(0) as u64;
        // Each keyword once, and two of a series (`SK0`, `SK1`, ...).
        let mut keywords: Vec<String> = Vec::new();
        for kw in defs.iter().flat_map(|d| d.keywords.iter()) {
            let kw = kw.to_ascii_lowercase();
            let series = keywords
                .iter()
                .filter(|k| k.len() == 3 && kw.len() == 3 && k[..2] == kw[..2])
                .count();
            if !keywords.contains(&kw) && series < 2 {
                keywords.push(kw);
            }
        }
        let mut all: Vec<String> = Vec::new();
        {
            for kw in &keywords {
                for tail in [
                    String::new(),
                    " ".into(),
                    "=".into(),
                    format!("=\"{}", &HEX[..31]),
                    format!("_token: {}", &ALNUM[..39]),
                    ALNUM.into(),
                    format!(".{}", &ALNUM[..30]),
                    format!("-{}", &HEX[..32]),
                    format!(" 12345678:{}", &ALNUM[..34]),
                ] {
                    all.push(format!("{kw}{tail}"));
                }
                // Assigned in upper case, and after a run of token bytes
                // (rules that look back from their keyword).
                all.push(format!("{}=", kw.to_ascii_uppercase()));
                all.push(format!("a1b+2c/3-_{kw}"));
            }
        }
        all.extend(units.iter().map(|u| u.to_string()));
        for unit in &all {
            let n = 8_000 / unit.len().max(1);
            let texts = [unit.repeat(n), unit.repeat(2 * n)];
            let mut w = [0u64; 2];
            for (i, t) in texts.iter().enumerate() {
                take_work();
                let with = find(&rules, t);
                w[i] = take_work();
                if i == 0 {
                    assert_eq!(with, without_shortcuts(|| find(&rules, t)), "{unit:?}");
                }
            }
            // Plus a constant: what the hits near the end of the longer
            // text read past where the shorter one ends.
            assert!(w[1] <= 2 * w[0] + 2 * widest + 4096, "{unit:?}: work {w:?}");
            let per_byte = w[1] as f64 / texts[1].len() as f64;
            assert!(
                per_byte <= 16.0,
                "{unit:?}: {per_byte:.1} bytes read per byte"
            );
        }
    }

    /// Each `(rule, secret, lines)`: every line (with `{}` the secret) gives
    /// exactly that finding; each negative line gives none.
    pub(in crate::detect::builtin) fn assert_cases(
        positives: &[(&str, &str, &[&str])],
        negatives: &[&str],
    ) {
        use crate::detect::testing::spans;
        for (rule, secret, lines) in positives {
            for line in *lines {
                let text = line.replace("{}", secret);
                assert_eq!(
                    spans(&text),
                    vec![(rule.to_string(), secret.to_string())],
                    "in {text:?}"
                );
            }
        }
        for text in negatives {
            assert_eq!(spans(text), vec![], "in {text:?}");
        }
    }
}
