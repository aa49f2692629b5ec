//! Checking a restored checkpoint against the job before its tasks are built.

use super::*;

impl<'a> Deployment<'a> {
    /// Refuses a checkpoint whose operators changed their number of key groups (their keyed
    /// state could not be divided again), that holds state of an operator uid the job does
    /// not have (unless `allow_non_restored_state`), or whose in-flight data (unaligned
    /// checkpoints) cannot be replayed: the operator's parallelism changed or it no longer
    /// heads a task.
    pub(super) fn check_restored(&self) -> Result<(), JobError> {
        let Some(restored) = self.restored else {
            return Ok(());
        };
        if !self.job.config.allow_non_restored_state {
            let uids: std::collections::BTreeSet<String> = self
                .job
                .graph
                .nodes
                .iter()
                .map(|n| n.effective_uid())
                .collect();
            for (uid, subtasks) in &restored.operators {
                if !uids.contains(uid) && subtasks.iter().any(|s| !s.is_empty()) {
                    return Err(JobError::Restore(format!(
                        "checkpoint {} holds state of operator uid '{uid}', which the job does not have; give the operator that uid, or allow non-restored state to drop it",
                        restored.metadata.checkpoint_id
                    )));
                }
            }
        }
        for node in &self.job.graph.nodes {
            let uid = node.effective_uid();
            if let Some(old) = restored.metadata.operators.get(&uid) {
                let now = self.job.max_parallelism[node.id.0];
                if old.max_parallelism != now {
                    return Err(JobError::Restore(format!(
                        "operator '{}' (uid '{uid}') had max parallelism {} in checkpoint {} and has {now} now; keyed state cannot be divided into a different number of key groups",
                        node.name, old.max_parallelism, restored.metadata.checkpoint_id
                    )));
                }
                let in_flight = restored
                    .operators
                    .get(&uid)
                    .is_some_and(|subtasks| subtasks.iter().any(|s| !s.in_flight.is_empty()));
                let parallelism = self.job.parallelism[node.id.0];
                let heads_task = self.job.vertices.iter().any(|v| v.nodes[0] == node.id);
                if in_flight && (old.parallelism != parallelism || !heads_task) {
                    return Err(JobError::Restore(format!(
                        "checkpoint {} is unaligned and holds in-flight input of operator '{}' (uid '{uid}') at parallelism {}; restore it at that parallelism with the same chaining, or rescale from a savepoint (savepoints are always aligned)",
                        restored.metadata.checkpoint_id, node.name, old.parallelism
                    )));
                }
            }
        }
        Ok(())
    }

    /// The restored snapshots of operator `uid`, one per old subtask.
    pub(super) fn restored_operator(
        &self,
        uid: &str,
    ) -> Option<&'a [sluice_state::OperatorSnapshot]> {
        self.restored?.operators.get(uid).map(Vec::as_slice)
    }
}
