//! The interval join (Flink's `IntervalJoinOperator`): an element `a` of the first stream
//! (time `ta`) joins every element `b` of the second stream with the same key and a time `tb`
//! in `[ta + lower, ta + upper]` (each bound optionally exclusive). Results carry
//! `max(ta, tb)` as their timestamp.
//!
//! Elements behind the watermark are late and dropped, as in Flink. Buffered elements are
//! dropped once the watermark shows no partner can still arrive: a first-stream element at
//! `ta` after `ta + upper` (or `ta` when `upper <= 0`), a second-stream element at `tb` after
//! `tb - lower` (or `tb` when `lower > 0`).

use std::collections::BTreeMap;
use std::hash::Hash;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sluice_core::{Record, Timestamp, UserResult, Watermark};
use sluice_state::{HeapTable, KeyedTable, OperatorSnapshot};

use crate::task::operator::{StreamOperator, TwoInputOperator, WatermarkOut};
use crate::task::output::{Collector, Output};

/// Per key, buffered elements by timestamp.
type Buffer<K, T> = HeapTable<K, BTreeMap<Timestamp, Vec<T>>>;

/// The names the two buffers are snapshotted under.
const BUFFER_STATES: [&str; 2] = ["interval-join-first", "interval-join-second"];

/// Joins two keyed streams on time intervals.
pub struct IntervalJoinOperator<A, B, K, F> {
    first_key: Arc<dyn Fn(&A) -> K + Send + Sync>,
    second_key: Arc<dyn Fn(&B) -> K + Send + Sync>,
    lower: i64,
    upper: i64,
    function: F,
    first: Buffer<K, A>,
    second: Buffer<K, B>,
    watermark: Timestamp,
}

impl<A, B, K, F> IntervalJoinOperator<A, B, K, F> {
    /// Joins when `tb` lies in `[ta + lower, ta + upper]`; exclusive bounds are narrowed by one
    /// millisecond, as Flink does.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        first_key: Arc<dyn Fn(&A) -> K + Send + Sync>,
        second_key: Arc<dyn Fn(&B) -> K + Send + Sync>,
        lower: i64,
        upper: i64,
        lower_exclusive: bool,
        upper_exclusive: bool,
        function: F,
    ) -> Self {
        IntervalJoinOperator {
            first_key,
            second_key,
            lower: if lower_exclusive {
                lower.saturating_add(1)
            } else {
                lower
            },
            upper: if upper_exclusive {
                upper.saturating_sub(1)
            } else {
                upper
            },
            function,
            first: HeapTable::new(BUFFER_STATES[0], sluice_core::DEFAULT_MAX_PARALLELISM),
            second: HeapTable::new(BUFFER_STATES[1], sluice_core::DEFAULT_MAX_PARALLELISM),
            watermark: Timestamp::MIN,
        }
    }
}

impl<A, B, K, O, F> TwoInputOperator<A, B, O> for IntervalJoinOperator<A, B, K, F>
where
    A: Send + Serialize + DeserializeOwned + 'static,
    B: Send + Serialize + DeserializeOwned + 'static,
    K: Hash + Eq + Clone + Send + Serialize + DeserializeOwned + 'static,
    F: FnMut(&A, &B, &mut Collector<'_, O>) + Send,
{
    fn process_batch1(&mut self, batch: &mut Vec<Record<A>>, out: &mut Output<O>) -> UserResult {
        for record in batch.drain(..) {
            let Some(ta) = record.timestamp.filter(|t| *t >= self.watermark) else {
                continue;
            };
            let key = (self.first_key)(&record.value);
            if let Some(partners) = self.second.get(&key) {
                let range = ta.saturating_add(self.lower)..=ta.saturating_add(self.upper);
                for (tb, bs) in partners.range(range) {
                    let mut collector = Collector::new(&mut out.records, Some(ta.max(*tb)));
                    for b in bs {
                        (self.function)(&record.value, b, &mut collector);
                    }
                }
            }
            self.first
                .get_or_default(key)
                .entry(ta)
                .or_default()
                .push(record.value);
        }
        Ok(())
    }

    fn process_batch2(&mut self, batch: &mut Vec<Record<B>>, out: &mut Output<O>) -> UserResult {
        for record in batch.drain(..) {
            let Some(tb) = record.timestamp.filter(|t| *t >= self.watermark) else {
                continue;
            };
            let key = (self.second_key)(&record.value);
            if let Some(partners) = self.first.get(&key) {
                let range = tb.saturating_sub(self.upper)..=tb.saturating_sub(self.lower);
                for (ta, as_) in partners.range(range) {
                    let mut collector = Collector::new(&mut out.records, Some((*ta).max(tb)));
                    for a in as_ {
                        (self.function)(a, &record.value, &mut collector);
                    }
                }
            }
            self.second
                .get_or_default(key)
                .entry(tb)
                .or_default()
                .push(record.value);
        }
        Ok(())
    }
}

impl<A, B, K, O, F> StreamOperator<(A, B), O> for IntervalJoinOperator<A, B, K, F>
where
    A: Send + Serialize + DeserializeOwned + 'static,
    B: Send + Serialize + DeserializeOwned + 'static,
    K: Hash + Eq + Clone + Send + Serialize + DeserializeOwned + 'static,
    F: FnMut(&A, &B, &mut Collector<'_, O>) + Send,
{
    fn process_watermark(&mut self, watermark: Watermark, _out: &mut Output<O>) -> WatermarkOut {
        self.watermark = self.watermark.max(watermark.0);
        let wm = self.watermark;
        let keep_first_from = if self.upper > 0 {
            wm.saturating_sub(self.upper)
        } else {
            wm
        };
        let keep_second_from = if self.lower <= 0 {
            wm.saturating_add(self.lower)
        } else {
            wm
        };
        prune(&mut self.first, keep_first_from);
        prune(&mut self.second, keep_second_from);
        Ok(Some(watermark))
    }

    fn open(&mut self, ctx: &crate::task::operator::OperatorContext) -> UserResult {
        self.first = HeapTable::new(BUFFER_STATES[0], ctx.max_parallelism);
        self.second = HeapTable::new(BUFFER_STATES[1], ctx.max_parallelism);
        Ok(())
    }

    /// Both sides' buffered elements, by key.
    fn snapshot_state(&mut self, snapshot: &mut OperatorSnapshot) -> UserResult {
        self.first.snapshot(&mut snapshot.keyed)?;
        Ok(self.second.snapshot(&mut snapshot.keyed)?)
    }

    fn restore_state(&mut self, restored: &OperatorSnapshot) -> UserResult {
        self.first.restore_all(&restored.keyed)?;
        Ok(self.second.restore_all(&restored.keyed)?)
    }
}

/// Drops the elements with a timestamp below `keep_from` (their cleanup time has passed).
fn prune<K: Hash + Eq, T>(buffer: &mut Buffer<K, T>, keep_from: Timestamp) {
    buffer.retain(|_, by_time| {
        *by_time = by_time.split_off(&keep_from);
        !by_time.is_empty()
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::TwoInputHarness;

    type Keyed = (char, i64);
    type Describe = fn(&Keyed, &Keyed, &mut Collector<'_, String>);
    type JoinHarness =
        TwoInputHarness<Keyed, Keyed, String, IntervalJoinOperator<Keyed, Keyed, char, Describe>>;

    fn describe(a: &Keyed, b: &Keyed, out: &mut Collector<'_, String>) {
        out.collect(format!("{}:{}-{}", a.0, a.1, b.1));
    }

    fn join(lower: i64, upper: i64) -> JoinHarness {
        TwoInputHarness::new(IntervalJoinOperator::new(
            Arc::new(|a: &Keyed| a.0),
            Arc::new(|b: &Keyed| b.0),
            lower,
            upper,
            false,
            false,
            describe as Describe,
        ))
    }

    #[test]
    fn joins_elements_within_the_interval_in_either_order() {
        let mut harness = join(-2, 1);
        harness.process1(Record::with_timestamp(('k', 10), 10));
        harness.process2(Record::with_timestamp(('k', 8), 8));
        harness.process2(Record::with_timestamp(('k', 11), 11));
        harness.process2(Record::with_timestamp(('k', 12), 12));
        harness.process2(Record::with_timestamp(('x', 10), 10));
        harness.process1(Record::with_timestamp(('k', 13), 13));
        let mut out = harness.take_values();
        out.sort();
        assert_eq!(out, vec!["k:10-11", "k:10-8", "k:13-11", "k:13-12"]);
    }

    #[test]
    fn buffers_are_pruned_and_late_elements_dropped() {
        let mut harness = join(0, 5);
        harness.process1(Record::with_timestamp(('k', 10), 10));
        harness.watermark(1, Watermark(16));
        harness.watermark(2, Watermark(16));
        // The first-stream element at 10 can no longer match (10 + 5 < 16).
        harness.process2(Record::with_timestamp(('k', 16), 16));
        // Behind the watermark: dropped.
        harness.process1(Record::with_timestamp(('k', 12), 12));
        assert!(harness.take_values().is_empty());
    }

    #[test]
    fn buffered_elements_survive_a_restore() {
        let feed_first = |h: &mut JoinHarness| {
            h.process1(Record::with_timestamp(('k', 10), 10));
            h.process2(Record::with_timestamp(('k', 8), 8));
            h.watermark(1, Watermark(5));
            h.watermark(2, Watermark(5));
        };
        let feed_second = |h: &mut JoinHarness| {
            h.process2(Record::with_timestamp(('k', 11), 11));
            h.process1(Record::with_timestamp(('k', 12), 12));
        };
        let mut uninterrupted = join(-2, 1);
        feed_first(&mut uninterrupted);
        feed_second(&mut uninterrupted);
        let mut expected = uninterrupted.take_values();
        expected.sort();

        let mut before = join(-2, 1);
        feed_first(&mut before);
        let mut got = before.take_values();
        let snapshot = before.snapshot();
        assert!(!snapshot.keyed.is_empty());
        let mut after = join(-2, 1);
        after.restore(&snapshot);
        feed_second(&mut after);
        got.extend(after.take_values());
        got.sort();
        assert_eq!(got, expected);
        assert!(got.contains(&"k:10-11".to_string()), "{got:?}");
    }
}
