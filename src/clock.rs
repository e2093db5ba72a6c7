//! The clock the cache reads: the system clock, or a mock driven by tests.
//!
//! The cache-hit path reads a *recent* time instead of the clock itself: a
//! timestamp that one process-wide background thread (`quanta`'s upkeep,
//! named `quanta-upkeep`) refreshes every [`RECENT_RESOLUTION`]. Reading it is
//! one atomic load instead of a clock read, which is a large share of a hit
//! on virtual machines. Expiry can so be seen up to that resolution late.
//! If the thread cannot be started, the clock is read directly.

use std::fmt;
#[cfg(any(test, feature = "test-util"))]
use std::sync::Arc;
use std::sync::OnceLock;
use std::time::Duration;

/// How often the process-wide recent time is refreshed.
pub(crate) const RECENT_RESOLUTION: Duration = Duration::from_millis(2);

/// Starts the upkeep thread once per process; true when it runs.
fn upkeep_running() -> bool {
    static HANDLE: OnceLock<Option<quanta::Handle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| quanta::Upkeep::new(RECENT_RESOLUTION).start().ok())
        .is_some()
}

/// A monotonic clock. [`Clock::system`] is the real one (a fast TSC-based
/// clock from `quanta`); [`Clock::mock`] gives a clock that only moves when
/// a test advances it, so TTL expiry is tested without sleeping.
#[derive(Clone)]
pub struct Clock {
    inner: quanta::Clock,
    /// Whether [`Clock::recent`] may read the upkeep's timestamp.
    recent: bool,
}

/// The handle that moves a mock [`Clock`] forward (feature `test-util`).
#[cfg(any(test, feature = "test-util"))]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
#[derive(Clone)]
pub struct MockClock {
    mock: Arc<quanta::Mock>,
}

/// A point in time of a [`Clock`].
pub(crate) type Instant = quanta::Instant;

impl Clock {
    /// The system's monotonic clock.
    pub fn system() -> Clock {
        Clock {
            inner: quanta::Clock::new(),
            recent: upkeep_running(),
        }
    }

    /// A mock clock and the handle that advances it (feature `test-util`).
    #[cfg(any(test, feature = "test-util"))]
    #[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
    pub fn mock() -> (Clock, MockClock) {
        let (inner, mock) = quanta::Clock::mock();
        // quanta's mock starts at zero; start later so that subtracting a
        // stale window never underflows.
        mock.increment(Duration::from_secs(1_000_000));
        (
            Clock {
                inner,
                recent: true,
            },
            MockClock { mock },
        )
    }

    /// The current instant.
    #[inline]
    pub(crate) fn now(&self) -> Instant {
        self.inner.now()
    }

    /// The current instant to within [`RECENT_RESOLUTION`]: one atomic
    /// load (a mock clock returns its exact time).
    #[inline]
    pub(crate) fn recent(&self) -> Instant {
        if self.recent {
            let t = self.inner.recent();
            // Zero until the upkeep thread's first tick.
            if t.checked_sub(Duration::from_nanos(1)).is_some() {
                return t;
            }
        }
        self.inner.now()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

#[cfg(any(test, feature = "test-util"))]
impl MockClock {
    /// Moves the mock clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.mock.increment(by);
    }
}

#[cfg(any(test, feature = "test-util"))]
impl fmt::Debug for MockClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MockClock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_time_trails_the_clock_by_about_the_resolution() {
        let c = Clock::system();
        assert!(c.recent, "the upkeep thread did not start");
        std::thread::sleep(RECENT_RESOLUTION * 3);
        // One sample can be late by a whole scheduling slice on a busy
        // machine; the median of many cannot, unless the upkeep is stuck.
        let mut lags: Vec<Duration> = (0..101)
            .map(|_| {
                std::thread::sleep(Duration::from_micros(700));
                c.now().saturating_duration_since(c.recent())
            })
            .collect();
        lags.sort_unstable();
        let median = lags[lags.len() / 2];
        assert!(
            median <= RECENT_RESOLUTION * 2,
            "median lag {median:?}, all {lags:?}"
        );
        // The upkeep's timestamp is read, not the clock itself.
        assert!(
            lags.iter().any(|l| !l.is_zero()),
            "recent() read the clock every time"
        );
        let (m, mock) = Clock::mock();
        mock.advance(Duration::from_secs(1));
        assert_eq!(m.recent(), m.now());
    }

    #[test]
    fn mock_clock_moves_only_when_advanced() {
        let (clock, mock) = Clock::mock();
        let a = clock.now();
        assert_eq!(clock.now(), a);
        mock.advance(Duration::from_secs(5));
        assert_eq!(clock.now() - a, Duration::from_secs(5));
    }
}
