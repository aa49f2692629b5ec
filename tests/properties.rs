//! Property tests: parallel results equal a sequential reference for random input and random
//! parallelism (1–8).

use std::collections::BTreeMap;

use proptest::prelude::*;
use sluice::prelude::*;

fn keyed_records() -> impl Strategy<Value = Vec<(u8, i32)>> {
    prop::collection::vec((0u8..20, -1000i32..1000), 0..300)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn keyed_reduce_matches_sequential(records in keyed_records(), p in 1usize..=8, batch in any::<bool>()) {
        let env = StreamExecutionEnvironment::new();
        env.set_parallelism(p);
        if batch {
            env.set_runtime_mode(RuntimeMode::Batch);
        }
        // In streaming mode the map stays in the source's chain, so each key's records reach
        // the reduce in input order; batch results do not depend on order, so there the map
        // runs in parallel after a rebalance.
        let input = env.from_collection(records.clone());
        let widened = if batch {
            input.rebalance().map(|r: (u8, i32)| (r.0, i64::from(r.1)))
        } else {
            input.map(|r: (u8, i32)| (r.0, i64::from(r.1))).set_parallelism(1)
        };
        let out = widened
            .key_by(|r: &(u8, i64)| r.0)
            .reduce(|a: (u8, i64), b: (u8, i64)| (a.0, a.1 + b.1))
            .execute_and_collect("reduce")
            .unwrap();
        let mut reference: BTreeMap<u8, Vec<i64>> = BTreeMap::new();
        let mut sums: BTreeMap<u8, i64> = BTreeMap::new();
        for (k, v) in &records {
            let sum = sums.entry(*k).or_default();
            *sum += i64::from(*v);
            reference.entry(*k).or_default().push(*sum);
        }
        if batch {
            let mut actual: Vec<(u8, i64)> = out;
            actual.sort();
            let expected: Vec<(u8, i64)> = sums.into_iter().collect();
            prop_assert_eq!(actual, expected);
        } else {
            // One source keeps each key's records in order: every key emits its running sums.
            let mut updates: BTreeMap<u8, Vec<i64>> = BTreeMap::new();
            for (k, v) in out {
                updates.entry(k).or_default().push(v);
            }
            prop_assert_eq!(updates, reference);
        }
    }

    #[test]
    fn union_and_connect_match_sequential(
        a in prop::collection::vec(-100i64..100, 0..200),
        b in prop::collection::vec(-100i64..100, 0..200),
        p in 1usize..=8,
    ) {
        let env = StreamExecutionEnvironment::new();
        env.set_parallelism(p);
        let first = env.from_collection(a.clone()).rebalance().map(|n: i64| n * 3);
        let second = env.from_collection(b.clone()).rebalance().map(|n: i64| n - 1);
        let unioned = first.clone().union([second.clone()]).collect();
        let connected = first
            .connect(second.map(|n: i64| n.to_string()))
            .map(|n: i64| n, |s: String| s.parse::<i64>().unwrap_or(i64::MIN))
            .collect();
        env.execute("union and connect").unwrap();
        let mut expected: Vec<i64> = a.iter().map(|n| n * 3).chain(b.iter().map(|n| n - 1)).collect();
        expected.sort();
        let mut got = unioned.take();
        got.sort();
        prop_assert_eq!(&got, &expected);
        let mut got = connected.take();
        got.sort();
        prop_assert_eq!(&got, &expected);
    }
}
