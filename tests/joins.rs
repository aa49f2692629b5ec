//! Window joins, co-groups and interval joins through the public API, against brute force.

use std::time::Duration;

use sluice::JoinedStreams;
use sluice::joins::WindowedJoin;
use sluice::prelude::*;

type Order = (String, i64, u32);
type Payment = (String, i64, u32);

fn orders() -> Vec<Order> {
    (0..60)
        .map(|i| (format!("u{}", i % 4), i * 7, i as u32))
        .collect()
}

fn payments() -> Vec<Payment> {
    (0..45)
        .map(|i| (format!("u{}", i % 5), i * 9 + 3, 1000 + i as u32))
        .collect()
}

fn timestamped<T: StreamData>(
    env: &StreamExecutionEnvironment,
    items: Vec<T>,
    ts: fn(&T) -> i64,
) -> DataStream<T> {
    env.from_collection(items).assign_timestamps_and_watermarks(
        WatermarkStrategy::for_monotonous_timestamps()
            .with_timestamp_assigner(move |e: &T, _| ts(e)),
    )
}

/// The orders and the payments, timestamped, as two streams of a new job at `parallelism`.
fn orders_and_payments(parallelism: usize) -> (DataStream<Order>, DataStream<Payment>) {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(parallelism);
    (
        timestamped(&env, orders(), |o| o.1),
        timestamped(&env, payments(), |p| p.1),
    )
}

/// The user an order or a payment belongs to: the key both are joined on.
fn user(element: &(String, i64, u32)) -> String {
    element.0.clone()
}

/// `streams` joined or co-grouped on the user, in tumbling event-time windows of `millis`.
fn by_user_in_windows<M>(
    streams: JoinedStreams<Order, Payment, M>,
    millis: u64,
) -> WindowedJoin<Order, Payment, String, TimeWindow, M> {
    streams
        .where_(user)
        .equal_to(user)
        .window(TumblingWindows::event_time(Duration::from_millis(millis)))
}

fn sorted<T: Ord>(mut values: Vec<T>) -> Vec<T> {
    values.sort();
    values
}

#[test]
fn window_join_pairs_equal_keys_in_the_same_window() {
    for p in [1, 4] {
        let (orders_stream, payments_stream) = orders_and_payments(p);
        let joined = by_user_in_windows(orders_stream.join(payments_stream), 50)
            .apply(|o: &Order, pay: &Payment| (o.2, pay.2))
            .execute_and_collect("window join")
            .unwrap();
        let mut expected = Vec::new();
        for o in orders() {
            for pay in payments() {
                if o.0 == pay.0 && o.1.div_euclid(50) == pay.1.div_euclid(50) {
                    expected.push((o.2, pay.2));
                }
            }
        }
        assert!(!expected.is_empty());
        assert_eq!(sorted(joined), sorted(expected), "p={p}");
    }
}

#[test]
fn co_group_sees_both_sides_even_when_one_is_empty() {
    for p in [1, 3] {
        let (orders_stream, payments_stream) = orders_and_payments(p);
        let out = by_user_in_windows(orders_stream.co_group(payments_stream), 100)
            .apply(
                |orders: &[&Order],
                 payments: &[&Payment],
                 out: &mut Collector<'_, (String, i64, usize, usize)>| {
                    let (key, time) = match (orders.first(), payments.first()) {
                        (Some(o), _) => (o.0.clone(), o.1),
                        (None, Some(p)) => (p.0.clone(), p.1),
                        (None, None) => return Err("a co-group with no element".into()),
                    };
                    out.collect((key, time.div_euclid(100), orders.len(), payments.len()));
                    Ok(())
                },
            )
            .execute_and_collect("co-group")
            .unwrap();
        // Brute force: every (key, window) with an element on either side, with both counts.
        let mut expected = std::collections::BTreeMap::<(String, i64), (usize, usize)>::new();
        for o in orders() {
            expected
                .entry((o.0.clone(), o.1.div_euclid(100)))
                .or_default()
                .0 += 1;
        }
        for pay in payments() {
            expected
                .entry((pay.0.clone(), pay.1.div_euclid(100)))
                .or_default()
                .1 += 1;
        }
        let expected: Vec<_> = expected
            .into_iter()
            .map(|((key, window), (o, p))| (key, window, o, p))
            .collect();
        assert!(expected.iter().any(|r| r.0 == "u4" && r.2 == 0 && r.3 > 0));
        assert_eq!(sorted(out), expected, "p={p}");
    }
}

#[test]
fn a_left_outer_join_built_on_co_group_keeps_orders_without_payments() {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    let orders = vec![
        ("a".to_string(), 1, 1),
        ("b".to_string(), 2, 2),
        ("a".to_string(), 120, 3),
    ];
    let payments = vec![("a".to_string(), 5, 10), ("c".to_string(), 6, 20)];
    let streams = timestamped(&env, orders, |o| o.1).co_group(timestamped(&env, payments, |p| p.1));
    let joined = by_user_in_windows(streams, 100)
        .apply(
            |orders: &[&Order],
             payments: &[&Payment],
             out: &mut Collector<'_, (u32, Option<u32>)>| {
                for order in orders {
                    if payments.is_empty() {
                        out.collect((order.2, None));
                    }
                    for payment in payments {
                        out.collect((order.2, Some(payment.2)));
                    }
                }
                Ok(())
            },
        )
        .execute_and_collect("left outer join")
        .unwrap();
    assert_eq!(sorted(joined), vec![(1, Some(10)), (2, None), (3, None)]);
}

#[test]
fn interval_join_matches_brute_force() {
    for (lower, upper) in [(-10, 5), (0, 20), (3, 3)] {
        for p in [1, 3] {
            let env = StreamExecutionEnvironment::new();
            env.set_parallelism(p);
            let joined = timestamped(&env, orders(), |o| o.1)
                .key_by(|o: &Order| o.0.clone())
                .interval_join(
                    timestamped(&env, payments(), |p| p.1).key_by(|p: &Payment| p.0.clone()),
                )
                .between(lower, upper)
                .process(
                    |o: &Order, pay: &Payment, out: &mut Collector<'_, (u32, u32)>| {
                        out.collect((o.2, pay.2))
                    },
                )
                .execute_and_collect("interval join")
                .unwrap();
            let mut expected = Vec::new();
            for o in orders() {
                for pay in payments() {
                    let delta = pay.1 - o.1;
                    if o.0 == pay.0 && delta >= lower && delta <= upper {
                        expected.push((o.2, pay.2));
                    }
                }
            }
            assert!(!expected.is_empty(), "[{lower}, {upper}]");
            assert_eq!(sorted(joined), sorted(expected), "[{lower}, {upper}] p={p}");
        }
    }
}

#[test]
fn interval_join_bounds_must_be_ordered() {
    let env = StreamExecutionEnvironment::new();
    timestamped(&env, orders(), |o| o.1)
        .key_by(|o: &Order| o.0.clone())
        .interval_join(timestamped(&env, payments(), |p| p.1).key_by(|p: &Payment| p.0.clone()))
        .between(5, -5)
        .process(|_: &Order, _: &Payment, _: &mut Collector<'_, u8>| {})
        .collect();
    let err = env.execute("bad bounds").unwrap_err().to_string();
    assert!(
        err.contains("lower bound (5 ms) must not exceed the upper bound (-5 ms)"),
        "{err}"
    );
}
