//! The clock the cache reads: the system clock, or a mock driven by tests.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A monotonic clock. [`Clock::system`] is the real one (a fast TSC-based
/// clock from `quanta`); [`Clock::mock`] gives a clock that only moves when
/// a test advances it, so TTL expiry is tested without sleeping.
#[derive(Clone)]
pub struct Clock {
    inner: quanta::Clock,
}

/// The handle that moves a mock [`Clock`] forward.
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
        }
    }

    /// A mock clock and the handle that advances it.
    pub fn mock() -> (Clock, MockClock) {
        let (inner, mock) = quanta::Clock::mock();
        // quanta's mock starts at zero; start later so that subtracting a
        // stale window never underflows.
        mock.increment(Duration::from_secs(1_000_000));
        (Clock { inner }, MockClock { mock })
    }

    /// The current instant.
    #[inline]
    pub(crate) fn now(&self) -> Instant {
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

impl MockClock {
    /// Moves the mock clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.mock.increment(by);
    }
}

impl fmt::Debug for MockClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MockClock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mock_clock_moves_only_when_advanced() {
        let (clock, mock) = Clock::mock();
        let a = clock.now();
        assert_eq!(clock.now(), a);
        mock.advance(Duration::from_secs(5));
        assert_eq!(clock.now() - a, Duration::from_secs(5));
    }
}
