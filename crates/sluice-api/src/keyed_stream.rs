//! `KeyedStream`: a stream partitioned by key, and the keyed aggregations on it.
//!
//! In streaming mode each aggregation emits the key's updated result for every input record;
//! in batch mode it emits one final result per key when the input ends (as Flink does), and the
//! producers before the exchange fold their records per key first (so a reduce function must be
//! associative, as for Flink's combinable reduce).
//! Aggregations name a field with an accessor closure, e.g. `sum(|t| &mut t.1)` where Flink
//! writes `sum(1)`.

use std::ops::Add;
use std::sync::Arc;

use sluice_core::{KeyData, KeySelector, StreamData};
use sluice_runtime::exchange::partitioner::KeyHashFn;
use sluice_runtime::exchange::pre_aggregate::{KeyedPreAggregate, PreAggregateFactory};
use sluice_runtime::operators::{
    IntervalJoinOperator, KeyedProcessFunction, KeyedProcessOperator, KeyedReduceOperator,
};
use sluice_runtime::task::output::Collector;

use crate::datastream::DataStream;

/// A stream partitioned by a key; Flink's `KeyedStream`.
pub struct KeyedStream<T, K> {
    stream: DataStream<T>,
    keys: KeySelector<T, K>,
}

impl<T: StreamData, K: KeyData> KeyedStream<T, K> {
    pub(crate) fn new(stream: DataStream<T>, keys: KeySelector<T, K>, hash: KeyHashFn<T>) -> Self {
        KeyedStream {
            stream: stream.hash_partitioned(hash),
            keys,
        }
    }

    /// The stream as partitioned by key, for further transformations.
    pub fn as_stream(&self) -> DataStream<T> {
        self.stream.clone()
    }

    /// The key selector, as a function returning keys.
    pub fn key_selector(&self) -> Arc<dyn Fn(&T) -> K + Send + Sync> {
        self.keys.to_owned_fn()
    }

    fn keyed_reduce<F>(self, name: &str, reduce: F) -> DataStream<T>
    where
        F: FnMut(T, T) -> T + Clone + Send + Sync + 'static,
    {
        let keys = self.keys;
        let (partial_keys, partial_reduce) = (keys.clone(), reduce.clone());
        let pre_aggregate: PreAggregateFactory<T> = Arc::new(move || {
            Box::new(KeyedPreAggregate::new(
                partial_keys.clone(),
                partial_reduce.clone(),
            ))
        });
        let stream = self.stream.pre_aggregated(pre_aggregate);
        stream.transform(name, "Keyed Reduce", move || {
            KeyedReduceOperator::new(keys.clone(), reduce.clone())
        })
    }

    /// Runs a [`KeyedProcessFunction`] with keyed state and timers on every record.
    pub fn process<O, P>(self, function: P) -> DataStream<O>
    where
        O: StreamData,
        P: KeyedProcessFunction<K, T, O> + Clone + Sync,
    {
        let key_selector = self.keys.to_owned_fn();
        self.stream
            .transform("KeyedProcess", "KeyedProcess", move || {
                KeyedProcessOperator::new(Arc::clone(&key_selector), function.clone())
            })
    }

    /// Joins with `other` on equal keys and event times within an interval (set it with
    /// `between`).
    pub fn interval_join<B: StreamData>(self, other: KeyedStream<B, K>) -> IntervalJoin<T, B, K> {
        IntervalJoin {
            first: self,
            second: other,
            lower: 0,
            upper: 0,
            lower_exclusive: false,
            upper_exclusive: false,
        }
    }

    /// Combines the records of each key: `reduce(accumulated, new)`.
    pub fn reduce<F>(self, reduce: F) -> DataStream<T>
    where
        F: FnMut(T, T) -> T + Clone + Send + Sync + 'static,
    {
        self.keyed_reduce("Keyed Reduce", reduce)
    }

    /// The running sum of a field; other fields come from the key's first record.
    pub fn sum<N, A>(self, field: A) -> DataStream<T>
    where
        N: Add<Output = N> + Copy,
        A: Fn(&mut T) -> &mut N + Clone + Send + Sync + 'static,
    {
        self.keyed_reduce("Keyed Aggregation", move |mut acc: T, mut value: T| {
            let added = *field(&mut acc) + *field(&mut value);
            *field(&mut acc) = added;
            acc
        })
    }

    /// The running minimum of a field; other fields come from the key's first record.
    pub fn min<N, A>(self, field: A) -> DataStream<T>
    where
        N: PartialOrd + Copy + 'static,
        A: Fn(&mut T) -> &mut N + Clone + Send + Sync + 'static,
    {
        self.extreme_field(field, |candidate, current| candidate < current)
    }

    /// The running maximum of a field; other fields come from the key's first record.
    pub fn max<N, A>(self, field: A) -> DataStream<T>
    where
        N: PartialOrd + Copy + 'static,
        A: Fn(&mut T) -> &mut N + Clone + Send + Sync + 'static,
    {
        self.extreme_field(field, |candidate, current| candidate > current)
    }

    /// The record with the smallest value of a field so far (the first such record on ties).
    pub fn min_by<N, A>(self, field: A) -> DataStream<T>
    where
        N: PartialOrd + Copy + 'static,
        A: Fn(&mut T) -> &mut N + Clone + Send + Sync + 'static,
    {
        self.extreme_record(field, |candidate, current| candidate < current)
    }

    /// The record with the largest value of a field so far (the first such record on ties).
    pub fn max_by<N, A>(self, field: A) -> DataStream<T>
    where
        N: PartialOrd + Copy + 'static,
        A: Fn(&mut T) -> &mut N + Clone + Send + Sync + 'static,
    {
        self.extreme_record(field, |candidate, current| candidate > current)
    }

    /// Keeps the key's first record, replacing its field whenever a new value `beats` it.
    fn extreme_field<N, A>(self, field: A, beats: fn(&N, &N) -> bool) -> DataStream<T>
    where
        N: PartialOrd + Copy + 'static,
        A: Fn(&mut T) -> &mut N + Clone + Send + Sync + 'static,
    {
        self.keyed_reduce("Keyed Aggregation", move |mut acc: T, mut value: T| {
            let candidate = *field(&mut value);
            if beats(&candidate, field(&mut acc)) {
                *field(&mut acc) = candidate;
            }
            acc
        })
    }

    /// Keeps the record whose field value `beats` every other so far (the first on ties).
    fn extreme_record<N, A>(self, field: A, beats: fn(&N, &N) -> bool) -> DataStream<T>
    where
        N: PartialOrd + Copy + 'static,
        A: Fn(&mut T) -> &mut N + Clone + Send + Sync + 'static,
    {
        self.keyed_reduce("Keyed Aggregation", move |mut acc: T, mut value: T| {
            if beats(field(&mut value), field(&mut acc)) {
                value
            } else {
                acc
            }
        })
    }
}

/// An interval join of two keyed streams; Flink's `KeyedStream.IntervalJoin`.
pub struct IntervalJoin<A, B, K> {
    first: KeyedStream<A, K>,
    second: KeyedStream<B, K>,
    lower: i64,
    upper: i64,
    lower_exclusive: bool,
    upper_exclusive: bool,
}

impl<A: StreamData, B: StreamData, K: KeyData> IntervalJoin<A, B, K> {
    /// Joins `a` (at `ta`) with `b` (at `tb`) when `ta + lower_ms <= tb <= ta + upper_ms`.
    pub fn between(mut self, lower_ms: i64, upper_ms: i64) -> Self {
        if lower_ms > upper_ms {
            self.first.as_stream().environment().report(format!(
                "interval_join: the lower bound ({lower_ms} ms) must not exceed the upper bound ({upper_ms} ms)"
            ));
        }
        self.lower = lower_ms;
        self.upper = upper_ms;
        self
    }

    /// Excludes the lower bound.
    pub fn lower_bound_exclusive(mut self) -> Self {
        self.lower_exclusive = true;
        self
    }

    /// Excludes the upper bound.
    pub fn upper_bound_exclusive(mut self) -> Self {
        self.upper_exclusive = true;
        self
    }

    /// Calls `function` for every joined pair; results carry the later of the two timestamps.
    pub fn process<O, F>(self, function: F) -> DataStream<O>
    where
        O: StreamData,
        F: FnMut(&A, &B, &mut Collector<'_, O>) + Clone + Send + Sync + 'static,
    {
        let (first_key, second_key) = (self.first.key_selector(), self.second.key_selector());
        let (lower, upper) = (self.lower, self.upper);
        let (lower_exclusive, upper_exclusive) = (self.lower_exclusive, self.upper_exclusive);
        self.first
            .as_stream()
            .connect(self.second.as_stream())
            .transform("Interval Join", "Interval Join", move || {
                IntervalJoinOperator::new(
                    Arc::clone(&first_key),
                    Arc::clone(&second_key),
                    lower,
                    upper,
                    lower_exclusive,
                    upper_exclusive,
                    function.clone(),
                )
            })
    }
}
