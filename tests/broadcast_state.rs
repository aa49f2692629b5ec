//! The broadcast state pattern through the public API.

use std::collections::BTreeSet;

use sluice::prelude::*;

/// Per-category thresholds, broadcast to every instance.
fn thresholds() -> BroadcastStateDescriptor<String, i64> {
    BroadcastStateDescriptor::new("thresholds")
}

/// Buffers events until the rules arrived, then flags events above their threshold.
#[derive(Clone)]
struct Flag {
    waiting: Vec<(String, i64)>,
    rules_expected: usize,
}

impl Flag {
    fn check(event: &(String, i64), rules: &BroadcastStates, out: &mut Collector<'_, String>) {
        if let Some(limit) = rules.get(&thresholds()).and_then(|m| m.get(&event.0))
            && event.1 > *limit
        {
            out.collect(format!("{}={}", event.0, event.1));
        }
    }
}

impl BroadcastProcessFunction<(String, i64), (String, i64), String> for Flag {
    fn process_element(
        &mut self,
        event: (String, i64),
        ctx: &BroadcastContext<'_>,
        out: &mut Collector<'_, String>,
    ) -> UserResult {
        let rules = ctx.states();
        let known = rules.get(&thresholds()).map_or(0, |m| m.len());
        if known < self.rules_expected {
            self.waiting.push(event);
        } else {
            Flag::check(&event, rules, out);
        }
        Ok(())
    }

    fn process_broadcast_element(
        &mut self,
        rule: (String, i64),
        ctx: &mut BroadcastContext<'_>,
        out: &mut Collector<'_, String>,
    ) -> UserResult {
        let rules = ctx.states_mut();
        rules.get_mut(&thresholds())?.insert(rule.0, rule.1);
        if rules.get(&thresholds()).map_or(0, |m| m.len()) == self.rules_expected {
            for event in std::mem::take(&mut self.waiting) {
                Flag::check(&event, rules, out);
            }
        }
        Ok(())
    }
}

fn events() -> Vec<(String, i64)> {
    (0..90)
        .map(|i| (["a", "b", "c"][i % 3].to_string(), i as i64))
        .collect()
}

fn expected() -> BTreeSet<String> {
    events()
        .into_iter()
        .filter(|(c, v)| {
            *v > match c.as_str() {
                "a" => 50,
                "b" => 80,
                _ => 10,
            }
        })
        .map(|(c, v)| format!("{c}={v}"))
        .collect()
}

#[test]
fn every_instance_sees_every_rule() {
    for p in [1, 3] {
        let env = StreamExecutionEnvironment::new();
        env.set_parallelism(p);
        let rules = env
            .from_collection(vec![
                ("a".to_string(), 50i64),
                ("b".into(), 80),
                ("c".into(), 10),
            ])
            .broadcast_with(&thresholds());
        let flagged = env
            .from_collection(events())
            .rebalance()
            .map(|e: (String, i64)| e)
            .connect_broadcast(rules)
            .process(Flag {
                waiting: Vec::new(),
                rules_expected: 3,
            })
            .execute_and_collect("broadcast")
            .unwrap();
        let got: BTreeSet<String> = flagged.iter().cloned().collect();
        assert_eq!(flagged.len(), got.len(), "no duplicates, p={p}");
        assert_eq!(got, expected(), "p={p}");
    }
}

/// Keyed: counts per category in keyed state and reports when a category's count reaches its
/// broadcast limit: on the event that reaches a known limit, or, when the limit arrives after
/// the count passed it, on the limit's arrival (through every key's state).
#[derive(Clone)]
struct CountLimit;

impl CountLimit {
    fn count() -> ValueState<u64> {
        ValueState::new("count")
    }
}

impl KeyedBroadcastProcessFunction<String, (String, i64), (String, i64), String> for CountLimit {
    fn process_element(
        &mut self,
        event: (String, i64),
        ctx: &mut KeyedContext<'_, String>,
        rules: &BroadcastStates,
        out: &mut Collector<'_, String>,
    ) -> UserResult {
        let count = Self::count().value(ctx.state())?.unwrap_or(0) + 1;
        Self::count().update(ctx.state(), &count)?;
        if let Some(limit) = rules.get(&thresholds()).and_then(|m| m.get(&event.0))
            && count as i64 == *limit
        {
            out.collect(format!("{} reached {limit}", ctx.current_key()));
        }
        Ok(())
    }

    fn process_broadcast_element(
        &mut self,
        (category, limit): (String, i64),
        ctx: &mut KeyedBroadcastContext<'_, String>,
        out: &mut Collector<'_, String>,
    ) -> UserResult {
        ctx.states_mut()
            .get_mut(&thresholds())?
            .insert(category.clone(), limit);
        ctx.apply_to_keyed_state("count", |key, state| {
            let count = Self::count().value(state)?.unwrap_or(0);
            if *key == category && count as i64 >= limit {
                out.collect(format!("{key} reached {limit}"));
            }
            Ok(())
        })
    }
}

/// The keyed broadcast job at p=2 on the state backend `configure` sets; its reports, sorted.
fn keyed_limits(configure: impl Fn(&StreamExecutionEnvironment)) -> Vec<String> {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    configure(&env);
    let rules = env
        .from_collection(vec![("a".to_string(), 5i64), ("b".into(), 7)])
        .broadcast_with(&thresholds());
    let mut out = env
        .from_collection(events())
        .key_by(|e: &(String, i64)| e.0.clone())
        .connect_broadcast(rules)
        .process(CountLimit)
        .execute_and_collect("keyed broadcast")
        .unwrap();
    out.sort();
    out
}

#[test]
fn keyed_broadcast_function_combines_keyed_and_broadcast_state() {
    // Rules and events race; whichever arrives first, each category reports exactly once.
    assert_eq!(keyed_limits(|_| {}), ["a reached 5", "b reached 7"]);
}

#[cfg(feature = "rocksdb")]
#[test]
fn a_broadcast_element_reaches_every_keys_state_in_rocksdb_too() {
    let out = keyed_limits(|env| {
        env.set_state_option("state.backend.type", "rocksdb");
    });
    assert_eq!(out, ["a reached 5", "b reached 7"]);
}

/// The keyed broadcast operator under the test harness, on embedded RocksDB: a limit that
/// arrives after the count passed it reports through every key's state, one that arrives first
/// reports on the event reaching it.
#[cfg(feature = "rocksdb")]
#[test]
fn apply_to_keyed_state_reads_every_key_from_rocksdb() {
    use std::sync::Arc;

    use sluice::RocksDbStateBackendFactory;
    use sluice::runtime::harness::TwoInputHarness;
    use sluice::runtime::operators::KeyedBroadcastProcessOperator;
    use sluice::runtime::task::operator::OperatorContext;

    let mut ctx = OperatorContext::single("count-limit");
    ctx.state_backend = Arc::new(RocksDbStateBackendFactory::in_temp_dir().unwrap());
    let operator = KeyedBroadcastProcessOperator::new(
        Arc::new(|e: &(String, i64)| e.0.clone()),
        CountLimit,
        vec![thresholds().codec()],
    );
    let mut harness = TwoInputHarness::with_context(operator, ctx);
    for i in 0..6 {
        harness.process1(Record::new(("a".to_string(), i)));
        harness.process1(Record::new(("c".to_string(), i)));
    }
    harness.process2(Record::new(("a".to_string(), 5)));
    assert_eq!(harness.take_values(), ["a reached 5"]);
    harness.process2(Record::new(("b".to_string(), 1)));
    assert_eq!(harness.take_values(), Vec::<String>::new());
    harness.process1(Record::new(("b".to_string(), 0)));
    assert_eq!(harness.take_values(), ["b reached 1"]);
}
