//! Jobs' metrics as Prometheus samples with Flink's names and labels: each subtask's on the
//! TaskManager that runs it (`flink_taskmanager_job_task_*`, its operators'
//! `flink_taskmanager_job_task_operator_*`), each job's on the JobManager
//! (`flink_jobmanager_job_*`).

use sluice_runtime::metrics::MetricSample as Sample;

use super::{JobView, SUBTASK_METRICS, subtasks};
use crate::jobmanager::monitor::Monitor;

/// The samples of the subtasks of `view`'s job that run on TaskManager `task_manager`.
pub fn task_samples(view: &JobView, task_manager: &str) -> Vec<Sample> {
    let job = &view.details.overview;
    let mut samples = Vec::new();
    for vertex in view.vertices.iter() {
        for subtask in subtasks(view, vertex) {
            let Some(worker) = subtask.worker.filter(|w| w.task_manager == task_manager) else {
                continue;
            };
            let index = subtask.index.to_string();
            let labels = [
                ("job_id", job.jid.as_str()),
                ("job_name", job.name.as_str()),
                ("task_id", vertex.id.as_str()),
                ("task_name", vertex.name.as_str()),
                ("subtask_index", index.as_str()),
                ("host", worker.host.as_str()),
                ("tm_id", task_manager),
            ];
            for (metric, value) in SUBTASK_METRICS.iter().zip(subtask.metric_values()) {
                samples.push(Sample::new(
                    format!("flink_taskmanager_job_task_{metric}"),
                    &labels,
                    value,
                ));
            }
            let latest = worker.metrics.latest.as_ref();
            for (uid, name) in &vertex.operators {
                let Some(reading) = latest.and_then(|r| r.operator(uid, subtask.index)) else {
                    continue;
                };
                let mut operator = labels.to_vec();
                operator.push(("operator_id", uid.as_str()));
                operator.push(("operator_name", name.as_str()));
                for (metric, value) in [
                    ("numRecordsIn", reading.records_in as f64),
                    ("numRecordsOut", reading.records_out as f64),
                    ("currentInputWatermark", reading.watermark_in as f64),
                    ("currentOutputWatermark", reading.watermark_out as f64),
                ] {
                    samples.push(Sample::new(
                        format!("flink_taskmanager_job_task_operator_{metric}"),
                        &operator,
                        value,
                    ));
                }
            }
        }
    }
    samples
}

/// The metrics of `view`'s job by Flink's names (`/jobs/{jobid}/metrics`, and its Prometheus
/// samples on the JobManager): its uptime (ms), restarts and checkpoints.
pub fn job_metrics(view: &JobView) -> Vec<(&'static str, f64)> {
    let job = &view.details.overview;
    let last = view.checkpoints.newest(|c| !c.savepoint);
    let running = job.state == crate::jobmanager::views::JobStatus::Running;
    vec![
        ("uptime", if running { job.duration as f64 } else { 0.0 }),
        (
            "numRestarts",
            f64::from(view.details.attempt.saturating_sub(1)),
        ),
        (
            "numberOfCompletedCheckpoints",
            view.checkpoints.count(|c| !c.savepoint) as f64,
        ),
        (
            "numberOfFailedCheckpoints",
            view.checkpoints.failed() as f64,
        ),
        (
            "lastCheckpointDuration",
            last.as_ref().map_or(0.0, |c| c.duration.as_millis() as f64),
        ),
        ("lastCheckpointSize", last.map_or(0.0, |c| c.bytes as f64)),
    ]
}

/// The samples of `view`'s job on the JobManager: [`job_metrics`], labelled with the job.
pub fn job_samples(view: &JobView) -> Vec<Sample> {
    let job = &view.details.overview;
    let labels = [
        ("job_id", job.jid.as_str()),
        ("job_name", job.name.as_str()),
    ];
    job_metrics(view)
        .into_iter()
        .map(|(metric, value)| {
            Sample::new(format!("flink_jobmanager_job_{metric}"), &labels, value)
        })
        .collect()
}

/// The JobManager's own metrics by Flink's names (`/jobmanager/metrics`, and its Prometheus
/// samples): the cluster's TaskManagers, slots and running jobs, and its process's CPU time
/// (seconds) and resident memory (bytes).
pub fn job_manager_metrics(monitor: &dyn Monitor) -> Vec<(&'static str, f64)> {
    let overview = monitor.overview();
    let usage = crate::prometheus::process::usage_with(&[]);
    vec![
        ("numRegisteredTaskManagers", overview.taskmanagers as f64),
        ("numRunningJobs", overview.jobs_running as f64),
        ("taskSlotsTotal", overview.slots_total as f64),
        ("taskSlotsAvailable", overview.slots_available as f64),
        ("Status.Process.CPU.Time", usage.cpu_seconds),
        ("Status.Process.Memory.RSS", usage.rss_bytes as f64),
    ]
}

/// The JobManager's Prometheus text: [`job_manager_metrics`], and each job's samples
/// ([`job_samples`]) while it runs.
pub fn job_manager_exposition(dispatcher: &dyn Monitor) -> String {
    let mut samples: Vec<Sample> = job_manager_metrics(dispatcher)
        .into_iter()
        .map(|(metric, value)| {
            let name = format!("flink_jobmanager_{}", metric.replace('.', "_"));
            Sample::new(name, &[], value)
        })
        .collect();
    for job in dispatcher.jobs() {
        if !job.state.is_terminal()
            && let Some(view) = dispatcher.job_view(&job.jid)
        {
            samples.extend(job_samples(&view));
        }
    }
    crate::prometheus::render(&samples)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobmanager::views::JobStatus;

    #[test]
    fn a_task_managers_subtasks_have_flinks_names_and_labels() {
        let view = super::super::tests::view(JobStatus::Running);
        let samples = task_samples(&view, "tm-1");
        let out_of_map = samples
            .iter()
            .find(|s| {
                s.name == "flink_taskmanager_job_task_numRecordsOut"
                    && s.labels.contains(&("subtask_index".into(), "1".into()))
                    && s.labels
                        .contains(&("task_name".into(), "Source: numbers -> Map".into()))
            })
            .unwrap();
        assert_eq!(out_of_map.value, 12.0);
        let map = samples
            .iter()
            .find(|s| {
                s.name == "flink_taskmanager_job_task_operator_numRecordsIn"
                    && s.labels.contains(&("operator_name".into(), "Map".into()))
                    && s.labels.contains(&("subtask_index".into(), "0".into()))
            })
            .unwrap();
        assert_eq!(map.value, 30.0);
        // Nothing of the job runs on another TaskManager.
        assert!(task_samples(&view, "tm-2").is_empty());
        let job = job_samples(&view);
        assert!(
            job.iter()
                .any(|s| s.name == "flink_jobmanager_job_uptime" && s.value == 500.0)
        );
    }
}
