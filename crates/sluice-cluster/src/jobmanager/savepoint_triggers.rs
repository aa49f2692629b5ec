//! Savepoints requested over REST, as Flink's asynchronous operations: a request answers at
//! once with a trigger id (`{"request-id"}`), and `/jobs/{jobid}/savepoints/{triggerid}` tells
//! whether it is in progress or completed, with its location or why it failed.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use serde_json::{Value, json};
use sluice_runtime::job_id::JobId;

/// How many triggers are remembered (the oldest are forgotten first).
pub const REMEMBERED: usize = 1000;

/// One requested savepoint: its trigger id, its job, and its outcome once it has one.
#[derive(Debug)]
struct Trigger {
    id: String,
    job: String,
    outcome: Option<Result<String, String>>,
}

/// The savepoints requested over REST.
#[derive(Debug, Default)]
pub struct SavepointTriggers {
    triggers: Mutex<VecDeque<Trigger>>,
}

impl SavepointTriggers {
    /// Records a savepoint of `job` being taken; returns its trigger id.
    pub fn start(&self, job: &str) -> String {
        let id = JobId::random().to_string();
        let mut triggers = self.triggers.lock().unwrap_or_else(PoisonError::into_inner);
        if triggers.len() >= REMEMBERED {
            triggers.pop_front();
        }
        triggers.push_back(Trigger {
            id: id.clone(),
            job: job.to_string(),
            outcome: None,
        });
        id
    }

    /// The savepoint of trigger `id` completed at `location`, or failed.
    pub fn finish(&self, id: &str, outcome: Result<String, String>) {
        let mut triggers = self.triggers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(trigger) = triggers.iter_mut().find(|t| t.id == id) {
            trigger.outcome = Some(outcome);
        }
    }

    /// Flink's status of trigger `id` of `job`: `None` when there is no such trigger.
    pub fn status(&self, job: &str, id: &str) -> Option<Value> {
        let triggers = self.triggers.lock().unwrap_or_else(PoisonError::into_inner);
        let trigger = triggers.iter().find(|t| t.id == id && t.job == job)?;
        Some(match &trigger.outcome {
            None => json!({ "status": { "id": "IN_PROGRESS" } }),
            Some(Ok(location)) => json!({
                "status": { "id": "COMPLETED" },
                "operation": { "location": location },
            }),
            Some(Err(reason)) => json!({
                "status": { "id": "COMPLETED" },
                "operation": {
                    "failure-cause": {
                        "class": "SavepointFailure",
                        "stack-trace": reason,
                    },
                },
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trigger_is_in_progress_until_it_completes_or_fails() {
        let triggers = SavepointTriggers::default();
        let first = triggers.start("job-a");
        let second = triggers.start("job-a");
        assert_eq!(first.len(), 32);
        assert_eq!(
            triggers.status("job-a", &first).unwrap()["status"]["id"],
            "IN_PROGRESS"
        );
        triggers.finish(&first, Ok("/sp/savepoint-1".into()));
        triggers.finish(&second, Err("no coordinator".into()));
        let done = triggers.status("job-a", &first).unwrap();
        assert_eq!(done["status"]["id"], "COMPLETED");
        assert_eq!(done["operation"]["location"], "/sp/savepoint-1");
        let failed = triggers.status("job-a", &second).unwrap();
        assert_eq!(
            failed["operation"]["failure-cause"]["stack-trace"],
            "no coordinator"
        );
        // Another job's trigger id is not this job's.
        assert!(triggers.status("job-b", &first).is_none());
    }

    #[test]
    fn only_the_newest_triggers_are_remembered() {
        let triggers = SavepointTriggers::default();
        let oldest = triggers.start("job");
        for _ in 0..REMEMBERED {
            triggers.start("job");
        }
        assert!(triggers.status("job", &oldest).is_none());
    }
}
