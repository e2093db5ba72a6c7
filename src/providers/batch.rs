//! Batches: the default of [`Provider::fetch_many`] (one fetch per name,
//! at most [`FETCH_MANY_CONCURRENCY`] at a time, answers in order) and the
//! bounded, ordered join it runs on.
//!
//! The join is a few lines of our own rather than `futures`' `buffered`:
//! the futures borrow the provider and the names (tokio's `JoinSet` would
//! need them `'static`), and nothing else in the crate needs `futures`.

#[cfg(any(feature = "aws", feature = "ssm"))]
use std::collections::HashSet;
use std::future::Future;
use std::task::Poll;

use super::{BoxFuture, Provider, SecretValue, Version};
use crate::error::Error;

/// How many fetches the default [`Provider::fetch_many`] runs at a time:
/// enough to hide round trips, few enough not to trip a backend's rate
/// limit with one warm-up.
pub const FETCH_MANY_CONCURRENCY: usize = 16;

/// Fetches the current version of each of `names` with
/// [`Provider::fetch`], at most [`FETCH_MANY_CONCURRENCY`] at a time: one
/// result per name, in order. This is what [`Provider::fetch_many`] does
/// unless a provider has a batch call of its own, and what such a provider
/// can fall back to.
pub async fn fetch_each<P: Provider + ?Sized>(
    provider: &P,
    names: &[&str],
) -> Vec<Result<SecretValue, Error>> {
    let current = Version::Current;
    // Collected first: an iterator with a closure, held across the await,
    // defeats the compiler's proof that the future is `Send`. A provider's
    // `fetch` only builds its future; the work starts when it is polled.
    let futures: Vec<_> = names
        .iter()
        .map(|name| provider.fetch(name, &current))
        .collect();
    join_bounded(futures, FETCH_MANY_CONCURRENCY).await
}

/// An answer of a backend's batch call, with the index of the name it
/// answers.
#[cfg(any(feature = "aws", feature = "ssm"))]
pub(crate) type Indexed = (usize, Result<SecretValue, Error>);

/// The frame of a backend's own batch call (AWS `BatchGetSecretValue`, SSM
/// `GetParameters`): each of `ids` that `batchable` accepts is asked for
/// once (a repeated id only the first time), `size` ids a `call`, at most
/// `in_flight` calls at once; the ids no call answered (a repeated one, one
/// a call left out or refused) go to `alone`, by index, to be read one by
/// one. One answer per id, in order.
#[cfg(any(feature = "aws", feature = "ssm"))]
pub(crate) async fn in_batches<'a, C, A>(
    ids: &[String],
    batchable: impl Fn(&str) -> bool,
    (size, in_flight): (usize, usize),
    call: C,
    alone: A,
) -> Vec<Result<SecretValue, Error>>
where
    C: Fn(Vec<usize>) -> BoxFuture<'a, Vec<Indexed>>,
    A: FnOnce(Vec<usize>) -> BoxFuture<'a, Vec<Result<SecretValue, Error>>>,
{
    let mut firsts: Vec<usize> = Vec::with_capacity(ids.len());
    let mut seen = HashSet::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        if batchable(id) && seen.insert(id.as_str()) {
            firsts.push(i);
        }
    }
    let calls: Vec<BoxFuture<'a, Vec<Indexed>>> = firsts
        .chunks(size.max(1))
        .map(|chunk| call(chunk.to_vec()))
        .collect();
    let mut answers: Vec<Option<Result<SecretValue, Error>>> = ids.iter().map(|_| None).collect();
    for (i, answer) in join_bounded(calls, in_flight).await.into_iter().flatten() {
        if let Some(slot @ None) = answers.get_mut(i) {
            *slot = Some(answer);
        }
    }
    let unanswered: Vec<usize> = (0..ids.len()).filter(|&i| answers[i].is_none()).collect();
    let singles = alone(unanswered.clone()).await;
    for (i, answer) in unanswered.into_iter().zip(singles) {
        answers[i] = Some(answer);
    }
    answers
        .into_iter()
        .map(|a| a.unwrap_or_else(|| Err(Error::unavailable("unavailable (no answer)"))))
        .collect()
}

/// Runs `futures` with at most `limit` of them in flight (started in order
/// as others finish) and returns their outputs in the order given.
///
/// Each wake polls the futures in flight, so `limit` should stay small
/// (tens); a larger one is fine for futures that mostly wait.
pub(crate) fn join_bounded<'a, T, I>(futures: I, limit: usize) -> impl Future<Output = Vec<T>> + 'a
where
    T: 'a,
    I: IntoIterator<Item = BoxFuture<'a, T>>,
    I::IntoIter: 'a,
{
    let mut pending = futures.into_iter().enumerate().peekable();
    let mut running: Vec<(usize, BoxFuture<'a, T>)> = Vec::new();
    let mut done: Vec<Option<T>> = Vec::new();
    let limit = limit.max(1);
    std::future::poll_fn(move |cx| {
        loop {
            while running.len() < limit {
                let Some((i, f)) = pending.next() else { break };
                if done.len() <= i {
                    done.resize_with(i + 1, || None);
                }
                running.push((i, f));
            }
            let before = running.len();
            let mut k = 0;
            while k < running.len() {
                if let Poll::Ready(out) = running[k].1.as_mut().poll(cx) {
                    let (i, _) = running.swap_remove(k);
                    done[i] = Some(out);
                } else {
                    k += 1;
                }
            }
            if running.is_empty() && pending.peek().is_none() {
                let out = std::mem::take(&mut done);
                // Every index was pushed and finished before we get here.
                return Poll::Ready(out.into_iter().flatten().collect());
            }
            if running.len() == before {
                // Nothing finished: every future in flight has our waker.
                return Poll::Pending;
            }
            // Some finished: start the next ones and poll them at once.
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use secrecy::ExposeSecret;

    use super::*;
    use crate::providers::EnvProvider;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn outputs_come_in_the_order_given_with_at_most_limit_in_flight() {
        let in_flight = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let futures = (0..50u64).map(|i| {
            let (in_flight, peak) = (in_flight.clone(), peak.clone());
            Box::pin(async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                // Later ones finish first: the order must still hold.
                tokio::time::sleep(Duration::from_millis(50 - i)).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                i
            }) as BoxFuture<'_, u64>
        });
        let out = rt().block_on(join_bounded(futures, 16));
        assert_eq!(out, (0..50).collect::<Vec<_>>());
        assert_eq!(peak.load(Ordering::SeqCst), 16);
        assert!(
            rt().block_on(join_bounded(Vec::<BoxFuture<'_, u8>>::new(), 4))
                .is_empty()
        );
    }

    #[test]
    fn the_default_fetch_many_answers_each_name_in_order() {
        let env = EnvProvider::from_vars([("A_KEY", "value-a-1"), ("C_KEY", "value-c-3")]);
        let p: &dyn Provider = &env;
        let out = rt().block_on(p.fetch_many(&["a/key", "b/key", "c/key", "a/key"]));
        assert_eq!(out.len(), 4);
        let text = |r: &Result<SecretValue, Error>| match r.as_ref().map(SecretValue::data) {
            Ok(crate::providers::SecretData::Text(s)) => s.expose_secret().to_owned(),
            other => format!("{other:?}"),
        };
        assert_eq!(text(&out[0]), "value-a-1");
        assert_eq!(
            out[1].as_ref().unwrap_err().kind(),
            crate::ErrorKind::NotFound
        );
        assert_eq!(text(&out[2]), "value-c-3");
        assert_eq!(text(&out[3]), "value-a-1");
    }
}
