//! The `.env` parser: python-dotenv 1.2's grammar and interpolation, so that
//! a `.env` written for the Python services this crate replaces reads the
//! same here.
//!
//! Why not dotenvy: it rewrites values with `$` in them (`pa$$w0rd` becomes
//! `pa`, `$UNDEFINED` becomes empty) and drops the quotes of an unquoted
//! JSON value, which silently changes passwords and JSON secrets.
//!
//! What python-dotenv does, and so this parser:
//!
//! - a UTF-8 byte-order mark at the start is ignored; `\r\n` and `\r` are
//!   read as `\n` (Python's universal newlines); blank lines and
//!   `# comment` lines are skipped; `export ` before a key is allowed;
//! - a key is `'quoted'` or runs to `=`, `#` or white space; `KEY` alone
//!   (no `=`) defines nothing;
//! - `'single quotes'` keep everything but `\\` and `\'`; `"double quotes"`
//!   decode `\\ \' \" \a \b \f \n \r \t \v` and keep any other backslash
//!   (a backslash always takes the next character, so `"a\\"` ends there);
//!   both may span lines; after the closing quote only white space and a
//!   `# comment` may follow;
//! - an unquoted value runs to the end of the line, quotes and all (so
//!   `{"key":"k-1"}` stays JSON); ` # comment` (white space, then `#`) ends
//!   it, trailing white space is dropped, and `KEY= # comment` is empty;
//! - in every kind of value, `${VAR}` and `${VAR:-default}` are expanded
//!   from the keys defined earlier in the file and the process environment
//!   (which wins, as with `load_dotenv()`); `$VAR` and `$$` stay as they
//!   are; an undefined `${VAR}` without a default is empty.
//!
//! Where it differs: a line python-dotenv cannot parse is skipped there with
//! a warning; here it is an error naming the file and the line (a skipped
//! line is a missing secret found at the worst time). Neither prints the
//! line, which may hold a secret.
//!
//! Every step is an anchored regex (the `regex` crate, linear time) at the
//! current position, and a bad binding stops the parse, so the time is
//! linear in the size of the file.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

/// One `KEY=value` binding, in file order; `KEY` alone (no `=`) has no
/// value and unsets an earlier binding of the key, as in python-dotenv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Binding {
    pub(crate) key: String,
    pub(crate) value: Option<String>,
    /// The line the key is on (1-based).
    pub(crate) line: usize,
}

/// A `${VAR}` that neither the file (before it) nor the environment defines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Undefined {
    pub(crate) var: String,
    pub(crate) line: usize,
}

/// What a parse gives: the bindings with `${...}` expanded, and the
/// variables that were undefined.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub(crate) bindings: Vec<Binding>,
    pub(crate) undefined: Vec<Undefined>,
}

/// Why the text is not a `.env` file: the line where the bad binding
/// starts, and what is wrong, without the line's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    pub(crate) line: usize,
    pub(crate) what: &'static str,
}

// Python's `\s` (str patterns) also matches U+001C..U+001F, which Unicode's
// White_Space (the regex crate's `\s`) does not: the classes add them.
macro_rules! re {
    ($name:ident, $pat:expr) => {
        static $name: LazyLock<Regex> =
            LazyLock::new(|| Regex::new($pat).expect("a valid built-in regex"));
    };
}
re!(MULTILINE_WHITESPACE, r"^[\s\x1C-\x1F]*");
re!(WHITESPACE, r"^[[\s\x1C-\x1F]&&[^\r\n]]*");
re!(EXPORT, r"^(?:export[[\s\x1C-\x1F]&&[^\r\n]]+)?");
re!(SINGLE_QUOTED_KEY, r"^'([^']+)'");
re!(UNQUOTED_KEY, r"^([^=#\s\x1C-\x1F]+)");
re!(EQUAL_SIGN, r"^=[[\s\x1C-\x1F]&&[^\r\n]]*");
// A backslash always takes the character after it (so `\\` before a quote
// is an escaped backslash, and the quote closes the value).
re!(SINGLE_QUOTED_VALUE, r"(?s)^'((?:\\.|[^'\\])*)'");
re!(DOUBLE_QUOTED_VALUE, r#"(?s)^"((?:\\.|[^"\\])*)""#);
re!(UNQUOTED_VALUE, r"^[^\r\n]*");
re!(COMMENT, r"^(?:[[\s\x1C-\x1F]&&[^\r\n]]*#[^\r\n]*)?");
re!(END_OF_LINE, r"^[[\s\x1C-\x1F]&&[^\r\n]]*(?:\r\n|\n|\r|$)");
re!(INLINE_COMMENT, r"[\s\x1C-\x1F]+#.*");
re!(DOUBLE_QUOTE_ESCAPE, r#"\\[\\'"abfnrtv]"#);
re!(SINGLE_QUOTE_ESCAPE, r"\\[\\']");
re!(VARIABLE, r"\$\{([^}:]*)(?::-([^}]*))?\}");

/// Parses `.env` text. `env` looks a variable up in the process
/// environment, for `${VAR}`.
pub(crate) fn parse(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Parsed, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Python opens the file with universal newlines: `\r\n` and `\r` reach
    // the parser as `\n`, also inside a quoted value that spans lines.
    let normalized;
    let text = if text.contains('\r') {
        normalized = text.replace("\r\n", "\n").replace('\r', "\n");
        normalized.as_str()
    } else {
        text
    };
    let mut reader = Reader {
        text,
        pos: 0,
        line: 1,
    };
    let mut raw: Vec<Binding> = Vec::new();
    while reader.pos < text.len() {
        if let Some(b) = reader.binding()? {
            raw.push(b);
        }
    }
    Ok(interpolate(raw, env))
}

/// A position in the text, with its line number.
struct Reader<'t> {
    text: &'t str,
    pos: usize,
    line: usize,
}

impl<'t> Reader<'t> {
    fn rest(&self) -> &'t str {
        &self.text[self.pos..]
    }

    /// Matches `re` at the position and moves past it; the whole match and
    /// its first group.
    fn read(&mut self, re: &Regex) -> Option<(&'t str, Option<&'t str>)> {
        let rest = self.rest();
        let caps = re.captures(rest)?;
        let whole = caps.get(0).expect("group 0").as_str();
        let group = caps.get(1).map(|g| g.as_str());
        self.advance(whole.len());
        Some((whole, group))
    }

    fn advance(&mut self, len: usize) {
        let skipped = &self.text[self.pos..self.pos + len];
        self.line += count_newlines(skipped);
        self.pos += len;
    }

    /// One binding (`None` for a blank or comment line, or a key without
    /// `=`).
    fn binding(&mut self) -> Result<Option<Binding>, ParseError> {
        self.read(&MULTILINE_WHITESPACE);
        if self.pos >= self.text.len() {
            return Ok(None);
        }
        let line = self.line;
        let fail = |what| ParseError { line, what };
        self.read(&EXPORT);
        let key = match self.rest().chars().next() {
            Some('#') => None,
            Some('\'') => Some(
                self.read(&SINGLE_QUOTED_KEY)
                    .and_then(|(_, k)| k)
                    .ok_or(fail("a quoted key has no closing quote"))?,
            ),
            _ => Some(
                self.read(&UNQUOTED_KEY)
                    .and_then(|(_, k)| k)
                    .ok_or(fail("expected KEY=VALUE"))?,
            ),
        };
        self.read(&WHITESPACE);
        let value = if self.rest().starts_with('=') {
            let (equal_sign, _) = self.read(&EQUAL_SIGN).expect("starts with =");
            if equal_sign.len() > 1 && self.rest().starts_with('#') {
                // `KEY= # comment`: an empty value and a comment (while
                // `KEY=#x` is the value `#x`).
                Some(String::new())
            } else {
                Some(
                    self.value()
                        .ok_or(fail("a quoted value has no closing quote"))?,
                )
            }
        } else {
            None
        };
        self.read(&COMMENT);
        if self.read(&END_OF_LINE).is_none() {
            return Err(fail(
                "unexpected text after the value (only a # comment may follow a closing quote)",
            ));
        }
        Ok(key.map(|key| Binding {
            key: key.to_owned(),
            value,
            line,
        }))
    }

    /// The value after `=`; `None` when a quote is not closed.
    fn value(&mut self) -> Option<String> {
        match self.rest().chars().next() {
            Some('\'') => {
                let (_, v) = self.read(&SINGLE_QUOTED_VALUE)?;
                Some(decode_escapes(&SINGLE_QUOTE_ESCAPE, v.unwrap_or("")))
            }
            Some('"') => {
                let (_, v) = self.read(&DOUBLE_QUOTED_VALUE)?;
                Some(decode_escapes(&DOUBLE_QUOTE_ESCAPE, v.unwrap_or("")))
            }
            None | Some('\n') | Some('\r') => Some(String::new()),
            Some(_) => {
                let (part, _) = self.read(&UNQUOTED_VALUE)?;
                let cut = INLINE_COMMENT.find(part).map_or(part.len(), |m| m.start());
                Some(part[..cut].trim_end_matches(is_python_space).to_owned())
            }
        }
    }
}

/// Python's `str.isspace`, which `rstrip()` uses.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\x1C'..='\x1F').contains(&c)
}

/// Line breaks in `s`: `\r\n`, `\n` or `\r`.
fn count_newlines(s: &str) -> usize {
    let b = s.as_bytes();
    let mut n = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\n' => n += 1,
            b'\r' => {
                n += 1;
                if b.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    n
}

/// Replaces each two-character escape that `re` matches by the character
/// it stands for (Python's `unicode-escape` of that pair).
fn decode_escapes(re: &Regex, s: &str) -> String {
    re.replace_all(s, |c: &regex::Captures<'_>| {
        match &c[0][1..] {
            "a" => "\x07",
            "b" => "\x08",
            "f" => "\x0c",
            "n" => "\n",
            "r" => "\r",
            "t" => "\t",
            "v" => "\x0b",
            "'" => "'",
            "\"" => "\"",
            _ => "\\",
        }
        .to_owned()
    })
    .into_owned()
}

/// Expands `${VAR}` and `${VAR:-default}` in every value, as python-dotenv's
/// `load_dotenv()` does: a variable is looked up in the process environment
/// first, then among the keys bound earlier in the file (a key unset by a
/// bare `KEY` line reads as empty); the default is used only when neither
/// has the name.
fn interpolate(raw: Vec<Binding>, env: &dyn Fn(&str) -> Option<String>) -> Parsed {
    let mut out = Parsed::default();
    let mut bound: HashMap<String, Option<String>> = HashMap::new();
    for b in raw {
        let value = b.value.as_deref().map(|raw_value| {
            let mut value = String::with_capacity(raw_value.len());
            let mut last = 0;
            for caps in VARIABLE.captures_iter(raw_value) {
                let m = caps.get(0).expect("group 0");
                value.push_str(&raw_value[last..m.start()]);
                let name = &caps[1];
                match env(name).or_else(|| bound.get(name).map(|v| v.clone().unwrap_or_default())) {
                    Some(v) => value.push_str(&v),
                    None => match caps.get(2) {
                        Some(default) => value.push_str(default.as_str()),
                        None => out.undefined.push(Undefined {
                            var: name.to_owned(),
                            line: b.line,
                        }),
                    },
                }
                last = m.end();
            }
            value.push_str(&raw_value[last..]);
            value
        });
        bound.insert(b.key.clone(), value.clone());
        out.bindings.push(Binding { value, ..b });
    }
    out
}

/// The values a file defines once every binding has been applied in order:
/// the last binding of each key wins, and one without a value removes the
/// key. In the order of those last bindings.
pub(crate) fn final_values(bindings: Vec<Binding>) -> Vec<(String, String)> {
    let mut last: HashMap<&str, usize> = HashMap::new();
    for (i, b) in bindings.iter().enumerate() {
        last.insert(b.key.as_str(), i);
    }
    let keep: Vec<bool> = (0..bindings.len())
        .map(|i| last.get(bindings[i].key.as_str()) == Some(&i))
        .collect();
    bindings
        .into_iter()
        .zip(keep)
        .filter_map(|(b, keep)| if keep { Some((b.key, b.value?)) } else { None })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    /// The final `KEY -> value` pairs of a parse without environment.
    fn values(text: &str) -> Vec<(String, String)> {
        final_values(
            parse(text, &no_env)
                .unwrap_or_else(|e| panic!("{text:?}: {e:?}"))
                .bindings,
        )
    }

    fn one(text: &str) -> String {
        let v = values(text);
        assert_eq!(v.len(), 1, "{text:?}: {v:?}");
        v[0].1.clone()
    }

    #[test]
    fn dollar_signs_stay_as_they_are() {
        assert_eq!(one("DB_PASS=pa$$w0rd-x"), "pa$$w0rd-x");
        assert_eq!(one("DB_PASS=\"pa$w0rd-x\""), "pa$w0rd-x");
        assert_eq!(one("C=$UNDEFINED"), "$UNDEFINED");
        assert_eq!(one("C='$HOME and $$'"), "$HOME and $$");
    }

    #[test]
    fn unquoted_json_keeps_its_quotes() {
        assert_eq!(
            one(r#"API_CONFIG={"key":"k-1","region":"eu-west-1"}"#),
            r#"{"key":"k-1","region":"eu-west-1"}"#
        );
        assert_eq!(one(r#"A=ab"cd'ef"#), r#"ab"cd'ef"#);
    }

    #[test]
    fn braced_variables_expand_in_every_quoting_from_the_file_and_the_environment() {
        let env = |k: &str| (k == "HOST").then(|| "db1".to_owned());
        let p = parse(
            "USER=app\nA=${USER}@${HOST}\nB=\"${USER}:${MISSING:-dflt}\"\nC='${USER}'\nD=${LATER}\nLATER=x\n",
            &env,
        )
        .unwrap();
        let got: Vec<(&str, &str)> = p
            .bindings
            .iter()
            .map(|b| (b.key.as_str(), b.value.as_deref().unwrap()))
            .collect();
        assert_eq!(
            got,
            [
                ("USER", "app"),
                ("A", "app@db1"),
                ("B", "app:dflt"),
                ("C", "app"),
                ("D", ""),
                ("LATER", "x")
            ]
        );
        assert_eq!(
            p.undefined,
            [Undefined {
                var: "LATER".into(),
                line: 5
            }]
        );
    }

    #[test]
    fn the_process_environment_wins_over_earlier_keys_in_interpolation() {
        let env = |k: &str| (k == "USER").then(|| "from-env".to_owned());
        let p = parse("USER=from-file\nA=${USER}\n", &env).unwrap();
        assert_eq!(p.bindings[1].value.as_deref(), Some("from-env"));
    }

    #[test]
    fn quotes_escapes_and_comments_follow_python_dotenv() {
        assert_eq!(one(r#"A="a\nb\t\"q\" \\ \d""#), "a\nb\t\"q\" \\ \\d");
        assert_eq!(one(r"A='a\nb \' \\'"), r"a\nb ' \");
        assert_eq!(one("A=value # a comment"), "value");
        assert_eq!(one("A=value#not-a-comment"), "value#not-a-comment");
        assert_eq!(one("A=\"quoted\"   # comment"), "quoted");
        assert_eq!(one("A=  spaced value   "), "spaced value");
        assert_eq!(one("A="), "");
        assert_eq!(one("A=\"multi\nline\""), "multi\nline");
        assert_eq!(one("A=\"multi\r\nline\r\""), "multi\nline\n");
        assert_eq!(one("export A=1"), "1");
        assert_eq!(one("'quoted key'=v"), "v");
        assert_eq!(
            values("KEY_ONLY\n# comment\n\n  \nB=2"),
            [("B".into(), "2".into())]
        );
        assert_eq!(values("A=1\nA=2"), [("A".into(), "2".into())]);
        // A bare key unsets an earlier value, and reads as empty after.
        assert_eq!(values("A=1\nA\nB=${A:-d}"), [("B".into(), "".into())]);
    }

    #[test]
    fn a_byte_order_mark_and_any_line_ending_are_accepted() {
        assert_eq!(
            values("\u{feff}A=1\r\nB=2\rC=3"),
            [
                ("A".into(), "1".into()),
                ("B".into(), "2".into()),
                ("C".into(), "3".into())
            ]
        );
    }

    #[test]
    fn bad_lines_are_errors_with_the_right_line_number() {
        let e = parse("A=1\n\n# c\nB=\"open\nC=2\n", &no_env).unwrap_err();
        assert_eq!(e.line, 4, "{e:?}");
        // The same text earlier in the file does not confuse the count.
        let e = parse("X=\"ok\"\nY=\"ok\"junk\n", &no_env).unwrap_err();
        assert_eq!(e.line, 2, "{e:?}");
        let e = parse("A=1\n=nokey\n", &no_env).unwrap_err();
        assert_eq!(e.line, 2, "{e:?}");
        // Quotes inside an unquoted key are part of it, as in python-dotenv.
        assert_eq!(values("\"x\"=2"), [("\"x\"".into(), "2".into())]);
    }

    #[test]
    fn lines_after_a_multi_line_value_are_counted() {
        let p = parse("A=\"1\n2\n3\"\nB=x\n", &no_env).unwrap();
        assert_eq!(p.bindings[1].line, 4);
    }

    #[test]
    fn a_large_file_of_open_quotes_stops_at_the_first() {
        let text = "A=\"unterminated\n".repeat(100_000);
        let e = parse(&text, &no_env).unwrap_err();
        assert_eq!(e.line, 1);
    }
}
