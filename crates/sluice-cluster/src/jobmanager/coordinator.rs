//! The checkpoint coordinator of a job attempt on the cluster: the same coordinator as the
//! embedded mini-cluster's, in the JobManager, with each task's mailbox forwarding to the
//! worker that runs it and the workers' reports fed in by the dispatcher.

use std::sync::Arc;

use sluice_runtime::checkpoint::{
    CoordinatorHandle, CoordinatorSetup, CoordinatorTask, TaskId, resolve_restore_point,
};
use sluice_runtime::deploy::protocol::{ClusterPlan, Placement, ToWorker, send_message};
use sluice_runtime::deploy::remote_checkpoints::ForwardingMailbox;
use sluice_runtime::signal::CancelToken;
use sluice_state::CheckpointStorage;

use super::dispatcher::Link;

/// Starts the coordinator of an attempt whose workers (by index) are reached through `links`;
/// checkpoint ids continue after the checkpoint it restores from (`restore_from`: the exact
/// checkpoint the dispatcher resolved) and after those in the job's checkpoint directory.
pub fn start_coordinator(
    plan: &ClusterPlan,
    links: &[Option<Link>],
    placement: &Placement,
    restore_from: Option<&str>,
) -> Result<CoordinatorHandle, String> {
    let config = plan
        .checkpointing
        .clone()
        .ok_or_else(|| "the job does not checkpoint".to_string())?;
    let directory = config
        .directory
        .clone()
        .ok_or_else(|| "the job sets no checkpoint directory".to_string())?;
    let storage = CheckpointStorage::open_job(&directory, &plan.job_id.to_string())
        .map_err(|e| format!("checkpoint storage {directory}: {e}"))?;
    let first_id = match restore_from {
        Some(path) => {
            resolve_restore_point(path, plan.job_id)
                .map_err(|e| format!("cannot read the restore point {path}: {e}"))?
                .1
                .checkpoint_id
                + 1
        }
        None => 1,
    };
    let mut tasks = Vec::new();
    for (vertex, task) in plan.tasks.iter().enumerate() {
        for subtask in 0..task.parallelism {
            let worker = *placement
                .worker_of_pipeline
                .get(subtask)
                .ok_or_else(|| format!("subtask {subtask} of task {vertex} has no worker"))?;
            let link = links
                .get(worker)
                .cloned()
                .flatten()
                .ok_or_else(|| format!("worker {worker} is not connected"))?;
            let id = TaskId { vertex, subtask };
            let send = move |message: ToWorker| {
                let mut stream = link
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Err(error) = send_message(&mut *stream, &message) {
                    tracing::warn!("cannot reach worker {worker}: {error}");
                }
            };
            tasks.push(CoordinatorTask {
                id,
                mailbox: Arc::new(ForwardingMailbox::new(id, Arc::new(send))),
                is_source: task.source,
            });
        }
    }
    let setup = CoordinatorSetup {
        config,
        job_id: plan.job_id,
        job_name: plan.name.clone(),
        storage,
        tasks,
        operators: plan.operators.clone().into_iter().collect(),
        first_id,
    };
    setup
        .start(CancelToken::new())
        .map_err(|e| format!("cannot start the checkpoint coordinator: {e}"))
}
