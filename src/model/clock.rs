//! The time every component reads, behind one injectable [`Clock`].
//!
//! Components that decide expiry (the validator, the resident server and its store) hold an
//! `Arc<dyn Clock>`; production uses [`SystemClock`], tests and simulations a [`ManualClock`] they move forward,
//! so that "a second later" is a call, not a sleep.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A source of wall-clock seconds (for `exp`, `iat`, stored expiries) and of monotonic instants (for caches).
pub trait Clock: Send + Sync + fmt::Debug {
    /// Seconds since the Unix epoch.
    fn now(&self) -> i64;
    /// A monotonic instant, for time-to-live decisions.
    fn instant(&self) -> Instant;
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        now()
    }

    fn instant(&self) -> Instant {
        Instant::now()
    }
}

/// The system clock, shared.
pub fn system_clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// The system clock shifted forward by what [`ManualClock::advance`] added: both its seconds and its instants
/// jump, so a test sees an hour pass at once.
#[derive(Debug)]
pub struct ManualClock {
    advanced_ms: AtomicU64,
}

impl ManualClock {
    /// A clock that starts at the system's current time.
    pub fn new() -> Arc<ManualClock> {
        Arc::new(ManualClock {
            advanced_ms: AtomicU64::new(0),
        })
    }

    /// Move the clock forward (saturating: a clock never goes back).
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        let _ = self
            .advanced_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| Some(v.saturating_add(ms)));
    }

    fn advanced(&self) -> Duration {
        Duration::from_millis(self.advanced_ms.load(Ordering::SeqCst))
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        let secs = i64::try_from(self.advanced().as_secs()).unwrap_or(i64::MAX);
        now().saturating_add(secs)
    }

    fn instant(&self) -> Instant {
        let base = Instant::now();
        base.checked_add(self.advanced()).unwrap_or(base)
    }
}

/// Seconds since the Unix epoch by the system clock (0 if the system clock is before it).
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_seconds_and_instants_together() {
        let clock = ManualClock::new();
        let (t0, i0) = (clock.now(), clock.instant());
        clock.advance(Duration::from_millis(2500));
        assert!(clock.now() >= t0 + 2);
        assert!(clock.instant() >= i0 + Duration::from_millis(2500));
        clock.advance(Duration::MAX);
        assert!(clock.now() > t0);
    }
}
