//! The SSRF token: every request but `/ping` must carry it in one of the
//! `ssrf_headers`. Read from the first of `ssrf_env_variables` that is set;
//! a value `file:///path` names a file that holds it (a Kubernetes
//! `emptyDir` shared with the service), read again on SIGHUP.

use std::sync::Arc;

use arc_swap::ArcSwap;
use secret_chain::{Error, ExposeSecret, SecretString};

/// The token now, swapped whole when it is read again.
#[derive(Debug)]
pub(crate) struct Token {
    current: ArcSwap<SecretString>,
    variables: Vec<String>,
}

impl Token {
    /// Reads the token from the first of `variables` that is set.
    ///
    /// # Errors
    ///
    /// A configuration error naming the variables, or the file and why it
    /// cannot be read; never the token.
    pub(crate) fn load(variables: &[String]) -> Result<Token, Error> {
        let value = read(variables)?;
        Ok(Token {
            current: ArcSwap::from_pointee(value),
            variables: variables.to_vec(),
        })
    }

    /// Reads the token again (SIGHUP); keeps the old one when that fails.
    ///
    /// # Errors
    ///
    /// As [`load`](Self::load).
    pub(crate) fn reload(&self) -> Result<(), Error> {
        self.current.store(Arc::new(read(&self.variables)?));
        Ok(())
    }

    /// Whether `presented` is the token, in time independent of where the
    /// two first differ.
    pub(crate) fn matches(&self, presented: &[u8]) -> bool {
        let current = self.current.load();
        constant_time_eq(current.expose_secret().as_bytes(), presented)
    }

    /// The token, for the masking registry.
    pub(crate) fn value(&self) -> SecretString {
        SecretString::clone(&self.current.load())
    }
}

fn read(variables: &[String]) -> Result<SecretString, Error> {
    let Some((name, value)) = variables
        .iter()
        .find_map(|n| std::env::var(n).ok().map(|v| (n, v)))
    else {
        return Err(Error::config(format!(
            "no SSRF token: set one of {} (a value `file:///path` reads the token from that file)",
            variables.join(", ")
        )));
    };
    let value = SecretString::from(value);
    let Some(file) = value.expose_secret().strip_prefix("file://") else {
        if value.expose_secret().trim().is_empty() {
            return Err(Error::config(format!("the SSRF token in {name} is empty")));
        }
        return Ok(value);
    };
    let text = std::fs::read_to_string(file).map_err(|e| {
        Error::config(format!(
            "cannot read the SSRF token file {file} (from {name}): {e}"
        ))
    })?;
    let text = zeroize::Zeroizing::new(text);
    let token = text.trim();
    if token.is_empty() {
        return Err(Error::config(format!(
            "the SSRF token file {file} (from {name}) is empty"
        )));
    }
    Ok(SecretString::from(token.to_owned()))
}

/// Compares without an early exit on the first difference. Written here:
/// it is four lines, and no crate of ours offers it (ring's is
/// deprecated).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn equal_bytes_match_and_any_difference_does_not() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
