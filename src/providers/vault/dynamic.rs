//! `vault-dynamic`: secrets that Vault's dynamic engines make on each read
//! (database credentials, PKI certificates, RabbitMQ users, cloud keys,
//! TOTP codes), each with its lease.
//!
//! The same address, TLS and auth settings as the KV provider (one
//! [`VaultProvider`] inside), but a path is read as it is written, relative
//! to the server's API root: `database/creds/app` is
//! `GET /v1/database/creds/app`, with no KV mount and no `SECRETS_PREFIX`,
//! so a dynamic path never collides with a KV path of the same name.
//!
//! The value is the answer's `data` object as a
//! [`SecretData::Document`] (`{"username": ..., "password": ...}`; the
//! chain's `#field` and single-key rules apply), and its lease
//! (`lease_id`, `lease_duration`, `renewable`) goes into the metadata, so
//! the chain renews it (`sys/leases/renew`) and revokes it on shutdown
//! (`sys/leases/revoke`) through [`Provider::renew_lease`] and
//! [`Provider::revoke_lease`].

use std::fmt;
use std::time::{Duration, SystemTime};

use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::Value;

use super::VaultProvider;
use super::http::{Reply, check_segments, encode_path, status_error};
use crate::error::{Error, ErrorKind};
use crate::providers::{
    BoxFuture, Lease, Provider, SecretData, SecretMetadata, SecretValue, Version,
};
use crate::settings::Settings;

/// The provider's name in chains, logs and errors.
const NAME: &str = "vault-dynamic";

/// Reads secrets of Vault's dynamic engines, with their leases.
///
/// ```no_run
/// use secret_chain::SecretsManager;
/// use secret_chain::providers::vault::{VaultDynamicProvider, VaultProvider};
///
/// # async fn run() -> Result<(), secret_chain::Error> {
/// #[derive(serde::Deserialize)]
/// struct DbCreds { username: String, password: String }
///
/// let vault = VaultProvider::builder("https://vault.internal:8200").token("hvs.example").build()?;
/// let manager = SecretsManager::builder().provider(VaultDynamicProvider::new(vault)).build()?;
/// let creds: DbCreds = manager.get_secret_json("database/creds/app").await?;
/// # drop((creds.username, creds.password));
/// # Ok(())
/// # }
/// ```
pub struct VaultDynamicProvider {
    vault: VaultProvider,
}

impl fmt::Debug for VaultDynamicProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultDynamicProvider")
            .field("vault", &self.vault)
            .finish()
    }
}

impl VaultDynamicProvider {
    /// A provider on `vault`'s address, TLS settings and login; its KV
    /// mount and prefix are not used.
    pub fn new(vault: VaultProvider) -> VaultDynamicProvider {
        VaultDynamicProvider { vault }
    }

    /// Built from the same variables as the KV provider
    /// ([`VaultProvider::from_settings`]: `VAULT_ADDR`, the token or login
    /// method, `VAULT_NAMESPACE`, `VAULT_CACERT`, the timeouts);
    /// `SECRETS_VAULT_MOUNT` and `SECRETS_PREFIX` do not apply.
    ///
    /// # Errors
    ///
    /// As [`VaultProvider::from_settings`].
    pub fn from_settings(settings: &Settings) -> Result<VaultDynamicProvider, Error> {
        VaultProvider::from_settings(settings).map(VaultDynamicProvider::new)
    }

    async fn fetch_inner(&self, name: &str, version: &Version) -> Result<SecretValue, Error> {
        let path = name.trim_start_matches('/');
        check_segments(path.trim_end_matches('/')).map_err(|why| {
            Error::new(
                ErrorKind::InvalidPath,
                format!("secret path '{name}' cannot be read from Vault: {why}"),
            )
            .with_provider(NAME)
        })?;
        if *version != Version::Current {
            return Err(Error::not_found(format!(
                "not found ({path}; a dynamic secret is made on each read and has no {version})"
            ))
            .with_provider(NAME));
        }
        let url = format!("{}/v1/{}", self.vault.base, encode_path(path));
        let reply = self.vault.authed(Method::GET, &url, path).await?;
        match reply.status {
            StatusCode::OK => {}
            // An unknown role or a path the engine does not serve.
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => {
                return Err(Error::not_found(format!("not found ({path})"))
                    .with_provider(NAME)
                    .with_http_status(reply.status.as_u16()));
            }
            StatusCode::BAD_REQUEST if unknown_role(&reply) => {
                return Err(
                    Error::not_found(format!("not found ({path}: unknown role)"))
                        .with_provider(NAME)
                        .with_http_status(400),
                );
            }
            _ => return Err(status_error(&reply, path).with_provider(NAME)),
        }
        let doc = reply.json().ok_or_else(|| {
            Error::unavailable(format!("unavailable ({path}: the answer is not JSON)"))
                .with_provider(NAME)
        })?;
        drop(reply);
        let metadata = lease_metadata(&doc, path);
        match doc.get("data") {
            Some(Value::Object(map)) => {
                let text = serde_json::to_string(map).map_err(|_| {
                    Error::unavailable(format!("unavailable ({path}: cannot re-encode the data)"))
                        .with_provider(NAME)
                })?;
                Ok(
                    SecretValue::new(SecretData::Document(SecretString::from(text)))
                        .with_metadata(metadata),
                )
            }
            _ => Err(Error::not_found(format!(
                "not found ({path}: the answer has no data object)"
            ))
            .with_provider(NAME)),
        }
    }

    /// The names in the folder of `prefix` (`database/roles/`), one level:
    /// dynamic engines make their secrets on read, so there is nothing to
    /// walk below; the empty prefix lists nothing.
    async fn list_inner(&self, prefix: &str) -> Result<Vec<String>, Error> {
        let prefix = prefix.trim_start_matches('/');
        let Some(cut) = prefix.rfind('/') else {
            return Ok(Vec::new());
        };
        let (folder, partial) = (&prefix[..=cut], &prefix[cut + 1..]);
        check_segments(folder.trim_end_matches('/')).map_err(|why| {
            Error::new(
                ErrorKind::InvalidPath,
                format!("list prefix '{prefix}' is not a valid Vault path: {why}"),
            )
            .with_provider(NAME)
        })?;
        let url = format!(
            "{}/v1/{}?list=true",
            self.vault.base,
            encode_path(folder.trim_end_matches('/'))
        );
        let reply = self.vault.authed(Method::GET, &url, folder).await?;
        match reply.status {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => return Ok(Vec::new()),
            _ => return Err(status_error(&reply, folder).with_provider(NAME)),
        }
        let keys = reply
            .json()
            .and_then(|v| v.get("data")?.get("keys")?.as_array().cloned())
            .ok_or_else(|| {
                Error::unavailable(format!("unavailable ({folder}: the answer has no keys)"))
                    .with_provider(NAME)
            })?;
        let mut out: Vec<String> = keys
            .iter()
            .filter_map(Value::as_str)
            .filter(|k| !k.is_empty() && k.starts_with(partial))
            .map(|k| format!("{folder}{k}"))
            .collect();
        out.sort();
        Ok(out)
    }

    async fn renew_inner(&self, lease: &Lease, increment: Duration) -> Result<Lease, Error> {
        let what = format!("sys/leases/renew {}", lease.short_id());
        let body = serde_json::to_vec(&serde_json::json!({
            "lease_id": lease.id(),
            "increment": increment.as_secs().max(1),
        }))
        .map_err(|_| {
            Error::unavailable(format!("unavailable ({what}: cannot encode the request)"))
        })?;
        let url = format!("{}/v1/sys/leases/renew", self.vault.base);
        let reply = self
            .vault
            .authed_with(Method::PUT, &url, &what, Some(body))
            .await?;
        if reply.status != StatusCode::OK {
            return Err(refused_or_unavailable(&reply, &what));
        }
        let doc = reply.json().ok_or_else(|| {
            Error::unavailable(format!("unavailable ({what}: the answer is not JSON)"))
                .with_provider(NAME)
        })?;
        // The renewed lease keeps its id; a server that names another one
        // is followed.
        let id = doc
            .get("lease_id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or(lease.id());
        let duration = doc
            .get("lease_duration")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let renewable = doc
            .get("renewable")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Ok(Lease::new(id, Duration::from_secs(duration), renewable))
    }

    async fn revoke_inner(&self, lease: &Lease) -> Result<(), Error> {
        let what = format!("sys/leases/revoke {}", lease.short_id());
        let body =
            serde_json::to_vec(&serde_json::json!({ "lease_id": lease.id() })).map_err(|_| {
                Error::unavailable(format!("unavailable ({what}: cannot encode the request)"))
            })?;
        let url = format!("{}/v1/sys/leases/revoke", self.vault.base);
        let reply = self
            .vault
            .authed_with(Method::PUT, &url, &what, Some(body))
            .await?;
        match reply.status {
            StatusCode::OK | StatusCode::NO_CONTENT => Ok(()),
            _ => Err(refused_or_unavailable(&reply, &what)),
        }
    }
}

impl Provider for VaultDynamicProvider {
    fn name(&self) -> &str {
        NAME
    }

    fn fetch<'a>(
        &'a self,
        name: &'a str,
        version: &'a Version,
    ) -> BoxFuture<'a, Result<SecretValue, Error>> {
        Box::pin(self.fetch_inner(name, version))
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, Error>> {
        Box::pin(self.list_inner(prefix))
    }

    /// As the KV provider: `sys/health`, then the token's own lookup.
    fn health(&self) -> BoxFuture<'_, Result<(), Error>> {
        Provider::health(&self.vault)
    }

    fn renew_lease<'a>(
        &'a self,
        lease: &'a Lease,
        increment: Duration,
    ) -> BoxFuture<'a, Result<Lease, Error>> {
        Box::pin(self.renew_inner(lease, increment))
    }

    fn revoke_lease<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.revoke_inner(lease))
    }
}

/// The lease of a dynamic read (none when `lease_id` is empty: a TOTP code,
/// a PKI certificate without `generate_lease`), with the path as the id and
/// now as the creation date.
fn lease_metadata(doc: &Value, path: &str) -> SecretMetadata {
    let m = SecretMetadata::new()
        .with_id(path)
        .with_created(SystemTime::now());
    let Some(id) = doc
        .get("lease_id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return m;
    };
    let duration = doc
        .get("lease_duration")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let renewable = doc
        .get("renewable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    m.with_lease(Lease::new(id, Duration::from_secs(duration), renewable))
}

/// Vault answers a read of a role that does not exist with 400 `unknown
/// role` (database engine) or `role ... not found`.
fn unknown_role(reply: &Reply) -> bool {
    reply.errors_summary().is_some_and(|s| {
        let s = s.to_ascii_lowercase();
        s.contains("unknown role") || (s.contains("role") && s.contains("not found"))
    })
}

/// A lease call's failure: a 4xx is the server refusing (the lease is
/// gone, not renewable, or not ours to touch); the rest is unavailable.
fn refused_or_unavailable(reply: &Reply, what: &str) -> Error {
    let code = reply.status.as_u16();
    if (400..500).contains(&code) && code != 429 {
        let detail = match reply.errors_summary() {
            Some(s) => format!("access denied ({code} {s}; {what})"),
            None => format!("access denied ({code}; {what})"),
        };
        return Error::access_denied(detail)
            .with_provider(NAME)
            .with_http_status(code);
    }
    status_error(reply, what).with_provider(NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lease_is_read_from_the_answer_and_an_empty_id_is_no_lease() {
        let doc: Value = serde_json::json!({
            "lease_id": "database/creds/app/Abc123xyz",
            "lease_duration": 6,
            "renewable": true,
            "data": {"username": "v-app", "password": "pw"}
        });
        let m = lease_metadata(&doc, "database/creds/app");
        let lease = m.lease().expect("a lease");
        assert_eq!(lease.id(), "database/creds/app/Abc123xyz");
        assert_eq!(lease.duration(), Duration::from_secs(6));
        assert!(lease.renewable());
        assert_eq!(m.id(), Some("database/creds/app"));
        let totp: Value = serde_json::json!({"lease_id": "", "data": {"code": "123456"}});
        assert!(lease_metadata(&totp, "totp/code/x").lease().is_none());
    }

    #[test]
    fn debug_output_shows_no_credential() {
        let vault = VaultProvider::builder("http://127.0.0.1:8200")
            .token("hvs.dynamic-token-secret-1")
            .build()
            .unwrap();
        let d = format!("{:?}", VaultDynamicProvider::new(vault));
        assert!(!d.contains("dynamic-token-secret"), "{d}");
    }
}
