//! Quickstart: resolve secrets through the chain, with no server needed.
//!
//! Run it from the repository root:
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! The chain is configured from the environment like in production
//! (`SECRETS_PROVIDERS`, `SECRETS_ENV_FILE`, ...). When `SECRETS_ENV_FILE` is
//! not set, the example reads `examples/quickstart.env`. The process
//! environment is never modified: the configuration is read into a map.

use std::collections::HashMap;

use secret_chain::{Config, ExposeSecret, SecretsManager};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct FeatureFlags {
    new_checkout: bool,
    max_retries: u32,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. Configuration from the environment, with the example's .env file
    //    as the default.
    let mut vars: HashMap<String, String> = std::env::vars().collect();
    vars.entry("SECRETS_ENV_FILE".into())
        .or_insert_with(|| concat!(env!("CARGO_MANIFEST_DIR"), "/examples/quickstart.env").into());
    let config = Config::from_vars(vars)?;

    // 2. Install it as the global manager: application code only ever calls
    //    secret_chain::get_secret and never knows which backend answered.
    secret_chain::init(SecretsManager::from_config(&config)?)?;

    // 3. Install the masking subscriber (RUST_LOG, LOG_FORMAT=json): every
    //    value the manager fetches, and anything shaped like a credential,
    //    is masked in every log line from here on.
    secret_chain::install()?;
    let chain: Vec<String> = config.providers.iter().map(|p| p.to_string()).collect();
    tracing::info!(providers = ?chain, "configured the chain");

    // 4. Plain values. The value is a SecretString: its Debug is redacted.
    let url = secret_chain::get_secret("database/url").await?;
    tracing::info!(path = "database/url", len = url.expose_secret().len(), value = ?url, "resolved");

    let stripe = secret_chain::get_secret("stripe/api-key").await?;
    tracing::info!(
        path = "stripe/api-key",
        len = stripe.expose_secret().len(),
        "resolved"
    );

    // 5. One field of a JSON secret.
    let password = secret_chain::get_secret("database/creds#password").await?;
    tracing::info!(
        path = "database/creds#password",
        len = password.expose_secret().len(),
        "resolved"
    );

    // 6. A whole JSON secret into a typed struct.
    let flags: FeatureFlags = secret_chain::get_secret_json("feature/flags").await?;
    tracing::info!(
        new_checkout = flags.new_checkout,
        max_retries = flags.max_retries,
        "feature flags"
    );

    // 7. A second read is a cache hit: no provider call, no audit event.
    let again = secret_chain::get_secret("database/url").await?;
    assert_eq!(again.expose_secret(), url.expose_secret());
    tracing::info!("second read of database/url served from the cache");

    // 8. A missing secret: the error lists what each provider answered.
    match secret_chain::get_secret("payments/webhook-secret").await {
        Ok(_) => tracing::warn!("unexpectedly found payments/webhook-secret"),
        Err(e) => tracing::info!(kind = ?e.kind(), error = %e, "missing secret, as expected"),
    }

    // 9. What exists, by name only.
    let names = secret_chain::global()?.list_secrets("database/").await?;
    tracing::info!(?names, "secrets under database/");

    // 10. Code that logs a secret by mistake: the masking layer hides the
    //     fetched values (also base64- or URL-encoded) and anything shaped
    //     like a credential, and keeps the rest of the line readable.
    tracing::warn!("connecting with {} failed, retrying", url.expose_secret());
    tracing::warn!(
        password = password.expose_secret(),
        user = "app",
        "login rejected"
    );
    tracing::info!(
        "a stray token in a message: ghp_{}",
        "k3Q9xV7mT2pL8wZ4nR6yB1cF5hJ0dS2aE7uG"
    );
    Ok(())
}
