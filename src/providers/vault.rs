//! Vault KV v2 provider (in progress).

use crate::chain::Config;
use crate::error::Error;
use crate::providers::{BoxFuture, Provider, SecretValue, Version};

/// Vault KV v2.
#[derive(Debug)]
pub struct VaultProvider;

impl VaultProvider {
    /// Builds the provider from the configuration.
    ///
    /// # Errors
    ///
    /// Always, until the provider lands.
    pub fn from_config(_config: &Config) -> Result<VaultProvider, Error> {
        Err(Error::config("the 'vault' provider is not available yet in this build"))
    }
}

impl Provider for VaultProvider {
    fn name(&self) -> &str {
        "vault"
    }
    fn fetch<'a>(&'a self, _name: &'a str, _v: &'a Version) -> BoxFuture<'a, Result<SecretValue, Error>> {
        Box::pin(async { Err(Error::unavailable("not available")) })
    }
    fn list<'a>(&'a self, _prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, Error>> {
        Box::pin(async { Err(Error::unavailable("not available")) })
    }
}
