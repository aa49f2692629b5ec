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

    /// The newest completed checkpoint `pick` accepts, copied (the others are not).
    pub fn newest(&self, pick: impl Fn(&CheckpointStats) -> bool) -> Option<CheckpointStats> {
        self.completed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .rev()
            .find(|stats| pick(stats))
            .cloned()
    }

    /// How many completed checkpoints `pick` accepts.
    pub fn count(&self, pick: impl Fn(&CheckpointStats) -> bool) -> usize {
        self.completed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|stats| pick(stats))
            .count()
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

    #[test]
    fn the_newest_accepted_checkpoint_is_found_and_counted_without_copying_the_rest() {
        let stats = |checkpoint_id, savepoint| CheckpointStats {
            checkpoint_id,
            trigger_ms: 0,
            path: String::new(),
            subtasks: 1,
            duration: std::time::Duration::ZERO,
            write_duration: std::time::Duration::ZERO,
            bytes: 0,
            savepoint,
            unaligned: false,
            in_flight_bytes: 0,
            subtask_stats: Vec::new(),
        };
        let counters = CheckpointCounters::new(
            vec![
                stats(1, false),
                stats(2, true),
                stats(3, false),
                stats(4, true),
            ],
            0,
        );
        let checkpoints = |c: &CheckpointStats| !c.savepoint;
        assert_eq!(
            counters.newest(checkpoints).map(|c| c.checkpoint_id),
            Some(3)
        );
        assert_eq!(counters.count(checkpoints), 2);
        assert_eq!(counters.newest(|c| c.checkpoint_id == 9), None);
    }
}
