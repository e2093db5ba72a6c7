//! Vault / OpenBao KV v2 as a [`SecretStore`]: the provider's session
//! (token, AppRole, JWT, Kubernetes; re-login on a dead token), address,
//! TLS, namespace, mount and prefix ([`VaultProvider`]), with the calls
//! that write.
//!
//! - write: `POST {mount}/data/{path}` with `options.cas` (0 for a new
//!   secret, else the version read), the data object of
//!   [`vault_data`](super::vault_data): text as `{"value": v}`, a JSON
//!   object as its fields;
//! - metadata: `GET {mount}/metadata/{path}`: `current_version`, and
//!   `versions[current_version]`'s `created_time`, `deletion_time` and
//!   `destroyed` (a soft-deleted current version reads as "no value", and
//!   a write must still name its number);
//! - list: the provider's recursive LIST of `{mount}/metadata/` (bounded
//!   at 10,000 folders), then each secret's metadata;
//! - rotate: the new version is written at once (KV v2 has no pending
//!   state); a discarded rotation writes the previous data back as the
//!   newest version, with check-and-set against the new one.
//!
//! A policy needs `create`/`update` on `{mount}/data/...` to write, `read`
//! on `{mount}/metadata/...` to audit and `list` on it to walk a prefix.

use std::fmt;

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::{Current, Expect, Payload, SecretInfo, SecretStore, Staged, value};
use crate::chain::ProviderKind;
use crate::error::{Error, ErrorKind};
use crate::providers::vault::{Reply, VaultProvider, status_error};
use crate::providers::{BoxFuture, Provider};
use crate::settings::Settings;

/// Vault / OpenBao KV v2, written to by the operator commands.
pub struct VaultStore {
    name: String,
    provider: VaultProvider,
}

impl fmt::Debug for VaultStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultStore")
            .field("name", &self.name)
            .field("provider", &self.provider)
            .finish()
    }
}

impl VaultStore {
    /// The store of instance `name`, from its view of the settings (the
    /// read provider's: `VAULT_ADDR`, auth, `SECRETS_VAULT_MOUNT`,
    /// `SECRETS_PREFIX`...).
    ///
    /// # Errors
    ///
    /// As [`VaultProvider::from_settings`].
    pub fn from_settings(name: &str, settings: &Settings) -> Result<VaultStore, Error> {
        Ok(VaultStore {
            name: name.to_owned(),
            provider: VaultProvider::from_settings(settings)?,
        })
    }

    /// A store over a provider you built ([`VaultProvider::builder`]).
    pub fn from_provider(name: &str, provider: VaultProvider) -> VaultStore {
        VaultStore {
            name: name.to_owned(),
            provider,
        }
    }

    async fn read_inner(&self, path: &str) -> Result<Option<Current>, Error> {
        let (url, what) = self.provider.kv_url("data", path)?;
        let reply = self
            .provider
            .kv_call(Method::GET, &url, &what, None)
            .await?;
        match reply.status {
            StatusCode::OK => {
                let mut doc = json_of(&reply, &what)?;
                drop(reply);
                let version = doc
                    .pointer("/data/metadata/version")
                    .and_then(Value::as_u64);
                let data = doc.pointer_mut("/data/data").map(Value::take);
                let result = match (data, version) {
                    (Some(Value::Object(map)), Some(v)) => {
                        let mut obj = Value::Object(map);
                        let text = SecretString::from(obj.to_string());
                        value::wipe(&mut obj);
                        Ok(Some(Current {
                            value: Some(Payload::Text(text)),
                            version: v.to_string(),
                        }))
                    }
                    // Deleted or destroyed: the metadata says which version.
                    (Some(Value::Null), _) => Err(None),
                    _ => Err(Some(Error::unavailable(format!(
                        "unavailable ({what}: the answer has no data object and version; is it a KV version 2 mount?)"
                    )))),
                };
                value::wipe(&mut doc);
                match result {
                    Ok(current) => Ok(current),
                    Err(Some(e)) => Err(e.with_provider("vault")),
                    Err(None) => self.gone_current(path).await,
                }
            }
            StatusCode::NOT_FOUND => self.gone_current(path).await,
            _ => Err(status_error(&reply, &what)),
        }
    }

    /// A data read found no value: the secret does not exist, or its
    /// current version is deleted or destroyed (the metadata counts it).
    /// A token that may write data but not read metadata sees "absent":
    /// a write then sends `cas: 0`, which Vault refuses if it is not.
    async fn gone_current(&self, path: &str) -> Result<Option<Current>, Error> {
        let info = match self.metadata(path).await {
            Err(e) if e.kind() == ErrorKind::AccessDenied => return Ok(None),
            other => other?,
        };
        Ok(info.and_then(|info| {
            info.version.map(|version| Current {
                value: None,
                version,
            })
        }))
    }

    async fn metadata(&self, path: &str) -> Result<Option<SecretInfo>, Error> {
        let (url, what) = self.provider.kv_url("metadata", path)?;
        let reply = self
            .provider
            .kv_call(Method::GET, &url, &what, None)
            .await?;
        match reply.status {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Ok(None),
            _ => return Err(status_error(&reply, &what)),
        }
        let doc = json_of(&reply, &what)?;
        Ok(Some(info_of(path, &doc)))
    }

    async fn write_inner(
        &self,
        path: &str,
        value: &Payload,
        expect: &Expect,
    ) -> Result<String, Error> {
        let (url, what) = self.provider.kv_url("data", path)?;
        let Payload::Text(data) = self.stored_form(value)? else {
            unreachable!("stored_form gives text");
        };
        let cas = match expect {
            Expect::Absent => 0,
            Expect::Version(v) => v.parse::<u64>().map_err(|_| {
                Error::new(
                    ErrorKind::InvalidValue,
                    format!("{what}: '{v}' is not a Vault version number"),
                )
            })?,
        };
        let mut body = format!(
            r#"{{"options":{{"cas":{cas}}},"data":{}}}"#,
            data.expose_secret()
        )
        .into_bytes();
        let reply = self
            .provider
            .kv_call(Method::POST, &url, &what, Some(body.clone()))
            .await;
        zeroize::Zeroize::zeroize(&mut body);
        let reply = reply?;
        match reply.status.as_u16() {
            200 | 204 => {}
            400 if reply
                .errors_summary()
                .is_some_and(|s| s.contains("check-and-set")) =>
            {
                return Err(super::changed(&what, expect).with_provider("vault"));
            }
            _ => return Err(status_error(&reply, &what)),
        }
        let doc = json_of(&reply, &what)?;
        doc.pointer("/data/version")
            .and_then(Value::as_u64)
            .map(|v| v.to_string())
            .ok_or_else(|| {
                Error::unavailable(format!(
                    "unavailable ({what}: the write was answered without a version)"
                ))
                .with_provider("vault")
            })
    }

    async fn list_inner(&self, prefix: &str) -> Result<Vec<SecretInfo>, Error> {
        let names = self.provider.list(prefix).await?;
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            // Gone between the LIST and the read: nothing to report.
            if let Some(info) = self.metadata(&name).await? {
                out.push(info);
            }
        }
        Ok(out)
    }

    async fn stage_inner(
        &self,
        path: &str,
        value: &Payload,
        current: &Current,
    ) -> Result<Staged, Error> {
        let expect = Expect::Version(current.version.clone());
        let version = self.write_inner(path, value, &expect).await?;
        Ok(Staged {
            path: path.to_owned(),
            version,
            previous: current.version.clone(),
        })
    }

    async fn discard_inner(&self, staged: &Staged, previous: &Current) -> Result<String, Error> {
        let (_, what) = self.provider.kv_url("data", &staged.path)?;
        let Some(data) = &previous.value else {
            return Err(Error::new(
                ErrorKind::InvalidValue,
                format!(
                    "{what}: version {} had no value (deleted) and cannot be written back",
                    previous.version
                ),
            ));
        };
        self.write_inner(&staged.path, data, &Expect::Version(staged.version.clone()))
            .await
    }
}

fn json_of(reply: &Reply, what: &str) -> Result<Value, Error> {
    reply.json().ok_or_else(|| {
        Error::unavailable(format!("unavailable ({what}: the answer is not JSON)"))
            .with_provider("vault")
    })
}

/// A secret's metadata (`GET {mount}/metadata/{path}`'s answer).
fn info_of(path: &str, doc: &Value) -> SecretInfo {
    let data = doc.get("data");
    let current = data
        .and_then(|d| d.get("current_version"))
        .and_then(Value::as_u64)
        .filter(|v| *v > 0);
    let version = current.and_then(|v| {
        data.and_then(|d| d.get("versions"))
            .and_then(|vs| vs.get(v.to_string()))
    });
    let created = version
        .and_then(|v| v.get("created_time"))
        .and_then(Value::as_str)
        .and_then(crate::providers::rfc3339_parse);
    let destroyed = version
        .and_then(|v| v.get("destroyed"))
        .and_then(Value::as_bool)
        == Some(true);
    let deleted = version
        .and_then(|v| v.get("deletion_time"))
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty());
    SecretInfo {
        path: path.trim_start_matches('/').to_owned(),
        version: current.map(|v| v.to_string()),
        created,
        last_rotated: None,
        rotation_enabled: None,
        pending: None,
        current_gone: if destroyed {
            Some("destroyed")
        } else if deleted {
            Some("deleted")
        } else {
            None
        },
    }
}

impl SecretStore for VaultStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> ProviderKind {
        ProviderKind::Vault
    }

    fn location(&self, path: &str) -> String {
        self.provider.data_path(path)
    }

    fn stored_form(&self, value: &Payload) -> Result<Payload, Error> {
        match value {
            Payload::Text(s) => Ok(Payload::Text(value::vault_data(s))),
            Payload::Binary(b) => match std::str::from_utf8(b.expose_secret()) {
                Ok(s) => Ok(Payload::Text(value::vault_data(&SecretString::from(s)))),
                Err(_) => Err(Error::new(
                    ErrorKind::InvalidValue,
                    "the value is binary (not UTF-8), which Vault KV cannot hold",
                )),
            },
        }
    }

    fn read<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<Option<Current>, Error>> {
        Box::pin(self.read_inner(path))
    }

    fn write<'a>(
        &'a self,
        path: &'a str,
        value: &'a Payload,
        expect: &'a Expect,
    ) -> BoxFuture<'a, Result<String, Error>> {
        Box::pin(self.write_inner(path, value, expect))
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<SecretInfo>, Error>> {
        Box::pin(self.list_inner(prefix))
    }

    fn describe<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<Option<SecretInfo>, Error>> {
        Box::pin(self.metadata(path))
    }

    fn stage<'a>(
        &'a self,
        path: &'a str,
        value: &'a Payload,
        current: &'a Current,
    ) -> BoxFuture<'a, Result<Staged, Error>> {
        Box::pin(self.stage_inner(path, value, current))
    }

    fn promote<'a>(&'a self, _staged: &'a Staged) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }

    fn discard<'a>(
        &'a self,
        staged: &'a Staged,
        previous: &'a Current,
    ) -> BoxFuture<'a, Result<String, Error>> {
        Box::pin(self.discard_inner(staged, previous))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_names_the_current_version_its_date_and_a_deletion() {
        let doc: Value = serde_json::from_str(
            r#"{"data":{"current_version":2,"versions":{
                "1":{"created_time":"2024-01-01T00:00:00Z","deletion_time":"","destroyed":false},
                "2":{"created_time":"2024-02-01T00:00:00.5Z","deletion_time":"2024-03-01T00:00:00Z","destroyed":false}}}}"#,
        )
        .unwrap();
        let info = info_of("/app/db", &doc);
        assert_eq!(info.path, "app/db");
        assert_eq!(info.version.as_deref(), Some("2"));
        assert_eq!(
            info.created,
            Some(std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_706_745_600_500))
        );
        assert_eq!(info.current_gone, Some("deleted"));
        let doc: Value = serde_json::from_str(
            r#"{"data":{"current_version":1,"versions":{"1":{"created_time":"x","deletion_time":"","destroyed":true}}}}"#,
        )
        .unwrap();
        let info = info_of("db", &doc);
        assert_eq!((info.created, info.current_gone), (None, Some("destroyed")));
        assert_eq!(info_of("db", &Value::Null).version, None);
    }
}
