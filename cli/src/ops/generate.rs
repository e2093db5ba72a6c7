//! Random values for `rotate --generate N`: N characters drawn uniformly
//! from a charset with `rand`'s thread generator (ChaCha, seeded from the
//! operating system's generator and reseeded by it).

use rand::Rng;
use secret_chain::{Error, ErrorKind, SecretString};

/// The fewest characters `--generate` makes.
pub(crate) const MIN_LENGTH: usize = 8;
/// The most characters `--generate` makes.
pub(crate) const MAX_LENGTH: usize = 4096;

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// Symbols that need no quoting in a URL's user info, a shell word inside
/// double quotes or a `.env` line: no quotes, `\`, `$`, `` ` ``, `#`,
/// `/`, `:` or `@`.
const SYMBOLS: &str = "!%*+,-.=?^_~";
const HEX: &str = "0123456789abcdef";

/// The characters of `--charset`: `alnum`, `alnum-symbols`, `hex`, or any
/// other text as the set of its own characters (at least two distinct).
///
/// # Errors
///
/// [`ErrorKind::Config`] for a literal set with fewer than two distinct
/// characters or with a control character.
pub(crate) fn charset(spec: &str) -> Result<Vec<char>, Error> {
    let chars: Vec<char> = match spec {
        "alnum" => ALNUM.chars().collect(),
        "alnum-symbols" => ALNUM.chars().chain(SYMBOLS.chars()).collect(),
        "hex" => HEX.chars().collect(),
        literal => {
            if literal.chars().any(char::is_control) {
                return Err(Error::config(
                    "--charset: a literal set may not hold control characters",
                ));
            }
            let mut set: Vec<char> = literal.chars().collect();
            set.sort_unstable();
            set.dedup();
            set
        }
    };
    if chars.len() < 2 {
        return Err(Error::config(
            "--charset: alnum, alnum-symbols, hex, or the characters to draw from (at least two distinct)",
        ));
    }
    Ok(chars)
}

/// `length` characters drawn uniformly from `chars`.
///
/// # Errors
///
/// [`ErrorKind::Config`] when `length` is outside
/// [`MIN_LENGTH`]..=[`MAX_LENGTH`].
pub(crate) fn generate(length: usize, chars: &[char]) -> Result<SecretString, Error> {
    if !(MIN_LENGTH..=MAX_LENGTH).contains(&length) {
        return Err(Error::new(
            ErrorKind::Config,
            format!("--generate: the length must be {MIN_LENGTH} to {MAX_LENGTH}, not {length}"),
        ));
    }
    let mut rng = rand::rng();
    let value: String = (0..length)
        .map(|_| chars[rng.random_range(0..chars.len())])
        .collect();
    Ok(SecretString::from(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secret_chain::ExposeSecret;

    #[test]
    fn named_charsets_hold_what_they_say() {
        assert_eq!(charset("alnum").unwrap().len(), 62);
        assert_eq!(charset("alnum-symbols").unwrap().len(), 62 + SYMBOLS.len());
        assert_eq!(charset("hex").unwrap(), HEX.chars().collect::<Vec<_>>());
        assert_eq!(charset("abca").unwrap(), ['a', 'b', 'c']);
        for bad in ["", "a", "aaaa", "ab\n"] {
            assert_eq!(
                charset(bad).unwrap_err().kind(),
                ErrorKind::Config,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn values_have_the_length_and_only_the_characters_asked_for() {
        for spec in ["alnum", "alnum-symbols", "hex", "xyz"] {
            let chars = charset(spec).unwrap();
            let v = generate(64, &chars).unwrap();
            let v = v.expose_secret();
            assert_eq!(v.chars().count(), 64);
            assert!(v.chars().all(|c| chars.contains(&c)), "{spec}");
        }
        let hex = charset("hex").unwrap();
        let a = generate(32, &hex).unwrap();
        let b = generate(32, &hex).unwrap();
        assert_ne!(a.expose_secret(), b.expose_secret());
        // Every character turns up in a long enough value.
        let long = generate(MAX_LENGTH, &hex).unwrap();
        assert!(hex.iter().all(|c| long.expose_secret().contains(*c)));
        for bad in [0, MIN_LENGTH - 1, MAX_LENGTH + 1] {
            assert!(generate(bad, &hex).is_err(), "{bad}");
        }
    }

    #[test]
    fn symbols_need_no_quoting() {
        let symbols = charset("alnum-symbols").unwrap();
        for c in ['"', '\'', '\\', '$', '`', '#', '/', ':', '@', ' '] {
            assert!(!symbols.contains(&c), "{c}");
        }
    }
}
