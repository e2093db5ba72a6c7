//! The clock the cache reads: the system clock, or a mock driven by tests.
//!
//! The cache-hit path reads a *recent* time instead of the clock itself: a
//! timestamp that one process-wide background thread (`secret-chain-clock`)
//! refreshes every [`RECENT_RESOLUTION`]. Reading it is one atomic load
//! instead of a clock read, which is a large share of a hit on virtual
//! machines. Expiry can so be seen up to that resolution late. If the
//! thread cannot be started, the clock is read directly.
//!
//! Time is `std::time::Instant` counted in nanoseconds from a process-wide
//! origin. (`quanta`, used before, calibrates its TSC clock against the
//! system clock the first time a clock is made: at least half a
//! millisecond of busy-waiting, and up to 200 ms on a loaded machine, in
//! the start-up of every `secret-chain exec` and `get`.)

use std::fmt;
use std::ops::{Add, Sub};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How often the process-wide recent time is refreshed.
pub(crate) const RECENT_RESOLUTION: Duration = Duration::from_millis(2);

/// The origin of [`Instant`]s: the first time the clock was read.
fn origin() -> std::time::Instant {
    static ORIGIN: OnceLock<std::time::Instant> = OnceLock::new();
    *ORIGIN.get_or_init(std::time::Instant::now)
}

/// Nanoseconds since [`origin`] now. Starts at one second, so that an
/// instant minus a stale window never underflows and 0 can mean "not yet".
fn system_nanos() -> u64 {
    let d = origin().elapsed();
    u64::try_from(d.as_nanos())
        .unwrap_or(u64::MAX / 2)
        .saturating_add(1_000_000_000)
}

/// The recent time the upkeep thread keeps, 0 until its first tick; `None`
/// when the thread could not be started.
fn recent_cell() -> Option<&'static AtomicU64> {
    static RECENT: OnceLock<Option<&'static AtomicU64>> = OnceLock::new();
    *RECENT.get_or_init(|| {
        let cell: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(0)));
        std::thread::Builder::new()
            .name("secret-chain-clock".into())
            .spawn(move || {
                loop {
                    cell.store(system_nanos(), Ordering::Release);
                    std::thread::sleep(RECENT_RESOLUTION);
                }
            })
            .ok()
            .map(|_| cell)
    })
}

/// A point in time of a [`Clock`], in nanoseconds since the process-wide
/// origin (or the mock's start).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Instant(u64);

impl Instant {
    /// The time from `earlier` to `self`, zero if `earlier` is later.
    pub(crate) fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(nanos(d)))
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, d: Duration) -> Instant {
        Instant(self.0.saturating_sub(nanos(d)))
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Instant({:?})", Duration::from_nanos(self.0))
    }
}

/// A monotonic clock. [`Clock::system`] is the real one; [`Clock::mock`]
/// gives a clock that only moves when a test advances it, so TTL expiry is
/// tested without sleeping.
#[derive(Clone)]
pub struct Clock {
    /// `None`: the system clock; else the mock's time.
    mock: Option<Arc<AtomicU64>>,
    /// Tokio's clock from this origin ([`Clock::tokio`], tests only).
    #[cfg(any(test, feature = "test-util"))]
    tokio: Option<tokio::time::Instant>,
    /// The upkeep's recent time, when it runs (system clock only).
    recent: Option<&'static AtomicU64>,
}

/// The handle that moves a mock [`Clock`] forward (feature `test-util`).
#[cfg(any(test, feature = "test-util"))]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
#[derive(Clone)]
pub struct MockClock {
    mock: Arc<AtomicU64>,
}

impl Clock {
    /// The system's monotonic clock.
    pub fn system() -> Clock {
        Clock {
            mock: None,
            #[cfg(any(test, feature = "test-util"))]
            tokio: None,
            recent: recent_cell(),
        }
    }

    /// Tokio's clock (feature `test-util`): in a runtime started paused,
    /// time moves when every task waits, by as much as the next timer
    /// needs, so background work that sleeps (lease renewals, watched
    /// keys) and the cache's expiry see the same time. Made inside a
    /// runtime.
    #[cfg(any(test, feature = "test-util"))]
    #[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
    pub fn tokio() -> Clock {
        Clock {
            mock: None,
            tokio: Some(tokio::time::Instant::now()),
            recent: None,
        }
    }

    /// A mock clock and the handle that advances it (feature `test-util`).
    #[cfg(any(test, feature = "test-util"))]
    #[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
    pub fn mock() -> (Clock, MockClock) {
        // Start late, as the system clock does, so that subtracting a
        // stale window never underflows.
        let mock = Arc::new(AtomicU64::new(1_000_000 * 1_000_000_000));
        (
            Clock {
                mock: Some(mock.clone()),
                tokio: None,
                recent: None,
            },
            MockClock { mock },
        )
    }

    /// The current instant.
    #[inline]
    pub(crate) fn now(&self) -> Instant {
        #[cfg(any(test, feature = "test-util"))]
        if let Some(origin) = self.tokio {
            return Instant(nanos(origin.elapsed()).saturating_add(1_000_000_000));
        }
        match &self.mock {
            Some(m) => Instant(m.load(Ordering::Acquire)),
            None => Instant(system_nanos()),
        }
    }

    /// The current instant to within [`RECENT_RESOLUTION`]: one atomic
    /// load (a mock clock returns its exact time).
    #[inline]
    pub(crate) fn recent(&self) -> Instant {
        if let Some(cell) = self.recent {
            let t = cell.load(Ordering::Acquire);
            // Zero until the upkeep thread's first tick.
            if t != 0 {
                return Instant(t);
            }
        }
        self.now()
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
        self.mock.fetch_add(nanos(by), Ordering::AcqRel);
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
        assert!(c.recent.is_some(), "the upkeep thread did not start");
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
