//! A TaskManager's Prometheus endpoint: its processes' CPU time and memory (its own and its
//! workers'), and the metrics of the subtasks it runs, which the JobManager sends it with
//! Flink's names.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use sluice_runtime::metrics::MetricSample;

use super::worker_process::Workers;
use crate::prometheus::{self, process};

/// The latest samples of each job's subtasks here, by job.
#[derive(Debug, Clone, Default)]
pub struct JobSamples(Arc<Mutex<BTreeMap<String, Vec<MetricSample>>>>);

impl JobSamples {
    /// The job's subtasks' samples, replacing its previous ones.
    pub fn set(&self, job: String, samples: Vec<MetricSample>) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(job, samples);
    }

    /// The samples of the jobs in `running`, forgetting the others'.
    fn of_running(&self, running: &std::collections::BTreeSet<String>) -> Vec<MetricSample> {
        let mut samples = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        samples.retain(|job, _| running.contains(job));
        samples.values().flatten().cloned().collect()
    }
}

/// The endpoint's text now: this TaskManager `id`'s process samples and its subtasks'.
pub fn exposition(id: &str, workers: &Workers, jobs: &JobSamples) -> String {
    let usage = process::usage_with(&workers.pids());
    let labels = [("tm_id", id)];
    let mut samples = vec![
        MetricSample::new(
            "flink_taskmanager_Status_Process_CPU_Time",
            &labels,
            usage.cpu_seconds,
        ),
        MetricSample::new(
            "flink_taskmanager_Status_Process_Memory_RSS",
            &labels,
            usage.rss_bytes as f64,
        ),
        MetricSample::new(
            "flink_taskmanager_Status_Workers",
            &labels,
            workers.pids().len() as f64,
        ),
    ];
    samples.extend(jobs.of_running(&workers.jobs()));
    prometheus::render(&samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_jobs_with_workers_here_are_shown() {
        let jobs = JobSamples::default();
        jobs.set(
            "job-a".into(),
            vec![MetricSample::new(
                "flink_taskmanager_job_task_numRecordsIn",
                &[],
                3.0,
            )],
        );
        let text = exposition("tm-1", &Workers::default(), &jobs);
        assert!(
            text.contains("flink_taskmanager_Status_Workers{tm_id=\"tm-1\"} 0"),
            "{text}"
        );
        // No worker of job-a runs here (any more): its samples are gone.
        assert!(!text.contains("numRecordsIn"), "{text}");
        assert!(jobs.of_running(&["job-a".to_string()].into()).is_empty());
    }
}
