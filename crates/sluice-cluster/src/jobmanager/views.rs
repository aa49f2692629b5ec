//! What the JobManager's API says about jobs and TaskManagers, in Flink's JSON shapes, and
//! what a client submits.

use serde::{Deserialize, Serialize};
use sluice_runtime::deploy::protocol::ClusterPlan;

pub use sluice_runtime::deploy::job_status::{JobException, JobStatus};

/// What a client submits.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubmitRequest {
    /// The job binary's blob key.
    pub binary: String,
    /// The job's arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// The default parallelism the plan was built with.
    pub parallelism: usize,
    /// The plan the client got from the binary.
    pub plan: ClusterPlan,
    /// The client's working directory.
    #[serde(default)]
    pub working_dir: Option<String>,
    /// The savepoint or checkpoint the job starts from.
    #[serde(default)]
    pub restore_from: Option<String>,
    /// The client configuration's job defaults, as `key: value` lines.
    #[serde(default)]
    pub job_options: String,
}

/// A job as listed (Flink's `/jobs/overview` entry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobOverview {
    /// The job id.
    pub jid: String,
    /// The job's name.
    pub name: String,
    /// Its state.
    pub state: JobStatus,
    /// Submission time, ms since the epoch.
    #[serde(rename = "start-time")]
    pub start_time: u64,
    /// End time, ms since the epoch (-1 while running, as Flink).
    #[serde(rename = "end-time")]
    pub end_time: i64,
    /// Run time in ms so far.
    pub duration: u64,
    /// Why it failed, or what it waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When its state last changed, ms since the epoch.
    #[serde(rename = "last-modification", default)]
    pub last_modification: u64,
    /// How many of its subtasks are in each state, and in all (`total`), by Flink's
    /// lower-case state names.
    #[serde(default)]
    pub tasks: std::collections::BTreeMap<String, usize>,
}

/// A job's details (`/jobs/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobDetails {
    /// The overview fields.
    #[serde(flatten)]
    pub overview: JobOverview,
    /// The plan.
    pub plan: std::sync::Arc<serde_json::Value>,
    /// The parallel pipelines.
    pub pipelines: usize,
    /// Per worker: the TaskManager and the pipelines it runs.
    pub placement: Vec<(String, Vec<usize>)>,
    /// Per worker of the current attempt, its data-plane address (once it reported in).
    pub data_addresses: Vec<Option<String>>,
    /// The attempt number.
    pub attempt: u32,
    /// The checkpoint or savepoint the current attempt restored, if any.
    pub restored_from: Option<String>,
}

/// A TaskManager as listed (`/taskmanagers`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskManagerOverview {
    /// Its id.
    pub id: String,
    /// Its host.
    pub host: String,
    /// Slots offered.
    #[serde(rename = "slotsNumber")]
    pub slots: usize,
    /// Slots free.
    #[serde(rename = "freeSlots")]
    pub free_slots: usize,
    /// When its last heartbeat came, ms since the epoch (Flink's field name, Flink's meaning).
    #[serde(rename = "timeSinceLastHeartbeat")]
    pub last_heartbeat_ms: u64,
    /// The data port its workers listen on (0: each picks a free one).
    #[serde(rename = "dataPort", default)]
    pub data_port: u16,
    /// How many subtasks run on it.
    #[serde(rename = "assignedTasks", default)]
    pub assigned_tasks: usize,
    /// Its host's CPU cores and memory.
    #[serde(default)]
    pub hardware: Hardware,
    /// The resident memory of its process and its workers, in bytes, as it last reported
    /// (Sluice's; 0 before its first report).
    #[serde(rename = "memoryUsed", default)]
    pub memory_used: u64,
}

/// A TaskManager's host (Flink's `hardware`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hardware {
    /// Its CPU cores.
    #[serde(rename = "cpuCores")]
    pub cpu_cores: usize,
    /// Its physical memory, in bytes (0 when unknown).
    #[serde(rename = "physicalMemory")]
    pub physical_memory: u64,
}

/// A job's use of a TaskManager's slots (`/taskmanagers/{id}`'s `allocatedSlots`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllocatedSlot {
    /// The job.
    #[serde(rename = "jobId")]
    pub job_id: String,
    /// The subtasks of the job in the slot.
    #[serde(rename = "assignedTasks")]
    pub assigned_tasks: usize,
}

/// One TaskManager in detail (`/taskmanagers/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskManagerDetails {
    /// What `/taskmanagers` lists.
    #[serde(flatten)]
    pub overview: TaskManagerOverview,
    /// Each used slot.
    #[serde(rename = "allocatedSlots")]
    pub allocated_slots: Vec<AllocatedSlot>,
}

/// The cluster at a glance (`/overview`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterOverview {
    /// Registered TaskManagers.
    pub taskmanagers: usize,
    /// Slots offered in total.
    #[serde(rename = "slots-total")]
    pub slots_total: usize,
    /// Slots free.
    #[serde(rename = "slots-available")]
    pub slots_available: usize,
    /// Jobs running or waiting.
    #[serde(rename = "jobs-running")]
    pub jobs_running: usize,
    /// Jobs finished.
    #[serde(rename = "jobs-finished")]
    pub jobs_finished: usize,
    /// Jobs cancelled.
    #[serde(rename = "jobs-cancelled")]
    pub jobs_cancelled: usize,
    /// Jobs failed.
    #[serde(rename = "jobs-failed")]
    pub jobs_failed: usize,
    /// What an operator of the cluster must know: an exposed REST API, for one (shown by
    /// clients and the dashboard).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Sluice's version.
    #[serde(rename = "sluice-version")]
    pub version: String,
    /// The version tools written for Flink read (Sluice's).
    #[serde(rename = "flink-version", default)]
    pub flink_version: String,
    /// The revision tools written for Flink read (Sluice's version).
    #[serde(rename = "flink-commit", default)]
    pub flink_commit: String,
}

/// A status as the API spells it.
pub fn status_name(status: JobStatus) -> String {
    match serde_json::to_value(status) {
        Ok(serde_json::Value::String(name)) => name,
        _ => format!("{status:?}"),
    }
}
