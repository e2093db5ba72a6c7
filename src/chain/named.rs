//! A provider under its name in the chain.
//!
//! A chain can hold several providers of one kind (two Vault clusters, a
//! primary and a DR account), so the chain names each one itself instead of
//! asking [`Provider::name`]: the name given to
//! [`provider_named`](super::SecretsManagerBuilder::provider_named), or the
//! provider's own name by default. Everything that names a provider (errors
//! and their outcomes, stats, health, the audit events, the metrics, the
//! warnings) reads it from here.

use std::fmt;

use crate::error::Error;
use crate::providers::Provider;

/// What a name given to a provider may hold, for the error messages.
pub(crate) const NAME_RULE: &str = "ASCII letters, digits, '-' and '_'";

/// Whether `name` may name a provider: non-empty, [`NAME_RULE`]. A name
/// goes into variable names (`SECRETS_{NAME}_...`), metric labels and log
/// fields, so nothing else is allowed.
pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A boxed provider and its name in the chain.
pub(crate) struct NamedProvider {
    name: Box<str>,
    /// Whether the name was given (and must follow [`NAME_RULE`]) rather
    /// than the provider's own, which is left as it is.
    given: bool,
    provider: Box<dyn Provider>,
}

impl fmt::Debug for NamedProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NamedProvider")
            .field("name", &self.name)
            .field("provider", &self.provider)
            .finish()
    }
}

impl NamedProvider {
    /// `provider` under its own name ([`Provider::name`]).
    pub(crate) fn own(provider: Box<dyn Provider>) -> NamedProvider {
        NamedProvider {
            name: provider.name().into(),
            given: false,
            provider,
        }
    }

    /// `provider` under `name`; [`check_names`] validates it.
    pub(crate) fn named(name: impl Into<String>, provider: Box<dyn Provider>) -> NamedProvider {
        NamedProvider {
            name: name.into().into_boxed_str(),
            given: true,
            provider,
        }
    }

    /// The name in the chain.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The provider itself.
    pub(crate) fn provider(&self) -> &dyn Provider {
        self.provider.as_ref()
    }
}

/// Refuses a given name that breaks [`NAME_RULE`] and two providers with one
/// name, naming the entries (1-based, in chain order).
///
/// # Errors
///
/// A configuration error. An invalid name is not echoed (only its entry
/// number): it may be text that was never meant as a name.
pub(crate) fn check_names(providers: &[NamedProvider]) -> Result<(), Error> {
    for (i, p) in providers.iter().enumerate() {
        if p.given && !is_valid_name(p.name()) {
            return Err(Error::config(format!(
                "provider entry {}: the name given to provider_named is not valid \
                 (a name is non-empty and holds only {NAME_RULE})",
                i + 1
            )));
        }
        if let Some(j) = providers[..i].iter().position(|q| q.name() == p.name()) {
            return Err(Error::config(format!(
                "two providers are named '{}' (entries {} and {}); provider names must be unique: \
                 add one with provider_named under a name of its own",
                p.name(),
                j + 1,
                i + 1
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use secrecy::ExposeSecret;

    use super::*;
    use crate::chain::SecretsManager;
    use crate::chain::test_support::{Scripted, Switch, env, rt};
    use crate::clock::Clock;
    use crate::error::ErrorKind;

    #[test]
    fn names_are_ascii_letters_digits_dashes_and_underscores() {
        for ok in ["dr", "eu-dr", "vault_2", "A"] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in ["", "a b", "dr.eu", "é", "a=b", "a,b"] {
            assert!(!is_valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_default_name_is_the_providers_own() {
        let p = NamedProvider::own(Box::new(env(&[])));
        assert_eq!(p.name(), "env");
        let p = NamedProvider::named("local", Box::new(env(&[])));
        assert_eq!((p.name(), p.provider().name()), ("local", "env"));
    }

    #[test]
    fn instance_names_are_what_errors_stats_and_health_name() {
        let m = SecretsManager::builder()
            .provider_named("local", env(&[("ONLY_LOCAL", "local-value-1")]))
            .provider_named("shared", env(&[("ONLY_SHARED", "shared-value-1")]))
            .build()
            .unwrap();
        assert_eq!(m.provider_names(), ["local", "shared"]);
        let rt = rt();
        assert_eq!(
            rt.block_on(m.get_secret("only/shared"))
                .unwrap()
                .expose_secret(),
            "shared-value-1"
        );
        let e = rt.block_on(m.get_secret("nowhere")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "secret 'nowhere' not found: local: not found (NOWHERE); shared: not found (NOWHERE)"
        );
        let names: Vec<_> = e.outcomes().iter().map(|o| o.provider.as_str()).collect();
        assert_eq!(names, ["local", "shared"]);
        let stats: Vec<_> = m
            .stats()
            .providers
            .into_iter()
            .map(|p| (p.provider, p.calls, p.found))
            .collect();
        assert_eq!(
            stats,
            [("local".to_owned(), 2, 0), ("shared".to_owned(), 2, 1)]
        );
        let health: Vec<_> = rt
            .block_on(m.health())
            .into_iter()
            .map(|h| h.provider)
            .collect();
        assert_eq!(health, ["local", "shared"]);
    }

    #[test]
    fn a_chain_stopped_by_a_provider_names_its_instance() {
        let (a, _) = Scripted::new("aws", |_| Err(Error::access_denied("access denied")));
        let m = SecretsManager::builder()
            .provider_named("dr", a)
            .provider(env(&[("K", "env-value-1")]))
            .stop_on_access_denied(true)
            .build()
            .unwrap();
        let e = rt().block_on(m.get_secret("k")).unwrap_err();
        assert_eq!(e.provider(), Some("dr"));
        assert_eq!(e.to_string(), "secret 'k' access denied: dr: access denied");
    }

    #[test]
    fn a_stale_value_is_served_when_its_own_instance_is_down() {
        // Two providers of one kind: the stale check must tell them apart.
        let (clock, mock) = Clock::mock();
        let primary = Switch::new("aws", "primary-value-1");
        let dr = Switch::new("aws", "x");
        dr.set(Err(ErrorKind::NotFound));
        let m = SecretsManager::builder()
            .provider_named("primary", primary.clone())
            .provider_named("dr", dr.clone())
            .cache_ttl(Duration::from_secs(60))
            .ttl_jitter(0.0)
            .refresh_ahead(false)
            .retries(0, Duration::from_millis(1), Duration::from_millis(1))
            .clock(clock)
            .build()
            .unwrap();
        let rt = rt();
        rt.block_on(m.get_secret("k")).unwrap();
        primary.set(Err(ErrorKind::Unavailable));
        mock.advance(Duration::from_secs(61));
        assert_eq!(
            rt.block_on(m.get_secret("k")).unwrap().expose_secret(),
            "primary-value-1"
        );
        assert_eq!(m.stats().stale_served, 1);
    }
}
