//! What the monitoring REST API and the dashboard read and act on: the JobManager's dispatcher
//! in a cluster, or the jobs of this process's mini-cluster in a local run (`crate::local_web`).

use super::dispatcher::Dispatcher;
use super::monitoring::JobView;
use super::views::{ClusterOverview, JobOverview, TaskManagerDetails, TaskManagerOverview};

/// The jobs and TaskManagers a REST API serves.
pub trait Monitor: Send + Sync + 'static {
    /// The cluster at a glance.
    fn overview(&self) -> ClusterOverview;
    /// The TaskManagers.
    fn task_managers(&self) -> Vec<TaskManagerOverview>;
    /// One TaskManager with the slots each job uses on it.
    fn task_manager(&self, id: &str) -> Option<TaskManagerDetails>;
    /// One TaskManager's metrics by Flink's names (its process's and workers' CPU and memory).
    fn task_manager_metrics(&self, id: &str) -> Option<Vec<(&'static str, f64)>>;
    /// Every job, newest first.
    fn jobs(&self) -> Vec<JobOverview>;
    /// Whether there is a job `id`.
    fn has_job(&self, id: &str) -> bool;
    /// The monitoring view of job `id`.
    fn job_view(&self, id: &str) -> Option<JobView>;
    /// Cancels job `id`; why not, if it cannot be.
    fn cancel(&self, id: &str) -> Result<(), String>;
    /// Takes a savepoint of job `id` into `directory` (stopping the job when `stop`) and
    /// returns its path; waits for it.
    fn savepoint(&self, id: &str, directory: &str, stop: bool) -> Result<String, String>;
    /// Rescales job `id` to default parallelism `parallelism` through a savepoint into
    /// `directory`; returns the savepoint's path once the job runs again. Waits for it.
    fn rescale(&self, id: &str, parallelism: usize, directory: &str) -> Result<String, String> {
        let _ = (parallelism, directory);
        Err(format!(
            "job {id} runs on an embedded mini-cluster, which does not rescale a job: stop it \
             with a savepoint and run it again from there at another parallelism"
        ))
    }
    /// Whether a read now could wait for work that blocks (deploying, reading storage) holding
    /// the state: the REST API then reads on a blocking thread rather than its own.
    fn busy(&self) -> bool {
        false
    }
}

impl Monitor for Dispatcher {
    fn overview(&self) -> ClusterOverview {
        Dispatcher::overview(self)
    }

    fn task_managers(&self) -> Vec<TaskManagerOverview> {
        Dispatcher::task_managers(self)
    }

    fn task_manager(&self, id: &str) -> Option<TaskManagerDetails> {
        Dispatcher::task_manager(self, id)
    }

    fn task_manager_metrics(&self, id: &str) -> Option<Vec<(&'static str, f64)>> {
        Dispatcher::task_manager_metrics(self, id)
    }

    fn jobs(&self) -> Vec<JobOverview> {
        Dispatcher::jobs(self)
    }

    fn has_job(&self, id: &str) -> bool {
        self.job(id).is_some()
    }

    fn job_view(&self, id: &str) -> Option<JobView> {
        Dispatcher::job_view(self, id)
    }

    fn cancel(&self, id: &str) -> Result<(), String> {
        Dispatcher::cancel(self, id)
    }

    fn savepoint(&self, id: &str, directory: &str, stop: bool) -> Result<String, String> {
        Dispatcher::savepoint(self, id, directory, stop)
    }

    fn rescale(&self, id: &str, parallelism: usize, directory: &str) -> Result<String, String> {
        Dispatcher::rescale(self, id, parallelism, directory)
    }

    fn busy(&self) -> bool {
        Dispatcher::busy(self)
    }
}
