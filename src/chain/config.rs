//! Configuration from environment variables (`SECRETS_*`, `DEPLOYMENT_ENV`).
//!
//! [`Config::from_vars`] reads an injected map, so tests never touch the
//! process environment; [`Config::from_process_env`] reads the real one.
//! A bad value is an error naming the variable, never echoing the value.
//! The chain's own settings are parsed here; the providers read theirs from
//! the same [`Settings`] snapshot when the chain builds them, each through
//! its instance's view ([`Settings::for_instance`]).
//!
//! `SECRETS_PROVIDERS` is a comma list of entries, each `KIND` or
//! `NAME=KIND` ([`ProviderEntry`]; kinds `aws`, `ssm`, `vault`, `vault-dynamic`, `gcp`, `files`, `env`):
//! `aws,dr=vault,env` chains AWS, a Vault
//! instance named `dr` (which reads `SECRETS_DR_VAULT_ADDR` before
//! `VAULT_ADDR`, and so on) and the env provider.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::chain::named::{NAME_RULE, NamedProvider, is_valid_name};
use crate::chain::resilience::{
    DEFAULT_BREAKER_COOLDOWN, DEFAULT_BREAKER_THRESHOLD, DEFAULT_MAX_STALE, DEFAULT_NEGATIVE_TTL,
    DEFAULT_RETRIES,
};
use crate::error::Error;
use crate::providers::{EnvProvider, Provider};
use crate::settings::{Settings, instance_prefix};

/// Default cache TTL (`SECRETS_CACHE_TTL`): 300 seconds.
pub(crate) const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);

/// A backend that `SECRETS_PROVIDERS` can name.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    /// AWS Secrets Manager (`aws`).
    Aws,
    /// AWS Systems Manager Parameter Store (`ssm`).
    Ssm,
    /// HashiCorp Vault / OpenBao KV v2 (`vault`).
    Vault,
    /// Vault / OpenBao dynamic engines, paths read as written, values
    /// with leases (`vault-dynamic`).
    VaultDynamic,
    /// Mounted secret files under a directory (`files`).
    Files,
    /// Google Cloud Secret Manager (`gcp`).
    Gcp,
    /// Environment variables and a `.env` file (`env`).
    Env,
}

impl ProviderKind {
    /// The name used in `SECRETS_PROVIDERS`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Aws => "aws",
            ProviderKind::Ssm => "ssm",
            ProviderKind::Vault => "vault",
            ProviderKind::VaultDynamic => "vault-dynamic",
            ProviderKind::Files => "files",
            ProviderKind::Gcp => "gcp",
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
            "ssm" | "parameter-store" | "parameterstore" => Ok(ProviderKind::Ssm),
            "vault" | "openbao" | "bao" => Ok(ProviderKind::Vault),
            "vault-dynamic" | "openbao-dynamic" | "bao-dynamic" => Ok(ProviderKind::VaultDynamic),
            "files" | "file" => Ok(ProviderKind::Files),
            "gcp" | "gcp-secret-manager" => Ok(ProviderKind::Gcp),
            "env" | "dotenv" => Ok(ProviderKind::Env),
            _ => Err(()),
        }
    }
}

/// One entry of `SECRETS_PROVIDERS`: a backend and its name in the chain.
///
/// `vault` is the entry [`ProviderEntry::new`] gives (named after its kind,
/// reading the plain settings); `dr=vault` the one
/// [`ProviderEntry::named`] gives (reading `SECRETS_DR_*` first).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProviderEntry {
    /// The name in the chain: `NAME` of `NAME=KIND`, else the kind's own
    /// (`vault`).
    pub name: String,
    /// The backend.
    pub kind: ProviderKind,
}

impl ProviderEntry {
    /// An entry named after its kind (`vault`).
    pub fn new(kind: ProviderKind) -> ProviderEntry {
        ProviderEntry::named(kind.as_str(), kind)
    }

    /// An entry under a name of its own (`dr`); the chain refuses a name
    /// that is not ASCII letters, digits, `-` and `_` when it is built.
    pub fn named(name: impl Into<String>, kind: ProviderKind) -> ProviderEntry {
        ProviderEntry {
            name: name.into(),
            kind,
        }
    }

    /// The view of the settings this entry's provider reads: its own
    /// (`SECRETS_{NAME}_...`) first, unless it is named after its kind.
    pub fn settings(&self, settings: &Settings) -> Settings {
        settings.for_instance(&self.name, self.kind.as_str())
    }
}

impl From<ProviderKind> for ProviderEntry {
    fn from(kind: ProviderKind) -> ProviderEntry {
        ProviderEntry::new(kind)
    }
}

impl fmt::Display for ProviderEntry {
    /// `vault`, or `dr=vault` for a named entry.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name == self.kind.as_str() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{}={}", self.name, self.kind)
        }
    }
}

/// Settings read from the environment. See the README's configuration table.
#[non_exhaustive]
#[derive(Clone)]
pub struct Config {
    /// Providers in fallback order (`SECRETS_PROVIDERS` / `SECRETS_BACKEND`).
    pub providers: Vec<ProviderEntry>,
    /// Prefix for backend secret names (`SECRETS_PREFIX`). A named instance
    /// reads its own first (`SECRETS_DR_PREFIX`).
    pub prefix: String,
    /// Cache time-to-live (`SECRETS_CACHE_TTL`, seconds).
    pub cache_ttl: Duration,
    /// The `.env` file (`SECRETS_ENV_FILE`); `None` means `.env` if present.
    /// A named env instance reads its own first (`SECRETS_LOCAL_ENV_FILE`).
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
            (None, None) => vec![ProviderEntry::new(ProviderKind::Env)],
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

    /// Refuses every env instance outside local deployments, unless
    /// `SECRETS_ALLOW_ENV_FALLBACK` (process-wide: no instance has its own).
    fn check_guardrail(&self) -> Result<(), Error> {
        let env = self.providers.iter().find(|e| e.kind == ProviderKind::Env);
        if let Some(entry) = env
            && !self.is_local_deployment()
            && !self.allow_env_fallback
        {
            let which = if entry.name == ProviderKind::Env.as_str() {
                "the 'env' provider".to_owned()
            } else {
                format!("the 'env' provider '{}'", entry.name)
            };
            return Err(Error::config(format!(
                "{which} is refused because DEPLOYMENT_ENV is '{}' (not local, dev, development or test): \
                 secrets in plain environment variables or .env files are for local work; \
                 remove '{entry}' from SECRETS_PROVIDERS or set SECRETS_ALLOW_ENV_FALLBACK=true",
                self.deployment_env
            )));
        }
        Ok(())
    }

    /// Builds the providers in order, each from its instance's view of the
    /// settings and under its entry's name.
    ///
    /// # Errors
    ///
    /// A configuration error when a provider cannot be configured; for a
    /// named instance it starts with `provider 'dr': `.
    pub(crate) fn build_providers(&self) -> Result<Vec<NamedProvider>, Error> {
        self.providers
            .iter()
            .map(|entry| {
                let provider = build_provider(entry.kind, &entry.settings(&self.settings));
                match provider {
                    Ok(p) => Ok(NamedProvider::named(entry.name.clone(), p)),
                    Err(e) if entry.name == entry.kind.as_str() => Err(e),
                    Err(e) => Err(e.with_context(&format!("provider '{}': ", entry.name))),
                }
            })
            .collect()
    }
}

fn build_provider(kind: ProviderKind, settings: &Settings) -> Result<Box<dyn Provider>, Error> {
    match kind {
        ProviderKind::Env => Ok(Box::new(EnvProvider::from_settings(settings)?)),
        ProviderKind::Aws => build_aws(settings),
        ProviderKind::Ssm => build_ssm(settings),
        ProviderKind::Vault => build_vault(settings),
        ProviderKind::VaultDynamic => build_vault_dynamic(settings),
        ProviderKind::Files => build_files(settings),
        ProviderKind::Gcp => build_gcp(settings),
    }
}

#[cfg(feature = "files")]
fn build_files(settings: &Settings) -> Result<Box<dyn Provider>, Error> {
    crate::providers::files::FilesProvider::from_settings(settings)
        .map(|p| Box::new(p) as Box<dyn Provider>)
}

#[cfg(not(feature = "files"))]
fn build_files(_settings: &Settings) -> Result<Box<dyn Provider>, Error> {
    Err(Error::config(
        "SECRETS_PROVIDERS names 'files', but secret-chain was built without its 'files' feature",
    ))
}

#[cfg(feature = "aws")]
fn build_aws(settings: &Settings) -> Result<Box<dyn Provider>, Error> {
    crate::providers::aws::AwsProvider::from_settings(settings)
        .map(|p| Box::new(p) as Box<dyn Provider>)
}

#[cfg(not(feature = "aws"))]
fn build_aws(_settings: &Settings) -> Result<Box<dyn Provider>, Error> {
    Err(Error::config(
        "SECRETS_PROVIDERS names 'aws', but secret-chain was built without its 'aws' feature",
    ))
}

#[cfg(feature = "ssm")]
fn build_ssm(settings: &Settings) -> Result<Box<dyn Provider>, Error> {
    crate::providers::ssm::SsmProvider::from_settings(settings)
        .map(|p| Box::new(p) as Box<dyn Provider>)
}

#[cfg(not(feature = "ssm"))]
fn build_ssm(_settings: &Settings) -> Result<Box<dyn Provider>, Error> {
    Err(Error::config(
        "SECRETS_PROVIDERS names 'ssm', but secret-chain was built without its 'ssm' feature",
    ))
}

#[cfg(feature = "vault")]
fn build_vault(settings: &Settings) -> Result<Box<dyn Provider>, Error> {
    crate::providers::vault::VaultProvider::from_settings(settings)
        .map(|p| Box::new(p) as Box<dyn Provider>)
}

#[cfg(feature = "vault")]
fn build_vault_dynamic(settings: &Settings) -> Result<Box<dyn Provider>, Error> {
    crate::providers::vault::VaultDynamicProvider::from_settings(settings)
        .map(|p| Box::new(p) as Box<dyn Provider>)
}

#[cfg(not(feature = "vault"))]
fn build_vault_dynamic(_settings: &Settings) -> Result<Box<dyn Provider>, Error> {
    Err(Error::config(
        "SECRETS_PROVIDERS names 'vault-dynamic', but secret-chain was built without its 'vault' feature",
    ))
}

#[cfg(not(feature = "vault"))]
fn build_vault(_settings: &Settings) -> Result<Box<dyn Provider>, Error> {
    Err(Error::config(
        "SECRETS_PROVIDERS names 'vault', but secret-chain was built without its 'vault' feature",
    ))
}

#[cfg(feature = "gcp")]
fn build_gcp(settings: &Settings) -> Result<Box<dyn Provider>, Error> {
    crate::providers::gcp::GcpProvider::from_settings(settings)
        .map(|p| Box::new(p) as Box<dyn Provider>)
}

#[cfg(not(feature = "gcp"))]
fn build_gcp(_settings: &Settings) -> Result<Box<dyn Provider>, Error> {
    Err(Error::config(
        "SECRETS_PROVIDERS names 'gcp', but secret-chain was built without its 'gcp' feature",
    ))
}

/// Parses a comma list of `KIND` or `NAME=KIND` entries. Errors name the
/// entry by its number and never echo a bad entry's text (a mistyped
/// variable may hold a secret); a duplicate name, being a valid name, is
/// named.
fn parse_provider_list(list: &str, var: &str) -> Result<Vec<ProviderEntry>, Error> {
    const KINDS: &str = "aws, ssm, vault, vault-dynamic, gcp, files or env";
    let mut out: Vec<ProviderEntry> = Vec::new();
    for (i, item) in list.split(',').enumerate() {
        let n = i + 1;
        let item = item.trim();
        if item.is_empty() {
            return Err(Error::config(format!(
                "{var}: entry {n} is empty (expected a comma list of KIND or NAME=KIND, KIND one of {KINDS})"
            )));
        }
        let (name, kind) = match item.split_once('=') {
            Some((name, kind)) => (Some(name.trim()), kind.trim()),
            None => (None, item),
        };
        if kind.is_empty() {
            return Err(Error::config(format!(
                "{var}: entry {n} has an empty kind (expected NAME=KIND, KIND one of {KINDS})"
            )));
        }
        let kind = kind.parse::<ProviderKind>().map_err(|()| {
            Error::config(format!(
                "{var}: entry {n} is not a known provider (expected {KINDS})"
            ))
        })?;
        let entry = match name {
            None => ProviderEntry::new(kind),
            Some("") => {
                return Err(Error::config(format!(
                    "{var}: entry {n} has an empty name (expected NAME=KIND)"
                )));
            }
            Some(name) if !is_valid_name(name) => {
                return Err(Error::config(format!(
                    "{var}: entry {n} has a name that is not valid (a name holds only {NAME_RULE})"
                )));
            }
            Some(name) => ProviderEntry::named(name, kind),
        };
        if let Some(j) = out.iter().position(|e| e.name == entry.name) {
            return Err(Error::config(format!(
                "{var}: entries {} and {n} are both named '{}'; give one a name of its own (NAME=KIND)",
                j + 1,
                entry.name
            )));
        }
        // `eu-dr` and `EU_DR` would read the same SECRETS_EU_DR_* settings.
        let scope = instance_prefix(&entry.name);
        if let Some(j) = out.iter().position(|e| instance_prefix(&e.name) == scope) {
            return Err(Error::config(format!(
                "{var}: entries {} and {n} are named '{}' and '{}', which read the same {scope}* settings; rename one",
                j + 1,
                out[j].name,
                entry.name
            )));
        }
        out.push(entry);
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
        assert_eq!(c.providers, vec![ProviderEntry::new(ProviderKind::Env)]);
        assert_eq!(c.cache_ttl, Duration::from_secs(300));
        assert_eq!(c.deployment_env, "local");
    }

    #[test]
    fn provider_list_keeps_order_and_backend_is_an_alias() {
        let c = Config::from_vars(vars(&[("SECRETS_PROVIDERS", "vault, aws ,env")])).unwrap();
        assert_eq!(
            c.providers,
            [ProviderKind::Vault, ProviderKind::Aws, ProviderKind::Env].map(ProviderEntry::new)
        );
        let c = Config::from_vars(vars(&[("SECRETS_BACKEND", "aws")])).unwrap();
        assert_eq!(c.providers, vec![ProviderEntry::new(ProviderKind::Aws)]);
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

    fn names(list: &str) -> Vec<(String, ProviderKind)> {
        Config::from_vars(vars(&[("SECRETS_PROVIDERS", list)]))
            .unwrap()
            .providers
            .into_iter()
            .map(|e| (e.name, e.kind))
            .collect()
    }

    fn list_error(list: &str) -> String {
        let e = Config::from_vars(vars(&[("SECRETS_PROVIDERS", list)])).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config, "{list}");
        e.to_string()
    }

    #[test]
    fn entries_are_kind_or_name_equals_kind() {
        assert_eq!(
            names("aws, dr = vault ,env,eu-dr_2=openbao"),
            [
                ("aws".to_owned(), ProviderKind::Aws),
                ("dr".to_owned(), ProviderKind::Vault),
                ("env".to_owned(), ProviderKind::Env),
                ("eu-dr_2".to_owned(), ProviderKind::Vault),
            ]
        );
        // A bare alias is named after the canonical kind.
        assert_eq!(names("bao"), [("vault".to_owned(), ProviderKind::Vault)]);
        let c = Config::from_vars(vars(&[("SECRETS_BACKEND", "dr=vault")])).unwrap();
        assert_eq!(
            c.providers,
            [ProviderEntry::named("dr", ProviderKind::Vault)]
        );
        assert_eq!(c.providers[0].to_string(), "dr=vault");
    }

    #[test]
    fn duplicate_names_are_errors_naming_both_entries() {
        assert_eq!(
            list_error("vault,aws,vault"),
            "SECRETS_PROVIDERS: entries 1 and 3 are both named 'vault'; give one a name of its own (NAME=KIND)"
        );
        assert!(
            list_error("a=env,a=vault").contains("entries 1 and 2 are both named 'a'"),
            "{}",
            list_error("a=env,a=vault")
        );
        // A name may not take another entry's default name either.
        assert!(list_error("env,env=vault").contains("entries 1 and 2"));
        // Names that spell their settings alike.
        let e = list_error("eu-dr=vault,EU_DR=vault");
        assert!(
            e.contains("entries 1 and 2") && e.contains("SECRETS_EU_DR_"),
            "{e}"
        );
        assert_eq!(names("primary=vault,dr=vault").len(), 2);
    }

    #[test]
    fn bad_entries_name_the_entry_and_never_echo_its_text() {
        for (list, want) in [
            ("env,=vault", "entry 2 has an empty name"),
            ("env,s3cr3t-n4me=", "entry 2 has an empty kind"),
            ("s3cr3t-n4me=s3cr3t-k1nd", "entry 1 is not a known provider"),
            ("env,dr=vault=s3cr3t", "entry 2 is not a known provider"),
            (
                "env,s3cr3t n4me=vault",
                "entry 2 has a name that is not valid",
            ),
            (
                "env,s3cr3t.n4me=vault",
                "entry 2 has a name that is not valid",
            ),
            ("env, ,aws", "entry 2 is empty"),
        ] {
            let e = list_error(list);
            assert!(
                e.starts_with("SECRETS_PROVIDERS: ") && e.contains(want),
                "{list}: {e}"
            );
            assert!(!e.contains("s3cr3t"), "{list}: {e}");
        }
        let e = Config::from_vars(vars(&[("SECRETS_BACKEND", "=s3cr3t")])).unwrap_err();
        assert!(e.to_string().starts_with("SECRETS_BACKEND: entry 1"), "{e}");
        assert!(!e.to_string().contains("s3cr3t"), "{e}");
    }

    #[test]
    fn every_env_instance_is_refused_in_production_unless_allowed() {
        let e = Config::from_vars(vars(&[
            ("DEPLOYMENT_ENV", "production"),
            ("SECRETS_PROVIDERS", "aws,local=env"),
            // Process-wide: an instance cannot allow itself.
            ("SECRETS_LOCAL_ALLOW_ENV_FALLBACK", "true"),
        ]))
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("the 'env' provider 'local' is refused")
                && e.to_string().contains("remove 'local=env'"),
            "{e}"
        );
        assert!(
            Config::from_vars(vars(&[
                ("DEPLOYMENT_ENV", "production"),
                ("SECRETS_PROVIDERS", "aws,local=env"),
                ("SECRETS_ALLOW_ENV_FALLBACK", "true"),
            ]))
            .is_ok()
        );
    }

    #[test]
    fn each_entry_is_built_from_its_own_settings_under_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.env"), dir.path().join("b.env"));
        std::fs::write(&a, "FROM_A=a-value-1\n").unwrap();
        std::fs::write(&b, "FROM_B=b-value-1\n").unwrap();
        let c = Config::from_vars(vars(&[
            ("SECRETS_PROVIDERS", "one=env,two=env"),
            ("SECRETS_ONE_ENV_FILE", a.to_str().unwrap()),
            ("SECRETS_ENV_FILE", b.to_str().unwrap()),
        ]))
        .unwrap();
        let built = c.build_providers().unwrap();
        let names: Vec<_> = built.iter().map(NamedProvider::name).collect();
        assert_eq!(names, ["one", "two"]);
        let m = crate::SecretsManager::from_config(&c).unwrap();
        let rt = crate::chain::test_support::rt();
        use secrecy::ExposeSecret;
        assert_eq!(
            rt.block_on(m.get_secret("from/a")).unwrap().expose_secret(),
            "a-value-1"
        );
        let e = rt.block_on(m.get_secret("from/x")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "secret 'from/x' not found: one: not found (FROM_X); two: not found (FROM_X)"
        );

        let missing = dir.path().join("missing.env");
        let e = Config::from_vars(vars(&[
            ("SECRETS_PROVIDERS", "env,local=env"),
            ("SECRETS_LOCAL_ENV_FILE", missing.to_str().unwrap()),
        ]))
        .unwrap()
        .build_providers()
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("provider 'local': SECRETS_LOCAL_ENV_FILE names"),
            "{e}"
        );
    }

    #[test]
    fn duplicate_and_empty_entries_are_errors() {
        assert!(Config::from_vars(vars(&[("SECRETS_PROVIDERS", "env,env")])).is_err());
        assert!(Config::from_vars(vars(&[("SECRETS_PROVIDERS", "env,,aws")])).is_err());
        assert!(Config::from_vars(vars(&[("SECRETS_BACKEND", "env,aws")])).is_err());
    }
}
