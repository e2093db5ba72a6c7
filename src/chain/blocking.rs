//! The blocking twins of the async reads, for synchronous callers.
//!
//! They run the async method on a small runtime of the manager's own,
//! started on first use. Called from inside an async runtime they refuse
//! with [`ErrorKind::BlockingInRuntime`] rather than block a worker thread;
//! a cache hit is answered without any runtime.

use secrecy::{SecretSlice, SecretString};
use serde::de::DeserializeOwned;

use super::SecretsManager;
use super::manager::parse_json;
use crate::error::{Error, ErrorKind};
use crate::providers::SecretMetadata;

impl SecretsManager {
    /// Blocking [`get_secret`](Self::get_secret), for synchronous callers.
    ///
    /// Must not be called from inside an async runtime (it would block a
    /// runtime thread): there it returns [`ErrorKind::BlockingInRuntime`].
    /// A cache hit is answered without any runtime.
    ///
    /// # Errors
    ///
    /// As [`get_secret`](Self::get_secret), plus
    /// [`ErrorKind::BlockingInRuntime`].
    pub fn get_secret_blocking(&self, path: &str) -> Result<SecretString, Error> {
        if let Some(hit) = self.cached_text(path) {
            return hit;
        }
        self.block_on("get_secret_blocking", self.get_secret(path))
    }

    /// Blocking [`get_secret_json`](Self::get_secret_json).
    ///
    /// # Errors
    ///
    /// As [`get_secret_blocking`](Self::get_secret_blocking).
    pub fn get_secret_json_blocking<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        let s = self.get_secret_blocking(path)?;
        parse_json(path, &s)
    }

    /// Blocking [`get_secret_bytes`](Self::get_secret_bytes).
    ///
    /// # Errors
    ///
    /// As [`get_secret_blocking`](Self::get_secret_blocking).
    pub fn get_secret_bytes_blocking(&self, path: &str) -> Result<SecretSlice<u8>, Error> {
        self.block_on("get_secret_bytes_blocking", self.get_secret_bytes(path))
    }

    /// Blocking [`get_secret_metadata`](Self::get_secret_metadata). A
    /// cache hit is answered without any runtime, as
    /// [`get_secret_blocking`](Self::get_secret_blocking) does.
    ///
    /// # Errors
    ///
    /// As [`get_secret_blocking`](Self::get_secret_blocking).
    pub fn get_secret_metadata_blocking(&self, path: &str) -> Result<SecretMetadata, Error> {
        if let Some(hit) = self.cached_metadata(path) {
            return hit;
        }
        self.block_on(
            "get_secret_metadata_blocking",
            self.get_secret_metadata(path),
        )
    }

    /// Blocking [`prefetch`](Self::prefetch): warm the cache at start-up,
    /// before the first (then blocking-free) reads.
    ///
    /// # Errors
    ///
    /// As [`prefetch`](Self::prefetch), plus
    /// [`ErrorKind::BlockingInRuntime`].
    pub fn prefetch_blocking<I, S>(&self, paths: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.block_on("prefetch_blocking", self.prefetch(paths))
    }

    /// Blocking [`list_secrets`](Self::list_secrets).
    ///
    /// # Errors
    ///
    /// As [`list_secrets`](Self::list_secrets), plus
    /// [`ErrorKind::BlockingInRuntime`].
    pub fn list_secrets_blocking(&self, prefix: &str) -> Result<Vec<String>, Error> {
        self.block_on("list_secrets_blocking", self.list_secrets(prefix))
    }

    pub(super) fn block_on<T>(
        &self,
        what: &str,
        fut: impl std::future::Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::new(
                ErrorKind::BlockingInRuntime,
                format!(
                    "{what} was called from inside an async runtime, where it would block a worker thread; use the async method instead"
                ),
            ));
        }
        let rt = self.inner.blocking_runtime.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("secret-chain-blocking")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        });
        match rt {
            Ok(rt) => rt.block_on(fut),
            Err(e) => Err(Error::new(
                ErrorKind::Io,
                format!("cannot start the runtime for blocking calls: {e}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;
    use crate::chain::test_support::{env, rt};

    #[test]
    fn blocking_twins_work_outside_a_runtime_and_refuse_inside_one() {
        let m = SecretsManager::builder()
            .provider(env(&[("K", "value-123456")]))
            .build()
            .unwrap();
        assert_eq!(
            m.get_secret_blocking("k").unwrap().expose_secret(),
            "value-123456"
        );
        assert_eq!(m.list_secrets_blocking("k").unwrap(), Vec::<String>::new());
        m.prefetch_blocking(["k"]).unwrap();
        assert_eq!(
            m.prefetch_blocking(["nope"]).unwrap_err().kind(),
            ErrorKind::NotFound
        );
        let m2 = m.clone();
        let e = rt()
            .block_on(async move { m2.list_secrets_blocking("") })
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BlockingInRuntime);
        assert!(e.to_string().contains("async"), "{e}");
        let m3 = SecretsManager::builder()
            .provider(env(&[("Q", "value-123456")]))
            .build()
            .unwrap();
        let e = rt()
            .block_on(async move { m3.get_secret_blocking("q") })
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BlockingInRuntime);
    }
}
