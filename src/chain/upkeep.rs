//! The upkeep of a held lease, in the background (one task per lease, so
//! the hot path never waits on it):
//!
//! - at about two thirds of the granted duration, a renewable lease is
//!   renewed for its first duration again; when the backend grants less
//!   (the lease has reached its maximum TTL) or refuses, or the lease is
//!   not renewable, new credentials are fetched (one shared fetch with any
//!   reader) while the old ones are still good;
//! - when the backend cannot be reached, renewal and replacement are
//!   tried again, a few times before the lease ends; the cached value is
//!   served until shortly before its lease ends, never after, and a read
//!   after that is an error naming the provider;
//! - the task ends when the lease is replaced, ends, or the manager shuts
//!   down or is dropped (it holds the manager weakly).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::SecretsManager;
use super::attempt::AUDIT_TARGET;
use super::lease::{Held, refused};
use super::manager::Inner;
use crate::providers::Version;

/// The shortest wait between two steps of one lease's upkeep.
const MIN_STEP: Duration = Duration::from_millis(100);
/// The longest wait before a failed step is tried again.
const MAX_RETRY: Duration = Duration::from_secs(30);

/// What one step of the upkeep did.
enum Step {
    /// Renewed: wait for the next renewal.
    Renewed,
    /// Replaced (or let go): this task is done.
    Done,
    /// Failed: try again soon.
    Failed,
}

impl SecretsManager {
    /// Starts the upkeep of `held` (without a runtime, nothing: the value
    /// is served until its lease ends, then fetched again).
    pub(super) fn spawn_upkeep(&self, held: Arc<Held>) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak = Arc::downgrade(&self.inner);
        handle.spawn(keep_lease(weak, held));
    }

    /// One renewal or replacement of `held`.
    async fn upkeep_step(&self, held: &Arc<Held>) -> Step {
        let state = held.state();
        let provider = self.inner.providers[held.provider].name();
        if state.lease.renewable() {
            let renewal = self.inner.providers[held.provider]
                .provider()
                .renew_lease(&state.lease, held.increment)
                .await;
            match renewal {
                Ok(granted) if !granted.duration().is_zero() => {
                    let short = granted.duration() < held.increment;
                    self.inner
                        .counters
                        .lease_renewals
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::info!(
                        target: AUDIT_TARGET,
                        path = &*held.name,
                        provider,
                        lease = %granted.short_id(),
                        lease_secs = granted.duration().as_secs(),
                        capped = short,
                        "lease renewed"
                    );
                    self.renewed(held, granted);
                    self.extend_entries(held);
                    if !short {
                        return Step::Renewed;
                    }
                    // Granted less than asked: the lease has reached its
                    // maximum TTL and renewing again would not reach the
                    // next renewal. New credentials now, while these last.
                }
                Ok(_) => self.renewal_failed(held, provider, "the backend granted no more time"),
                Err(e) => {
                    self.renewal_failed(held, provider, &e.to_string());
                    if !refused(&e) {
                        // The backend cannot be reached: a new fetch would
                        // fail as well. Try again soon.
                        return Step::Failed;
                    }
                }
            }
        }
        self.replace(held).await
    }

    fn renewal_failed(&self, held: &Held, provider: &str, why: &str) {
        self.inner
            .counters
            .lease_renewal_failures
            .fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            target: AUDIT_TARGET,
            path = &*held.name,
            provider,
            lease = %held.state().lease.short_id(),
            error = why,
            "lease renewal failed; fetching new credentials before it ends"
        );
    }

    /// Fetches new credentials for `held`'s secret through the chain (one
    /// forced, shared fetch of one of its keys; the others are cut from
    /// the same answer).
    async fn replace(&self, held: &Arc<Held>) -> Step {
        let key = held
            .keys()
            .into_iter()
            .next()
            .unwrap_or_else(|| held.name.clone());
        match self.entry(&key, &Version::Current, true).await {
            Ok(_) if self.is_held(held) => {
                // The answer came without a lease (another provider, or
                // the backend stopped leasing it): nothing to keep up.
                tracing::info!(
                    path = &*held.name,
                    "the secret no longer comes with a lease; its upkeep ends"
                );
                self.release(held);
                Step::Done
            }
            Ok(_) => Step::Done,
            Err(e) => {
                tracing::warn!(
                    path = &*held.name,
                    error = %e,
                    "new credentials for a leased secret could not be fetched; the current ones are served until their lease ends"
                );
                Step::Failed
            }
        }
    }
}

/// The upkeep task of one held lease.
async fn keep_lease(weak: Weak<Inner>, held: Arc<Held>) {
    let mut next = held.state().renew_at();
    // The registry, not the manager: a sleeping task must not keep a
    // dropped manager alive.
    let Some(leases) = weak.upgrade().map(|inner| inner.leases.clone()) else {
        return;
    };
    loop {
        let wait = {
            let Some(inner) = weak.upgrade() else { return };
            next.saturating_duration_since(inner.clock.now())
                .max(MIN_STEP)
        };
        let stopped = leases.stop.notified();
        if leases.is_closed() {
            return;
        }
        tokio::select! {
            () = stopped => return,
            () = tokio::time::sleep(wait) => {}
        }
        let Some(inner) = weak.upgrade() else { return };
        let manager = SecretsManager { inner };
        if !manager.is_held(&held) {
            return;
        }
        let now = manager.inner.clock.now();
        let state = held.state();
        if now >= state.ends_at {
            tracing::warn!(
                target: AUDIT_TARGET,
                path = &*held.name,
                provider = manager.inner.providers[held.provider].name(),
                lease = %state.lease.short_id(),
                "lease ended before it could be renewed or replaced"
            );
            manager.release(&held);
            return;
        }
        next = match manager.upkeep_step(&held).await {
            Step::Renewed => held.state().renew_at(),
            Step::Done => return,
            Step::Failed => {
                let left = held
                    .state()
                    .ends_at
                    .saturating_duration_since(manager.inner.clock.now());
                manager.inner.clock.now() + (left / 4).clamp(MIN_STEP * 2, MAX_RETRY)
            }
        };
    }
}
