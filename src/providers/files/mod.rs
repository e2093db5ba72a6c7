//! The mounted-files provider (cargo feature `files`): one secret per file
//! under a directory, as Kubernetes secret volumes, the Secrets Store CSI
//! driver and the Vault Agent injector write them.
//!
//! # Mapping
//!
//! A secret path `a/b` reads the file `DIR/a/b` and nothing else
//! (`SECRETS_FILES_DIR`; `SECRETS_PREFIX` does not apply: the directory is
//! the scope). A Kubernetes secret's flat keys get there through the
//! volume's `items[].path` (`key: db-password`, `path: db/password`).
//!
//! The provider returns a file as [`SecretData::File`]: `get_secret_bytes`
//! hands it out untouched; `get_secret` wants UTF-8 (a file that is not is
//! an error naming it, never a changed value) and trims exactly one
//! trailing `\n` or `\r\n`; `name#field` parses that text as JSON.
//!
//! A value's metadata id is the relative path (`db/password`) and its
//! creation date the file's modification time. Files have no versions:
//! [`Version::Id`] and [`Version::Stage`] are "not found", with a message
//! that says why, so a chain `files,vault` answers a versioned read from
//! the provider that keeps versions.
//!
//! # What is refused
//!
//! - a path that could leave the directory, by its spelling: absolute,
//!   with an empty, `.` or `..` segment, or a segment that starts with `..`
//!   (the atomic writer's internals): [`ErrorKind::InvalidPath`] naming the
//!   path, before the file system is touched;
//! - a file that resolves outside the directory through a symlink
//!   (Kubernetes' own `key -> ..data/key -> ..2026_.../key` links stay
//!   inside and are followed): access denied naming the path. The file is
//!   opened first and then checked to be the file the path resolves to
//!   under the directory's canonical root, so a link swapped in between
//!   is caught (`read.rs`);
//! - a file larger than `SECRETS_FILES_MAX_BYTES` (default 1 MiB), read
//!   with bounded memory, and anything but a regular file (a FIFO is never
//!   opened): [`ErrorKind::InvalidValue`].
//!
//! An absent file is "not found" and the chain moves on; permission denied
//! is "access denied"; any other I/O error is "unavailable". Messages name
//! the file, never its contents.
//!
//! # Kubernetes' atomic updates
//!
//! The kubelet writes a new version into a fresh `..2026_..._123/` folder,
//! then renames a new `..data` symlink over the old one. Every read opens
//! through `..data`, so it sees the old files or the new ones, never a
//! half-written file; after the cache TTL (`SECRETS_CACHE_TTL`) a read
//! sees the new value.
//!
//! The first read of a file that group or others may read logs one
//! warning per directory (target `secret_chain::files`), suggesting
//! `defaultMode: 0400`.
//!
//! # Settings ([`FilesProvider::from_settings`])
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `SECRETS_FILES_DIR` | required | the directory, e.g. `/var/run/secrets/app` |
//! | `SECRETS_FILES_MAX_BYTES` | `1048576` | the largest file read |
//!
//! A named instance (`app=files`) reads `SECRETS_APP_FILES_DIR` first.
//!
//! # Example
//!
//! ```
//! use secret_chain::SecretsManager;
//! use secret_chain::providers::files::FilesProvider;
//! use secrecy::ExposeSecret;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::create_dir(dir.path().join("db")).unwrap();
//! std::fs::write(dir.path().join("db/password"), "hunter2-example\n").unwrap();
//!
//! let files = FilesProvider::new(dir.path())?;
//! let manager = SecretsManager::builder().provider(files).build()?;
//! assert_eq!(manager.get_secret("db/password").await?.expose_secret(), "hunter2-example");
//! assert_eq!(manager.get_secret_bytes("db/password").await?.expose_secret(), b"hunter2-example\n");
//! # Ok::<(), secret_chain::Error>(())
//! # }).unwrap();
//! ```
//!
//! # Code map
//!
//! - `path.rs`: secret paths as file names, refused by their spelling;
//! - `read.rs`: open then check, the size cap, bounded reads, I/O errors;
//! - `walk.rs`: the listing.
//!
//! [`SecretData::File`]: crate::providers::SecretData::File
//! [`Version::Id`]: crate::providers::Version::Id
//! [`Version::Stage`]: crate::providers::Version::Stage
//! [`ErrorKind::InvalidPath`]: crate::ErrorKind::InvalidPath
//! [`ErrorKind::InvalidValue`]: crate::ErrorKind::InvalidValue

mod path;
mod read;
mod walk;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use secrecy::SecretSlice;

use crate::error::Error;
use crate::providers::{BoxFuture, Provider, SecretData, SecretMetadata, SecretValue, Version};
use crate::settings::Settings;

/// The provider's name in chains, logs and errors.
const NAME: &str = "files";
/// Log target of the provider's own events (never a value).
const LOG_TARGET: &str = "secret_chain::files";

/// Default size cap (`SECRETS_FILES_MAX_BYTES`): 1 MiB. A password, a key
/// or a certificate chain is a few KiB; a file larger than this is not a
/// secret but a mistake (or `/dev/zero`).
pub const DEFAULT_MAX_BYTES: u64 = 1 << 20;

/// Reads secrets from the files of a directory (a mounted secret volume).
///
/// See the [module docs](self) for the mapping and what is refused.
pub struct FilesProvider {
    inner: Arc<Inner>,
}

struct Inner {
    /// The directory as configured, for messages.
    dir: PathBuf,
    /// Its canonical path: what every resolved file must lie under.
    root: PathBuf,
    max_bytes: u64,
    /// Whether the group/others-readable warning was logged.
    warned: AtomicBool,
}

impl fmt::Debug for FilesProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FilesProvider")
            .field("dir", &self.inner.dir)
            .field("max_bytes", &self.inner.max_bytes)
            .finish()
    }
}

impl FilesProvider {
    /// A provider over the files under `dir`, with the default size cap.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) when `dir` does not
    /// exist, is not a directory or cannot be resolved.
    pub fn new(dir: impl AsRef<Path>) -> Result<FilesProvider, Error> {
        FilesProvider::open(
            dir.as_ref(),
            "the secret files directory",
            DEFAULT_MAX_BYTES,
        )
    }

    /// The same provider with a size cap of `max_bytes` per file.
    ///
    /// # Errors
    ///
    /// A configuration error when `max_bytes` is 0.
    pub fn with_max_bytes(self, max_bytes: u64) -> Result<FilesProvider, Error> {
        if max_bytes == 0 {
            return Err(Error::config(
                "the size cap of secret files (SECRETS_FILES_MAX_BYTES) must be greater than 0",
            ));
        }
        let inner = &self.inner;
        Ok(FilesProvider {
            inner: Arc::new(Inner {
                dir: inner.dir.clone(),
                root: inner.root.clone(),
                max_bytes,
                warned: AtomicBool::new(inner.warned.load(Ordering::Relaxed)),
            }),
        })
    }

    /// Builds the provider from `SECRETS_FILES_DIR` and
    /// `SECRETS_FILES_MAX_BYTES` (an instance's own spelling first).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) naming the variable
    /// when the directory is unset, does not exist or is not a directory,
    /// or when the size cap is not a positive whole number.
    pub fn from_settings(settings: &Settings) -> Result<FilesProvider, Error> {
        let Some((dir, var)) = settings.first(&["SECRETS_FILES_DIR"]) else {
            return Err(Error::config(
                "the 'files' provider needs a directory: set SECRETS_FILES_DIR, e.g. /var/run/secrets/app",
            ));
        };
        let max_var = settings.first(&["SECRETS_FILES_MAX_BYTES"]).map_or_else(
            || "SECRETS_FILES_MAX_BYTES".to_owned(),
            |(_, v)| v.into_owned(),
        );
        let max_bytes = settings.u64(
            "SECRETS_FILES_MAX_BYTES",
            DEFAULT_MAX_BYTES,
            "a whole number of bytes",
        )?;
        if max_bytes == 0 {
            return Err(Error::config(format!("{max_var} must be greater than 0")));
        }
        FilesProvider::open(Path::new(dir), &var, max_bytes)
    }

    fn open(dir: &Path, what: &str, max_bytes: u64) -> Result<FilesProvider, Error> {
        let root = std::fs::canonicalize(dir).map_err(|e| {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "does not exist",
                std::io::ErrorKind::PermissionDenied => "cannot be reached (permission denied)",
                _ => "cannot be resolved",
            };
            Error::config(format!("{what} names '{}', which {why}", dir.display())).with_source(e)
        })?;
        if !root.is_dir() {
            return Err(Error::config(format!(
                "{what} names '{}', which is not a directory",
                dir.display()
            )));
        }
        Ok(FilesProvider {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                root,
                max_bytes,
                warned: AtomicBool::new(false),
            }),
        })
    }

    /// The directory, as configured.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The size cap of one file, in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.inner.max_bytes
    }

    async fn fetch_inner(&self, name: &str, version: &Version) -> Result<SecretValue, Error> {
        let file = path::file_for(&self.inner.root, name)?;
        if *version != Version::Current {
            return Err(Error::not_found(format!(
                "not found ({}; mounted files have no versions, so {version} cannot be read)",
                file.display()
            ))
            .with_provider(NAME));
        }
        let inner = self.inner.clone();
        let mut contents =
            off_the_runtime(move || read::read_file(&inner.root, &file, inner.max_bytes)).await?;
        // Logged here, not on the blocking pool, so that the warning goes
        // to the caller's subscriber and span.
        self.inner.warn_if_shared(name, contents.mode);
        let mut metadata = SecretMetadata::new().with_id(name);
        if let Some(modified) = contents.modified {
            metadata = metadata.with_created(modified);
        }
        Ok(
            SecretValue::new(SecretData::File(SecretSlice::from(std::mem::take(
                &mut contents.bytes,
            ))))
            .with_metadata(metadata),
        )
    }

    async fn list_inner(&self, prefix: &str) -> Result<Vec<String>, Error> {
        let inner = self.inner.clone();
        let prefix = prefix.to_owned();
        off_the_runtime(move || walk::list(&inner.root, &prefix)).await
    }

    async fn health_inner(&self) -> Result<(), Error> {
        let inner = self.inner.clone();
        off_the_runtime(move || {
            std::fs::read_dir(&inner.root)
                .map(|_| ())
                .map_err(|e| read::io_error(&e, &inner.dir))
        })
        .await
    }
}

impl Inner {
    /// Logs once per directory that secret files are readable by group or
    /// others: the kubelet's default (`0644`) lets every process of the
    /// pod's other users read them.
    fn warn_if_shared(&self, file: &str, mode: Option<u32>) {
        let Some(mode) = mode else { return };
        if mode & 0o044 != 0 && !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                target: LOG_TARGET,
                dir = %self.dir.display(),
                file,
                mode = format_args!("{mode:04o}"),
                "secret files are readable by group or others; mount them with defaultMode: 0400 \
                 (0440 with an fsGroup) so that only the pod's user can read them"
            );
        }
    }
}

/// Runs blocking file work on tokio's blocking pool when there is a
/// runtime (a slow disk or NFS mount must not stall a worker), inline when
/// the future is polled by another executor.
async fn off_the_runtime<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    if tokio::runtime::Handle::try_current().is_err() {
        return work();
    }
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        Err(Error::unavailable(format!(
            "unavailable (the file read did not finish: {})",
            if e.is_panic() {
                "it panicked"
            } else {
                "it was cancelled"
            }
        ))
        .with_provider(NAME))
    })
}

impl Provider for FilesProvider {
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

    /// Whether the directory can be read (what `secret-chain check` shows).
    fn health(&self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(self.health_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        Settings::from_vars(pairs.iter().copied())
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn settings_errors_name_the_variable() {
        let e = FilesProvider::from_settings(&settings(&[])).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains("SECRETS_FILES_DIR"), "{e}");

        let e = FilesProvider::from_settings(&settings(&[(
            "SECRETS_FILES_DIR",
            "/nonexistent-secret-chain-files",
        )]))
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        let m = e.to_string();
        assert!(
            m.contains("SECRETS_FILES_DIR")
                && m.contains("/nonexistent-secret-chain-files")
                && m.contains("does not exist"),
            "{m}"
        );

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        let e = FilesProvider::from_settings(&settings(&[(
            "SECRETS_FILES_DIR",
            file.to_str().unwrap(),
        )]))
        .unwrap_err();
        assert!(e.to_string().contains("not a directory"), "{e}");

        let d = dir.path().to_str().unwrap();
        for (bad, needle) in [("0", "greater than 0"), ("1MiB", "a whole number of bytes")] {
            let e = FilesProvider::from_settings(&settings(&[
                ("SECRETS_FILES_DIR", d),
                ("SECRETS_FILES_MAX_BYTES", bad),
            ]))
            .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config);
            assert!(
                e.to_string().contains("SECRETS_FILES_MAX_BYTES") && e.to_string().contains(needle),
                "{e}"
            );
        }
        let p = FilesProvider::from_settings(&settings(&[
            ("SECRETS_FILES_DIR", d),
            ("SECRETS_FILES_MAX_BYTES", "4096"),
        ]))
        .unwrap();
        assert_eq!(p.max_bytes(), 4096);
        assert_eq!(p.dir(), dir.path());
    }

    #[test]
    fn a_named_instance_reads_its_own_directory_and_names_its_own_variable() {
        let plain = tempfile::tempdir().unwrap();
        let own = tempfile::tempdir().unwrap();
        let s = settings(&[
            ("SECRETS_FILES_DIR", plain.path().to_str().unwrap()),
            ("SECRETS_APP_FILES_DIR", own.path().to_str().unwrap()),
        ]);
        let app = FilesProvider::from_settings(&s.for_instance("app", "files")).unwrap();
        assert_eq!(app.dir(), own.path());
        let p = FilesProvider::from_settings(&s.for_instance("files", "files")).unwrap();
        assert_eq!(p.dir(), plain.path());

        let s = settings(&[("SECRETS_APP_FILES_DIR", "/nonexistent-secret-chain-app")]);
        let e = FilesProvider::from_settings(&s.for_instance("app", "files")).unwrap_err();
        assert!(e.to_string().contains("SECRETS_APP_FILES_DIR"), "{e}");
    }

    #[test]
    fn metadata_is_the_relative_path_and_the_mtime_and_versions_are_not_found() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("db")).unwrap();
        std::fs::write(dir.path().join("db/password"), b"pw").unwrap();
        let p = FilesProvider::new(dir.path()).unwrap();
        rt().block_on(async {
            let v = p.fetch("db/password", &Version::Current).await.unwrap();
            assert_eq!(v.metadata().id(), Some("db/password"));
            assert_eq!(v.metadata().version_id(), None);
            let mtime = std::fs::metadata(dir.path().join("db/password"))
                .unwrap()
                .modified()
                .unwrap();
            assert_eq!(v.metadata().created(), Some(mtime));
            for version in [
                Version::Id("3".into()),
                Version::Stage("AWSPREVIOUS".into()),
            ] {
                let e = p.fetch("db/password", &version).await.unwrap_err();
                assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
                assert!(e.to_string().contains("no versions"), "{e}");
            }
        });
    }

    #[test]
    fn health_says_whether_the_directory_can_be_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = FilesProvider::new(dir.path()).unwrap();
        rt().block_on(async {
            p.health().await.unwrap();
            let path = dir.path().to_path_buf();
            drop(dir);
            let e = p.health().await.unwrap_err();
            assert!(e.to_string().contains(&*path.to_string_lossy()), "{e}");
        });
    }

    #[test]
    fn debug_shows_the_directory_and_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k"), b"debug-canary-55").unwrap();
        let p = FilesProvider::new(dir.path())
            .unwrap()
            .with_max_bytes(64)
            .unwrap();
        let v = rt().block_on(p.fetch("k", &Version::Current)).unwrap();
        let d = format!("{p:?} {v:?}");
        assert!(d.contains("max_bytes: 64") && d.contains("File("), "{d}");
        assert!(!d.contains("debug-canary-55"), "{d}");
        assert!(p.with_max_bytes(0).is_err());
    }
}
