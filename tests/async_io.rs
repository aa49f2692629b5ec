//! Async I/O through the public API: lookups with bounded concurrency, ordered and unordered.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sluice::prelude::*;

/// A fake remote lookup: answers after a delay that shrinks with the key, and records the
/// highest number of lookups in flight at once.
#[derive(Clone, Default)]
struct Lookup {
    in_flight: Arc<AtomicUsize>,
    most_in_flight: Arc<AtomicUsize>,
}

impl Lookup {
    async fn call(self, key: i64) -> UserResult<String> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20 - key.rem_euclid(20) as u64)).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if key < 0 {
            return Err(format!("no such key {key}").into());
        }
        Ok(format!("value-{key}"))
    }
}

#[test]
fn ordered_lookups_keep_input_order_with_bounded_concurrency() {
    let lookup = Lookup::default();
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(1);
    let client = lookup.clone();
    let out = env
        .from_sequence(0, 199)
        .async_map(
            move |key: i64| client.clone().call(key),
            AsyncOptions::ordered(Duration::from_secs(5), 8),
        )
        .execute_and_collect("ordered lookups")
        .unwrap();
    let expected: Vec<String> = (0..200).map(|k| format!("value-{k}")).collect();
    assert_eq!(out, expected);
    let most = lookup.most_in_flight.load(Ordering::SeqCst);
    assert!(most <= 8, "{most} lookups in flight, capacity 8");
    assert!(most > 1, "lookups ran concurrently");
}

#[test]
fn unordered_lookups_return_everything_at_any_parallelism() {
    for p in [1, 3] {
        let lookup = Lookup::default();
        let env = StreamExecutionEnvironment::new();
        env.set_parallelism(p);
        let out = env
            .from_sequence(0, 99)
            .async_map(
                move |key: i64| lookup.clone().call(key),
                AsyncOptions::unordered(Duration::from_secs(5), 4),
            )
            .execute_and_collect("unordered lookups")
            .unwrap();
        let mut out = out;
        out.sort();
        let mut expected: Vec<String> = (0..100).map(|k| format!("value-{k}")).collect();
        expected.sort();
        assert_eq!(out, expected, "p={p}");
    }
}

#[test]
fn a_failed_lookup_fails_the_job_with_its_cause() {
    let lookup = Lookup::default();
    let env = StreamExecutionEnvironment::new();
    env.from_collection(vec![1i64, -7, 3])
        .async_map(
            move |key: i64| lookup.clone().call(key),
            AsyncOptions::ordered(Duration::from_secs(5), 2),
        )
        .collect();
    let err = env.execute("failing lookup").unwrap_err().to_string();
    assert!(
        err.contains("operator 'Async Wait' failed: no such key -7"),
        "{err}"
    );
}
