//! A snapshot of the environment that every part of the crate reads its
//! settings from: the chain's configuration, each provider's own variables
//! and the masking registry's.
//!
//! It is a leaf: it imports nothing of ours but the error type, so that
//! providers and masking can take it without depending on the chain. It is
//! read once (from the process environment, or from a map a test injects)
//! and never written back: the process environment is never modified.
//!
//! Getters trim the value and treat an empty one as unset. A bad value is an
//! error naming the variable and what was expected, never echoing the value
//! (a mistyped variable may hold a secret).
//!
//! # Example
//!
//! ```
//! use secret_chain::settings::Settings;
//!
//! let s = Settings::from_vars([("SECRETS_VAULT_TIMEOUT_MS", " 2500 "), ("DEPLOYMENT_ENV", "")]);
//! assert_eq!(s.u64("SECRETS_VAULT_TIMEOUT_MS", 5000, "a whole number of milliseconds")?, 2500);
//! assert_eq!(s.deployment_env(), "local");
//! # Ok::<(), secret_chain::Error>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use crate::error::Error;

/// Deployment environments (`DEPLOYMENT_ENV`) counted as local work: the
/// `env` provider and plain `http://` backends are allowed there.
pub const LOCAL_DEPLOYMENTS: &[&str] = &["local", "dev", "development", "test"];

/// Environment variables, read once. `Debug` prints the names, never a value.
#[derive(Clone, Default)]
pub struct Settings {
    vars: HashMap<String, String>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = self.vars.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("Settings").field("names", &names).finish()
    }
}

impl Settings {
    /// The process environment (variables that are not valid UTF-8 are
    /// left out).
    pub fn from_process_env() -> Settings {
        Settings::from_vars(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    /// An injected set of variables (tests, or a configuration of your own).
    pub fn from_vars<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> Settings
    where
        K: Into<String>,
        V: Into<String>,
    {
        Settings {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// A variable, trimmed; `None` when unset or blank.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }

    /// The first of `names` that is set, with the name it was read from.
    pub fn first(&self, names: &[&'static str]) -> Option<(&str, &'static str)> {
        names.iter().find_map(|n| self.var(n).map(|v| (v, *n)))
    }

    /// Every variable as it was given (untrimmed), for the env provider.
    pub(crate) fn raw_vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// A whole number, or `default` when unset.
    ///
    /// # Errors
    ///
    /// A configuration error `"{name} must be {unit}"` when it is not one.
    pub fn u64(&self, name: &str, default: u64, unit: &str) -> Result<u64, Error> {
        match self.var(name) {
            Some(s) => s
                .parse::<u64>()
                .map_err(|_| Error::config(format!("{name} must be {unit}"))),
            None => Ok(default),
        }
    }

    /// A count that fits in `u32`, or `default` when unset.
    ///
    /// # Errors
    ///
    /// A configuration error naming the variable.
    pub fn u32(&self, name: &str, default: u32) -> Result<u32, Error> {
        match self.var(name) {
            Some(s) => s
                .parse::<u32>()
                .map_err(|_| Error::config(format!("{name} must be a whole number"))),
            None => Ok(default),
        }
    }

    /// A duration given in whole seconds, or `default` when unset.
    ///
    /// # Errors
    ///
    /// A configuration error naming the variable.
    pub fn seconds(&self, name: &str, default: Duration) -> Result<Duration, Error> {
        self.u64(name, default.as_secs(), "a whole number of seconds")
            .map(Duration::from_secs)
    }

    /// A duration given in whole milliseconds, or `default` when unset.
    ///
    /// # Errors
    ///
    /// A configuration error naming the variable.
    pub fn millis(&self, name: &str, default: Duration) -> Result<Duration, Error> {
        let default_ms = u64::try_from(default.as_millis()).unwrap_or(u64::MAX);
        self.u64(name, default_ms, "a whole number of milliseconds")
            .map(Duration::from_millis)
    }

    /// A boolean (`true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`, any
    /// case), or `default` when unset.
    ///
    /// # Errors
    ///
    /// A configuration error `"{name} must be true or false"`.
    pub fn bool(&self, name: &str, default: bool) -> Result<bool, Error> {
        match self.var(name) {
            Some(s) => match s.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" => Ok(false),
                _ => Err(Error::config(format!("{name} must be true or false"))),
            },
            None => Ok(default),
        }
    }

    /// The prefix of backend secret names (`SECRETS_PREFIX`), trimmed;
    /// empty when unset.
    pub fn prefix(&self) -> &str {
        self.var("SECRETS_PREFIX").unwrap_or("")
    }

    /// `DEPLOYMENT_ENV`, lower-cased; `local` when unset.
    pub fn deployment_env(&self) -> String {
        self.var("DEPLOYMENT_ENV")
            .map(str::to_ascii_lowercase)
            .unwrap_or_else(|| "local".to_owned())
    }

    /// Whether `DEPLOYMENT_ENV` is one of [`LOCAL_DEPLOYMENTS`].
    pub fn is_local_deployment(&self) -> bool {
        LOCAL_DEPLOYMENTS.contains(&self.deployment_env().as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_values_read_as_unset_and_values_are_trimmed() {
        let s = Settings::from_vars([("A", "  "), ("B", " x ")]);
        assert_eq!(s.var("A"), None);
        assert_eq!(s.var("B"), Some("x"));
        assert_eq!(s.first(&["A", "B"]), Some(("x", "B")));
    }

    #[test]
    fn bad_numbers_and_booleans_name_the_variable_not_the_value() {
        let s = Settings::from_vars([("N", "s3cr3t-n"), ("F", "s3cr3t-f")]);
        let e = s.u64("N", 1, "a whole number of seconds").unwrap_err();
        assert_eq!(e.to_string(), "N must be a whole number of seconds");
        let e = s.bool("F", false).unwrap_err();
        assert_eq!(e.to_string(), "F must be true or false");
        assert!(s.u32("N", 1).unwrap_err().to_string().contains('N'));
    }

    #[test]
    fn booleans_accept_the_usual_spellings() {
        for (v, want) in [
            ("TRUE", true),
            ("on", true),
            ("1", true),
            ("No", false),
            ("off", false),
        ] {
            assert_eq!(
                Settings::from_vars([("F", v)]).bool("F", !want).unwrap(),
                want,
                "{v}"
            );
        }
    }

    #[test]
    fn deployment_defaults_to_local_and_is_case_folded() {
        assert!(Settings::default().is_local_deployment());
        let s = Settings::from_vars([("DEPLOYMENT_ENV", "Production")]);
        assert_eq!(s.deployment_env(), "production");
        assert!(!s.is_local_deployment());
    }

    #[test]
    fn debug_prints_names_only() {
        let s = Settings::from_vars([("SOME_TOKEN", "tok-very-secret-1")]);
        let d = format!("{s:?}");
        assert!(
            d.contains("SOME_TOKEN") && !d.contains("tok-very-secret-1"),
            "{d}"
        );
    }
}
