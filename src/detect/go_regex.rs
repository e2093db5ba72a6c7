//! Go (RE2) regex syntax, as gitleaks rules are written, turned into the
//! Rust `regex` syntax with the same meaning.
//!
//! Most of the two syntaxes agree. Where they differ:
//!
//! - `\w`, `\d`, `\s`, `\b` (and `\W`, `\D`, `\S`, `\B`) are ASCII in Go,
//!   Unicode in Rust: they become `[0-9A-Za-z_]`, `[0-9]`, `[\t\n\f\r ]`
//!   and `(?-u:\b)`. This is also what keeps a pattern such as
//!   `[\w.-]{0,50}` small (the Unicode `\w` is hundreds of ranges).
//! - Inside a class Rust reads `&&`, `--` and `~~` as set operations and
//!   `[` as a nested class; Go reads them as characters: every character
//!   of a Go class is written out unambiguously.
//! - `\<` and `\>` are `<` and `>` in Go, word boundaries in Rust.
//! - A `{` that does not start a repetition (`{n}`, `{n,}`, `{n,m}`) is a
//!   literal in Go, an error in Rust.
//! - `\Q...\E` quotes a literal in Go only.
//! - Octal escapes (`\0`, `\123`) exist in Go only.
//!
//! What Go refuses is refused here too when Rust would accept it with
//! another meaning; the rest (a bad escape, an unclosed group) is left to
//! the Rust parser, whose error then names the rule.

use std::fmt::Write as _;

/// Go's `\s`: tab, newline, form feed, carriage return, space.
const SPACE: &str = r"\t\n\x0C\r\x20";

/// The Rust pattern with the meaning of the Go pattern `go`, or what in it
/// has no Rust equivalent.
pub(crate) fn translate(go: &str) -> Result<String, String> {
    let mut out = String::with_capacity(go.len() + 16);
    let mut it = Cursor { s: go, i: 0 };
    while let Some(c) = it.next() {
        match c {
            '\\' => escape_outside(&mut it, &mut out)?,
            '[' => class(&mut it, &mut out)?,
            '{' => {
                if repetition_follows(&go[it.i..]) {
                    let end = go[it.i..].find('}').map_or(go.len(), |p| it.i + p + 1);
                    out.push('{');
                    out.push_str(&go[it.i..end]);
                    it.i = end;
                } else {
                    out.push_str(r"\{");
                }
            }
            '}' => out.push_str(r"\}"),
            c => out.push(c),
        }
    }
    Ok(out)
}

struct Cursor<'a> {
    s: &'a str,
    i: usize,
}

impl Cursor<'_> {
    fn next(&mut self) -> Option<char> {
        let c = self.s[self.i..].chars().next()?;
        self.i += c.len_utf8();
        Some(c)
    }

    fn peek(&self) -> Option<char> {
        self.s[self.i..].chars().next()
    }

    fn rest(&self) -> &str {
        &self.s[self.i..]
    }
}

/// Whether `rest` (just after a `{`) is `n}`, `n,}` or `n,m}`.
fn repetition_follows(rest: &str) -> bool {
    let b = rest.as_bytes();
    let digits = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let n = digits(0);
    if n == 0 {
        return false;
    }
    match b.get(n) {
        Some(b'}') => true,
        Some(b',') => {
            let m = digits(n + 1);
            b.get(n + 1 + m) == Some(&b'}')
        }
        _ => false,
    }
}

/// An escape outside a class (the `\` is read).
fn escape_outside(it: &mut Cursor<'_>, out: &mut String) -> Result<(), String> {
    let Some(c) = it.next() else {
        return Err("trailing backslash".into());
    };
    match c {
        'w' => out.push_str("[0-9A-Za-z_]"),
        'W' => out.push_str("[^0-9A-Za-z_]"),
        'd' => out.push_str("[0-9]"),
        'D' => out.push_str("[^0-9]"),
        's' => {
            let _ = write!(out, "[{SPACE}]");
        }
        'S' => {
            let _ = write!(out, "[^{SPACE}]");
        }
        'b' => out.push_str(r"(?-u:\b)"),
        'B' => out.push_str(r"(?-u:\B)"),
        'Q' => {
            let rest = it.rest();
            let (lit, skip) = match rest.find(r"\E") {
                Some(p) => (&rest[..p], p + 2),
                None => (rest, rest.len()),
            };
            out.push_str(&regex_syntax_escape(lit));
            it.i += skip;
        }
        'C' => return Err(r"\C (any byte) is not supported".into()),
        '0'..='7' => out.push_str(&octal(c, it)?),
        '<' | '>' => out.push(c),
        'p' | 'P' | 'x' => {
            out.push('\\');
            out.push(c);
            copy_braced(it, out);
        }
        c => {
            out.push('\\');
            out.push(c);
        }
    }
    Ok(())
}

/// After `\p`, `\P` or `\x`: a `{...}` argument is copied as it is (a
/// one-letter or two-digit one is copied by the main loop).
fn copy_braced(it: &mut Cursor<'_>, out: &mut String) {
    if it.peek() == Some('{')
        && let Some(end) = it.rest().find('}')
    {
        out.push_str(&it.rest()[..=end]);
        it.i += end + 1;
    }
}

/// Go's octal escape: `\0` and up to two more octal digits, or `\1`-`\7`
/// followed by an octal digit (a lone `\1` is a backreference, which Go
/// refuses).
fn octal(first: char, it: &mut Cursor<'_>) -> Result<String, String> {
    let mut v = first.to_digit(8).unwrap_or(0);
    let mut n = 1;
    while n < 3 {
        match it.peek().and_then(|c| c.to_digit(8)) {
            Some(d) => {
                v = v * 8 + d;
                it.next();
                n += 1;
            }
            None => break,
        }
    }
    if first != '0' && n == 1 {
        return Err(format!(
            r"\{first} is a backreference, which neither Go nor Rust supports"
        ));
    }
    Ok(format!(r"\x{{{v:X}}}"))
}

/// A character class (the `[` is read), written with every member spelled
/// out so that Rust's class operators cannot apply.
fn class(it: &mut Cursor<'_>, out: &mut String) -> Result<(), String> {
    out.push('[');
    if it.peek() == Some('^') {
        it.next();
        out.push('^');
    }
    let mut first = true;
    loop {
        let Some(c) = it.peek() else {
            return Err("missing closing ] of a character class".into());
        };
        if c == ']' && !first {
            it.next();
            out.push(']');
            return Ok(());
        }
        first = false;
        if c == '[' && it.rest().starts_with("[:") {
            let Some(end) = it.rest().find(":]") else {
                return Err("unclosed [: in a character class".into());
            };
            out.push_str(&it.rest()[..end + 2]);
            it.i += end + 2;
            continue;
        }
        let lo = class_atom(it)?;
        // `a-z` is a range unless the `-` is the last character.
        if let ClassAtom::Char(lo) = lo {
            if it.rest().starts_with('-') && !it.rest().starts_with("-]") {
                it.next();
                match class_atom(it)? {
                    ClassAtom::Char(hi) => {
                        if hi < lo {
                            return Err("a character class range is out of order".into());
                        }
                        push_class_char(out, lo);
                        out.push('-');
                        push_class_char(out, hi);
                    }
                    ClassAtom::Set(_) => {
                        return Err("a character class range ends in a class".into());
                    }
                }
            } else {
                push_class_char(out, lo);
            }
        } else if let ClassAtom::Set(s) = lo {
            out.push_str(&s);
        }
    }
}

enum ClassAtom {
    Char(char),
    /// Rust text for a set inside a class.
    Set(String),
}

fn class_atom(it: &mut Cursor<'_>) -> Result<ClassAtom, String> {
    let Some(c) = it.next() else {
        return Err("missing closing ] of a character class".into());
    };
    if c != '\\' {
        return Ok(ClassAtom::Char(c));
    }
    let Some(e) = it.next() else {
        return Err("trailing backslash".into());
    };
    Ok(match e {
        'w' => ClassAtom::Set("0-9A-Za-z_".into()),
        'W' => ClassAtom::Set("[^0-9A-Za-z_]".into()),
        'd' => ClassAtom::Set("0-9".into()),
        'D' => ClassAtom::Set("[^0-9]".into()),
        's' => ClassAtom::Set(SPACE.into()),
        'S' => ClassAtom::Set(format!("[^{SPACE}]")),
        'p' | 'P' => {
            let mut s = format!("\\{e}");
            copy_braced(it, &mut s);
            if !s.ends_with('}') {
                match it.next() {
                    Some(l) => s.push(l),
                    None => return Err("trailing \\p".into()),
                }
            }
            ClassAtom::Set(s)
        }
        'x' => {
            let digits: String = if it.peek() == Some('{') {
                let Some(end) = it.rest().find('}') else {
                    return Err(r"unclosed \x{".into());
                };
                let d = it.rest()[1..end].to_owned();
                it.i += end + 1;
                d
            } else {
                let d: String = it.rest().chars().take(2).collect();
                it.i += d.len();
                d
            };
            let v = u32::from_str_radix(&digits, 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| r"invalid \x escape".to_string())?;
            ClassAtom::Char(v)
        }
        '0'..='7' => {
            let hex = octal(e, it)?;
            let v = u32::from_str_radix(&hex[3..hex.len() - 1], 16).unwrap_or(0);
            ClassAtom::Char(char::from_u32(v).unwrap_or('\0'))
        }
        'a' => ClassAtom::Char('\x07'),
        'f' => ClassAtom::Char('\x0C'),
        't' => ClassAtom::Char('\t'),
        'n' => ClassAtom::Char('\n'),
        'r' => ClassAtom::Char('\r'),
        'v' => ClassAtom::Char('\x0B'),
        c if c.is_ascii_punctuation() || c == ' ' => ClassAtom::Char(c),
        c => return Err(format!(r"\{c} is not a valid escape in a character class")),
    })
}

/// A class member: ASCII punctuation and control characters as `\x{..}`,
/// so that no Rust class operator or escape rule applies to them.
fn push_class_char(out: &mut String, c: char) {
    if c.is_ascii_punctuation() || c.is_ascii_control() || c == ' ' {
        let _ = write!(out, r"\x{{{:X}}}", c as u32);
    } else {
        out.push(c);
    }
}

/// The literal text `s` as a Rust pattern.
fn regex_syntax_escape(s: &str) -> String {
    regex::escape(s)
}

#[cfg(test)]
mod tests {
    use super::translate;

    fn rust(go: &str) -> regex::Regex {
        regex::Regex::new(&translate(go).unwrap()).unwrap()
    }

    #[test]
    fn perl_classes_are_ascii_as_in_go() {
        let cases = [
            (r"\w+", "héllo", Some("h")),
            (r"\d+", "x٣42", Some("42")),
            (r"a\sb", "a\u{a0}b a b", Some("a b")),
            (r"[\w.-]+", "ab.c-dé", Some("ab.c-d")),
            (r"[^\w]", "abc\u{e9}", Some("\u{e9}")),
            (r"\bkey\b", "ékey key", Some("key")),
            (r"[\S]+", "ab\u{a0}c", Some("ab\u{a0}c")),
        ];
        for (go, text, want) in cases {
            assert_eq!(rust(go).find(text).map(|m| m.as_str()), want, "{go}");
        }
        // Go's \s has no vertical tab.
        assert!(!rust(r"\s").is_match("\x0B"));
        assert!(!rust(r"[\s]").is_match("\x0B"));
    }

    #[test]
    fn class_characters_that_rust_reads_as_operators_are_plain_members() {
        for (go, yes, no) in [
            ("[a&&b]", "&", "c"),
            ("[a~~b]", "~", "c"),
            ("[+--]", ",", "a"),
            ("[a-]", "-", "b"),
            ("[]a]", "]", "b"),
            ("[[a]", "[", "b"),
            (r"[\]]", "]", "b"),
            ("[[:digit:]x]", "7", "y"),
            (r"[\x41-\x43]", "B", "D"),
            (r"[\pL]", "é", "1"),
        ] {
            let re = rust(go);
            assert!(re.is_match(yes), "{go} {yes}");
            assert!(!re.is_match(no), "{go} {no}");
        }
    }

    #[test]
    fn go_only_escapes_and_literal_braces_keep_their_go_meaning() {
        assert!(rust(r"\<tag\>").is_match("<tag>"));
        assert!(rust(r"\Qa.b*\E+").is_match("a.b*a.b*"));
        assert!(!rust(r"\Qa.b\E").is_match("axb"));
        assert!(rust(r"\101").is_match("A"));
        assert!(rust(r"[\101]").is_match("A"));
        assert!(rust(r"\$\{{ secrets }}").is_match("${{ secrets }}"));
        assert!(rust(r"a{2}").is_match("aa") && !rust(r"^a{2}$").is_match("a"));
        assert!(rust(r"x{,3}").is_match("x{,3}"));
        assert!(rust(r"(?i)[a-z]{3,}").is_match("ABC"));
    }

    #[test]
    fn what_has_no_rust_meaning_is_refused_with_its_name() {
        for (go, what) in [
            (r"a\C", r"\C"),
            (r"(a)\1", "backreference"),
            ("[abc", "]"),
            ("[z-a]", "order"),
        ] {
            let e = translate(go).unwrap_err();
            assert!(e.contains(what), "{go}: {e}");
        }
    }

    #[test]
    fn a_generic_key_shaped_pattern_is_small_once_ascii() {
        // Shaped like gitleaks' generic rule, written for this test.
        let go = r#"(?i)[\w.-]{0,40}?(?:key|secret|token)(?:[ \t\w.-]{0,20})[\s'"]{0,3}(?:=|:)[\x60'"\s=]{0,5}([\w.=-]{10,150})(?:[\x60'"\s;]|$)"#;
        let re = regex::RegexBuilder::new(&translate(go).unwrap())
            .size_limit(crate::detect::USER_REGEX_SIZE_LIMIT)
            .build();
        assert!(re.is_ok(), "{re:?}");
        // The Unicode original does not fit.
        assert!(
            regex::RegexBuilder::new(go)
                .size_limit(crate::detect::USER_REGEX_SIZE_LIMIT)
                .build()
                .is_err()
        );
    }
}
