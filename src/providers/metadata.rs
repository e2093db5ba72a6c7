//! What a backend says about a value besides the value: its id, version,
//! stages, creation date and lease.
//!
//! Metadata never holds a value, so it is safe to log, print and cache on
//! its own: the operator commands show it, the agent answers with it, and
//! the chain keeps it beside the cached value
//! ([`SecretsManager::get_secret_metadata`](crate::SecretsManager::get_secret_metadata)).
//!
//! Every field is optional. A provider fills what its backend reports and
//! leaves the rest empty; a field it cannot read (a date that does not
//! parse, a missing version) stays empty rather than failing the read,
//! because the value itself is still good.
//!
//! Both structs are `#[non_exhaustive]`: backends added later (SSM, GCP,
//! files, dynamic Vault leases) may need more fields, and adding one must
//! not break a provider written outside this crate. Build them with
//! [`SecretMetadata::new`] / [`Lease::new`] and the `with_*` setters.

use std::time::{Duration, SystemTime};

/// What a backend reports about one version of a secret.
///
/// ```
/// use std::time::SystemTime;
/// use secret_chain::providers::{SecretMetadata, SecretValue};
///
/// let v = SecretValue::text("s3cr3t").with_metadata(
///     SecretMetadata::new()
///         .with_id("arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf")
///         .with_version_id("b7c3e1f0")
///         .with_stages(["AWSCURRENT"])
///         .with_created(SystemTime::UNIX_EPOCH),
/// );
/// assert_eq!(v.metadata().stages(), ["AWSCURRENT"]);
/// assert!(v.metadata().lease().is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SecretMetadata {
    id: Option<String>,
    version_id: Option<String>,
    stages: Vec<String>,
    created: Option<SystemTime>,
    lease: Option<Lease>,
    value_type: Option<String>,
    provider: Option<String>,
}

impl SecretMetadata {
    /// Empty metadata: nothing known.
    pub fn new() -> SecretMetadata {
        SecretMetadata::default()
    }

    /// Sets the backend's id for the secret.
    pub fn with_id(mut self, id: impl Into<String>) -> SecretMetadata {
        self.id = Some(id.into());
        self
    }

    /// Sets the id of the version that was read.
    pub fn with_version_id(mut self, version_id: impl Into<String>) -> SecretMetadata {
        self.version_id = Some(version_id.into());
        self
    }

    /// Sets the version's stages or labels (replacing any set before).
    pub fn with_stages<I, S>(mut self, stages: I) -> SecretMetadata
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.stages = stages.into_iter().map(Into::into).collect();
        self
    }

    /// Sets when the version was created.
    pub fn with_created(mut self, created: SystemTime) -> SecretMetadata {
        self.created = Some(created);
        self
    }

    /// Sets the lease of a leased (dynamic) secret.
    pub fn with_lease(mut self, lease: Lease) -> SecretMetadata {
        self.lease = Some(lease);
        self
    }

    /// Sets the backend's type of the value (SSM's `String`, `StringList`
    /// or `SecureString`).
    pub fn with_value_type(mut self, value_type: impl Into<String>) -> SecretMetadata {
        self.value_type = Some(value_type.into());
        self
    }

    /// Sets the provider that answered. Only the chain calls this: a
    /// provider does not know the name it has in a chain.
    pub(crate) fn with_provider(mut self, provider: impl Into<String>) -> SecretMetadata {
        self.provider = Some(provider.into());
        self
    }

    /// The backend's id for the secret: the ARN in AWS Secrets Manager
    /// and SSM Parameter Store, the data path (`secret/data/app/db`) in Vault KV v2, the variable
    /// name (`DATABASE_URL`) for the environment, or `{file}:{variable}`
    /// (`.env:DATABASE_URL`) for a variable read from a `.env` file.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The id of the version that was read: the AWS `VersionId`, the SSM
    /// parameter version or the Vault version number (`"2"`). Pass it back as
    /// [`Version::Id`](crate::Version::Id) to read that version again.
    pub fn version_id(&self) -> Option<&str> {
        self.version_id.as_deref()
    }

    /// The version's stages or labels (`AWSCURRENT`, `AWSPREVIOUS`,
    /// `AWSPENDING`, custom ones); empty when the backend has none.
    pub fn stages(&self) -> &[String] {
        &self.stages
    }

    /// Whether the version carries `stage` (compared exactly).
    pub fn has_stage(&self, stage: &str) -> bool {
        self.stages.iter().any(|s| s == stage)
    }

    /// When the version was created, as the backend reports it.
    pub fn created(&self) -> Option<SystemTime> {
        self.created
    }

    /// The lease of a leased (dynamic) secret; `None` for static secrets.
    pub fn lease(&self) -> Option<&Lease> {
        self.lease.as_ref()
    }

    /// The backend's type of the value, for a backend that has types:
    /// SSM Parameter Store's `String`, `StringList` or `SecureString`.
    /// `None` for the others.
    pub fn value_type(&self) -> Option<&str> {
        self.value_type.as_deref()
    }

    /// The name of the provider in the chain that answered. Filled by the
    /// [`SecretsManager`](crate::SecretsManager); `None` on a value that
    /// comes straight from a [`Provider`](super::Provider).
    pub fn provider(&self) -> Option<&str> {
        self.provider.as_deref()
    }
}

/// The lease of a leased (dynamic) secret: one the backend issued for a
/// limited time and revokes when the lease ends (Vault database
/// credentials, for example).
///
/// ```
/// use std::time::Duration;
/// use secret_chain::providers::Lease;
///
/// let lease = Lease::new("database/creds/app/2f6a", Duration::from_secs(3600), true);
/// assert_eq!(lease.duration(), Duration::from_secs(3600));
/// assert!(lease.renewable());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Lease {
    id: String,
    duration: Duration,
    renewable: bool,
}

impl Lease {
    /// A lease with its id, its duration from issue, and whether it can be
    /// renewed.
    pub fn new(id: impl Into<String>, duration: Duration, renewable: bool) -> Lease {
        Lease {
            id: id.into(),
            duration,
            renewable,
        }
    }

    /// The backend's lease id (what a renewal or a revocation names).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// How long the lease lasts from when it was issued.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// Whether the lease can be renewed.
    pub fn renewable(&self) -> bool {
        self.renewable
    }

    /// The lease id shortened for logs and audit events: the path it was
    /// issued for and the first characters of its own part
    /// (`database/creds/app/7ODFmC…`). A lease id is not a credential, but
    /// whoever holds one in full (and the right policy) can revoke it.
    pub fn short_id(&self) -> String {
        let (path, own) = match self.id.rfind('/') {
            Some(i) => self.id.split_at(i + 1),
            None => ("", self.id.as_str()),
        };
        let kept: String = own.chars().take(6).collect();
        if kept.len() == own.len() {
            format!("{path}{own}")
        } else {
            format!("{path}{kept}…")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setters_fill_fields_and_stages_replace() {
        let m = SecretMetadata::new()
            .with_id("secret/data/app/db")
            .with_version_id("2")
            .with_stages(["a", "b"])
            .with_stages(vec!["AWSCURRENT".to_owned()]);
        assert_eq!(m.id(), Some("secret/data/app/db"));
        assert_eq!(m.version_id(), Some("2"));
        assert_eq!(m.stages(), ["AWSCURRENT"]);
        assert!(m.has_stage("AWSCURRENT") && !m.has_stage("awscurrent"));
        assert_eq!(m.created(), None);
        assert_eq!(m.provider(), None);
        assert_eq!(m.value_type(), None);
        assert_eq!(
            m.with_value_type("SecureString").value_type(),
            Some("SecureString")
        );
    }

    #[test]
    fn lease_ids_are_shortened_to_their_path_and_six_characters() {
        let short = |id: &str| Lease::new(id, Duration::ZERO, false).short_id();
        assert_eq!(
            short("database/creds/app/7ODFmCzWwM9Cq0bRwD3OoBYG"),
            "database/creds/app/7ODFmC…"
        );
        assert_eq!(short("abc"), "abc");
        assert_eq!(short("pki/issue/x/ééééééé"), "pki/issue/x/éééééé…");
    }
}
