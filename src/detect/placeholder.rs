//! Values that are not secrets even where a secret would be: placeholders
//! (`xxxx`, `<your-key>`, `${VAR}`, `[REDACTED]`, AWS's `...EXAMPLE`
//! keys) and plain value words (`true`, `none`, `n/a`).

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
    // Which bytes the value holds: a word with a byte it lacks cannot be in
    // it, which rules out most of the searches below at once (they were
    // most of the cost of a line of many short secrets).
    let bytes = ByteSet::of(b);
    let has = |needle: &[u8], fold: bool| bytes.may_hold(needle) && has(b, needle, fold);
    if has(b"****", false)
        || has(b"....", false)
        || has("…".as_bytes(), false)
        || has(b"EXAMPLE", false)
    {
        return true;
    }
    if has(b"xxxx", true) || has(b"redacted", true) || has(b"placeholder", true) {
        return true;
    }
    if (has(b"your-", true)
        || has(b"your_", true)
        || b.get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"your")))
        && ["key", "token", "secret", "password", "pass", "here", "api"]
            .iter()
            .any(|w| has(w.as_bytes(), true))
    {
        return true;
    }
    let ends = |w: &[u8]| b.len() >= w.len() && b[b.len() - w.len()..].eq_ignore_ascii_case(w);
    if ends(b"-here") || ends(b"_here") || has(b"-here-", true) || has(b"_here_", true) {
        return true;
    }
    // sk-... / sk_test_... with only punctuation after the prefix.
    false
}

/// The byte values that occur in a text, ASCII letters lowercased.
struct ByteSet([u64; 4]);

impl ByteSet {
    fn of(text: &[u8]) -> ByteSet {
        let mut set = [0u64; 4];
        for &c in text {
            let c = c.to_ascii_lowercase();
            set[usize::from(c >> 6)] |= 1 << (c & 63);
        }
        ByteSet(set)
    }

    /// Whether every byte of `needle` occurs, ASCII case-insensitively: if
    /// not, the text cannot hold it, with or without case folding.
    fn may_hold(&self, needle: &[u8]) -> bool {
        needle.iter().all(|&c| {
            let c = c.to_ascii_lowercase();
            self.0[usize::from(c >> 6)] & (1 << (c & 63)) != 0
        })
    }
}

/// Whether `v` is a word that a setting holds instead of a secret
/// (`true`, `none`, `required`, `n/a`, ...): the value of a secret-named
/// key that is one of these is not masked.
pub(crate) fn is_value_word(v: &str) -> bool {
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

/// Whether `hay` contains `needle` (ASCII case-insensitively when `fold`).
/// For the short values checked here a searcher costs more to build than
/// it saves; the first byte is looked for (in either case), and only where
/// it occurs is the rest compared: comparing every window was most of the
/// cost of a line of many short secrets.
pub(super) fn has(hay: &[u8], needle: &[u8], fold: bool) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    if hay.len() < needle.len() {
        return false;
    }
    let (a, b) = if fold {
        (first.to_ascii_lowercase(), first.to_ascii_uppercase())
    } else {
        (first, first)
    };
    // Windows may start up to `last`.
    let last = hay.len() - needle.len();
    let mut from = 0;
    let next = |starts: &[u8]| {
        // A plain loop beats the call into memchr on the short values
        // that most checks see.
        if starts.len() < 32 {
            starts.iter().position(|&c| c == a || c == b)
        } else {
            memchr::memchr2(a, b, starts)
        }
    };
    while let Some(p) = next(&hay[from..=last]) {
        let at = from + p;
        let tail = &hay[at + 1..at + needle.len()];
        if (fold && tail.eq_ignore_ascii_case(rest)) || (!fold && tail == rest) {
            return true;
        }
        from = at + 1;
        if from > last {
            break;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::{ByteSet, has};
    use crate::detect::testing::spans;

    #[test]
    fn has_finds_a_needle_anywhere_in_either_case_as_a_window_scan_does() {
        let hays: [&[u8]; 7] = [
            b"",
            b"x",
            b"your-key-here",
            b"aXxXxb",
            b"sk-REDACTED-1",
            b"xxx",
            "a\u{2026}b****".as_bytes(),
        ];
        let needles: [&[u8]; 7] = [
            b"x",
            b"xxxx",
            b"your-",
            b"redacted",
            b"****",
            b"key",
            "\u{2026}".as_bytes(),
        ];
        for hay in hays {
            for needle in needles {
                for fold in [false, true] {
                    let want = hay.len() >= needle.len()
                        && hay.windows(needle.len()).any(|w| {
                            if fold {
                                w.eq_ignore_ascii_case(needle)
                            } else {
                                w == needle
                            }
                        });
                    assert_eq!(has(hay, needle, fold), want, "{hay:?} {needle:?} {fold}");
                    // The byte set never rules out what is there.
                    assert!(!want || ByteSet::of(hay).may_hold(needle));
                }
            }
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
}
