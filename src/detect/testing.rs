//! Helpers shared by the unit tests of the detection modules.

use super::RuleSet;

/// The rule and the text of each finding of the built-in rules in `text`.
pub(super) fn spans(text: &str) -> Vec<(String, String)> {
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

/// The text of each finding of the built-in rules in `text`.
pub(super) fn secret(text: &str) -> Vec<String> {
    spans(text).into_iter().map(|(_, s)| s).collect()
}
