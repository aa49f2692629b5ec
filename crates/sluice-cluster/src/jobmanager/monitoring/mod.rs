//! The monitoring views of the REST API in Flink's JSON shapes: a job with its vertices (its
//! chains of operators, Flink's job vertices) and their record counts, one vertex with its
//! subtasks, the job's plan, and the dashboard's configuration. Built from a [`JobView`]
//! copied out of the dispatcher, so no lock is held while the JSON is written.

use std::sync::Arc;

use serde_json::{Value, json};
use sluice_runtime::checkpoint::RestartStrategy;
use sluice_runtime::job_id::JobId;
use sluice_runtime::metrics::{MetricsReport, OperatorReading};

use super::dispatcher::MetricsReading;
use super::views::{JobDetails, JobException, JobStatus, status_name};

mod checkpoint_details;
mod checkpoints;
mod job_info;
pub mod prometheus;
mod vertex_metrics;

pub use checkpoint_details::{checkpoint_details, checkpoint_subtasks};
pub use checkpoints::{CheckpointsView, checkpoint_config, checkpoints, flink_state_backend};
pub use job_info::{exceptions, job_config};
pub use vertex_metrics::{aggregated_metrics, backpressure, vertex_metrics, watermarks};

/// How often the dashboard refreshes, in ms (Flink's `web.refresh-interval` default).
pub const REFRESH_INTERVAL_MS: u64 = 3000;

/// What the monitoring views of one job are built from.
#[derive(Debug, Clone)]
pub struct JobView {
    /// The job as the job-management API shows it.
    pub details: JobDetails,
    /// Its vertices, derived from its plan once ([`vertices`]).
    pub vertices: Arc<Vec<Vertex>>,
    /// When it was submitted, ms since the epoch.
    pub submitted_ms: u64,
    /// Now, ms since the epoch.
    pub now_ms: u64,
    /// The workers of its current (or last) attempt.
    pub workers: Vec<WorkerView>,
    /// Its checkpoints.
    pub checkpoints: CheckpointsView,
    /// Why its attempts failed (the newest), oldest first.
    pub exceptions: Vec<JobException>,
    /// Whether older failures were dropped.
    pub exceptions_truncated: bool,
    /// Its parallelism: the highest of its vertices.
    pub parallelism: usize,
    /// Its restart strategy, if it set one.
    pub restart_strategy: Option<RestartStrategy>,
    /// The job options it was submitted with, as `key: value` lines.
    pub job_options: String,
}

/// One worker of a job attempt.
#[derive(Debug, Clone)]
pub struct WorkerView {
    /// The TaskManager it runs on.
    pub task_manager: String,
    /// That TaskManager's host.
    pub host: String,
    /// The parallel pipelines it runs: subtask `i` of every vertex is in pipeline `i`.
    pub pipelines: Vec<usize>,
    /// Whether its tasks finished.
    pub finished: bool,
    /// Its tasks' counters.
    pub metrics: MetricsReading,
}

/// A job vertex: a chain of operators that runs as one task.
#[derive(Debug, Clone, PartialEq)]
pub struct Vertex {
    /// Its index in the job graph.
    pub index: usize,
    /// Its id: 32 hex digits, stable for the same head operator.
    pub id: String,
    /// Its operators' names, joined by ` -> ` as Flink names a chain.
    pub name: String,
    /// Its parallelism.
    pub parallelism: usize,
    /// Its max parallelism.
    pub max_parallelism: usize,
    /// Its operators, `(uid, name)`, head first.
    pub operators: Vec<(String, String)>,
    /// The vertices it reads from, with how records are shipped.
    pub inputs: Vec<(usize, String)>,
}

/// The vertices of a plan (`JobGraph::plan_json`: operator nodes naming their chain).
pub fn vertices(plan: &Value) -> Vec<Vertex> {
    let nodes = plan["nodes"].as_array().map_or(&[][..], Vec::as_slice);
    let chain_of_node = |id: &Value| {
        nodes
            .iter()
            .find(|n| n["id"] == *id)
            .and_then(|n| n["chain"].as_u64())
    };
    let mut vertices: Vec<Vertex> = Vec::new();
    for node in nodes {
        let Some(chain) = node["chain"].as_u64().and_then(|c| c.checked_sub(1)) else {
            continue;
        };
        let chain = chain as usize;
        let uid = node["uid"].as_str().unwrap_or_default().to_string();
        let name = node["contents"].as_str().unwrap_or_default();
        let position = match vertices.iter().position(|v| v.index == chain) {
            Some(position) => position,
            None => {
                vertices.push(Vertex {
                    index: chain,
                    id: JobId::derived_from(&format!("vertex {uid}")).to_string(),
                    name: String::new(),
                    parallelism: node["parallelism"].as_u64().unwrap_or(1) as usize,
                    max_parallelism: node["max_parallelism"].as_u64().unwrap_or(0) as usize,
                    operators: Vec::new(),
                    inputs: Vec::new(),
                });
                vertices.len() - 1
            }
        };
        let vertex = &mut vertices[position];
        if !vertex.name.is_empty() {
            vertex.name.push_str(" -> ");
        }
        vertex.name.push_str(name);
        vertex.operators.push((uid, name.to_string()));
        for input in node["predecessors"].as_array().into_iter().flatten() {
            let Some(from) = chain_of_node(&input["id"]).and_then(|c| c.checked_sub(1)) else {
                continue;
            };
            if from as usize != chain {
                let strategy = input["ship_strategy"].as_str().unwrap_or("FORWARD");
                vertex.inputs.push((from as usize, strategy.to_string()));
            }
        }
    }
    vertices.sort_by_key(|v| v.index);
    vertices
}

impl Vertex {
    /// The uid of its head operator (which its input enters).
    fn head(&self) -> Option<&str> {
        self.operators.first().map(|(uid, _)| uid.as_str())
    }

    /// The uid of its tail operator (which its output leaves).
    fn tail(&self) -> Option<&str> {
        self.operators.last().map(|(uid, _)| uid.as_str())
    }
}

/// The vertex of `view`'s job whose id is `vertex_id`.
fn vertex_of<'a>(view: &'a JobView, vertex_id: &str) -> Option<&'a Vertex> {
    view.vertices.iter().find(|v| v.id == vertex_id)
}

/// Flink's execution states, in the order its API lists them.
const EXECUTION_STATES: [&str; 10] = [
    "CREATED",
    "SCHEDULED",
    "DEPLOYING",
    "RUNNING",
    "FINISHED",
    "CANCELING",
    "CANCELED",
    "FAILED",
    "RECONCILING",
    "INITIALIZING",
];

/// The state of a subtask of a job in `status`, run by a worker that `finished` or not.
fn subtask_state(status: JobStatus, finished: bool) -> &'static str {
    match status {
        JobStatus::Running if finished => "FINISHED",
        JobStatus::Running => "RUNNING",
        JobStatus::Created | JobStatus::Restarting => "CREATED",
        JobStatus::Finished => "FINISHED",
        JobStatus::Failed => "FAILED",
        JobStatus::Canceled => "CANCELED",
    }
}

/// One subtask's record counts, the bytes it received from and sent to other processes, and
/// its time blocked by backpressure, waiting for input (idle) and busy otherwise, from `report`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Counts {
    read: u64,
    write: u64,
    read_bytes: u64,
    write_bytes: u64,
    backpressured_ms: u64,
    idle_ms: u64,
    busy_ms: u64,
    /// How long its last checkpoint's barrier took to align, in ns.
    alignment_ns: u64,
}

impl Counts {
    /// Subtask `subtask` of `vertex` in `report` (records into its head, out of its tail).
    fn of(report: &MetricsReport, vertex: &Vertex, subtask: usize) -> Counts {
        let operator = |uid: Option<&str>| uid.and_then(|uid| report.operator(uid, subtask));
        let task = report
            .tasks
            .iter()
            .find(|t| t.vertex == vertex.index && t.subtask == subtask);
        Counts {
            read: operator(vertex.head()).map_or(0, |o| o.records_in),
            write: operator(vertex.tail()).map_or(0, |o| o.records_out),
            read_bytes: task.map_or(0, |t| t.bytes_in),
            write_bytes: task.map_or(0, |t| t.bytes_out),
            backpressured_ms: task.map_or(0, |t| t.backpressured_ms),
            idle_ms: task.map_or(0, |t| t.idle_ms),
            busy_ms: task.map_or(0, |t| t.busy_ms()),
            alignment_ns: task.map_or(0, |t| t.alignment_ns),
        }
    }

    fn add(self, other: Counts) -> Counts {
        Counts {
            read: self.read + other.read,
            write: self.write + other.write,
            read_bytes: self.read_bytes + other.read_bytes,
            write_bytes: self.write_bytes + other.write_bytes,
            backpressured_ms: self.backpressured_ms + other.backpressured_ms,
            idle_ms: self.idle_ms + other.idle_ms,
            busy_ms: self.busy_ms + other.busy_ms,
            alignment_ns: self.alignment_ns.max(other.alignment_ns),
        }
    }
}

/// One subtask of a vertex: its worker, counts now, records per second in and out, its
/// input and output watermarks, and the ms per second it was backpressured, idle and busy.
struct Subtask<'a> {
    index: usize,
    worker: Option<&'a WorkerView>,
    counts: Counts,
    /// Records in and out per second.
    per_second: (f64, f64),
    /// Bytes in and out per second.
    bytes_per_second: (f64, f64),
    watermarks: (i64, i64),
    time_per_second: TimeShares,
}

/// The ms per second a subtask was backpressured, idle and busy over the last interval.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct TimeShares {
    backpressured: f64,
    idle: f64,
    busy: f64,
}

fn subtasks<'a>(view: &'a JobView, vertex: &Vertex) -> Vec<Subtask<'a>> {
    (0..vertex.parallelism)
        .map(|index| {
            let worker = view.workers.iter().find(|w| w.pipelines.contains(&index));
            let reading = worker.map(|w| &w.metrics);
            let counts = reading
                .and_then(|r| r.latest.as_ref())
                .map_or_else(Counts::default, |r| Counts::of(r, vertex, index));
            let previous = reading.and_then(|r| r.previous.as_ref());
            let (per_second, bytes_per_second, time_per_second) = match previous {
                Some((seconds, before)) if *seconds > 0.0 => {
                    let before = Counts::of(before, vertex, index);
                    let rate = |now: u64, then: u64| now.saturating_sub(then) as f64 / seconds;
                    (
                        (
                            rate(counts.read, before.read),
                            rate(counts.write, before.write),
                        ),
                        (
                            rate(counts.read_bytes, before.read_bytes),
                            rate(counts.write_bytes, before.write_bytes),
                        ),
                        TimeShares {
                            backpressured: rate(counts.backpressured_ms, before.backpressured_ms)
                                .min(1000.0),
                            idle: rate(counts.idle_ms, before.idle_ms).min(1000.0),
                            busy: rate(counts.busy_ms, before.busy_ms).min(1000.0),
                        },
                    )
                }
                _ => ((0.0, 0.0), (0.0, 0.0), TimeShares::default()),
            };
            let watermarks =
                reading
                    .and_then(|r| r.latest.as_ref())
                    .map_or((i64::MIN, i64::MIN), |r| {
                        let watermark = |uid: Option<&str>, pick: fn(&OperatorReading) -> i64| {
                            uid.and_then(|uid| r.operator(uid, index))
                                .map_or(i64::MIN, pick)
                        };
                        (
                            watermark(vertex.head(), |o| o.watermark_in),
                            watermark(vertex.tail(), |o| o.watermark_out),
                        )
                    });
            Subtask {
                index,
                worker,
                counts,
                per_second,
                bytes_per_second,
                watermarks,
                time_per_second,
            }
        })
        .collect()
}

/// The metrics of a subtask by Flink's names, as `/metrics` and the Prometheus endpoints give
/// them, in the order of [`Subtask::metric_values`].
const SUBTASK_METRICS: [&str; 17] = [
    "numRecordsIn",
    "numRecordsOut",
    "numRecordsInPerSecond",
    "numRecordsOutPerSecond",
    "numBytesIn",
    "numBytesOut",
    "numBytesInPerSecond",
    "numBytesOutPerSecond",
    "currentInputWatermark",
    "currentOutputWatermark",
    "backPressuredTimeMsPerSecond",
    "idleTimeMsPerSecond",
    "busyTimeMsPerSecond",
    "accumulatedBackPressuredTimeMs",
    "accumulatedIdleTimeMs",
    "accumulatedBusyTimeMs",
    "checkpointAlignmentTime",
];

impl Subtask<'_> {
    /// The values of its [`SUBTASK_METRICS`].
    fn metric_values(&self) -> [f64; SUBTASK_METRICS.len()] {
        let (watermark_in, watermark_out) = self.watermarks;
        let time = self.time_per_second;
        [
            self.counts.read as f64,
            self.counts.write as f64,
            self.per_second.0,
            self.per_second.1,
            self.counts.read_bytes as f64,
            self.counts.write_bytes as f64,
            self.bytes_per_second.0,
            self.bytes_per_second.1,
            watermark_in as f64,
            watermark_out as f64,
            time.backpressured,
            time.idle,
            time.busy,
            self.counts.backpressured_ms as f64,
            self.counts.idle_ms as f64,
            self.counts.busy_ms as f64,
            self.counts.alignment_ns as f64,
        ]
    }
}

/// Flink's `IOMetricsInfo` for `counts`, with Sluice's rates and backpressure added.
fn io_metrics(counts: Counts, per_second: (f64, f64), complete: bool) -> Value {
    json!({
        // The bytes of records between processes (records within one are not encoded).
        "read-bytes": counts.read_bytes,
        "read-bytes-complete": complete,
        "write-bytes": counts.write_bytes,
        "write-bytes-complete": complete,
        "read-records": counts.read,
        "read-records-complete": complete,
        "write-records": counts.write,
        "write-records-complete": complete,
        "accumulated-backpressured-time": counts.backpressured_ms,
        "accumulated-idle-time": counts.idle_ms,
        "accumulated-busy-time": counts.busy_ms as f64,
        "read-records-per-second": per_second.0,
        "write-records-per-second": per_second.1,
    })
}

/// Counts of each execution state, every state named.
fn state_counts<'s>(states: impl Iterator<Item = &'s str>) -> Value {
    let mut counts: serde_json::Map<String, Value> = EXECUTION_STATES
        .iter()
        .map(|s| (s.to_string(), json!(0)))
        .collect();
    for state in states {
        if let Some(count) = counts.get_mut(state) {
            *count = json!(count.as_u64().unwrap_or(0) + 1);
        }
    }
    Value::Object(counts)
}

/// A vertex of `/jobs/{jobid}`: Flink's entry (id, name, parallelism, status, times, the
/// count of its subtasks in each state, record counts). Without Flink's `slotSharingGroupId`
/// (every vertex shares the one slot sharing group): Flink gives it as a string, which Flink
/// REST clients generated from its API description fail to read as the object described.
fn vertex_entry(view: &JobView, vertex: &Vertex) -> Value {
    let status = view.details.overview.state;
    let subtasks = subtasks(view, vertex);
    let states: Vec<&str> = subtasks
        .iter()
        .map(|s| subtask_state(status, s.worker.is_some_and(|w| w.finished)))
        .collect();
    let vertex_state = if states.iter().all(|s| *s == "FINISHED") {
        "FINISHED"
    } else {
        subtask_state(status, false)
    };
    let counts = subtasks
        .iter()
        .fold(Counts::default(), |sum, s| sum.add(s.counts));
    let per_second = subtasks.iter().fold((0.0, 0.0), |sum, s| {
        (sum.0 + s.per_second.0, sum.1 + s.per_second.1)
    });
    json!({
        "id": vertex.id,
        "name": vertex.name,
        "maxParallelism": vertex.max_parallelism,
        "parallelism": vertex.parallelism,
        "status": vertex_state,
        "start-time": view.details.overview.start_time,
        "end-time": view.details.overview.end_time,
        "duration": view.details.overview.duration,
        "tasks": state_counts(states.into_iter()),
        "metrics": io_metrics(counts, per_second, status.is_terminal()),
    })
}

/// `/jobs/{jobid}/plan`'s plan: the job's vertices as Flink's JSON plan.
pub fn plan(view: &JobView) -> Value {
    plan_of(view, &view.vertices)
}

/// The plan of `view`'s job, whose vertices are `vertices`.
fn plan_of(view: &JobView, vertices: &[Vertex]) -> Value {
    let nodes: Vec<Value> = vertices
        .iter()
        .map(|vertex| {
            let mut node = json!({
                "id": vertex.id,
                "parallelism": vertex.parallelism,
                "operator": "",
                "operator_strategy": "",
                "description": vertex.name,
                "optimizer_properties": {},
            });
            let inputs: Vec<Value> = vertex
                .inputs
                .iter()
                .enumerate()
                .filter_map(|(num, (from, strategy))| {
                    let from = vertices.iter().find(|v| v.index == *from)?;
                    Some(json!({
                        "num": num,
                        "id": from.id,
                        "ship_strategy": strategy,
                        "exchange": "pipelined_bounded",
                    }))
                })
                .collect();
            if !inputs.is_empty() {
                node["inputs"] = Value::Array(inputs);
            }
            node
        })
        .collect();
    json!({
        "jid": view.details.overview.jid,
        "name": view.details.overview.name,
        "type": "STREAMING",
        "nodes": nodes,
    })
}

/// `/jobs/{jobid}`: Flink's job details (with the vertices and their record counts, and the
/// plan as Flink's), and the fields Sluice's own client reads.
pub fn job_details(view: &JobView) -> Value {
    let details = &view.details;
    let status = details.overview.state;
    let vertices = &view.vertices;
    let entries: Vec<Value> = vertices.iter().map(|v| vertex_entry(view, v)).collect();
    let vertex_states = entries
        .iter()
        .filter_map(|v| v["status"].as_str().map(str::to_string))
        .collect::<Vec<_>>();
    let mut timestamps = serde_json::Map::new();
    for name in [
        "INITIALIZING",
        "CREATED",
        "RUNNING",
        "FAILING",
        "FAILED",
        "CANCELLING",
        "CANCELED",
        "FINISHED",
        "RESTARTING",
        "SUSPENDED",
        "RECONCILING",
    ] {
        timestamps.insert(name.to_string(), json!(0));
    }
    timestamps.insert("INITIALIZING".into(), json!(view.submitted_ms));
    timestamps.insert("CREATED".into(), json!(view.submitted_ms));
    if details.overview.start_time > view.submitted_ms || status != JobStatus::Created {
        timestamps.insert("RUNNING".into(), json!(details.overview.start_time));
    }
    if status.is_terminal() {
        timestamps.insert(status_name(status), json!(details.overview.end_time));
    }
    let mut value = serde_json::to_value(details).unwrap_or_else(|_| json!({}));
    value["isStoppable"] = json!(false);
    value["job-type"] = json!("STREAMING");
    value["maxParallelism"] = json!(
        vertices
            .iter()
            .map(|v| v.max_parallelism)
            .max()
            .map_or(-1, |m| m as i64)
    );
    value["now"] = json!(view.now_ms);
    value["timestamps"] = Value::Object(timestamps);
    value["vertices"] = Value::Array(entries);
    value["status-counts"] = state_counts(vertex_states.iter().map(String::as_str));
    value["plan"] = plan_of(view, vertices);
    value
}

/// `/jobs/{jobid}/vertices/{vertexid}`: one vertex with its subtasks, `None` when the job
/// has no vertex of that id.
pub fn vertex_details(view: &JobView, vertex_id: &str) -> Option<Value> {
    let vertex = vertex_of(view, vertex_id)?;
    let status = view.details.overview.state;
    let subtasks: Vec<Value> = subtasks(view, vertex)
        .iter()
        .map(|s| {
            let finished = s.worker.is_some_and(|w| w.finished);
            json!({
                "subtask": s.index,
                "status": subtask_state(status, finished),
                "attempt": view.details.attempt.saturating_sub(1),
                "endpoint": s.worker.map_or("", |w| w.host.as_str()),
                "host": s.worker.map_or("", |w| w.host.as_str()),
                "start-time": view.details.overview.start_time,
                "end-time": view.details.overview.end_time,
                "duration": view.details.overview.duration,
                "metrics": io_metrics(s.counts, s.per_second, status.is_terminal()),
                "taskmanager-id": s.worker.map_or("", |w| w.task_manager.as_str()),
                "status-duration": {},
            })
        })
        .collect();
    Some(json!({
        "id": vertex.id,
        "name": vertex.name,
        "parallelism": vertex.parallelism,
        "maxParallelism": vertex.max_parallelism,
        "now": view.now_ms,
        "subtasks": subtasks,
    }))
}

/// `/jobs/{jobid}/vertices/{vertexid}/subtasktimes`: when each subtask entered its states.
pub fn subtask_times(view: &JobView, vertex_id: &str) -> Option<Value> {
    let vertex = vertex_of(view, vertex_id)?;
    let overview = &view.details.overview;
    let subtasks: Vec<Value> = subtasks(view, vertex)
        .iter()
        .map(|s| {
            let mut timestamps = serde_json::Map::new();
            timestamps.insert("CREATED".into(), json!(view.submitted_ms));
            timestamps.insert("RUNNING".into(), json!(overview.start_time));
            if overview.end_time >= 0 {
                let state = subtask_state(overview.state, false);
                timestamps.insert(state.into(), json!(overview.end_time));
            }
            json!({
                "subtask": s.index,
                "host": s.worker.map_or("", |w| w.host.as_str()),
                "endpoint": s.worker.map_or("", |w| w.host.as_str()),
                "duration": overview.duration,
                "timestamps": timestamps,
            })
        })
        .collect();
    Some(json!({
        "id": vertex.id,
        "name": vertex.name,
        "now": view.now_ms,
        "subtasks": subtasks,
    }))
}

/// `/config`: what the dashboard needs to know of the server.
pub fn dashboard_config() -> Value {
    json!({
        "refresh-interval": REFRESH_INTERVAL_MS,
        "timezone-name": "Coordinated Universal Time",
        "timezone-offset": 0,
        "flink-version": env!("CARGO_PKG_VERSION"),
        "flink-revision": format!("sluice {}", env!("CARGO_PKG_VERSION")),
        "features": {
            "web-submit": false,
            "web-cancel": true,
            "web-rescale": false,
            "web-history": false,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobmanager::views::JobOverview;
    use sluice_runtime::metrics::{OperatorReading, TaskSummary};

    /// Source -> Map (chain 1, p=2) feeding Sink (chain 2, p=2) by hash.
    pub(super) fn plan() -> Value {
        json!({"nodes": [
            {"id": 1, "contents": "Source: numbers", "parallelism": 2, "max_parallelism": 128,
             "uid": "src", "chain": 1},
            {"id": 2, "contents": "Map", "parallelism": 2, "max_parallelism": 128,
             "uid": "map", "chain": 1,
             "predecessors": [{"id": 1, "ship_strategy": "FORWARD", "side": "first"}]},
            {"id": 3, "contents": "Sink: out", "parallelism": 2, "max_parallelism": 128,
             "uid": "sink", "chain": 2,
             "predecessors": [{"id": 2, "ship_strategy": "HASH", "side": "first"}]},
        ]})
    }

    fn report(scale: u64) -> MetricsReport {
        let reading = |uid: &str, subtask, records_in, records_out| OperatorReading {
            uid: uid.into(),
            subtask,
            records_in: records_in * scale,
            records_out: records_out * scale,
            watermark_in: 1000 * scale as i64,
            watermark_out: 1000 * scale as i64 - 1,
        };
        MetricsReport {
            operators: vec![
                reading("src", 0, 0, 10),
                reading("map", 0, 10, 10),
                reading("sink", 0, 7, 0),
                reading("src", 1, 0, 4),
                reading("map", 1, 4, 4),
                reading("sink", 1, 7, 0),
            ],
            tasks: vec![TaskSummary {
                vertex: 0,
                name: "Source: numbers -> Map".into(),
                subtask: 1,
                backpressured_ms: 5 * scale,
                idle_ms: 100 * scale,
                running_ms: 1000 * scale,
                bytes_in: 0,
                bytes_out: 64 * scale,
                alignment_ns: 2_000_000,
            }],
        }
    }

    pub(super) fn view(state: JobStatus) -> JobView {
        JobView {
            details: JobDetails {
                overview: JobOverview {
                    jid: "0123456789abcdef0123456789abcdef".into(),
                    name: "numbers".into(),
                    state,
                    start_time: 1000,
                    end_time: -1,
                    duration: 500,
                    message: None,
                    last_modification: 1000,
                    tasks: Default::default(),
                },
                plan: Arc::new(plan()),
                pipelines: 2,
                placement: vec![("tm-1".into(), vec![0, 1])],
                data_addresses: vec![None],
                attempt: 1,
                restored_from: None,
            },
            vertices: Arc::new(vertices(&plan())),
            submitted_ms: 900,
            now_ms: 1500,
            checkpoints: CheckpointsView::default(),
            exceptions: Vec::new(),
            exceptions_truncated: false,
            parallelism: 2,
            restart_strategy: None,
            job_options: String::new(),
            workers: vec![WorkerView {
                task_manager: "tm-1".into(),
                host: "127.0.0.1".into(),
                pipelines: vec![0, 1],
                finished: false,
                metrics: MetricsReading {
                    latest: Some(report(3)),
                    previous: Some((2.0, report(1))),
                },
            }],
        }
    }

    #[test]
    fn chains_are_vertices_named_by_their_operators_with_their_inputs() {
        let vertices = vertices(&plan());
        assert_eq!(vertices.len(), 2);
        assert_eq!(vertices[0].name, "Source: numbers -> Map");
        let uids: Vec<&str> = vertices[0]
            .operators
            .iter()
            .map(|(u, _)| u.as_str())
            .collect();
        assert_eq!(uids, ["src", "map"]);
        assert_eq!(vertices[0].head(), Some("src"));
        assert_eq!(vertices[0].tail(), Some("map"));
        assert!(vertices[0].inputs.is_empty());
        assert_eq!(vertices[1].inputs, [(0, "HASH".to_string())]);
        assert_eq!(vertices[0].id.len(), 32);
        assert_ne!(vertices[0].id, vertices[1].id);
        // Stable: the same plan gives the same ids.
        assert_eq!(super::vertices(&plan())[1].id, vertices[1].id);
    }

    #[test]
    fn vertices_count_records_into_their_head_and_out_of_their_tail() {
        let details = job_details(&view(JobStatus::Running));
        let source = &details["vertices"][0];
        assert_eq!(source["status"], "RUNNING");
        assert_eq!(source["tasks"]["RUNNING"], 2);
        // Out of Map: (10 + 4) * 3; into the head (the source): nothing.
        assert_eq!(source["metrics"]["write-records"], 42);
        assert_eq!(source["metrics"]["read-records"], 0);
        assert_eq!(source["metrics"]["accumulated-backpressured-time"], 15);
        // 42 now, 14 two seconds before.
        assert_eq!(source["metrics"]["write-records-per-second"], 14.0);
        let sink = &details["vertices"][1];
        assert_eq!(sink["metrics"]["read-records"], 42);
        assert_eq!(details["status-counts"]["RUNNING"], 2);
        assert_eq!(details["plan"]["nodes"][1]["inputs"][0]["id"], source["id"]);
        assert_eq!(details["maxParallelism"], 128);
        // Sluice's own client's fields stay.
        assert_eq!(details["pipelines"], 2);
    }

    #[test]
    fn a_vertex_lists_its_subtasks_with_their_worker_and_counts() {
        let view = view(JobStatus::Finished);
        let id = vertices(&plan())[1].id.clone();
        let vertex = vertex_details(&view, &id).unwrap();
        assert_eq!(vertex["subtasks"][1]["metrics"]["read-records"], 21);
        assert_eq!(vertex["subtasks"][1]["status"], "FINISHED");
        assert_eq!(vertex["subtasks"][0]["taskmanager-id"], "tm-1");
        assert!(vertex_details(&view, "0".repeat(32).as_str()).is_none());
    }
}
