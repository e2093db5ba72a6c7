//! What every provider test checks once its backend is down: the chain
//! reads the next provider, and the failure counts for the breaker.

use secret_chain::providers::{EnvProvider, Provider};
use secret_chain::{ExposeSecret, SecretsManager};

/// Builds a chain of `down` (whose backend does not answer) then an env
/// provider holding `DOWN_KEY=value`, reads `down/key` and checks that the
/// env value comes back and that `down` counted an unavailable answer.
pub async fn assert_falls_back_to_env(down: impl Provider + 'static, value: &str) {
    let name = down.name().to_owned();
    let manager = SecretsManager::builder()
        .provider(down)
        .provider(EnvProvider::from_vars([("DOWN_KEY", value)]))
        .build()
        .unwrap();
    assert_eq!(
        manager
            .get_secret("down/key")
            .await
            .unwrap()
            .expose_secret(),
        value
    );
    let stats = manager.stats();
    let down = stats
        .providers
        .iter()
        .find(|s| s.provider == name)
        .unwrap_or_else(|| panic!("no stats for provider {name}"));
    assert!(down.unavailable >= 1, "counted for the breaker: {down:?}");
}
