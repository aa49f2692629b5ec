//! A job's state, with Flink's names, and why its attempts failed: what the REST APIs of a
//! cluster and of a local job report.

use serde::{Deserialize, Serialize};

/// A job's state, with Flink's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum JobStatus {
    /// Accepted, waiting for slots.
    Created,
    /// Deployed.
    Running,
    /// Waiting to restart after a failure.
    Restarting,
    /// Every task finished.
    Finished,
    /// A task, worker or TaskManager failed.
    Failed,
    /// Cancelled by a user.
    Canceled,
}

impl JobStatus {
    /// Whether the job ended.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Finished | JobStatus::Failed | JobStatus::Canceled
        )
    }
}

/// Why a job attempt failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobException {
    /// When, ms since the epoch.
    pub at_ms: u64,
    /// The attempt that failed.
    pub attempt: u32,
    /// The error, with its causes.
    pub message: String,
}
