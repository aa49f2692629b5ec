//! A job's checkpoints in Flink's shapes: `/jobs/{jobid}/checkpoints` (counts, a summary of
//! sizes and durations, the latest, the recent history) and `/jobs/{jobid}/checkpoints/config`.

use serde_json::{Value, json};
use sluice_runtime::checkpoint::{
    CheckpointConfig, CheckpointCounters, CheckpointStats, CheckpointingMode,
};

/// How many checkpoints the history lists, newest first (Flink's `web.checkpoints.history`).
pub const HISTORY: usize = 10;

/// What a job's checkpoint views are built from.
#[derive(Debug, Clone, Default)]
pub struct CheckpointsView {
    /// The job's checkpointing, if it checkpoints.
    pub config: Option<CheckpointConfig>,
    /// The state backend's name.
    pub state_backend: String,
    /// Each attempt's checkpoint statistics, shared with its coordinator: read when an answer
    /// needs them.
    pub attempts: Vec<CheckpointCounters>,
    /// The checkpoint the current attempt restored, if any, and when it started.
    pub restored: Option<(String, u64)>,
}

impl CheckpointsView {
    /// The completed checkpoints and savepoints over all attempts, oldest first.
    pub fn completed(&self) -> Vec<CheckpointStats> {
        self.attempts
            .iter()
            .flat_map(CheckpointCounters::completed)
            .collect()
    }

    /// The newest completed checkpoint or savepoint over all attempts that `pick` accepts.
    pub fn newest(
        &self,
        pick: impl Fn(&CheckpointStats) -> bool + Copy,
    ) -> Option<CheckpointStats> {
        self.attempts.iter().rev().find_map(|a| a.newest(pick))
    }

    /// How many completed checkpoints and savepoints over all attempts `pick` accepts.
    pub fn count(&self, pick: impl Fn(&CheckpointStats) -> bool + Copy) -> usize {
        self.attempts.iter().map(|a| a.count(pick)).sum()
    }

    /// How many checkpoints failed over all attempts.
    pub fn failed(&self) -> u64 {
        self.attempts.iter().map(CheckpointCounters::failed).sum()
    }
}

/// Flink's class name of the state backend Sluice names `backend` (`hashmap`, `rocksdb`).
pub fn flink_state_backend(backend: &str) -> String {
    match backend
        .trim()
        .trim_matches(['\'', '"'])
        .to_ascii_lowercase()
        .as_str()
    {
        "rocksdb" => "EmbeddedRocksDBStateBackend",
        _ => "HashMapStateBackend",
    }
    .to_string()
}

/// Flink's `StatsSummaryDto` of `values`: min, max, average and percentiles.
pub(super) fn summary(mut values: Vec<u64>) -> Value {
    if values.is_empty() {
        return json!({"min": 0, "max": 0, "avg": 0, "p50": 0.0, "p90": 0.0, "p95": 0.0,
                      "p99": 0.0, "p999": 0.0});
    }
    values.sort_unstable();
    let percentile = |p: f64| {
        let rank = (p * values.len() as f64).ceil() as usize;
        values[rank.clamp(1, values.len()) - 1] as f64
    };
    json!({
        "min": values[0],
        "max": values[values.len() - 1],
        "avg": values.iter().sum::<u64>() / values.len() as u64,
        "p50": percentile(0.5),
        "p90": percentile(0.9),
        "p95": percentile(0.95),
        "p99": percentile(0.99),
        "p999": percentile(0.999),
    })
}

/// One completed checkpoint or savepoint, as Flink lists it.
pub(super) fn completed(stats: &CheckpointStats) -> Value {
    let duration = stats.duration.as_millis() as u64;
    json!({
        "className": "completed",
        "id": stats.checkpoint_id,
        "status": "COMPLETED",
        "is_savepoint": stats.savepoint,
        "trigger_timestamp": stats.trigger_ms,
        "latest_ack_timestamp": stats.trigger_ms + duration,
        "checkpointed_size": stats.bytes,
        "state_size": stats.bytes,
        "end_to_end_duration": duration,
        "alignment_buffered": 0,
        "processed_data": 0,
        "persisted_data": stats.in_flight_bytes,
        "num_subtasks": stats.subtasks,
        "num_acknowledged_subtasks": stats.subtasks,
        "checkpoint_type": if stats.savepoint { "SAVEPOINT" } else { "CHECKPOINT" },
        "tasks": {},
        "external_path": stats.path,
        "discarded": false,
        // Sluice's: whether it was unaligned, and the part of the duration spent writing.
        "unaligned": stats.unaligned,
        "write_duration": stats.write_duration.as_millis() as u64,
    })
}

/// `/jobs/{jobid}/checkpoints`.
pub fn checkpoints(view: &super::JobView) -> Value {
    let checkpoints = &view.checkpoints;
    let all = &checkpoints.completed();
    let failed = checkpoints.failed();
    let mut latest = serde_json::Map::new();
    if let Some(last) = all.iter().rev().find(|c| !c.savepoint) {
        latest.insert("completed".into(), completed(last));
    }
    if let Some(last) = all.iter().rev().find(|c| c.savepoint) {
        latest.insert("savepoint".into(), completed(last));
    }
    if let Some((path, at)) = &checkpoints.restored {
        latest.insert(
            "restored".into(),
            json!({
                "id": sluice_state::storage::checkpoint_id_of(path).unwrap_or(0),
                "restore_timestamp": at,
                "is_savepoint": !path.contains("/chk-"),
                "external_path": path,
            }),
        );
    }
    let completed_count = all.len() as u64;
    json!({
        "counts": {
            "restored": u64::from(checkpoints.restored.is_some()),
            "total": completed_count + failed,
            "in_progress": 0,
            "completed": completed_count,
            "failed": failed,
        },
        "summary": {
            "checkpointed_size": summary(all.iter().map(|c| c.bytes).collect()),
            "state_size": summary(all.iter().map(|c| c.bytes).collect()),
            "end_to_end_duration":
                summary(all.iter().map(|c| c.duration.as_millis() as u64).collect()),
            "alignment_buffered": summary(Vec::new()),
            "processed_data": summary(Vec::new()),
            "persisted_data": summary(all.iter().map(|c| c.in_flight_bytes).collect()),
        },
        "latest": latest,
        "history": all.iter().rev().take(HISTORY).map(completed).collect::<Vec<_>>(),
    })
}

/// `/jobs/{jobid}/checkpoints/config`, `None` when the job does not checkpoint.
pub fn checkpoint_config(view: &super::JobView) -> Option<Value> {
    let config = view.checkpoints.config.as_ref()?;
    let ms = |d: std::time::Duration| d.as_millis() as u64;
    Some(json!({
        "mode": match config.mode {
            CheckpointingMode::ExactlyOnce => "exactly_once",
            CheckpointingMode::AtLeastOnce => "at_least_once",
        },
        "interval": ms(config.interval),
        "timeout": ms(config.timeout),
        "min_pause": ms(config.min_pause),
        "max_concurrent": config.max_concurrent,
        "externalization": {
            "enabled": true,
            "delete_on_cancellation": false,
        },
        "state_backend": view.checkpoints.state_backend,
        "checkpoint_storage": if config.directory.is_some() {
            "FileSystemCheckpointStorage"
        } else {
            "JobManagerCheckpointStorage"
        },
        "unaligned_checkpoints": config.unaligned,
        "tolerable_failed_checkpoints": config.tolerable_failures,
        "aligned_checkpoint_timeout": 0,
        "checkpoints_after_tasks_finish": true,
        "state_changelog_enabled": false,
        "changelog_periodic_materialization_interval": 0,
        "changelog_storage": "memory",
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn stats(id: u64, bytes: u64, savepoint: bool) -> CheckpointStats {
        CheckpointStats {
            checkpoint_id: id,
            trigger_ms: 1_000 * id,
            path: format!("/cp/job/chk-{id}"),
            subtasks: 3,
            duration: Duration::from_millis(10 * id),
            write_duration: Duration::from_millis(id),
            bytes,
            savepoint,
            unaligned: false,
            in_flight_bytes: 0,
            subtask_stats: Vec::new(),
        }
    }

    #[test]
    fn percentiles_are_nearest_ranks() {
        let s = summary((1..=100).collect());
        assert_eq!(s["min"], 1);
        assert_eq!(s["max"], 100);
        assert_eq!(s["avg"], 50);
        assert_eq!(s["p50"], 50.0);
        assert_eq!(s["p99"], 99.0);
        assert_eq!(s["p999"], 100.0);
        assert_eq!(summary(Vec::new())["max"], 0);
    }

    #[test]
    fn counts_latest_and_newest_first_history() {
        let mut view = super::super::tests::view(crate::jobmanager::views::JobStatus::Running);
        let completed = (1..=12).map(|id| stats(id, 100 * id, id == 5)).collect();
        view.checkpoints.attempts = vec![CheckpointCounters::new(completed, 2)];
        let value = checkpoints(&view);
        assert_eq!(value["counts"]["completed"], 12);
        assert_eq!(value["counts"]["total"], 14);
        assert_eq!(value["latest"]["completed"]["id"], 12);
        assert_eq!(value["latest"]["savepoint"]["id"], 5);
        assert_eq!(value["latest"]["completed"]["latest_ack_timestamp"], 12_120);
        assert_eq!(value["history"].as_array().unwrap().len(), HISTORY);
        assert_eq!(value["history"][0]["id"], 12);
        assert_eq!(value["summary"]["checkpointed_size"]["max"], 1200);
        assert!(value["latest"].get("restored").is_none());
        assert!(checkpoint_config(&view).is_none());
    }
}
