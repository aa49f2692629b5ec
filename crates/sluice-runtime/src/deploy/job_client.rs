//! The client of a running job: wait for its result or cancel it. When an attempt fails and
//! the restart strategy allows, the client deploys the job again from its latest completed
//! checkpoint (Flink's restart strategies, in the local mini-cluster).

use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

use crate::checkpoint::{CoordinatorHandle, RestartStrategy, RestartTracker, latest_checkpoint_of};
use crate::deploy::job_watch::JobWatch;
use crate::deploy::mini_cluster::{JobExecutionResult, deploy};
use crate::deploy::worker::cluster_plan;
use crate::error::{JobError, TaskError};
use crate::graph::JobGraph;
use crate::metrics::MetricRegistry;
use crate::signal::CancelToken;

/// What a task thread reports when it ends: its name, subtask, parallelism and outcome.
pub(crate) type TaskOutcome = (String, usize, usize, Result<(), TaskError>);

/// One deployment of a job.
pub(crate) struct Attempt {
    pub(crate) job_name: String,
    pub(crate) cancel: CancelToken,
    pub(crate) outcomes: mpsc::Receiver<TaskOutcome>,
    pub(crate) task_count: usize,
    pub(crate) metrics: Arc<MetricRegistry>,
    pub(crate) started: Instant,
    /// The checkpoint coordinator, when the job checkpoints in this process.
    pub(crate) coordinator: Option<CoordinatorHandle>,
}

fn flag(flag: &Mutex<bool>) -> bool {
    *flag.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Attempt {
    /// Waits until every task ended; the attempt's result. The error is the root cause: the
    /// first failing task's own error, not the cancellations it caused.
    pub(crate) fn finish(
        mut self,
        user_cancelled: &Mutex<bool>,
    ) -> Result<JobExecutionResult, JobError> {
        let mut root_cause: Option<JobError> = None;
        let mut secondary: Option<JobError> = None;
        for _ in 0..self.task_count {
            let Ok((task, subtask, parallelism, outcome)) = self.outcomes.recv() else {
                break;
            };
            if let Err(cause) = outcome {
                self.cancel.cancel();
                let slot = if cause.is_secondary() {
                    &mut secondary
                } else {
                    &mut root_cause
                };
                slot.get_or_insert(JobError::Task {
                    task,
                    subtask,
                    parallelism,
                    cause,
                });
            }
        }
        let net_runtime = self.started.elapsed();
        let mut checkpoints = Vec::new();
        if let Some(coordinator) = self.coordinator.take() {
            // It ends by itself once every task finished; a failed attempt stops it.
            if root_cause.is_some() || secondary.is_some() {
                self.cancel.cancel();
            }
            let _ = coordinator.thread.join();
            let failure = coordinator
                .failure
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(reason) = failure {
                return Err(JobError::Checkpoint(reason));
            }
            // A copy: the job's watch keeps them too.
            checkpoints = coordinator
                .stats
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
        }
        // After a user's cancel, task errors are its consequences (operators interrupted while
        // waiting), not failures of the job.
        if flag(user_cancelled) {
            return Err(JobError::Cancelled);
        }
        if let Some(error) = root_cause.or(secondary) {
            return Err(error);
        }
        Ok(JobExecutionResult {
            job_name: self.job_name,
            net_runtime,
            operators: self.metrics.operator_summaries(),
            tasks: self.metrics.task_summaries(),
            checkpoints,
        })
    }
}

/// A handle on a running job: wait for it, or cancel it.
pub struct JobClient {
    job: JobGraph,
    /// The running attempt (taken while it is being finished).
    attempt: Option<Attempt>,
    current: Arc<Mutex<CancelToken>>,
    user_cancelled: Arc<Mutex<bool>>,
    restarts: RestartTracker,
    watch: JobWatch,
}

/// Cancels a running job from anywhere (a signal handler, another thread).
#[derive(Clone)]
pub struct CancelHandle {
    current: Arc<Mutex<CancelToken>>,
    user_cancelled: Arc<Mutex<bool>>,
}

impl CancelHandle {
    /// Cancels the job (and any restart); its result becomes [`JobError::Cancelled`].
    pub fn cancel(&self) {
        *self
            .user_cancelled
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = true;
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .cancel();
    }
}

/// Whether an attempt's failure can be healed by starting again: task and checkpoint
/// failures can; a bad graph, a missing input or an unusable checkpoint cannot.
fn restartable(error: &JobError) -> bool {
    matches!(error, JobError::Task { .. } | JobError::Checkpoint(_))
}

impl JobClient {
    /// Deploys the first attempt of `job`.
    pub(crate) fn start(job: JobGraph) -> Result<Self, JobError> {
        let attempt = deploy(&job)?;
        let current = Arc::new(Mutex::new(attempt.cancel.clone()));
        let user_cancelled = Arc::new(Mutex::new(false));
        let cancel = CancelHandle {
            current: Arc::clone(&current),
            user_cancelled: Arc::clone(&user_cancelled),
        };
        let backend = job.config.state_backend.name();
        let watch = JobWatch::new(cluster_plan(&job), backend, cancel, &attempt);
        Ok(JobClient {
            current,
            restarts: RestartTracker::new(RestartStrategy::of_job(
                job.config.restart_strategy.as_ref(),
                job.config.checkpointing.is_some(),
            )),
            job,
            attempt: Some(attempt),
            user_cancelled,
            watch,
        })
    }

    /// What the job shows while it runs (its state, counters and checkpoints), for the local
    /// REST API; it outlives this client.
    pub fn watch(&self) -> JobWatch {
        self.watch.clone()
    }

    /// A handle that cancels this job.
    pub fn cancel_handle(&self) -> CancelHandle {
        CancelHandle {
            current: Arc::clone(&self.current),
            user_cancelled: Arc::clone(&self.user_cancelled),
        }
    }

    /// Cancels the job.
    pub fn cancel(&self) {
        self.cancel_handle().cancel();
    }

    /// The live metrics of the current attempt.
    pub fn metrics(&self) -> Arc<MetricRegistry> {
        self.attempt
            .as_ref()
            .map_or_else(MetricRegistry::new, |a| Arc::clone(&a.metrics))
    }

    /// Takes a savepoint into `directory` (a directory or `file://` URL) and returns its path,
    /// a `chk-<id>` directory to restore from (Flink's `triggerSavepoint`). The job must
    /// checkpoint.
    pub fn trigger_savepoint(&self, directory: &str) -> Result<String, JobError> {
        self.savepoint(directory, false)
    }

    /// Takes a savepoint and ends the job with it: sources stop after its barrier, and the job
    /// finishes once it is complete (two-phase-commit sinks commit on it); returns its path.
    pub fn stop_with_savepoint(&self, directory: &str) -> Result<String, JobError> {
        self.savepoint(directory, true)
    }

    fn savepoint(&self, directory: &str, stop: bool) -> Result<String, JobError> {
        self.watch.savepoint(directory, stop)
    }

    /// How many times the job was restarted so far.
    pub fn restarts(&self) -> usize {
        self.restarts.restarts()
    }

    /// Waits until the job finished, restarting failed attempts as the restart strategy says;
    /// the job's result, or the failure that ended it.
    pub fn wait(mut self) -> Result<JobExecutionResult, JobError> {
        let result = self.run_attempts();
        self.watch.ended(&result);
        result
    }

    fn run_attempts(&mut self) -> Result<JobExecutionResult, JobError> {
        loop {
            let Some(attempt) = self.attempt.take() else {
                return Err(JobError::Runtime("the job has no running attempt".into()));
            };
            let error = match attempt.finish(&self.user_cancelled) {
                Ok(result) => return Ok(result),
                Err(error) if !restartable(&error) || flag(&self.user_cancelled) => {
                    return Err(error);
                }
                Err(error) => error,
            };
            let Some(delay) = self.restarts.on_failure() else {
                return Err(error);
            };
            tracing::warn!(
                "job '{}' failed, restarting in {delay:?} from its latest checkpoint: {error}",
                self.job.config.name
            );
            self.watch.attempt_failed(&error);
            if !self.sleep_unless_cancelled(delay) {
                return Err(JobError::Cancelled);
            }
            let mut job = self.job.clone();
            if let Some(latest) = latest_checkpoint(&job)? {
                job.config.restore_from = Some(latest);
            }
            let attempt = deploy(&job)?;
            *self.current.lock().unwrap_or_else(PoisonError::into_inner) = attempt.cancel.clone();
            if flag(&self.user_cancelled) {
                attempt.cancel.cancel();
            }
            self.watch
                .attempt_started(&attempt, job.config.restore_from.clone());
            self.attempt = Some(attempt);
            self.restarts.started();
        }
    }

    /// Sleeps `delay`; `false` when the user cancelled meanwhile.
    fn sleep_unless_cancelled(&self, delay: Duration) -> bool {
        let until = Instant::now() + delay;
        while Instant::now() < until {
            if flag(&self.user_cancelled) {
                return false;
            }
            std::thread::sleep((until - Instant::now()).min(Duration::from_millis(20)));
        }
        !flag(&self.user_cancelled)
    }
}

/// The newest intact checkpoint `job` wrote itself (never another job's), if any.
fn latest_checkpoint(job: &JobGraph) -> Result<Option<String>, JobError> {
    let Some(directory) = job.config.checkpoint_directory() else {
        return Ok(None);
    };
    latest_checkpoint_of(directory, job.config.job_id).map_err(JobError::Restore)
}
