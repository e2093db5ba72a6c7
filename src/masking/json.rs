//! Masking inside one JSON line without breaking it: each string literal is
//! decoded, redacted and re-encoded; values under secret-named keys are
//! masked whole.

use std::borrow::Cow;

use crate::detect::{is_placeholder, is_secret_name, is_value_word};
use crate::masking::redactor::Redactor;

/// The rewritten line, or `None` when nothing needs masking. A line that is
/// not well-formed JSON is still handled literal by literal.
pub(crate) fn redact_json(redactor: &Redactor, line: &str) -> Option<String> {
    // Fast path: a line without escapes, with no known value and no rule
    // keyword, has nothing to mask inside any string either. (Escapes are
    // decoded first: a value escaped more often than its registered forms
    // would otherwise be missed.)
    if memchr::memchr(b'\\', line.as_bytes()).is_none() && !redactor.may_match(line) {
        return None;
    }
    let b = line.as_bytes();
    let mut out = String::with_capacity(line.len() + 16);
    let mut copied = 0;
    let mut changed = false;
    let mut i = 0;
    // Whether the value about to come belongs to a secret-named key.
    let mut secret_key = false;
    while i < b.len() {
        match b[i] {
            b'"' => {
                let Some(end) = string_end(b, i) else { break };
                let lit = &line[i..=end];
                let content: Cow<'_, str> = if lit.contains('\\') {
                    match serde_json::from_str::<String>(lit) {
                        Ok(s) => Cow::Owned(s),
                        Err(_) => Cow::Borrowed(&line[i + 1..end]),
                    }
                } else {
                    Cow::Borrowed(&line[i + 1..end])
                };
                let is_key = next_non_ws(b, end + 1) == Some(b':');
                let replacement = if is_key {
                    let r = redactor.redact(&content).into_owned();
                    let new = (r != *content).then_some(r);
                    secret_key = is_secret_name(&content);
                    new
                } else if secret_key
                    && !content.is_empty()
                    && !is_placeholder(&content)
                    && !is_value_word(&content)
                {
                    secret_key = false;
                    redactor.remember_secret(&content);
                    Some(redactor.mask().to_owned())
                } else {
                    secret_key = false;
                    match redactor.redact(&content) {
                        Cow::Borrowed(_) => None,
                        Cow::Owned(s) => Some(s),
                    }
                };
                if let Some(new) = replacement {
                    out.push_str(&line[copied..i]);
                    out.push_str(
                        &serde_json::to_string(&new).unwrap_or_else(|_| "\"\"".to_owned()),
                    );
                    copied = end + 1;
                    changed = true;
                }
                i = end + 1;
            }
            b'-' | b'0'..=b'9' if secret_key => {
                let s = i;
                while i < b.len() && matches!(b[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                out.push_str(&line[copied..s]);
                out.push_str(&serde_json::to_string(redactor.mask()).unwrap_or_default());
                copied = i;
                changed = true;
                secret_key = false;
            }
            b',' | b'{' | b'[' | b'}' | b']' => {
                if b[i] != b'{' && b[i] != b'[' {
                    secret_key = false;
                } else {
                    // A secret-named key holding an object or array: its
                    // own keys and strings are checked one by one.
                    secret_key = false;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    if !changed {
        // The rules matched only across literals (or outside them): mask
        // the raw spans, keeping the mask free of JSON syntax.
        return match redactor.redact(line) {
            Cow::Owned(s) => Some(s),
            Cow::Borrowed(_) => None,
        };
    }
    out.push_str(&line[copied..]);
    Some(out)
}

/// Index of the closing quote of the string literal opening at `start`.
fn string_end(b: &[u8], start: usize) -> Option<usize> {
    let mut j = start + 1;
    while j < b.len() {
        j += memchr::memchr2(b'"', b'\\', &b[j..])?;
        if b[j] == b'"' {
            return Some(j);
        }
        j += 2;
    }
    None
}

fn next_non_ws(b: &[u8], mut i: usize) -> Option<u8> {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    b.get(i).copied()
}

/// The part of a tracing-subscriber JSON event line that holds the event's
/// own text: from its `"fields"` key up to the `"span"`/`"spans"` keys (the
/// span objects hold span fields that were masked when the span was
/// created) or the end of the line. The whole line (less the newline) when
/// the line does not have that shape.
///
/// The byte sequences `,"span":{` and `,"spans":[` cannot occur inside a
/// string literal (its quotes are escaped there), and event and span field
/// values are scalars, so their first occurrence after the fields is the
/// top-level key.
pub(crate) fn event_region(line: &str) -> std::ops::Range<usize> {
    use memchr::memmem::Finder;
    use std::sync::LazyLock;
    static FIELDS: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"fields\":{"));
    static SPAN: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b",\"span"));
    let end = line.trim_end_matches(['\n', '\r']).len();
    let b = &line.as_bytes()[..end];
    let Some(start) = FIELDS.find(b) else {
        return 0..end;
    };
    let mut from = start;
    while let Some(k) = SPAN.find(&b[from..]) {
        let at = from + k;
        let rest = &b[at + 6..];
        if rest.starts_with(b"\":{") || rest.starts_with(b"s\":[") {
            return start..at;
        }
        from = at + 1;
    }
    start..end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_region_stops_at_the_span_keys() {
        let line = r#"{"timestamp":"t","level":"INFO","fields":{"message":"a \",\"span\":{x}","span":"s","n":1},"target":"app","span":{"p":"x","name":"s"},"spans":[{"p":"x","name":"s"}]}"#;
        let r = event_region(&format!("{line}\n"));
        assert_eq!(
            &line[r],
            r#""fields":{"message":"a \",\"span\":{x}","span":"s","n":1},"target":"app""#
        );
        let no_span = r#"{"timestamp":"t","level":"INFO","fields":{"message":"m"},"target":"app"}"#;
        assert_eq!(
            &no_span[event_region(no_span)],
            r#""fields":{"message":"m"},"target":"app"}"#
        );
        assert_eq!(event_region("not json\n"), 0..8);
    }
}
