//! # secret-chain
//!
//! Load a service's credentials from the right place in every environment
//! (AWS Secrets Manager, AWS SSM Parameter Store, HashiCorp Vault / OpenBao
//! KV v2, mounted secret files, environment variables and `.env` files)
//! through one fallback chain, and keep them out of its logs.
//!
//! ## Map of the crate
//!
//! Dependencies point one way: the chain uses the providers and masking,
//! masking uses detection, detection uses nothing of ours; the providers
//! and the masking registry read [`settings`]. (`tests/suite/layout.rs`
//! keeps this true.)
//!
//! | to find | look in |
//! | --- | --- |
//! | the API most code needs | [`get_secret`], [`get_secret_opt`], [`get_secret_json`], [`load`] (a struct of secrets, one per field) (the global manager, configured from the environment; [`init`] installs your own) and [`install`] (masked logging) |
//! | the chain: order, cache, resilience | [`SecretsManager`] (`src/chain/`): `manager.rs` the API, `hit.rs` a cache hit, `miss.rs` single-flight, stale-on-error and negative caching, `prefetch.rs` warming the cache in batches ([`SecretsManager::prefetch`]), `refresh.rs` refresh-ahead, `metadata.rs` the metadata kept beside each cached value ([`SecretsManager::get_secret_metadata`]), `load.rs` a struct of secrets, one per field ([`SecretsManager::load`]), **`fallback.rs` where fallback happens** and the error that lists every provider's answer, `attempt.rs` one provider attempt with retry, breaker and audit, `named.rs` a provider under its name in the chain, `blocking.rs` the blocking twins |
//! | the backends, and how to add one | [`providers`]: the [`Provider`](providers::Provider) trait (`providers/mod.rs`), [`SecretValue`](providers::SecretValue) and its [`SecretMetadata`] (`value.rs`, `metadata.rs`), [`EnvProvider`](providers::EnvProvider), `batch.rs` (the default of [`fetch_many`](providers::Provider::fetch_many)), `endpoint.rs` (endpoint URLs checked up front), `aws/` (the provider, `batch.rs` `BatchGetSecretValue`, `errors.rs`), `ssm/` (Parameter Store: the provider, `batch.rs` `GetParameters`, `errors.rs`), `aws_common/` (the client settings and SDK error mapping `aws` and `ssm` share), `vault/` (builder, auth, http, kv; `dynamic.rs` the `vault-dynamic` kind and its leases), `files/` (mounted secret files: path, read, walk), `gcp/` (Secret Manager over REST: config, ids, adc, jwt, auth, access, list, errors) |
//! | settings from the environment | [`settings::Settings`] (every getter names its variable on error; `for_instance` the view of a named instance, `SECRETS_DR_...` first) and [`Config`] (the chain's own, and the [`ProviderEntry`]s of `SECRETS_PROVIDERS`) |
//! | **how a value is hidden** | [`masking`]: `known.rs` the registry of fetched values and their encodings, `redactor.rs` text in, masked text out, `layer.rs` the `tracing` integration, `json.rs` JSON lines |
//! | credential detection, **the `sk-` rule** | [`detect`]: `builtin/` every vendor format, one file per field (`generic.rs` the catch-all `sk-`/`pk-` rule), `names.rs` secret-named keys, `values.rs` the `key=value` / URL / `Authorization` parsers, `placeholder.rs`, `entropy.rs`, `filter.rs` the keyword prefilter, `rule_set.rs` the engine |
//! | writing, for operators (`migrate`, `rotate`, `audit`) | [`admin`]: the `SecretStore` trait (`admin/mod.rs`), `value.rs` (Vault's `{"value": v}`, comparing values, one field replaced), `aws.rs`, `vault.rs` (features `aws`, `vault`); built on the read providers' clients, not part of [`Provider`](providers::Provider) |
//! | errors | [`Error`] and [`ErrorKind`]: one error type; messages name the path and the provider, never a value; each [`ProviderOutcome`] keeps the backend's code and HTTP status |
//!
//! The `secret-chain` command (`get`, `list`, `check`, `scan`, `redact`,
//! `exec`: a process's secrets from a manifest in its environment, its
//! output masked; `migrate`, `rotate`, `audit`: the operator commands) is the `secret-chain-cli` package in `cli/`.
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! | --- | --- | --- |
//! | `aws` | yes | [`providers::aws`]: AWS Secrets Manager (aws-config, aws-sdk-secretsmanager) |
//! | `ssm` | no | [`providers::ssm`]: AWS Systems Manager Parameter Store (aws-config, aws-sdk-ssm) |
//! | `gcp` | no | [`providers::gcp`]: Google Cloud Secret Manager (REST on reqwest with rustls; ring for service-account keys) |
//! | `vault` | yes | [`providers::vault`]: Vault / OpenBao KV v2 (reqwest with rustls) |
//! | `files` | yes | [`providers::files`]: mounted secret files (Kubernetes volumes; no dependency) |
//! | `metrics` | no | cache and backend counters through the [`metrics`](https://docs.rs/metrics) facade |
//! | `otel` | no | `masking::otel`: span and log exporter wrappers that mask what OpenTelemetry exports |
//! | `test-util` | no | [`MockClock`] and `Clock::mock`, to test TTLs without sleeping |
//!
//! # Examples
//!
//! Read through the global manager:
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
//! assert!(secret_chain::get_secret_opt("stripe/webhook-secret").await?.is_none());
//! # Ok::<(), secret_chain::Error>(())
//! # }).unwrap();
//! ```
//!
//! Keep fetched values out of logs: a masking layer writing into a buffer,
//! sharing the manager's registry of known values.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use secret_chain::SecretsManager;
//! use secret_chain::masking::MaskingLayer;
//! use secret_chain::providers::EnvProvider;
//! use secrecy::ExposeSecret;
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! #[derive(Clone, Default)]
//! struct Buffer(Arc<Mutex<Vec<u8>>>);
//! impl std::io::Write for Buffer {
//!     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> { self.0.lock().unwrap().extend_from_slice(b); Ok(b.len()) }
//!     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
//! }
//!
//! let manager = SecretsManager::builder()
//!     .provider(EnvProvider::from_vars([("DB_PASSWORD", "correct-horse-battery")]))
//!     .build()?;
//! let out = Buffer::default();
//! let layer = MaskingLayer::builder()
//!     .known(manager.known_secrets().clone())
//!     .writer({ let out = out.clone(); move || out.clone() })
//!     .build()?;
//! let pw = manager.get_secret_blocking("db/password")?;
//! tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
//!     tracing::info!("connecting with {}", pw.expose_secret());
//!     tracing::info!(api_key = "k-123456", "and a secret-named field");
//! });
//! let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
//! assert!(text.contains("connecting with ****") && text.contains("api_key=****"));
//! assert!(!text.contains("correct-horse-battery"));
//! # Ok::<(), secret_chain::Error>(())
//! ```
//!
//! Scan text for credentials with the same rules:
//!
//! ```
//! use secret_chain::detect::RuleSet;
//!
//! let line = "deploying with GITHUB_TOKEN=ghp_b5h9M344OTFAQdfeb4g0MRcoIztgBqkFLglB"; // secret-chain:allow
//! let mut found = Vec::new();
//! RuleSet::builtin().find(line, &mut found);
//! assert_eq!(found.len(), 1);
//! assert_eq!(found[0].rule.as_str(), "github-pat");
//! assert!(line[found[0].start..found[0].end].starts_with("ghp_"));
//! ```
//!
//! Add a backend of your own: implement [`Provider`](providers::Provider)
//! (object-safe, so it goes in the chain like the built-in ones) and answer
//! "not found" with [`Error::not_found`] so that the chain moves on.
//!
//! ```
//! use std::collections::HashMap;
//! use secret_chain::providers::{BoxFuture, EnvProvider, Provider, SecretValue, Version};
//! use secret_chain::{Error, SecretsManager};
//! use secrecy::ExposeSecret;
//!
//! #[derive(Debug)]
//! struct Static(HashMap<&'static str, &'static str>);
//!
//! impl Provider for Static {
//!     fn name(&self) -> &str { "static" }
//!     fn fetch<'a>(&'a self, name: &'a str, _v: &'a Version) -> BoxFuture<'a, Result<SecretValue, Error>> {
//!         let found = self.0.get(name).copied();
//!         Box::pin(async move {
//!             found.map(SecretValue::text).ok_or_else(|| Error::not_found(format!("not found ({name})")))
//!         })
//!     }
//!     fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, Error>> {
//!         let names = self.0.keys().filter(|k| k.starts_with(prefix)).map(|k| k.to_string()).collect();
//!         Box::pin(async move { Ok(names) })
//!     }
//! }
//!
//! let manager = SecretsManager::builder()
//!     .provider(Static(HashMap::from([("api/key", "from-static-1")])))
//!     .provider(EnvProvider::from_vars([("DB_URL", "from-env-2")]))
//!     .build()?;
//! assert_eq!(manager.get_secret_blocking("api/key")?.expose_secret(), "from-static-1");
//! // "not found" from the first provider moves on to the next.
//! assert_eq!(manager.get_secret_blocking("db/url")?.expose_secret(), "from-env-2");
//! let e = manager.get_secret_blocking("nowhere").unwrap_err();
//! assert_eq!(e.to_string(), "secret 'nowhere' not found: static: not found (nowhere); env: not found (NOWHERE)");
//! # Ok::<(), secret_chain::Error>(())
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

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

pub mod admin;
mod breaker;
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
pub use chain::load::{load, load_blocking};
pub use chain::{
    AUDIT_TARGET, BreakerState, CachedSecret, Config, Listing, ProviderEntry, ProviderHealth,
    ProviderKind, ProviderStats, SecretsManager, SecretsManagerBuilder, Snapshot, SnapshotValue,
    Stats,
};
pub use clock::Clock;
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub use clock::MockClock;
pub use error::{Error, ErrorKind, ProviderOutcome, Result};
pub use providers::{SecretMetadata, Version};
pub use secrecy::{ExposeSecret, SecretSlice, SecretString};
