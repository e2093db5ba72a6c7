//! KV version 2 reads: data and metadata paths, versions, reading one
//! secret's `data` object (the chain applies the single-key and `#field`
//! rules to it) and its version's metadata, the recursive LIST,
//! `sys/health`, and the [`Provider`] impl.

use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::Value;

use super::http::{Reply, check_segments, encode_path, status_error};
use super::{NAME, VaultProvider};
use crate::error::{Error, ErrorKind};
use crate::providers::{
    BoxFuture, Provider, SecretData, SecretMetadata, SecretValue, Version, rfc3339,
};

/// Upper bound on the folders one `list` call walks, against cycles or
/// pathological trees.
const MAX_LIST_FOLDERS: usize = 10_000;

impl VaultProvider {
    /// The Vault path a secret name is read from, as it appears in errors:
    /// `{mount}/data/{prefix}{name}`.
    pub fn data_path(&self, name: &str) -> String {
        format!(
            "{}/data/{}{}",
            self.mount,
            self.prefix,
            name.trim_start_matches('/')
        )
    }

    // ---- reading ----

    async fn fetch_inner(&self, name: &str, version: &Version) -> Result<SecretValue, Error> {
        // `/db` and `db` are the same Vault path (AWS-style names often
        // start with `/`); `db/` is a folder, which holds no value.
        let name = name.trim_start_matches('/');
        let what = self.data_path(name);
        if name.ends_with('/') {
            return Err(Error::not_found(format!(
                "not found ({what}; a path ending in '/' is a folder, not a secret)"
            ))
            .with_provider(NAME));
        }
        check_segments(name).map_err(|why| {
            Error::new(
                ErrorKind::InvalidPath,
                format!("secret path '{name}' cannot be read from Vault: {why}"),
            )
            .with_provider(NAME)
        })?;
        let query = match version {
            Version::Current => String::new(),
            Version::Id(id) => match id.trim().parse::<u64>() {
                Ok(n) if n > 0 => format!("?version={n}"),
                _ => {
                    return Err(Error::not_found(format!(
                        "not found ({what}; Vault versions are positive numbers, '{id}' is not one)"
                    ))
                    .with_provider(NAME));
                }
            },
            Version::Stage(stage) => {
                return Err(Error::not_found(format!(
                    "not found ({what}; Vault KV has no stages such as '{stage}', only version numbers)"
                ))
                .with_provider(NAME));
            }
        };
        let url = format!(
            "{}/v1/{}/data/{}{}",
            self.base,
            encode_path(&self.mount),
            encode_path(&format!("{}{}", self.prefix, name)),
            query
        );
        let reply = self.authed(Method::GET, &url, &what).await?;
        match reply.status {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => {
                let why = match deleted_reason(&reply) {
                    Some(reason) => {
                        format!("not found ({what}; {} {reason})", version_label(version))
                    }
                    None => format!("not found ({what})"),
                };
                return Err(Error::not_found(why)
                    .with_provider(NAME)
                    .with_http_status(404));
            }
            _ => return Err(status_error(&reply, &what)),
        }
        let mut doc: Value = serde_json::from_slice(&reply.body).map_err(|e| {
            Error::unavailable(format!(
                "unavailable ({what}: the answer is not JSON: {})",
                crate::error::describe_json_error(&e)
            ))
            .with_provider(NAME)
        })?;
        drop(reply);
        let metadata = version_metadata(&doc, &what);
        let data = doc
            .get_mut("data")
            .map(|d| d.get_mut("data").map(Value::take));
        match data {
            Some(Some(Value::Object(map))) => {
                let text = serde_json::to_string(&map).map_err(|_| {
                    Error::unavailable(format!("unavailable ({what}: cannot re-encode the data)"))
                        .with_provider(NAME)
                })?;
                Ok(
                    SecretValue::new(SecretData::Document(SecretString::from(text)))
                        .with_metadata(metadata),
                )
            }
            // KV v2 answers 200 with `data: null` for a deleted or
            // destroyed version on some servers.
            Some(Some(Value::Null)) => Err(Error::not_found(format!(
                "not found ({what}; {} is deleted or destroyed)",
                version_label(version)
            ))
            .with_provider(NAME)),
            _ => Err(Error::unavailable(format!(
                "unavailable ({what}: the answer has no data object; is '{}' a KV version 2 mount?)",
                self.mount
            ))
            .with_provider(NAME)),
        }
    }

    async fn list_inner(&self, prefix: &str) -> Result<Vec<String>, Error> {
        let prefix = prefix.trim_start_matches('/');
        // `prefix` is a string prefix of relative paths: list its folder and
        // keep the entries that start with the rest.
        let (folder, partial) = match prefix.rfind('/') {
            Some(i) => (&prefix[..=i], &prefix[i + 1..]),
            None => ("", prefix),
        };
        if !folder.is_empty() {
            check_segments(folder.trim_end_matches('/')).map_err(|why| {
                Error::new(
                    ErrorKind::InvalidPath,
                    format!("list prefix '{prefix}' is not a valid Vault path: {why}"),
                )
                .with_provider(NAME)
            })?;
        }
        let mut out = Vec::new();
        let mut queue = std::collections::VecDeque::from([folder.to_owned()]);
        let mut visited = 0usize;
        while let Some(dir) = queue.pop_front() {
            visited += 1;
            if visited > MAX_LIST_FOLDERS {
                return Err(Error::unavailable(format!(
                    "unavailable ({}/metadata/{}{prefix}: more than {MAX_LIST_FOLDERS} folders to list)",
                    self.mount, self.prefix
                ))
                .with_provider(NAME));
            }
            let top = dir == folder;
            for key in self.list_folder(&dir).await? {
                if top && !key.starts_with(partial) {
                    continue;
                }
                let path = format!("{dir}{key}");
                if key.ends_with('/') {
                    queue.push_back(path);
                } else {
                    out.push(path);
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The keys of one folder (relative to the prefix); 404 is empty.
    async fn list_folder(&self, dir: &str) -> Result<Vec<String>, Error> {
        let full = format!("{}{}", self.prefix, dir);
        let what = format!("{}/metadata/{}", self.mount, full);
        let url = format!(
            "{}/v1/{}/metadata/{}?list=true",
            self.base,
            encode_path(&self.mount),
            encode_path(&full)
        );
        let reply = self.authed(Method::GET, &url, &what).await?;
        match reply.status {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Ok(Vec::new()),
            _ => return Err(status_error(&reply, &what)),
        }
        let v = reply.json().ok_or_else(|| {
            Error::unavailable(format!("unavailable ({what}: the answer is not JSON)"))
                .with_provider(NAME)
        })?;
        let keys = v
            .get("data")
            .and_then(|d| d.get("keys"))
            .and_then(Value::as_array)
            .ok_or_else(|| {
                Error::unavailable(format!("unavailable ({what}: the answer has no keys)"))
                    .with_provider(NAME)
            })?;
        Ok(keys
            .iter()
            .filter_map(Value::as_str)
            .filter(|k| !k.is_empty() && *k != "/")
            .map(str::to_owned)
            .collect())
    }

    async fn health_inner(&self) -> Result<(), Error> {
        let what = "sys/health";
        let url = format!(
            "{}/v1/sys/health?standbyok=true&perfstandbyok=true",
            self.base
        );
        let reply = self
            .send_in(Method::GET, &url, what, None, None, false)
            .await?;
        match reply.status.as_u16() {
            200 => {}
            503 => {
                return Err(Error::unavailable("unavailable (503 sealed; sys/health)")
                    .with_provider(NAME)
                    .with_http_status(503));
            }
            501 => {
                return Err(
                    Error::unavailable("unavailable (501 not initialised; sys/health)")
                        .with_provider(NAME)
                        .with_http_status(501),
                );
            }
            _ => return Err(status_error(&reply, what)),
        }
        let what = "auth/token/lookup-self";
        let url = format!("{}/v1/auth/token/lookup-self", self.base);
        let reply = self.authed(Method::GET, &url, what).await?;
        match reply.status {
            StatusCode::OK => Ok(()),
            StatusCode::FORBIDDEN => Err(Error::access_denied(
                "access denied (auth/token/lookup-self: the token is invalid, expired or revoked)",
            )
            .with_provider(NAME)
            .with_http_status(403)),
            _ => Err(status_error(&reply, what)),
        }
    }
}

/// What the operator commands (`crate::admin`) send: KV v2 requests
/// through the provider's session, addressing and checks.
impl VaultProvider {
    /// The URL of `{mount}/{area}/{prefix}{name}` (`area`: `data` or
    /// `metadata`) and its label in errors; `name` is checked as a read's.
    pub(crate) fn kv_url(&self, area: &str, name: &str) -> Result<(String, String), Error> {
        let name = name.trim_start_matches('/');
        let what = format!("{}/{area}/{}{}", self.mount, self.prefix, name);
        check_segments(name).map_err(|why| {
            Error::new(
                ErrorKind::InvalidPath,
                format!("secret path '{name}' cannot be written to Vault: {why}"),
            )
            .with_provider(NAME)
        })?;
        let url = format!(
            "{}/v1/{}/{area}/{}",
            self.base,
            encode_path(&self.mount),
            encode_path(&format!("{}{}", self.prefix, name))
        );
        Ok((url, what))
    }

    /// One authenticated request (re-login on a dead token, as reads do).
    pub(crate) async fn kv_call(
        &self,
        method: Method,
        url: &str,
        what: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Reply, Error> {
        self.authed_with(method, url, what, body).await
    }
}

impl Provider for VaultProvider {
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

    /// `sys/health` (a sealed or uninitialised server is unavailable), then
    /// `auth/token/lookup-self` (a dead token is access denied).
    fn health(&self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(self.health_inner())
    }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// What a data read says about the version it returned (`data.metadata`:
/// `version`, `created_time`), with the data path as the id. A field that
/// is missing or does not parse stays empty: the value is still good.
fn version_metadata(doc: &Value, data_path: &str) -> SecretMetadata {
    let mut m = SecretMetadata::new().with_id(data_path);
    let Some(meta) = doc.get("data").and_then(|d| d.get("metadata")) else {
        return m;
    };
    if let Some(version) = meta.get("version").and_then(Value::as_u64) {
        m = m.with_version_id(version.to_string());
    }
    if let Some(created) = meta
        .get("created_time")
        .and_then(Value::as_str)
        .and_then(rfc3339::parse)
    {
        m = m.with_created(created);
    }
    m
}

/// Why a 404 on a data read is a deleted or destroyed version, if it is.
fn deleted_reason(reply: &Reply) -> Option<&'static str> {
    let v = reply.json()?;
    let meta = v.get("data")?.get("metadata")?;
    if meta.get("destroyed").and_then(Value::as_bool) == Some(true) {
        return Some("is destroyed");
    }
    match meta.get("deletion_time").and_then(Value::as_str) {
        Some(t) if !t.is_empty() => Some("is deleted"),
        _ => None,
    }
}

fn version_label(version: &Version) -> String {
    match version {
        Version::Id(id) => format!("version {}", id.trim()),
        _ => "the current version".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_metadata_is_read_and_a_bad_field_stays_empty() {
        let doc: Value = serde_json::from_str(
            r#"{"data":{"data":{"k":"s3cr3t"},"metadata":{"created_time":"2023-11-14T22:13:20.5Z","version":2}}}"#,
        )
        .unwrap();
        let m = version_metadata(&doc, "secret/data/app/db");
        assert_eq!(m.id(), Some("secret/data/app/db"));
        assert_eq!(m.version_id(), Some("2"));
        assert_eq!(
            m.created(),
            Some(std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_500))
        );
        let doc: Value = serde_json::from_str(
            r#"{"data":{"data":{},"metadata":{"created_time":"yesterday","version":"two"}}}"#,
        )
        .unwrap();
        let m = version_metadata(&doc, "secret/data/app/db");
        assert_eq!((m.version_id(), m.created()), (None, None));
        let m = version_metadata(&Value::Null, "secret/data/app/db");
        assert_eq!(m.id(), Some("secret/data/app/db"));
    }

    #[test]
    fn deleted_versions_are_recognised_from_the_404_body() {
        let reply = |body: &str| Reply {
            status: StatusCode::NOT_FOUND,
            body: body.as_bytes().to_vec(),
        };
        let deleted = r#"{"data":{"data":null,"metadata":{"deletion_time":"2024-01-01T00:00:00Z","destroyed":false}}}"#;
        assert_eq!(deleted_reason(&reply(deleted)), Some("is deleted"));
        let destroyed =
            r#"{"data":{"data":null,"metadata":{"deletion_time":"","destroyed":true}}}"#;
        assert_eq!(deleted_reason(&reply(destroyed)), Some("is destroyed"));
        assert_eq!(deleted_reason(&reply(r#"{"errors":[]}"#)), None);
    }
}
