//! A checkpoint coordinator's statistics as its readers hold them (the JobManager, a local job's
//! REST API): the completed checkpoints and the failure count it shares, read when an answer
//! needs them rather than copied on every look.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::coordinator::{CheckpointStats, CoordinatorHandle};

/// One coordinator's completed checkpoints and failure count, shared with it; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct CheckpointCounters {
    completed: Arc<Mutex<Vec<CheckpointStats>>>,
    failed: Arc<AtomicU64>,
}

impl CheckpointCounters {
    /// Counters holding `completed` and `failed` (for tests and restored views).
    pub fn new(completed: Vec<CheckpointStats>, failed: u64) -> Self {
        CheckpointCounters {
            completed: Arc::new(Mutex::new(completed)),
            failed: Arc::new(AtomicU64::new(failed)),
        }
    }

    /// The checkpoints completed so far, oldest first (the newest the coordinator retains).
    pub fn completed(&self) -> Vec<CheckpointStats> {
        self.completed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many checkpoints failed (or expired) so far.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
}

impl CoordinatorHandle {
    /// Its statistics, shared: they follow the coordinator as it goes on.
    pub fn counters(&self) -> CheckpointCounters {
        CheckpointCounters {
            completed: Arc::clone(&self.stats),
            failed: Arc::clone(&self.failed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_read_what_their_coordinator_shares_now() {
        let counters = CheckpointCounters::new(Vec::new(), 1);
        let shared = counters.clone();
        counters.failed.fetch_add(1, Ordering::Relaxed);
        assert_eq!(shared.failed(), 2, "clones share the counts");
        assert!(shared.completed().is_empty());
    }
}
