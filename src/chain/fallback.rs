//! Fallback order and the aggregated error.
//!
//! The providers are tried in chain order, each through
//! [one attempt](super::attempt). "Not found", "unavailable" and (by
//! default) "access denied" move on to the next provider; any other error
//! stops the chain. When every provider misses, the error lists each
//! provider's answer in order, and its kind says what the answers add up
//! to (`aggregate_kind`).

use std::sync::atomic::Ordering;

use secrecy::ExposeSecret;

use super::SecretsManager;
use super::attempt::outcome;
use super::path::{self, Resolved, SecretPath};
use crate::error::{Error, ErrorKind, ProviderOutcome};
use crate::providers::{SecretData, SecretMetadata, SecretValue, Version};

impl SecretsManager {
    /// Tries each provider in order; returns the index of the one that
    /// answered, the resolved value and its metadata (naming that provider).
    /// A current value with a lease is [held](Self::hold) first (`force`:
    /// this fetch replaces a held lease rather than adopting it).
    pub(super) async fn fetch_chain(
        &self,
        parsed: &SecretPath<'_>,
        path: &str,
        version: &Version,
        force: bool,
    ) -> Result<(usize, Resolved, SecretMetadata), Error> {
        let mut outcomes: Vec<ProviderOutcome> = Vec::new();
        for (i, p) in self.inner.providers.iter().enumerate() {
            if let Some(skipped) = self.circuit_open(i, p) {
                outcomes.push(skipped);
                continue;
            }
            match self.call_provider(i, p, parsed.name, path, version).await {
                Ok(value) => {
                    let (value, metadata) = value.into_parts();
                    self.register_value(&value);
                    let (value, metadata) = match version {
                        Version::Current => self.hold(i, parsed.name, value, metadata, force),
                        _ => (value, metadata),
                    };
                    return self.resolve_answer(i, value, metadata, parsed, path);
                }
                Err(e) => {
                    let kind = e.kind();
                    warn_if_denied(path, p.name(), &e);
                    outcomes.push(outcome(p.name(), &e));
                    if self.stops_chain(kind) {
                        return Err(chain_error(path, kind, outcomes)
                            .with_provider(p.name())
                            .with_backend_answer_of(&e));
                    }
                }
            }
        }
        let kind = aggregate_kind(&outcomes);
        Err(chain_error(path, kind, outcomes))
    }

    /// The chain for many names at once ([`prefetch`](Self::prefetch)):
    /// each provider in order is asked, in one
    /// [`fetch_many`](crate::providers::Provider::fetch_many), for every
    /// name no provider before it had, with the fallback rules of a single
    /// read ("not found", "unavailable" and by default "access denied" move
    /// on; anything else stops that name's lookup). `labels[k]` is the path
    /// that logs name for `names[k]`. One answer per name, in order.
    pub(super) async fn fetch_chain_many(
        &self,
        names: &[&str],
        labels: &[&str],
    ) -> Vec<BatchAnswer> {
        let mut outcomes: Vec<Vec<ProviderOutcome>> = names.iter().map(|_| Vec::new()).collect();
        let mut answers: Vec<Option<BatchAnswer>> = names.iter().map(|_| None).collect();
        let mut remaining: Vec<usize> = (0..names.len()).collect();
        for (i, p) in self.inner.providers.iter().enumerate() {
            if remaining.is_empty() {
                break;
            }
            if let Some(skipped) = self.circuit_open(i, p) {
                // circuit_open counted one skipped read; the batch is more.
                self.inner.provider_counters[i]
                    .skipped_open
                    .fetch_add(remaining.len() as u64 - 1, Ordering::Relaxed);
                for &k in &remaining {
                    outcomes[k].push(skipped.clone());
                }
                continue;
            }
            let batch: Vec<&str> = remaining.iter().map(|&k| names[k]).collect();
            let batch_labels: Vec<&str> = remaining.iter().map(|&k| labels[k]).collect();
            let results = self.call_provider_many(i, p, &batch, &batch_labels).await;
            let mut next = Vec::new();
            for (&k, result) in remaining.iter().zip(results) {
                match result {
                    Ok(value) => answers[k] = Some(BatchAnswer::Found(i, value)),
                    Err(e) => {
                        warn_if_denied(labels[k], p.name(), &e);
                        outcomes[k].push(outcome(p.name(), &e));
                        if self.stops_chain(e.kind()) {
                            answers[k] = Some(BatchAnswer::Failed {
                                kind: e.kind(),
                                outcomes: std::mem::take(&mut outcomes[k]),
                                stopped_by: Some((i, e)),
                            });
                        } else {
                            next.push(k);
                        }
                    }
                }
            }
            remaining = next;
        }
        for k in remaining {
            let outcomes = std::mem::take(&mut outcomes[k]);
            answers[k] = Some(BatchAnswer::Failed {
                kind: aggregate_kind(&outcomes),
                outcomes,
                stopped_by: None,
            });
        }
        answers
            .into_iter()
            .map(|a| {
                a.unwrap_or(BatchAnswer::Failed {
                    kind: ErrorKind::Unavailable,
                    outcomes: Vec::new(),
                    stopped_by: None,
                })
            })
            .collect()
    }

    /// Provider `i`'s value as what `path` asks for (a field selected, the
    /// document rule applied), with its metadata naming the provider. The
    /// caller has registered the raw value for masking; a derived one is
    /// registered here.
    pub(super) fn resolve_answer(
        &self,
        i: usize,
        value: SecretData,
        metadata: SecretMetadata,
        parsed: &SecretPath<'_>,
        path: &str,
    ) -> Result<(usize, Resolved, SecretMetadata), Error> {
        let name = self.inner.providers[i].name();
        // A selected field or a one-key document's value differs from the
        // raw value (non-string JSON fields are not among the registry's
        // field values); a plain value is registered already.
        let derived = parsed.field.is_some() || matches!(value, SecretData::Document(_));
        let resolved = path::resolve(value, parsed, path, name).map_err(|e| e.with_path(path))?;
        if let (true, Resolved::Text(s)) = (derived, &resolved) {
            self.register(s.expose_secret());
        }
        Ok((i, resolved, metadata.with_provider(name)))
    }

    /// Whether an answer of `kind` ends the lookup at this provider: any
    /// kind that does not fall through, and access denied when the chain is
    /// configured to stop on it.
    pub(super) fn stops_chain(&self, kind: ErrorKind) -> bool {
        !kind.falls_through()
            || (kind == ErrorKind::AccessDenied && self.inner.settings.stop_on_access_denied)
    }

    /// The body of [`list_secrets`](Self::list_secrets): every provider is
    /// asked; the listing fails only when every one of them fails.
    pub(super) async fn list_union(&self, prefix: &str) -> Result<Listing, Error> {
        let mut names = Vec::new();
        let mut outcomes = Vec::new();
        let mut any_ok = false;
        for p in &self.inner.providers {
            match p.provider().list(prefix).await {
                Ok(found) => {
                    any_ok = true;
                    names.extend(found);
                }
                Err(e) => {
                    tracing::warn!(provider = p.name(), error = %e, "listing secrets failed");
                    outcomes.push(outcome(p.name(), &e));
                }
            }
        }
        if !any_ok {
            let kind = aggregate_kind(&outcomes);
            return Err(Error::new(
                kind,
                format!(
                    "cannot list secrets under '{prefix}': {}",
                    join_outcomes(&outcomes)
                ),
            )
            .with_outcomes(outcomes));
        }
        names.sort();
        names.dedup();
        Ok(Listing {
            names,
            failures: outcomes,
        })
    }
}

/// What [`SecretsManager::list_secrets_report`] found: the names the
/// providers that answered listed, and the answers of those that did not.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Listing {
    /// Names under the prefix: the union over the providers that answered,
    /// sorted and deduplicated.
    pub names: Vec<String>,
    /// The providers that could not list, in chain order (empty when the
    /// listing is complete).
    pub failures: Vec<ProviderOutcome>,
}

/// What the chain found for one name of a batch.
pub(super) enum BatchAnswer {
    /// Provider `.0` has it.
    Found(usize, SecretValue),
    /// No provider had it: each one's answer, what they add up to, and the
    /// provider (index and error) that stopped the lookup, if one did.
    Failed {
        kind: ErrorKind,
        outcomes: Vec<ProviderOutcome>,
        stopped_by: Option<(usize, Error)>,
    },
}

impl BatchAnswer {
    /// The error of a failed lookup, for one of the name's paths: as the
    /// single read of `path` would report it.
    pub(super) fn error_for(&self, manager: &SecretsManager, path: &str) -> Option<Error> {
        let BatchAnswer::Failed {
            kind,
            outcomes,
            stopped_by,
        } = self
        else {
            return None;
        };
        let e = chain_error(path, *kind, outcomes.clone());
        Some(match stopped_by {
            Some((i, stop)) => e
                .with_provider(manager.inner.providers[*i].name())
                .with_backend_answer_of(stop),
            None => e,
        })
    }
}

/// A denied read is worth a warning: a missing permission otherwise hides
/// behind a fallback that happens to have the secret.
pub(super) fn warn_if_denied(path: &str, provider: &str, e: &Error) {
    if e.kind() == ErrorKind::AccessDenied {
        tracing::warn!(
            path,
            provider,
            error = %e,
            "provider denied access to the secret"
        );
    }
}

/// Whether `e` says that every provider answered "not found".
pub(super) fn is_missing_everywhere(e: &Error) -> bool {
    e.kind() == ErrorKind::NotFound && e.outcomes().iter().all(|o| o.kind == ErrorKind::NotFound)
}

/// The kind of a chain failure: not found if any provider said so; access
/// denied if every provider denied; otherwise unavailable.
pub(super) fn aggregate_kind(outcomes: &[ProviderOutcome]) -> ErrorKind {
    if outcomes.iter().any(|o| o.kind == ErrorKind::NotFound) {
        ErrorKind::NotFound
    } else if !outcomes.is_empty() && outcomes.iter().all(|o| o.kind == ErrorKind::AccessDenied) {
        ErrorKind::AccessDenied
    } else if outcomes.iter().all(|o| o.kind.falls_through()) {
        ErrorKind::Unavailable
    } else {
        outcomes.last().map_or(ErrorKind::NotFound, |o| o.kind)
    }
}

fn join_outcomes(outcomes: &[ProviderOutcome]) -> String {
    outcomes
        .iter()
        .map(|o| o.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

pub(super) fn chain_error(path: &str, kind: ErrorKind, outcomes: Vec<ProviderOutcome>) -> Error {
    let msg = format!("secret '{path}' {kind}: {}", join_outcomes(&outcomes));
    Error::new(kind, msg)
        .with_outcomes(outcomes)
        .with_path(path)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use secrecy::ExposeSecret;

    use crate::chain::SecretsManager;
    use crate::chain::test_support::{Scripted, env, rt};
    use crate::error::{Error, ErrorKind};
    use crate::providers::SecretValue;

    #[test]
    fn first_provider_that_has_the_secret_answers() {
        let (a, a_calls) = Scripted::new("aws", |_| Ok(SecretValue::text("from-aws-123")));
        let m = SecretsManager::builder()
            .provider(a)
            .provider(env(&[("DATABASE_URL", "from-env-123")]))
            .build()
            .unwrap();
        let v = rt().block_on(m.get_secret("database/url")).unwrap();
        assert_eq!(v.expose_secret(), "from-aws-123");
        assert_eq!(a_calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn not_found_moves_to_next_provider() {
        let (a, _) = Scripted::new("aws", |_| Err(Error::not_found("not found")));
        let m = SecretsManager::builder()
            .provider(a)
            .provider(env(&[("DATABASE_URL", "from-env-123")]))
            .build()
            .unwrap();
        let v = rt().block_on(m.get_secret("database/url")).unwrap();
        assert_eq!(v.expose_secret(), "from-env-123");
    }

    #[test]
    fn unavailable_moves_to_next_provider() {
        let (a, _) = Scripted::new("aws", |_| {
            Err(Error::unavailable("unavailable (connection refused)"))
        });
        let m = SecretsManager::builder()
            .provider(a)
            .provider(env(&[("DATABASE_URL", "from-env-123")]))
            .build()
            .unwrap();
        assert!(rt().block_on(m.get_secret("database/url")).is_ok());
    }

    #[test]
    fn aggregated_error_lists_every_provider_in_order() {
        let (a, _) = Scripted::new("aws", |_| Err(Error::not_found("not found")));
        let m = SecretsManager::builder()
            .provider(a)
            .provider(env(&[]))
            .build()
            .unwrap();
        let e = rt().block_on(m.get_secret("database/url")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(
            e.to_string(),
            "secret 'database/url' not found: aws: not found; env: not found (DATABASE_URL)"
        );
        let names: Vec<_> = e.outcomes().iter().map(|o| o.provider.as_str()).collect();
        assert_eq!(names, ["aws", "env"]);
    }

    #[test]
    fn all_unavailable_is_unavailable_and_all_denied_is_denied() {
        let (a, _) = Scripted::new("aws", |_| Err(Error::unavailable("unavailable (timeout)")));
        let (v, _) = Scripted::new("vault", |_| {
            Err(Error::access_denied("access denied (403)"))
        });
        let m = SecretsManager::builder()
            .provider(a)
            .provider(v)
            .build()
            .unwrap();
        let e = rt().block_on(m.get_secret("x/y")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(
            e.to_string()
                .contains("aws: unavailable (timeout); vault: access denied (403)"),
            "{e}"
        );

        let (v, _) = Scripted::new("vault", |_| {
            Err(Error::access_denied("access denied (403)"))
        });
        let m = SecretsManager::builder().provider(v).build().unwrap();
        assert_eq!(
            rt().block_on(m.get_secret("x")).unwrap_err().kind(),
            ErrorKind::AccessDenied
        );
    }

    #[test]
    fn access_denied_moves_on_by_default_and_can_stop_the_chain() {
        let denied = |_: &str| {
            Err(Error::access_denied(
                "access denied (AccessDeniedException)",
            ))
        };
        let (a, _) = Scripted::new("aws", denied);
        let m = SecretsManager::builder()
            .provider(a)
            .provider(env(&[("K", "env-value-1")]))
            .build()
            .unwrap();
        assert!(rt().block_on(m.get_secret("k")).is_ok());

        let (a, _) = Scripted::new("aws", denied);
        let m = SecretsManager::builder()
            .provider(a)
            .provider(env(&[("K", "env-value-1")]))
            .stop_on_access_denied(true)
            .build()
            .unwrap();
        let e = rt().block_on(m.get_secret("k")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AccessDenied);
        assert_eq!(e.outcomes().len(), 1);
        assert_eq!(e.provider(), Some("aws"));
    }

    #[test]
    fn outcomes_carry_the_backends_code_and_status_and_a_stop_keeps_them() {
        let throttled = |_: &str| {
            Err(
                Error::unavailable("AWS Secrets Manager failed (x): ThrottlingException")
                    .with_code("ThrottlingException")
                    .with_http_status(400),
            )
        };
        let denied = |_: &str| Err(Error::access_denied("access denied (p)").with_http_status(403));
        let (a, _) = Scripted::new("aws", throttled);
        let (v, _) = Scripted::new("vault", denied);
        let m = SecretsManager::builder()
            .provider(a)
            .provider(v)
            .retries(
                0,
                std::time::Duration::from_millis(1),
                std::time::Duration::from_millis(1),
            )
            .build()
            .unwrap();
        let e = rt().block_on(m.get_secret("x")).unwrap_err();
        assert_eq!(e.path(), Some("x"));
        let o = e.outcomes();
        assert_eq!(
            (o[0].code.as_deref(), o[0].http_status),
            (Some("ThrottlingException"), Some(400))
        );
        assert_eq!((o[1].code.as_deref(), o[1].http_status), (None, Some(403)));
        assert_eq!(e.code(), None, "an aggregate is no one backend's answer");

        let (v, _) = Scripted::new("vault", denied);
        let m = SecretsManager::builder()
            .provider(v)
            .provider(env(&[("X", "env-value-1")]))
            .stop_on_access_denied(true)
            .build()
            .unwrap();
        let e = rt().block_on(m.get_secret("x")).unwrap_err();
        assert_eq!(
            e.http_status(),
            Some(403),
            "the provider that stopped the chain"
        );
    }

    #[test]
    fn field_paths_select_from_json_for_any_provider() {
        let (a, _) = Scripted::new("custom", |_| {
            Ok(SecretValue::text(
                r#"{"user":"app","password":"pw-abcdef"}"#,
            ))
        });
        let m = SecretsManager::builder().provider(a).build().unwrap();
        let rt = rt();
        assert_eq!(
            rt.block_on(m.get_secret("db#password"))
                .unwrap()
                .expose_secret(),
            "pw-abcdef"
        );
        let e = rt.block_on(m.get_secret("db#missing")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidJson);
        assert!(
            e.to_string().contains("'missing'") && e.to_string().contains("db#missing"),
            "{e}"
        );
        assert!(!e.to_string().contains("pw-abcdef"));
    }

    #[test]
    fn list_is_the_sorted_union_and_survives_one_failing_provider() {
        let (a, _) = Scripted::new("aws", |_| Ok(SecretValue::text("x")));
        let (b, _) = Scripted::new("vault", |_| Ok(SecretValue::text("x")));
        let (c, _) = Scripted::new("broken", |_| Err(Error::unavailable("unavailable")));
        let m = SecretsManager::builder()
            .provider(a)
            .provider(b)
            .provider(c)
            .build()
            .unwrap();
        assert_eq!(
            rt().block_on(m.list_secrets("")).unwrap(),
            ["aws/b", "shared/a", "vault/b"]
        );
        let (c, _) = Scripted::new("broken", |_| Err(Error::unavailable("unavailable")));
        let m = SecretsManager::builder().provider(c).build().unwrap();
        let e = rt().block_on(m.list_secrets("")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
    }
}
