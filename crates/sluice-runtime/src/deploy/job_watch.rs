//! What a job on the mini-cluster shows while it runs: its state, why its attempts failed, its
//! live counters and its checkpoints — what the local REST API and dashboard read. The job's
//! client writes it as attempts start and end; readers take snapshots, and may cancel the job
//! or take a savepoint of it.

use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::checkpoint::{
    CheckpointCounters, CoordinatorRequest, SavepointFailure, request_savepoint,
};
use crate::deploy::job_client::{Attempt, CancelHandle};
use crate::deploy::job_status::{JobException, JobStatus};
use crate::deploy::mini_cluster::JobExecutionResult;
use crate::deploy::protocol::ClusterPlan;
use crate::error::JobError;
use crate::metrics::{MetricRegistry, MetricsReport};

/// A shared view of one local job; cheap to clone.
#[derive(Clone)]
pub struct JobWatch {
    shared: Arc<Watched>,
}

impl std::fmt::Debug for JobWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobWatch")
            .field("job", &self.shared.plan.job_id)
            .finish()
    }
}

struct Watched {
    plan: ClusterPlan,
    state_backend: &'static str,
    submitted_ms: u64,
    cancel: CancelHandle,
    live: Mutex<Live>,
}

struct Live {
    status: JobStatus,
    attempt: u32,
    end_ms: Option<u64>,
    modified_ms: u64,
    error: Option<String>,
    metrics: Arc<MetricRegistry>,
    savepoints: Option<Sender<CoordinatorRequest>>,
    checkpoints: Vec<CheckpointCounters>,
    exceptions: Vec<JobException>,
    restored_from: Option<String>,
}

/// A local job at one moment.
#[derive(Debug, Clone)]
pub struct JobSnapshot {
    /// Its state.
    pub status: JobStatus,
    /// The current attempt, from 1.
    pub attempt: u32,
    /// When it ended, ms since the epoch.
    pub end_ms: Option<u64>,
    /// When its state last changed, ms since the epoch.
    pub modified_ms: u64,
    /// Why it failed, once it did.
    pub error: Option<String>,
    /// Each attempt's checkpoint statistics, first attempt first.
    pub checkpoints: Vec<CheckpointCounters>,
    /// Why its attempts failed, oldest first.
    pub exceptions: Vec<JobException>,
    /// The checkpoint or savepoint the current attempt restored, if any.
    pub restored_from: Option<String>,
}

/// Now, in ms since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl JobWatch {
    /// The watch of a job with `plan` on `state_backend` whose first attempt is `attempt`.
    pub(crate) fn new(
        plan: ClusterPlan,
        state_backend: &'static str,
        cancel: CancelHandle,
        attempt: &Attempt,
    ) -> Self {
        let now = now_ms();
        let watch = JobWatch {
            shared: Arc::new(Watched {
                submitted_ms: now,
                state_backend,
                cancel,
                live: Mutex::new(Live {
                    status: JobStatus::Running,
                    attempt: 0,
                    end_ms: None,
                    modified_ms: now,
                    error: None,
                    metrics: Arc::clone(&attempt.metrics),
                    savepoints: None,
                    checkpoints: Vec::new(),
                    exceptions: Vec::new(),
                    restored_from: None,
                }),
                plan,
            }),
        };
        watch.attempt_started(attempt, watch.shared.plan.restore_from.clone());
        watch
    }

    fn live(&self) -> MutexGuard<'_, Live> {
        self.shared
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A new attempt runs (restored from `restored_from`).
    pub(crate) fn attempt_started(&self, attempt: &Attempt, restored_from: Option<String>) {
        let mut live = self.live();
        live.status = JobStatus::Running;
        live.attempt += 1;
        live.modified_ms = now_ms();
        live.metrics = Arc::clone(&attempt.metrics);
        live.savepoints = None;
        if let Some(coordinator) = &attempt.coordinator {
            live.savepoints = Some(coordinator.requests.clone());
            live.checkpoints.push(coordinator.counters());
        }
        live.restored_from = restored_from;
    }

    /// The current attempt failed with `error`; the job restarts.
    pub(crate) fn attempt_failed(&self, error: &JobError) {
        let mut live = self.live();
        live.status = JobStatus::Restarting;
        Self::record_failure(&mut live, error);
    }

    fn record_failure(live: &mut Live, error: &JobError) {
        let now = now_ms();
        live.modified_ms = now;
        let attempt = live.attempt;
        live.exceptions.push(JobException {
            at_ms: now,
            attempt,
            message: error.to_string(),
        });
        live.savepoints = None;
    }

    /// The job ended with `result`.
    pub(crate) fn ended(&self, result: &Result<JobExecutionResult, JobError>) {
        let mut live = self.live();
        live.status = match result {
            Ok(_) => JobStatus::Finished,
            Err(JobError::Cancelled) => JobStatus::Canceled,
            Err(error) => {
                Self::record_failure(&mut live, error);
                live.error = Some(error.to_string());
                JobStatus::Failed
            }
        };
        let now = now_ms();
        live.end_ms = Some(now);
        live.modified_ms = now;
        live.savepoints = None;
    }

    /// The job's plan, as a cluster would be given it.
    pub fn plan(&self) -> &ClusterPlan {
        &self.shared.plan
    }

    /// The name of the job's state backend (`hashmap`, `rocksdb`).
    pub fn state_backend(&self) -> &'static str {
        self.shared.state_backend
    }

    /// When the job was submitted, ms since the epoch.
    pub fn submitted_ms(&self) -> u64 {
        self.shared.submitted_ms
    }

    /// The job's state now.
    pub fn status(&self) -> JobStatus {
        self.live().status
    }

    /// The current attempt's counters now (read from its tasks' live counters).
    pub fn metrics(&self) -> MetricsReport {
        let metrics = Arc::clone(&self.live().metrics);
        metrics.report()
    }

    /// The job now, but for its counters ([`JobWatch::metrics`]).
    pub fn snapshot(&self) -> JobSnapshot {
        let live = self.live();
        JobSnapshot {
            status: live.status,
            attempt: live.attempt,
            end_ms: live.end_ms,
            modified_ms: live.modified_ms,
            error: live.error.clone(),
            checkpoints: live.checkpoints.clone(),
            exceptions: live.exceptions.clone(),
            restored_from: live.restored_from.clone(),
        }
    }

    /// Cancels the job.
    pub fn cancel(&self) {
        self.shared.cancel.cancel();
    }

    /// Takes a savepoint into `directory` (stopping the job after it when `stop`) and returns
    /// its path. The job must checkpoint and be running.
    pub fn savepoint(&self, directory: &str, stop: bool) -> Result<String, JobError> {
        let requests = self.live().savepoints.clone();
        let requests = match requests {
            Some(requests) => requests,
            None if self.shared.plan.checkpointing.is_none() => {
                return Err(JobError::Checkpoint(
                    "savepoints need checkpointing enabled (enable_checkpointing)".into(),
                ));
            }
            None => {
                return Err(JobError::Checkpoint("the job is no longer running".into()));
            }
        };
        request_savepoint(&requests, directory, stop, None).map_err(|failure| {
            JobError::Checkpoint(match failure {
                SavepointFailure::NotRunning => "the job is no longer running".into(),
                SavepointFailure::Ended => "the job ended before its savepoint completed".into(),
                SavepointFailure::Failed(reason) => reason,
            })
        })
    }
}
