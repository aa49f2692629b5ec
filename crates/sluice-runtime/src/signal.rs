//! Waking and cancelling tasks.
//!
//! A task sleeps on one [`TaskWaker`] whenever none of its inputs has data; every channel that
//! feeds the task, the timer service and the job's control path signal that waker. A
//! [`CancelToken`] is shared by all tasks of a job: setting it makes every task stop at its next
//! check, and every blocking wait in the runtime checks it at least every few milliseconds, so a
//! cancelled job never hangs.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The longest a blocking wait sleeps before it looks at the cancel token again.
pub const CANCEL_CHECK_INTERVAL: Duration = Duration::from_millis(20);

/// How long a waiting task yields before it sleeps: a few buffers' time on a busy edge.
pub const SPIN_BEFORE_SLEEP: Duration = Duration::from_micros(20);

/// The task runs and was not signalled since its last wait.
const RUNNING: u8 = 0;
/// The task was signalled: its next wait returns at once.
const SIGNALLED: u8 = 1;
/// The task sleeps in `wait`: a wake must notify it.
const SLEEPING: u8 = 2;

/// A one-bit wake-up signal for one task. Waking a task that is not asleep is one atomic
/// swap; only a sleeping task costs a notification (a system call).
#[derive(Debug, Default)]
pub struct TaskWaker {
    state: AtomicU8,
    sleep: Mutex<()>,
    condvar: Condvar,
}

impl TaskWaker {
    /// A new waker, not signalled.
    pub fn new() -> Arc<Self> {
        Arc::new(TaskWaker::default())
    }

    /// Wakes the task (or makes its next wait return at once).
    pub fn wake(&self) {
        if self.state.swap(SIGNALLED, Ordering::AcqRel) == SLEEPING {
            // The sleeper holds the lock from announcing its sleep until it waits: taking it
            // here means the notification cannot fall between the two.
            let _sleeping = self.sleep.lock().unwrap_or_else(PoisonError::into_inner);
            self.condvar.notify_one();
        }
    }

    /// Sleeps until woken or until `timeout` passes, and clears the signal. For its first
    /// [`SPIN_BEFORE_SLEEP`] it yields the core instead of sleeping: a producer that sends its
    /// next buffer within that time then wakes the task without a system call or a switch.
    pub fn wait(&self, timeout: Duration) {
        let spin = SPIN_BEFORE_SLEEP.min(timeout);
        let started = Instant::now();
        loop {
            if self
                .state
                .compare_exchange(SIGNALLED, RUNNING, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return;
            }
            if started.elapsed() >= spin {
                break;
            }
            std::thread::yield_now();
        }
        let guard = self.sleep.lock().unwrap_or_else(PoisonError::into_inner);
        if self
            .state
            .compare_exchange(RUNNING, SLEEPING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            let _woken = self
                .condvar
                .wait_timeout_while(guard, timeout, |_| {
                    self.state.load(Ordering::Acquire) == SLEEPING
                })
                .unwrap_or_else(PoisonError::into_inner);
        }
        self.state.store(RUNNING, Ordering::Release);
    }
}

/// A job-wide cancellation flag.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        CancelToken::default()
    }

    /// Requests cancellation.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether cancellation was requested.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn wake_before_wait_returns_at_once() {
        let waker = TaskWaker::new();
        waker.wake();
        let start = Instant::now();
        waker.wait(Duration::from_secs(10));
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn wake_from_another_thread() {
        let waker = TaskWaker::new();
        let remote = Arc::clone(&waker);
        let handle = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            remote.wake();
        });
        let started = std::time::Instant::now();
        waker.wait(Duration::from_secs(10));
        let waited = started.elapsed();
        handle.join().unwrap();
        assert!(
            waited < Duration::from_secs(5),
            "the wait ended by its timeout, not the wake: {waited:?}"
        );
        // The signal was cleared: the next wait sleeps until its timeout.
        let started = std::time::Instant::now();
        waker.wait(Duration::from_millis(100));
        assert!(started.elapsed() >= Duration::from_millis(100));
    }

    #[test]
    fn no_wake_is_lost_between_a_check_and_a_sleep() {
        use std::sync::atomic::AtomicU64;
        let waker = TaskWaker::new();
        let sent = Arc::new(AtomicU64::new(0));
        let rounds = 3_000;
        let producer = {
            let (waker, sent) = (Arc::clone(&waker), Arc::clone(&sent));
            std::thread::spawn(move || {
                for round in 0..rounds {
                    sent.fetch_add(1, Ordering::SeqCst);
                    waker.wake();
                    if round % 7 == 0 {
                        std::thread::sleep(Duration::from_micros(50));
                    }
                }
            })
        };
        let started = Instant::now();
        let mut seen = 0;
        while seen < rounds {
            let now = sent.load(Ordering::SeqCst);
            if now > seen {
                seen = now;
                continue;
            }
            // A wake lost here would leave this wait to its timeout.
            waker.wait(Duration::from_secs(5));
        }
        producer.join().unwrap();
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    }

    #[test]
    fn cancel_token_is_shared() {
        let token = CancelToken::new();
        let copy = token.clone();
        assert!(!copy.is_cancelled());
        token.cancel();
        assert!(copy.is_cancelled());
    }
}
