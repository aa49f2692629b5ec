//! A job as the dispatcher keeps it: its record (the job master's state), its workers, and
//! where its next attempt restores from.

use super::worker_metrics::WorkerMetrics;
use super::*;
use crate::jobmanager::monitoring::{Vertex, vertices};

/// One worker process of a job attempt.
#[derive(Debug)]
pub(super) struct WorkerState {
    pub(super) task_manager: String,
    pub(super) pipelines: Vec<usize>,
    pub(super) data_address: Option<String>,
    pub(super) link: Option<Link>,
    pub(super) finished: bool,
    /// Its tasks' counters.
    pub(super) metrics: WorkerMetrics,
}

/// A job and its job master's state.
#[derive(Debug)]
pub(super) struct JobRecord {
    pub(super) id: String,
    pub(super) request: SubmitRequest,
    /// The request's plan, shared with the answers that show it.
    pub(super) plan: Arc<serde_json::Value>,
    /// The plan's vertices, derived once.
    pub(super) vertices: Arc<Vec<Vertex>>,
    pub(super) status: JobStatus,
    pub(super) error: Option<String>,
    pub(super) waiting: Option<String>,
    pub(super) submitted_ms: u64,
    pub(super) start_ms: Option<u64>,
    pub(super) end_ms: Option<u64>,
    pub(super) started: Option<Instant>,
    pub(super) runtime: Option<Duration>,
    pub(super) attempt: u32,
    pub(super) workers: Vec<WorkerState>,
    pub(super) restarts: RestartTracker,
    pub(super) restart_at: Option<Instant>,
    /// Since when the job waits for slots.
    pub(super) waiting_since: Option<Instant>,
    /// The checkpoint or savepoint the submission asked to start from (any path
    /// `resolve_restore_point` takes).
    pub(super) restore_request: Option<String>,
    /// Whether the job was recovered from the job store: it resumes from its own latest
    /// checkpoint like a restarted attempt.
    pub(super) recovered: bool,
    /// The exact checkpoint the current attempt restores, resolved when it deployed.
    pub(super) restore_from: Option<String>,
    /// The restore point resolved for the next attempt, once it is.
    pub(super) resolved: Option<Option<String>>,
    /// Whether the next attempt waits for the tick to resolve its restore point.
    pub(super) resolving: bool,
    pub(super) coordinator: Option<CoordinatorHandle>,
    /// The thread of the previous attempt's coordinator until it ended (the fence).
    pub(super) stopping_coordinator: Option<std::thread::JoinHandle<()>>,
    /// Whether the attempt's coordinator is being started (outside the lock): the next
    /// attempt waits for it too.
    pub(super) starting_coordinator: bool,
    /// Task reports that came while the coordinator was being started, for it.
    pub(super) early_reports: Vec<TaskReport>,
    /// When the job ended.
    pub(super) ended: Option<Instant>,
    /// The checkpoint statistics of each attempt's coordinator, oldest first.
    pub(super) checkpoint_stats: Vec<CheckpointCounters>,
    /// Why its attempts failed, the newest [`EXCEPTION_HISTORY`], oldest first.
    pub(super) exceptions: Vec<JobException>,
    /// Whether older failures were dropped from `exceptions`.
    pub(super) exceptions_truncated: bool,
}

/// How many failures of a job are kept (Flink's `web.exception-history-size`).
pub(super) const EXCEPTION_HISTORY: usize = 16;

impl JobRecord {
    /// Records why the current attempt failed.
    pub(super) fn record_failure(&mut self, reason: &str) {
        if self.exceptions.len() >= EXCEPTION_HISTORY {
            self.exceptions.remove(0);
            self.exceptions_truncated = true;
        }
        self.exceptions.push(JobException {
            at_ms: now_ms(),
            attempt: self.attempt,
            message: reason.to_string(),
        });
    }
}

impl JobRecord {
    /// Where the pipelines of the attempt run: each pipeline's worker and each worker's data
    /// address.
    pub(super) fn placement(&self) -> Placement {
        let mut worker_of_pipeline = vec![0; self.request.plan.pipelines.max(1)];
        for (index, worker) in self.workers.iter().enumerate() {
            for pipeline in &worker.pipelines {
                worker_of_pipeline[*pipeline] = index;
            }
        }
        Placement {
            worker_of_pipeline,
            data_addresses: self
                .workers
                .iter()
                .map(|w| w.data_address.clone().unwrap_or_default())
                .collect(),
        }
    }

    pub(super) fn new(id: String, request: SubmitRequest, submitted_ms: u64) -> Self {
        let strategy = RestartStrategy::of_job(
            request.plan.restart_strategy.as_ref(),
            request.plan.checkpointing.is_some(),
        );
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
            plan: Arc::new(request.plan.plan.clone()),
            vertices: Arc::new(vertices(&request.plan.plan)),
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
            checkpoint_stats: Vec::new(),
            exceptions: Vec::new(),
            exceptions_truncated: false,
        }
    }

    /// Whether the previous attempt's coordinator is still running (it may still complete a
    /// checkpoint, so the next attempt cannot choose one yet).
    pub(super) fn coordinator_stopping(&mut self) -> bool {
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

    /// Too few slots are free: records what the job waits for; returns whether it has waited
    /// longer than `timeout`.
    pub(super) fn waited_for_slots(
        &mut self,
        needed: usize,
        available: usize,
        task_managers: usize,
        timeout: Duration,
    ) -> bool {
        let since = *self.waiting_since.get_or_insert_with(Instant::now);
        if since.elapsed() > timeout {
            return true;
        }
        self.waiting = Some(format!(
            "waiting for {needed} free slots; {available} are free in {task_managers} TaskManagers"
        ));
        false
    }

    /// Whether the next attempt's restore point is known; when it must be read from storage,
    /// marks the job for the tick, which resolves it outside the lock (deployment follows).
    pub(super) fn restore_point_resolved(&mut self) -> bool {
        if self.resolved.is_none() {
            if !self.restore_query().is_trivial() {
                self.resolving = true;
                self.waiting = Some("resolving the checkpoint to restore".into());
                return false;
            }
            self.resolved = Some(None);
        }
        true
    }

    /// Starts the next attempt on `placement`: one worker per TaskManager with its pipelines.
    pub(super) fn start_next_attempt(&mut self, placement: &[(String, Vec<usize>)]) {
        self.restore_from = self.resolved.take().flatten();
        self.attempt += 1;
        self.waiting = None;
        self.status = JobStatus::Running;
        self.start_ms.get_or_insert_with(now_ms);
        self.started.get_or_insert_with(Instant::now);
        self.restarts.started();
        self.workers = placement
            .iter()
            .map(|(tm, pipelines)| WorkerState {
                task_manager: tm.clone(),
                pipelines: pipelines.clone(),
                data_address: None,
                link: None,
                finished: false,
                metrics: WorkerMetrics::default(),
            })
            .collect();
    }

    /// What each TaskManager of `placement` runs for the current attempt: the job's binary
    /// with its parallelism, restore point and job options in the environment.
    pub(super) fn worker_specs(&self, placement: &[(String, Vec<usize>)]) -> Vec<WorkerSpec> {
        let mut env = vec![(
            ENV_PARALLELISM.to_string(),
            self.request.parallelism.to_string(),
        )];
        if let Some(path) = &self.restore_from {
            env.push((ENV_RESTORE_FROM.to_string(), path.clone()));
        }
        if !self.request.job_options.is_empty() {
            env.push((
                ENV_JOB_OPTIONS.to_string(),
                self.request.job_options.clone(),
            ));
        }
        (0..placement.len())
            .map(|worker| WorkerSpec {
                job: self.id.clone(),
                attempt: self.attempt,
                worker,
                binary: self.request.binary.clone(),
                args: self.request.args.clone(),
                env: env.clone(),
                working_dir: self.request.working_dir.clone(),
            })
            .collect()
    }

    /// What resolving the next attempt's restore point takes: after a failure (or a JobManager
    /// recovery) the job's own newest checkpoint comes first.
    pub(super) fn restore_query(&self) -> RestoreQuery {
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
pub(super) struct RestoreQuery {
    pub(super) job_id: JobId,
    /// The checkpoint directory whose newest checkpoint of this job comes first.
    pub(super) own_base: Option<String>,
    /// What the submission asked for.
    pub(super) request: Option<String>,
}

impl RestoreQuery {
    /// Whether there is nothing to look up (a first attempt restoring nothing).
    pub(super) fn is_trivial(&self) -> bool {
        self.own_base.is_none() && self.request.is_none()
    }

    /// The exact checkpoint to restore: the job's own newest, else what the submission asked
    /// for, else none.
    pub(super) fn resolve(&self) -> Result<Option<String>, String> {
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

pub(super) fn overview(job: &JobRecord) -> JobOverview {
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
        last_modification: job.end_ms.or(job.start_ms).unwrap_or(job.submitted_ms),
        tasks: task_counts(&job.request.plan, job.status),
    }
}

/// How many subtasks of a job with `plan` are in each state (Flink's lower-case names) and in
/// all, while the job is `status`.
pub(crate) fn task_counts(plan: &ClusterPlan, status: JobStatus) -> BTreeMap<String, usize> {
    let total: usize = plan.tasks.iter().map(|t| t.parallelism).sum();
    let mut counts: BTreeMap<String, usize> = [
        "created",
        "scheduled",
        "deploying",
        "running",
        "finished",
        "canceling",
        "canceled",
        "failed",
        "reconciling",
        "initializing",
    ]
    .into_iter()
    .map(|state| (state.to_string(), 0))
    .collect();
    let state = match status {
        JobStatus::Created | JobStatus::Restarting => "created",
        JobStatus::Running => "running",
        JobStatus::Finished => "finished",
        JobStatus::Failed => "failed",
        JobStatus::Canceled => "canceled",
    };
    counts.insert(state.to_string(), total);
    counts.insert("total".to_string(), total);
    counts
}
