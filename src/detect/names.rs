//! Secret names: whether a key or field name (`db_password`, `x-api-key`,
//! `authToken`) names a secret, judged by its last name segment or last
//! two, and how strongly ([`NameKind`]): a password takes any value, a
//! token or secret a value that is not a plain word, and a name that is
//! secret only by convention (`STRIPE_WEBHOOK_KEY`) a long random one.

/// Words that make a key name secret when they are its last name segment
/// (matched by [`is_secret_last`]; a test checks that both agree).
#[cfg(test)]
const SECRET_LAST: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "pass",
    "passphrase",
    "secret",
    "token",
    "credential",
    "credentials",
    "auth",
    "authorization",
    "cookie",
    "session",
    "dsn",
    "apikey",
    "accesskey",
    "privatekey",
    "secretkey",
    "authtoken",
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "clientsecret",
    "connectionstring",
    "connstr",
];

/// Pairs of last two segments that make a key name secret.
const SECRET_PAIRS: &[(&str, &str)] = &[
    ("api", "key"),
    ("access", "key"),
    ("private", "key"),
    ("secret", "key"),
    ("connection", "string"),
    ("conn", "string"),
    ("session", "key"),
    ("signing", "key"),
    ("encryption", "key"),
    ("master", "key"),
    ("auth", "key"),
    ("app", "key"),
    ("account", "key"),
    ("subscription", "key"),
    ("key", "base"),
];

/// Segments before a last `token` that make it a position, not a
/// credential: AWS and Google pagination (`NextToken`, `nextPageToken`),
/// idempotency (`ClientToken`), sync and resume markers.
const NOT_CREDENTIAL_TOKENS: &[&str] = &[
    "next",
    "page",
    "continuation",
    "pagination",
    "cursor",
    "sync",
    "resume",
    "client",
    "idempotency",
    "change",
    "marker",
];

/// Segments before a last `key` that make it a lookup key rather than a
/// secret (`cache_key`, `partition_key`, `public_key`, `s3_key`).
const NOT_SECRET_KEYS: &[&str] = &[
    "cache",
    "idempotency",
    "partition",
    "sort",
    "primary",
    "foreign",
    "unique",
    "composite",
    "object",
    "s3",
    "blob",
    "file",
    "routing",
    "dedup",
    "dedupe",
    "public",
    "publishable",
    "lookup",
    "hash",
    "group",
    "message",
    "msg",
    "trace",
    "request",
    "event",
    "shard",
    "bucket",
    "registry",
    "metric",
    "label",
    "kms",
    "row",
    "column",
    "index",
    "map",
    "search",
    "query",
    "config",
    "setting",
    "translation",
    "i18n",
    "locale",
    "field",
    "attribute",
    "attr",
    "redis",
    "state",
    "table",
    "item",
    "record",
    "entity",
    "resource",
    "asset",
    "sharding",
    "join",
    "hot",
    "short",
    "env",
    "commit",
    "build",
    "host",
    "ssh",
    "gpg",
    "pgp",
    "fingerprint",
    "lock",
    "uuid",
    "store",
    "version",
    "prefix",
    "sequence",
    "tracking",
    "checksum",
    "digest",
    "etag",
    "content",
    "route",
    "rate",
    "limit",
    "tenant",
    "user",
];

/// How strongly a key name says that its value is a secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NameKind {
    /// `password`, `passwd`, `pwd`, `passphrase`: any value that is not a
    /// placeholder, even a plain word.
    Password,
    /// `token`, `secret`, `api_key`, `pass`, ...: a value that is not a
    /// plain word (`auth=oauth2`, `secret: db-credentials`, `pass=ok` name
    /// a method, an object, a result).
    Secret,
    /// Secret only by convention: a last `key` or `pat` after a name
    /// (`STRIPE_WEBHOOK_KEY`, `license_key`, `ADO_PAT`): only a long,
    /// random value.
    Weak,
}

/// Whether a key or field name is secret-named: its last name segment (or
/// last two) is a secret word. Segments split on `_`, `-`, `.`, spaces and
/// camelCase, so `db_password`, `x-api-key`, `AWS_SECRET_ACCESS_KEY`,
/// `authToken` are secret, while `max_tokens`, `token_count`,
/// `password_reset`, `key_id`, `public_key`, `api_version` and the
/// pagination `NextToken` are not.
pub fn is_secret_name(name: &str) -> bool {
    matches!(name_kind(name), Some(NameKind::Password | NameKind::Secret))
}

/// What a key name says about its value: see [`NameKind`]; `None` for a
/// name that is not secret.
pub(super) fn name_kind(name: &str) -> Option<NameKind> {
    let bytes = name.as_bytes();
    let (s, e) = last_segment(bytes, bytes.len())?;
    // Compare lowercase copies on the stack (no word is longer than 16).
    let mut last = [0u8; 16];
    let last = fold_into(&bytes[s..e], &mut last)?;
    // Only `...key`, `...string`, `...token`, `...pat` and `...base`
    // need the segment before.
    let needs_prev = matches!(last, b"key" | b"string" | b"token" | b"pat" | b"base");
    if !needs_prev {
        if !is_secret_last(last) {
            return secret_suffix(last);
        }
        // (`pass` alone is also a test result: `pass=ok` is no password.)
        let password = matches!(last, b"password" | b"passwd" | b"pwd" | b"passphrase");
        return Some(if password {
            NameKind::Password
        } else {
            NameKind::Secret
        });
    }
    let mut prev_buf = [0u8; 16];
    let prev = last_segment(bytes, s).and_then(|(ps, pe)| fold_into(&bytes[ps..pe], &mut prev_buf));
    let is = |list: &[&str]| prev.is_some_and(|p| list.iter().any(|w| w.as_bytes() == p));
    match last {
        b"token" => (!is(NOT_CREDENTIAL_TOKENS)).then_some(NameKind::Secret),
        b"base" => prev
            .is_some_and(|p| p == b"key" && last_segment(bytes, s).is_some())
            .then_some(NameKind::Secret),
        b"pat" => prev.is_some().then_some(NameKind::Weak),
        _ => {
            if prev.is_some_and(|p| {
                SECRET_PAIRS
                    .iter()
                    .any(|(a, b)| a.as_bytes() == p && b.as_bytes() == last)
            }) {
                Some(NameKind::Secret)
            } else if last == b"key" && prev.is_some() && !is(NOT_SECRET_KEYS) {
                Some(NameKind::Weak)
            } else {
                None
            }
        }
    }
}

/// The last name segment of `bytes[..end]`, found from the end: a segment
/// boundary is a separator or a lowercase-to-uppercase step.
fn last_segment(bytes: &[u8], mut end: usize) -> Option<(usize, usize)> {
    let mut j = end;
    while j > 0 {
        j -= 1;
        let c = bytes[j];
        if matches!(
            c,
            b'_' | b'-' | b'.' | b' ' | b'/' | b':' | b'[' | b']' | b'"' | b'\''
        ) {
            if end > j + 1 {
                return Some((j + 1, end));
            }
            end = j;
        } else if c.is_ascii_uppercase() && j > 0 && bytes[j - 1].is_ascii_lowercase() {
            return Some((j, end));
        }
    }
    (end > 0).then_some((0, end))
}

/// Whether a lowercase segment is in [`SECRET_LAST`] (a `match`: the
/// compiler switches on the length first).
fn is_secret_last(w: &[u8]) -> bool {
    matches!(
        w,
        b"password"
            | b"passwd"
            | b"pwd"
            | b"pass"
            | b"passphrase"
            | b"secret"
            | b"token"
            | b"credential"
            | b"credentials"
            | b"auth"
            | b"authorization"
            | b"cookie"
            | b"session"
            | b"dsn"
            | b"apikey"
            | b"accesskey"
            | b"privatekey"
            | b"secretkey"
            | b"authtoken"
            | b"accesstoken"
            | b"refreshtoken"
            | b"idtoken"
            | b"clientsecret"
            | b"connectionstring"
            | b"connstr"
    )
}

/// One segment that ends in a secret word after other letters
/// (`PGPASSWORD`, `rootpassword`, `webhooksecret`, `githubtoken`), but not
/// a pagination `nexttoken`.
fn secret_suffix(last: &[u8]) -> Option<NameKind> {
    for (word, kind) in [
        (&b"password"[..], NameKind::Password),
        (b"passwd", NameKind::Password),
        (b"secret", NameKind::Secret),
        (b"token", NameKind::Secret),
    ] {
        if last.len() > word.len() && last.ends_with(word) {
            let head = &last[..last.len() - word.len()];
            let paging = NOT_CREDENTIAL_TOKENS.iter().any(|w| w.as_bytes() == head);
            return (!(word == b"token" && paging)).then_some(kind);
        }
    }
    None
}

/// `word` in ASCII lowercase in `buf`, or `None` when it does not fit.
fn fold_into<'b>(word: &[u8], buf: &'b mut [u8; 16]) -> Option<&'b [u8]> {
    let out = buf.get_mut(..word.len())?;
    for (d, s) in out.iter_mut().zip(word) {
        *d = s.to_ascii_lowercase();
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The forward definition of [`is_secret_name`]: split the whole name,
    /// compare the last two segments.
    fn secret_name_by_splitting(name: &str) -> bool {
        let mut segs: Vec<String> = Vec::new();
        let mut cur = String::new();
        let b = name.as_bytes();
        for (i, ch) in name.char_indices() {
            let c = b[i];
            if matches!(
                c,
                b'_' | b'-' | b'.' | b' ' | b'/' | b':' | b'[' | b']' | b'"' | b'\''
            ) {
                segs.push(std::mem::take(&mut cur));
            } else {
                if c.is_ascii_uppercase() && i > 0 && b[i - 1].is_ascii_lowercase() {
                    segs.push(std::mem::take(&mut cur));
                }
                cur.push(ch);
            }
        }
        segs.push(cur);
        segs.retain(|s| !s.is_empty());
        let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
        let suffix = |w: &str| {
            ["password", "passwd", "secret", "token"].iter().any(|s| {
                w.len() > s.len()
                    && w.ends_with(s)
                    && !(*s == "token" && NOT_CREDENTIAL_TOKENS.contains(&&w[..w.len() - 5]))
            })
        };
        match lower.as_slice() {
            [] => false,
            [.., last]
                if last.len() <= 16
                    && !SECRET_LAST.contains(&last.as_str())
                    && !matches!(last.as_str(), "key" | "string" | "token" | "pat" | "base")
                    && suffix(last) =>
            {
                true
            }
            [.., prev, last]
                if last == "token" && NOT_CREDENTIAL_TOKENS.contains(&prev.as_str()) =>
            {
                false
            }
            [.., last] if SECRET_LAST.contains(&last.as_str()) => true,
            [.., prev, last] => SECRET_PAIRS.iter().any(|(a, b)| a == prev && b == last),
            _ => false,
        }
    }

    #[test]
    fn secret_name_check_from_the_end_agrees_with_splitting_the_whole_name() {
        let parts = [
            "api",
            "Key",
            "_",
            "-",
            ".",
            "password",
            "PASS",
            "word",
            "x",
            "token",
            "Token",
            "s",
            "session",
            "é",
            "::",
            "connection",
            "String",
            "next",
            "Page",
            "cache",
            "auth",
            "A",
            "key",
            " ",
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut name = String::new();
            for _ in 0..(state % 5 + 1) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                name.push_str(parts[(state % parts.len() as u64) as usize]);
            }
            assert_eq!(
                is_secret_name(&name),
                secret_name_by_splitting(&name),
                "{name:?}"
            );
        }
    }

    #[test]
    fn the_secret_word_match_holds_exactly_the_listed_words() {
        for w in SECRET_LAST {
            assert!(is_secret_last(w.as_bytes()), "{w}");
        }
        let arms = include_str!("names.rs")
            .split("fn is_secret_last")
            .nth(1)
            .unwrap()
            .split('}')
            .next()
            .unwrap()
            .matches("b\"")
            .count();
        assert_eq!(arms, SECRET_LAST.len());
    }

    #[test]
    fn secret_names_split_on_segments_and_camel_case() {
        for n in [
            "password",
            "db_password",
            "x-api-key",
            "AWS_SECRET_ACCESS_KEY",
            "authToken",
            "apiKey",
            "jdbc.password",
            "client_secret",
            "Set-Cookie",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in [
            "max_tokens",
            "token_count",
            "password_reset",
            "key_id",
            "public_key",
            "api_version",
            "key",
            "oauth",
            "author",
        ] {
            assert!(!is_secret_name(n), "{n}");
        }
    }

    #[test]
    fn names_say_how_strongly_their_value_is_a_secret() {
        use NameKind::{Password, Secret, Weak};
        for (name, want) in [
            ("password", Some(Password)),
            ("DB_PASS", Some(Secret)),
            ("PGPASSWORD", Some(Password)),
            ("passphrase", Some(Password)),
            ("smtp_pwd", Some(Password)),
            ("client_secret", Some(Secret)),
            ("x-api-key", Some(Secret)),
            ("_authToken", Some(Secret)),
            ("SECRET_KEY_BASE", Some(Secret)),
            ("Ocp-Apim-Subscription-Key", Some(Secret)),
            ("githubtoken", Some(Secret)),
            ("STRIPE_WEBHOOK_KEY", Some(Weak)),
            ("license_key", Some(Weak)),
            ("ADO_PAT", Some(Weak)),
            ("NextToken", None),
            ("nextPageToken", None),
            ("ClientToken", None),
            ("nexttoken", None),
            ("cache_key", None),
            ("public_key", None),
            ("partition_key", None),
            ("commit_key", None),
            ("key", None),
            ("pat", None),
            ("path", None),
            ("passwordless", None),
            ("password_reset", None),
            ("oauth", None),
        ] {
            assert_eq!(name_kind(name), want, "{name}");
        }
    }
}
