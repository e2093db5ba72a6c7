//! Values that are not secrets even where a secret would be: placeholders
//! (`xxxx`, `<your-key>`, `${VAR}`, `[REDACTED]`, AWS's `...EXAMPLE`
//! keys) and plain value words (`true`, `none`, `n/a`).

use std::sync::OnceLock;

use aho_corasick::AhoCorasick;

/// Whether `value` is a placeholder rather than a secret:
///
/// - a masked or elided value: `xxxx`, `****`, `••••`, `XXXX-XXXX`,
///   `....`, `…`, one character repeated (`aaaaaaaa`, `0000`, `~`),
///   `[REDACTED]`, `[FILTERED]`, `(hidden)`, `<redacted>` (anything in
///   `<...>`), `(empty)`;
/// - a template or variable: `${VAR}`, `${VAR:=x}`, `$VAR`, `%VAR%`,
///   `$(cmd)`, `{{ .Values.x }}`, `${{ secrets.X }}`, `#{VAR}`, `<%= x %>`,
///   `{% x %}`, `%(name)s`, `%{x}`, `@@VAR@@`, `@db.password@`,
///   `__VAR__`, a printf verb alone (`%s`, `%v`, `%-8d`), a SQL parameter
///   (`:password`, `@password`);
/// - a word that stands for a value: `your-token-here`, `<sk-your-key>`,
///   `...EXAMPLE` (AWS's documented keys), anything holding `placeholder`,
///   `redacted`, `dummy`, `example`, `changeme`, `replace_me`, `fixme` or
///   `***` (`***REMOVED***`),
///   and the whole values `secret`, `password`, `passwd`, `token`,
///   `apikey`, `api_key`, `key`, `changeit`, `foo`, `bar`, `baz`,
///   `foobar`, `abc`, `xyz`, `qwerty`, `hidden`, `masked`, `filtered`,
///   `removed`, `omitted`, `sensitive`, `scrubbed`, `censored`,
///   `obfuscated`, `truncated`, `value`, `string`, `default`, `todo`,
///   `tbd`;
/// - a made-up sequence: every alphanumeric run of ten or more is runs of
///   three or more consecutive characters (`1234567890`, `abcdefghij`,
///   `abcdef123456`, `0123456789abcdef`, `9876543210`) or one unit of at
///   most eight repeated (`ababababab`, `123123123123`,
///   `deadbeefdeadbeef`), and there is one.
pub fn is_placeholder(value: &str) -> bool {
    let v = value.trim();
    if v.is_empty() {
        return true;
    }
    let b = v.as_bytes();
    let found = words_in(b);
    marked(v, found) || named_dummy(v, found) || is_mask(v) || is_template(b) || is_sequence(b)
}

/// The marks that need no word: empty, `<...>`, `${`, `{{`, `$(`,
/// `[WORDS]`, `(words)`, `$VAR`, `%VAR%`, one character repeated.
fn marked_by_shape(v: &str) -> bool {
    let b = v.as_bytes();
    if b.is_empty() {
        return true;
    }
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
    b.iter().all(|&c| c == b[0])
}

/// The placeholder marks that `is_placeholder` had before the dummy words,
/// masks, templates and sequences (a test compares them with one search
/// per word).
fn marked(v: &str, found: u32) -> bool {
    let b = v.as_bytes();
    if marked_by_shape(v) {
        return true;
    }
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
    ends(b"-here") || ends(b"_here") || has(DASH_HERE_DASH) || has(UNDERSCORE_HERE_UNDERSCORE)
}

/// A dummy word in the value, or a whole value that is a word standing
/// for one.
fn named_dummy(v: &str, found: u32) -> bool {
    const WHOLE: &[&str] = &[
        "secret",
        "password",
        "passwd",
        "token",
        "apikey",
        "api_key",
        "api-key",
        "key",
        "changeit",
        "foo",
        "bar",
        "baz",
        "foobar",
        "abc",
        "xyz",
        "qwerty",
        "hidden",
        "masked",
        "filtered",
        "removed",
        "omitted",
        "sensitive",
        "scrubbed",
        "censored",
        "obfuscated",
        "truncated",
        "value",
        "string",
        "default",
        "todo",
        "tbd",
    ];
    DUMMY_WORDS.iter().any(|&w| found & (1 << w) != 0)
        || WHOLE.iter().any(|w| v.eq_ignore_ascii_case(w))
}

/// Mask characters: a value of only these (and separators) hides one.
fn is_mask_char(c: char) -> bool {
    matches!(
        c,
        '*' | 'x'
            | 'X'
            | '#'
            | '•'
            | '●'
            | '·'
            | '∙'
            | '⁎'
            | '∗'
            | '█'
            | '▒'
            | '░'
            | '■'
            | '.'
            | '…'
            | '?'
    )
}

/// One character repeated, or mask characters with separators
/// (`XXXX-XXXX`, `***-**-****`).
fn is_mask(v: &str) -> bool {
    let mut chars = v.chars();
    let Some(first) = chars.next() else {
        return true;
    };
    if chars.all(|c| c == first) {
        return true;
    }
    let mut masks = 0;
    for c in v.chars() {
        if is_mask_char(c) {
            masks += 1;
        } else if !matches!(c, '-' | '_' | ' ' | ':' | '/') {
            return false;
        }
    }
    masks >= 2
}

/// A template, a variable, a format verb or a query parameter.
fn is_template(b: &[u8]) -> bool {
    const OPENERS: &[&[u8]] = &[b"#{", b"<%", b"{%", b"%(", b"%{", b"@@", b"$env:", b"$ENV{"];
    if OPENERS.iter().any(|o| b.starts_with(o)) {
        return true;
    }
    let ident = |s: &[u8]| {
        !s.is_empty()
            && (s[0].is_ascii_alphabetic() || s[0] == b'_')
            && s.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
    };
    let n = b.len();
    // `__DB_PASSWORD__`, `@db.password@` (build-time substitution).
    if n > 4 && b.starts_with(b"__") && b.ends_with(b"__") && ident(&b[2..n - 2]) {
        return true;
    }
    if n > 2 && b[0] == b'@' && b[n - 1] == b'@' && b[1..n - 1].split(|&c| c == b'.').all(ident) {
        return true;
    }
    // A printf verb alone: `%s`, `%v`, `%+v`, `%-8d`, `%.2f`.
    if b.first() == Some(&b'%') {
        let mut i = 1;
        while i < n && matches!(b[i], b'-' | b'+' | b'#' | b' ' | b'0'..=b'9' | b'.') {
            i += 1;
        }
        if i + 1 == n && b[i].is_ascii_alphabetic() {
            return true;
        }
    }
    // `:password`, `@password` (SQL parameters): a lowercase name.
    if n > 1
        && matches!(b[0], b':' | b'@')
        && b[1].is_ascii_lowercase()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
    {
        return true;
    }
    false
}

/// Whether every alphanumeric run of ten or more bytes in `b` is made up
/// (consecutive characters, a repeated unit), and there is one.
fn is_sequence(b: &[u8]) -> bool {
    let mut any = false;
    for part in b.split(|c| !c.is_ascii_alphanumeric()) {
        if part.len() < 10 {
            continue;
        }
        if !(steps_only(part) || repeated_unit(part)) {
            return false;
        }
        any = true;
    }
    any
}

/// Runs of three or more consecutive characters (up or down, `9` to `0`
/// wrapping, case ignored) from end to end: `abc123`, `1234567890`.
fn steps_only(part: &[u8]) -> bool {
    let step = |a: u8, b: u8| -> i8 {
        let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
        if b == a.wrapping_add(1) || (a == b'9' && b == b'0') {
            1
        } else if b == a.wrapping_sub(1) || (a == b'0' && b == b'9') {
            -1
        } else {
            0
        }
    };
    let mut run = 1;
    let mut dir = 0i8;
    for w in part.windows(2) {
        let d = step(w[0], w[1]);
        if d != 0 && (dir == 0 || d == dir) {
            run += 1;
            dir = d;
        } else {
            if run < 3 {
                return false;
            }
            run = 1;
            dir = 0;
        }
    }
    run >= 3
}

/// One unit of at most eight bytes repeated at least twice (case
/// ignored).
fn repeated_unit(part: &[u8]) -> bool {
    (1..=8).any(|u| {
        part.len() >= 2 * u
            && part
                .iter()
                .enumerate()
                .all(|(i, c)| c.eq_ignore_ascii_case(&part[i % u]))
    })
}

/// The words that `is_placeholder` looks for inside a value, by index.
const WORDS: [&str; 27] = [
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
    "dummy",
    "example",
    "changeme",
    "change_me",
    "change-me",
    "replace_me",
    "replace-me",
    "fixme",
    "***",
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
/// The words that make any value holding them a dummy.
const DUMMY_WORDS: [usize; 9] = [18, 19, 20, 21, 22, 23, 24, 25, 26];

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
        "notset",
        "not-set",
        "not_set",
        "unknown",
        "invalid",
        "incorrect",
        "wrong",
        "mismatch",
        "expired",
        "too_short",
        "too-short",
        "weak",
        "provided",
        "present",
        "supplied",
        "prompt",
        "stdin",
    ];
    WORDS.iter().any(|w| v.eq_ignore_ascii_case(w))
}

/// Whether the value of a secret-named key is something other than a
/// secret written out: a reference to a secret store (`vault:secret/x#k`,
/// `arn:aws:secretsmanager:...`, `op://...`, `ref+...`), an encrypted
/// value (`ENC[...]` from sops, `$ANSIBLE_VAULT;...`), code that reads it
/// (`process.env.X`, `os.environ[`, `os.getenv(`, `getpass()`,
/// `config.db.password`), a file path (`/run/secrets/db`, `~/.pgpass`,
/// `C:\keys\app.pem`), a small number (`0`, `3600`, `-1`, `1.5`), or a
/// YAML tag or alias (`!vault`, `!Ref`, `*db_password`), a content
/// digest (`sha256:<hex>`), or a URL (whose password the URL rule finds).
pub(super) fn is_not_secret_value(v: &str) -> bool {
    let b = v.as_bytes();
    is_store_reference(b)
        || is_code(b)
        || is_path(b)
        || is_small_number(b)
        || is_yaml_tag(b)
        // A URL: its password, if any, is the URL rule's finding.
        || has(b, b"://", false)
}

fn starts_with_fold(b: &[u8], p: &[u8]) -> bool {
    b.len() >= p.len() && b[..p.len()].eq_ignore_ascii_case(p)
}

fn is_store_reference(b: &[u8]) -> bool {
    const PREFIXES: &[&[u8]] = &[
        b"vault:",
        b"ref+",
        b"arn:aws:",
        b"arn:aws-",
        b"op://",
        b"ssm:",
        b"secretsmanager:",
        b"awssm:",
        b"awskms:",
        b"gcpsm:",
        b"sm://",
        b"azkv:",
        b"keyvault:",
        b"@microsoft.keyvault(",
        b"secret://",
        b"secretref:",
        b"file:",
        b"env:",
        b"keyring:",
        b"enc[",
        b"$ansible_vault;",
        b"sm://",
    ];
    // A digest names content, it does not unlock anything.
    const DIGESTS: &[&[u8]] = &[b"sha256:", b"sha1:", b"sha512:", b"sha384:", b"md5:"];
    PREFIXES.iter().any(|p| starts_with_fold(b, p))
        || (b.starts_with(b"projects/") && has(b, b"/secrets/", false))
        || DIGESTS
            .iter()
            .any(|d| starts_with_fold(b, d) && b[d.len()..].iter().all(u8::is_ascii_hexdigit))
}

fn is_ident(s: &[u8]) -> bool {
    !s.is_empty()
        && (s[0].is_ascii_alphabetic() || s[0] == b'_' || s[0] == b'$')
        && s.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'$')
}

/// Code that reads a secret: a call or an index cut at its quote
/// (`os.environ[`, `os.getenv(`), a call (`getpass()`,
/// `secrets.token_hex(32)`), or a dotted path from a known root or to an
/// environment-style name (`process.env.DB_PASSWORD`, `config.db.password`).
fn is_code(b: &[u8]) -> bool {
    const ROOTS: &[&str] = &[
        "process",
        "os",
        "env",
        "ENV",
        "System",
        "import",
        "Deno",
        "config",
        "settings",
        "self",
        "this",
        "cfg",
        "conf",
        "app",
        "secrets",
        "vars",
        "context",
        "ctx",
        "params",
        "args",
        "opts",
        "options",
        "props",
        "Rails",
        "environ",
        "window",
        "global",
        "request",
        "req",
        "values",
        "Values",
        "locals",
        "inputs",
        "steps",
        "needs",
        "github",
        "matrix",
        "credentials",
        "creds",
        "data",
    ];
    // The dotted path before a call or an index (`.` or `::` between
    // names).
    let head_end = b
        .iter()
        .position(|c| matches!(c, b'(' | b'['))
        .unwrap_or(b.len());
    let head = &b[..head_end];
    let mut segs: Vec<&[u8]> = Vec::new();
    for part in head.split(|&c| c == b'.') {
        for seg in part.split(|&c| c == b':') {
            segs.push(seg);
        }
    }
    // `std::env::var` splits into empty names between the colons.
    let qualified = segs.len() > 1;
    segs.retain(|s| !s.is_empty() || !has(head, b"::", false));
    if segs.is_empty() || !segs.iter().all(|s| is_ident(s)) {
        return false;
    }
    let tail = &b[head_end..];
    if let Some((&open, inner)) = tail.split_first() {
        let close = if open == b'(' { b')' } else { b']' };
        let arg = |c: &u8| {
            c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    b'_' | b'.' | b',' | b'\'' | b'"' | b'-' | b':' | b'=' | b' '
                )
        };
        // A qualified name (`os.getenv`) or a lowercase function
        // (`getpass`): `Qx7k(m2P9)` is a password.
        let named = qualified || head.iter().all(|c| c.is_ascii_lowercase() || *c == b'_');
        return named
            && match inner.split_last() {
                // `f()`, `f(32)`, `m["k"]`, `params[:password]`.
                Some((&c, args)) if c == close => args.iter().all(arg),
                // Cut at a quote: `os.environ[`, `os.getenv(`, `get(scope=`.
                Some((&c, args)) => c == b'=' && args.iter().all(arg),
                None => true,
            };
    }
    let first = segs[0];
    let Some(&last) = segs.last().filter(|_| segs.len() > 1) else {
        return false;
    };
    let env_style = last.len() > 1
        && last
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
        && !first.iter().any(u8::is_ascii_uppercase);
    // `user.password`, `config.stripe.apiKey`: a field read.
    let secret_field = first[0].is_ascii_lowercase()
        && std::str::from_utf8(last).is_ok_and(super::names::is_secret_name);
    env_style || secret_field || ROOTS.iter().any(|r| r.as_bytes() == first)
}

/// A file path: `~/`, `./`, `../`, `C:\`, or an absolute path under a
/// system directory or ending in a file name with an extension.
fn is_path(b: &[u8]) -> bool {
    if b.starts_with(b"~/") || b.starts_with(b"./") || b.starts_with(b"../") {
        return true;
    }
    if b.len() > 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'\\' {
        return true;
    }
    if b.first() != Some(&b'/') {
        return false;
    }
    const ROOTS: &[&[u8]] = &[
        b"etc/",
        b"run/",
        b"var/",
        b"home/",
        b"usr/",
        b"opt/",
        b"tmp/",
        b"secrets/",
        b"mnt/",
        b"srv/",
        b"root/",
        b"dev/",
        b"proc/",
        b"Users/",
        b"data/",
        b"vault/",
        b"app/",
        b"config/",
        b"certs/",
        b"keys/",
        b"workspace/",
    ];
    let path_bytes = b
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'/' | b'.' | b'_' | b'-'));
    if !path_bytes {
        return false;
    }
    if ROOTS.iter().any(|r| b[1..].starts_with(r)) {
        return true;
    }
    // `/x/y/name.ext`: a short lowercase extension after the last `/`.
    let name = b.rsplit(|&c| c == b'/').next().unwrap_or_default();
    b[1..].contains(&b'/')
        && name.iter().rposition(|&c| c == b'.').is_some_and(|dot| {
            let ext = &name[dot + 1..];
            dot > 0 && (1..=5).contains(&ext.len()) && ext.iter().all(|c| c.is_ascii_lowercase())
        })
}

/// Up to six digits, with a sign or a fraction: a count, a port, a flag.
fn is_small_number(b: &[u8]) -> bool {
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    let b = b
        .strip_prefix(b"-")
        .or_else(|| b.strip_prefix(b"+"))
        .unwrap_or(b);
    (1..=6).contains(&digits)
        && b.first().is_some_and(u8::is_ascii_digit)
        && b.iter().filter(|&&c| c == b'.').count() <= 1
        && b.iter().all(|c| c.is_ascii_digit() || *c == b'.')
}

/// A YAML tag (`!vault`, `!Ref`, `!!str`), alias (`*db_password`) or
/// block scalar indicator (`|`, `>-`, `|+2`).
fn is_yaml_tag(b: &[u8]) -> bool {
    if matches!(b.first(), Some(b'|' | b'>'))
        && b.len() <= 3
        && b[1..]
            .iter()
            .all(|c| matches!(c, b'-' | b'+' | b'1'..=b'9'))
    {
        return true;
    }
    let name = if let Some(t) = b.strip_prefix(b"!!") {
        t
    } else if let Some(t) = b.strip_prefix(b"!") {
        t
    } else if let Some(t) = b.strip_prefix(b"*") {
        // An alias names an anchor: lowercase words.
        return !t.is_empty()
            && t[0].is_ascii_lowercase()
            && t.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'-'));
    } else {
        return false;
    };
    !name.is_empty()
        && name
            .iter()
            .all(|c| c.is_ascii_alphabetic() || matches!(c, b'_' | b'-' | b':' | b'.' | b'/'))
}

/// Whether `v` is a plain word or a few joined by `-`, `_`, `.`, `/`, `:`
/// (`oauth2`, `client_credentials`, `my-app-secret`, `prod/db`,
/// `secret/db:password`, `STRING`, `myAppSecret`): what a method or object name looks like, not a random
/// token. Each word is at most 15 letters and may end in two digits.
pub(super) fn is_plain_word(v: &str) -> bool {
    let b = v.as_bytes();
    if b.is_empty() || b.len() > 40 {
        return false;
    }
    b.split(|&c| matches!(c, b'-' | b'_' | b'.' | b'/' | b':'))
        .all(|w| {
            let letters = w.iter().take_while(|c| c.is_ascii_alphabetic()).count();
            let digits = &w[letters..];
            let l = &w[..letters];
            (1..=15).contains(&letters)
                && digits.len() <= 2
                && digits.iter().all(u8::is_ascii_digit)
                && word_case(l)
        })
}

/// Whether the letters `w` make a word (see `word_case`), as prose has.
pub(super) fn is_word(w: &[u8]) -> bool {
    w.iter().all(u8::is_ascii_alphabetic) && word_case(w)
}

/// Lowercase, Capitalized, UPPERCASE or camelCase (each capital followed
/// by two lowercase letters or more), and pronounceable: no five
/// consonants in a row, a vowel in six letters (`NhghdvEwombe` is drawn
/// at random).
fn word_case(w: &[u8]) -> bool {
    let vowel = |c: &u8| {
        matches!(
            c.to_ascii_lowercase(),
            b'a' | b'e' | b'i' | b'o' | b'u' | b'y'
        )
    };
    if w.split(vowel).any(|run| run.len() >= 5) {
        return false;
    }
    if w.iter().all(u8::is_ascii_uppercase) {
        return true;
    }
    // The parts of a camelCase word (`my`, `App`, `Secret`): lowercase
    // letters after one capital (two at least, but in the first part),
    // and a vowel (`RdrYuoiEtre` is drawn at random).
    let mut start = 0;
    for i in 1..=w.len() {
        if i < w.len() && !w[i].is_ascii_uppercase() {
            continue;
        }
        let part = &w[start..i];
        let lower = part[1..]
            .iter()
            .take_while(|c| c.is_ascii_lowercase())
            .count();
        // (`db`, `svc`: a short word alone may lack a vowel.)
        let camel = start > 0 || i < w.len();
        let voiced = part.iter().any(vowel) || (!camel && part.len() <= 3);
        if (start > 0 && lower < 2) || lower + 1 < part.len() || !voiced {
            return false;
        }
        start = i;
    }
    true
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

    /// The marks of `is_placeholder` as they were, one search per word.
    fn reference(value: &str) -> bool {
        use super::marked_by_shape;
        let v = value.trim();
        // The marks without words are shared (`marked_by_shape`): what is
        // compared here is the word search.
        if marked_by_shape(v) {
            return true;
        }
        let b = v.as_bytes();
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
    fn placeholder_marks_are_what_they_were_with_one_search_per_word() {
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
            let t = v.trim();
            assert_eq!(
                super::marked(t, words_in(t.as_bytes())),
                reference(&v),
                "{v:?}"
            );
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

    #[test]
    fn placeholders_templates_and_made_up_values_are_placeholders() {
        use super::is_placeholder;
        for v in [
            "DUMMY",
            "dummy-token-for-tests",
            "EXAMPLE",
            "my-example-key",
            "changeme",
            "%s",
            "%-8d",
            "%(db_password)s",
            "<redacted>",
            "${VAR:=x}",
            "#{db_password}",
            "<%= ENV[\"X\"] %>",
            "{% raw %}",
            "__DB_PASSWORD__",
            "@db.password@",
            ":password",
            "aaaaaaaa",
            "••••••••",
            "XXXX-XXXX",
            "***-**-****",
            "***REMOVED***",
            "1234567890",
            "abcdefghijklmnop",
            "0123456789abcdef0123456789abcdef",
            "abcdef123456",
            "9876543210",
            "ababababababab",
            "deadbeefdeadbeef",
            "sk-1234567890abcdef1234567890abcdef",
            "secret",
            "password",
            "hidden",
        ] {
            assert!(is_placeholder(v), "{v}");
        }
        for v in [
            "q8Wd3kz0pTx7Lm2v",
            "hunter22",
            "abc123",
            "12345678",
            "pass",
            "MkCE9p_%(or5hAUd",
            "SH((45u5p1ucQZ6z",
            ")fM1lcOTqrKb3uLy",
            "sk-24e440066559a6656c90bd5482a90a29",
            "x1y2z3",
        ] {
            assert!(!is_placeholder(v), "{v}");
        }
    }

    #[test]
    fn references_code_paths_numbers_and_tags_are_not_secret_values() {
        use super::{is_not_secret_value, is_plain_word};
        for v in [
            "vault:secret/data/x#key",
            "ref+vault://secret/x#/k",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:x",
            "op://Eng/GitHub/credential",
            "ENC[AES256_GCM,data:x]",
            "$ANSIBLE_VAULT;1.1;AES256",
            "projects/p/secrets/s/versions/1",
            "sha256:52d3a23d2e33a2b1",
            "process.env.DB_PASSWORD",
            "os.environ[",
            "os.getenv(",
            "getpass()",
            "secrets.token_hex(32)",
            "config.db.password",
            "user.password",
            "std::env::var(",
            "/run/secrets/db",
            "~/.pgpass",
            "/x/y/app.pem",
            "0",
            "3600",
            "-1",
            "1.5",
            "!vault",
            "!!python/name:os.environ",
            "*db_password",
            "|",
            ">-",
            "https://host/x",
        ] {
            assert!(is_not_secret_value(v), "{v}");
        }
        for v in [
            "q8Wd3kz0pTx7Lm2v",
            "/K7MDENG/bPxRfiCY",
            "VuTV.MR9P6_IUda#",
            "Qx7k(m2P9",
            "1234567",
            "!Zq8fK2pLx9",
            "*Zq8fK2pLx9",
        ] {
            assert!(!is_not_secret_value(v), "{v}");
        }
        for v in [
            "oauth2",
            "client_credentials",
            "my-app-secret",
            "prod/db",
            "STRING",
            "myAppSecret",
        ] {
            assert!(is_plain_word(v), "{v}");
        }
        for v in [
            "q8Wd3kz0pTx7",
            "kQxLmZp",
            "avordwruyk8d50hp",
            "abcdefghijklmnopqrstuvwxyz",
        ] {
            assert!(!is_plain_word(v), "{v}");
        }
    }
}
