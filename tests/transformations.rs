//! Every DataStream transformation, driven through the public API at parallelism 1 and 4.

use std::collections::HashMap;

use sluice::prelude::*;

const PARALLELISMS: [usize; 2] = [1, 4];

fn env(parallelism: usize) -> StreamExecutionEnvironment {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(parallelism);
    env
}

fn sorted<T: Ord>(mut values: Vec<T>) -> Vec<T> {
    values.sort();
    values
}

#[test]
fn map_applies_to_every_record() {
    for p in PARALLELISMS {
        let out = env(p)
            .from_sequence(1, 1000)
            .map(|n: i64| n * 2)
            .execute_and_collect("map")
            .unwrap();
        assert_eq!(
            sorted(out),
            (1..=1000).map(|n| n * 2).collect::<Vec<_>>(),
            "p={p}"
        );
    }
}

#[test]
fn flat_map_emits_any_number_of_results() {
    for p in PARALLELISMS {
        let lines = vec!["a b c".to_string(), String::new(), "d".to_string()];
        let out = env(p)
            .from_collection(lines)
            .flat_map(|line: String, out: &mut Collector<'_, String>| {
                for word in line.split_whitespace() {
                    out.collect(word.to_string());
                }
            })
            .execute_and_collect("flat_map")
            .unwrap();
        assert_eq!(sorted(out), vec!["a", "b", "c", "d"], "p={p}");
    }
}

#[test]
fn filter_keeps_matching_records() {
    for p in PARALLELISMS {
        let out = env(p)
            .from_sequence(1, 100)
            .filter(|n: &i64| n % 3 == 0)
            .execute_and_collect("filter")
            .unwrap();
        assert_eq!(
            sorted(out),
            (1..=100).filter(|n| n % 3 == 0).collect::<Vec<_>>(),
            "p={p}"
        );
    }
}

/// A process function kept in a struct, as a Flink user would write one.
#[derive(Clone)]
struct SplitByParity {
    odd: OutputTag<String>,
}

impl ProcessFunction<i64, i64> for SplitByParity {
    fn process_element(
        &mut self,
        value: i64,
        ctx: &mut Context<'_>,
        out: &mut Collector<'_, i64>,
    ) -> UserResult {
        if value % 2 == 0 {
            out.collect(value);
        } else {
            ctx.output(&self.odd, format!("odd {value}"));
        }
        Ok(())
    }
}

#[test]
fn process_routes_main_and_side_outputs() {
    for p in PARALLELISMS {
        let env = env(p);
        let odd = OutputTag::<String>::new("odd");
        let evens = env
            .from_sequence(1, 20)
            .process(SplitByParity { odd: odd.clone() });
        let odds = evens.get_side_output(&odd).collect();
        let evens = evens.collect();
        env.execute("process").unwrap();
        assert_eq!(
            sorted(evens.take()),
            (1..=20).filter(|n| n % 2 == 0).collect::<Vec<_>>()
        );
        let expected: Vec<String> = (1..=20)
            .filter(|n| n % 2 == 1)
            .map(|n| format!("odd {n}"))
            .collect();
        assert_eq!(sorted(odds.take()), sorted(expected), "p={p}");
    }
}

#[test]
fn process_accepts_a_closure() {
    let out = env(2)
        .from_sequence(1, 5)
        .process(
            |v: i64, _ctx: &mut Context<'_>, out: &mut Collector<'_, String>| {
                out.collect(v.to_string());
                Ok(())
            },
        )
        .execute_and_collect("closure")
        .unwrap();
    assert_eq!(sorted(out), vec!["1", "2", "3", "4", "5"]);
}

/// A keyed record: key, value, position in the input.
type Triple = (String, i64, i64);

fn keyed_input() -> Vec<(String, i64)> {
    (0..200)
        .map(|i| (format!("k{}", i % 7), (i * 37 % 101) - 50))
        .collect()
}

#[test]
fn keyed_reduce_in_streaming_mode_emits_every_update_in_key_order() {
    for p in PARALLELISMS {
        let out = env(p)
            .from_collection(keyed_input())
            .key_by(|(k, _): &(String, i64)| k.clone())
            .reduce(|a: (String, i64), b: (String, i64)| (a.0, a.1 + b.1))
            .execute_and_collect("reduce")
            .unwrap();
        let mut expected: HashMap<String, Vec<i64>> = HashMap::new();
        let mut running: HashMap<String, i64> = HashMap::new();
        for (k, v) in keyed_input() {
            let sum = running.entry(k.clone()).or_default();
            *sum += v;
            expected.entry(k).or_default().push(*sum);
        }
        let mut actual: HashMap<String, Vec<i64>> = HashMap::new();
        for (k, v) in out {
            actual.entry(k).or_default().push(v);
        }
        assert_eq!(actual, expected, "p={p}");
    }
}

#[test]
fn a_borrowed_key_partitions_and_reduces_as_an_owned_one() {
    for p in PARALLELISMS {
        for mode in [RuntimeMode::Streaming, RuntimeMode::Batch] {
            let run = |borrowed: bool| {
                let env = env(p);
                env.set_runtime_mode(mode);
                let input = env.from_collection(keyed_input());
                let keyed = if borrowed {
                    input.key_by_ref(|(k, _): &(String, i64)| k)
                } else {
                    input.key_by(|(k, _): &(String, i64)| k.clone())
                };
                let sums = keyed.sum(|(_, v): &mut (String, i64)| v);
                sorted(sums.execute_and_collect("sums").unwrap())
            };
            let (owned, borrowed) = (run(false), run(true));
            assert!(!owned.is_empty());
            assert_eq!(borrowed, owned, "p={p}, {mode:?}");
        }
    }
}

#[test]
fn aggregations_in_batch_mode_emit_final_values() {
    for p in PARALLELISMS {
        let run = |aggregate: &dyn Fn(KeyedStream<Triple, String>) -> DataStream<Triple>| {
            let env = env(p);
            env.set_runtime_mode(RuntimeMode::Batch);
            let input: Vec<Triple> = keyed_input()
                .into_iter()
                .enumerate()
                .map(|(i, (k, v))| (k, v, i as i64))
                .collect();
            let keyed = env.from_collection(input).key_by(|t: &Triple| t.0.clone());
            sorted(aggregate(keyed).execute_and_collect("aggregate").unwrap())
        };
        let input: Vec<Triple> = keyed_input()
            .into_iter()
            .enumerate()
            .map(|(i, (k, v))| (k, v, i as i64))
            .collect();
        let mut firsts: Vec<Triple> = Vec::new();
        for t in &input {
            if !firsts.iter().any(|f| f.0 == t.0) {
                firsts.push(t.clone());
            }
        }
        let of_key =
            |k: &str| -> Vec<Triple> { input.iter().filter(|t| t.0 == k).cloned().collect() };
        let expect =
            |f: &dyn Fn(&Triple) -> Triple| sorted(firsts.iter().map(f).collect::<Vec<_>>());

        let sums = run(&|k| k.sum(|t: &mut Triple| &mut t.1));
        assert_eq!(
            sums,
            expect(&|f| (f.0.clone(), of_key(&f.0).iter().map(|t| t.1).sum(), f.2)),
            "sum p={p}"
        );

        let mins = run(&|k| k.min(|t: &mut Triple| &mut t.1));
        assert_eq!(
            mins,
            expect(&|f| (
                f.0.clone(),
                of_key(&f.0).iter().map(|t| t.1).min().unwrap(),
                f.2
            )),
            "min p={p}"
        );

        let maxs = run(&|k| k.max(|t: &mut Triple| &mut t.1));
        assert_eq!(
            maxs,
            expect(&|f| (
                f.0.clone(),
                of_key(&f.0).iter().map(|t| t.1).max().unwrap(),
                f.2
            )),
            "max p={p}"
        );

        let min_bys = run(&|k| k.min_by(|t: &mut Triple| &mut t.1));
        let first_min = |k: &str| {
            let m = of_key(k).iter().map(|t| t.1).min().unwrap();
            of_key(k).into_iter().find(|t| t.1 == m).unwrap()
        };
        assert_eq!(min_bys, expect(&|f| first_min(&f.0)), "min_by p={p}");

        let max_bys = run(&|k| k.max_by(|t: &mut Triple| &mut t.1));
        let first_max = |k: &str| {
            let m = of_key(k).iter().map(|t| t.1).max().unwrap();
            of_key(k).into_iter().find(|t| t.1 == m).unwrap()
        };
        assert_eq!(max_bys, expect(&|f| first_max(&f.0)), "max_by p={p}");
    }
}

/// Counts per key over a parallel source: `(n % 10, 1)` for n in 0..100,000, summed per key.
fn sums_of_tens(mode: RuntimeMode) -> (Vec<(i64, u64)>, u64) {
    let env = env(2);
    env.set_runtime_mode(mode);
    let sums = env
        .from_sequence(0, 99_999)
        .map(|n: i64| (n % 10, 1u64))
        .key_by(|pair: &(i64, u64)| pair.0)
        .sum(|pair: &mut (i64, u64)| &mut pair.1)
        .name("Counter")
        .collect();
    let result = env.execute("sums of tens").unwrap();
    let counter = result.operator("Counter").unwrap();
    (sorted(sums.take()), counter.records_in)
}

#[test]
fn batch_mode_folds_each_producers_records_before_the_exchange() {
    let (sums, counter_in) = sums_of_tens(RuntimeMode::Batch);
    assert_eq!(sums, (0..10).map(|k| (k, 10_000)).collect::<Vec<_>>());
    // Two producers send at most one partial sum per key each, not 100,000 records.
    assert!(
        counter_in <= 20,
        "the counter received {counter_in} records"
    );

    let (updates, counter_in) = sums_of_tens(RuntimeMode::Streaming);
    assert_eq!(counter_in, 100_000, "streaming mode sends every record");
    assert_eq!(updates.len(), 100_000);
}

#[test]
fn union_merges_streams() {
    for p in PARALLELISMS {
        let env = env(p);
        let a = env.from_sequence(1, 10);
        let b = env.from_sequence(100, 105);
        let c = env.from_collection(vec![-1, -2]);
        let out = a
            .union([b, c])
            .map(|n: i64| n + 1)
            .execute_and_collect("union")
            .unwrap();
        let mut expected: Vec<i64> = (1..=10)
            .chain(100..=105)
            .chain([-1, -2])
            .map(|n| n + 1)
            .collect();
        expected.sort();
        assert_eq!(sorted(out), expected, "p={p}");
    }
}

#[test]
fn connect_co_map_and_co_flat_map() {
    for p in PARALLELISMS {
        let env = env(p);
        let numbers = env.from_sequence(1, 3);
        let words = env.from_collection(vec!["x y".to_string()]);
        let mapped = numbers
            .clone()
            .connect(words.clone())
            .map(|n: i64| format!("n{n}"), |w: String| format!("w{w}"))
            .collect();
        let flat = numbers
            .connect(words)
            .flat_map(
                |n: i64, out: &mut Collector<'_, String>| out.collect(n.to_string()),
                |w: String, out: &mut Collector<'_, String>| {
                    for part in w.split(' ') {
                        out.collect(part.to_string());
                    }
                },
            )
            .collect();
        env.execute("connect").unwrap();
        assert_eq!(
            sorted(mapped.take()),
            vec!["n1", "n2", "n3", "wx y"],
            "p={p}"
        );
        assert_eq!(sorted(flat.take()), vec!["1", "2", "3", "x", "y"], "p={p}");
    }
}

/// Applies control messages (the second input) to data (the first), per key.
#[derive(Clone, Default)]
struct Thresholds {
    thresholds: HashMap<String, i64>,
}

impl CoProcessFunction<(String, i64), (String, i64), String> for Thresholds {
    fn process_element1(
        &mut self,
        value: (String, i64),
        _ctx: &mut Context<'_>,
        out: &mut Collector<'_, String>,
    ) -> UserResult {
        if value.1 >= *self.thresholds.get(&value.0).unwrap_or(&0) {
            out.collect(format!("{}={}", value.0, value.1));
        }
        Ok(())
    }

    fn process_element2(
        &mut self,
        control: (String, i64),
        _ctx: &mut Context<'_>,
        _out: &mut Collector<'_, String>,
    ) -> UserResult {
        self.thresholds.insert(control.0, control.1);
        Ok(())
    }
}

#[test]
fn keyed_co_process_sees_both_inputs_of_a_key() {
    for p in PARALLELISMS {
        let env = env(p);
        env.set_runtime_mode(RuntimeMode::Batch);
        let data = env.from_collection(vec![("a".to_string(), 5), ("b".to_string(), 1)]);
        let control = env.from_collection(vec![("a".to_string(), 3), ("b".to_string(), 3)]);
        let out = data
            .connect(control)
            .key_by(
                |d: &(String, i64)| d.0.clone(),
                |c: &(String, i64)| c.0.clone(),
            )
            .process(Thresholds::default())
            .execute_and_collect("co-process")
            .unwrap();
        // The control input may arrive before or after the data: "a=5" passes either way,
        // "b=1" passes only if its threshold arrived later.
        assert!(out.contains(&"a=5".to_string()), "p={p}: {out:?}");
        assert!(
            out.iter().all(|s| s == "a=5" || s == "b=1"),
            "p={p}: {out:?}"
        );
    }
}

/// Records which subtask handled each value.
#[derive(Clone, Default)]
struct TagSubtask {
    subtask: usize,
}

impl ProcessFunction<i64, (usize, i64)> for TagSubtask {
    fn open(&mut self, ctx: &OperatorContext) -> UserResult {
        self.subtask = ctx.subtask;
        Ok(())
    }

    fn process_element(
        &mut self,
        value: i64,
        _: &mut Context<'_>,
        out: &mut Collector<'_, (usize, i64)>,
    ) -> UserResult {
        out.collect((self.subtask, value));
        Ok(())
    }
}

/// Replaces the second field with the subtask that handled the pair.
#[derive(Clone, Default)]
struct ConsumerTag {
    subtask: usize,
}

impl ProcessFunction<(usize, usize), (usize, usize)> for ConsumerTag {
    fn open(&mut self, ctx: &OperatorContext) -> UserResult {
        self.subtask = ctx.subtask;
        Ok(())
    }

    fn process_element(
        &mut self,
        value: (usize, usize),
        _: &mut Context<'_>,
        out: &mut Collector<'_, (usize, usize)>,
    ) -> UserResult {
        out.collect((value.0, self.subtask));
        Ok(())
    }
}

fn subtask_counts(pairs: &[(usize, i64)], parallelism: usize) -> Vec<usize> {
    let mut counts = vec![0; parallelism];
    for (subtask, _) in pairs {
        counts[*subtask] += 1;
    }
    counts
}

#[test]
fn partitioners_send_records_where_they_promise() {
    let n = 400;
    let run = |shape: &dyn Fn(DataStream<i64>) -> DataStream<i64>| {
        let env = env(4);
        let source = env.from_collection((0..n).collect::<Vec<i64>>());
        shape(source)
            .process(TagSubtask::default())
            .execute_and_collect("partitioning")
            .unwrap()
    };
    let global = run(&|s| s.global());
    assert_eq!(subtask_counts(&global, 4), vec![n as usize, 0, 0, 0]);

    let rebalanced = run(&|s| s.rebalance());
    assert_eq!(subtask_counts(&rebalanced, 4), vec![100; 4]);

    let broadcast = run(&|s| s.broadcast());
    assert_eq!(subtask_counts(&broadcast, 4), vec![n as usize; 4]);

    let shuffled = run(&|s| s.shuffle());
    let counts = subtask_counts(&shuffled, 4);
    assert_eq!(counts.iter().sum::<usize>(), n as usize);
    assert!(counts.iter().all(|&c| c > 50), "{counts:?}");

    let custom = run(&|s| {
        s.partition_custom(
            |k: &i64, channels: usize| (*k as usize) % channels,
            |v: &i64| *v,
        )
    });
    assert!(
        custom
            .iter()
            .all(|(subtask, v)| *subtask == (*v as usize) % 4)
    );

    // Rescale from 2 producers to 4 consumers: each producer feeds only its own pair.
    let env = env(4);
    let rescaled = env
        .from_sequence(0, 399)
        .set_parallelism(2)
        .process(TagSubtask::default())
        .set_parallelism(2)
        .rescale()
        .process(
            |(producer, _): (usize, i64),
             _: &mut Context<'_>,
             out: &mut Collector<'_, (usize, usize)>| {
                out.collect((producer, 0));
                Ok(())
            },
        )
        .process(ConsumerTag::default())
        .execute_and_collect("rescale")
        .unwrap();
    assert_eq!(rescaled.len(), 400);
    for (producer, consumer) in rescaled {
        assert_eq!(
            consumer / 2,
            producer,
            "producer {producer} reached consumer {consumer}"
        );
    }

    // Forward keeps each record in the subtask that produced it.
    let env = env_with_sequence_tags();
    let forwarded = env.execute_and_collect("forward").unwrap();
    assert!(
        forwarded.iter().all(|(before, after)| before == after),
        "{forwarded:?}"
    );
}

fn env_with_sequence_tags() -> DataStream<(usize, usize)> {
    let env = env(4);
    env.from_sequence(0, 399)
        .process(TagSubtask::default())
        .forward()
        .map(|(producer, _): (usize, i64)| (producer, 0))
        .disable_chaining()
        .process(ConsumerTag::default())
}

#[test]
fn key_by_sends_each_key_to_the_subtask_owning_its_key_group() {
    for p in PARALLELISMS {
        let env = env(p);
        let pairs = env
            .from_sequence(0, 999)
            .key_by(|v: &i64| v % 50)
            .as_stream()
            .process(TagSubtask::default())
            .execute_and_collect("key_by")
            .unwrap();
        let mut owner: HashMap<i64, usize> = HashMap::new();
        for (subtask, v) in pairs {
            let key = v % 50;
            assert_eq!(
                *owner.entry(key).or_insert(subtask),
                subtask,
                "key {key} on two subtasks"
            );
            let key_group = sluice::core::key_group::assign_to_key_group(&key, 128);
            let expected = sluice::core::key_group::operator_index_for_key_group(128, p, key_group);
            assert_eq!(subtask, expected, "p={p} key={key}");
        }
    }
}
