//! One completed checkpoint in Flink's shapes: `/jobs/{jobid}/checkpoints/details/{checkpointid}`
//! (its statistics with each vertex's part) and `.../subtasks/{vertexid}` (a vertex's subtasks:
//! when each acknowledged and the bytes its state took).

use serde_json::{Map, Value, json};
use sluice_runtime::checkpoint::{CheckpointStats, SubtaskCheckpointStats};

use super::checkpoints::{completed, summary};
use super::{JobView, Vertex, vertex_of};

/// The completed checkpoint `id` of `view`'s job, if it is among those kept.
fn checkpoint(view: &JobView, id: u64) -> Option<CheckpointStats> {
    view.checkpoints.newest(|c| c.checkpoint_id == id)
}

/// The parts of `stats` of `vertex`'s subtasks.
fn parts<'a>(
    stats: &'a CheckpointStats,
    vertex: &Vertex,
) -> impl Iterator<Item = &'a SubtaskCheckpointStats> {
    let index = vertex.index;
    stats
        .subtask_stats
        .iter()
        .filter(move |s| s.vertex == index)
}

/// Flink's `TaskCheckpointStatistics` of `vertex` in `stats`.
fn vertex_part(stats: &CheckpointStats, vertex: &Vertex) -> Value {
    let acknowledged: Vec<u64> = parts(stats, vertex)
        .filter_map(|s| s.acknowledged_ms)
        .collect();
    let bytes: u64 = parts(stats, vertex).map(|s| s.bytes).sum();
    let latest = acknowledged.iter().copied().max().unwrap_or(0);
    json!({
        "id": stats.checkpoint_id,
        "status": "COMPLETED",
        "latest_ack_timestamp": stats.trigger_ms + latest,
        "checkpointed_size": bytes,
        "state_size": bytes,
        "end_to_end_duration": latest,
        "alignment_buffered": 0,
        "processed_data": 0,
        "persisted_data": 0,
        "num_subtasks": vertex.parallelism,
        "num_acknowledged_subtasks": acknowledged.len(),
    })
}

/// `/jobs/{jobid}/checkpoints/details/{checkpointid}`: the checkpoint with each vertex's part
/// (`None` for a checkpoint not kept).
pub fn checkpoint_details(view: &JobView, id: u64) -> Option<Value> {
    let stats = checkpoint(view, id)?;
    let mut value = completed(&stats);
    let tasks: Map<String, Value> = view
        .vertices
        .iter()
        .map(|vertex| (vertex.id.clone(), vertex_part(&stats, vertex)))
        .collect();
    value["tasks"] = Value::Object(tasks);
    Some(value)
}

/// `/jobs/{jobid}/checkpoints/details/{checkpointid}/subtasks/{vertexid}`: the vertex's part
/// of the checkpoint with each subtask's (a subtask that had finished before the checkpoint
/// counts as acknowledged at once, with no state).
pub fn checkpoint_subtasks(view: &JobView, id: u64, vertex_id: &str) -> Option<Value> {
    let stats = checkpoint(view, id)?;
    let vertex = vertex_of(view, vertex_id)?;
    let mut value = vertex_part(&stats, vertex);
    let subtasks: Vec<Value> = parts(&stats, vertex)
        .map(|s| {
            let after = s.acknowledged_ms.unwrap_or(0);
            json!({
                "index": s.subtask,
                "status": "completed",
                "ack_timestamp": stats.trigger_ms + after,
                "end_to_end_duration": after,
                "state_size": s.bytes,
                "checkpointed_size": s.bytes,
                "unaligned_checkpoint": stats.unaligned,
                "aborted": false,
            })
        })
        .collect();
    value["summary"] = json!({
        "state_size": summary(parts(&stats, vertex).map(|s| s.bytes).collect()),
        "checkpointed_size": summary(parts(&stats, vertex).map(|s| s.bytes).collect()),
        "end_to_end_duration": summary(
            parts(&stats, vertex)
                .map(|s| s.acknowledged_ms.unwrap_or(0))
                .collect()
        ),
    });
    value["subtasks"] = Value::Array(subtasks);
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobmanager::views::JobStatus;
    use sluice_runtime::checkpoint::CheckpointCounters;
    use std::time::Duration;

    fn view_with_checkpoint() -> JobView {
        let mut view = super::super::tests::view(JobStatus::Running);
        let part = |vertex, subtask, acknowledged_ms, bytes| SubtaskCheckpointStats {
            vertex,
            subtask,
            acknowledged_ms,
            bytes,
        };
        let stats = CheckpointStats {
            checkpoint_id: 7,
            trigger_ms: 10_000,
            path: "/cp/job/chk-7".into(),
            subtasks: 3,
            duration: Duration::from_millis(40),
            write_duration: Duration::from_millis(5),
            bytes: 700,
            savepoint: false,
            unaligned: false,
            in_flight_bytes: 0,
            subtask_stats: vec![
                part(0, 0, Some(12), 100),
                part(0, 1, Some(30), 300),
                part(1, 0, None, 0),
            ],
        };
        view.checkpoints.attempts = vec![CheckpointCounters::new(vec![stats], 0)];
        view
    }

    #[test]
    fn a_checkpoint_has_each_vertexs_part() {
        let view = view_with_checkpoint();
        let value = checkpoint_details(&view, 7).unwrap();
        assert_eq!(value["id"], 7);
        let source = &value["tasks"][view.vertices[0].id.as_str()];
        assert_eq!(source["state_size"], 400);
        assert_eq!(source["num_acknowledged_subtasks"], 2);
        assert_eq!(source["end_to_end_duration"], 30);
        assert_eq!(source["latest_ack_timestamp"], 10_030);
        assert!(checkpoint_details(&view, 8).is_none(), "not kept");
    }

    #[test]
    fn a_vertexs_subtasks_say_when_they_acknowledged_and_what_they_stored() {
        let view = view_with_checkpoint();
        let source = view.vertices[0].id.clone();
        let value = checkpoint_subtasks(&view, 7, &source).unwrap();
        let subtasks = value["subtasks"].as_array().unwrap();
        assert_eq!(subtasks.len(), 2);
        assert_eq!(subtasks[1]["index"], 1);
        assert_eq!(subtasks[1]["ack_timestamp"], 10_030);
        assert_eq!(subtasks[1]["state_size"], 300);
        assert_eq!(value["summary"]["state_size"]["max"], 300);
        assert!(checkpoint_subtasks(&view, 7, "nope").is_none());
        let sink = view.vertices[1].id.clone();
        let finished = checkpoint_subtasks(&view, 7, &sink).unwrap();
        assert_eq!(finished["num_acknowledged_subtasks"], 0);
        assert_eq!(finished["subtasks"][0]["end_to_end_duration"], 0);
    }
}
