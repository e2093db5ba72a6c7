//! A cached read whole: the value, its metadata, the provider that answered
//! and when it was fetched, as one cache entry holds them.
//!
//! What a server answering many clients needs (the `secret-chain agent`):
//! it renders a response once per fetch and serves that rendering while
//! [`Snapshot::fetch_id`] stays the same, and it lists what the cache holds
//! ([`SecretsManager::cached_secrets`]) without reading any value.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use secrecy::{SecretSlice, SecretString};

use super::SecretsManager;
use super::cache::{Cached, Entry, key_for};
use super::miss::missing_to_err;
use super::path::Resolved;
use crate::error::Error;
use crate::providers::{SecretMetadata, Version};

/// One cached value with what came with it. Cheap to clone (two pointers);
/// its `Debug` never shows the value.
#[derive(Clone)]
pub struct Snapshot {
    manager: SecretsManager,
    entry: Arc<Entry>,
}

/// A [`Snapshot`]'s value: text, or bytes (AWS `SecretBinary`, a file's
/// contents).
#[derive(Debug)]
pub enum SnapshotValue<'a> {
    /// A text value.
    Text(&'a SecretString),
    /// A binary value, or a file's bytes as read.
    Bytes(&'a SecretSlice<u8>),
}

impl Snapshot {
    /// The value.
    pub fn value(&self) -> SnapshotValue<'_> {
        match &self.entry.value {
            Cached::Value(Resolved::Text(s)) => SnapshotValue::Text(s),
            Cached::Value(Resolved::Bytes(b) | Resolved::File(b)) => SnapshotValue::Bytes(b),
            // A snapshot is only made of a value entry.
            Cached::Missing(_) => unreachable!("a snapshot of a remembered miss"),
        }
    }

    /// What the backend said about the value (empty when it said nothing).
    pub fn metadata(&self) -> &SecretMetadata {
        static NONE: std::sync::OnceLock<SecretMetadata> = std::sync::OnceLock::new();
        self.entry
            .metadata
            .as_deref()
            .unwrap_or_else(|| NONE.get_or_init(SecretMetadata::new))
    }

    /// The provider in the chain that answered (its instance name).
    pub fn provider(&self) -> &str {
        self.manager.inner.providers[self.entry.provider].name()
    }

    /// Unique per fetch: two snapshots with the same id hold the same
    /// fetched value, so a rendering of one serves for the other.
    pub fn fetch_id(&self) -> u64 {
        self.entry.id
    }

    /// How long ago the value was fetched.
    pub fn age(&self) -> Duration {
        self.manager
            .inner
            .clock
            .now()
            .saturating_duration_since(self.entry.fetched_at)
    }

    /// When the value was fetched, by the wall clock.
    pub fn fetched_at(&self) -> SystemTime {
        SystemTime::now()
            .checked_sub(self.age())
            .unwrap_or(SystemTime::UNIX_EPOCH)
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("value", &"[REDACTED]")
            .field("provider", &self.provider())
            .field("fetch_id", &self.entry.id)
            .finish_non_exhaustive()
    }
}

/// One entry of the cache as [`SecretsManager::cached_secrets`] lists it:
/// never a value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CachedSecret {
    /// The path as read (`name` or `name#field`).
    pub path: String,
    /// The version asked for.
    pub version: Version,
    /// The provider that answered; `None` for a remembered "not found".
    pub provider: Option<String>,
    /// The backend's version id, where it gave one.
    pub version_id: Option<String>,
    /// When the entry was made, by the wall clock.
    pub fetched_at: SystemTime,
    /// How long ago.
    pub age: Duration,
    /// Whether it is past its TTL (kept for stale-on-error).
    pub expired: bool,
    /// The error a remembered miss answers with.
    pub error: Option<String>,
}

impl SecretsManager {
    /// Reads `path` at `version` as a [`Snapshot`]: the value with its
    /// metadata and provider, through the cache like
    /// [`get_secret_version`](Self::get_secret_version). `refresh_now`
    /// skips the cache and fetches (still one fetch per key at a time);
    /// the cache keeps the new value.
    ///
    /// # Errors
    ///
    /// As [`get_secret`](Self::get_secret).
    pub async fn get_secret_snapshot(
        &self,
        path: &str,
        version: &Version,
        refresh_now: bool,
    ) -> Result<Snapshot, Error> {
        let entry = self.entry(path, version, refresh_now).await?;
        Ok(self.snapshot_of(entry))
    }

    /// The cache's answer for `path` at `version` without any backend call:
    /// `None` when the cache holds nothing fresh (then
    /// [`get_secret_snapshot`](Self::get_secret_snapshot) fetches). Counts
    /// as a hit and starts refresh-ahead, as a read does.
    ///
    /// # Errors
    ///
    /// A remembered "not found", as the read that found it.
    #[inline]
    pub fn cached_snapshot(
        &self,
        path: &str,
        version: &Version,
    ) -> Option<Result<Snapshot, Error>> {
        let key = key_for(path, version);
        let inner = &*self.inner;
        let now = inner.clock.recent();
        inner
            .cache
            .with(&key, |e, hits| {
                if now >= e.expires_at {
                    return None;
                }
                if now >= e.refresh_at && *version == Version::Current {
                    self.refresh_ahead(path, e);
                }
                if inner.settings.stats {
                    match e.value {
                        Cached::Missing(_) => hits.negative(),
                        Cached::Value(_) => hits.hit(),
                    }
                }
                Some(missing_to_err(Arc::clone(e)).map(|e| self.snapshot_of(e)))
            })
            .flatten()
    }

    /// Every entry the cache holds now, sorted by path: metadata only,
    /// never a value (for a status page or an operator's listing).
    pub fn cached_secrets(&self) -> Vec<CachedSecret> {
        let inner = &*self.inner;
        let now = inner.clock.now();
        let wall = SystemTime::now();
        let mut out: Vec<CachedSecret> = inner
            .cache
            .entries()
            .into_iter()
            .map(|(key, e)| {
                let (path, version) = split_key(&key);
                let age = now.saturating_duration_since(e.fetched_at);
                let (provider, error) = match &e.value {
                    Cached::Value(_) => (
                        inner.providers.get(e.provider).map(|p| p.name().to_owned()),
                        None,
                    ),
                    Cached::Missing(err) => (None, Some(err.to_string())),
                };
                CachedSecret {
                    path,
                    version,
                    provider,
                    version_id: e
                        .metadata
                        .as_deref()
                        .and_then(|m| m.version_id().map(str::to_owned)),
                    fetched_at: wall.checked_sub(age).unwrap_or(SystemTime::UNIX_EPOCH),
                    age,
                    expired: now >= e.expires_at,
                    error,
                }
            })
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }

    fn snapshot_of(&self, entry: Arc<Entry>) -> Snapshot {
        Snapshot {
            manager: self.clone(),
            entry,
        }
    }
}

/// The path and version of a cache key ([`key_for`]'s inverse).
fn split_key(key: &str) -> (String, Version) {
    match key.split_once('\0') {
        None => (key.to_owned(), Version::Current),
        Some((path, tag)) => {
            let version = match tag.split_once(':') {
                Some(("stage", s)) => Version::Stage(s.to_owned()),
                Some((_, id)) => Version::Id(id.to_owned()),
                None => Version::Current,
            };
            (path.to_owned(), version)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use secrecy::ExposeSecret;

    use super::SnapshotValue;
    use crate::chain::SecretsManager;
    use crate::chain::test_support::{Scripted, rt};
    use crate::error::{Error, ErrorKind};
    use crate::providers::{SecretMetadata, SecretValue, Version};

    fn manager() -> (
        SecretsManager,
        std::sync::Arc<std::sync::atomic::AtomicUsize>,
    ) {
        let (p, calls) = Scripted::new("aws", |name| match name {
            "gone" => Err(Error::not_found("not found (gone)")),
            _ => Ok(SecretValue::text(format!("value-of-{name}"))
                .with_metadata(SecretMetadata::new().with_version_id("v1"))),
        });
        let m = SecretsManager::builder()
            .provider(p)
            .cache_ttl(Duration::from_secs(300))
            .build()
            .unwrap();
        (m, calls)
    }

    #[test]
    fn a_snapshot_keeps_its_fetch_id_until_the_value_is_fetched_again() {
        let (m, calls) = manager();
        let rt = rt();
        assert!(m.cached_snapshot("db", &Version::Current).is_none());
        let first = rt
            .block_on(m.get_secret_snapshot("db", &Version::Current, false))
            .unwrap();
        match first.value() {
            SnapshotValue::Text(s) => assert_eq!(s.expose_secret(), "value-of-db"),
            SnapshotValue::Bytes(_) => panic!("text expected"),
        }
        assert_eq!(first.provider(), "aws");
        assert_eq!(first.metadata().version_id(), Some("v1"));
        let hit = m.cached_snapshot("db", &Version::Current).unwrap().unwrap();
        assert_eq!(hit.fetch_id(), first.fetch_id());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let forced = rt
            .block_on(m.get_secret_snapshot("db", &Version::Current, true))
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_ne!(forced.fetch_id(), first.fetch_id());
        let hit = m.cached_snapshot("db", &Version::Current).unwrap().unwrap();
        assert_eq!(hit.fetch_id(), forced.fetch_id());
        assert!(!format!("{hit:?}").contains("value-of"));
    }

    #[test]
    fn a_remembered_miss_is_a_cached_error_and_listed_without_values() {
        let (m, _) = manager();
        let rt = rt();
        let e = rt
            .block_on(m.get_secret_snapshot("gone", &Version::Current, false))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        let cached = m.cached_snapshot("gone", &Version::Current).unwrap();
        assert_eq!(cached.unwrap_err().kind(), ErrorKind::NotFound);
        rt.block_on(m.get_secret_snapshot("db", &Version::Stage("AWSPREVIOUS".into()), false))
            .unwrap();
        let listed = m.cached_secrets();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].path, "db");
        assert_eq!(listed[0].version, Version::Stage("AWSPREVIOUS".into()));
        assert_eq!(listed[0].provider.as_deref(), Some("aws"));
        assert_eq!(listed[0].version_id.as_deref(), Some("v1"));
        assert_eq!(listed[1].path, "gone");
        assert!(listed[1].error.is_some());
        assert!(!format!("{listed:?}").contains("value-of"));
    }
}
