//! The control plane's messages: what TaskManagers, worker processes and the JobManager say to
//! each other, and the job plan a client submits.
//!
//! Messages are serde enums sent as `net::message`s, after the handshake of `net::auth`. A
//! message that does not decode closes the connection.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use sluice_core::Barrier;
use sluice_core::key_group::UPPER_BOUND_MAX_PARALLELISM;

use crate::checkpoint::{CheckpointConfig, RestartStrategy, TaskId, TaskMessage};
use crate::job_id::JobId;
pub use crate::net::message::{MESSAGE, read_message, send_message};

/// The most bytes of a job binary one message carries.
pub const BLOB_CHUNK_BYTES: usize = 4 << 20;

/// The first message on a connection to the JobManager: who is connecting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Hello {
    /// A TaskManager registering its slots.
    TaskManager(TaskManagerInfo),
    /// A worker process of a job attempt, ready to run its pipelines.
    Worker(WorkerHello),
}

/// What a TaskManager offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskManagerInfo {
    /// A name unique in the cluster (host and process id).
    pub id: String,
    /// The address other processes reach this TaskManager's workers at.
    pub host: String,
    /// Task slots offered.
    pub slots: usize,
    /// The data port its workers listen on (0: any free port).
    pub data_port: u16,
    /// Whether it serves a Prometheus endpoint (and wants its subtasks' metrics).
    #[serde(default)]
    pub prometheus: bool,
    /// Its host's CPU cores.
    #[serde(default)]
    pub cpu_cores: usize,
    /// Its host's physical memory, in bytes (0 when unknown).
    #[serde(default)]
    pub physical_memory: u64,
}

/// A worker process introducing itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerHello {
    /// The job's id.
    pub job: String,
    /// The attempt of the job this worker belongs to.
    pub attempt: u32,
    /// The worker's index within the attempt.
    pub worker: usize,
    /// Where the worker accepts data-plane connections.
    pub data_address: String,
    /// The fingerprint of the plan the worker built, which must match the submitted one.
    pub fingerprint: String,
}

/// What the JobManager tells a TaskManager.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ToTaskManager {
    /// The registration was accepted.
    Registered {
        /// How often to heartbeat, in milliseconds.
        heartbeat_interval_ms: u64,
        /// Silence after which the JobManager counts as lost, in milliseconds.
        heartbeat_timeout_ms: u64,
    },
    /// The JobManager is alive.
    Heartbeat,
    /// Start a worker process.
    Deploy(WorkerSpec),
    /// Stop the workers of this job attempt.
    Cancel {
        /// The job.
        job: String,
        /// The attempt.
        attempt: u32,
    },
    /// A piece of a job binary the TaskManager asked for.
    BlobChunk {
        /// The binary's SHA-256, in hex.
        key: String,
        /// The chunk's bytes.
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
        /// Whether this is the last chunk.
        last: bool,
    },
    /// The binary asked for is not in the blob store.
    BlobMissing {
        /// The binary's SHA-256, in hex.
        key: String,
    },
    /// The metrics of a job's subtasks on this TaskManager, for its Prometheus endpoint
    /// (sent when it serves one): they replace the job's previous ones.
    Metrics {
        /// The job.
        job: String,
        /// Its subtasks' samples.
        samples: Vec<crate::metrics::MetricSample>,
    },
}

/// What a TaskManager tells the JobManager.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FromTaskManager {
    /// Still alive.
    Heartbeat,
    /// Its process's and its workers' CPU time and memory, every heartbeat interval.
    Usage(crate::metrics::ProcessUsage),
    /// Send the job binary with this SHA-256.
    FetchBlob {
        /// The binary's SHA-256, in hex.
        key: String,
    },
    /// A worker process could not start or exited.
    WorkerExited {
        /// The job.
        job: String,
        /// The attempt.
        attempt: u32,
        /// The worker's index.
        worker: usize,
        /// Whether it exited successfully.
        success: bool,
        /// Its exit status and the end of its error output.
        detail: String,
    },
}

/// How to start one worker process of a job attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerSpec {
    /// The job's id.
    pub job: String,
    /// The attempt.
    pub attempt: u32,
    /// The worker's index within the attempt.
    pub worker: usize,
    /// The job binary's SHA-256, in hex (its key in the blob store).
    pub binary: String,
    /// The job's arguments.
    pub args: Vec<String>,
    /// Environment for the job: its parallelism, the checkpoint to restore, configuration.
    pub env: Vec<(String, String)>,
    /// The submitting client's working directory, used when it exists here (relative paths in
    /// the arguments then mean what they meant to the client).
    pub working_dir: Option<String>,
}

/// What the JobManager tells a worker process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ToWorker {
    /// Every worker of the attempt is ready: run.
    Start(Placement),
    /// Stop: the attempt failed elsewhere or was cancelled.
    Cancel,
    /// The worker is not part of a running attempt (or its plan differs).
    Rejected {
        /// Why.
        reason: String,
    },
    /// The checkpoint coordinator's message for one of the worker's tasks.
    Task {
        /// The task.
        task: TaskId,
        /// The message.
        message: TaskMessage,
    },
    /// The JobManager is alive.
    Heartbeat,
}

/// What a worker process tells the JobManager.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FromWorker {
    /// Every task of the worker finished and its output was delivered.
    Finished,
    /// A task failed (the root cause).
    Failed {
        /// The error.
        error: String,
    },
    /// A task's report to the checkpoint coordinator.
    Report(WireReport),
    /// The worker is alive.
    Heartbeat,
    /// Its tasks' counters, every heartbeat interval and once more at the end.
    Metrics(crate::metrics::MetricsReport),
}

/// A task's report to the checkpoint coordinator, as it crosses the network: snapshots are
/// materialized and encoded (see [`super::remote_checkpoints`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WireReport {
    /// The task snapshotted its chain at `barrier`.
    Acknowledged {
        /// The task.
        task: TaskId,
        /// The barrier.
        barrier: Barrier,
        /// Its operators' state (a postcard-encoded `TaskSnapshot`).
        #[serde(with = "serde_bytes")]
        snapshot: Vec<u8>,
    },
    /// A bounded source read everything.
    SourceEnded {
        /// The source task.
        task: TaskId,
    },
    /// The task finished.
    Finished {
        /// The task.
        task: TaskId,
    },
}

/// Which worker runs each parallel pipeline of a job, and where the workers are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// Per pipeline (subtask index), the worker that runs it.
    pub worker_of_pipeline: Vec<usize>,
    /// Per worker, its data-plane address.
    pub data_addresses: Vec<String>,
}

impl Placement {
    /// How many worker processes run the attempt.
    pub fn workers(&self) -> usize {
        self.data_addresses.len()
    }

    /// The worker that runs subtask `subtask` of every operator.
    pub fn worker_of(&self, subtask: usize) -> usize {
        self.worker_of_pipeline.get(subtask).copied().unwrap_or(0)
    }
}

/// What a client learns from a job binary before submitting it: the plan and what it needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterPlan {
    /// The job's name.
    pub name: String,
    /// The job's id, chosen by the client (or fixed by the user): the cluster runs the job
    /// under it.
    pub job_id: JobId,
    /// Where the program asks to resume from (the JobManager resolves it to one checkpoint).
    pub restore_from: Option<String>,
    /// The plan as JSON (see `JobGraph::plan_json`).
    pub plan: serde_json::Value,
    /// Parallel pipelines: the highest parallelism of any task, so the slots the job needs.
    pub pipelines: usize,
    /// Whether every source is bounded.
    pub bounded: bool,
    /// Checkpointing, when the job enables it (the JobManager runs its coordinator).
    pub checkpointing: Option<CheckpointConfig>,
    /// How failed attempts restart (`None`: Flink's default).
    pub restart_strategy: Option<RestartStrategy>,
    /// Every task (chain) of the job.
    pub tasks: Vec<PlanTask>,
    /// Every operator: uid → (task index, parallelism, max parallelism).
    pub operators: BTreeMap<String, (usize, usize, usize)>,
    /// Identifies the plan; workers must build the identical one.
    pub fingerprint: String,
}

impl ClusterPlan {
    /// Checks that the plan is consistent (it may come from any REST client): at least one
    /// task, as many pipelines as the highest task parallelism, every operator in a task of
    /// its parallelism, max parallelisms in Flink's range, a SHA-256 fingerprint.
    pub fn validate(&self) -> Result<(), String> {
        let highest = self.tasks.iter().map(|t| t.parallelism).max();
        if highest != Some(self.pipelines) {
            return Err(format!(
                "{} pipelines, but the highest task parallelism is {}",
                self.pipelines,
                highest.map_or_else(|| "undefined (no tasks)".into(), |p| p.to_string())
            ));
        }
        if let Some(task) = self.tasks.iter().position(|t| t.parallelism == 0) {
            return Err(format!("task {task} has parallelism 0"));
        }
        for (uid, (task, parallelism, max_parallelism)) in &self.operators {
            let Some(plan_task) = self.tasks.get(*task) else {
                return Err(format!(
                    "operator '{uid}' is in task {task}, but the plan has {} tasks",
                    self.tasks.len()
                ));
            };
            if *parallelism != plan_task.parallelism {
                return Err(format!(
                    "operator '{uid}' has parallelism {parallelism}, its task {}",
                    plan_task.parallelism
                ));
            }
            if !(*parallelism..=UPPER_BOUND_MAX_PARALLELISM).contains(max_parallelism) {
                return Err(format!(
                    "operator '{uid}' has max parallelism {max_parallelism}: it must be between its parallelism {parallelism} and {UPPER_BOUND_MAX_PARALLELISM}"
                ));
            }
        }
        let fingerprint_ok =
            self.fingerprint.len() == 64 && self.fingerprint.bytes().all(|b| b.is_ascii_hexdigit());
        if !fingerprint_ok {
            return Err("the fingerprint is not a SHA-256 in hex".into());
        }
        Ok(())
    }
}

/// One task (chain) of a plan, as the checkpoint coordinator needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanTask {
    /// Its parallelism.
    pub parallelism: usize,
    /// Whether it is headed by a source (checkpoints are triggered there).
    pub source: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::frame::{FrameReader, MAX_FRAME_BYTES, write_frame};

    fn plan() -> ClusterPlan {
        ClusterPlan {
            name: "job".into(),
            job_id: JobId::random(),
            restore_from: None,
            plan: serde_json::json!({}),
            pipelines: 2,
            bounded: true,
            checkpointing: None,
            restart_strategy: None,
            tasks: vec![
                PlanTask {
                    parallelism: 2,
                    source: true,
                },
                PlanTask {
                    parallelism: 1,
                    source: false,
                },
            ],
            operators: BTreeMap::from([
                ("source".to_string(), (0, 2, 128)),
                ("sink".to_string(), (1, 1, 128)),
            ]),
            fingerprint: "ab".repeat(32),
        }
    }

    #[test]
    fn inconsistent_plans_are_refused_with_what_is_wrong() {
        assert_eq!(plan().validate(), Ok(()));
        type BreakPlan = fn(&mut ClusterPlan);
        let cases: [(BreakPlan, &str); 6] = [
            (|p| p.pipelines = 5, "5 pipelines"),
            (|p| p.tasks.clear(), "no tasks"),
            (|p| p.tasks[1].parallelism = 0, "task 1 has parallelism 0"),
            (
                |p| {
                    p.operators.insert("ghost".into(), (7, 1, 128));
                },
                "'ghost' is in task 7",
            ),
            (
                |p| {
                    p.operators.insert("sink".into(), (1, 1, 1 << 20));
                },
                "max parallelism 1048576",
            ),
            (|p| p.fingerprint = "../x".into(), "fingerprint"),
        ];
        for (break_it, expected) in cases {
            let mut plan = plan();
            break_it(&mut plan);
            let error = plan.validate().unwrap_err();
            assert!(error.contains(expected), "{error}");
        }
    }

    #[test]
    fn messages_round_trip_and_garbage_is_an_error() {
        let mut bytes = Vec::new();
        let message = ToWorker::Start(Placement {
            worker_of_pipeline: vec![0, 1],
            data_addresses: vec!["a:1".into(), "b:2".into()],
        });
        send_message(&mut bytes, &message).unwrap();
        write_frame(&mut bytes, MESSAGE, &[0xff, 0xff]).unwrap();
        write_frame(&mut bytes, 7, b"x").unwrap();
        let mut frames = FrameReader::new(bytes.as_slice(), MAX_FRAME_BYTES);
        assert_eq!(read_message::<ToWorker, _>(&mut frames), Ok(Some(message)));
        assert!(read_message::<ToWorker, _>(&mut frames).is_err());
        assert!(read_message::<ToWorker, _>(&mut frames).is_err());
        assert_eq!(read_message::<ToWorker, _>(&mut frames), Ok(None));
    }
}
