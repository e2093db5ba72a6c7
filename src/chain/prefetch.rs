//! Warming the cache with many secrets at once:
//! [`SecretsManager::prefetch`].
//!
//! The paths are read through the chain as single reads would read them,
//! but each provider is asked for every name still missing in one
//! [`fetch_many`](crate::providers::Provider::fetch_many)
//! ([`fetch_chain_many`](SecretsManager::fetch_chain_many) in
//! `fallback.rs`):
//!
//! - a fresh cached value is not fetched again, and a remembered miss is
//!   reported as the miss it is;
//! - the `#field` paths of one secret share its fetch;
//! - single-flight: a key that another reader is fetching is awaited, not
//!   fetched again, and a reader that comes while the prefetch runs waits
//!   for its answer (it claims each key's flight, as a miss does);
//! - every answer is stored as a single read stores it
//!   ([`settle`](SecretsManager::settle): TTL, negative caching,
//!   stale-on-error) and registered for masking, all keys in one cache
//!   write;
//! - every failure is reported at once, each path with each provider's
//!   answer.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::oneshot;

use super::SecretsManager;
use super::cache::{Cached, Entry};
use super::fallback::BatchAnswer;
use super::lease::duplicate;
use super::miss::{Flight, missing_to_err};
use super::path::SecretPath;
use crate::error::{Error, ErrorKind};
use crate::providers::batch::join_bounded;
use crate::providers::{BoxFuture, FETCH_MANY_CONCURRENCY, Version};

/// How many failed paths the message of a prefetch error lists; all of
/// them are in [`Error::failures`].
const LISTED_FAILURES: usize = 10;

/// A key this prefetch fetches: its flight is ours until it is answered.
struct Claim<'p> {
    /// Position in the paths given, for the order of the failures.
    index: usize,
    path: &'p str,
    parsed: SecretPath<'p>,
    flight: Flight,
    /// The entry before the fetch, for stale-on-error.
    previous: Option<Arc<Entry>>,
}

/// Takes the flights of the claimed keys out of the in-flight map when the
/// prefetch ends, also when its future is dropped half-way: a flight left
/// behind with an answer in it would answer a later miss with that old
/// answer.
struct ClaimGuard<'m> {
    manager: &'m SecretsManager,
    flights: Vec<(String, Flight)>,
}

impl Drop for ClaimGuard<'_> {
    fn drop(&mut self) {
        let mut inflight = self.manager.inner.inflight.lock();
        for (key, flight) in &self.flights {
            if inflight
                .get(key.as_str())
                .is_some_and(|f| Arc::ptr_eq(f, flight))
            {
                inflight.remove(key.as_str());
            }
        }
    }
}

impl SecretsManager {
    /// The body of [`prefetch`](Self::prefetch); `paths` has no duplicates.
    pub(super) async fn prefetch_paths(&self, paths: Vec<String>) -> Result<(), Error> {
        let current = Version::Current;
        let mut failures: Vec<(usize, Error)> = Vec::new();
        let mut claims: Vec<Claim<'_>> = Vec::new();
        // Keys another reader is fetching: awaited through `entry`.
        let mut foreign: Vec<usize> = Vec::new();
        {
            let mut inflight = self.inner.inflight.lock();
            for (index, path) in paths.iter().enumerate() {
                let parsed = match SecretPath::parse(path) {
                    Ok(p) => p,
                    Err(e) => {
                        failures.push((index, e.with_path(path)));
                        continue;
                    }
                };
                // Checked under the lock, as `entry` does: a flight that
                // just finished has stored its entry before leaving the map.
                if let Some(entry) = self.fresh(path) {
                    if let Cached::Missing(e) = &entry.value {
                        failures.push((index, e.clone()));
                    }
                    continue;
                }
                if inflight.contains_key(path.as_str()) {
                    foreign.push(index);
                    continue;
                }
                let flight = Flight::default();
                inflight.insert(path.as_str().into(), flight.clone());
                claims.push(Claim {
                    index,
                    path,
                    parsed,
                    flight,
                    previous: self.inner.cache.get(path),
                });
            }
        }
        let _guard = ClaimGuard {
            manager: self,
            flights: claims
                .iter()
                .map(|c| (c.path.to_owned(), c.flight.clone()))
                .collect(),
        };
        self.inner
            .counters
            .misses
            .fetch_add(claims.len() as u64, Ordering::Relaxed);

        // One fetch per secret: `db#user` and `db#password` share `db`.
        let mut names: Vec<&str> = Vec::new();
        let mut members: Vec<Vec<usize>> = Vec::new();
        {
            let mut by_name: HashMap<&str, usize> = HashMap::new();
            for (c, claim) in claims.iter().enumerate() {
                let g = *by_name.entry(claim.parsed.name).or_insert_with(|| {
                    names.push(claim.parsed.name);
                    members.push(Vec::new());
                    names.len() - 1
                });
                members[g].push(c);
            }
        }
        let labels: Vec<&str> = members.iter().map(|m| claims[m[0]].path).collect();

        // Each claimed flight is held by a wait that answers from the
        // batch; readers of those keys wait on it meanwhile.
        let mut senders = Vec::with_capacity(claims.len());
        let mut waits: Vec<BoxFuture<'_, Result<Arc<Entry>, Error>>> =
            Vec::with_capacity(claims.len());
        for claim in &claims {
            let (tx, rx) = oneshot::channel::<Result<Arc<Entry>, Error>>();
            senders.push(tx);
            let flight = claim.flight.clone();
            waits.push(Box::pin(async move {
                flight
                    .get_or_init(|| async move {
                        rx.await.unwrap_or_else(|_| {
                            Err(Error::unavailable("unavailable (the prefetch was stopped)"))
                        })
                    })
                    .await
                    .clone()
            }));
        }
        let driver = async {
            let answers = self.fetch_chain_many(&names, &labels).await;
            let mut results: Vec<Option<Result<Arc<Entry>, Error>>> =
                claims.iter().map(|_| None).collect();
            let mut store: Vec<(String, Arc<Entry>)> = Vec::new();
            for (g, answer) in answers.into_iter().enumerate() {
                let found = match &answer {
                    BatchAnswer::Found(i, _) => Some(*i),
                    BatchAnswer::Failed { .. } => None,
                };
                let value = match answer {
                    BatchAnswer::Found(_, value) => Some(value.into_parts()),
                    failed => {
                        for &c in &members[g] {
                            let claim = &claims[c];
                            let e = failed.error_for(self, claim.path);
                            let e = e.unwrap_or_else(|| Error::unavailable("unavailable"));
                            let (entry, result) =
                                self.settle(claim.path, &current, claim.previous.clone(), Err(e));
                            store.extend(entry.map(|e| (claim.path.to_owned(), e)));
                            results[c] = Some(result);
                        }
                        None
                    }
                };
                let (Some(i), Some((data, metadata))) = (found, value) else {
                    continue;
                };
                self.register_value(&data);
                let (data, metadata) = self.hold(i, names[g], data, metadata, false);
                for &c in &members[g] {
                    let claim = &claims[c];
                    let fetched = self.resolve_answer(
                        i,
                        duplicate(&data),
                        metadata.clone(),
                        &claim.parsed,
                        claim.path,
                    );
                    let fresh = fetched.is_ok();
                    let (entry, result) =
                        self.settle(claim.path, &current, claim.previous.clone(), fetched);
                    if fresh && let Ok(e) = &result {
                        self.notify_watchers(claim.path, e);
                    }
                    store.extend(entry.map(|e| (claim.path.to_owned(), e)));
                    results[c] = Some(result);
                }
            }
            // Stored before the flights answer and leave the map, so that
            // a reader who finds no flight finds the entry.
            self.inner.cache.insert_many(store);
            for (tx, result) in senders.into_iter().zip(results) {
                let result =
                    result.unwrap_or_else(|| Err(Error::unavailable("unavailable (no answer)")));
                // A reader that won the race to the flight answered it
                // instead: its answer stands.
                let _ = tx.send(result);
            }
        };
        let foreign_reads: Vec<BoxFuture<'_, Result<Arc<Entry>, Error>>> = foreign
            .iter()
            .map(|&k| Box::pin(self.entry(&paths[k], &current, false)) as BoxFuture<'_, _>)
            .collect();
        let (waited, (), awaited) = tokio::join!(
            join_bounded(waits, usize::MAX),
            driver,
            join_bounded(foreign_reads, FETCH_MANY_CONCURRENCY),
        );

        for (claim, result) in claims.iter().zip(waited) {
            if let Err(e) = result.and_then(missing_to_err) {
                failures.push((claim.index, e));
            }
        }
        for (&k, result) in foreign.iter().zip(awaited) {
            if let Err(e) = result {
                failures.push((k, e));
            }
        }
        tracing::debug!(
            paths = paths.len(),
            fetched = names.len(),
            failed = failures.len(),
            "prefetch done"
        );
        if failures.is_empty() {
            return Ok(());
        }
        failures.sort_by_key(|(k, _)| *k);
        let failures = failures
            .into_iter()
            .map(|(k, e)| match e.path() {
                Some(_) => e,
                None => e.with_path(&paths[k]),
            })
            .collect();
        Err(prefetch_error(paths.len(), failures))
    }
}

/// The error of a prefetch: each failed path's error, in the order given.
/// Its kind is the one they share; when they differ, unavailable if any
/// is (a retry may help), else the first failure's.
fn prefetch_error(total: usize, failures: Vec<Error>) -> Error {
    let first = failures.first().map_or(ErrorKind::Unavailable, Error::kind);
    let kind = if failures.iter().all(|e| e.kind() == first) {
        first
    } else if failures.iter().any(|e| e.kind() == ErrorKind::Unavailable) {
        ErrorKind::Unavailable
    } else {
        first
    };
    let mut msg = format!("cannot prefetch {} of {total} secrets:", failures.len());
    for e in failures.iter().take(LISTED_FAILURES) {
        msg.push_str(&format!(" [{e}]"));
    }
    if failures.len() > LISTED_FAILURES {
        msg.push_str(&format!(
            " and {} more (Error::failures lists them all)",
            failures.len() - LISTED_FAILURES
        ));
    }
    Error::new(kind, msg).with_failures(failures)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use secrecy::ExposeSecret;

    use crate::chain::SecretsManager;
    use crate::chain::test_support::{Batched, env, rt};
    use crate::error::ErrorKind;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn each_provider_gets_one_batch_of_what_the_ones_before_it_did_not_have() {
        let first = Batched::new("aws", &[("a", "value-a-1"), ("b", "value-b-2")]);
        let second = Batched::new("vault", &[("c", "value-c-3")]);
        let m = SecretsManager::builder()
            .provider(first.clone())
            .provider(second.clone())
            .provider(env(&[("D", "value-d-4")]))
            .build()
            .unwrap();
        let rt = rt();
        rt.block_on(m.prefetch(["a", "b", "c", "d", "a"])).unwrap();
        assert_eq!(first.batches(), [names(&["a", "b", "c", "d"])]);
        assert_eq!(second.batches(), [names(&["c", "d"])]);
        assert_eq!(first.singles.load(Ordering::SeqCst), 0);
        let s = m.stats();
        assert_eq!((s.misses, s.hits, s.cached_entries), (4, 0, 4));
        assert_eq!(
            (
                s.providers[0].calls,
                s.providers[0].found,
                s.providers[0].not_found
            ),
            (4, 2, 2)
        );
        for (path, value) in [("a", "value-a-1"), ("c", "value-c-3"), ("d", "value-d-4")] {
            assert_eq!(
                rt.block_on(m.get_secret(path)).unwrap().expose_secret(),
                value
            );
        }
        assert_eq!(m.stats().hits, 3, "answered from the cache");
        assert_eq!(
            first.batches().len(),
            1,
            "no backend call after the prefetch"
        );
        assert!(!m.known_secrets().is_empty(), "registered for masking");

        // Fresh keys are not fetched again.
        rt.block_on(m.prefetch(["a", "b", "e"])).unwrap_err();
        assert_eq!(first.batches()[1], names(&["e"]));
    }

    #[test]
    fn field_paths_share_their_secrets_fetch() {
        let p = Batched::new("aws", &[("db", r#"{"user":"app","password":"pw-123456"}"#)]);
        let m = SecretsManager::builder()
            .provider(p.clone())
            .build()
            .unwrap();
        let rt = rt();
        rt.block_on(m.prefetch(["db#user", "db#password", "db"]))
            .unwrap();
        assert_eq!(p.batches(), [names(&["db"])]);
        assert_eq!(
            rt.block_on(m.get_secret("db#password"))
                .unwrap()
                .expose_secret(),
            "pw-123456"
        );
        assert_eq!(
            rt.block_on(m.get_secret("db#user"))
                .unwrap()
                .expose_secret(),
            "app"
        );
        assert_eq!(m.stats().hits, 2);
        let meta = rt.block_on(m.get_secret_metadata("db#user")).unwrap();
        assert_eq!(meta.provider(), Some("aws"));
    }

    #[test]
    fn every_failure_is_reported_at_once_with_each_providers_outcome() {
        let p = Batched::new("aws", &[("db", r#"{"user":"app"}"#), ("ok", "value-ok-1")]);
        let m = SecretsManager::builder()
            .provider(p.clone())
            .provider(env(&[]))
            .negative_ttl(Duration::from_secs(30))
            .build()
            .unwrap();
        let rt = rt();
        let e = rt
            .block_on(m.prefetch(["missing/one", "ok", "db#password", "#bad", "missing/two"]))
            .unwrap_err();
        let failed: Vec<_> = e.failures().iter().map(|f| f.path().unwrap()).collect();
        assert_eq!(
            failed,
            ["missing/one", "db#password", "#bad", "missing/two"]
        );
        let kinds: Vec<_> = e.failures().iter().map(|f| f.kind()).collect();
        assert_eq!(
            kinds,
            [
                ErrorKind::NotFound,
                ErrorKind::InvalidJson,
                ErrorKind::InvalidPath,
                ErrorKind::NotFound
            ]
        );
        assert_eq!(
            e.kind(),
            ErrorKind::NotFound,
            "the first one's when they differ"
        );
        let missing = &e.failures()[0];
        let outcomes = missing.outcomes();
        assert_eq!(outcomes.len(), 2);
        assert_eq!(outcomes[0].provider, "aws");
        assert_eq!(
            outcomes[0].code.as_deref(),
            Some("ResourceNotFoundException")
        );
        assert_eq!(outcomes[0].http_status, Some(400));
        assert_eq!(outcomes[1].detail, "not found (MISSING_ONE)");
        assert_eq!(
            missing.to_string(),
            rt.block_on(m.get_secret("missing/one"))
                .unwrap_err()
                .to_string(),
            "as a single read says it"
        );
        let text = e.to_string();
        assert!(
            text.starts_with(
                "cannot prefetch 4 of 5 secrets: [secret 'missing/one' not found: aws: "
            ),
            "{text}"
        );
        assert!(!format!("{e} {e:?}").contains("value-ok-1"), "{e:?}");
        // The found one is cached; "not found" everywhere is remembered.
        rt.block_on(m.get_secret("ok")).unwrap();
        let before = p.batches().len();
        let e = rt.block_on(m.prefetch(["missing/one", "ok"])).unwrap_err();
        assert_eq!(e.failures().len(), 1);
        assert_eq!(p.batches().len(), before, "answered from the cache");
    }

    #[test]
    fn many_failures_are_all_kept_and_the_message_lists_ten() {
        let m = SecretsManager::builder()
            .provider(Batched::new("aws", &[]))
            .build()
            .unwrap();
        let paths: Vec<String> = (0..25).map(|i| format!("k{i}")).collect();
        let e = rt().block_on(m.prefetch(&paths)).unwrap_err();
        assert_eq!(e.failures().len(), 25);
        assert!(
            e.to_string()
                .ends_with(" and 15 more (Error::failures lists them all)"),
            "{e}"
        );
    }

    #[test]
    fn mixed_failures_are_unavailable_and_a_stop_names_its_provider() {
        let mut down = Batched::new("vault", &[]);
        down.answer = Some(ErrorKind::Unavailable);
        let m = SecretsManager::builder()
            .provider(down)
            .retries(0, Duration::from_millis(1), Duration::from_millis(1))
            .build()
            .unwrap();
        let e = rt().block_on(m.prefetch(["#", "a"])).unwrap_err();
        let kinds: Vec<_> = e.failures().iter().map(|f| f.kind()).collect();
        assert_eq!(kinds, [ErrorKind::InvalidPath, ErrorKind::Unavailable]);
        assert_eq!(e.kind(), ErrorKind::Unavailable, "a retry may help");

        let mut denied = Batched::new("aws", &[]);
        denied.answer = Some(ErrorKind::AccessDenied);
        let m = SecretsManager::builder()
            .provider(denied)
            .provider(env(&[("A", "env-value-1")]))
            .stop_on_access_denied(true)
            .build()
            .unwrap();
        let e = rt().block_on(m.prefetch(["a"])).unwrap_err();
        let f = &e.failures()[0];
        assert_eq!(
            (f.kind(), f.provider(), f.code()),
            (ErrorKind::AccessDenied, Some("aws"), Some("Scripted"))
        );
        assert_eq!(f.outcomes().len(), 1);
    }

    #[test]
    fn unavailable_names_are_retried_in_a_smaller_batch() {
        let mut down = Batched::new("aws", &[]);
        down.answer = Some(ErrorKind::Unavailable);
        let m = SecretsManager::builder()
            .provider(down.clone())
            .provider(env(&[("A", "env-a-1"), ("B", "env-b-2")]))
            .retries(2, Duration::from_millis(1), Duration::from_secs(1))
            .circuit_breaker(1, Duration::from_secs(30))
            .build()
            .unwrap();
        rt().block_on(m.prefetch(["a", "b"])).unwrap();
        assert_eq!(down.batches().len(), 3, "first try and two retries");
        let s = m.stats();
        assert_eq!((s.providers[0].calls, s.providers[0].unavailable), (6, 6));
        assert_eq!(
            s.providers[0].breaker,
            crate::BreakerState::Open,
            "one failed batch"
        );
        // An open breaker skips the provider for the whole batch.
        rt().block_on(m.prefetch(["x", "y", "z"])).unwrap_err();
        assert_eq!(down.batches().len(), 3);
        assert_eq!(m.stats().providers[0].skipped_open, 3);
    }

    #[test]
    fn a_provider_that_answers_too_few_names_is_unavailable_not_a_panic() {
        let mut p = Batched::new("custom", &[("a", "value-a-1"), ("b", "value-b-2")]);
        p.short_answer = true;
        let m = SecretsManager::builder()
            .provider(p)
            .provider(env(&[("A", "env-a-1")]))
            .retries(0, Duration::from_millis(1), Duration::from_millis(1))
            .build()
            .unwrap();
        let e = rt().block_on(m.prefetch(["a", "b"])).unwrap_err();
        assert_eq!(e.failures().len(), 1);
        assert!(
            e.failures()[0]
                .to_string()
                .contains("fetch_many answered 1 of 2 names"),
            "{e}"
        );
        assert_eq!(
            rt().block_on(m.get_secret("a")).unwrap().expose_secret(),
            "env-a-1"
        );
    }

    #[test]
    fn readers_during_a_prefetch_wait_for_it_and_it_waits_for_theirs() {
        let mut p = Batched::new("slow", &[("k1", "value-k1-1"), ("k2", "value-k2-2")]);
        p.delay = Duration::from_millis(100);
        let m = SecretsManager::builder()
            .provider(p.clone())
            .build()
            .unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            // A reader already fetching k2: the prefetch awaits it.
            let early = {
                let m = m.clone();
                tokio::spawn(
                    async move { m.get_secret("k2").await.map(|v| v.expose_secret().len()) },
                )
            };
            tokio::time::sleep(Duration::from_millis(20)).await;
            let prefetch = {
                let m = m.clone();
                tokio::spawn(async move { m.prefetch(["k1", "k2"]).await })
            };
            tokio::time::sleep(Duration::from_millis(20)).await;
            // Readers of k1 arriving now wait for the prefetch's batch.
            let readers: Vec<_> = (0..50)
                .map(|_| {
                    let m = m.clone();
                    tokio::spawn(async move {
                        m.get_secret("k1").await.map(|v| v.expose_secret().len())
                    })
                })
                .collect();
            prefetch.await.unwrap().unwrap();
            assert_eq!(early.await.unwrap().unwrap(), 10);
            for r in readers {
                assert_eq!(r.await.unwrap().unwrap(), 10);
            }
        });
        assert_eq!(
            p.singles.load(Ordering::SeqCst),
            1,
            "the early reader of k2"
        );
        assert_eq!(p.batches(), [names(&["k1"])], "k2 was not fetched again");
        assert!(m.inner.inflight.lock().is_empty());
    }

    #[test]
    fn a_dropped_prefetch_leaves_no_flight_behind() {
        let mut p = Batched::new("slow", &[("k", "value-k-1")]);
        p.delay = Duration::from_secs(5);
        let m = SecretsManager::builder().provider(p).build().unwrap();
        let rt = rt();
        let cut = rt.block_on(async {
            tokio::time::timeout(Duration::from_millis(20), m.prefetch(["k"])).await
        });
        assert!(cut.is_err(), "timed out");
        assert!(m.inner.inflight.lock().is_empty());
        assert_eq!(m.stats().cached_entries, 0);
    }

    #[test]
    fn a_stale_value_counts_as_prefetched_while_its_provider_is_down() {
        let (clock, mock) = crate::clock::Clock::mock();
        let p = crate::chain::test_support::Switch::new("aws", "value-v1-abcdef");
        let m = SecretsManager::builder()
            .provider(p.clone())
            .cache_ttl(Duration::from_secs(60))
            .ttl_jitter(0.0)
            .refresh_ahead(false)
            .max_stale(Duration::from_secs(600))
            .retries(0, Duration::from_millis(1), Duration::from_millis(1))
            .clock(clock)
            .build()
            .unwrap();
        let rt = rt();
        rt.block_on(m.prefetch(["k"])).unwrap();
        p.set(Err(ErrorKind::Unavailable));
        mock.advance(Duration::from_secs(61));
        rt.block_on(m.prefetch(["k"])).unwrap();
        assert_eq!(m.stats().stale_served, 1);
        assert_eq!(
            rt.block_on(m.get_secret("k")).unwrap().expose_secret(),
            "value-v1-abcdef"
        );
    }
}
