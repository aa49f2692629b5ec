//! `EXPLAIN`: a planned job as Flink's SQL client shows a plan — one line per operator, inputs
//! indented below it (`+-` before the last input, `:-` before the others) — with the changelog
//! mode of each operator's output (`[I]` insert-only; `[I,UB,UA]` an updating aggregate; `[I,D]`
//! a join over updating input; `[NONE]` for sinks).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{SqlError, SqlResult};

/// One operator of the plan.
struct Node {
    name: String,
    operator_type: String,
    is_sink: bool,
    inputs: Vec<u64>,
}

/// The plan of `execution_plan` (the environment's plan JSON, as Flink's `getExecutionPlan()`).
pub fn explain(execution_plan: &str) -> SqlResult<Vec<String>> {
    let nodes = parse(execution_plan)?;
    let mut modes = BTreeMap::new();
    for id in nodes.keys() {
        changelog_mode(*id, &nodes, &mut modes);
    }
    let mut consumers: BTreeMap<u64, usize> = BTreeMap::new();
    for input in nodes.values().flat_map(|n| &n.inputs) {
        *consumers.entry(*input).or_default() += 1;
    }
    let mut drawing = Drawing {
        nodes: &nodes,
        modes: &modes,
        consumers: &consumers,
        reuse_ids: BTreeMap::new(),
        lines: vec!["== Optimized Execution Plan ==".to_string()],
    };
    for id in nodes.keys().filter(|id| !consumers.contains_key(id)) {
        drawing.render(*id, "", "");
        drawing.lines.push(String::new());
    }
    drawing.lines.pop();
    Ok(drawing.lines)
}

fn parse(execution_plan: &str) -> SqlResult<BTreeMap<u64, Node>> {
    let bad = |what: &str| SqlError::new(format!("cannot read the job's plan: {what}"));
    let plan: Value = serde_json::from_str(execution_plan).map_err(|e| bad(&e.to_string()))?;
    let mut nodes = BTreeMap::new();
    for node in plan["nodes"].as_array().ok_or_else(|| bad("no nodes"))? {
        let id = node["id"]
            .as_u64()
            .ok_or_else(|| bad("a node without id"))?;
        let inputs = node["predecessors"]
            .as_array()
            .map(|p| p.iter().filter_map(|p| p["id"].as_u64()).collect())
            .unwrap_or_default();
        nodes.insert(
            id,
            Node {
                name: node["contents"].as_str().unwrap_or_default().to_string(),
                operator_type: node["type"].as_str().unwrap_or_default().to_string(),
                is_sink: node["pact"] == "Data Sink",
                inputs,
            },
        );
    }
    Ok(nodes)
}

/// The row kinds `id` emits, from those of its inputs.
fn changelog_mode(
    id: u64,
    nodes: &BTreeMap<u64, Node>,
    modes: &mut BTreeMap<u64, &'static str>,
) -> &'static str {
    if let Some(mode) = modes.get(&id) {
        return mode;
    }
    let node = &nodes[&id];
    let inputs: Vec<&'static str> = node
        .inputs
        .iter()
        .map(|input| changelog_mode(*input, nodes, modes))
        .collect();
    let updating = inputs.iter().any(|mode| *mode != "I");
    let mode = match node.operator_type.as_str() {
        "GroupAggregate" => "I,UB,UA",
        "Join" if updating => "I,D",
        _ if node.is_sink => "NONE",
        _ => inputs.into_iter().max_by_key(|m| m.len()).unwrap_or("I"),
    };
    modes.insert(id, mode);
    mode
}

/// The plan being drawn: an operator that several others read (a reused sub-plan) is drawn
/// once, with `reuse_id=[n]`, and then as `Reused(reference_id=[n])`, as Flink draws it.
struct Drawing<'a> {
    nodes: &'a BTreeMap<u64, Node>,
    modes: &'a BTreeMap<u64, &'static str>,
    consumers: &'a BTreeMap<u64, usize>,
    reuse_ids: BTreeMap<u64, usize>,
    lines: Vec<String>,
}

impl Drawing<'_> {
    /// Draws operator `id` and its inputs, its line starting with `first`, its inputs' lines
    /// with `rest`.
    fn render(&mut self, id: u64, first: &str, rest: &str) {
        let node = &self.nodes[&id];
        let mut name = node.name.clone();
        if self.consumers.get(&id).is_some_and(|&n| n > 1) {
            if let Some(reused) = self.reuse_ids.get(&id) {
                self.lines
                    .push(format!("{first}Reused(reference_id=[{reused}])"));
                return;
            }
            let reuse_id = self.reuse_ids.len() + 1;
            self.reuse_ids.insert(id, reuse_id);
            name = match name.strip_suffix(')') {
                Some(open) => format!("{open}, reuse_id=[{reuse_id}])"),
                None => format!("{name}(reuse_id=[{reuse_id}])"),
            };
        }
        self.lines.push(format!(
            "{first}{name}, changelogMode=[{}]",
            self.modes[&id]
        ));
        let count = node.inputs.len();
        for (i, input) in node.inputs.iter().enumerate() {
            let (branch, under) = if i + 1 == count {
                ("+- ", "   ")
            } else {
                (":- ", ":  ")
            };
            self.render(
                *input,
                &format!("{rest}{branch}"),
                &format!("{rest}{under}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_inputs_below_their_operator_with_changelog_modes() {
        let plan = r#"{"nodes": [
            {"id": 1, "type": "Source", "pact": "Data Source", "contents": "Scan(a)"},
            {"id": 2, "type": "Source", "pact": "Data Source", "contents": "Scan(b)"},
            {"id": 3, "type": "GroupAggregate", "pact": "Operator", "contents": "GroupAggregate(x)",
             "predecessors": [{"id": 2}]},
            {"id": 4, "type": "Join", "pact": "Operator", "contents": "Join(y)",
             "predecessors": [{"id": 1}, {"id": 3}]},
            {"id": 5, "type": "Sink", "pact": "Data Sink", "contents": "Sink(t)",
             "predecessors": [{"id": 4}]}
        ]}"#;
        assert_eq!(
            explain(plan).unwrap(),
            [
                "== Optimized Execution Plan ==",
                "Sink(t), changelogMode=[NONE]",
                "+- Join(y), changelogMode=[I,D]",
                "   :- Scan(a), changelogMode=[I]",
                "   +- GroupAggregate(x), changelogMode=[I,UB,UA]",
                "      +- Scan(b), changelogMode=[I]",
            ]
        );
        assert!(explain("not json").is_err());
    }

    #[test]
    fn a_reused_operator_is_drawn_once_and_then_referred_to() {
        let plan = r#"{"nodes": [
            {"id": 1, "type": "Source", "pact": "Data Source", "contents": "Scan(a)"},
            {"id": 2, "type": "Calc", "pact": "Operator", "contents": "Calc(x)",
             "predecessors": [{"id": 1}]},
            {"id": 3, "type": "Join", "pact": "Operator", "contents": "Join(y)",
             "predecessors": [{"id": 2}, {"id": 2}]}
        ]}"#;
        assert_eq!(
            explain(plan).unwrap(),
            [
                "== Optimized Execution Plan ==",
                "Join(y), changelogMode=[I]",
                ":- Calc(x, reuse_id=[1]), changelogMode=[I]",
                ":  +- Scan(a), changelogMode=[I]",
                "+- Reused(reference_id=[1])",
            ]
        );
    }
}
