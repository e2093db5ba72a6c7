//! The process-wide manager behind [`crate::get_secret`].

use std::sync::OnceLock;

use secrecy::SecretString;
use serde::de::DeserializeOwned;

use std::future::Future;

use crate::chain::{GetSecret, SecretsManager};
use crate::error::{Error, ErrorKind};

static GLOBAL: OnceLock<SecretsManager> = OnceLock::new();

/// Installs `manager` as the global manager.
///
/// # Errors
///
/// [`ErrorKind::AlreadyInitialized`] if a global manager exists already
/// (set by an earlier `init` or built lazily by an earlier read).
pub fn init(manager: SecretsManager) -> Result<(), Error> {
    let known = manager.known_secrets().clone();
    GLOBAL.set(manager).map_err(|_| {
        Error::new(
            ErrorKind::AlreadyInitialized,
            "the global secrets manager is already initialised; call secret_chain::init once, before the first read",
        )
    })?;
    crate::masking::set_process_known(known);
    Ok(())
}

/// The global manager, built with [`SecretsManager::from_env`] on first use
/// unless [`init`] installed one.
///
/// # Errors
///
/// The configuration error of [`SecretsManager::from_env`]; a later call
/// tries again.
pub fn global() -> Result<&'static SecretsManager, Error> {
    if let Some(m) = GLOBAL.get() {
        return Ok(m);
    }
    let built = SecretsManager::from_env()?;
    let m = GLOBAL.get_or_init(|| built);
    crate::masking::set_process_known(m.known_secrets().clone());
    Ok(m)
}

/// The global manager if one exists, without building it.
pub fn try_global() -> Option<&'static SecretsManager> {
    GLOBAL.get()
}

/// Reads a secret through the global manager. See [`SecretsManager::get_secret`].
///
/// # Errors
///
/// As [`SecretsManager::get_secret`], plus the configuration error of
/// [`global`].
#[inline]
pub fn get_secret(path: &str) -> impl Future<Output = Result<SecretString, Error>> + Send + '_ {
    match global() {
        Ok(m) => m.get_secret_future(path),
        Err(e) => GetSecret::Ready(Some(Err(e))),
    }
}

/// Reads a secret through the global manager; `Ok(None)` when every
/// provider said it does not exist. See [`SecretsManager::get_secret_opt`].
///
/// # Errors
///
/// As [`SecretsManager::get_secret_opt`], plus the configuration error of
/// [`global`].
pub async fn get_secret_opt(path: &str) -> Result<Option<SecretString>, Error> {
    global()?.get_secret_opt(path).await
}

/// Reads and deserializes a JSON secret through the global manager.
///
/// # Errors
///
/// As [`SecretsManager::get_secret_json`].
pub async fn get_secret_json<T: DeserializeOwned>(path: &str) -> Result<T, Error> {
    global()?.get_secret_json(path).await
}

/// Blocking twin of [`get_secret`]; see [`SecretsManager::get_secret_blocking`].
///
/// # Errors
///
/// As [`SecretsManager::get_secret_blocking`].
pub fn get_secret_blocking(path: &str) -> Result<SecretString, Error> {
    global()?.get_secret_blocking(path)
}

/// Installs the masking subscriber for the whole process with the global
/// manager's known values: see [`masking::install_with`](crate::masking::install_with)
/// for what it sets up. Call [`init`] first if you build your own manager;
/// otherwise the global manager is built from the environment here. If it
/// cannot be built, masking still runs with the built-in credential rules,
/// and a warning (through the masked subscriber) says why.
///
/// # Errors
///
/// As [`masking::install_with`](crate::masking::install_with).
pub fn install() -> Result<(), Error> {
    let (known, manager_error) = match global() {
        Ok(m) => (m.known_secrets().clone(), None),
        Err(e) => (
            std::sync::Arc::new(crate::masking::KnownSecrets::new()),
            Some(e),
        ),
    };
    crate::masking::install_with(known)?;
    if let Some(e) = manager_error {
        tracing::warn!(
            error = %e,
            "masking installed with the built-in patterns only: the global secrets manager could not be built"
        );
    }
    Ok(())
}
