//! A vertex's metrics in Flink's shapes: `/jobs/{jobid}/vertices/{vertexid}/metrics` (each
//! subtask's, by `<subtask>.<name>`), `.../subtasks/metrics` (aggregated over the subtasks),
//! `.../watermarks` and `.../backpressure`, with Flink's metric names.

use serde_json::{Value, json};

use super::{JobView, SUBTASK_METRICS, Vertex, subtasks, vertex_of};

/// Each subtask's metric values, in the order of [`SUBTASK_METRICS`].
fn subtask_values(view: &JobView, vertex: &Vertex) -> Vec<[f64; SUBTASK_METRICS.len()]> {
    subtasks(view, vertex)
        .iter()
        .map(|s| s.metric_values())
        .collect()
}

/// A metric's value as Flink's API writes it: a string, integral values without a fraction.
fn text(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e18 {
        format!("{}", value as i64)
    } else {
        value.to_string()
    }
}

/// `/jobs/{jobid}/vertices/{vertexid}/metrics`: without `get`, the metric ids
/// (`<subtask>.<name>`); with `get` (comma-separated ids), their values. `None` for an
/// unknown vertex.
pub fn vertex_metrics(view: &JobView, vertex_id: &str, get: Option<&str>) -> Option<Value> {
    let vertex = vertex_of(view, vertex_id)?;
    let values = subtask_values(view, vertex);
    let Some(get) = get else {
        let ids: Vec<Value> = (0..values.len())
            .flat_map(|s| {
                SUBTASK_METRICS
                    .iter()
                    .map(move |n| json!({ "id": format!("{s}.{n}") }))
            })
            .collect();
        return Some(Value::Array(ids));
    };
    let found: Vec<Value> = get
        .split(',')
        .filter_map(|id| {
            let (subtask, name) = id.trim().split_once('.')?;
            let subtask: usize = subtask.parse().ok()?;
            let index = SUBTASK_METRICS.iter().position(|n| *n == name)?;
            let value = values.get(subtask)?[index];
            Some(json!({ "id": id.trim(), "value": text(value) }))
        })
        .collect();
    Some(Value::Array(found))
}

/// `/jobs/{jobid}/vertices/{vertexid}/subtasks/metrics`: without `get`, the metric names;
/// with `get`, each over the subtasks as `min`, `max`, `avg`, `sum` and `skew` (or the ones
/// `agg` names). `None` for an unknown vertex.
pub fn aggregated_metrics(
    view: &JobView,
    vertex_id: &str,
    get: Option<&str>,
    agg: Option<&str>,
) -> Option<Value> {
    let vertex = vertex_of(view, vertex_id)?;
    let values = subtask_values(view, vertex);
    let Some(get) = get else {
        let ids: Vec<Value> = SUBTASK_METRICS.iter().map(|n| json!({ "id": n })).collect();
        return Some(Value::Array(ids));
    };
    let wanted = |kind: &str| {
        agg.is_none_or(|agg| agg.split(',').any(|a| a.trim().eq_ignore_ascii_case(kind)))
    };
    let found: Vec<Value> = get
        .split(',')
        .filter_map(|name| {
            let index = SUBTASK_METRICS.iter().position(|n| *n == name.trim())?;
            let all: Vec<f64> = values.iter().map(|v| v[index]).collect();
            if all.is_empty() {
                return None;
            }
            let min = all.iter().copied().fold(f64::INFINITY, f64::min);
            let max = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = all.iter().sum();
            let avg = sum / all.len() as f64;
            // Flink's skew: how far the largest is above the average, in percent of it.
            let skew = if avg > 0.0 {
                (max - avg) / avg * 100.0
            } else {
                0.0
            };
            let mut entry = serde_json::Map::new();
            entry.insert("id".into(), json!(name.trim()));
            for (kind, value) in [
                ("min", min),
                ("max", max),
                ("avg", avg),
                ("sum", sum),
                ("skew", skew),
            ] {
                if wanted(kind) {
                    entry.insert(kind.into(), json!(value));
                }
            }
            Some(Value::Object(entry))
        })
        .collect();
    Some(Value::Array(found))
}

/// `/jobs/{jobid}/vertices/{vertexid}/watermarks`: each subtask's input watermark.
pub fn watermarks(view: &JobView, vertex_id: &str) -> Option<Value> {
    let vertex = vertex_of(view, vertex_id)?;
    let entries: Vec<Value> = subtasks(view, vertex)
        .iter()
        .map(|s| {
            json!({
                "id": format!("{}.currentInputWatermark", s.index),
                "value": s.watermarks.0.to_string(),
            })
        })
        .collect();
    Some(Value::Array(entries))
}

/// Flink's level of a backpressured share of time: `ok` up to 10 %, `low` up to 50 %, else
/// `high`.
fn level(ratio: f64) -> &'static str {
    if ratio <= 0.1 {
        "ok"
    } else if ratio <= 0.5 {
        "low"
    } else {
        "high"
    }
}

/// `/jobs/{jobid}/vertices/{vertexid}/backpressure`: each subtask's share of the last
/// reporting interval spent blocked on a full output, and its level; and its shares idle
/// (waiting for input) and busy.
pub fn backpressure(view: &JobView, vertex_id: &str) -> Option<Value> {
    let vertex = vertex_of(view, vertex_id)?;
    let subtasks: Vec<Value> = subtasks(view, vertex)
        .iter()
        .map(|s| {
            let share = |ms_per_second: f64| (ms_per_second / 1000.0).clamp(0.0, 1.0);
            let ratio = share(s.time_per_second.backpressured);
            json!({
                "subtask": s.index,
                "backpressure-level": level(ratio),
                "backpressureLevel": level(ratio),
                "ratio": ratio,
                "idleRatio": share(s.time_per_second.idle),
                "busyRatio": share(s.time_per_second.busy),
            })
        })
        .collect();
    let worst = subtasks
        .iter()
        .filter_map(|s| s["ratio"].as_f64())
        .fold(0.0, f64::max);
    Some(json!({
        "status": "ok",
        "backpressure-level": level(worst),
        "backpressureLevel": level(worst),
        "end-timestamp": view.now_ms,
        "subtasks": subtasks,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobmanager::views::JobStatus;

    fn source_id() -> String {
        super::super::vertices(&super::super::tests::plan())[0]
            .id
            .clone()
    }

    #[test]
    fn subtask_metrics_are_listed_and_read_by_id() {
        let view = super::super::tests::view(JobStatus::Running);
        let list = vertex_metrics(&view, &source_id(), None).unwrap();
        assert_eq!(list.as_array().unwrap().len(), 2 * SUBTASK_METRICS.len());
        assert_eq!(list[0]["id"], "0.numRecordsIn");
        let got = vertex_metrics(
            &view,
            &source_id(),
            Some("1.numRecordsOut,0.currentInputWatermark,9.numRecordsOut,0.nope"),
        )
        .unwrap();
        // Out of Map in subtask 1: 4 * 3; the source's input watermark: 1000 * 3.
        assert_eq!(
            got,
            json!([
                {"id": "1.numRecordsOut", "value": "12"},
                {"id": "0.currentInputWatermark", "value": "3000"},
            ])
        );
        assert!(vertex_metrics(&view, "nope", None).is_none());
    }

    #[test]
    fn aggregates_over_subtasks() {
        let view = super::super::tests::view(JobStatus::Running);
        let got = aggregated_metrics(&view, &source_id(), Some("numRecordsOut"), None).unwrap();
        // Subtasks wrote 30 and 12.
        assert_eq!(got[0]["min"], 12.0);
        assert_eq!(got[0]["max"], 30.0);
        assert_eq!(got[0]["sum"], 42.0);
        assert_eq!(got[0]["avg"], 21.0);
        let only =
            aggregated_metrics(&view, &source_id(), Some("numRecordsOut"), Some("max")).unwrap();
        assert_eq!(only, json!([{"id": "numRecordsOut", "max": 30.0}]));
    }

    #[test]
    fn backpressure_is_the_blocked_share_of_the_last_interval() {
        let view = super::super::tests::view(JobStatus::Running);
        let value = backpressure(&view, &source_id()).unwrap();
        // Subtask 1 was blocked 15 ms now and 5 ms two seconds before: 5 ms per second.
        assert_eq!(value["subtasks"][1]["ratio"], 0.005);
        assert_eq!(value["subtasks"][1]["backpressure-level"], "ok");
        // Idle 300 ms now, 100 ms before: 100 ms per second; busy the rest of its running
        // time, (3000 - 300 - 15) - (1000 - 100 - 5) = 1790 ms in 2 s.
        assert_eq!(value["subtasks"][1]["idleRatio"], 0.1);
        assert_eq!(value["subtasks"][1]["busyRatio"], 0.895);
        let got = vertex_metrics(
            &view,
            &source_id(),
            Some("1.idleTimeMsPerSecond,1.busyTimeMsPerSecond,1.accumulatedIdleTimeMs"),
        )
        .unwrap();
        assert_eq!(
            got,
            json!([
                {"id": "1.idleTimeMsPerSecond", "value": "100"},
                {"id": "1.busyTimeMsPerSecond", "value": "895"},
                {"id": "1.accumulatedIdleTimeMs", "value": "300"},
            ])
        );
        // 192 bytes sent now, 64 two seconds before.
        let bytes = vertex_metrics(
            &view,
            &source_id(),
            Some("1.numBytesOut,1.numBytesOutPerSecond,1.checkpointAlignmentTime"),
        )
        .unwrap();
        assert_eq!(
            bytes,
            json!([
                {"id": "1.numBytesOut", "value": "192"},
                {"id": "1.numBytesOutPerSecond", "value": "64"},
                {"id": "1.checkpointAlignmentTime", "value": "2000000"},
            ])
        );
        assert_eq!(level(0.3), "low");
        assert_eq!(level(0.9), "high");
        let marks = watermarks(&view, &source_id()).unwrap();
        assert_eq!(
            marks[1],
            json!({"id": "1.currentInputWatermark", "value": "3000"})
        );
    }
}
