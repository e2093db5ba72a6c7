//! Metadata beside cached values: what the backend said about the value a
//! cache entry holds (id, version, stages, creation date), plus the name of
//! the provider that answered, which the chain fills in
//! ([`fallback`](super::fallback)).
//!
//! The metadata lives in the cache entry next to the value, behind an
//! `Arc`, and holds no value itself. A plain `get_secret` hit never touches
//! it; [`get_secret_metadata`](SecretsManager::get_secret_metadata) reads
//! it through the cache like `get_secret` does: a fresh entry answers
//! without a backend call, a miss fetches the value (and caches it) and
//! answers with the metadata that came with it.
//!
//! The cache key is the whole path, so `db#password` has its own entry:
//! its metadata is that of secret `db`, as it was when the field was read.

use super::SecretsManager;
use super::cache::{Cached, Entry};
use crate::error::Error;
use crate::providers::SecretMetadata;

impl SecretsManager {
    /// The metadata of a fresh cache entry for `path` (current version),
    /// if there is one: the blocking twin's hit, answered without a runtime.
    pub(super) fn cached_metadata(&self, path: &str) -> Option<Result<SecretMetadata, Error>> {
        let now = self.inner.clock.now();
        let entry = self.inner.cache.get(path).filter(|e| now < e.expires_at)?;
        Some(entry_metadata(&entry))
    }
}

/// An entry's metadata (a copy, so that the caller owns it), or its
/// remembered miss as the error.
pub(super) fn entry_metadata(entry: &Entry) -> Result<SecretMetadata, Error> {
    match (&entry.value, &entry.metadata) {
        (Cached::Missing(e), _) => Err(e.clone()),
        (_, Some(m)) => Ok(SecretMetadata::clone(m)),
        // Every value entry is stored with its metadata; an empty one is
        // still a truthful answer ("nothing known").
        (_, None) => Ok(SecretMetadata::new()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::time::{Duration, SystemTime};

    use secrecy::ExposeSecret;

    use crate::chain::SecretsManager;
    use crate::chain::test_support::{Scripted, env, rt};
    use crate::error::{Error, ErrorKind};
    use crate::providers::{SecretMetadata, SecretValue, Version};

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf";

    fn created() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn with_metadata(_: &str) -> Result<SecretValue, Error> {
        Ok(
            SecretValue::text(r#"{"user":"app","password":"pw-123456"}"#).with_metadata(
                SecretMetadata::new()
                    .with_id(ARN)
                    .with_version_id("v-1")
                    .with_stages(["AWSCURRENT"])
                    .with_created(created()),
            ),
        )
    }

    fn assert_backend_metadata(m: &SecretMetadata) {
        assert_eq!(m.id(), Some(ARN));
        assert_eq!(m.version_id(), Some("v-1"));
        assert_eq!(m.stages(), ["AWSCURRENT"]);
        assert_eq!(m.created(), Some(created()));
    }

    #[test]
    fn metadata_is_kept_in_the_cache_and_a_hit_answers_without_a_second_fetch() {
        let (a, calls) = Scripted::new("aws", with_metadata);
        let m = SecretsManager::builder().provider(a).build().unwrap();
        let rt = rt();
        rt.block_on(m.get_secret("db")).unwrap();
        let meta = rt.block_on(m.get_secret_metadata("db")).unwrap();
        assert_backend_metadata(&meta);
        assert_eq!(meta.provider(), Some("aws"), "the chain names the provider");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "answered from the cache");

        // A cold key: the metadata read fetches, and the value is cached.
        let meta = rt.block_on(m.get_secret_metadata("other")).unwrap();
        assert_backend_metadata(&meta);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        rt.block_on(m.get_secret("other")).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2, "the value came with it");
    }

    #[test]
    fn a_field_path_reports_the_metadata_of_its_secret() {
        let (a, calls) = Scripted::new("aws", with_metadata);
        let m = SecretsManager::builder().provider(a).build().unwrap();
        let rt = rt();
        let pw = rt.block_on(m.get_secret("db#password")).unwrap();
        assert_eq!(pw.expose_secret(), "pw-123456");
        assert_backend_metadata(&rt.block_on(m.get_secret_metadata("db#password")).unwrap());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let e = rt.block_on(m.get_secret_metadata("db#nope")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidJson, "as get_secret would say");
    }

    #[test]
    fn the_provider_that_answered_is_named() {
        let (a, _) = Scripted::new("aws", |_| Err(Error::not_found("not found")));
        let m = SecretsManager::builder()
            .provider(a)
            .provider(env(&[("DATABASE_URL", "postgres://app@db")]))
            .build()
            .unwrap();
        let meta = rt()
            .block_on(m.get_secret_metadata("database/url"))
            .unwrap();
        assert_eq!(meta.provider(), Some("env"));
        assert_eq!(meta.id(), Some("DATABASE_URL"));
    }

    #[test]
    fn versions_are_cached_apart_and_a_remembered_miss_is_an_error() {
        let (a, calls) = Scripted::new("aws", with_metadata);
        let m = SecretsManager::builder().provider(a).build().unwrap();
        let rt = rt();
        let previous = Version::Stage("AWSPREVIOUS".into());
        rt.block_on(m.get_secret_metadata("db")).unwrap();
        rt.block_on(m.get_secret_metadata_version("db", &previous))
            .unwrap();
        rt.block_on(m.get_secret_version("db", &previous)).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        let (missing, calls) = Scripted::new("aws", |_| Err(Error::not_found("not found")));
        let m = SecretsManager::builder()
            .provider(missing)
            .negative_ttl(Duration::from_secs(30))
            .build()
            .unwrap();
        for _ in 0..3 {
            let e = rt.block_on(m.get_secret_metadata("gone")).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::NotFound);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn the_blocking_twin_fetches_and_answers_a_hit_even_inside_a_runtime() {
        let (a, calls) = Scripted::new("aws", with_metadata);
        let m = SecretsManager::builder().provider(a).build().unwrap();
        assert_backend_metadata(&m.get_secret_metadata_blocking("db").unwrap());
        let m2 = m.clone();
        let hit = rt().block_on(async move { m2.get_secret_metadata_blocking("db") });
        assert_backend_metadata(&hit.unwrap());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let m3 = m.clone();
        let e = rt()
            .block_on(async move { m3.get_secret_metadata_blocking("cold") })
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BlockingInRuntime);
    }
}
