//! Processing time: the wall clock in epoch milliseconds, and the task's wake-up schedule.
//!
//! Operators that act on processing time (periodic watermarks, processing-time windows and
//! timers) ask the task's [`ProcessingTimeService`] to wake them at a time. The task loop sleeps
//! no longer than the earliest requested time and then calls every operator's
//! `on_processing_time`; each operator checks its own deadlines and asks again. The clock is a
//! trait so tests can drive time by hand.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub type ProcessingTime = i64;

/// A source of processing time.
pub trait Clock: Send + Sync {
    /// The current processing time.
    fn now(&self) -> ProcessingTime;
}

/// The system wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> ProcessingTime {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }
}

/// A clock that moves only when told to, for deterministic tests.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock standing at `now`.
    pub fn new(now: ProcessingTime) -> Arc<Self> {
        Arc::new(ManualClock(AtomicI64::new(now)))
    }

    /// Moves the clock to `now`.
    pub fn set(&self, now: ProcessingTime) {
        self.0.store(now, Ordering::Release);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> ProcessingTime {
        self.0.load(Ordering::Acquire)
    }
}

/// The clock of one task and the earliest time any of its operators asked to be woken at.
#[derive(Clone)]
pub struct ProcessingTimeService {
    clock: Arc<dyn Clock>,
    earliest: Arc<Mutex<Option<ProcessingTime>>>,
}

impl std::fmt::Debug for ProcessingTimeService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessingTimeService")
            .field("earliest", &self.earliest())
            .finish()
    }
}

impl Default for ProcessingTimeService {
    fn default() -> Self {
        Self::new(Arc::new(SystemClock))
    }
}

impl ProcessingTimeService {
    /// A service on `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        ProcessingTimeService {
            clock,
            earliest: Arc::new(Mutex::new(None)),
        }
    }

    /// The current processing time.
    pub fn now(&self) -> ProcessingTime {
        self.clock.now()
    }

    /// Asks for `on_processing_time` to be called at or after `at`.
    pub fn wake_at(&self, at: ProcessingTime) {
        let mut earliest = self.earliest.lock().unwrap_or_else(PoisonError::into_inner);
        *earliest = Some(earliest.map_or(at, |e| e.min(at)));
    }

    /// The earliest requested wake-up, if any.
    pub fn earliest(&self) -> Option<ProcessingTime> {
        *self.earliest.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// If a wake-up is due, clears the schedule (operators ask again as needed) and returns the
    /// current time.
    pub fn take_due(&self) -> Option<ProcessingTime> {
        let now = self.now();
        let mut earliest = self.earliest.lock().unwrap_or_else(PoisonError::into_inner);
        match *earliest {
            Some(at) if at <= now => {
                *earliest = None;
                Some(now)
            }
            _ => None,
        }
    }

    /// How long the task may sleep before the next wake-up, capped at `max`.
    pub fn sleep_bound(&self, max: Duration) -> Duration {
        match self.earliest() {
            Some(at) => {
                let wait = at.saturating_sub(self.now()).max(0) as u64;
                max.min(Duration::from_millis(wait))
            }
            None => max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_request_wins_and_is_taken_once_due() {
        let clock = ManualClock::new(100);
        let service = ProcessingTimeService::new(clock.clone());
        service.wake_at(150);
        service.wake_at(120);
        service.wake_at(200);
        assert_eq!(service.earliest(), Some(120));
        assert_eq!(service.take_due(), None);
        assert_eq!(
            service.sleep_bound(Duration::from_secs(1)),
            Duration::from_millis(20)
        );
        clock.set(125);
        assert_eq!(service.take_due(), Some(125));
        assert_eq!(service.earliest(), None);
    }

    #[test]
    fn a_wake_up_at_the_start_of_time_means_now() {
        // Completions of async calls ask for ProcessingTime::MIN: due at once, no overflow.
        let service = ProcessingTimeService::new(ManualClock::new(1_000));
        service.wake_at(ProcessingTime::MIN);
        assert_eq!(service.sleep_bound(Duration::from_secs(1)), Duration::ZERO);
    }
}
