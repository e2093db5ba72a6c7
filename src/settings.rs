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
//! ## Named instances
//!
//! A chain can hold several providers of one kind under their own names (a
//! primary and a DR Vault). [`Settings::for_instance`] gives each its view:
//! every setting is read first with the instance's name inserted after
//! `SECRETS_`, then as itself. For an instance `dr`, `VAULT_ADDR` is read
//! from `SECRETS_DR_VAULT_ADDR` then `VAULT_ADDR`, and `SECRETS_VAULT_MOUNT`
//! from `SECRETS_DR_VAULT_MOUNT` then `SECRETS_VAULT_MOUNT`
//! ([`instance_prefix`] spells the name). The deployment settings
//! (`DEPLOYMENT_ENV`, `SECRETS_ALLOW_ENV_FALLBACK`) belong to the process and
//! are never read per instance.
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
//!
//! The view of an instance `dr` of the Vault provider:
//!
//! ```
//! use secret_chain::settings::Settings;
//!
//! let s = Settings::from_vars([
//!     ("VAULT_ADDR", "https://vault.example:8200"),
//!     ("SECRETS_VAULT_MOUNT", "kv"),
//!     ("SECRETS_DR_VAULT_MOUNT", "kv-dr"),
//! ]);
//! let dr = s.for_instance("dr", "vault");
//! assert_eq!(dr.var("SECRETS_VAULT_MOUNT"), Some("kv-dr"));
//! assert_eq!(dr.var("VAULT_ADDR"), Some("https://vault.example:8200"));
//! // An instance named after its kind (the default) reads the plain settings.
//! assert_eq!(s.for_instance("vault", "vault").var("SECRETS_VAULT_MOUNT"), Some("kv"));
//! ```

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;

/// Deployment environments (`DEPLOYMENT_ENV`) counted as local work: the
/// `env` provider and plain `http://` backends are allowed there.
pub const LOCAL_DEPLOYMENTS: &[&str] = &["local", "dev", "development", "test"];

/// Settings of the whole process: an instance's view reads them as they are.
/// The `env` guardrail must hold for every instance, so no instance may
/// loosen it with a setting of its own.
const PROCESS_WIDE: &[&str] = &["DEPLOYMENT_ENV", "SECRETS_ALLOW_ENV_FALLBACK"];

/// What an instance's settings start with: `SECRETS_`, the name upper-cased
/// with `-` as `_`, and `_` (`eu-dr` gives `SECRETS_EU_DR_`).
///
/// ```
/// assert_eq!(secret_chain::settings::instance_prefix("eu-dr"), "SECRETS_EU_DR_");
/// ```
pub fn instance_prefix(name: &str) -> String {
    let key: String = name
        .chars()
        .map(|c| match c {
            '-' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect();
    format!("SECRETS_{key}_")
}

/// Environment variables, read once. `Debug` prints the names, never a value.
///
/// Clones (and instance views) share the variables.
#[derive(Clone, Default)]
pub struct Settings {
    vars: Arc<HashMap<String, String>>,
    /// The instance prefix (`SECRETS_DR_`) this view tries first; `None`
    /// for the plain settings.
    scope: Option<Arc<str>>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = self.vars.keys().map(String::as_str).collect();
        names.sort_unstable();
        let mut d = f.debug_struct("Settings");
        if let Some(scope) = &self.scope {
            d.field("instance", scope);
        }
        d.field("names", &names).finish()
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
            vars: Arc::new(
                vars.into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            ),
            scope: None,
        }
    }

    /// The view that the provider instance `name` of kind `kind` reads: each
    /// setting first with the name after `SECRETS_`
    /// ([`instance_prefix`]), then the setting itself. An instance named
    /// after its kind (`vault` of kind `vault`, the default name) reads the
    /// plain settings only. `DEPLOYMENT_ENV` and
    /// `SECRETS_ALLOW_ENV_FALLBACK` are the process's, never an instance's.
    pub fn for_instance(&self, name: &str, kind: &str) -> Settings {
        let scope = instance_prefix(name);
        Settings {
            vars: self.vars.clone(),
            scope: (scope != instance_prefix(kind)).then(|| Arc::from(scope)),
        }
    }

    /// The plain variable, trimmed; `None` when unset or blank.
    fn plain(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }

    /// This instance's spelling of `name`: `SECRETS_DR_VAULT_ADDR` for
    /// `VAULT_ADDR`, `SECRETS_DR_PREFIX` for `SECRETS_PREFIX`.
    fn scoped(&self, name: &str) -> Option<String> {
        let scope = self.scope.as_deref()?;
        if PROCESS_WIDE.contains(&name) {
            return None;
        }
        Some(format!(
            "{scope}{}",
            name.strip_prefix("SECRETS_").unwrap_or(name)
        ))
    }

    /// The value of `name` and the variable it was read from: the
    /// instance's own when set, else the plain one.
    fn lookup<'n>(&self, name: &'n str) -> Option<(&str, Cow<'n, str>)> {
        self.first(&[name])
    }

    /// A variable, trimmed; `None` when unset or blank. An instance's view
    /// reads its own spelling first ([`Settings::for_instance`]).
    pub fn var(&self, name: &str) -> Option<&str> {
        self.lookup(name).map(|(v, _)| v)
    }

    /// The first of `names` that is set, with the variable it was read
    /// from (for error messages). An instance's view tries its own
    /// spelling of every name before the plain ones, so that
    /// `SECRETS_DR_BAO_ADDR` wins over `VAULT_ADDR`.
    pub fn first<'n>(&self, names: &[&'n str]) -> Option<(&str, Cow<'n, str>)> {
        let scoped = names.iter().filter_map(|n| {
            let scoped = self.scoped(n)?;
            self.plain(&scoped).map(|v| (v, Cow::Owned(scoped)))
        });
        let plain = names
            .iter()
            .filter_map(|n| self.plain(n).map(|v| (v, Cow::Borrowed(*n))));
        scoped.chain(plain).next()
    }

    /// Every variable as it was given (untrimmed), for the env provider; the
    /// same for every instance.
    pub(crate) fn raw_vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// A whole number, or `default` when unset.
    ///
    /// # Errors
    ///
    /// A configuration error `"{name} must be {unit}, not '{value}'"` when
    /// it is not one (a number setting's value is not a secret; it is shown
    /// cut to 24 characters).
    pub fn u64(&self, name: &str, default: u64, unit: &str) -> Result<u64, Error> {
        match self.lookup(name) {
            Some((s, read)) => s
                .parse::<u64>()
                .map_err(|_| Error::config(format!("{read} must be {unit}, not {}", given(s)))),
            None => Ok(default),
        }
    }

    /// A count that fits in `u32`, or `default` when unset.
    ///
    /// # Errors
    ///
    /// A configuration error naming the variable.
    pub fn u32(&self, name: &str, default: u32) -> Result<u32, Error> {
        match self.lookup(name) {
            Some((s, read)) => s.parse::<u32>().map_err(|_| {
                Error::config(format!(
                    "{read} must be a whole number from 0 to {}, not {}",
                    u32::MAX,
                    given(s)
                ))
            }),
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
    /// A configuration error `"{name} must be true or false, not '{value}'"`.
    pub fn bool(&self, name: &str, default: bool) -> Result<bool, Error> {
        match self.lookup(name) {
            Some((s, read)) => match s.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" => Ok(false),
                _ => Err(Error::config(format!(
                    "{read} must be true or false, not {}",
                    given(s)
                ))),
            },
            None => Ok(default),
        }
    }

    /// The prefix of backend secret names (`SECRETS_PREFIX`), trimmed;
    /// empty when unset.
    pub fn prefix(&self) -> &str {
        self.prefix_for(None)
    }

    /// The prefix of a kind that has a prefix setting of its own
    /// (`kind_setting`, e.g. `SECRETS_SSM_PREFIX`), falling back to
    /// `SECRETS_PREFIX`; empty when neither is set. An instance's view
    /// tries its own spelling of both first: for `dr`,
    /// `SECRETS_DR_SSM_PREFIX`, `SECRETS_DR_PREFIX`, then the plain two.
    pub fn prefix_for(&self, kind_setting: Option<&str>) -> &str {
        let found = match kind_setting {
            Some(own) => self.first(&[own, "SECRETS_PREFIX"]),
            None => self.first(&["SECRETS_PREFIX"]),
        };
        found.map_or("", |(v, _)| v)
    }

    /// `DEPLOYMENT_ENV`, lower-cased; `local` when unset. The same for every
    /// instance.
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

/// A setting's value as an error shows it: quoted, at most 24 characters.
fn given(value: &str) -> String {
    let mut shown: String = value.chars().take(24).collect();
    if shown.len() < value.len() {
        shown.push('…');
    }
    format!("'{shown}'")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_values_read_as_unset_and_values_are_trimmed() {
        let s = Settings::from_vars([("A", "  "), ("B", " x ")]);
        assert_eq!(s.var("A"), None);
        assert_eq!(s.var("B"), Some("x"));
        assert_eq!(s.first(&["A", "B"]), Some(("x", "B".into())));
    }

    #[test]
    fn bad_numbers_and_booleans_say_what_is_expected_and_what_was_given() {
        let s = Settings::from_vars([("N", "-1"), ("F", "maybe"), ("L", &*"9".repeat(40))]);
        let e = s.u64("N", 1, "a whole number of seconds").unwrap_err();
        assert_eq!(
            e.to_string(),
            "N must be a whole number of seconds, not '-1'"
        );
        let e = s.bool("F", false).unwrap_err();
        assert_eq!(e.to_string(), "F must be true or false, not 'maybe'");
        let e = s.u32("L", 1).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "L must be a whole number from 0 to 4294967295, not '{}…'",
                "9".repeat(24)
            )
        );
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
    fn an_instance_reads_its_own_spelling_first_then_the_plain_setting() {
        let s = Settings::from_vars([
            ("VAULT_ADDR", "https://plain"),
            ("SECRETS_DR_VAULT_ADDR", "https://dr"),
            ("SECRETS_VAULT_MOUNT", "kv"),
            ("SECRETS_EU_DR_VAULT_MOUNT", "kv-eu"),
            ("SECRETS_DR_PREFIX", "/dr"),
        ]);
        let dr = s.for_instance("dr", "vault");
        assert_eq!(dr.var("VAULT_ADDR"), Some("https://dr"));
        assert_eq!(dr.var("SECRETS_VAULT_MOUNT"), Some("kv"));
        assert_eq!(dr.prefix(), "/dr");
        let eu = s.for_instance("eu-dr", "vault");
        assert_eq!(eu.var("SECRETS_VAULT_MOUNT"), Some("kv-eu"));
        assert_eq!(eu.var("VAULT_ADDR"), Some("https://plain"));
        assert_eq!(eu.prefix(), "");
        assert_eq!(s.var("VAULT_ADDR"), Some("https://plain"), "plain view");
    }

    #[test]
    fn an_instance_named_after_its_kind_reads_plain_settings_only() {
        let s = Settings::from_vars([
            ("SECRETS_VAULT_MOUNT", "kv"),
            ("SECRETS_VAULT_VAULT_MOUNT", "scoped"),
            ("SECRETS_ENV_ENV_FILE", "scoped.env"),
        ]);
        assert_eq!(
            s.for_instance("vault", "vault").var("SECRETS_VAULT_MOUNT"),
            Some("kv")
        );
        assert_eq!(
            s.for_instance("Vault", "vault").var("SECRETS_VAULT_MOUNT"),
            Some("kv")
        );
        assert_eq!(s.for_instance("env", "env").var("SECRETS_ENV_FILE"), None);
        assert_eq!(
            s.for_instance("vault", "env").var("SECRETS_VAULT_MOUNT"),
            Some("scoped"),
            "named after another kind: scoped"
        );
    }

    #[test]
    fn first_tries_every_scoped_name_before_the_plain_ones() {
        let s = Settings::from_vars([("VAULT_ADDR", "plain"), ("SECRETS_DR_BAO_ADDR", "dr-bao")]);
        let dr = s.for_instance("dr", "vault");
        let (v, read) = dr.first(&["VAULT_ADDR", "BAO_ADDR"]).unwrap();
        assert_eq!((v, read.as_ref()), ("dr-bao", "SECRETS_DR_BAO_ADDR"));
        let (v, read) = s.first(&["VAULT_ADDR", "BAO_ADDR"]).unwrap();
        assert_eq!((v, read.as_ref()), ("plain", "VAULT_ADDR"));
    }

    #[test]
    fn errors_name_the_variable_that_was_read() {
        let s = Settings::from_vars([
            ("SECRETS_DR_VAULT_TIMEOUT_MS", "5s"),
            ("SECRETS_VAULT_TIMEOUT_MS", "2500"),
            ("SECRETS_AWS_ALLOW_HTTP", "perhaps"),
            ("SECRETS_DR_RETRIES", "x"),
        ]);
        let dr = s.for_instance("dr", "vault");
        let e = dr
            .millis("SECRETS_VAULT_TIMEOUT_MS", Duration::ZERO)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "SECRETS_DR_VAULT_TIMEOUT_MS must be a whole number of milliseconds, not '5s'"
        );
        assert_eq!(
            s.millis("SECRETS_VAULT_TIMEOUT_MS", Duration::ZERO)
                .unwrap(),
            Duration::from_millis(2500)
        );
        let e = dr.bool("SECRETS_AWS_ALLOW_HTTP", false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "SECRETS_AWS_ALLOW_HTTP must be true or false, not 'perhaps'"
        );
        let e = dr.u32("SECRETS_RETRIES", 1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "SECRETS_DR_RETRIES must be a whole number from 0 to 4294967295, not 'x'"
        );
    }

    #[test]
    fn a_kind_prefix_falls_back_to_the_common_one_instance_first() {
        let s = Settings::from_vars([("SECRETS_PREFIX", "/app"), ("SECRETS_SSM_PREFIX", "/ssm")]);
        assert_eq!(s.prefix_for(Some("SECRETS_SSM_PREFIX")), "/ssm");
        assert_eq!(s.prefix_for(Some("SECRETS_OTHER_PREFIX")), "/app");
        assert_eq!(s.prefix_for(None), "/app");
        let s = Settings::from_vars([
            ("SECRETS_PREFIX", "/app"),
            ("SECRETS_SSM_PREFIX", "/ssm"),
            ("SECRETS_DR_PREFIX", "/dr"),
        ]);
        let dr = s.for_instance("dr", "ssm");
        assert_eq!(dr.prefix_for(Some("SECRETS_SSM_PREFIX")), "/dr");
        let s = Settings::from_vars([
            ("SECRETS_DR_SSM_PREFIX", "/dr-ssm"),
            ("SECRETS_DR_PREFIX", "/dr"),
        ]);
        let dr = s.for_instance("dr", "ssm");
        assert_eq!(dr.prefix_for(Some("SECRETS_SSM_PREFIX")), "/dr-ssm");
        assert_eq!(
            Settings::default().prefix_for(Some("SECRETS_SSM_PREFIX")),
            ""
        );
    }

    #[test]
    fn deployment_settings_are_the_processes_never_an_instances() {
        let s = Settings::from_vars([
            ("DEPLOYMENT_ENV", "production"),
            ("SECRETS_DR_DEPLOYMENT_ENV", "local"),
            ("SECRETS_DR_ALLOW_ENV_FALLBACK", "true"),
        ]);
        let dr = s.for_instance("dr", "env");
        assert!(!dr.is_local_deployment());
        assert!(!dr.bool("SECRETS_ALLOW_ENV_FALLBACK", false).unwrap());
    }

    #[test]
    fn instance_names_are_upper_cased_with_dashes_as_underscores() {
        assert_eq!(instance_prefix("dr"), "SECRETS_DR_");
        assert_eq!(instance_prefix("eu-dr_2"), "SECRETS_EU_DR_2_");
    }

    #[test]
    fn debug_prints_names_only() {
        let s = Settings::from_vars([("SOME_TOKEN", "tok-very-secret-1")]);
        let d = format!("{s:?}");
        assert!(
            d.contains("SOME_TOKEN") && !d.contains("tok-very-secret-1"),
            "{d}"
        );
        let d = format!("{:?}", s.for_instance("dr", "vault"));
        assert!(
            d.contains("SECRETS_DR_") && !d.contains("tok-very-secret-1"),
            "{d}"
        );
    }
}
