//! Completing checkpoints and savepoints: writing every task's file and the metadata into the
//! storage, recording what it cost, and telling the tasks.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::PoisonError;
use std::time::Instant;

use sluice_core::Barrier;
use sluice_state::storage::{OperatorMetadata, checkpoint_dir_name};
use sluice_state::{CheckpointMetadata, CheckpointStorage, TaskSnapshot};

use super::{
    CheckpointStats, Coordinator, Pending, RETAINED_STATS, SubtaskCheckpointStats, fail_job,
    now_millis,
};
use crate::checkpoint::task_line::{TaskId, TaskMessage};
use crate::job_id::JobId;

impl Coordinator {
    /// Tells every task that checkpoint (or savepoint) `id` completed.
    pub(super) fn notify_complete(&self, id: u64) {
        for task in &self.setup.tasks {
            task.mailbox.post(TaskMessage::Complete(id));
        }
    }

    /// Writes a fully acknowledged savepoint into its directory, notifies every task when it
    /// ends the job, and replies.
    pub(super) fn complete_savepoint(&self, mut checkpoint: Pending) {
        let Some(request) = checkpoint.savepoint.take() else {
            return;
        };
        let id = checkpoint.barrier.checkpoint_id;
        let name = self.savepoint_name();
        let outcome = CheckpointStorage::open(&request.directory)
            .map_err(|e| e.to_string())
            .and_then(|storage| self.write(&storage, checkpoint, Some(&name)))
            .map(|_| format!("{}/{name}", request.directory.trim_end_matches('/')));
        match &outcome {
            Ok(_) => {
                tracing::info!("completed savepoint {id} in {}", request.directory);
                if request.stop {
                    self.notify_complete(id);
                }
            }
            Err(reason) if request.stop => {
                // The sources already ended after its barrier: the job cannot go on.
                let message = format!("stop-with-savepoint {id} failed: {reason}");
                fail_job(&self.failure, &self.cancel, message);
            }
            Err(_) => {}
        }
        let _ = request.reply.send(outcome);
    }

    /// Writes a fully acknowledged checkpoint and notifies every task; returns the shared
    /// files it refers to.
    pub(super) fn complete(&self, checkpoint: Pending) -> Result<BTreeSet<String>, String> {
        let id = checkpoint.barrier.checkpoint_id;
        let started = checkpoint.triggered;
        let shared = self.write(&self.setup.storage, checkpoint, None)?;
        tracing::info!("completed checkpoint {id} in {:?}", started.elapsed());
        self.notify_complete(id);
        Ok(shared)
    }

    /// A new savepoint's directory name: `savepoint-<first 6 digits of the job id>-<12 random
    /// hex digits>`, so savepoints of any job into one directory never overwrite each other.
    fn savepoint_name(&self) -> String {
        let job = self.setup.job_id.to_string();
        let random = JobId::random().to_string();
        format!("savepoint-{}-{}", &job[..6], &random[..12])
    }

    /// Writes `checkpoint` (every task's file, then the metadata) into `storage` — as a
    /// savepoint into the directory named `savepoint`, if given — and records what it cost;
    /// returns the shared files it refers to.
    fn write(
        &self,
        storage: &CheckpointStorage,
        checkpoint: Pending,
        savepoint: Option<&str>,
    ) -> Result<BTreeSet<String>, String> {
        let id = checkpoint.barrier.checkpoint_id;
        let triggered = checkpoint.triggered;
        let unaligned = checkpoint.barrier.unaligned;
        let in_flight_bytes: usize = checkpoint
            .acknowledged
            .values()
            .flat_map(|task| task.values())
            .map(|operator| operator.in_flight.bytes())
            .sum();
        let metadata = self.metadata(&checkpoint.barrier);
        let subtasks = checkpoint.acknowledged.len();
        let acknowledged_after = checkpoint.acknowledged_after;
        let files = self.task_files(checkpoint.acknowledged)?;
        let writing = Instant::now();
        let written = match savepoint {
            Some(name) => storage.write_savepoint(name, &metadata, &files),
            None => storage.write(&metadata, &files),
        }
        .map_err(|error| error.to_string())?;
        // The task files are in the order of the setup's tasks.
        let subtask_stats = self
            .setup
            .tasks
            .iter()
            .zip(&written.task_bytes)
            .map(|(task, bytes)| SubtaskCheckpointStats {
                vertex: task.id.vertex,
                subtask: task.id.subtask,
                acknowledged_ms: acknowledged_after
                    .get(&task.id)
                    .map(|after| after.as_millis() as u64),
                bytes: *bytes,
            })
            .collect();
        record(
            &mut self.stats.lock().unwrap_or_else(PoisonError::into_inner),
            CheckpointStats {
                checkpoint_id: id,
                trigger_ms: (now_millis() as u64)
                    .saturating_sub(triggered.elapsed().as_millis() as u64),
                path: format!(
                    "{}/{}",
                    storage.location().trim_end_matches('/'),
                    savepoint.map_or_else(|| checkpoint_dir_name(id), str::to_string)
                ),
                subtasks,
                duration: triggered.elapsed(),
                write_duration: writing.elapsed(),
                bytes: written.bytes,
                savepoint: savepoint.is_some(),
                unaligned,
                in_flight_bytes: in_flight_bytes as u64,
                subtask_stats,
            },
        );
        Ok(written.shared)
    }

    /// The metadata of the checkpoint of `barrier`: which file holds each subtask's state.
    fn metadata(&self, barrier: &Barrier) -> CheckpointMetadata {
        let mut operators = BTreeMap::new();
        for (uid, (vertex, parallelism, max_parallelism)) in &self.setup.operators {
            let subtask_files = (0..*parallelism)
                .map(|subtask| {
                    task_file(TaskId {
                        vertex: *vertex,
                        subtask,
                    })
                })
                .collect();
            operators.insert(
                uid.clone(),
                OperatorMetadata {
                    parallelism: *parallelism,
                    max_parallelism: *max_parallelism,
                    subtask_files,
                },
            );
        }
        CheckpointMetadata {
            checkpoint_id: barrier.checkpoint_id,
            timestamp: barrier.timestamp,
            job_id: self.setup.job_id.to_string(),
            job_name: self.setup.job_name.clone(),
            operators,
            shared: Default::default(),
        }
    }

    /// Every task's file: its acknowledged snapshot, completed here off the task threads (the
    /// asynchronous part: entries of backends that captured a view of their state at the
    /// barrier); a task that finished before the barrier reached it has no state left.
    fn task_files(
        &self,
        mut acknowledged: BTreeMap<TaskId, TaskSnapshot>,
    ) -> Result<Vec<(String, TaskSnapshot)>, String> {
        for operator in acknowledged.values_mut().flat_map(|task| task.values_mut()) {
            operator
                .materialize()
                .map_err(|e| format!("cannot complete a snapshot: {e}"))?;
        }
        Ok(self
            .setup
            .tasks
            .iter()
            .map(|t| {
                (
                    task_file(t.id),
                    acknowledged.remove(&t.id).unwrap_or_default(),
                )
            })
            .collect())
    }
}

/// Adds `entry` to `stats`, dropping the oldest beyond [`RETAINED_STATS`].
pub(super) fn record(stats: &mut Vec<CheckpointStats>, entry: CheckpointStats) {
    if stats.len() >= RETAINED_STATS {
        stats.remove(0);
    }
    stats.push(entry);
}

/// The file of `task`'s state inside a checkpoint.
fn task_file(task: TaskId) -> String {
    format!("task-{}-{}.state", task.vertex, task.subtask)
}
