//! Configuration from environment variables (`SECRETS_*`, `DEPLOYMENT_ENV`).
//!
//! [`Config::from_vars`] reads an injected map, so tests never touch the
//! process environment; [`Config::from_process_env`] reads the real one.
//! A bad value is an error naming the variable, never echoing the value.
//! The chain's own settings are parsed here; the providers read theirs from
//! the same [`Settings`] snapshot when the chain builds them.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use crate::chain::named::NamedProvider;
use crate::chain::resilience::{
    DEFAULT_BREAKER_COOLDOWN, DEFAULT_BREAKER_THRESHOLD, DEFAULT_MAX_STALE, DEFAULT_NEGATIVE_TTL,
    DEFAULT_RETRIES,
};
use crate::error::Error;
use crate::providers::{EnvProvider, Provider};
use crate::settings::Settings;

/// Default cache TTL (`SECRETS_CACHE_TTL`): 300 seconds.
pub(crate) const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);

/// A backend that `SECRETS_PROVIDERS` can name.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    /// AWS Secrets Manager (`aws`).
    Aws,
    /// HashiCorp Vault / OpenBao KV v2 (`vault`).
    Vault,
    /// Environment variables and a `.env` file (`env`).
    Env,
}

impl ProviderKind {
    /// The name used in `SECRETS_PROVIDERS`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Aws => "aws",
            ProviderKind::Vault => "vault",
            ProviderKind::Env => "env",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProviderKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s.trim().to_ascii_lowercase().as_str() {
            "aws" | "aws-secrets-manager" | "secretsmanager" => Ok(ProviderKind::Aws),
            "vault" | "openbao" | "bao" => Ok(ProviderKind::Vault),
            "env" | "dotenv" => Ok(ProviderKind::Env),
            _ => Err(()),
        }
    }
}

/// Settings read from the environment. See the README's configuration table.
#[non_exhaustive]
#[derive(Clone)]
pub struct Config {
    /// Providers in fallback order (`SECRETS_PROVIDERS` / `SECRETS_BACKEND`).
    pub providers: Vec<ProviderKind>,
    /// Prefix for backend secret names (`SECRETS_PREFIX`).
    pub prefix: String,
    /// Cache time-to-live (`SECRETS_CACHE_TTL`, seconds).
    pub cache_ttl: Duration,
    /// The `.env` file (`SECRETS_ENV_FILE`); `None` means `.env` if present.
    pub env_file: Option<String>,
    /// `DEPLOYMENT_ENV`, lower-cased; `local` when unset.
    pub deployment_env: String,
    /// `SECRETS_ALLOW_ENV_FALLBACK`.
    pub allow_env_fallback: bool,
    /// Stale-on-error window (`SECRETS_MAX_STALE`, seconds, default 3600).
    pub max_stale: Duration,
    /// How long "not found" is remembered (`SECRETS_NEGATIVE_TTL`, seconds, default 30).
    pub negative_ttl: Duration,
    /// Refresh-ahead on or off (`SECRETS_REFRESH_AHEAD`, default true).
    pub refresh_ahead: bool,
    /// Retries of an unavailable provider (`SECRETS_RETRIES`, default 2).
    pub retries: u32,
    /// Failures that open a provider's breaker (`SECRETS_BREAKER_THRESHOLD`, default 5).
    pub breaker_threshold: u32,
    /// Breaker cool-down (`SECRETS_BREAKER_COOLDOWN`, seconds, default 30).
    pub breaker_cooldown: Duration,
    settings: Settings,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The raw variables can hold secrets: never print them.
        f.debug_struct("Config")
            .field("providers", &self.providers)
            .field("prefix", &self.prefix)
            .field("cache_ttl", &self.cache_ttl)
            .field("env_file", &self.env_file)
            .field("deployment_env", &self.deployment_env)
            .field("allow_env_fallback", &self.allow_env_fallback)
            .field("max_stale", &self.max_stale)
            .field("negative_ttl", &self.negative_ttl)
            .field("refresh_ahead", &self.refresh_ahead)
            .field("retries", &self.retries)
            .field("breaker_threshold", &self.breaker_threshold)
            .field("breaker_cooldown", &self.breaker_cooldown)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Reads the configuration from the process environment.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) naming the variable
    /// with a bad value, or explaining the `DEPLOYMENT_ENV` guardrail.
    pub fn from_process_env() -> Result<Config, Error> {
        Config::from_settings(Settings::from_process_env())
    }

    /// Reads the configuration from an injected variable map.
    ///
    /// # Errors
    ///
    /// As [`Config::from_process_env`].
    pub fn from_vars(vars: HashMap<String, String>) -> Result<Config, Error> {
        Config::from_settings(Settings::from_vars(vars))
    }

    /// Reads the configuration from a settings snapshot.
    ///
    /// # Errors
    ///
    /// As [`Config::from_process_env`].
    pub fn from_settings(settings: Settings) -> Result<Config, Error> {
        let s = &settings;
        let providers = match (s.var("SECRETS_PROVIDERS"), s.var("SECRETS_BACKEND")) {
            (Some(list), _) => parse_provider_list(list, "SECRETS_PROVIDERS")?,
            (None, Some(one)) => {
                if one.contains(',') {
                    return Err(Error::config(
                        "SECRETS_BACKEND names one provider; use SECRETS_PROVIDERS for a comma list",
                    ));
                }
                parse_provider_list(one, "SECRETS_BACKEND")?
            }
            (None, None) => vec![ProviderKind::Env],
        };
        let cache_ttl = s.seconds("SECRETS_CACHE_TTL", DEFAULT_CACHE_TTL)?;
        let allow_env_fallback = s.bool("SECRETS_ALLOW_ENV_FALLBACK", false)?;
        let max_stale = s.seconds("SECRETS_MAX_STALE", DEFAULT_MAX_STALE)?;
        let negative_ttl = s.seconds("SECRETS_NEGATIVE_TTL", DEFAULT_NEGATIVE_TTL)?;
        let breaker_cooldown = s.seconds("SECRETS_BREAKER_COOLDOWN", DEFAULT_BREAKER_COOLDOWN)?;
        let retries = s.u32("SECRETS_RETRIES", DEFAULT_RETRIES)?;
        let breaker_threshold = s.u32("SECRETS_BREAKER_THRESHOLD", DEFAULT_BREAKER_THRESHOLD)?;
        if breaker_threshold == 0 {
            return Err(Error::config(
                "SECRETS_BREAKER_THRESHOLD must be at least 1",
            ));
        }
        let refresh_ahead = s.bool("SECRETS_REFRESH_AHEAD", true)?;

        let config = Config {
            max_stale,
            negative_ttl,
            refresh_ahead,
            retries,
            breaker_threshold,
            breaker_cooldown,
            providers,
            prefix: s.prefix().to_owned(),
            cache_ttl,
            env_file: s.var("SECRETS_ENV_FILE").map(str::to_owned),
            deployment_env: s.deployment_env(),
            allow_env_fallback,
            settings,
        };
        config.check_guardrail()?;
        Ok(config)
    }

    /// The environment snapshot this configuration was read from; the
    /// providers read their own variables from it.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Whether `DEPLOYMENT_ENV` is a local/dev/test deployment.
    pub fn is_local_deployment(&self) -> bool {
        self.settings.is_local_deployment()
    }

    fn check_guardrail(&self) -> Result<(), Error> {
        if self.providers.contains(&ProviderKind::Env)
            && !self.is_local_deployment()
            && !self.allow_env_fallback
        {
            return Err(Error::config(format!(
                "the 'env' provider is refused because DEPLOYMENT_ENV is '{}' (not local, dev, development or test): \
                 secrets in plain environment variables or .env files are for local work; \
                 remove 'env' from SECRETS_PROVIDERS or set SECRETS_ALLOW_ENV_FALLBACK=true",
                self.deployment_env
            )));
        }
        Ok(())
    }

    /// Builds the providers in order.
    ///
    /// # Errors
    ///
    /// A configuration error when a provider cannot be configured.
    pub(crate) fn build_providers(&self) -> Result<Vec<NamedProvider>, Error> {
        self.providers
            .iter()
            .map(|kind| self.build_provider(*kind).map(NamedProvider::own))
            .collect()
    }

    fn build_provider(&self, kind: ProviderKind) -> Result<Box<dyn Provider>, Error> {
        match kind {
            ProviderKind::Env => {
                let p = EnvProvider::from_vars(self.settings.raw_vars())
                    .with_configured_file(self.env_file.as_deref(), Path::new("."))?;
                Ok(Box::new(p))
            }
            ProviderKind::Aws => build_aws(self),
            ProviderKind::Vault => build_vault(self),
        }
    }
}

#[cfg(feature = "aws")]
fn build_aws(config: &Config) -> Result<Box<dyn Provider>, Error> {
    crate::providers::aws::AwsProvider::from_settings(config.settings())
        .map(|p| Box::new(p) as Box<dyn Provider>)
}

#[cfg(not(feature = "aws"))]
fn build_aws(_config: &Config) -> Result<Box<dyn Provider>, Error> {
    Err(Error::config(
        "SECRETS_PROVIDERS names 'aws', but secret-chain was built without its 'aws' feature",
    ))
}

#[cfg(feature = "vault")]
fn build_vault(config: &Config) -> Result<Box<dyn Provider>, Error> {
    crate::providers::vault::VaultProvider::from_settings(config.settings())
        .map(|p| Box::new(p) as Box<dyn Provider>)
}

#[cfg(not(feature = "vault"))]
fn build_vault(_config: &Config) -> Result<Box<dyn Provider>, Error> {
    Err(Error::config(
        "SECRETS_PROVIDERS names 'vault', but secret-chain was built without its 'vault' feature",
    ))
}

fn parse_provider_list(list: &str, var: &str) -> Result<Vec<ProviderKind>, Error> {
    let mut out = Vec::new();
    for (i, item) in list.split(',').enumerate() {
        let item = item.trim();
        if item.is_empty() {
            return Err(Error::config(format!(
                "{var}: entry {} is empty (expected a comma list of aws, vault, env)",
                i + 1
            )));
        }
        let kind = item.parse::<ProviderKind>().map_err(|()| {
            Error::config(format!(
                "{var}: entry {} is not a known provider (expected aws, vault or env)",
                i + 1
            ))
        })?;
        if out.contains(&kind) {
            return Err(Error::config(format!("{var}: '{kind}' is listed twice")));
        }
        out.push(kind);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_env_and_five_minutes() {
        let c = Config::from_vars(HashMap::new()).unwrap();
        assert_eq!(c.providers, vec![ProviderKind::Env]);
        assert_eq!(c.cache_ttl, Duration::from_secs(300));
        assert_eq!(c.deployment_env, "local");
    }

    #[test]
    fn provider_list_keeps_order_and_backend_is_an_alias() {
        let c = Config::from_vars(vars(&[("SECRETS_PROVIDERS", "vault, aws ,env")])).unwrap();
        assert_eq!(
            c.providers,
            vec![ProviderKind::Vault, ProviderKind::Aws, ProviderKind::Env]
        );
        let c = Config::from_vars(vars(&[("SECRETS_BACKEND", "aws")])).unwrap();
        assert_eq!(c.providers, vec![ProviderKind::Aws]);
    }

    #[test]
    fn unknown_provider_is_an_error_naming_the_variable_not_the_value() {
        let e = Config::from_vars(vars(&[("SECRETS_PROVIDERS", "env,s3cr3tprov")])).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains("SECRETS_PROVIDERS"), "{e}");
        assert!(e.to_string().contains("entry 2"), "{e}");
        assert!(!e.to_string().contains("s3cr3tprov"), "{e}");
    }

    #[test]
    fn non_number_ttl_is_an_error_naming_the_variable() {
        let e = Config::from_vars(vars(&[("SECRETS_CACHE_TTL", "5m")])).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains("SECRETS_CACHE_TTL"), "{e}");
    }

    #[test]
    fn env_provider_is_refused_in_production_unless_allowed() {
        let e = Config::from_vars(vars(&[("DEPLOYMENT_ENV", "production")])).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains("SECRETS_ALLOW_ENV_FALLBACK"), "{e}");
        let ok = Config::from_vars(vars(&[
            ("DEPLOYMENT_ENV", "production"),
            ("SECRETS_ALLOW_ENV_FALLBACK", "true"),
        ]));
        assert!(ok.is_ok());
        for local in ["local", "dev", "Development", "test"] {
            assert!(
                Config::from_vars(vars(&[("DEPLOYMENT_ENV", local)])).is_ok(),
                "{local}"
            );
        }
        let e = Config::from_vars(vars(&[
            ("DEPLOYMENT_ENV", "staging"),
            ("SECRETS_ALLOW_ENV_FALLBACK", "maybe"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("SECRETS_ALLOW_ENV_FALLBACK"), "{e}");
    }

    #[test]
    fn debug_does_not_print_raw_variables() {
        let c = Config::from_vars(vars(&[("SOME_TOKEN", "tok-very-secret-1")])).unwrap();
        assert!(!format!("{c:?}").contains("tok-very-secret-1"));
    }

    #[test]
    fn duplicate_and_empty_entries_are_errors() {
        assert!(Config::from_vars(vars(&[("SECRETS_PROVIDERS", "env,env")])).is_err());
        assert!(Config::from_vars(vars(&[("SECRETS_PROVIDERS", "env,,aws")])).is_err());
        assert!(Config::from_vars(vars(&[("SECRETS_BACKEND", "env,aws")])).is_err());
    }
}
