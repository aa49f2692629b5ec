//! What the dispatcher answers the REST API: jobs, one job, TaskManagers, the cluster overview
//! and its warnings.

use super::*;
use crate::jobmanager::monitoring::{CheckpointsView, JobView, WorkerView, flink_state_backend};

impl Dispatcher {
    /// Every job, newest first.
    pub fn jobs(&self) -> Vec<JobOverview> {
        self.locked().jobs.iter().rev().map(overview).collect()
    }

    /// One job's details.
    pub fn job(&self, id: &str) -> Option<JobDetails> {
        let state = self.locked();
        state.jobs.iter().find(|job| job.id == id).map(details)
    }

    /// What the monitoring views of one job are built from.
    pub fn job_view(&self, id: &str) -> Option<JobView> {
        let state = self.locked();
        let job = state.jobs.iter().find(|job| job.id == id)?;
        let workers = job
            .workers
            .iter()
            .map(|w| WorkerView {
                task_manager: w.task_manager.clone(),
                host: state
                    .task_managers
                    .get(&w.task_manager)
                    .map_or_else(String::new, |entry| entry.info.host.clone()),
                pipelines: w.pipelines.clone(),
                finished: w.finished,
                metrics: w.metrics.reading(),
            })
            .collect();
        Some(JobView {
            details: details(job),
            vertices: Arc::clone(&job.vertices),
            submitted_ms: job.submitted_ms,
            now_ms: now_ms(),
            workers,
            checkpoints: checkpoints_view(job),
            exceptions: job.exceptions.clone(),
            exceptions_truncated: job.exceptions_truncated,
            parallelism: job.request.plan.pipelines,
            restart_strategy: job.request.plan.restart_strategy.clone(),
            job_options: job.request.job_options.clone(),
        })
    }

    /// The registered TaskManagers.
    pub fn task_managers(&self) -> Vec<TaskManagerOverview> {
        let state = self.locked();
        state
            .task_managers
            .values()
            .map(|entry| task_manager_overview(&state, entry))
            .collect()
    }

    /// One TaskManager with the slots each job uses on it.
    pub fn task_manager(&self, id: &str) -> Option<TaskManagerDetails> {
        let state = self.locked();
        let entry = state.task_managers.get(id)?;
        let allocated_slots = running_workers_on(&state, id)
            .flat_map(|(job, w)| {
                w.pipelines.iter().map(move |pipeline| AllocatedSlot {
                    job_id: job.id.clone(),
                    assigned_tasks: subtasks_of(&job.request.plan, std::slice::from_ref(pipeline)),
                })
            })
            .collect();
        Some(TaskManagerDetails {
            overview: task_manager_overview(&state, entry),
            allocated_slots,
        })
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
            flink_version: env!("CARGO_PKG_VERSION").to_string(),
            flink_commit: format!("sluice {}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// Records a warning every client of the API is shown (in `/overview`).
    pub fn warn(&self, warning: String) {
        lock(&self.warnings).push(warning);
    }
}

/// A job as the job-management API shows it.
fn details(job: &JobRecord) -> JobDetails {
    JobDetails {
        overview: overview(job),
        plan: Arc::clone(&job.plan),
        pipelines: job.request.plan.pipelines,
        placement: job
            .workers
            .iter()
            .map(|w| (w.task_manager.clone(), w.pipelines.clone()))
            .collect(),
        data_addresses: job.workers.iter().map(|w| w.data_address.clone()).collect(),
        attempt: job.attempt,
        restored_from: job.restore_from.clone(),
    }
}

/// A job's checkpoints over all its attempts.
fn checkpoints_view(job: &JobRecord) -> CheckpointsView {
    // The job's options may choose the state backend (a program may choose its own).
    let backend = job
        .request
        .job_options
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(key, _)| key.trim() == "state.backend.type")
        .map_or("hashmap", |(_, value)| value);
    CheckpointsView {
        config: job.request.plan.checkpointing.clone(),
        state_backend: flink_state_backend(backend),
        attempts: job.checkpoint_stats.clone(),
        restored: job
            .restore_from
            .clone()
            .map(|path| (path, job.start_ms.unwrap_or(job.submitted_ms))),
    }
}

/// A TaskManager as `/taskmanagers` lists it.
fn task_manager_overview(state: &State, entry: &TaskManagerEntry) -> TaskManagerOverview {
    let since = u64::try_from(entry.last_heartbeat.elapsed().as_millis()).unwrap_or(u64::MAX);
    let assigned_tasks = running_workers_on(state, &entry.info.id)
        .map(|(job, w)| subtasks_of(&job.request.plan, &w.pipelines))
        .sum();
    TaskManagerOverview {
        id: entry.info.id.clone(),
        host: entry.info.host.clone(),
        slots: entry.info.slots,
        free_slots: entry.free_slots(),
        last_heartbeat_ms: now_ms().saturating_sub(since),
        data_port: entry.info.data_port,
        assigned_tasks,
        hardware: Hardware {
            cpu_cores: entry.info.cpu_cores,
            physical_memory: entry.info.physical_memory,
        },
        memory_used: entry.usage.latest().map_or(0, |usage| usage.rss_bytes),
    }
}

/// How many subtasks of `job` run in its parallel `pipelines` (pipeline `p` holds subtask `p`
/// of every task with a higher parallelism).
pub(crate) fn subtasks_of(plan: &ClusterPlan, pipelines: &[usize]) -> usize {
    plan.tasks
        .iter()
        .map(|task| pipelines.iter().filter(|p| **p < task.parallelism).count())
        .sum()
}

/// The workers of running jobs on TaskManager `id`, with their jobs.
fn running_workers_on<'a>(
    state: &'a State,
    id: &'a str,
) -> impl Iterator<Item = (&'a JobRecord, &'a WorkerState)> {
    state
        .jobs
        .iter()
        .filter(|job| job.status == JobStatus::Running)
        .flat_map(move |job| {
            job.workers
                .iter()
                .filter(move |w| w.task_manager == id)
                .map(move |w| (job, w))
        })
}
