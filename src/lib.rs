//! # secret-chain
//!
//! Load a service's credentials from the right place in every environment
//! (AWS Secrets Manager, HashiCorp Vault / OpenBao KV v2, environment
//! variables and `.env` files) through one fallback chain, and keep them out
//! of its logs.
//!
//! ## Map of the crate
//!
//! - [`get_secret`], [`get_secret_json`]: read through the global manager,
//!   configured from the environment ([`init`] to install your own).
//! - [`SecretsManager`]: the chain of providers, the TTL cache and the
//!   fallback policy; built with [`SecretsManager::builder`] or
//!   [`SecretsManager::from_env`].
//! - [`providers`]: the [`Provider`](providers::Provider) trait and the
//!   backends: [`EnvProvider`](providers::EnvProvider), `aws`, `vault`.
//! - [`masking`]: the values that must never reach a log.
//! - [`Error`] and [`ErrorKind`]: one error type; messages name the path and
//!   the provider, never a value.
//!
//! # Example
//!
//! ```
//! use secret_chain::SecretsManager;
//! use secret_chain::providers::EnvProvider;
//! use secrecy::ExposeSecret;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let manager = SecretsManager::builder()
//!     .provider(EnvProvider::from_vars([("STRIPE_API_KEY", "sk_test_example")]))
//!     .build()?;
//! secret_chain::init(manager)?;
//! let key = secret_chain::get_secret("stripe/api-key").await?;
//! assert_eq!(key.expose_secret(), "sk_test_example");
//! # Ok::<(), secret_chain::Error>(())
//! # }).unwrap();
//! ```
//!
//! ## What this crate does not protect against
//!
//! Values are held as [`secrecy::SecretString`]: redacted in `Debug` and
//! zeroized when dropped. The crate does not lock memory (no `mlock`), cannot
//! zeroize copies that backend SDKs, HTTP clients or your own code make, and
//! cannot stop code that calls `expose_secret()` and prints the result
//! through a channel other than `tracing`. The AWS SDK logs response bodies
//! (secret values included) at TRACE level when `LOG_SENSITIVE_BODIES=true`
//! is set, before the masking layer knows those values: never set it in
//! production.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

mod chain;
mod clock;
pub mod detect;
mod error;
pub mod masking;
pub mod providers;
pub mod settings;

pub use chain::global::{
    get_secret, get_secret_blocking, get_secret_json, get_secret_opt, global, init, install,
    try_global,
};
pub use chain::{
    AUDIT_TARGET, BreakerState, Config, ProviderHealth, ProviderKind, ProviderStats,
    SecretsManager, SecretsManagerBuilder, Stats,
};
pub use clock::Clock;
#[cfg(feature = "test-util")]
pub use clock::MockClock;
pub use error::{Error, ErrorKind, ProviderOutcome, Result};
pub use providers::Version;
pub use secrecy::{ExposeSecret, SecretSlice, SecretString};
