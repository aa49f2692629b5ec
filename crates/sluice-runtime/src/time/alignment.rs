//! Watermark alignment (Flink's `withWatermarkAlignment`): sources of one alignment group stop
//! reading while their watermark is more than `max_drift` ahead of the slowest member's, so a
//! fast source does not fill windows and buffers with data that cannot fire yet.
//!
//! Every watermark-generating instance reports its watermark to the job's registry; a member
//! that finished or went idle leaves the group and holds nobody back. The registry lives in one
//! process: a job whose attempt spans several worker processes of a cluster refuses alignment
//! (see [`AlignmentRegistry::spanning_workers`]) rather than align each process on its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use sluice_core::Timestamp;

/// The alignment groups of one job.
#[derive(Debug, Default)]
pub struct AlignmentRegistry {
    groups: Mutex<HashMap<String, HashMap<String, Timestamp>>>,
    /// How many worker processes the job's attempt spans, when more than one.
    workers: Option<usize>,
}

impl AlignmentRegistry {
    /// An empty registry.
    pub fn new() -> Arc<Self> {
        Arc::new(AlignmentRegistry::default())
    }

    /// The registry of one of `workers` processes running an attempt together: it cannot see
    /// the other processes' watermarks, so joining a group is refused when `workers` > 1.
    pub fn spanning_workers(workers: usize) -> Arc<Self> {
        Arc::new(AlignmentRegistry {
            workers: (workers > 1).then_some(workers),
            ..AlignmentRegistry::default()
        })
    }

    /// The name of subtask `subtask` of the operator `uid` as a member of a group.
    pub fn member(uid: &str, subtask: usize) -> String {
        format!("{uid}#{subtask}")
    }

    /// Admits a member to `group`, unless the job spans several processes. The deployment
    /// admits every member before any task starts, so a member whose task opens late still
    /// holds the others back from the start; its operator joins again when it opens.
    pub fn join(&self, group: &str, member: &str) -> Result<(), String> {
        if let Some(workers) = self.workers {
            return Err(format!(
                "watermark alignment (group '{group}') works within one process only, and this \
                 attempt runs in {workers} worker processes: run the job within one TaskManager \
                 (parallelism at most its slots) or remove with_watermark_alignment"
            ));
        }
        self.report(group, member, Timestamp::MIN);
        Ok(())
    }

    /// Records `member`'s watermark in `group`.
    pub fn report(&self, group: &str, member: &str, watermark: Timestamp) {
        self.groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(group.to_string())
            .or_default()
            .insert(member.to_string(), watermark);
    }

    /// Removes `member` from `group` (it finished or went idle).
    pub fn leave(&self, group: &str, member: &str) {
        if let Some(members) = self
            .groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(group)
        {
            members.remove(member);
        }
    }

    /// The lowest watermark of `group`'s members, if it has any.
    pub fn group_minimum(&self, group: &str) -> Option<Timestamp> {
        self.groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(group)?
            .values()
            .min()
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_over_members_that_did_not_leave() {
        let registry = AlignmentRegistry::new();
        registry.report("g", "a", 10);
        registry.report("g", "b", 50);
        registry.report("other", "c", 1);
        assert_eq!(registry.group_minimum("g"), Some(10));
        registry.leave("g", "a");
        assert_eq!(registry.group_minimum("g"), Some(50));
        assert_eq!(registry.group_minimum("none"), None);
    }

    #[test]
    fn a_registry_spanning_several_workers_refuses_members() {
        assert!(
            AlignmentRegistry::spanning_workers(1)
                .join("g", "a")
                .is_ok()
        );
        let error = AlignmentRegistry::spanning_workers(2)
            .join("g", "a")
            .unwrap_err();
        assert!(
            error.contains("group 'g'") && error.contains("2 worker processes"),
            "{error}"
        );
    }
}
