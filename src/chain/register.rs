//! Registering fetched values for masking: every value the chain fetches
//! (and every field selected from one) goes into the manager's
//! [`KnownSecrets`](crate::masking::KnownSecrets), for as long as it can be
//! served.

use secrecy::ExposeSecret;

use super::SecretsManager;
use crate::providers::SecretData;

impl SecretsManager {
    /// Registers a fetched value for masking. A value can be served (and
    /// so logged) until its TTL and the stale window have passed: it stays
    /// masked that long, plus the registry's retention, after its last
    /// fetch, also once it has rotated out.
    pub(super) fn register(&self, value: &str) {
        let s = &self.inner.settings;
        self.inner
            .known
            .register_for(value, s.ttl.saturating_add(s.max_stale));
    }

    /// Registers a provider's raw answer: text, a JSON document, binary
    /// that is valid UTF-8, or a file's text (which its bytes contain).
    pub(super) fn register_value(&self, value: &SecretData) {
        match value {
            SecretData::Text(s) | SecretData::Document(s) => self.register(s.expose_secret()),
            SecretData::Binary(b) => {
                if let Ok(s) = std::str::from_utf8(b.expose_secret()) {
                    self.register(s);
                }
            }
            SecretData::File(b) => {
                if let Ok(s) = crate::providers::file_text(b.expose_secret()) {
                    self.register(s);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::test_support::{env, rt};

    #[test]
    fn fetched_values_are_registered_for_masking() {
        let m = SecretsManager::builder()
            .provider(env(&[("K", "value-123456")]))
            .build()
            .unwrap();
        assert!(m.known_secrets().is_empty());
        rt().block_on(m.get_secret("k")).unwrap();
        assert!(!m.known_secrets().is_empty());
    }
}
