//! The local mini-cluster: runs a JobGraph in this process, one thread per subtask.
//!
//! Deployment wires every non-chained edge with bounded channels (all-to-all, or pointwise for
//! forward and rescale), builds each subtask's chain from its tail to its head, and starts the
//! tasks. The first task to fail cancels the job; the job's error is that root cause, naming the
//! task, the subtask and the operator, never a consequence such as a lost peer.

use std::collections::BTreeMap;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::checkpoint::{CheckpointStats, Mailbox, TaskId, TaskReport, read_restore_point};
use crate::deploy::deployment::Deployment;
use crate::deploy::job_client::{Attempt, JobClient, TaskOutcome};
use crate::deploy::wiring::RemoteWiring;
use crate::error::{JobError, TaskError, panic_message};
use crate::graph::JobGraph;
use crate::metrics::{MetricRegistry, OperatorSummary, TaskSummary};
use crate::net::connection::PeerChannels;
use crate::signal::CancelToken;
use crate::task::Task;

/// What a finished job reports.
#[derive(Debug, Clone, Serialize)]
pub struct JobExecutionResult {
    /// The job's name.
    pub job_name: String,
    /// Wall time from deployment to the last task finishing.
    pub net_runtime: Duration,
    /// Records in and out per operator.
    pub operators: Vec<OperatorSummary>,
    /// Backpressure per subtask.
    pub tasks: Vec<TaskSummary>,
    /// The checkpoints (and savepoints) the job completed, in order.
    pub checkpoints: Vec<CheckpointStats>,
}

impl JobExecutionResult {
    /// The summary of the operator named `name`, if there is one.
    pub fn operator(&self, name: &str) -> Option<&OperatorSummary> {
        self.operators.iter().find(|o| o.name == name)
    }
}

/// Runs `job` to completion on this process's mini-cluster (restarting it as its restart
/// strategy says).
pub fn execute(job: JobGraph) -> Result<JobExecutionResult, JobError> {
    submit(job)?.wait()
}

/// Deploys `job` on this process's mini-cluster and returns at once.
pub fn submit(job: JobGraph) -> Result<JobClient, JobError> {
    JobClient::start(job)
}

/// Deploys one attempt of `job`: its tasks and, when it checkpoints, its coordinator.
pub(crate) fn deploy(job: &JobGraph) -> Result<Attempt, JobError> {
    deploy_part(job, None).map(|(attempt, _)| attempt)
}

/// What a worker's deployment hands to the network: the channels per other worker, and, when
/// the job checkpoints, its tasks' mailboxes and reports (the coordinator runs in the
/// JobManager).
#[derive(Default)]
pub(crate) struct WorkerPart {
    /// Per other worker, the channels crossing to it.
    pub(crate) peers: BTreeMap<usize, PeerChannels>,
    /// The local tasks' checkpoint mailboxes, and the channel their reports arrive on.
    pub(crate) checkpoints: Option<CheckpointLines>,
}

/// A worker's tasks' checkpoint mailboxes, and the channel their reports arrive on.
pub(crate) type CheckpointLines = (BTreeMap<TaskId, Arc<Mailbox>>, mpsc::Receiver<TaskReport>);

/// Deploys this process's part of one attempt of `job`: every task when `remote` is `None`,
/// else the tasks of this worker's pipelines, with the channels that cross to other workers
/// returned per worker for the data plane to carry.
pub(crate) fn deploy_part(
    job: &JobGraph,
    remote: Option<RemoteWiring>,
) -> Result<(Attempt, WorkerPart), JobError> {
    let started = Instant::now();
    let cancel = CancelToken::new();
    let metrics = MetricRegistry::new();
    let restored = match &job.config.restore_from {
        Some(path) => Some(read_restore_point(path, job.config.job_id).map_err(JobError::Restore)?),
        None => None,
    };
    let mut deployment = Deployment::new(
        job,
        cancel.clone(),
        Arc::clone(&metrics),
        restored.as_ref(),
        remote,
    )?;
    let mut remote_checkpoints = None;
    let coordinator = match &job.config.checkpointing {
        Some(_) if deployment.remote.is_some() => {
            remote_checkpoints = Some(deployment.remote_checkpoint_lines());
            None
        }
        Some(config) => Some(deployment.start_coordinator(config, restored.as_ref())?),
        None => None,
    };
    let (tasks, peers) = deployment.build_tasks()?;
    let part = WorkerPart {
        peers,
        checkpoints: remote_checkpoints,
    };
    let task_count = tasks.len();
    let outcomes = spawn_tasks(tasks, &cancel)?;
    let attempt = Attempt {
        job_name: job.config.name.clone(),
        cancel,
        outcomes,
        task_count,
        metrics,
        started,
        coordinator,
    };
    Ok((attempt, part))
}

/// Runs each task on a thread of its own; every task's outcome (a panic as an internal error)
/// arrives on the returned channel with its name, subtask and parallelism.
fn spawn_tasks(
    tasks: Vec<Task>,
    cancel: &CancelToken,
) -> Result<mpsc::Receiver<TaskOutcome>, JobError> {
    let (report, outcomes) = mpsc::channel();
    for task in tasks {
        let report = report.clone();
        let thread_name = format!("{} ({}/{})", task.name, task.subtask + 1, task.parallelism);
        let (name, subtask, parallelism) = (task.name.clone(), task.subtask, task.parallelism);
        let spawned = std::thread::Builder::new()
            .name(thread_name)
            .spawn(move || {
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| task.run()))
                    .unwrap_or_else(|payload| {
                        Err(TaskError::Internal(panic_message(payload.as_ref())))
                    });
                let _ = report.send((name, subtask, parallelism, outcome));
            });
        if let Err(error) = spawned {
            cancel.cancel();
            return Err(JobError::Runtime(format!(
                "cannot start a task thread: {error}"
            )));
        }
    }
    Ok(outcomes)
}
