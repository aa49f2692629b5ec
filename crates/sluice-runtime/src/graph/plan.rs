//! The execution plan: the job as JSON in the shape of Flink's `getExecutionPlan()`, and as a
//! Graphviz DOT graph with one cluster per chain.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::job_graph::JobGraph;

impl JobGraph {
    /// The plan as Flink's JSON: `{"nodes": [{"id", "type", "pact", "contents", "parallelism",
    /// "predecessors": [{"id", "ship_strategy", "side"}]}]}`, plus each node's chain and uid.
    pub fn plan_json(&self) -> Value {
        let nodes: Vec<Value> = self
            .graph
            .nodes
            .iter()
            .map(|node| {
                let mut entry = json!({
                    "id": node.id.0 + 1,
                    "type": node.operator_type,
                    "pact": node.pact(),
                    "contents": node.name,
                    "parallelism": self.parallelism[node.id.0],
                    "max_parallelism": self.max_parallelism[node.id.0],
                    "uid": node.effective_uid(),
                    "chain": self.vertex_of[node.id.0] + 1,
                });
                let predecessors: Vec<Value> = self
                    .graph
                    .in_edges(node.id)
                    .map(|e| {
                        let edge = &self.graph.edges[e];
                        let mut p = json!({
                            "id": edge.source.0 + 1,
                            "ship_strategy": self.partitioning[e].ship_strategy(),
                            "side": if edge.input == 1 { "first" } else { "second" },
                        });
                        if let Some(tag) = &edge.side_output {
                            p["side_output"] = json!(tag);
                        }
                        p
                    })
                    .collect();
                if !predecessors.is_empty() {
                    entry["predecessors"] = Value::Array(predecessors);
                }
                entry
            })
            .collect();
        json!({ "nodes": nodes })
    }

    /// The plan as a Graphviz DOT graph.
    pub fn plan_dot(&self) -> String {
        let mut dot = String::from("digraph job {\n  rankdir=LR;\n  node [shape=box];\n");
        for (index, vertex) in self.vertices.iter().enumerate() {
            let _ = writeln!(
                dot,
                "  subgraph cluster_{index} {{\n    label=\"task {} (p={})\";",
                index + 1,
                vertex.parallelism
            );
            for id in &vertex.nodes {
                let node = self.graph.node(*id);
                let _ = writeln!(
                    dot,
                    "    n{} [label=\"{}\"];",
                    id.0 + 1,
                    node.name.replace('"', "\\\"")
                );
            }
            dot.push_str("  }\n");
        }
        for (e, edge) in self.graph.edges.iter().enumerate() {
            let style = if self.chained[e] {
                ", style=dashed"
            } else {
                ""
            };
            let _ = writeln!(
                dot,
                "  n{} -> n{} [label=\"{}\"{style}];",
                edge.source.0 + 1,
                edge.target.0 + 1,
                self.partitioning[e].ship_strategy()
            );
        }
        dot.push_str("}\n");
        dot
    }
}
