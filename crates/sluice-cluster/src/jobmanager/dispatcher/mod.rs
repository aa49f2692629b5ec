//! The dispatcher: the JobManager's one job-management service. The REST API, the CLI (through
//! it) and the control-plane sessions all act on the cluster through it.
//!
//! It keeps the registered TaskManagers and their slots, and every job. A job master per job
//! lives in its `JobRecord`: scheduling places the job's parallel pipelines into free slots
//! (slot sharing: one slot holds one pipeline, every operator's subtask of that index), spread
//! over as many TaskManagers as have room; each TaskManager used starts one worker process for
//! its pipelines; once every worker reported in, all are told where the others are and start.
//! The job finishes when every worker finished.
//!
//! A job that checkpoints gets its checkpoint coordinator here, in the JobManager: it triggers
//! the sources through their workers and collects every task's snapshot from them. A failed
//! attempt (a task's failure, a lost worker or TaskManager, checkpointing failing the job)
//! restarts under the job's restart strategy from the latest completed checkpoint, on the slots
//! there are (waiting for slots with a clear status); without a restart left, the job fails.
//! The checkpoint an attempt restores is resolved here, once, after the previous attempt's
//! coordinator has stopped (it can complete no checkpoint after that), and every worker is sent
//! its exact path. With a [`JobStore`], jobs that have not ended survive a JobManager restart.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;
use sluice_runtime::checkpoint::{
    CheckpointCounters, CoordinatorHandle, RestartStrategy, RestartTracker, SavepointFailure,
    TaskReport, latest_checkpoint_of, request_savepoint, resolve_restore_point,
};
use sluice_runtime::deploy::protocol::{
    ClusterPlan, FromWorker, Placement, TaskManagerInfo, ToTaskManager, ToWorker, WorkerHello,
    WorkerSpec, send_message,
};
use sluice_runtime::deploy::remote_checkpoints::decode_report;
use sluice_runtime::deploy::worker::{ENV_JOB_OPTIONS, ENV_PARALLELISM, ENV_RESTORE_FROM};
use sluice_runtime::job_id::JobId;
use sluice_runtime::net::transport::BoxSocket;

use super::blob_store::BlobStore;
use super::coordinator::start_coordinator;
use super::job_store::{JobStore, StoredJob};
use super::placement::spread;
pub use super::views::{
    AllocatedSlot, ClusterOverview, Hardware, JobDetails, JobException, JobOverview, JobStatus,
    SubmitRequest, TaskManagerDetails, TaskManagerOverview, status_name,
};

mod attempts;
mod job;
mod queries;
mod rescaling;
mod state;
mod task_managers;
mod worker_metrics;

pub(crate) use job::task_counts;
pub(crate) use queries::subtasks_of;
pub use worker_metrics::MetricsReading;
pub(crate) use worker_metrics::WorkerMetrics;

use job::{JobRecord, RestoreQuery, WorkerState, overview};
use state::{Locked, Outgoing, State, TaskManagerEntry, lock, now_ms, send};

/// The writing end of a control connection, shared by the threads that send on it.
pub type Link = Arc<Mutex<BoxSocket>>;

/// The JobManager's job management.
#[derive(Debug)]
pub struct Dispatcher {
    state: Mutex<State>,
    /// The job binaries.
    pub blobs: BlobStore,
    /// Where jobs that have not ended are kept, if anywhere.
    store: Option<Box<dyn JobStore>>,
    /// How often TaskManagers heartbeat.
    pub heartbeat_interval: Duration,
    /// Silence after which a TaskManager is lost.
    pub heartbeat_timeout: Duration,
    /// How long a job waits for slots before it fails.
    pub slot_request_timeout: Duration,
    /// How many ended jobs are kept for the API, and for how long.
    pub history: JobHistory,
    /// When the blob store was last swept.
    last_sweep: Mutex<Instant>,
    /// Warnings for the cluster's operators.
    warnings: Mutex<Vec<String>>,
}

/// How many ended jobs the dispatcher keeps (Flink's `jobstore.max-capacity`) and for how long
/// (`jobstore.expiration-time`); older ones are forgotten, and job binaries no kept job uses
/// are deleted once they are as old.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobHistory {
    /// The most ended jobs kept.
    pub max_capacity: usize,
    /// How long an ended job is kept.
    pub expiration: Duration,
}

impl Default for JobHistory {
    fn default() -> Self {
        JobHistory {
            max_capacity: 1000,
            expiration: Duration::from_secs(3600),
        }
    }
}

/// How often unused job binaries are looked for.
const BLOB_SWEEP_INTERVAL: Duration = Duration::from_secs(60);

impl Dispatcher {
    /// The state, locked until the returned guard drops; then its outbox is sent.
    fn locked(&self) -> Locked<'_> {
        Locked(Some(lock(&self.state)))
    }

    /// Whether another thread holds the state now (perhaps across blocking work).
    pub fn busy(&self) -> bool {
        matches!(
            self.state.try_lock(),
            Err(std::sync::TryLockError::WouldBlock)
        )
    }

    /// A dispatcher with no TaskManagers; with a `store`, the jobs it holds are recovered
    /// (each resumes from its latest checkpoint once slots are free).
    pub fn new(
        blobs: BlobStore,
        store: Option<Box<dyn JobStore>>,
        heartbeat_interval: Duration,
        heartbeat_timeout: Duration,
        slot_request_timeout: Duration,
        history: JobHistory,
    ) -> Result<Self, String> {
        let mut state = State::default();
        if let Some(store) = &store {
            for stored in store.load()? {
                tracing::info!(
                    "recovering job {} '{}'",
                    stored.id,
                    stored.request.plan.name
                );
                let mut job = JobRecord::new(stored.id, stored.request, stored.submitted_ms);
                job.recovered = true;
                state.jobs.push(job);
            }
        }
        Ok(Dispatcher {
            state: Mutex::new(state),
            blobs,
            store,
            heartbeat_interval,
            heartbeat_timeout,
            slot_request_timeout,
            history,
            last_sweep: Mutex::new(Instant::now()),
            warnings: Mutex::default(),
        })
    }

    /// Forgets ended jobs past the history's capacity or age, and deletes the job binaries
    /// nothing kept uses once they are older than the history keeps jobs (uploads never run
    /// included).
    fn trim_history(&self) {
        let referenced: std::collections::BTreeSet<String> = {
            let mut state = self.locked();
            let expiration = self.history.expiration;
            state
                .jobs
                .retain(|job| job.ended.is_none_or(|at| at.elapsed() < expiration));
            let ended = state.jobs.iter().filter(|job| job.ended.is_some()).count();
            let mut surplus = ended.saturating_sub(self.history.max_capacity);
            // Jobs are kept in submission order: the oldest ended ones go first.
            state.jobs.retain(|job| {
                let forget = surplus > 0 && job.ended.is_some();
                surplus -= usize::from(forget);
                !forget
            });
            state
                .jobs
                .iter()
                .map(|job| job.request.binary.clone())
                .collect()
        };
        let mut last = lock(&self.last_sweep);
        if last.elapsed() >= BLOB_SWEEP_INTERVAL.min(self.history.expiration) {
            *last = Instant::now();
            drop(last);
            match self.blobs.sweep(&referenced, self.history.expiration) {
                Ok(0) => {}
                Ok(n) => tracing::info!("deleted {n} job binaries no job uses"),
                Err(error) => tracing::warn!("cannot sweep the job binaries: {error}"),
            }
        }
    }

    /// Runs what is due: lost TaskManagers, restarts whose delay passed, checkpointing that
    /// failed an attempt.
    pub fn tick(&self) {
        self.check_heartbeats();
        self.resolve_restore_points();
        self.trim_history();
        let mut state = self.locked();
        let failed: Vec<(String, String)> = state
            .jobs
            .iter()
            .filter_map(|job| {
                let coordinator = job.coordinator.as_ref()?;
                let failure = lock(&coordinator.failure).clone()?;
                Some((job.id.clone(), failure))
            })
            .collect();
        for (id, failure) in failed {
            self.fail_attempt(&mut state, &id, failure);
        }
        let due: Vec<String> = state
            .jobs
            .iter()
            .filter(|job| {
                job.status == JobStatus::Restarting
                    && job.restart_at.is_some_and(|at| at <= Instant::now())
            })
            .map(|job| job.id.clone())
            .collect();
        for id in due {
            if let Some(job) = state.jobs.iter_mut().find(|job| job.id == id) {
                job.status = JobStatus::Created;
                job.restart_at = None;
            }
        }
        self.schedule(&mut state);
    }

    /// Resolves the restore points deployments wait for, reading storage without the lock.
    fn resolve_restore_points(&self) {
        let queries: Vec<(String, u32, RestoreQuery)> = self
            .locked()
            .jobs
            .iter()
            .filter(|job| job.resolving && job.status == JobStatus::Created)
            .map(|job| (job.id.clone(), job.attempt, job.restore_query()))
            .collect();
        for (id, attempt, query) in queries {
            let outcome = query.resolve();
            let mut state = self.locked();
            let Some(job) = state.jobs.iter_mut().find(|job| {
                job.id == id && job.attempt == attempt && job.status == JobStatus::Created
            }) else {
                continue;
            };
            job.resolving = false;
            match outcome {
                Ok(path) => job.resolved = Some(path),
                Err(error) => self.end_job(&mut state, &id, JobStatus::Failed, Some(error)),
            }
        }
    }

    /// Accepts a job; it runs as soon as enough slots are free.
    pub fn submit(&self, request: SubmitRequest) -> Result<String, String> {
        if !self.blobs.contains(&request.binary) {
            return Err(format!(
                "no uploaded job binary with key {}; upload it first",
                request.binary
            ));
        }
        request
            .plan
            .validate()
            .map_err(|e| format!("invalid job plan: {e}"))?;
        if let Some(config) = &request.plan.checkpointing
            && config.directory.is_none()
        {
            return Err(
                "the job enables checkpointing but sets no checkpoint directory (execution.checkpointing.dir); on a cluster it must be a location every TaskManager and the JobManager reach".into(),
            );
        }
        // The client chose the id (Flink's clients do too), so a job with a fixed id keeps it.
        let id = request.plan.job_id.to_string();
        let mut state = self.locked();
        if let Some(running) = state.jobs.iter().find(|job| job.id == id) {
            if !running.status.is_terminal() {
                return Err(format!(
                    "a job with id {id} is already {} (job ids must be unique)",
                    status_name(running.status)
                ));
            }
            // A fixed id run again: the new run replaces the ended one.
            state.jobs.retain(|job| job.id != id);
        }
        tracing::info!(
            "job {id} '{}' submitted: {} pipelines",
            request.plan.name,
            request.plan.pipelines
        );
        let job = JobRecord::new(id.clone(), request, now_ms());
        if let Some(store) = &self.store {
            store.put(&StoredJob {
                id: id.clone(),
                request: job.request.clone(),
                submitted_ms: job.submitted_ms,
            })?;
        }
        state.jobs.push(job);
        self.schedule(&mut state);
        Ok(id)
    }

    /// Cancels a job.
    pub fn cancel(&self, id: &str) -> Result<(), String> {
        let mut state = self.locked();
        let job = state.job(id)?;
        if job.status.is_terminal() {
            return Err(format!(
                "job {id} already ended ({})",
                status_name(job.status)
            ));
        }
        self.end_job(&mut state, id, JobStatus::Canceled, None);
        Ok(())
    }
}
