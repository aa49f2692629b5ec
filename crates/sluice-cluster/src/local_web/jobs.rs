//! The jobs of this process's mini-cluster as the monitoring API sees them: one TaskManager
//! (this process) whose slots hold the jobs' parallel pipelines, and each job's view built from
//! its watch. Counters are sampled when read, at most once a second, so rates span a second or
//! more.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use sluice_runtime::deploy::job_watch::{JobSnapshot, JobWatch, now_ms};

use crate::jobmanager::dispatcher::{WorkerMetrics, subtasks_of, task_counts};
use crate::jobmanager::monitor::Monitor;
use crate::jobmanager::monitoring::{
    CheckpointsView, JobView, Vertex, WorkerView, flink_state_backend, vertices,
};
use crate::jobmanager::views::{
    AllocatedSlot, ClusterOverview, Hardware, JobDetails, JobOverview, JobStatus,
    TaskManagerDetails, TaskManagerOverview, status_name,
};
use crate::prometheus::process::{self, UsageSamples};

/// The id of the one TaskManager of a local run: this process.
pub const TASK_MANAGER: &str = "local";

/// The shortest time between two samples of a job's counters.
const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

/// The jobs this process ran or runs, oldest first.
pub struct LocalJobs {
    warning: Option<String>,
    jobs: Mutex<Vec<LocalJob>>,
    /// This process's CPU time and memory, read when asked for.
    usage: Mutex<UsageSamples>,
}

struct LocalJob {
    watch: JobWatch,
    /// Its plan and the plan's vertices, derived once.
    plan: Arc<serde_json::Value>,
    vertices: Arc<Vec<Vertex>>,
    samples: WorkerMetrics,
    sampled: Option<Instant>,
}

impl LocalJob {
    fn id(&self) -> String {
        self.watch.plan().job_id.to_string()
    }
}

impl LocalJobs {
    /// No jobs yet; `warning` is shown to every client (an open API).
    pub fn new(warning: Option<String>) -> Self {
        LocalJobs {
            warning,
            jobs: Mutex::new(Vec::new()),
            usage: Mutex::new(UsageSamples::default()),
        }
    }

    /// Serves `watch`'s job from now on.
    pub fn add(&self, watch: JobWatch) {
        let plan = &watch.plan().plan;
        self.locked().push(LocalJob {
            plan: Arc::new(plan.clone()),
            vertices: Arc::new(vertices(plan)),
            watch,
            samples: WorkerMetrics::default(),
            sampled: None,
        });
    }

    fn locked(&self) -> MutexGuard<'_, Vec<LocalJob>> {
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The jobs still running.
    fn running(&self) -> Vec<JobWatch> {
        self.locked()
            .iter()
            .filter(|job| !job.watch.status().is_terminal())
            .map(|job| job.watch.clone())
            .collect()
    }

    fn task_manager_overview(&self) -> TaskManagerOverview {
        // As many slots as the widest job has pipelines.
        let slots = self
            .locked()
            .iter()
            .map(|job| job.watch.plan().pipelines)
            .max()
            .unwrap_or(1);
        let running = self.running();
        let used: usize = running.iter().map(|job| job.plan().pipelines).sum();
        let assigned_tasks = running
            .iter()
            .map(|job| {
                let pipelines: Vec<usize> = (0..job.plan().pipelines).collect();
                subtasks_of(job.plan(), &pipelines)
            })
            .sum();
        TaskManagerOverview {
            id: TASK_MANAGER.to_string(),
            host: "localhost".to_string(),
            slots,
            free_slots: slots.saturating_sub(used),
            last_heartbeat_ms: now_ms(),
            data_port: 0,
            assigned_tasks,
            hardware: Hardware {
                cpu_cores: cores(),
                physical_memory: process::physical_memory().unwrap_or(0),
            },
            memory_used: process::usage_with(&[]).rss_bytes,
        }
    }
}

/// This machine's CPU cores.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// A local job as `/jobs/overview` lists it.
fn overview(watch: &JobWatch, snapshot: &JobSnapshot) -> JobOverview {
    let plan = watch.plan();
    let start = watch.submitted_ms();
    JobOverview {
        jid: plan.job_id.to_string(),
        name: plan.name.clone(),
        state: snapshot.status,
        start_time: start,
        end_time: snapshot
            .end_ms
            .map_or(-1, |ms| i64::try_from(ms).unwrap_or(i64::MAX)),
        duration: snapshot.end_ms.unwrap_or_else(now_ms).saturating_sub(start),
        message: snapshot.error.clone(),
        last_modification: snapshot.modified_ms,
        tasks: task_counts(plan, snapshot.status),
    }
}

impl Monitor for LocalJobs {
    fn overview(&self) -> ClusterOverview {
        let jobs = self.jobs();
        let count = |status: JobStatus| jobs.iter().filter(|j| j.state == status).count();
        let manager = self.task_manager_overview();
        ClusterOverview {
            taskmanagers: 1,
            slots_total: manager.slots,
            slots_available: manager.free_slots,
            jobs_running: jobs.iter().filter(|j| !j.state.is_terminal()).count(),
            jobs_finished: count(JobStatus::Finished),
            jobs_cancelled: count(JobStatus::Canceled),
            jobs_failed: count(JobStatus::Failed),
            warnings: self.warning.iter().cloned().collect(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            flink_version: env!("CARGO_PKG_VERSION").to_string(),
            flink_commit: format!("sluice {}", env!("CARGO_PKG_VERSION")),
        }
    }

    fn task_managers(&self) -> Vec<TaskManagerOverview> {
        vec![self.task_manager_overview()]
    }

    fn task_manager(&self, id: &str) -> Option<TaskManagerDetails> {
        if id != TASK_MANAGER {
            return None;
        }
        let allocated_slots = self
            .running()
            .iter()
            .flat_map(|job| {
                let plan = job.plan();
                (0..plan.pipelines).map(move |pipeline| AllocatedSlot {
                    job_id: plan.job_id.to_string(),
                    assigned_tasks: subtasks_of(plan, &[pipeline]),
                })
            })
            .collect();
        Some(TaskManagerDetails {
            overview: self.task_manager_overview(),
            allocated_slots,
        })
    }

    fn task_manager_metrics(&self, id: &str) -> Option<Vec<(&'static str, f64)>> {
        if id != TASK_MANAGER {
            return None;
        }
        let mut usage = self.usage.lock().unwrap_or_else(PoisonError::into_inner);
        usage.update(process::usage_with(&[]));
        Some(usage.metrics(cores()))
    }

    fn jobs(&self) -> Vec<JobOverview> {
        self.locked()
            .iter()
            .rev()
            .map(|job| overview(&job.watch, &job.watch.snapshot()))
            .collect()
    }

    fn has_job(&self, id: &str) -> bool {
        self.locked().iter().any(|job| job.id() == id)
    }

    fn job_view(&self, id: &str) -> Option<JobView> {
        let mut jobs = self.locked();
        let job = jobs.iter_mut().find(|job| job.id() == id)?;
        let snapshot = job.watch.snapshot();
        if job.sampled.is_none_or(|at| at.elapsed() >= SAMPLE_INTERVAL) {
            job.samples.update(job.watch.metrics());
            job.sampled = Some(Instant::now());
        }
        let plan = job.watch.plan();
        let pipelines: Vec<usize> = (0..plan.pipelines).collect();
        Some(JobView {
            vertices: Arc::clone(&job.vertices),
            details: JobDetails {
                overview: overview(&job.watch, &snapshot),
                plan: Arc::clone(&job.plan),
                pipelines: plan.pipelines,
                placement: vec![(TASK_MANAGER.to_string(), pipelines.clone())],
                data_addresses: vec![None],
                attempt: snapshot.attempt,
                restored_from: snapshot.restored_from.clone(),
            },
            submitted_ms: job.watch.submitted_ms(),
            now_ms: now_ms(),
            workers: vec![WorkerView {
                task_manager: TASK_MANAGER.to_string(),
                host: "localhost".to_string(),
                pipelines,
                finished: snapshot.status.is_terminal(),
                metrics: job.samples.reading(),
            }],
            checkpoints: CheckpointsView {
                config: plan.checkpointing.clone(),
                state_backend: flink_state_backend(job.watch.state_backend()),
                attempts: snapshot.checkpoints,
                restored: snapshot
                    .restored_from
                    .map(|path| (path, job.watch.submitted_ms())),
            },
            exceptions: snapshot.exceptions,
            exceptions_truncated: false,
            parallelism: plan.pipelines,
            restart_strategy: plan.restart_strategy.clone(),
            job_options: String::new(),
        })
    }

    fn cancel(&self, id: &str) -> Result<(), String> {
        let jobs = self.locked();
        let job = jobs
            .iter()
            .find(|job| job.id() == id)
            .ok_or_else(|| format!("no job with id {id}"))?;
        let status = job.watch.status();
        if status.is_terminal() {
            return Err(format!("job {id} already ended ({})", status_name(status)));
        }
        job.watch.cancel();
        Ok(())
    }

    fn savepoint(&self, id: &str, directory: &str, stop: bool) -> Result<String, String> {
        let watch = self
            .locked()
            .iter()
            .find(|job| job.id() == id)
            .map(|job| job.watch.clone())
            .ok_or_else(|| format!("no job with id {id}"))?;
        watch
            .savepoint(directory, stop)
            .map_err(|error| error.to_string())
    }
}
