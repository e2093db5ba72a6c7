//! Installing the masking layer as the process's global subscriber.

use std::sync::Arc;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::error::{Error, ErrorKind};
use crate::masking::known::KnownSecrets;
use crate::masking::layer::MaskingLayer;
use crate::masking::panic_hook::{PANIC_HOOK_VAR, set_panic_hook};
use crate::masking::set_process_known;
use crate::settings::Settings;

/// Installs the global subscriber: `fmt` output to stdout with every
/// secret masked (the values in `known`, the built-in credential rules and
/// secret-named keys), `RUST_LOG` filtering (default `info`), JSON lines
/// when `LOG_FORMAT=json`, `log` crate records captured. `known` also
/// becomes the registry that [`mask_json`](super::mask_json) uses.
///
/// It also replaces the panic hook with [`set_panic_hook`](super::set_panic_hook)
/// over the layer's redactor: a panic prints what the default hook prints
/// (thread, location, message, a backtrace as `RUST_BACKTRACE` asks) to
/// stderr, masked. `SECRETS_PANIC_HOOK=0` (or `false`, `no`, `off`) keeps
/// the hook that was set before. A hook set after this call is not masked.
///
/// Most applications call [`crate::install`], which hands over the global
/// manager's registry; call this one with
/// [`SecretsManager::known_secrets`](crate::SecretsManager::known_secrets)
/// when you keep your own manager.
///
/// # Errors
///
/// [`ErrorKind::AlreadyInitialized`] when a global subscriber is already
/// set; [`ErrorKind::Config`] when `RUST_LOG` is not a valid filter or
/// `SECRETS_PANIC_HOOK` is not a boolean. Nothing is installed then.
pub fn install_with(known: Arc<KnownSecrets>) -> Result<(), Error> {
    let json = std::env::var("LOG_FORMAT")
        .map(|v| v.eq_ignore_ascii_case("json"))
        .unwrap_or(false);
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => EnvFilter::try_new(&v)
            .map_err(|e| Error::config("RUST_LOG is not a valid log filter").with_source(e))?,
        _ => EnvFilter::new("info"),
    };
    let panic_hook = match std::env::var(PANIC_HOOK_VAR) {
        Ok(v) => Settings::from_vars([(PANIC_HOOK_VAR, v)]).bool(PANIC_HOOK_VAR, true)?,
        Err(_) => true,
    };
    set_process_known(known.clone());
    let (layer, redactor) = MaskingLayer::builder()
        .json(json)
        .known(known)
        .build_with_redactor()?;
    let subscriber = tracing_subscriber::registry().with(layer.with_filter(filter));
    tracing::subscriber::set_global_default(subscriber).map_err(|e| {
        Error::new(
            ErrorKind::AlreadyInitialized,
            "a global tracing subscriber is already set",
        )
        .with_source(e)
    })?;
    if panic_hook {
        set_panic_hook(redactor);
    }
    if tracing_log::LogTracer::init().is_err() {
        tracing::warn!(
            "a `log` logger is already set: `log` records do not pass through the masking layer"
        );
    }
    Ok(())
}
