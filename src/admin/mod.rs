//! The write side, for operators: what `secret-chain migrate`, `rotate`
//! and `audit` do to a backend.
//!
//! The application-facing API stays read-only ([`Provider`](crate::providers::Provider)
//! has no write method); writing lives here, behind its own trait,
//! [`SecretStore`], implemented for AWS Secrets Manager (`aws.rs`) and
//! Vault / OpenBao KV v2 (`vault.rs`). A store is built from the same
//! settings as the read provider of the same instance ([`open`]: `aws`,
//! `dr=vault` in `SECRETS_PROVIDERS`) and goes through that provider's
//! client, authentication, TLS and endpoint checks, prefix and error
//! mapping; nothing of them is duplicated here.
//!
//! - `value.rs`: what a store keeps for a value (Vault's `{"value": v}`),
//!   whether two values are the same, one field of a JSON object replaced;
//! - `aws.rs`: `CreateSecret`, `PutSecretValue` (`AWSPENDING` for a
//!   rotation), `UpdateSecretVersionStage`, `ListSecrets`,
//!   `ListSecretVersionIds`;
//! - `vault.rs`: `POST {mount}/data/{path}` with check-and-set,
//!   `GET {mount}/metadata/{path}`, the provider's recursive LIST.
//!
//! Values travel as [`SecretString`] and [`SecretSlice`]; no error, `Debug`
//! output or log line of this module holds one. The SDK and reqwest make
//! copies of a request body that this crate cannot wipe.

use std::fmt;
use std::time::SystemTime;

use secrecy::{SecretSlice, SecretString};

use crate::chain::{Config, ProviderKind};
use crate::error::Error;
use crate::providers::BoxFuture;

#[cfg(feature = "aws")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws")))]
pub mod aws;
mod value;
#[cfg(feature = "vault")]
#[cfg_attr(docsrs, doc(cfg(feature = "vault")))]
pub mod vault;

pub use value::{object_fields, same_value, vault_data, with_field};

/// A value to write, or one read back.
pub enum Payload {
    /// Text (AWS `SecretString`; for Vault, the data object as JSON text
    /// when read back).
    Text(SecretString),
    /// Bytes (AWS `SecretBinary`; Vault KV holds no bytes).
    Binary(SecretSlice<u8>),
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Payload::Text(_) => f.write_str("Text([REDACTED])"),
            Payload::Binary(_) => f.write_str("Binary([REDACTED])"),
        }
    }
}

/// The current version of a secret, as read to compare it or to rotate it.
#[derive(Debug)]
pub struct Current {
    /// Its value; `None` when the current version is deleted or destroyed
    /// (Vault: the secret's metadata still counts its versions).
    pub value: Option<Payload>,
    /// Its version: the AWS version id, the Vault version number.
    pub version: String,
}

/// What a write expects to find, so that it does not overwrite a change
/// made since the secret was read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expect {
    /// The secret does not exist: AWS `CreateSecret`, Vault `cas: 0`.
    Absent,
    /// The current version is this one: Vault `cas: N`; AWS
    /// `PutSecretValue` (AWS has no check-and-set).
    Version(String),
}

/// What a store reports about one secret, without its value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SecretInfo {
    /// The path relative to the store's prefix (`database/url`).
    pub path: String,
    /// The current version (AWS: the version holding `AWSCURRENT`).
    pub version: Option<String>,
    /// When the current version was created.
    pub created: Option<SystemTime>,
    /// When AWS last rotated the secret.
    pub last_rotated: Option<SystemTime>,
    /// Whether AWS rotation (a rotation Lambda) is enabled; `None` for Vault.
    pub rotation_enabled: Option<bool>,
    /// The version holding `AWSPENDING`, when one does (AWS).
    pub pending: Option<String>,
    /// Why the current version has no value (Vault: `deleted`, `destroyed`).
    pub current_gone: Option<&'static str>,
}

/// A new version written by [`SecretStore::stage`], not yet promoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staged {
    /// The secret's path.
    pub path: String,
    /// The new version (AWS: holding `AWSPENDING`; Vault: the newest).
    pub version: String,
    /// The version that was current when the rotation started.
    pub previous: String,
}

/// A backend that operators write to.
///
/// Object-safe, like [`Provider`](crate::providers::Provider): the methods
/// return boxed futures. Paths are relative to the store's prefix.
pub trait SecretStore: Send + Sync + fmt::Debug {
    /// The instance name (`aws`, `dr`).
    fn name(&self) -> &str;

    /// The backend: [`ProviderKind::Aws`] or [`ProviderKind::Vault`].
    fn kind(&self) -> ProviderKind;

    /// Where `path` lives, as output names it: `/app/db` (AWS secret id),
    /// `secret/data/app/db` (Vault).
    fn location(&self, path: &str) -> String;

    /// What the store keeps when `value` is written, as [`read`](Self::read)
    /// gives it back: Vault keeps text as `{"value": v}` and a JSON object
    /// as its fields; AWS keeps the value as it is.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidValue`](crate::ErrorKind::InvalidValue) when the
    /// store cannot hold it (bytes in Vault).
    fn stored_form(&self, value: &Payload) -> Result<Payload, Error>;

    /// The current version and its value; `None` when the secret does not
    /// exist.
    fn read<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<Option<Current>, Error>>;

    /// Writes `value` as the new current version; returns that version.
    fn write<'a>(
        &'a self,
        path: &'a str,
        value: &'a Payload,
        expect: &'a Expect,
    ) -> BoxFuture<'a, Result<String, Error>>;

    /// Every secret under `prefix` (relative to the store's prefix), with
    /// its metadata, sorted by path. Reads no value.
    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<SecretInfo>, Error>>;

    /// The metadata of one secret; `None` when it does not exist.
    fn describe<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<Option<SecretInfo>, Error>>;

    /// The first half of a rotation: writes `value` as a new version that
    /// readers of the current one do not get yet where the backend allows
    /// (AWS: `AWSPENDING`; an existing pending version loses its label),
    /// else as the newest version with check-and-set against `current`
    /// (Vault).
    fn stage<'a>(
        &'a self,
        path: &'a str,
        value: &'a Payload,
        current: &'a Current,
    ) -> BoxFuture<'a, Result<Staged, Error>>;

    /// Makes the staged version the current one (AWS: `AWSCURRENT` moves
    /// to it, the old one becomes `AWSPREVIOUS`; Vault: nothing to do).
    fn promote<'a>(&'a self, staged: &'a Staged) -> BoxFuture<'a, Result<(), Error>>;

    /// Undoes [`stage`](Self::stage): AWS removes `AWSPENDING` from the
    /// new version (`AWSCURRENT` never moved); Vault writes `previous`'s
    /// data back as the newest version. Returns the version now current.
    fn discard<'a>(
        &'a self,
        staged: &'a Staged,
        previous: &'a Current,
    ) -> BoxFuture<'a, Result<String, Error>>;
}

/// The store of the provider instance `name` of `config`'s
/// `SECRETS_PROVIDERS`, built from that instance's settings.
///
/// # Errors
///
/// [`ErrorKind::Config`](crate::ErrorKind::Config) when no instance has
/// that name, when it is not an `aws` or `vault` one (or that feature is
/// off), or when its settings are wrong (as the read provider's).
pub fn open(config: &Config, name: &str) -> Result<Box<dyn SecretStore>, Error> {
    let Some(entry) = config.providers.iter().find(|e| e.name == name) else {
        let names: Vec<&str> = config.providers.iter().map(|e| e.name.as_str()).collect();
        return Err(Error::config(format!(
            "no provider named '{name}' in SECRETS_PROVIDERS (it has: {})",
            names.join(", ")
        )));
    };
    let settings = entry.settings(config.settings());
    let in_context = |e: Error| {
        if entry.name == entry.kind.as_str() {
            e
        } else {
            e.with_context(&format!("provider '{name}': "))
        }
    };
    match entry.kind {
        #[cfg(feature = "aws")]
        ProviderKind::Aws => Ok(Box::new(
            aws::AwsStore::from_settings(name, &settings).map_err(in_context)?,
        )),
        #[cfg(feature = "vault")]
        ProviderKind::Vault => Ok(Box::new(
            vault::VaultStore::from_settings(name, &settings).map_err(in_context)?,
        )),
        kind => {
            let _ = (&settings, &in_context);
            Err(Error::config(format!(
                "provider '{name}' ({kind}) cannot be written to or audited: \
                 that needs an aws or vault instance{}",
                if cfg!(all(feature = "aws", feature = "vault")) {
                    ""
                } else {
                    " (and secret-chain built with its feature)"
                }
            )))
        }
    }
}

/// The error of a secret that changed between the read and the write.
#[cfg_attr(not(any(feature = "aws", feature = "vault")), allow(dead_code))]
pub(crate) fn changed(location: &str, expected: &Expect) -> Error {
    let what = match expected {
        Expect::Absent => "it did not exist".to_owned(),
        Expect::Version(v) => format!("version {v} was current"),
    };
    Error::unavailable(format!(
        "{location} changed while it was written ({what} when it was read); nothing was overwritten, run again"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let vars: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_vars(vars).unwrap()
    }

    #[test]
    fn debug_shows_no_value() {
        let current = Current {
            value: Some(Payload::Text(SecretString::from("s3cr3t-text"))),
            version: "3".into(),
        };
        let bin = Payload::Binary(SecretSlice::from(b"s3cr3t-bytes".to_vec()));
        let shown = format!("{current:?} {bin:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("version: \"3\""), "{shown}");
    }

    #[test]
    fn only_named_aws_and_vault_instances_open() {
        let c = config(&[("SECRETS_PROVIDERS", "env,local=env")]);
        let e = open(&c, "nowhere").unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Config);
        assert!(e.to_string().contains("(it has: env, local)"), "{e}");
        let e = open(&c, "local").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("provider 'local' (env) cannot be written"),
            "{e}"
        );
        #[cfg(feature = "vault")]
        {
            let c = config(&[
                ("SECRETS_PROVIDERS", "dr=vault"),
                ("SECRETS_DR_VAULT_ADDR", "http://127.0.0.1:8200"),
                ("VAULT_TOKEN", "hvs.s3cr3t-token"),
                ("SECRETS_DR_PREFIX", "app"),
            ]);
            let store = open(&c, "dr").unwrap();
            assert_eq!(store.name(), "dr");
            assert_eq!(store.kind(), ProviderKind::Vault);
            assert_eq!(store.location("db"), "secret/data/app/db");
            assert!(!format!("{store:?}").contains("s3cr3t"));
            let c = config(&[("SECRETS_PROVIDERS", "dr=vault")]);
            let e = open(&c, "dr").unwrap_err();
            assert!(e.to_string().starts_with("provider 'dr': "), "{e}");
        }
        #[cfg(feature = "aws")]
        {
            let c = config(&[("SECRETS_PROVIDERS", "aws"), ("SECRETS_PREFIX", "/app")]);
            let store = open(&c, "aws").unwrap();
            assert_eq!(store.kind(), ProviderKind::Aws);
            assert_eq!(store.location("db"), "/app/db");
        }
    }

    #[test]
    fn a_changed_secret_says_what_was_expected() {
        let e = changed("secret/data/app/db", &Expect::Version("4".into()));
        assert_eq!(e.kind(), crate::ErrorKind::Unavailable);
        assert!(e.to_string().contains("version 4 was current"), "{e}");
        let e = changed("/app/db", &Expect::Absent);
        assert!(e.to_string().contains("it did not exist"), "{e}");
    }
}
