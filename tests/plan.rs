//! Execution plans: Flink-shaped JSON and DOT, chaining and its controls.

use serde_json::Value;
use sluice::prelude::*;

fn plan(env: &StreamExecutionEnvironment) -> Value {
    serde_json::from_str(&env.execution_plan().unwrap()).unwrap()
}

#[test]
fn plan_json_has_flinks_shape() {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(4);
    env.from_collection(vec![1i64, 2, 3])
        .map(|n: i64| n + 1)
        .uid("plus-one")
        .key_by(|n: &i64| *n)
        .reduce(|a: i64, b: i64| a + b)
        .print();
    let plan = plan(&env);
    let nodes = plan["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 4);
    assert_eq!(nodes[0]["pact"], "Data Source");
    assert_eq!(nodes[0]["parallelism"], 1);
    assert_eq!(nodes[1]["type"], "Map");
    assert_eq!(nodes[1]["uid"], "plus-one");
    assert_eq!(nodes[1]["parallelism"], 4);
    assert_eq!(nodes[1]["predecessors"][0]["ship_strategy"], "REBALANCE");
    assert_eq!(nodes[2]["predecessors"][0]["ship_strategy"], "HASH");
    assert_eq!(nodes[3]["pact"], "Data Sink");
    assert_eq!(nodes[3]["predecessors"][0]["ship_strategy"], "FORWARD");
    // The reduce and the sink share a chain; the source and the map do not.
    assert_eq!(nodes[2]["chain"], nodes[3]["chain"]);
    assert_ne!(nodes[0]["chain"], nodes[1]["chain"]);
}

#[test]
fn chaining_can_be_disabled_or_restarted() {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    env.from_sequence(1, 10)
        .map(|n: i64| n)
        .filter(|n: &i64| *n > 0)
        .start_new_chain()
        .map(|n: i64| n)
        .map(|n: i64| n)
        .disable_chaining()
        .collect();
    let plan = plan(&env);
    let chain = |i: usize| plan["nodes"][i]["chain"].as_u64().unwrap();
    assert_eq!(chain(0), chain(1), "source and map chain");
    assert_ne!(
        chain(1),
        chain(2),
        "start_new_chain splits before the filter"
    );
    assert_eq!(chain(2), chain(3), "the map after the filter chains to it");
    assert_ne!(chain(3), chain(4), "disable_chaining isolates the last map");
    assert_ne!(chain(4), chain(5), "and its sink");
}

#[test]
fn dot_plan_draws_tasks_and_edges() {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    env.from_sequence(1, 10)
        .rebalance()
        .map(|n: i64| n)
        .name("Scale")
        .collect();
    let dot = env.execution_plan_dot().unwrap();
    assert!(dot.starts_with("digraph job {"));
    assert!(dot.contains("label=\"Scale\""));
    assert!(dot.contains("[label=\"REBALANCE\"]"));
    assert!(dot.contains("style=dashed"), "chained edge drawn dashed");
}

#[test]
fn plan_does_not_consume_the_job() {
    let env = StreamExecutionEnvironment::new();
    let out = env.from_sequence(1, 3).collect();
    env.execution_plan().unwrap();
    env.execute("after plan").unwrap();
    assert_eq!(out.len(), 3);
}
