//! Values that are not secrets even where a secret would be: placeholders
//! (`xxxx`, `<your-key>`, `${VAR}`, `[REDACTED]`, AWS's `...EXAMPLE`
//! keys) and plain value words (`true`, `none`, `n/a`).

use std::sync::OnceLock;

use aho_corasick::AhoCorasick;

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
    // Every word below, found in one pass (one search per word was most
    // of the cost of a line of many secrets).
    let found = words_in(b);
    let has = |word: usize| found & (1 << word) != 0;
    // The words without letters match the same with case folding or not.
    if has(STARS) || has(DOTS) || has(ELLIPSIS) || (has(EXAMPLE) && self::has(b, b"EXAMPLE", false))
    {
        return true;
    }
    if has(XXXX) || has(REDACTED) || has(PLACEHOLDER) {
        return true;
    }
    if (has(YOUR_DASH)
        || has(YOUR_UNDERSCORE)
        || b.get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"your")))
        && [KEY, TOKEN, SECRET, PASSWORD, PASS, HERE, API]
            .into_iter()
            .any(has)
    {
        return true;
    }
    let ends = |w: &[u8]| b.len() >= w.len() && b[b.len() - w.len()..].eq_ignore_ascii_case(w);
    if ends(b"-here") || ends(b"_here") || has(DASH_HERE_DASH) || has(UNDERSCORE_HERE_UNDERSCORE) {
        return true;
    }
    // sk-... / sk_test_... with only punctuation after the prefix.
    false
}

/// The words that `is_placeholder` looks for inside a value, by index.
const WORDS: [&str; 18] = [
    "****",
    "....",
    "…",
    "EXAMPLE",
    "xxxx",
    "redacted",
    "placeholder",
    "your-",
    "your_",
    "key",
    "token",
    "secret",
    "password",
    "pass",
    "here",
    "api",
    "-here-",
    "_here_",
];
const STARS: usize = 0;
const DOTS: usize = 1;
const ELLIPSIS: usize = 2;
const EXAMPLE: usize = 3;
const XXXX: usize = 4;
const REDACTED: usize = 5;
const PLACEHOLDER: usize = 6;
const YOUR_DASH: usize = 7;
const YOUR_UNDERSCORE: usize = 8;
const KEY: usize = 9;
const TOKEN: usize = 10;
const SECRET: usize = 11;
const PASSWORD: usize = 12;
const PASS: usize = 13;
const HERE: usize = 14;
const API: usize = 15;
const DASH_HERE_DASH: usize = 16;
const UNDERSCORE_HERE_UNDERSCORE: usize = 17;

/// Bit `i` set when `WORDS[i]` occurs in `value`, ASCII case-insensitively.
fn words_in(value: &[u8]) -> u32 {
    static MATCHER: OnceLock<AhoCorasick> = OnceLock::new();
    let ac = MATCHER.get_or_init(|| {
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(WORDS)
            .expect("the placeholder words build a matcher")
    });
    ac.find_overlapping_iter(value)
        .fold(0, |found, m| found | 1 << m.pattern().as_usize())
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
    use super::{WORDS, has, words_in};
    use crate::detect::testing::spans;

    /// The window scan `has` replaced.
    fn window_has(hay: &[u8], needle: &[u8], fold: bool) -> bool {
        hay.len() >= needle.len()
            && hay.windows(needle.len()).any(|w| {
                if fold {
                    w.eq_ignore_ascii_case(needle)
                } else {
                    w == needle
                }
            })
    }

    /// `is_placeholder` as it was, one search per word.
    fn reference(value: &str) -> bool {
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
        if window_has(b, b"****", false)
            || window_has(b, b"....", false)
            || window_has(b, "…".as_bytes(), false)
            || window_has(b, b"EXAMPLE", false)
        {
            return true;
        }
        if window_has(b, b"xxxx", true)
            || window_has(b, b"redacted", true)
            || window_has(b, b"placeholder", true)
        {
            return true;
        }
        if (window_has(b, b"your-", true)
            || window_has(b, b"your_", true)
            || b.get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"your")))
            && ["key", "token", "secret", "password", "pass", "here", "api"]
                .iter()
                .any(|w| window_has(b, w.as_bytes(), true))
        {
            return true;
        }
        let ends = |w: &[u8]| b.len() >= w.len() && b[b.len() - w.len()..].eq_ignore_ascii_case(w);
        if ends(b"-here")
            || ends(b"_here")
            || window_has(b, b"-here-", true)
            || window_has(b, b"_here_", true)
        {
            return true;
        }
        // sk-... / sk_test_... with only punctuation after the prefix.
        false
    }

    #[test]
    fn placeholders_are_what_they_were_with_one_search_per_word() {
        let parts = [
            "your", "YOUR-", "_", "-", "key", "Token", "secret", "pass", "word", "here", "api",
            "x", "X", "*", "*", ".", "…", "EXAMPLE", "example", "red", "acted", "place", "holder",
            "a1", "Zq9", "<", ">", "$", "{", "(", ")", "[", "]", "%", " ",
        ];
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            let mut v = String::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let n = 1 + (state % 7) as usize;
            for k in 0..n {
                v.push_str(parts[((state >> (8 * k)) % parts.len() as u64) as usize]);
            }
            assert_eq!(super::is_placeholder(&v), reference(&v), "{v:?}");
        }
        for word in WORDS {
            for hay in [
                format!("a{word}b"),
                word.to_uppercase(),
                format!("{word}{word}"),
            ] {
                let i = WORDS.iter().position(|w| *w == word).unwrap();
                assert!(words_in(hay.as_bytes()) & (1 << i) != 0, "{word} in {hay}");
            }
        }
    }

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
