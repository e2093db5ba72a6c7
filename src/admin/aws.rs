//! AWS Secrets Manager as a [`SecretStore`]: the provider's client,
//! settings, prefix and error mapping ([`AwsProvider`]), with the calls
//! that write.
//!
//! - write: `CreateSecret` for a new secret, `PutSecretValue` for a new
//!   version (`SecretString`, or `SecretBinary` for bytes);
//! - rotate: `PutSecretValue` with `VersionStages: [AWSPENDING]`, then
//!   `UpdateSecretVersionStage` moving `AWSCURRENT` (AWS puts
//!   `AWSPREVIOUS` on the version it leaves) and removing `AWSPENDING`;
//!   a discarded rotation only removes `AWSPENDING` (the version, left
//!   without a label, is AWS's to delete);
//! - audit: `ListSecrets` under the prefix (at most [`MAX_LIST_PAGES`]
//!   pages of 100), then `ListSecretVersionIds` of each secret: the
//!   creation date of the version holding `AWSCURRENT` (`LastChangedDate`
//!   moves on tag and description edits too).
//!
//! Writing needs `secretsmanager:CreateSecret`, `PutSecretValue`,
//! `UpdateSecretVersionStage`; auditing `ListSecrets` and
//! `ListSecretVersionIds`; both `DescribeSecret`.

use std::fmt;
use std::time::SystemTime;

use aws_sdk_secretsmanager::primitives::Blob;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};
use secrecy::ExposeSecret;

use super::{Current, Expect, Payload, SecretInfo, SecretStore, Staged};
use crate::chain::ProviderKind;
use crate::error::{Error, ErrorKind};
use crate::providers::aws::{AwsProvider, join_prefix};
use crate::providers::{BoxFuture, Provider, SecretData, Version};
use crate::settings::Settings;

/// The most `ListSecrets` pages (of 100) one listing reads.
pub const MAX_LIST_PAGES: usize = 100;
/// The most `ListSecretVersionIds` pages (of 100) read for one secret.
const MAX_VERSION_PAGES: usize = 20;

const CURRENT: &str = "AWSCURRENT";
const PENDING: &str = "AWSPENDING";

/// AWS Secrets Manager, written to by the operator commands.
pub struct AwsStore {
    name: String,
    provider: AwsProvider,
}

impl fmt::Debug for AwsStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsStore")
            .field("name", &self.name)
            .field("provider", &self.provider)
            .finish()
    }
}

impl AwsStore {
    /// The store of instance `name`, from its view of the settings (the
    /// read provider's variables: region, endpoint, credentials, role,
    /// timeouts, `SECRETS_PREFIX`).
    ///
    /// # Errors
    ///
    /// As [`AwsProvider::from_settings`].
    pub fn from_settings(name: &str, settings: &Settings) -> Result<AwsStore, Error> {
        Ok(AwsStore {
            name: name.to_owned(),
            provider: AwsProvider::from_settings(settings)?,
        })
    }

    /// A store over a provider you built ([`AwsProvider::from_client`]).
    pub fn from_provider(name: &str, provider: AwsProvider) -> AwsStore {
        AwsStore {
            name: name.to_owned(),
            provider,
        }
    }

    fn what(&self, id: &str) -> String {
        format!("secret id {id}")
    }

    async fn read_inner(&self, path: &str) -> Result<Option<Current>, Error> {
        match self.provider.fetch(path, &Version::Current).await {
            Ok(value) => {
                let (data, metadata) = value.into_parts();
                let version = metadata.version_id().unwrap_or_default().to_owned();
                let value = match data {
                    SecretData::Binary(b) | SecretData::File(b) => Payload::Binary(b),
                    SecretData::Text(s) | SecretData::Document(s) => Payload::Text(s),
                };
                Ok(Some(Current {
                    value: Some(value),
                    version,
                }))
            }
            Err(e)
                if e.kind() == ErrorKind::NotFound
                    && e.code() != Some("InvalidRequestException") =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    async fn write_inner(
        &self,
        path: &str,
        value: &Payload,
        expect: &Expect,
    ) -> Result<String, Error> {
        let id = self.provider.secret_id(path);
        let c = self.provider.admin_client().await?;
        match expect {
            Expect::Absent => {
                let req = c.client.create_secret().name(&id);
                let req = match value {
                    Payload::Text(s) => req.secret_string(s.expose_secret()),
                    Payload::Binary(b) => req.secret_binary(Blob::new(b.expose_secret().to_vec())),
                };
                match req.send().await {
                    Ok(out) => Ok(out.version_id.unwrap_or_default()),
                    Err(e) => {
                        let e = c.error(e, &format!("CreateSecret of {}", self.what(&id)));
                        if e.code() == Some("ResourceExistsException") {
                            Err(super::changed(&id, expect))
                        } else {
                            Err(e)
                        }
                    }
                }
            }
            Expect::Version(_) => self.put(&c, &id, value, None).await,
        }
    }

    /// `PutSecretValue`, with `stages` (else AWS gives it `AWSCURRENT`).
    async fn put(
        &self,
        c: &crate::providers::aws::AdminClient<'_>,
        id: &str,
        value: &Payload,
        stage: Option<&str>,
    ) -> Result<String, Error> {
        let req = c.client.put_secret_value().secret_id(id);
        let req = match value {
            Payload::Text(s) => req.secret_string(s.expose_secret()),
            Payload::Binary(b) => req.secret_binary(Blob::new(b.expose_secret().to_vec())),
        };
        let req = match stage {
            Some(stage) => req.version_stages(stage),
            None => req,
        };
        let out = req
            .send()
            .await
            .map_err(|e| c.error(e, &format!("PutSecretValue of {}", self.what(id))))?;
        out.version_id.ok_or_else(|| {
            Error::unavailable(format!(
                "AWS Secrets Manager answered PutSecretValue of {} without a version id",
                self.what(id)
            ))
        })
    }

    /// `UpdateSecretVersionStage`: `stage` moves to `to` from `from`.
    async fn move_stage(
        &self,
        id: &str,
        stage: &str,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<(), Error> {
        let c = self.provider.admin_client().await?;
        c.client
            .update_secret_version_stage()
            .secret_id(id)
            .version_stage(stage)
            .set_remove_from_version_id(from.map(str::to_owned))
            .set_move_to_version_id(to.map(str::to_owned))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                c.error(
                    e,
                    &format!("UpdateSecretVersionStage {stage} of {}", self.what(id)),
                )
            })
    }

    async fn list_inner(&self, prefix: &str) -> Result<Vec<SecretInfo>, Error> {
        let c = self.provider.admin_client().await?;
        let base = join_prefix(self.provider.prefix(), "");
        let wanted = join_prefix(self.provider.prefix(), prefix);
        let mut out = Vec::new();
        let mut next_token: Option<String> = None;
        for page in 0.. {
            if page == MAX_LIST_PAGES {
                return Err(Error::unavailable(format!(
                    "more than {} secrets under '{wanted}' (ListSecrets); audit a narrower prefix",
                    MAX_LIST_PAGES * 100
                )));
            }
            let mut req = c
                .client
                .list_secrets()
                .max_results(100)
                .set_next_token(next_token.take());
            if !wanted.is_empty() {
                req = req.filters(
                    Filter::builder()
                        .key(FilterNameStringType::Name)
                        .values(wanted.clone())
                        .build(),
                );
            }
            let answer = req
                .send()
                .await
                .map_err(|e| c.error(e, "listing secrets"))?;
            for entry in answer.secret_list.unwrap_or_default() {
                let Some(name) = entry.name.as_deref() else {
                    continue;
                };
                if !name.starts_with(&wanted) || name.len() <= base.len() {
                    continue;
                }
                let stages = entry.secret_versions_to_stages.unwrap_or_default();
                let holding = |stage: &str| {
                    stages
                        .iter()
                        .find(|(_, s)| s.iter().any(|x| x == stage))
                        .map(|(v, _)| v.clone())
                };
                out.push(SecretInfo {
                    path: name[base.len()..].to_owned(),
                    version: holding(CURRENT),
                    created: None,
                    last_rotated: entry.last_rotated_date.and_then(time),
                    rotation_enabled: Some(entry.rotation_enabled.unwrap_or(false)),
                    pending: holding(PENDING),
                    current_gone: None,
                });
            }
            match answer.next_token {
                Some(token) if !token.is_empty() => next_token = Some(token),
                _ => break,
            }
        }
        for info in &mut out {
            let id = join_prefix(self.provider.prefix(), &info.path);
            let (version, created) = self.current_version(&id).await?;
            info.version = version.or(info.version.take());
            info.created = created;
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out.dedup_by(|a, b| a.path == b.path);
        Ok(out)
    }

    /// The version holding `AWSCURRENT` and its creation date, from
    /// `ListSecretVersionIds`.
    async fn current_version(
        &self,
        id: &str,
    ) -> Result<(Option<String>, Option<SystemTime>), Error> {
        let c = self.provider.admin_client().await?;
        let mut next_token: Option<String> = None;
        for _ in 0..MAX_VERSION_PAGES {
            let answer = c
                .client
                .list_secret_version_ids()
                .secret_id(id)
                .max_results(100)
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|e| c.error(e, &format!("ListSecretVersionIds of {}", self.what(id))))?;
            for v in answer.versions.unwrap_or_default() {
                if v.version_stages
                    .unwrap_or_default()
                    .iter()
                    .any(|s| s == CURRENT)
                {
                    return Ok((v.version_id, v.created_date.and_then(time)));
                }
            }
            match answer.next_token {
                Some(token) if !token.is_empty() => next_token = Some(token),
                _ => break,
            }
        }
        Ok((None, None))
    }

    async fn describe_inner(&self, path: &str) -> Result<Option<SecretInfo>, Error> {
        let id = self.provider.secret_id(path);
        let c = self.provider.admin_client().await?;
        let out = match c.client.describe_secret().secret_id(&id).send().await {
            Ok(out) => out,
            Err(e) => {
                let e = c.error(e, &format!("DescribeSecret of {}", self.what(&id)));
                return match e.code() {
                    Some("ResourceNotFoundException") => Ok(None),
                    _ => Err(e),
                };
            }
        };
        let stages = out.version_ids_to_stages.unwrap_or_default();
        let holding = |stage: &str| {
            stages
                .iter()
                .find(|(_, s)| s.iter().any(|x| x == stage))
                .map(|(v, _)| v.clone())
        };
        Ok(Some(SecretInfo {
            path: path.to_owned(),
            version: holding(CURRENT),
            created: None,
            last_rotated: out.last_rotated_date.and_then(time),
            rotation_enabled: Some(out.rotation_enabled.unwrap_or(false)),
            pending: holding(PENDING),
            current_gone: None,
        }))
    }

    async fn stage_inner(
        &self,
        path: &str,
        value: &Payload,
        current: &Current,
    ) -> Result<Staged, Error> {
        let id = self.provider.secret_id(path);
        // A label is on one version only: an older pending one loses it
        // first (AWS would move it; not every endpoint does).
        if let Some(info) = self.describe_inner(path).await?
            && let Some(old) = info.pending
        {
            self.move_stage(&id, PENDING, Some(&old), None).await?;
        }
        let c = self.provider.admin_client().await?;
        let version = self.put(&c, &id, value, Some(PENDING)).await?;
        Ok(Staged {
            path: path.to_owned(),
            version,
            previous: current.version.clone(),
        })
    }

    async fn promote_inner(&self, staged: &Staged) -> Result<(), Error> {
        let id = self.provider.secret_id(&staged.path);
        self.move_stage(&id, CURRENT, Some(&staged.previous), Some(&staged.version))
            .await?;
        self.move_stage(&id, PENDING, Some(&staged.version), None)
            .await
    }

    async fn discard_inner(&self, staged: &Staged) -> Result<String, Error> {
        let id = self.provider.secret_id(&staged.path);
        self.move_stage(&id, PENDING, Some(&staged.version), None)
            .await?;
        Ok(staged.previous.clone())
    }
}

fn time(d: aws_smithy_types::DateTime) -> Option<SystemTime> {
    SystemTime::try_from(d).ok()
}

impl SecretStore for AwsStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> ProviderKind {
        ProviderKind::Aws
    }

    fn location(&self, path: &str) -> String {
        self.provider.secret_id(path)
    }

    fn stored_form(&self, value: &Payload) -> Result<Payload, Error> {
        Ok(match value {
            Payload::Text(s) => Payload::Text(s.clone()),
            Payload::Binary(b) => Payload::Binary(b.clone()),
        })
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
        Box::pin(self.describe_inner(path))
    }

    fn stage<'a>(
        &'a self,
        path: &'a str,
        value: &'a Payload,
        current: &'a Current,
    ) -> BoxFuture<'a, Result<Staged, Error>> {
        Box::pin(self.stage_inner(path, value, current))
    }

    fn promote<'a>(&'a self, staged: &'a Staged) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.promote_inner(staged))
    }

    fn discard<'a>(
        &'a self,
        staged: &'a Staged,
        _previous: &'a Current,
    ) -> BoxFuture<'a, Result<String, Error>> {
        Box::pin(self.discard_inner(staged))
    }
}
