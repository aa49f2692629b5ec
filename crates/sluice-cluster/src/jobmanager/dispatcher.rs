//! The dispatcher: the JobManager's one job-management service. The REST API, the CLI (through
//! it) and the control-plane sessions all act on the cluster through it.
//!
//! It keeps the registered TaskManagers and their slots, and every job. A job master per job
//! lives in its [`JobRecord`]: scheduling places the job's parallel pipelines into free slots
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
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use sluice_runtime::checkpoint::{
    CoordinatorRequest, RestartStrategy, RestartTracker, SavepointFailure, TaskReport,
    latest_checkpoint_of, request_savepoint, resolve_restore_point,
};
use sluice_runtime::deploy::protocol::{
    ClusterPlan, FromWorker, Placement, TaskManagerInfo, ToTaskManager, ToWorker, WorkerHello,
    WorkerSpec, send_message,
};
use sluice_runtime::deploy::remote_checkpoints::decode_report;
use sluice_runtime::deploy::worker::{ENV_JOB_OPTIONS, ENV_PARALLELISM, ENV_RESTORE_FROM};
use sluice_runtime::job_id::JobId;
use sluice_runtime::net::transport::BoxSocket;
use sluice_runtime::signal::CancelToken;

use super::blob_store::BlobStore;
use super::coordinator::start_coordinator;
use super::job_store::{JobStore, StoredJob};
use super::placement::spread;
pub use super::views::{
    ClusterOverview, JobDetails, JobOverview, JobStatus, SubmitRequest, TaskManagerOverview,
    status_name,
};

/// The writing end of a control connection, shared by the threads that send on it.
pub type Link = Arc<Mutex<BoxSocket>>;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn send<M: Serialize>(link: &Link, message: &M) -> Result<(), String> {
    send_message(&mut *lock(link), message)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// One worker process of a job attempt.
#[derive(Debug)]
struct WorkerState {
    task_manager: String,
    pipelines: Vec<usize>,
    data_address: Option<String>,
    link: Option<Link>,
    finished: bool,
}

/// The checkpoint coordinator of a running attempt.
pub struct CoordinatorHandle {
    /// Where the workers' task reports go.
    pub reports: mpsc::Sender<TaskReport>,
    /// Savepoint requests.
    pub requests: mpsc::Sender<CoordinatorRequest>,
    /// Stops the coordinator.
    pub cancel: CancelToken,
    /// Why checkpointing failed the attempt, once it did.
    pub failure: Arc<Mutex<Option<String>>>,
    /// The coordinator's thread: the next attempt deploys only once it ended.
    pub thread: std::thread::JoinHandle<()>,
}

impl std::fmt::Debug for CoordinatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CoordinatorHandle")
    }
}

/// A job and its job master's state.
#[derive(Debug)]
struct JobRecord {
    id: String,
    request: SubmitRequest,
    status: JobStatus,
    error: Option<String>,
    waiting: Option<String>,
    submitted_ms: u64,
    start_ms: Option<u64>,
    end_ms: Option<u64>,
    started: Option<Instant>,
    runtime: Option<Duration>,
    attempt: u32,
    workers: Vec<WorkerState>,
    restarts: RestartTracker,
    restart_at: Option<Instant>,
    /// Since when the job waits for slots.
    waiting_since: Option<Instant>,
    /// The checkpoint or savepoint the submission asked to start from (any path
    /// `resolve_restore_point` takes).
    restore_request: Option<String>,
    /// Whether the job was recovered from the job store: it resumes from its own latest
    /// checkpoint like a restarted attempt.
    recovered: bool,
    /// The exact checkpoint the current attempt restores, resolved when it deployed.
    restore_from: Option<String>,
    /// The restore point resolved for the next attempt, once it is.
    resolved: Option<Option<String>>,
    /// Whether the next attempt waits for the tick to resolve its restore point.
    resolving: bool,
    coordinator: Option<CoordinatorHandle>,
    /// The thread of the previous attempt's coordinator until it ended (the fence).
    stopping_coordinator: Option<std::thread::JoinHandle<()>>,
    /// Whether the attempt's coordinator is being started (outside the lock): the next
    /// attempt waits for it too.
    starting_coordinator: bool,
    /// Task reports that came while the coordinator was being started, for it.
    early_reports: Vec<TaskReport>,
    /// When the job ended.
    ended: Option<Instant>,
}

impl JobRecord {
    fn new(id: String, request: SubmitRequest, submitted_ms: u64) -> Self {
        let strategy = match (&request.plan.restart_strategy, &request.plan.checkpointing) {
            (Some(strategy), _) => strategy.clone(),
            (None, Some(_)) => RestartStrategy::flink_default(),
            (None, None) => RestartStrategy::None,
        };
        JobRecord {
            id,
            restore_request: request
                .restore_from
                .clone()
                .or_else(|| request.plan.restore_from.clone()),
            recovered: false,
            restore_from: None,
            resolved: None,
            resolving: false,
            request,
            status: JobStatus::Created,
            error: None,
            waiting: None,
            submitted_ms,
            start_ms: None,
            end_ms: None,
            started: None,
            runtime: None,
            attempt: 0,
            workers: Vec::new(),
            restarts: RestartTracker::new(strategy),
            restart_at: None,
            waiting_since: None,
            coordinator: None,
            stopping_coordinator: None,
            starting_coordinator: false,
            early_reports: Vec::new(),
            ended: None,
        }
    }

    /// Whether the previous attempt's coordinator is still running (it may still complete a
    /// checkpoint, so the next attempt cannot choose one yet).
    fn coordinator_stopping(&mut self) -> bool {
        if self.starting_coordinator {
            return true;
        }
        match &self.stopping_coordinator {
            Some(thread) if !thread.is_finished() => true,
            Some(_) => {
                if let Some(thread) = self.stopping_coordinator.take() {
                    let _ = thread.join();
                }
                false
            }
            None => false,
        }
    }

    /// What resolving the next attempt's restore point takes: after a failure (or a JobManager
    /// recovery) the job's own newest checkpoint comes first.
    fn restore_query(&self) -> RestoreQuery {
        let own_first = self.attempt > 0 || self.recovered;
        RestoreQuery {
            job_id: self.request.plan.job_id,
            own_base: self
                .request
                .plan
                .checkpointing
                .as_ref()
                .and_then(|c| c.directory.clone())
                .filter(|_| own_first),
            request: self.restore_request.clone(),
        }
    }
}

/// Where the next attempt of a job may restore from, to be resolved (reading storage) outside
/// the dispatcher's lock.
#[derive(Debug, Clone)]
struct RestoreQuery {
    job_id: JobId,
    /// The checkpoint directory whose newest checkpoint of this job comes first.
    own_base: Option<String>,
    /// What the submission asked for.
    request: Option<String>,
}

impl RestoreQuery {
    /// Whether there is nothing to look up (a first attempt restoring nothing).
    fn is_trivial(&self) -> bool {
        self.own_base.is_none() && self.request.is_none()
    }

    /// The exact checkpoint to restore: the job's own newest, else what the submission asked
    /// for, else none.
    fn resolve(&self) -> Result<Option<String>, String> {
        if let Some(base) = &self.own_base
            && let Some(own) = latest_checkpoint_of(base, self.job_id)?
        {
            return Ok(Some(own));
        }
        match &self.request {
            Some(path) => resolve_restore_point(path, self.job_id)
                .map(|(exact, _)| Some(exact))
                .map_err(|e| format!("cannot restore from {path}: {e}")),
            None => Ok(None),
        }
    }
}

#[derive(Debug)]
struct TaskManagerEntry {
    info: TaskManagerInfo,
    link: Link,
    last_heartbeat: Instant,
    used_slots: usize,
}

#[derive(Debug, Default)]
struct State {
    task_managers: BTreeMap<String, TaskManagerEntry>,
    jobs: Vec<JobRecord>,
    /// Messages decided under the lock, sent once it is released (a peer slow to read never
    /// holds up the dispatcher).
    outbox: Vec<(Link, Outgoing)>,
}

/// A message the dispatcher sends once its lock is released.
#[derive(Debug)]
enum Outgoing {
    TaskManager(ToTaskManager),
    Worker(ToWorker),
    /// Close the connection (a lost TaskManager must register again).
    Close,
}

/// The dispatcher's state, locked; its outbox is sent when the lock is released.
struct Locked<'a>(Option<MutexGuard<'a, State>>);

impl std::ops::Deref for Locked<'_> {
    type Target = State;

    fn deref(&self) -> &State {
        self.0.as_ref().expect("held until dropped")
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut State {
        self.0.as_mut().expect("held until dropped")
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let outbox = self
            .0
            .as_mut()
            .map(|state| std::mem::take(&mut state.outbox))
            .unwrap_or_default();
        drop(self.0.take());
        for (link, message) in outbox {
            let sent = match &message {
                Outgoing::TaskManager(message) => send(&link, message),
                Outgoing::Worker(message) => send(&link, message),
                Outgoing::Close => lock(&link)
                    .shutdown(std::net::Shutdown::Both)
                    .map_err(|e| e.to_string()),
            };
            // A broken connection is noticed by its session (read error or heartbeat).
            if let Err(error) = sent {
                tracing::debug!("cannot send {message:?}: {error}");
            }
        }
    }
}

/// Tells every worker of an attempt where the others are, then starts the attempt's
/// checkpoint coordinator if the job checkpoints.
fn start_attempt(
    plan: &ClusterPlan,
    links: &[Option<Link>],
    placement: &Placement,
    restore_from: Option<&str>,
) -> Result<Option<CoordinatorHandle>, String> {
    for (index, link) in links.iter().enumerate() {
        if let Some(link) = link {
            send(link, &ToWorker::Start(placement.clone()))
                .map_err(|error| format!("cannot start worker {index}: {error}"))?;
        }
    }
    if plan.checkpointing.is_none() {
        return Ok(None);
    }
    start_coordinator(plan, links, placement, restore_from).map(Some)
}

/// A worker's report, decoded.
enum Reported {
    /// A task's checkpoint report, or why it could not be decoded.
    Checkpoint(Result<TaskReport, String>),
    /// The worker finished.
    Finished,
    /// The worker failed.
    Failed(String),
}

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

    /// Registers a TaskManager (replacing one of the same id) and schedules waiting jobs.
    pub fn register_task_manager(&self, info: TaskManagerInfo, link: Link) {
        let mut state = self.locked();
        tracing::info!(
            "TaskManager {} registered at {} with {} slots",
            info.id,
            info.host,
            info.slots
        );
        if state.task_managers.contains_key(&info.id) {
            self.lose_task_manager(&mut state, &info.id, "it registered again");
        }
        state.task_managers.insert(
            info.id.clone(),
            TaskManagerEntry {
                info,
                link,
                last_heartbeat: Instant::now(),
                used_slots: 0,
            },
        );
        self.schedule(&mut state);
    }

    /// Notes a TaskManager's heartbeat.
    pub fn heartbeat(&self, id: &str) {
        if let Some(entry) = self.locked().task_managers.get_mut(id) {
            entry.last_heartbeat = Instant::now();
        }
    }

    /// A TaskManager's connection ended.
    pub fn task_manager_disconnected(&self, id: &str, link: &Link) {
        let mut state = self.locked();
        // A TaskManager that registered again has a new link; the old session's end is moot.
        if state
            .task_managers
            .get(id)
            .is_some_and(|entry| Arc::ptr_eq(&entry.link, link))
        {
            self.lose_task_manager(&mut state, id, "its connection closed");
        }
    }

    /// Declares lost every TaskManager silent for longer than the heartbeat timeout.
    pub fn check_heartbeats(&self) {
        let mut state = self.locked();
        let silent: Vec<String> = state
            .task_managers
            .iter()
            .filter(|(_, entry)| entry.last_heartbeat.elapsed() > self.heartbeat_timeout)
            .map(|(id, _)| id.clone())
            .collect();
        for id in silent {
            let reason = format!(
                "no heartbeat for {} ms (heartbeat.timeout)",
                self.heartbeat_timeout.as_millis()
            );
            self.lose_task_manager(&mut state, &id, &reason);
        }
    }

    fn lose_task_manager(&self, state: &mut State, id: &str, reason: &str) {
        let Some(entry) = state.task_managers.remove(id) else {
            return;
        };
        tracing::warn!("TaskManager {id} is lost: {reason}");
        state.outbox.push((entry.link.clone(), Outgoing::Close));
        let affected: Vec<String> = state
            .jobs
            .iter()
            .filter(|job| {
                job.status == JobStatus::Running && job.workers.iter().any(|w| w.task_manager == id)
            })
            .map(|job| job.id.clone())
            .collect();
        for job in affected {
            self.fail_attempt(
                state,
                &job,
                format!("TaskManager {id} ({}) was lost: {reason}", entry.info.host),
            );
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
        let job = state
            .jobs
            .iter()
            .find(|job| job.id == id)
            .ok_or_else(|| format!("no job with id {id}"))?;
        if job.status.is_terminal() {
            return Err(format!(
                "job {id} already ended ({})",
                status_name(job.status)
            ));
        }
        self.end_job(&mut state, id, JobStatus::Canceled, None);
        Ok(())
    }

    /// Places waiting jobs into free slots, oldest first.
    fn schedule(&self, state: &mut State) {
        let waiting: Vec<String> = state
            .jobs
            .iter()
            .filter(|job| job.status == JobStatus::Created)
            .map(|job| job.id.clone())
            .collect();
        for id in waiting {
            self.try_deploy(state, &id);
        }
    }

    fn try_deploy(&self, state: &mut State, id: &str) {
        let mut free: Vec<(String, usize)> = state
            .task_managers
            .iter()
            .map(|(tm, entry)| {
                (
                    tm.clone(),
                    entry.info.slots.saturating_sub(entry.used_slots),
                )
            })
            .filter(|(_, free)| *free > 0)
            .collect();
        let Some(job) = state.jobs.iter_mut().find(|job| job.id == id) else {
            return;
        };
        if job.coordinator_stopping() {
            job.waiting =
                Some("waiting for the previous attempt's checkpoint coordinator to stop".into());
            return;
        }
        let needed = job.request.plan.pipelines.max(1);
        let available: usize = free.iter().map(|(_, n)| n).sum();
        if available < needed {
            let reason = format!(
                "waiting for {needed} free slots; {available} are free in {} TaskManagers",
                free.len()
            );
            let since = *job.waiting_since.get_or_insert_with(Instant::now);
            if since.elapsed() > self.slot_request_timeout {
                let error = format!(
                    "could not get {needed} slots within {} s (slot.request.timeout): {available} are free in {} TaskManagers",
                    self.slot_request_timeout.as_secs(),
                    free.len()
                );
                self.end_job(state, id, JobStatus::Failed, Some(error));
            } else {
                job.waiting = Some(reason);
            }
            return;
        }
        job.waiting_since = None;
        if job.resolved.is_none() {
            let query = job.restore_query();
            if !query.is_trivial() {
                // The tick reads the storage, without the lock; deployment follows.
                job.resolving = true;
                job.waiting = Some("resolving the checkpoint to restore".into());
                return;
            }
            job.resolved = Some(None);
        }
        job.restore_from = job.resolved.take().flatten();
        let placement = spread(needed, &mut free);
        job.attempt += 1;
        job.waiting = None;
        job.status = JobStatus::Running;
        job.start_ms.get_or_insert_with(now_ms);
        job.started.get_or_insert_with(Instant::now);
        job.restarts.started();
        job.workers = placement
            .iter()
            .map(|(tm, pipelines)| WorkerState {
                task_manager: tm.clone(),
                pipelines: pipelines.clone(),
                data_address: None,
                link: None,
                finished: false,
            })
            .collect();
        let mut env = vec![(
            ENV_PARALLELISM.to_string(),
            job.request.parallelism.to_string(),
        )];
        if let Some(path) = &job.restore_from {
            env.push((ENV_RESTORE_FROM.to_string(), path.clone()));
        }
        if !job.request.job_options.is_empty() {
            env.push((ENV_JOB_OPTIONS.to_string(), job.request.job_options.clone()));
        }
        let specs: Vec<(String, WorkerSpec)> = placement
            .iter()
            .enumerate()
            .map(|(worker, (tm, _))| {
                (
                    tm.clone(),
                    WorkerSpec {
                        job: job.id.clone(),
                        attempt: job.attempt,
                        worker,
                        binary: job.request.binary.clone(),
                        args: job.request.args.clone(),
                        env: env.clone(),
                        working_dir: job.request.working_dir.clone(),
                    },
                )
            })
            .collect();
        tracing::info!(
            "job {id}: attempt {} placed on {:?}",
            job.attempt,
            placement
        );
        for (tm, spec) in specs {
            if let Some(entry) = state.task_managers.get_mut(&tm) {
                let slots = placement
                    .iter()
                    .find(|(t, _)| *t == tm)
                    .map_or(0, |(_, p)| p.len());
                entry.used_slots += slots;
                let deploy = Outgoing::TaskManager(ToTaskManager::Deploy(spec));
                state.outbox.push((entry.link.clone(), deploy));
            }
        }
    }

    /// A worker process introduced itself; starts the attempt once all did.
    pub fn worker_hello(&self, hello: &WorkerHello, link: Link) -> Result<(), String> {
        let mut state = self.locked();
        let job = state
            .jobs
            .iter_mut()
            .find(|job| job.id == hello.job)
            .ok_or_else(|| format!("no job {}", hello.job))?;
        if job.status != JobStatus::Running || job.attempt != hello.attempt {
            return Err(format!(
                "job {} attempt {} is not running (the job is {:?}, attempt {})",
                hello.job, hello.attempt, job.status, job.attempt
            ));
        }
        if hello.fingerprint != job.request.plan.fingerprint {
            let error = format!(
                "worker {} built a different plan than the one submitted: the job's main must build the same graph every time it runs",
                hello.worker
            );
            let id = job.id.clone();
            self.end_job(&mut state, &id, JobStatus::Failed, Some(error.clone()));
            return Err(error);
        }
        let worker = job
            .workers
            .get_mut(hello.worker)
            .ok_or_else(|| format!("job {} has no worker {}", hello.job, hello.worker))?;
        worker.data_address = Some(hello.data_address.clone());
        worker.link = Some(link);
        if !job.workers.iter().all(|w| w.link.is_some()) {
            return Ok(());
        }
        // Every worker is in: start them and the coordinator without holding the lock.
        let mut worker_of_pipeline = vec![0; job.request.plan.pipelines.max(1)];
        for (index, worker) in job.workers.iter().enumerate() {
            for pipeline in &worker.pipelines {
                worker_of_pipeline[*pipeline] = index;
            }
        }
        let placement = Placement {
            worker_of_pipeline,
            data_addresses: job
                .workers
                .iter()
                .map(|w| w.data_address.clone().unwrap_or_default())
                .collect(),
        };
        let links: Vec<Option<Link>> = job.workers.iter().map(|w| w.link.clone()).collect();
        let plan = job.request.plan.clone();
        let restore_from = job.restore_from.clone();
        job.starting_coordinator = true;
        drop(state);
        let started = start_attempt(&plan, &links, &placement, restore_from.as_deref());
        let mut state = self.locked();
        let Some(job) = state.jobs.iter_mut().find(|job| job.id == hello.job) else {
            return Ok(());
        };
        job.starting_coordinator = false;
        let current = job.status == JobStatus::Running && job.attempt == hello.attempt;
        let early = std::mem::take(&mut job.early_reports);
        match started {
            Ok(Some(handle)) if current => {
                for report in early {
                    let _ = handle.reports.send(report);
                }
                job.coordinator = Some(handle);
            }
            Ok(Some(handle)) => {
                // The attempt ended meanwhile: its coordinator stops, fenced as any other.
                handle.cancel.cancel();
                job.stopping_coordinator = Some(handle.thread);
            }
            Ok(None) => {}
            Err(error) if current => {
                let id = job.id.clone();
                self.fail_attempt(&mut state, &id, error);
            }
            Err(_) => {}
        }
        Ok(())
    }

    /// Takes a savepoint of a running job into `directory`; with `stop`, the job then ends.
    /// Returns the savepoint's path.
    pub fn savepoint(&self, id: &str, directory: &str, stop: bool) -> Result<String, String> {
        let (requests, timeout) = {
            let state = self.locked();
            let job = state
                .jobs
                .iter()
                .find(|job| job.id == id)
                .ok_or_else(|| format!("no job with id {id}"))?;
            let Some(config) = &job.request.plan.checkpointing else {
                return Err(format!(
                    "job {id} does not checkpoint: savepoints need checkpointing enabled"
                ));
            };
            let coordinator = job
                .coordinator
                .as_ref()
                .ok_or_else(|| format!("job {id} is not running ({})", status_name(job.status)))?;
            (coordinator.requests.clone(), config.timeout)
        };
        let wait = timeout + Duration::from_secs(10);
        request_savepoint(&requests, directory, stop, Some(wait)).map_err(|failure| match failure {
            SavepointFailure::NotRunning => format!("job {id} is no longer running"),
            SavepointFailure::Ended => format!("job {id} ended before its savepoint completed"),
            SavepointFailure::Failed(reason) => reason,
        })
    }

    /// A worker reported its outcome (or a task's checkpoint report, decoded before the
    /// dispatcher's lock is taken: snapshots may be large).
    pub fn worker_report(&self, hello: &WorkerHello, report: FromWorker) {
        let report = match report {
            FromWorker::Report(wire) => Reported::Checkpoint(decode_report(wire)),
            FromWorker::Finished => Reported::Finished,
            FromWorker::Failed { error } => Reported::Failed(error),
            FromWorker::Heartbeat => return,
        };
        let mut state = self.locked();
        let Some(job) = state
            .jobs
            .iter_mut()
            .find(|job| job.id == hello.job && job.attempt == hello.attempt)
        else {
            return;
        };
        if job.status != JobStatus::Running {
            return;
        }
        match report {
            Reported::Checkpoint(Ok(report)) => {
                if job.starting_coordinator {
                    job.early_reports.push(report);
                } else if let Some(coordinator) = &job.coordinator {
                    let _ = coordinator.reports.send(report);
                }
            }
            Reported::Checkpoint(Err(error)) => {
                let id = job.id.clone();
                self.fail_attempt(&mut state, &id, error);
            }
            Reported::Finished => {
                if let Some(worker) = job.workers.get_mut(hello.worker) {
                    worker.finished = true;
                }
                if job.workers.iter().all(|w| w.finished) {
                    let id = job.id.clone();
                    self.end_job(&mut state, &id, JobStatus::Finished, None);
                }
            }
            Reported::Failed(error) => {
                let id = job.id.clone();
                let tm = job
                    .workers
                    .get(hello.worker)
                    .map_or_else(String::new, |w| w.task_manager.clone());
                self.fail_attempt(
                    &mut state,
                    &id,
                    format!("worker {} on {tm}: {error}", hello.worker),
                );
            }
        }
    }

    /// A worker's connection ended; unless it reported finishing, its attempt failed.
    pub fn worker_disconnected(&self, hello: &WorkerHello, error: Option<&str>) {
        let mut state = self.locked();
        let Some(job) = state.jobs.iter().find(|job| {
            job.id == hello.job && job.attempt == hello.attempt && job.status == JobStatus::Running
        }) else {
            return;
        };
        if job.workers.get(hello.worker).is_some_and(|w| !w.finished) {
            let id = job.id.clone();
            self.fail_attempt(
                &mut state,
                &id,
                match error {
                    Some(error) => format!("worker {} was lost: {error}", hello.worker),
                    None => format!("worker {} disconnected before it finished", hello.worker),
                },
            );
        }
    }

    /// A TaskManager reported that a worker process ended (or never started).
    pub fn worker_exited(
        &self,
        job: &str,
        attempt: u32,
        worker: usize,
        success: bool,
        detail: &str,
    ) {
        if success {
            return;
        }
        let mut state = self.locked();
        let running = state.jobs.iter().any(|j| {
            j.id == job
                && j.attempt == attempt
                && j.status == JobStatus::Running
                && j.workers.get(worker).is_some_and(|w| !w.finished)
        });
        if running {
            self.fail_attempt(&mut state, job, format!("worker {worker} exited: {detail}"));
        }
    }

    /// The running attempt of job `id` failed: it restarts if its restart strategy allows
    /// (from its latest completed checkpoint), else the job fails.
    fn fail_attempt(&self, state: &mut State, id: &str, reason: String) {
        let Some(job) = state.jobs.iter_mut().find(|job| job.id == id) else {
            return;
        };
        if job.status != JobStatus::Running {
            return;
        }
        let Some(delay) = job.restarts.on_failure() else {
            self.end_job(state, id, JobStatus::Failed, Some(reason));
            return;
        };
        tracing::warn!(
            "job {id} attempt {} failed, restarting in {delay:?} from its latest checkpoint: {reason}",
            job.attempt
        );
        job.status = JobStatus::Restarting;
        job.restart_at = Some(Instant::now() + delay);
        job.error = Some(format!("restarting after: {reason}"));
        self.stop_attempt(state, id, false);
    }

    /// Stops job `id`'s attempt: cancels its coordinator and (unless it finished) its workers,
    /// and frees its slots.
    fn stop_attempt(&self, state: &mut State, id: &str, finished: bool) {
        let Some(job) = state.jobs.iter_mut().find(|job| job.id == id) else {
            return;
        };
        if let Some(coordinator) = job.coordinator.take() {
            coordinator.cancel.cancel();
            job.stopping_coordinator = Some(coordinator.thread);
        }
        let attempt = job.attempt;
        let workers = std::mem::take(&mut job.workers);
        if !finished {
            for link in workers.iter().filter_map(|w| w.link.as_ref()) {
                state
                    .outbox
                    .push((link.clone(), Outgoing::Worker(ToWorker::Cancel)));
            }
        }
        let mut used: Vec<(String, usize)> = Vec::new();
        job.workers = workers
            .into_iter()
            .map(|w| {
                used.push((w.task_manager.clone(), w.pipelines.len()));
                WorkerState { link: None, ..w }
            })
            .collect();
        for (tm, slots) in used {
            if let Some(entry) = state.task_managers.get_mut(&tm) {
                entry.used_slots = entry.used_slots.saturating_sub(slots);
                if !finished {
                    let cancel = ToTaskManager::Cancel {
                        job: id.to_string(),
                        attempt,
                    };
                    state
                        .outbox
                        .push((entry.link.clone(), Outgoing::TaskManager(cancel)));
                }
            }
        }
    }

    /// Ends a job: records why, stops its attempt, forgets it in the store.
    fn end_job(&self, state: &mut State, id: &str, status: JobStatus, error: Option<String>) {
        let Some(job) = state.jobs.iter_mut().find(|job| job.id == id) else {
            return;
        };
        if job.status.is_terminal() {
            return;
        }
        match &error {
            Some(error) => tracing::warn!("job {id} {}: {error}", status_name(status)),
            None => tracing::info!("job {id} {}", status_name(status)),
        }
        let was_running = job.status == JobStatus::Running;
        job.status = status;
        job.error = error;
        job.waiting = None;
        job.restart_at = None;
        job.end_ms = Some(now_ms());
        job.ended = Some(Instant::now());
        job.runtime = job.started.map(|s| s.elapsed());
        if was_running {
            self.stop_attempt(state, id, status == JobStatus::Finished);
        }
        if let Some(store) = &self.store
            && let Err(error) = store.remove(id)
        {
            tracing::warn!("{error}");
        }
        self.schedule(state);
    }

    /// Every job, newest first.
    pub fn jobs(&self) -> Vec<JobOverview> {
        self.locked().jobs.iter().rev().map(overview).collect()
    }

    /// One job's details.
    pub fn job(&self, id: &str) -> Option<JobDetails> {
        let state = self.locked();
        let job = state.jobs.iter().find(|job| job.id == id)?;
        Some(JobDetails {
            overview: overview(job),
            plan: job.request.plan.plan.clone(),
            pipelines: job.request.plan.pipelines,
            placement: job
                .workers
                .iter()
                .map(|w| (w.task_manager.clone(), w.pipelines.clone()))
                .collect(),
            data_addresses: job.workers.iter().map(|w| w.data_address.clone()).collect(),
            attempt: job.attempt,
        })
    }

    /// The registered TaskManagers.
    pub fn task_managers(&self) -> Vec<TaskManagerOverview> {
        self.locked()
            .task_managers
            .values()
            .map(|entry| TaskManagerOverview {
                id: entry.info.id.clone(),
                host: entry.info.host.clone(),
                slots: entry.info.slots,
                free_slots: entry.info.slots.saturating_sub(entry.used_slots),
                since_heartbeat_ms: u64::try_from(entry.last_heartbeat.elapsed().as_millis())
                    .unwrap_or(u64::MAX),
            })
            .collect()
    }

    /// The cluster at a glance.
    pub fn overview(&self) -> ClusterOverview {
        let managers = self.task_managers();
        let jobs = self.jobs();
        let count = |status: JobStatus| jobs.iter().filter(|j| j.state == status).count();
        ClusterOverview {
            taskmanagers: managers.len(),
            slots_total: managers.iter().map(|m| m.slots).sum(),
            slots_available: managers.iter().map(|m| m.free_slots).sum(),
            jobs_running: count(JobStatus::Running)
                + count(JobStatus::Created)
                + count(JobStatus::Restarting),
            jobs_finished: count(JobStatus::Finished),
            jobs_cancelled: count(JobStatus::Canceled),
            jobs_failed: count(JobStatus::Failed),
            warnings: lock(&self.warnings).clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    /// Records a warning every client of the API is shown (in `/overview`).
    pub fn warn(&self, warning: String) {
        lock(&self.warnings).push(warning);
    }
}

fn overview(job: &JobRecord) -> JobOverview {
    let duration = match (job.runtime, job.started) {
        (Some(runtime), _) => runtime,
        (None, Some(started)) => started.elapsed(),
        (None, None) => Duration::ZERO,
    };
    JobOverview {
        jid: job.id.clone(),
        name: job.request.plan.name.clone(),
        state: job.status,
        start_time: job.start_ms.unwrap_or(job.submitted_ms),
        end_time: job
            .end_ms
            .map_or(-1, |ms| i64::try_from(ms).unwrap_or(i64::MAX)),
        duration: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
        message: match (&job.waiting, &job.error) {
            (Some(waiting), Some(error)) => Some(format!("{waiting} ({error})")),
            (waiting, error) => waiting.clone().or_else(|| error.clone()),
        },
    }
}
