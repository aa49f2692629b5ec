//! Metrics: records in and out per operator and subtask, and backpressure time per subtask.
//!
//! Counters are atomics updated once per batch, never per record. A [`MetricRegistry`] holds
//! every counter of a job so the job result, and later the REST API and dashboard, can read them
//! while the job runs.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The counters of one operator in one subtask, and its current watermarks.
#[derive(Debug)]
pub struct OperatorMetrics {
    records_in: AtomicU64,
    records_out: AtomicU64,
    watermark_in: AtomicI64,
    watermark_out: AtomicI64,
}

impl Default for OperatorMetrics {
    fn default() -> Self {
        OperatorMetrics {
            records_in: AtomicU64::new(0),
            records_out: AtomicU64::new(0),
            watermark_in: AtomicI64::new(i64::MIN),
            watermark_out: AtomicI64::new(i64::MIN),
        }
    }
}

impl OperatorMetrics {
    /// Counts `n` records received.
    pub fn add_in(&self, n: usize) {
        self.records_in.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Counts `n` records emitted.
    pub fn add_out(&self, n: usize) {
        self.records_out.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Records received so far.
    pub fn records_in(&self) -> u64 {
        self.records_in.load(Ordering::Relaxed)
    }

    /// Records emitted so far.
    pub fn records_out(&self) -> u64 {
        self.records_out.load(Ordering::Relaxed)
    }

    /// The operator's input advanced to `watermark` (ms).
    pub fn set_watermark_in(&self, watermark: i64) {
        self.watermark_in.store(watermark, Ordering::Relaxed);
    }

    /// The operator emitted `watermark` (ms).
    pub fn set_watermark_out(&self, watermark: i64) {
        self.watermark_out.store(watermark, Ordering::Relaxed);
    }

    /// Its input's current watermark (`i64::MIN` before the first, as Flink's).
    pub fn watermark_in(&self) -> i64 {
        self.watermark_in.load(Ordering::Relaxed)
    }

    /// The last watermark it emitted (`i64::MIN` before the first).
    pub fn watermark_out(&self) -> i64 {
        self.watermark_out.load(Ordering::Relaxed)
    }
}

/// The counters of one subtask as a whole: from its start, the time it was blocked on full
/// output channels (backpressured) and waiting for input (idle); the rest it was busy.
/// It also counts the bytes of the records it receives from and sends to other processes
/// (records between subtasks of one process are handed over, not encoded).
#[derive(Debug)]
pub struct TaskMetrics {
    started: Instant,
    backpressured_nanos: AtomicU64,
    idle_nanos: AtomicU64,
    alignment_nanos: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
}

impl Default for TaskMetrics {
    fn default() -> Self {
        TaskMetrics {
            started: Instant::now(),
            backpressured_nanos: AtomicU64::new(0),
            idle_nanos: AtomicU64::new(0),
            alignment_nanos: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
        }
    }
}

impl TaskMetrics {
    /// Notes how long the last checkpoint's barrier took to align.
    pub fn set_alignment(&self, alignment: Duration) {
        self.alignment_nanos
            .store(alignment.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Adds `n` bytes received from another process.
    pub fn add_bytes_in(&self, n: usize) {
        self.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Adds `n` bytes sent to another process.
    pub fn add_bytes_out(&self, n: usize) {
        self.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Adds time the subtask spent waiting for input (or, a source, for data to read).
    pub fn add_idle(&self, waited: Duration) {
        self.idle_nanos
            .fetch_add(waited.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Total time waiting for input.
    pub fn idle(&self) -> Duration {
        Duration::from_nanos(self.idle_nanos.load(Ordering::Relaxed))
    }

    /// Time since the subtask started.
    pub fn running(&self) -> Duration {
        self.started.elapsed()
    }

    /// Adds time the subtask spent blocked on a full output channel.
    pub fn add_backpressure(&self, blocked: Duration) {
        if !blocked.is_zero() {
            self.backpressured_nanos
                .fetch_add(blocked.as_nanos() as u64, Ordering::Relaxed);
        }
    }

    /// Total time blocked on full output channels.
    pub fn backpressured(&self) -> Duration {
        Duration::from_nanos(self.backpressured_nanos.load(Ordering::Relaxed))
    }
}

struct OperatorEntry {
    name: String,
    uid: String,
    subtask: usize,
    metrics: Arc<OperatorMetrics>,
}

struct TaskEntry {
    vertex: usize,
    name: String,
    subtask: usize,
    metrics: Arc<TaskMetrics>,
}

/// All metrics of one job.
#[derive(Default)]
pub struct MetricRegistry {
    operators: Mutex<Vec<OperatorEntry>>,
    tasks: Mutex<Vec<TaskEntry>>,
}

/// A point-in-time reading of one operator's counters, summed over its subtasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperatorSummary {
    /// The operator's name.
    pub name: String,
    /// The operator's stable uid.
    pub uid: String,
    /// Records received, over all subtasks.
    pub records_in: u64,
    /// Records emitted, over all subtasks.
    pub records_out: u64,
    /// Records received per subtask.
    pub records_in_per_subtask: Vec<u64>,
}

/// A point-in-time reading of one subtask's counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSummary {
    /// The task's (chain's) index in the job graph.
    pub vertex: usize,
    /// The task's (chain's) name.
    pub name: String,
    /// The subtask index.
    pub subtask: usize,
    /// Time spent blocked on full output channels, in milliseconds.
    pub backpressured_ms: u64,
    /// Time spent waiting for input, in milliseconds.
    #[serde(default)]
    pub idle_ms: u64,
    /// Time since it started, in milliseconds.
    #[serde(default)]
    pub running_ms: u64,
    /// Bytes of records received from other processes.
    #[serde(default)]
    pub bytes_in: u64,
    /// Bytes of records sent to other processes.
    #[serde(default)]
    pub bytes_out: u64,
    /// How long the last checkpoint's barrier took to align, in nanoseconds.
    #[serde(default)]
    pub alignment_ns: u64,
}

impl TaskSummary {
    /// Time it was neither waiting for input nor blocked on output, in milliseconds.
    pub fn busy_ms(&self) -> u64 {
        self.running_ms
            .saturating_sub(self.idle_ms)
            .saturating_sub(self.backpressured_ms)
    }
}

impl MetricRegistry {
    /// A new, empty registry.
    pub fn new() -> Arc<Self> {
        Arc::new(MetricRegistry::default())
    }

    /// Registers (or finds) the counters of operator `uid` in `subtask`.
    pub fn operator(&self, name: &str, uid: &str, subtask: usize) -> Arc<OperatorMetrics> {
        let mut operators = self
            .operators
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = operators
            .iter()
            .find(|e| e.uid == uid && e.subtask == subtask)
        {
            return Arc::clone(&entry.metrics);
        }
        let metrics = Arc::new(OperatorMetrics::default());
        operators.push(OperatorEntry {
            name: name.to_string(),
            uid: uid.to_string(),
            subtask,
            metrics: Arc::clone(&metrics),
        });
        metrics
    }

    /// Registers (or finds) the counters of one subtask of task `name`, the job graph's vertex
    /// `vertex`.
    pub fn task(&self, vertex: usize, name: &str, subtask: usize) -> Arc<TaskMetrics> {
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = tasks
            .iter()
            .find(|e| e.vertex == vertex && e.subtask == subtask)
        {
            return Arc::clone(&entry.metrics);
        }
        let metrics = Arc::new(TaskMetrics::default());
        tasks.push(TaskEntry {
            vertex,
            name: name.to_string(),
            subtask,
            metrics: Arc::clone(&metrics),
        });
        metrics
    }

    /// Reads every operator's counters, summed per operator, in registration order.
    pub fn operator_summaries(&self) -> Vec<OperatorSummary> {
        let operators = self
            .operators
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut summaries: Vec<OperatorSummary> = Vec::new();
        for entry in operators.iter() {
            let index = match summaries.iter().position(|s| s.uid == entry.uid) {
                Some(index) => index,
                None => {
                    summaries.push(OperatorSummary {
                        name: entry.name.clone(),
                        uid: entry.uid.clone(),
                        records_in: 0,
                        records_out: 0,
                        records_in_per_subtask: Vec::new(),
                    });
                    summaries.len() - 1
                }
            };
            let summary = &mut summaries[index];
            let records_in = entry.metrics.records_in();
            summary.records_in += records_in;
            summary.records_out += entry.metrics.records_out();
            if summary.records_in_per_subtask.len() <= entry.subtask {
                summary.records_in_per_subtask.resize(entry.subtask + 1, 0);
            }
            summary.records_in_per_subtask[entry.subtask] += records_in;
        }
        summaries
    }

    /// Reads every subtask's counters.
    pub fn task_summaries(&self) -> Vec<TaskSummary> {
        self.tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|entry| TaskSummary {
                vertex: entry.vertex,
                name: entry.name.clone(),
                subtask: entry.subtask,
                backpressured_ms: entry.metrics.backpressured().as_millis() as u64,
                idle_ms: entry.metrics.idle().as_millis() as u64,
                running_ms: entry.metrics.running().as_millis() as u64,
                bytes_in: entry.metrics.bytes_in.load(Ordering::Relaxed),
                bytes_out: entry.metrics.bytes_out.load(Ordering::Relaxed),
                alignment_ns: entry.metrics.alignment_nanos.load(Ordering::Relaxed),
            })
            .collect()
    }
}

/// One operator subtask's counters at a point in time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorReading {
    /// The operator's stable uid.
    pub uid: String,
    /// The subtask index.
    pub subtask: usize,
    /// Records received so far.
    pub records_in: u64,
    /// Records emitted so far.
    pub records_out: u64,
    /// Its input's current watermark (`i64::MIN` before the first).
    pub watermark_in: i64,
    /// The last watermark it emitted (`i64::MIN` before the first).
    pub watermark_out: i64,
}

/// Every counter of one process's share of a job at a point in time: what a worker reports
/// to the JobManager, which serves it over REST.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricsReport {
    /// Each operator subtask's counters.
    pub operators: Vec<OperatorReading>,
    /// Each task subtask's counters.
    pub tasks: Vec<TaskSummary>,
}

/// CPU time and resident memory of some processes, summed: what a TaskManager reports of
/// itself and its workers every heartbeat, and what the processes' metrics show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessUsage {
    /// CPU time used, user and system, in seconds.
    pub cpu_seconds: f64,
    /// Resident memory, in bytes.
    pub rss_bytes: u64,
}

/// One sample of a metric as a Prometheus endpoint shows it: its name
/// (`flink_<scope>_<metric>`), labels and value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSample {
    /// The metric's name.
    pub name: String,
    /// Its labels, in order.
    pub labels: Vec<(String, String)>,
    /// Its value.
    pub value: f64,
}

impl MetricSample {
    /// A sample of `name` with `labels`.
    pub fn new(name: impl Into<String>, labels: &[(&str, &str)], value: f64) -> Self {
        MetricSample {
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value,
        }
    }
}

impl MetricsReport {
    /// The reading of operator `uid` in subtask `subtask`, if the report has it.
    pub fn operator(&self, uid: &str, subtask: usize) -> Option<&OperatorReading> {
        self.operators
            .iter()
            .find(|o| o.uid == uid && o.subtask == subtask)
    }
}

impl MetricRegistry {
    /// Reads every counter, per subtask.
    pub fn report(&self) -> MetricsReport {
        let operators = self
            .operators
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|entry| OperatorReading {
                uid: entry.uid.clone(),
                subtask: entry.subtask,
                records_in: entry.metrics.records_in(),
                records_out: entry.metrics.records_out(),
                watermark_in: entry.metrics.watermark_in(),
                watermark_out: entry.metrics.watermark_out(),
            })
            .collect();
        MetricsReport {
            operators,
            tasks: self.task_summaries(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_add_up_subtasks() {
        let registry = MetricRegistry::new();
        registry.operator("Map", "map-1", 0).add_in(3);
        registry.operator("Map", "map-1", 1).add_in(4);
        registry.operator("Map", "map-1", 1).add_out(2);
        registry.operator("Sink", "sink-2", 0).add_in(2);
        let summaries = registry.operator_summaries();
        assert_eq!(summaries.len(), 2);
        assert_eq!(summaries[0].records_in, 7);
        assert_eq!(summaries[0].records_out, 2);
        assert_eq!(summaries[0].records_in_per_subtask, vec![3, 4]);
        assert_eq!(summaries[1].name, "Sink");
        let report = registry.report();
        assert_eq!(report.operators.len(), 3);
        assert_eq!(
            report.operators[1],
            OperatorReading {
                uid: "map-1".into(),
                subtask: 1,
                records_in: 4,
                records_out: 2,
                watermark_in: i64::MIN,
                watermark_out: i64::MIN,
            }
        );
    }

    #[test]
    fn task_backpressure_accumulates() {
        let registry = MetricRegistry::new();
        let task = registry.task(0, "Source -> Map", 0);
        task.add_backpressure(Duration::from_millis(5));
        task.add_backpressure(Duration::from_millis(7));
        assert_eq!(registry.task_summaries()[0].backpressured_ms, 12);
    }

    #[test]
    fn a_subtask_is_busy_when_neither_idle_nor_backpressured() {
        let registry = MetricRegistry::new();
        let task = registry.task(0, "Map", 0);
        task.add_idle(Duration::from_millis(20));
        task.add_backpressure(Duration::from_millis(10));
        std::thread::sleep(Duration::from_millis(50));
        let summary = &registry.task_summaries()[0];
        assert_eq!((summary.idle_ms, summary.backpressured_ms), (20, 10));
        assert!(summary.running_ms >= 50, "{summary:?}");
        assert_eq!(summary.busy_ms(), summary.running_ms - 30);
    }
}
