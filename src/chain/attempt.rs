//! One provider attempt: the circuit breaker's check, the fetch with
//! retries of "unavailable" answers (exponential backoff with jitter,
//! within the retry budget), the breaker's bookkeeping, the counters, and
//! one audit event per backend call, never with a value.

use std::sync::atomic::Ordering;

use super::SecretsManager;
use super::named::NamedProvider;
use super::resilience::ProviderCounters;
use crate::error::{Error, ErrorKind, ProviderOutcome};
use crate::providers::{SecretValue, Version};

/// The audit log target: one event per backend fetch, never a value.
pub const AUDIT_TARGET: &str = "secret_chain::audit";

impl SecretsManager {
    /// The breaker's check before provider `i` is tried: `Some` outcome
    /// when its circuit is open and the chain skips it.
    pub(super) fn circuit_open(&self, i: usize, p: &NamedProvider) -> Option<ProviderOutcome> {
        let policy = &self.inner.settings.policy;
        if let Err(refused) = self.inner.breakers[i].allow(self.inner.clock.now(), policy) {
            self.inner.provider_counters[i]
                .skipped_open
                .fetch_add(1, Ordering::Relaxed);
            return Some(ProviderOutcome {
                provider: p.name().to_owned(),
                kind: ErrorKind::Unavailable,
                detail: format!(
                    "unavailable (circuit open after {} failures; next probe in {} s)",
                    refused.failures,
                    refused.retry_in.as_secs()
                ),
                code: None,
                http_status: None,
            });
        }
        None
    }

    /// One provider's fetch, with retries of unavailable answers within the
    /// retry budget, breaker bookkeeping, counters and the audit event.
    pub(super) async fn call_provider(
        &self,
        i: usize,
        p: &NamedProvider,
        name: &str,
        path: &str,
        version: &Version,
    ) -> Result<SecretValue, Error> {
        let policy = &self.inner.settings.policy;
        let counters = &self.inner.provider_counters[i];
        let started = std::time::Instant::now();
        let mut attempt = 0;
        loop {
            let start = std::time::Instant::now();
            counters.calls.fetch_add(1, Ordering::Relaxed);
            let result = p.provider().fetch(name, version).await;
            let latency_ms = (start.elapsed().as_secs_f64() * 1e6).round() / 1e3;
            let label = count_answer(counters, p.name(), &result);
            audit(path, p.name(), version, label, latency_ms, attempt, None);
            match result {
                Err(e) if e.kind() == ErrorKind::Unavailable => {
                    attempt += 1;
                    let backoff = policy.backoff(attempt);
                    if attempt <= policy.retries
                        && started.elapsed() + backoff <= policy.retry_budget
                    {
                        tokio::time::sleep(backoff).await;
                        continue;
                    }
                    if self.inner.breakers[i].on_failure(self.inner.clock.now(), policy) {
                        tracing::warn!(
                            provider = p.name(),
                            cooldown_secs = policy.breaker_cooldown.as_secs(),
                            "provider keeps failing; circuit opened, skipping it during the cool-down"
                        );
                    }
                    return Err(e);
                }
                other => {
                    self.inner.breakers[i].on_answer();
                    return other;
                }
            }
        }
    }
}

impl SecretsManager {
    /// One provider's [`fetch_many`](crate::providers::Provider::fetch_many)
    /// of `names` (`labels[k]` is the path the audit event names for
    /// `names[k]`): one answer per name, in order.
    ///
    /// As [`call_provider`](Self::call_provider) for each name: the names
    /// answered "unavailable" are asked again in one smaller batch, within
    /// the retry budget; each name counts as one call and gets one audit
    /// event (with the batch's size and latency). The breaker sees the
    /// batch as one call: a failure when every name in its last round was
    /// unavailable, an answer otherwise.
    pub(super) async fn call_provider_many(
        &self,
        i: usize,
        p: &NamedProvider,
        names: &[&str],
        labels: &[&str],
    ) -> Vec<Result<SecretValue, Error>> {
        let policy = &self.inner.settings.policy;
        let counters = &self.inner.provider_counters[i];
        let started = std::time::Instant::now();
        let mut answers: Vec<Option<Result<SecretValue, Error>>> =
            names.iter().map(|_| None).collect();
        let mut todo: Vec<usize> = (0..names.len()).collect();
        let mut attempt = 0;
        while !todo.is_empty() {
            let batch: Vec<&str> = todo.iter().map(|&k| names[k]).collect();
            let start = std::time::Instant::now();
            counters
                .calls
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            let mut results = p.provider().fetch_many(&batch).await;
            let latency_ms = (start.elapsed().as_secs_f64() * 1e6).round() / 1e3;
            if results.len() != batch.len() {
                // A provider of someone else's that broke the contract: no
                // answer can be matched to its name, so none is used.
                let detail = format!(
                    "unavailable (fetch_many answered {} of {} names)",
                    results.len(),
                    batch.len()
                );
                results = batch
                    .iter()
                    .map(|_| Err(Error::unavailable(detail.clone())))
                    .collect();
            }
            let mut again = Vec::new();
            for (&k, result) in todo.iter().zip(results) {
                let label = count_answer(counters, p.name(), &result);
                audit(
                    labels[k],
                    p.name(),
                    &Version::Current,
                    label,
                    latency_ms,
                    attempt,
                    Some(batch.len()),
                );
                if matches!(&result, Err(e) if e.kind() == ErrorKind::Unavailable) {
                    again.push(k);
                }
                answers[k] = Some(result);
            }
            if again.is_empty() {
                self.inner.breakers[i].on_answer();
                break;
            }
            attempt += 1;
            let backoff = policy.backoff(attempt);
            if attempt <= policy.retries && started.elapsed() + backoff <= policy.retry_budget {
                tokio::time::sleep(backoff).await;
                todo = again;
                continue;
            }
            if again.len() < todo.len() {
                self.inner.breakers[i].on_answer();
            } else if self.inner.breakers[i].on_failure(self.inner.clock.now(), policy) {
                tracing::warn!(
                    provider = p.name(),
                    cooldown_secs = policy.breaker_cooldown.as_secs(),
                    "provider keeps failing; circuit opened, skipping it during the cool-down"
                );
            }
            break;
        }
        answers
            .into_iter()
            .map(|a| a.unwrap_or_else(|| Err(Error::unavailable("unavailable (no answer)"))))
            .collect()
    }
}

/// Counts one answer of a provider (and sends it to the metrics); returns
/// the outcome label that the audit event and the metric carry.
fn count_answer(
    counters: &ProviderCounters,
    provider: &str,
    result: &Result<SecretValue, Error>,
) -> &'static str {
    let label = match result {
        Ok(_) => {
            counters.found.fetch_add(1, Ordering::Relaxed);
            "ok"
        }
        Err(e) => match e.kind() {
            ErrorKind::NotFound => {
                counters.not_found.fetch_add(1, Ordering::Relaxed);
                "not_found"
            }
            ErrorKind::AccessDenied => {
                counters.denied.fetch_add(1, Ordering::Relaxed);
                "access_denied"
            }
            ErrorKind::Unavailable => {
                counters.unavailable.fetch_add(1, Ordering::Relaxed);
                "unavailable"
            }
            _ => {
                counters.other_errors.fetch_add(1, Ordering::Relaxed);
                "error"
            }
        },
    };
    #[cfg(feature = "metrics")]
    metrics::counter!("secret_chain_backend_calls_total", "provider" => provider.to_owned(), "outcome" => label)
        .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = provider;
    label
}

/// The audit event of one backend call: path, provider, version (unless
/// current), outcome, latency and retry number, and for a batch its size;
/// never the value.
fn audit(
    path: &str,
    provider: &str,
    version: &Version,
    outcome: &str,
    latency_ms: f64,
    retry: u32,
    batch: Option<usize>,
) {
    if let Some(batch) = batch {
        tracing::info!(
            target: AUDIT_TARGET,
            path,
            provider,
            outcome,
            latency_ms,
            retry,
            batch,
            "secret fetch"
        );
        return;
    }
    match version {
        Version::Current => tracing::info!(
            target: AUDIT_TARGET,
            path,
            provider,
            outcome,
            latency_ms,
            retry,
            "secret fetch"
        ),
        v => tracing::info!(
            target: AUDIT_TARGET,
            path,
            provider,
            version = %v,
            outcome,
            latency_ms,
            retry,
            "secret fetch"
        ),
    }
}

/// One provider's error as an entry of the aggregated error.
pub(super) fn outcome(provider: &str, e: &Error) -> ProviderOutcome {
    ProviderOutcome {
        provider: provider.to_owned(),
        kind: e.kind(),
        detail: e.to_string(),
        code: e.code().map(str::to_owned),
        http_status: e.http_status(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use secrecy::ExposeSecret;

    use super::*;
    use crate::chain::BreakerState;
    use crate::chain::test_support::{Scripted, Switch, env, rt};
    use crate::clock::Clock;
    use crate::providers::{BoxFuture, Provider};

    #[test]
    fn each_fetch_emits_an_audit_event_without_the_value() {
        use std::io::Write;
        #[derive(Clone, Default)]
        struct Buf(Arc<parking_lot::Mutex<Vec<u8>>>);
        impl Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let (a, _) = Scripted::new("aws", |_| Err(Error::not_found("not found")));
        let m = SecretsManager::builder()
            .provider(a)
            .provider(env(&[("DATABASE_URL", "postgres://u:pw-zyx987@db/app")]))
            .build()
            .unwrap();
        // tracing caches each callsite's interest process-wide, and while
        // only one dispatcher exists it asks the registering thread's own
        // default: another test's thread that registers the audit callsite
        // during this read can cache "never" for this subscriber too. A new
        // dispatcher makes tracing ask again, so a read whose events were
        // lost to that race (a callsite is registered once) is repeated.
        let mut out = String::new();
        for _ in 0..10 {
            let buf = Buf::default();
            let w = buf.clone();
            let sub = tracing_subscriber::fmt()
                .with_writer(move || w.clone())
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .finish();
            m.refresh();
            tracing::subscriber::with_default(sub, || {
                rt().block_on(m.get_secret("database/url")).unwrap();
            });
            out = String::from_utf8(buf.0.lock().clone()).unwrap();
            if out.contains("provider=\"aws\"") && out.contains("provider=\"env\"") {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(out.contains("secret_chain::audit"), "{out}");
        assert!(
            out.contains("provider=\"aws\"") && out.contains("outcome=\"not_found\""),
            "{out}"
        );
        assert!(
            out.contains("provider=\"env\"") && out.contains("outcome=\"ok\""),
            "{out}"
        );
        assert!(out.contains("latency_ms"), "{out}");
        assert!(!out.contains("pw-zyx987"), "{out}");
    }

    #[test]
    fn retries_hide_a_transient_failure() {
        #[derive(Debug)]
        struct FailOnce(AtomicUsize);
        impl Provider for FailOnce {
            fn name(&self) -> &str {
                "flaky"
            }
            fn fetch<'a>(
                &'a self,
                _n: &'a str,
                _v: &'a Version,
            ) -> BoxFuture<'a, Result<SecretValue, Error>> {
                Box::pin(async move {
                    if self.0.fetch_add(1, Ordering::SeqCst) == 0 {
                        Err(Error::unavailable("unavailable (connection reset)"))
                    } else {
                        Ok(SecretValue::text("value-after-retry"))
                    }
                })
            }
            fn list<'a>(&'a self, _p: &'a str) -> BoxFuture<'a, Result<Vec<String>, Error>> {
                Box::pin(async { Ok(Vec::new()) })
            }
        }
        let m = SecretsManager::builder()
            .provider(FailOnce(AtomicUsize::new(0)))
            .retries(2, Duration::from_millis(1), Duration::from_secs(1))
            .build()
            .unwrap();
        assert_eq!(
            rt().block_on(m.get_secret("k")).unwrap().expose_secret(),
            "value-after-retry"
        );
        let s = m.stats();
        assert_eq!((s.providers[0].calls, s.providers[0].unavailable), (2, 1));
    }

    #[test]
    fn the_breaker_skips_a_dead_provider_then_probes_it_after_the_cooldown() {
        let (clock, mock) = Clock::mock();
        let dead = Switch::new("aws", "x");
        dead.set(Err(ErrorKind::Unavailable));
        let m = SecretsManager::builder()
            .provider(dead.clone())
            .provider(env(&[("K", "env-value-123")]))
            .cache_ttl(Duration::ZERO)
            .retries(0, Duration::from_millis(1), Duration::from_millis(1))
            .circuit_breaker(3, Duration::from_secs(30))
            .clock(clock)
            .build()
            .unwrap();
        let rt = rt();
        for _ in 0..10 {
            assert_eq!(
                rt.block_on(m.get_secret("k")).unwrap().expose_secret(),
                "env-value-123"
            );
        }
        assert_eq!(dead.calls(), 3, "skipped once the breaker opened");
        let s = m.stats();
        assert_eq!(s.providers[0].breaker, BreakerState::Open);
        assert_eq!(s.providers[0].skipped_open, 7);
        let e = rt.block_on(m.get_secret("nope")).unwrap_err();
        assert!(e.to_string().contains("circuit open"), "{e}");
        dead.set(Ok("aws-is-back-123"));
        mock.advance(Duration::from_secs(31));
        assert_eq!(
            rt.block_on(m.get_secret("k")).unwrap().expose_secret(),
            "aws-is-back-123"
        );
        assert_eq!(m.stats().providers[0].breaker, BreakerState::Closed);
    }
}
