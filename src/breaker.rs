//! A circuit breaker: after a number of consecutive "unavailable" answers
//! a backend is skipped for a cool-down, then one call probes it. The
//! chain keeps one per provider (`chain/resilience.rs`); a provider with
//! replicas (the `aws` provider's regions) keeps one per replica. It is a
//! leaf (the clock only), so that providers can use it without the chain.

use std::fmt;
use std::time::Duration;

use parking_lot::Mutex;

use crate::clock::Instant;

/// Default `SECRETS_BREAKER_THRESHOLD`: consecutive failures that open it.
pub(crate) const DEFAULT_BREAKER_THRESHOLD: u32 = 5;
/// Default `SECRETS_BREAKER_COOLDOWN`: how long an open breaker skips.
pub(crate) const DEFAULT_BREAKER_COOLDOWN: Duration = Duration::from_secs(30);

/// What a breaker is told: how many failures open it, and for how long.
pub(crate) trait BreakerPolicy {
    /// Consecutive failures that open the breaker (at least 1 is used).
    fn threshold(&self) -> u32;
    /// How long an open breaker refuses calls.
    fn cooldown(&self) -> Duration;
}

/// The state of a provider's circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls are skipped (reported as unavailable) until the cool-down ends.
    Open,
    /// The cool-down ended: the next call is a probe.
    HalfOpen,
}

impl fmt::Display for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
        })
    }
}

enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
        failures: u32,
    },
    /// The cool-down ended; a probe started at this instant is under way.
    /// A probe whose caller went away is replaced after another cool-down.
    HalfOpen {
        probe_started: Instant,
    },
}

/// A circuit breaker driven by the caller's clock: the chain keeps one per
/// provider, the `aws` provider one per replica region.
pub(crate) struct Breaker {
    state: Mutex<State>,
}

/// Why a breaker refused a call.
pub(crate) struct Refused {
    pub(crate) retry_in: Duration,
    pub(crate) failures: u32,
}

impl Breaker {
    pub(crate) fn new() -> Breaker {
        Breaker {
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    /// Whether a call may go through now.
    pub(crate) fn allow(&self, now: Instant, policy: &impl BreakerPolicy) -> Result<(), Refused> {
        let mut s = self.state.lock();
        match &mut *s {
            State::Closed { .. } => Ok(()),
            State::Open { until, failures } => {
                if now >= *until {
                    *s = State::HalfOpen { probe_started: now };
                    Ok(())
                } else {
                    Err(Refused {
                        retry_in: *until - now,
                        failures: *failures,
                    })
                }
            }
            State::HalfOpen { probe_started } => {
                if now.saturating_duration_since(*probe_started) < policy.cooldown() {
                    // One probe at a time; the others skip.
                    Err(Refused {
                        retry_in: Duration::ZERO,
                        failures: policy.threshold(),
                    })
                } else {
                    *probe_started = now;
                    Ok(())
                }
            }
        }
    }

    /// Records that the provider answered (found, not found or denied: it
    /// is up).
    pub(crate) fn on_answer(&self) {
        *self.state.lock() = State::Closed { failures: 0 };
    }

    /// Records an unavailable answer; returns true when it opened the breaker.
    pub(crate) fn on_failure(&self, now: Instant, policy: &impl BreakerPolicy) -> bool {
        let mut s = self.state.lock();
        let failures = match &*s {
            State::Closed { failures } => failures + 1,
            State::Open { failures, .. } => failures + 1,
            State::HalfOpen { .. } => policy.threshold().max(1),
        };
        if failures >= policy.threshold().max(1) {
            *s = State::Open {
                until: now + policy.cooldown(),
                failures,
            };
            true
        } else {
            *s = State::Closed { failures };
            false
        }
    }

    pub(crate) fn state(&self, now: Instant) -> BreakerState {
        match &*self.state.lock() {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { until, .. } if now < *until => BreakerState::Open,
            State::Open { .. } | State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}
