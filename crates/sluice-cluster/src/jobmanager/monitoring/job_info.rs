//! A job's failures and configuration in Flink's shapes: `/jobs/{jobid}/exceptions` and
//! `/jobs/{jobid}/config`.

use serde_json::{Value, json};
use sluice_runtime::checkpoint::RestartStrategy;

use super::JobView;

/// `/jobs/{jobid}/exceptions`: the failures of the job's attempts, newest first.
pub fn exceptions(view: &JobView) -> Value {
    let entries: Vec<Value> = view
        .exceptions
        .iter()
        .rev()
        .map(|failure| {
            let first_line = failure.message.lines().next().unwrap_or_default();
            json!({
                "exceptionName": first_line,
                "stacktrace": failure.message,
                "timestamp": failure.at_ms,
                "taskName": task_of(&failure.message),
                "failureLabels": {},
                "concurrentExceptions": [],
                // Sluice's: which attempt failed.
                "attempt": failure.attempt,
            })
        })
        .collect();
    json!({
        "exceptionHistory": {
            "entries": entries,
            "truncated": view.exceptions_truncated,
        },
    })
}

/// The task a failure names (`task NAME (i/n) failed: …`), or an empty string.
fn task_of(message: &str) -> String {
    message
        .split_once("task ")
        .and_then(|(_, rest)| rest.split_once(" failed"))
        .map_or_else(String::new, |(task, _)| task.to_string())
}

/// How a restart strategy reads.
fn describe(strategy: Option<&RestartStrategy>) -> String {
    match strategy {
        None => "Cluster level default restart strategy".into(),
        Some(RestartStrategy::None) => "Restart deactivated.".into(),
        Some(RestartStrategy::FixedDelay { attempts, delay }) => {
            format!("Restart with fixed delay ({delay:?}). #{attempts} restart attempts.")
        }
        Some(RestartStrategy::ExponentialDelay {
            initial,
            max,
            multiplier,
            ..
        }) => format!(
            "Restart with exponential delay: from {initial:?} to {max:?}, times {multiplier}."
        ),
        Some(RestartStrategy::FailureRate {
            max_failures,
            interval,
            ..
        }) => format!("Failure rate restart: at most {max_failures} failures in {interval:?}."),
    }
}

/// `/jobs/{jobid}/config`: the job's execution configuration; the job options it was
/// submitted with are its user configuration.
pub fn job_config(view: &JobView) -> Value {
    let options: serde_json::Map<String, Value> = view
        .job_options
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_string(), json!(value.trim())))
        .collect();
    json!({
        "jid": view.details.overview.jid,
        "name": view.details.overview.name,
        "execution-config": {
            "execution-mode": "PIPELINED",
            "restart-strategy": describe(view.restart_strategy.as_ref()),
            "job-parallelism": view.parallelism,
            "object-reuse-mode": false,
            "user-config": options,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobmanager::views::{JobException, JobStatus};

    #[test]
    fn failures_are_listed_newest_first_with_their_task() {
        let mut view = super::super::tests::view(JobStatus::Restarting);
        view.exceptions = vec![
            JobException {
                at_ms: 10,
                attempt: 1,
                message: "worker 0 on tm: task Map (1/2) failed: boom\ncaused by: disk".into(),
            },
            JobException {
                at_ms: 20,
                attempt: 2,
                message: "TaskManager tm lost".into(),
            },
        ];
        let value = exceptions(&view);
        let entries = value["exceptionHistory"]["entries"].as_array().unwrap();
        assert_eq!(entries[0]["timestamp"], 20);
        assert_eq!(entries[1]["taskName"], "Map (1/2)");
        assert_eq!(
            entries[1]["exceptionName"],
            "worker 0 on tm: task Map (1/2) failed: boom"
        );
        assert_eq!(entries[0]["taskName"], "");
    }

    #[test]
    fn the_job_options_are_the_user_configuration() {
        let mut view = super::super::tests::view(JobStatus::Running);
        view.job_options = "state.backend.type: rocksdb\npipeline.name: x".into();
        view.restart_strategy = Some(RestartStrategy::None);
        let value = job_config(&view);
        assert_eq!(value["execution-config"]["job-parallelism"], 2);
        assert_eq!(
            value["execution-config"]["user-config"]["state.backend.type"],
            "rocksdb"
        );
        assert_eq!(
            value["execution-config"]["restart-strategy"],
            "Restart deactivated."
        );
    }
}
