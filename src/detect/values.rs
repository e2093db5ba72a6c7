//! The hand-written value parsers, run at a keyword hit: `key=value` and
//! its many spellings (quoted, JSON-escaped, `--flag value`, a header
//! value after an authorization scheme), the password of `curl -u
//! user:password`, of `scheme://user:password@host` and of Oracle's
//! `jdbc:oracle:thin:user/password@host`, the token after `Bearer`, and
//! the trimming of a PEM body. Each returns the byte span of the secret
//! only.

use super::entropy::shannon_entropy;
use super::names::{NameKind, name_kind};
use super::placeholder::{
    is_not_secret_value, is_placeholder, is_plain_word, is_value_word, is_word,
};
use super::rule::RuleId;
use super::rule_set::challenge_param;

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
pub(super) fn kv_name_span(b: &[u8], hs: usize, he: usize) -> (usize, usize) {
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

/// What the key-value rule has seen earlier on the text: where the last
/// `curl` command word was, so that `-u user:password` after it is read as
/// curl's. Hits come in order of position; the state costs each byte of
/// the text at most one look at.
#[derive(Debug, Default)]
pub(super) struct KvContext {
    /// The start of the last `curl` word, while no line break is known to
    /// follow it.
    curl: Option<usize>,
    /// The text from `curl` up to here holds no line break.
    clean_to: usize,
    /// The start of the last user flag parsed.
    flag_at: Option<usize>,
    /// The end of that flag's argument.
    arg_end: usize,
    /// The end of the last Cookie header value.
    cookie_end: usize,
    /// What `name_kind` said of the names met so far (a log repeats its
    /// key names on every line); made at the [`MEMO_AFTER`]th name, so
    /// that a short text (one event of the masking layer) does not fill
    /// a table it will not use.
    names: Option<NameMemo>,
    /// Names met before the table was made.
    names_met: u8,
}

/// Names judged without the memo in a search before it is made.
const MEMO_AFTER: u8 = 4;

/// A few key names and their verdicts, compared exactly, in slots picked
/// by length and end bytes (a miss only costs the verdict again).
#[derive(Debug)]
struct NameMemo([(u8, [u8; NAME_MEMO_LEN], Option<NameKind>); 16]);

/// Names longer than this are not remembered.
const NAME_MEMO_LEN: usize = 24;

impl KvContext {
    /// `name_kind(name)`, remembered for the names of this search.
    fn name_kind(&mut self, name: &str) -> Option<NameKind> {
        let b = name.as_bytes();
        let n = b.len();
        if n == 0 || n > NAME_MEMO_LEN {
            return name_kind(name);
        }
        if self.names.is_none() && self.names_met < MEMO_AFTER {
            self.names_met += 1;
            return name_kind(name);
        }
        // Lazily: `get_or_insert` would build (fill) the table at every name.
        #[allow(clippy::unnecessary_lazy_evaluations)]
        let memo = self
            .names
            .get_or_insert_with(|| NameMemo([(0, [0; NAME_MEMO_LEN], None); 16]));
        let slot = &mut memo.0[(n + 3 * b[0] as usize + 5 * b[n - 1] as usize) & 15];
        if slot.0 as usize == n && slot.1[..n] == *b {
            return slot.2;
        }
        let kind = name_kind(name);
        slot.0 = n as u8;
        slot.1[..n].copy_from_slice(b);
        slot.2 = kind;
        kind
    }
}

impl KvContext {
    /// Whether a `curl` word comes before `at` on the same line.
    fn curl_before(&mut self, b: &[u8], at: usize) -> bool {
        let Some(c) = self.curl else {
            return false;
        };
        let from = self.clean_to.max(c).min(at);
        #[cfg(test)]
        super::testing::add_work(at - from);
        if memchr::memchr2(b'\n', b'\r', &b[from..at]).is_some() {
            self.curl = None;
            return false;
        }
        self.clean_to = at;
        true
    }
}

/// `name=value`, `name: value`, `"name": "value"`, `name => value`,
/// `--name value`, for the key name `text[ns..ne]` (around a keyword hit,
/// see [`kv_name_span`]), and the password of curl's `-u user:password`
/// (`--user`, `-U`, `--proxy-user`). `ctx` carries what earlier hits saw.
pub(super) fn key_value(
    text: &str,
    ns: usize,
    ne: usize,
    ctx: &mut KvContext,
) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let name = &b[ns..ne];
    if name.first() == Some(&b'-')
        && let Some(flag) = user_flag(b, ns)
    {
        // Later keyword hits in the same name (`-ua-ub`) or inside the
        // argument of the last flag (`--user=--user=`) start no flag.
        if ctx.flag_at == Some(ns) || ns < ctx.arg_end {
            return None;
        }
        ctx.flag_at = Some(ns);
        let in_curl = ctx.curl_before(b, ns);
        return user_password(text, ns + flag, in_curl, &mut ctx.arg_end);
    }
    if name.len() > 5 && name[..5].eq_ignore_ascii_case(b"jdbc:") {
        return oracle_thin_password(text, ns + 5);
    }
    if name.len() >= 4 && name[name.len() - 4..].eq_ignore_ascii_case(b"curl") {
        ctx.curl = Some(ns);
        ctx.clean_to = ns;
        return None;
    }
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
        return xml_value(text, ns, ne).or_else(|| netrc_password(text, ns, ne));
    };
    // Most keyword hits are not secret-named (`max_tokens=`) or have no
    // value (prose): the cheaper test, the separator, runs first.
    let kind = ctx.name_kind(&text[ns..ne])?;
    let is_eq = sep_len == 1 && b[i] == b'=';
    let is_colon = sep_len == 1 && b[i] == b':';
    i += sep_len;
    let ws_after = skip_blanks(b, i);
    if is_eq && ws_before == 0 && ws_after > 0 {
        // `password= (empty)`: nothing assigned.
        return None;
    }
    if is_colon && ws_before == 0 && ws_after == 0 && ns > 0 && b[ns - 1] == b':' {
        // `arn:aws:secretsmanager:...:secret:prod/db`: a part of a
        // colon-separated path, not a key.
        return None;
    }
    i += ws_after;
    if is_eq && kind == NameKind::Password && b.get(i) == Some(&b'{') {
        return braced_password(text, i);
    }
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
            && is_word(&b[i..i + word])
            && !SCHEMES
                .iter()
                .any(|w| b[i..i + word].eq_ignore_ascii_case(w.as_bytes()))
        {
            return None;
        }
    }
    // A later `cookie` in a Cookie header read to its end reads the same
    // cookies again.
    if header_cookie && ns < ctx.cookie_end {
        return None;
    }
    let (s, e) = value_span(text, i, header_cookie)?;
    if header_cookie {
        ctx.cookie_end = e;
    }
    // `auth: session started` (a log target, prose): after a colon, a bare
    // value must look like a credential, not a word.
    if !is_eq && s > 0 && !matches!(b[s - 1], b'"' | b'\'' | b'`') {
        let v = &b[s..e];
        // (Letters drawn at random, `KisBVQMUCaMV`, are no word.)
        if v.len() < 20 && v.iter().all(|c| c.is_ascii_alphabetic()) && is_word(v) {
            return None;
        }
    }
    if header_cookie
        && !text[s..e]
            .split(';')
            .any(|c| cookie_may_be_secret(c.trim()))
    {
        return None;
    }
    judge(text, s, e, kind)
}

/// The checks on the value `text[s..e]` of a key of `kind` that every
/// spelling shares: not a reference, code, path, number or cut
/// placeholder, and random enough for the name.
fn judge(text: &str, s: usize, e: usize, kind: NameKind) -> Option<(usize, usize)> {
    let v = &text[s..e];
    if is_not_secret_value(v) || cut_placeholder(text.as_bytes(), s, e) {
        return None;
    }
    let keep = match kind {
        NameKind::Password => true,
        // `auth=oauth2`, `secret: db-credentials`: a method, an object.
        NameKind::Secret => !is_plain_word(v),
        NameKind::Weak => looks_random(v),
    };
    keep.then_some((s, e))
}

/// The value of a secret name in XML: `<password>v</password>`, or
/// `<add key="ApiKey" value="v" />` (`name=`/`value=` attributes too).
fn xml_value(text: &str, ns: usize, ne: usize) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    if ns == 0 || ne >= b.len() {
        return None;
    }
    let (s, e) = if b[ns - 1] == b'<' && b[ne] == b'>' {
        let s = ne + 1;
        let limit = (s + 4096).min(b.len());
        let e = s + memchr::memchr2(b'<', b'\n', &b[s..limit])?;
        #[cfg(test)]
        super::testing::add_work(e - s);
        if b[e] != b'<' {
            return None;
        }
        (s, e)
    } else if matches!(b[ns - 1], b'"' | b'\'') && b[ne] == b[ns - 1] {
        let before = &b[ns.saturating_sub(6)..ns - 1];
        let ends = |w: &[u8]| {
            before.len() >= w.len() && before[before.len() - w.len()..].eq_ignore_ascii_case(w)
        };
        let mut i = ne + 1;
        i += skip_blanks(b, i);
        let value_attr = b
            .get(i..i + 6)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"value="));
        if !(ends(b"key=") || ends(b"name=")) || !value_attr {
            return None;
        }
        let q = *b.get(i + 6).filter(|c| matches!(c, b'"' | b'\''))?;
        let s = i + 7;
        let limit = (s + 4096).min(b.len());
        let e = s + memchr::memchr(q, &b[s..limit])?;
        #[cfg(test)]
        super::testing::add_work(e - s);
        (s, e)
    } else {
        return None;
    };
    let kind = name_kind(&text[ns..ne])?;
    let (s, e) = finish_value(text, s, e)?;
    judge(text, s, e, kind)
}

/// ODBC's braced value, `PWD={p;a}ss}`: the password inside the braces
/// (not a template such as `{password}` or `{0}`).
fn braced_password(text: &str, i: usize) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let s = i + 1;
    let limit = (s + 256).min(b.len());
    let e = s + memchr::memchr3(b'}', b'{', b'\n', &b[s..limit])?;
    #[cfg(test)]
    super::testing::add_work(e - s);
    let v = &text[s..e];
    if b[e] != b'}'
        || b.get(s) == Some(&b'{')
        || v.bytes()
            .any(|c| matches!(c, b'"' | b'\'' | b' ' | b'{' | b'\\'))
        || !credential_like(v)
        || is_placeholder(v)
        || is_not_secret_value(v)
    {
        return None;
    }
    Some((s, e))
}

/// `<not set>`, `(set via env)`, `[not set]`: a bracketed placeholder
/// whose words the value parse cut at the first blank.
fn cut_placeholder(b: &[u8], s: usize, e: usize) -> bool {
    let close = match b[s] {
        b'<' => b'>',
        b'(' => b')',
        b'[' => b']',
        _ => return false,
    };
    if b[s..e].contains(&close) {
        return false;
    }
    let limit = (e + 48).min(b.len());
    let rest = &b[e..limit];
    rest.iter()
        .position(|&c| c == close || c == b'\n')
        .is_some_and(|p| {
            rest[p] == close
                && rest[..p]
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b' ' | b'-' | b'_' | b'.'))
        })
}

/// Whether one `name=value` of a Cookie header may hold a secret: its
/// value is not a plain word, a small number or a placeholder
/// (`consent=accepted; theme=dark` holds none).
fn cookie_may_be_secret(cookie: &str) -> bool {
    let value = cookie
        .split_once('=')
        .map_or(cookie, |(_, v)| v)
        .trim_matches('"');
    !(value.is_empty()
        || is_plain_word(value)
        || is_value_word(value)
        || is_placeholder(value)
        || is_not_secret_value(value))
}

/// Long and random enough to be a key under a name that is secret only by
/// convention (`STRIPE_WEBHOOK_KEY`, `license_key`): 16 bytes or more of
/// one token (no blanks, no `:`, not a path), a run of 12 letters and
/// digits or more holding both (`build-48213-main` is a name), no
/// `0x` number, and at least 3 bits of entropy per byte.
fn looks_random(v: &str) -> bool {
    let b = v.as_bytes();
    let alnum_run = b.split(|c| !c.is_ascii_alphanumeric()).any(|r| {
        r.len() >= 12 && r.iter().any(u8::is_ascii_digit) && r.iter().any(u8::is_ascii_alphabetic)
    });
    b.len() >= 16
        && alnum_run
        && !b.iter().any(|c| c.is_ascii_whitespace() || *c == b':')
        && !(b.contains(&b'/') && b.contains(&b'.'))
        && !(b.starts_with(b"0x") && b[2..].iter().all(u8::is_ascii_hexdigit))
        && shannon_entropy(b) >= 3.0
}

/// The length of a curl user flag at `at` (`-u`, `-U`, `--user`,
/// `--proxy-user`), when one is there and a value can follow it.
fn user_flag(b: &[u8], at: usize) -> Option<usize> {
    let rest = &b[at..];
    for (flag, attached) in [
        (&b"--proxy-user"[..], false),
        (b"--user", false),
        (b"-u", true),
        (b"-U", true),
    ] {
        if !rest.starts_with(flag) {
            continue;
        }
        return match rest.get(flag.len()) {
            Some(b' ' | b'\t' | b'"' | b'\'') => Some(flag.len()),
            Some(b'=') if !attached => Some(flag.len()),
            // `-uuser:password`.
            Some(c) if attached && (c.is_ascii_alphanumeric() || *c == b'$') => Some(flag.len()),
            _ => None,
        };
    }
    None
}

/// The password of the `user:password` argument after a curl user flag
/// ending at `i`; with the user alone (`-u KEY:`), the user when it is a
/// random key. Outside a `curl` command (`docker run -u 1000:1000`,
/// `-u app:staff`), only a password holding a digit or a symbol counts.
fn user_password(
    text: &str,
    mut i: usize,
    in_curl: bool,
    arg_end: &mut usize,
) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let limit = (i + 1024).min(b.len());
    // `-u "user:pw"`, `-u=user:pw`, `"-u", "user:pw"` (an argv array).
    if b.get(i) == Some(&b'=') {
        i += 1;
    } else if matches!(b.get(i), Some(b'"' | b'\'')) {
        let q = b[i];
        let mut j = i + 1 + skip_blanks(b, i + 1);
        if b.get(j) != Some(&b',') {
            return None;
        }
        j += 1;
        j += skip_blanks(b, j);
        if b.get(j) != Some(&q) {
            return None;
        }
        i = j;
    }
    i += skip_blanks(b, i);
    let (s, e) = arg_token(b, i, limit)?;
    *arg_end = e;
    #[cfg(test)]
    super::testing::add_work(e - s);
    let Some(colon) = memchr::memchr(b':', &b[s..e]).map(|p| s + p) else {
        // `-u user -p password` (docker login, mysql): the next argument.
        return next_password_flag(text, s, e);
    };
    let (user, pass) = (&text[s..colon], &text[colon + 1..e]);
    if pass.is_empty() {
        return (!is_placeholder(user) && looks_random(user)).then_some((s, colon));
    }
    if pass == user || is_placeholder(pass) || is_value_word(pass) || is_not_secret_value(pass) {
        return None;
    }
    (in_curl || credential_like(pass)).then_some((colon + 1, e))
}

/// `.netrc`'s `machine host login user password secret` on one line: the
/// password after `login <user>`.
fn netrc_password(text: &str, ns: usize, ne: usize) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    if !b[ns..ne].eq_ignore_ascii_case(b"password") || skip_blanks(b, ne) == 0 || ns < 8 {
        return None;
    }
    // Back over ` <user> ` to `login`.
    let before = &b[ns.saturating_sub(256)..ns];
    let mut k = before.len();
    let blanks = |k: &mut usize| {
        let end = *k;
        while *k > 0 && matches!(before[*k - 1], b' ' | b'\t') {
            *k -= 1;
        }
        end > *k
    };
    if !blanks(&mut k) {
        return None;
    }
    let user_end = k;
    while k > 0 && !matches!(before[k - 1], b' ' | b'\t' | b'\n' | b'\r') {
        k -= 1;
    }
    if k == user_end || !blanks(&mut k) || k < 5 || !before[k - 5..k].eq_ignore_ascii_case(b"login")
    {
        return None;
    }
    if k > 5 && before[k - 6].is_ascii_alphanumeric() {
        return None;
    }
    let i = ne + skip_blanks(b, ne);
    let limit = (i + 1024).min(b.len());
    let (s, e) = arg_token(b, i, limit)?;
    #[cfg(test)]
    super::testing::add_work(e - s);
    let v = &text[s..e];
    if e <= s || is_placeholder(v) || is_value_word(v) || is_not_secret_value(v) {
        return None;
    }
    Some((s, e))
}

/// A password outside of a known command: a digit or a symbol, and not a
/// few words joined (`nobody:nogroup`, `app:staff` are a user and a
/// group).
fn credential_like(pass: &str) -> bool {
    pass.bytes().any(|c| !c.is_ascii_alphabetic()) && !is_plain_word(pass)
}

/// One shell argument at `i`: quoted (the span inside the quotes) or bare
/// (up to a blank or a quote, without a closing `;`, `,` or `)`).
fn arg_token(b: &[u8], i: usize, limit: usize) -> Option<(usize, usize)> {
    if let Some(&q) = b.get(i).filter(|c| matches!(c, b'"' | b'\'')) {
        let s = i + 1;
        let e = s + memchr::memchr(q, &b[s..limit])?;
        return Some((s, e));
    }
    let mut e = i;
    while e < limit
        && !matches!(
            b[e],
            b' ' | b'\t' | b'\n' | b'\r' | b'"' | b'\'' | b'`' | b'\\' | b'|'
        )
    {
        e += 1;
    }
    while e > i && matches!(b[e - 1], b';' | b',' | b')') {
        e -= 1;
    }
    Some((i, e))
}

/// After the user argument `b[us..ue]` of `-u`, a `-p password` or
/// `-ppassword` argument right next: the password, when it looks like one.
fn next_password_flag(text: &str, us: usize, ue: usize) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let mut j = ue + usize::from(matches!(b.get(ue), Some(b'"' | b'\'')));
    let ws = skip_blanks(b, j);
    j += ws;
    if ws == 0 || !b[j..].starts_with(b"-p") {
        return None;
    }
    j += 2;
    j += skip_blanks(b, j);
    if matches!(b.get(j), None | Some(b'-' | b'\n' | b'\r')) {
        return None;
    }
    let limit = (j + 1024).min(b.len());
    let (s, e) = arg_token(b, j, limit)?;
    #[cfg(test)]
    super::testing::add_work(e - s);
    let pass = &text[s..e];
    if e <= s
        || pass == &text[us..ue]
        || is_placeholder(pass)
        || is_value_word(pass)
        || is_not_secret_value(pass)
        || !credential_like(pass)
    {
        return None;
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

/// The bytes at which `bare_value` may stop (it checks what follows some).
const MAY_END_VALUE: [bool; 256] = {
    let mut t = [false; 256];
    let ends = b"\n\r\" \t\\&;,";
    let mut i = 0;
    while i < ends.len() {
        t[ends[i] as usize] = true;
        i += 1;
    }
    t
};

fn bare_value(text: &str, s: usize, limit: usize, to_line_end: bool) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let mut j = s;
    while j < limit {
        let c = b[j];
        // Most bytes cannot end a value: one look-up passes them.
        if !MAY_END_VALUE[usize::from(c)] {
            j += 1;
            continue;
        }
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
    #[cfg(test)]
    super::testing::add_work(j - s);
    let mut e = j;
    // The brackets of s..e, counted once when a closing one is first met
    // and kept up to date as the end moves back (counting them again for
    // each trimmed byte was quadratic in a run of `)`).
    let mut brackets: Option<Brackets> = None;
    // `eyJ...`, `AKIA…`: an elided value, not a secret.
    if b[s..e].ends_with(b"...") || b[s..e].ends_with("…".as_bytes()) {
        return None;
    }
    // Trailing punctuation belongs to the sentence, not the value.
    while e > s {
        let c = b[e - 1];
        let trim = match CLOSING.iter().position(|&x| x == c) {
            Some(k) => {
                let n = brackets.get_or_insert_with(|| Brackets::of(&b[s..e]));
                // More closing than opening: this one closes nothing.
                let trim = n.open[k] < n.close[k];
                if trim {
                    n.close[k] -= 1;
                }
                trim
            }
            None => matches!(c, b'.' | b',' | b';' | b':' | b'!' | b'?' | b'\'' | b'`'),
        };
        if trim {
            e -= 1;
        } else {
            break;
        }
    }
    finish_value(text, s, e)
}

const OPENING: [u8; 4] = [b'(', b'[', b'{', b'<'];
const CLOSING: [u8; 4] = [b')', b']', b'}', b'>'];

/// How many of each bracket pair a value holds.
struct Brackets {
    open: [usize; 4],
    close: [usize; 4],
}

impl Brackets {
    fn of(v: &[u8]) -> Brackets {
        #[cfg(test)]
        super::testing::add_work(v.len());
        let mut n = Brackets {
            open: [0; 4],
            close: [0; 4],
        };
        for &c in v {
            if let Some(k) = OPENING.iter().position(|&x| x == c) {
                n.open[k] += 1;
            } else if let Some(k) = CLOSING.iter().position(|&x| x == c) {
                n.close[k] += 1;
            }
        }
        n
    }
}

/// Whether `b` starts with `name=` (a name may hold single spaces, as the
/// keys of a connection string do: `Persist Security Info=False`).
fn next_is_assignment(b: &[u8]) -> bool {
    let mut k = 0;
    while k < b.len()
        && k < 64
        && (b[k].is_ascii_alphanumeric()
            || matches!(b[k], b'_' | b'-' | b'.')
            || (b[k] == b' ' && k > 0 && b[k - 1] != b' '))
    {
        k += 1;
    }
    k > 0
        && k < b.len()
        && b[k] == b'='
        && b[k - 1] != b' '
        && b[0].is_ascii_alphabetic() | (b[0] == b'_')
}

/// Strips an authorization scheme and rejects placeholders and plain words.
fn finish_value(text: &str, s: usize, e: usize) -> Option<(usize, usize)> {
    if e <= s {
        return None;
    }
    let mut s = s;
    let v = &text[s..e];
    // `Bearer%20<token>` (URL-encoded): the secret is after the scheme.
    if let Some(p) = memchr::memchr(b'%', v.as_bytes())
        && v[p..].starts_with("%20")
        && SCHEMES.iter().any(|w| v[..p].eq_ignore_ascii_case(w))
    {
        s += p + 3;
    }
    let v = &text[s..e];
    // `Bearer <token>`: the secret is after the scheme.
    if let Some(sp) = memchr::memchr2(b' ', b'\t', v.as_bytes()) {
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
        // `Basic realm="api"`: a challenge's parameter, not a token.
        return bare_value(text, e + ws, limit, false)
            .filter(|&(ts, te)| ts == e + ws && !challenge_param(b, ts, te));
    }
    let v = &text[s..e];
    if v.is_empty() || is_placeholder(v) || is_value_word(v) {
        return None;
    }
    Some((s, e))
}

/// `scheme://user:password@host`: the password.
pub(super) fn url_password(text: &str, hs: usize) -> Option<(usize, usize)> {
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
    // `guest:guest`, `admin:admin`: a service's default, not a secret.
    if e <= s || is_placeholder(&text[s..e]) || text[s..e] == text[auth_start..colon] {
        return None;
    }
    Some((s, e))
}

/// Oracle's `jdbc:oracle:thin:user/password@host`: the password.
pub(super) fn oracle_thin_password(text: &str, he: usize) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let rest = &b[he..];
    let prefix = b"oracle:thin:";
    if rest.len() < prefix.len() || !rest[..prefix.len()].eq_ignore_ascii_case(prefix) {
        return None;
    }
    let s0 = he + prefix.len();
    let limit = (s0 + 512).min(b.len());
    let mut at = None;
    let mut j = s0;
    while j < limit {
        match b[j] {
            b'@' => {
                at = Some(j);
                break;
            }
            // `:` ends the `user/password@` part (and a next `jdbc:`).
            b' ' | b'\t' | b'\n' | b'\r' | b'"' | b'\'' | b';' | b'(' | b':' => break,
            _ => j += 1,
        }
    }
    #[cfg(test)]
    super::testing::add_work(j - s0);
    let at = at?;
    let slash = s0 + memchr::memchr(b'/', &b[s0..at])?;
    let (s, e) = (slash + 1, at);
    if e <= s || slash == s0 || is_placeholder(&text[s..e]) || is_not_secret_value(&text[s..e]) {
        return None;
    }
    Some((s, e))
}

/// `Bearer <token>`: the token.
pub(super) fn bearer(text: &str, hs: usize, he: usize) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    // `token_type=bearer`: the scheme named as a value.
    if hs > 0 && matches!(b[hs - 1], b'=' | b':') {
        return None;
    }
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
    // `bearer expires_in=3600`: a next `name=value`, not a token (`=`
    // only pads a token's end).
    let body = tok.iter().rposition(|&c| c != b'=').map_or(0, |p| p + 1);
    if tok.len() < 8 || tok[..body].contains(&b'=') {
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

/// The PEM body without the line breaks (real or `\n`-escaped) that frame it.
pub(super) fn trim_pem(
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

#[cfg(test)]
mod tests {
    use crate::detect::RuleSet;
    use crate::detect::testing::{secret, spans, take_work};

    /// The remembered verdicts are the verdicts, whatever the order of the
    /// names, those that share a slot and those too long to remember.
    #[test]
    fn remembered_name_verdicts_are_name_kind_itself() {
        let names = [
            "password",
            "session_id",
            "auth.session",
            "prompt_tokens",
            "token_budget",
            "db_password",
            "x-api-key",
            "max_tokens",
            "authToken",
            "api_key",
            "a",
            "ab",
            "password_reset",
            "PASSWORD",
            "NextToken",
            "public_key",
            "license_key",
            "a_very_long_name_of_a_secret_token",
            "a_very_long_name_of_a_public_id",
            "session",
            "sessio",
            "token",
            "tokens",
            "pass",
            "pas",
        ];
        let mut ctx = super::KvContext::default();
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let name = names[(seed % names.len() as u64) as usize];
            assert_eq!(ctx.name_kind(name), super::name_kind(name), "{name}");
        }
    }

    #[test]
    fn secret_named_keys_mask_only_the_value() {
        assert_eq!(secret("user=bob password=hunter22 ip=1"), vec!["hunter22"]);
        assert_eq!(secret(r#"{"db_password": "p@ss w0rd"}"#), vec!["p@ss w0rd"]);
        assert_eq!(secret("X-Api-Key: 9a7c2654f69d"), vec!["9a7c2654f69d"]);
        assert_eq!(
            secret("AWS_SECRET_ACCESS_KEY='q8Wd3kz0p'"),
            vec!["q8Wd3kz0p"]
        );
        assert_eq!(secret("_authToken=k2x9wq7mzt4v"), vec!["k2x9wq7mzt4v"]);
        assert_eq!(secret("the password=hunter22."), vec!["hunter22"]);
        assert_eq!(secret("(password=hunter22)"), vec!["hunter22"]);
        assert_eq!(
            secret(r#"body={\"password\":\"s3cr3t!\"}"#),
            vec!["s3cr3t!"]
        );
        assert_eq!(secret("--password s3cr3tval"), vec!["s3cr3tval"]);
        assert_eq!(
            secret("Authorization: Token 5d2c9ae07f31b64a"),
            vec!["5d2c9ae07f31b64a"]
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
    fn url_passwords_pem_bodies_and_jwts_are_found() {
        assert_eq!(
            secret("postgres://app:9lstafBh@db:5432/x"),
            vec!["9lstafBh"]
        );
        assert_eq!(secret("redis://:pa:ss@h"), vec!["pa:ss"]);
        let pem = "k -----BEGIN RSA PRIVATE KEY-----\\nMIIEq+/x9ZbT4kQ2vL8w\\nK2bT==\\n-----END RSA PRIVATE KEY----- done";
        assert_eq!(secret(pem), vec!["MIIEq+/x9ZbT4kQ2vL8w\\nK2bT=="]);
        let jwt = "jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U)";
        assert_eq!(
            secret(jwt),
            vec![
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
            ]
        );
    }

    /// Each line holds exactly one finding, of `rule`, whose text is `want`.
    fn assert_one(cases: &[(&str, &str)], rule: &str) {
        for (line, want) in cases {
            assert_eq!(
                spans(line),
                vec![(rule.to_string(), want.to_string())],
                "in {line:?}"
            );
        }
    }

    fn assert_none(lines: &[&str]) {
        for line in lines {
            assert!(spans(line).is_empty(), "{line:?} gave {:?}", spans(line));
        }
    }

    #[test]
    fn curl_user_flags_mask_the_password_only() {
        assert_one(
            &[
                (
                    "+ curl -sS -u deploy:T4v#9qLx2 https://nexus.internal/x",
                    "T4v#9qLx2",
                ),
                ("curl --user ci:Wq7_zK2mP https://api.internal", "Wq7_zK2mP"),
                ("curl --user=ci:Wq7_zK2mP https://api.internal", "Wq7_zK2mP"),
                ("curl -uadmin:Wq7_zK2mP http://localhost:15672", "Wq7_zK2mP"),
                ("curl -u user:pass https://api.internal", "pass"),
                (
                    r#"{"cmd":"curl -u svc:Wq7zK2mPx https://h/x","exit":0}"#,
                    "Wq7zK2mPx",
                ),
                (
                    "  run: curl -fsSL -u \"release:Wq7zK2mPx\" https://h/",
                    "Wq7zK2mPx",
                ),
                (
                    "curl -s -u 'monitor:Wq7zK2mPx' http://grafana:3000",
                    "Wq7zK2mPx",
                ),
                (
                    "curl -U proxy:Wq7zK2mPx --proxy http://p:3128 https://h",
                    "Wq7zK2mPx",
                ),
                ("curl --proxy-user proxy:Wq7zK2mPx https://h", "Wq7zK2mPx"),
                (
                    r#"spawn ["curl", "-u", "bot:Wq7zK2mPx", "https://h"]"#,
                    "Wq7zK2mPx",
                ),
                ("CURL_FLAGS=\"-u builder:Wq7#zK2mPx\"", "Wq7#zK2mPx"),
                (
                    "curl https://api.h/v1 -u q8Wd3kz0pTx7Lm2v: -d x=1",
                    "q8Wd3kz0pTx7Lm2v",
                ),
                (
                    "docker login -u ci -p Wq7zK2mPx9 registry.acme.io",
                    "Wq7zK2mPx9",
                ),
                ("mysql -h db -u root -pR00t_Wq7zK2 orders", "R00t_Wq7zK2"),
            ],
            "secret-named-key",
        );
        assert_none(&[
            "curl -u alice https://api.internal/v1/me",
            "curl -u $USER:$PASS https://api.internal",
            "curl -u \"${NEXUS_USER}:${NEXUS_PASSWORD}\" https://h/",
            "curl -u admin:<password> https://h/",
            "curl -s http://localhost:8080/health -u healthcheck:healthcheck",
            "docker run --rm -u 1000:1000 builder:latest",
            "docker exec -u www-data:www-data app php artisan migrate",
            "docker run -u nobody:nogroup alpine id",
            "docker run -u \"$(id -u):$(id -g)\" node:20 npm ci",
            "git push -u origin main",
            "python -u manage.py runserver",
            "curl --user-agent ci/1.0 https://status.internal/",
            "mysql -u root -p mydb",
            "docker login -u $REGISTRY_USER -p $REGISTRY_PASS registry",
        ]);
    }

    #[test]
    fn other_spellings_of_a_secret_value_are_found() {
        let b64 = "Y2k6V3E3ektMMm1QeDk=";
        assert_one(
            &[
                (
                    "//registry.npmjs.org/:_authToken=3f2c9a0e-7b1d-4e8f-9a6b-2c5d8e1f0a3b",
                    "3f2c9a0e-7b1d-4e8f-9a6b-2c5d8e1f0a3b",
                ),
                ("_authToken = Wq7zK2mPx9Lm4vT8", "Wq7zK2mPx9Lm4vT8"),
                ("_auth=Y2k6V3E3ektMMm1QeDk=", b64),
                (
                    "machine api.acme.io login bot password Wq7zK2mPx9",
                    "Wq7zK2mPx9",
                ),
                ("PGPASSWORD=Wq7zK2mPx9 psql -h db", "Wq7zK2mPx9"),
                ("<password>Wq7zK2mPx9</password>", "Wq7zK2mPx9"),
                (
                    "<add key=\"ApiKey\" value=\"Wq7zK2mPx9Lm4vT8\" />",
                    "Wq7zK2mPx9Lm4vT8",
                ),
                (
                    "Driver={ODBC Driver 18};UID=sa;PWD={Wq7;zK2mPx9};",
                    "Wq7;zK2mPx9",
                ),
                (
                    "Server=db;User ID=svc;Password=Wq7zK2mPx9;Persist Security Info=False",
                    "Wq7zK2mPx9",
                ),
                (
                    "jdbc:postgresql://db:5432/app?user=app&password=Wq7zK2mPx9&ssl=true",
                    "Wq7zK2mPx9",
                ),
                (
                    "jdbc:oracle:thin:scott/Wq7zK2mPx9@db.acme.io:1521:ORCL",
                    "Wq7zK2mPx9",
                ),
                (
                    "authorization=Bearer%20Wq7zK2mPx9Lm4vT8",
                    "Wq7zK2mPx9Lm4vT8",
                ),
                (
                    "STRIPE_WEBHOOK_KEY=Wq7zK2mPx9Lm4vT8aB3cD5eF",
                    "Wq7zK2mPx9Lm4vT8aB3cD5eF",
                ),
                (
                    "  license_key: Wq7zK2mPx9Lm4vT8aB3c",
                    "Wq7zK2mPx9Lm4vT8aB3c",
                ),
                (
                    "> Ocp-Apim-Subscription-Key: 3f2c9a0e7b1d4e8f9a6b2c5d8e1f0a3b",
                    "3f2c9a0e7b1d4e8f9a6b2c5d8e1f0a3b",
                ),
                (
                    "SECRET_KEY_BASE=3f2c9a0e7b1d4e8f9a6b2c5d8e1f0a3b",
                    "3f2c9a0e7b1d4e8f9a6b2c5d8e1f0a3b",
                ),
                (r#"{"db":{"password":"(Wq7zK2mPx9"}}"#, "(Wq7zK2mPx9"),
            ],
            "secret-named-key",
        );
        assert_one(
            &[
                (
                    "mongodb+srv://app:Wq7zK2mPx9@cluster0.k2x9q.mongodb.net/db",
                    "Wq7zK2mPx9",
                ),
                ("amqps://svc:Wq7zK2mPx9@mq.acme.io:5671/prod", "Wq7zK2mPx9"),
                (
                    "REDIS_URL=rediss://default:Wq7zK2mPx9@cache:6380/0",
                    "Wq7zK2mPx9",
                ),
                (
                    "url = postgresql+asyncpg://svc:Wq7zK2mPx9@db:5432/app",
                    "Wq7zK2mPx9",
                ),
                ("jdbc:mysql://app:Wq7zK2mPx9@db:3306/shop", "Wq7zK2mPx9"),
                ("sftp://deploy:Wq7zK2mPx9@files.acme.io/in", "Wq7zK2mPx9"),
                ("smtp://mailer:Wq7zK2mPx9@smtp.acme.io:587", "Wq7zK2mPx9"),
                (
                    "\"ldaps://reader:Wq7zK2mPx9@ldap.acme.io:636\"",
                    "Wq7zK2mPx9",
                ),
            ],
            "url-password",
        );
        assert_none(&[
            "postgres://app@db.internal:5432/orders",
            "postgres://app:<password>@db/x",
            "postgres://app:${DB_PASS}@db/x",
            "amqp://guest:guest@localhost:5672/",
            "mongodb://user:password@localhost:27017/test",
            "redis://default:%s@%s:%d/0",
            "jdbc:oracle:thin:@db.acme.io:1521:ORCL",
            "PWD={password};Server=db",
            "<password>${DB_PASSWORD}</password>",
            "machine h login bot password ${NETRC_PASS}",
            "cache_key=9f8e7d6c5b4a39281706f5e4d3c2b1a0 BUILD_KEY=build-48213-main",
            "GPG_KEY=0xA1B2C3D4E5F60718 lock_key=job:nightly:2025-03-01",
            "NextToken: AQICAHjq8nZr1W5xw3bd2UuS9yHkLmP0v7TqYcRf",
            "Authorization: Basic realm=\"api\"",
            "token_type=bearer expires_in=3600",
            "cookie: consent=accepted; theme=dark",
        ]);
    }

    #[test]
    fn references_code_and_placeholders_under_secret_names_are_not_findings() {
        assert_none(&[
            "passwd: !vault |",
            "password: *db_password",
            "password: >-",
            "password: ENC[AES256_GCM,data:Tr7o=,iv:1=,tag:k=,type:str]",
            "password=vault:secret/data/prod/db#password",
            "secret=arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
            "password=projects/acme/secrets/db/versions/latest token=op://Eng/GitHub/credential",
            "password: /run/secrets/db_password key_file=/etc/ssl/key.pem",
            "password=process.env.DB_PASSWORD",
            "password = os.environ['DB_PASSWORD']",
            "password = os.getenv(\"DB_PASSWORD\")",
            "let token = std::env::var(\"TOKEN\")?;",
            "password = getpass.getpass() password = user.password",
            "password=null password=None password=0 password=3600 password=-1",
            "password=DUMMY api_key=EXAMPLE token=%s secret=${VAR:=x}",
            "password=1234567890 token=abcdefghijklmnop secret=aaaaaaaa",
            "Authorization: Bearer <redacted>",
            "Authorization: Bearer %s",
            "password: ******** password=•••••••• password=XXXX-XXXX",
            "token=[REDACTED] secret=[FILTERED] api_key=<hidden> password=(hidden)",
            "password=<not set> password: (set via env)",
            "token=eyJ... api_key=AKIA...",
            "token=sha256:52d3a23d2e33a2b1ef0c300fec088294a955743b4e1e3ad23351180f5e59cdf5",
            "auth=oauth2 session=new secret: db-credentials token=expired",
            "password=notset password=invalid password=too_short",
            "dsn=postgres://app@db:5432/app",
        ]);
    }

    #[test]
    fn random_values_under_secret_names_are_found_in_every_context() {
        // The not-a-secret checks (words, code, paths, templates) must
        // not take values drawn at random.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let alphabets: [&[u8]; 6] = [
            ALNUM,
            b"abcdefghijklmnopqrstuvwxyz0123456789",
            b"0123456789abcdef",
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#%^*_-+.~()",
        ];
        for round in 0..3000 {
            let alphabet = alphabets[round % alphabets.len()];
            let len = 12 + next(37);
            let mut v: String = (0..len - 1)
                .map(|_| alphabet[next(alphabet.len())] as char)
                .collect();
            // Sentence punctuation at the end is not part of a value.
            v.push(ALNUM[next(ALNUM.len())] as char);
            let name = [
                "password",
                "token",
                "client_secret",
                "X-Auth-Token",
                "api_key",
            ][next(5)];
            let line = match round % 5 {
                0 => format!("2025-03-01 DEBUG {name}={v} status=200"),
                1 => format!(r#"{{"{name}":"{v}"}}"#),
                2 => format!("  {name}: {v}"),
                3 => format!("> {name}: {v}"),
                _ => format!("export {}=\"{v}\"", name.to_uppercase().replace('-', "_")),
            };
            let found = spans(&line);
            assert!(found.iter().any(|(_, s)| *s == v), "{line}: {found:?}");
        }
    }

    /// The work of finding in `text` (see `testing::add_work`).
    fn work(text: &str) -> u64 {
        take_work();
        let mut out = Vec::new();
        RuleSet::builtin().find(text, &mut out);
        take_work()
    }

    #[test]
    fn dense_lines_of_the_parser_keywords_cost_work_linear_in_their_length() {
        for unit in [
            "-u a:b1 ",
            "curl -u a:b1 ",
            "curl ",
            "-ua",
            "-u ",
            "-u \"",
            "-u \"a:b1\" ",
            "--user=",
            "--user a ",
            "--proxy-user a:b1 ",
            "-u a -p b1 ",
            "-u a -p",
            "jdbc:",
            "jdbc:oracle:thin:a/",
            "jdbc:oracle:thin:a/b1@h ",
            "_authToken=x1 ",
            "//r/:_authToken = x1y2 ",
            "_key=",
            "X_KEY=a1b2c3d4e5f6g7h8i9 ",
            "PWD={",
            "PWD={a1;b}",
            "<password>",
            "<password>a1b2</password>",
            "login a password b1 ",
            "key=\"password\" value=\"a1\" ",
            "password=<not ",
            "cookie: a=b; ",
            "token=eyJ... ",
        ] {
            let n = 16_000 / unit.len();
            let (short, long) = (unit.repeat(n), unit.repeat(2 * n));
            let w = [work(&short), work(&long)];
            // Twice the text, at most twice the work, plus what a hit near
            // the end may read past the shorter text (two windows of the
            // widest rule, as in `memo.rs`).
            assert!(w[1] <= 2 * w[0] + 2 * 65_600, "{unit:?}: work {w:?}");
            let per_byte = w[1] as f64 / long.len() as f64;
            assert!(
                per_byte <= 16.0,
                "{unit:?}: {per_byte:.1} bytes read per byte"
            );
        }
    }
}
