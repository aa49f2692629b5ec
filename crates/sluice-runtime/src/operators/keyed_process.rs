//! `key_by(..).process(..)`: a [`KeyedProcessFunction`] with keyed state and timers.
//!
//! For each element the function sees its key, timestamp, the watermark, a timer service
//! (event- and processing-time timers, one per key and time) and the keyed state of the key.
//! Timers fire `on_timer` with the same context; results of an event-time timer carry its time
//! as their timestamp.

use std::hash::Hash;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sluice_core::KeyData;
use sluice_core::key_group::{KeyGroupRange, assign_to_key_group};
use sluice_core::{Record, Timestamp, UserResult, Watermark};
use sluice_state::codec::{decode, encode};
use sluice_state::scope::split_key_prefix;
use sluice_state::{HeapStateBackend, KeyedStateScope, OperatorSnapshot, StateBackend};

use crate::task::operator::{OneInputOperator, OperatorContext, StreamOperator, WatermarkOut};
use crate::task::output::{Collector, Output, OutputTag, SideOutputs};
use crate::time::TimeDomain;
use crate::time::processing_time::{ProcessingTime, ProcessingTimeService};
use crate::time::timers::{TIMER_STATES, TimerService};

/// What a keyed process function sees: the key, time, timers, state and side outputs.
pub struct KeyedContext<'a, K> {
    key: &'a K,
    timestamp: Option<Timestamp>,
    watermark: Timestamp,
    now: ProcessingTime,
    timers: &'a mut TimerService<K, ()>,
    state: KeyedStateScope<'a>,
    sides: &'a mut SideOutputs,
    domain: Option<TimeDomain>,
}

impl<'a, K: Hash + Eq + Clone> KeyedContext<'a, K> {
    /// The key being processed.
    pub fn current_key(&self) -> &K {
        self.key
    }

    /// The element's (or firing event-time timer's) timestamp.
    pub fn timestamp(&self) -> Option<Timestamp> {
        self.timestamp
    }

    /// The current watermark.
    pub fn current_watermark(&self) -> Timestamp {
        self.watermark
    }

    /// The current processing time.
    pub fn current_processing_time(&self) -> ProcessingTime {
        self.now
    }

    /// In `on_timer`: which clock fired.
    pub fn time_domain(&self) -> Option<TimeDomain> {
        self.domain
    }

    /// Calls `on_timer` when the watermark reaches `time` (once per key and time).
    pub fn register_event_time_timer(&mut self, time: Timestamp) {
        self.timers.event_time.register(time, self.key, &());
    }

    /// Calls `on_timer` when the wall clock reaches `time` (once per key and time).
    pub fn register_processing_time_timer(&mut self, time: ProcessingTime) {
        self.timers.processing_time.register(time, self.key, &());
    }

    /// Deletes an event-time timer of this key.
    pub fn delete_event_time_timer(&mut self, time: Timestamp) {
        self.timers.event_time.delete(time, self.key, &());
    }

    /// Deletes a processing-time timer of this key.
    pub fn delete_processing_time_timer(&mut self, time: ProcessingTime) {
        self.timers.processing_time.delete(time, self.key, &());
    }

    /// The keyed state of the current key, for state handles.
    pub fn state(&mut self) -> &mut KeyedStateScope<'a> {
        &mut self.state
    }

    /// Emits `value` to the side output `tag`.
    pub fn output<S: 'static>(&mut self, tag: &OutputTag<S>, value: S) {
        self.sides.emit(tag, Record::at(value, self.timestamp));
    }
}

/// Flink's `KeyedProcessFunction`.
pub trait KeyedProcessFunction<K, I, O>: Send + 'static {
    /// Called once per subtask before the first element (declare state handles here or in
    /// the constructor).
    fn open(&mut self, _ctx: &OperatorContext) -> UserResult {
        Ok(())
    }

    /// Processes one element.
    fn process_element(
        &mut self,
        value: I,
        ctx: &mut KeyedContext<'_, K>,
        out: &mut Collector<'_, O>,
    ) -> UserResult;

    /// A timer of `ctx.current_key()` fired at `timestamp`.
    fn on_timer(
        &mut self,
        _timestamp: Timestamp,
        _ctx: &mut KeyedContext<'_, K>,
        _out: &mut Collector<'_, O>,
    ) -> UserResult {
        Ok(())
    }
}

/// The keyed machinery shared by keyed operators: state backend, timers, watermark and clock.
pub(crate) struct KeyedRuntime<K> {
    backend: Box<dyn StateBackend>,
    timers: TimerService<K, ()>,
    watermark: Timestamp,
    max_parallelism: usize,
    /// The key groups this subtask owns.
    key_groups: KeyGroupRange,
    time: ProcessingTimeService,
}

impl<K: Hash + Eq + Clone + Serialize> KeyedRuntime<K> {
    pub(crate) fn new() -> Self {
        KeyedRuntime {
            backend: Box::new(HeapStateBackend::new(sluice_core::DEFAULT_MAX_PARALLELISM)),
            timers: TimerService::default(),
            watermark: Timestamp::MIN,
            max_parallelism: sluice_core::DEFAULT_MAX_PARALLELISM,
            key_groups: KeyGroupRange::for_subtask(sluice_core::DEFAULT_MAX_PARALLELISM, 1, 0),
            time: ProcessingTimeService::default(),
        }
    }

    pub(crate) fn open(&mut self, ctx: &OperatorContext) -> UserResult {
        self.max_parallelism = ctx.max_parallelism;
        self.key_groups = ctx.key_groups();
        self.backend = ctx.state_backend.create(ctx.backend_scope())?;
        self.time = ctx.processing_time.clone();
        Ok(())
    }

    /// Calls `f` with the context of `key` (for an element, or a timer of `domain`) and a
    /// collector whose results carry `timestamp`.
    pub(crate) fn with_context<O>(
        &mut self,
        key: &K,
        timestamp: Option<Timestamp>,
        domain: Option<TimeDomain>,
        out: &mut Output<O>,
        f: impl FnOnce(&mut KeyedContext<'_, K>, &mut Collector<'_, O>) -> UserResult,
    ) -> UserResult {
        let now = self.time.now();
        let key_group = assign_to_key_group(key, self.max_parallelism);
        let scope = KeyedStateScope::new(&mut *self.backend, key_group, key, &(), now)?;
        let mut ctx = KeyedContext {
            key,
            timestamp,
            watermark: self.watermark,
            now,
            timers: &mut self.timers,
            state: scope,
            sides: &mut out.sides,
            domain,
        };
        let mut collector = Collector::new(&mut out.records, timestamp);
        f(&mut ctx, &mut collector)
    }

    /// Advances event time, calling `on_timer` for every due event-time timer in time order.
    pub(crate) fn advance_watermark<O>(
        &mut self,
        watermark: Watermark,
        out: &mut Output<O>,
        on_timer: impl FnMut(Timestamp, &mut KeyedContext<'_, K>, &mut Collector<'_, O>) -> UserResult,
    ) -> UserResult {
        self.watermark = self.watermark.max(watermark.0);
        self.fire_due(TimeDomain::EventTime, self.watermark, out, on_timer)
    }

    /// Calls `on_timer` for every processing-time timer due at `now`.
    pub(crate) fn advance_processing_time<O>(
        &mut self,
        now: ProcessingTime,
        out: &mut Output<O>,
        on_timer: impl FnMut(Timestamp, &mut KeyedContext<'_, K>, &mut Collector<'_, O>) -> UserResult,
    ) -> UserResult {
        self.fire_due(TimeDomain::ProcessingTime, now, out, on_timer)
    }

    /// Fires the timers of `domain` due at `limit`, in time order; results of event-time timers
    /// carry the timer's time.
    fn fire_due<O>(
        &mut self,
        domain: TimeDomain,
        limit: Timestamp,
        out: &mut Output<O>,
        mut on_timer: impl FnMut(
            Timestamp,
            &mut KeyedContext<'_, K>,
            &mut Collector<'_, O>,
        ) -> UserResult,
    ) -> UserResult {
        loop {
            let Some((time, key, ())) = self.timers.queue(domain).pop_due(limit) else {
                break;
            };
            let timestamp = (domain == TimeDomain::EventTime).then_some(time);
            self.with_context(&key, timestamp, Some(domain), out, |ctx, collector| {
                on_timer(time, ctx, collector)
            })?;
        }
        self.schedule();
        Ok(())
    }

    /// Calls `f` with every key of this subtask that has an entry in the keyed state named
    /// `state`, and that key's state (Flink's `applyToKeyedState`), in key-group order.
    pub(crate) fn for_each_key(
        &mut self,
        state: &str,
        mut f: impl FnMut(&K, &mut KeyedStateScope<'_>) -> UserResult,
    ) -> UserResult
    where
        K: DeserializeOwned,
    {
        let id = self.backend.register(state)?;
        let now = self.time.now();
        // A keyed function's state lives in the namespace `()`.
        let void_namespace = encode("namespace", &())?;
        for key_group in self.key_groups.iter() {
            let mut keys: Vec<(K, Vec<u8>)> = Vec::new();
            for (entry, _) in self.backend.scan_prefix(id.in_group(key_group), &[])? {
                let split = split_key_prefix(&entry)
                    .ok_or_else(|| format!("keyed state '{state}' holds a malformed key"))?;
                // Entries are in key order: a key's entries (map state) are contiguous.
                let seen = keys
                    .last()
                    .is_some_and(|(_, prefix)| prefix == split.prefix);
                if split.namespace == void_namespace && !seen {
                    keys.push((decode("current key", split.key)?, split.prefix.to_vec()));
                }
            }
            for (key, prefix) in keys {
                let backend = &mut *self.backend;
                f(
                    &key,
                    &mut KeyedStateScope::from_encoded(backend, key_group, prefix, now),
                )?;
            }
        }
        Ok(())
    }

    /// Writes the keyed state and the timers.
    pub(crate) fn snapshot(&self, into: &mut OperatorSnapshot) -> UserResult
    where
        K: DeserializeOwned,
    {
        self.backend.snapshot(&mut into.keyed)?;
        Ok(self
            .timers
            .snapshot(&mut into.keyed, self.max_parallelism)?)
    }

    /// Loads keyed state and timers of this subtask's key groups.
    pub(crate) fn restore(&mut self, from: &OperatorSnapshot) -> UserResult
    where
        K: DeserializeOwned,
    {
        self.backend
            .restore_where(&from.keyed, &|name| !TIMER_STATES.contains(&name))?;
        self.timers.restore(&from.keyed)?;
        self.schedule();
        Ok(())
    }

    /// Checkpoint `checkpoint_id` completed: the backend may refer to what it stored.
    pub(crate) fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) {
        self.backend.notify_checkpoint_complete(checkpoint_id);
    }

    /// Asks the task to wake for the earliest processing-time timer.
    pub(crate) fn schedule(&mut self) {
        if let Some(earliest) = self.timers.processing_time.earliest() {
            self.time.wake_at(earliest);
        }
    }
}

/// Runs a keyed process function.
pub struct KeyedProcessOperator<I, K, P> {
    key_selector: Arc<dyn Fn(&I) -> K + Send + Sync>,
    function: P,
    keyed: KeyedRuntime<K>,
}

impl<I, K: Hash + Eq + Clone + Serialize, P> KeyedProcessOperator<I, K, P> {
    /// An operator running `function` on the keys `key_selector` extracts.
    pub fn new(key_selector: Arc<dyn Fn(&I) -> K + Send + Sync>, function: P) -> Self {
        KeyedProcessOperator {
            key_selector,
            function,
            keyed: KeyedRuntime::new(),
        }
    }
}

impl<I, K, O, P> OneInputOperator<I, O> for KeyedProcessOperator<I, K, P>
where
    I: Send + 'static,
    K: KeyData,
    O: Send + 'static,
    P: KeyedProcessFunction<K, I, O>,
{
    fn process_batch(&mut self, batch: &mut Vec<Record<I>>, out: &mut Output<O>) -> UserResult {
        for record in batch.drain(..) {
            let key = (self.key_selector)(&record.value);
            let function = &mut self.function;
            self.keyed
                .with_context(&key, record.timestamp, None, out, |ctx, collector| {
                    function.process_element(record.value, ctx, collector)
                })?;
        }
        self.keyed.schedule();
        Ok(())
    }
}

impl<I, K, O, P> StreamOperator<I, O> for KeyedProcessOperator<I, K, P>
where
    I: Send + 'static,
    K: KeyData,
    O: Send + 'static,
    P: KeyedProcessFunction<K, I, O>,
{
    fn process_watermark(&mut self, watermark: Watermark, out: &mut Output<O>) -> WatermarkOut {
        let function = &mut self.function;
        self.keyed
            .advance_watermark(watermark, out, |time, ctx, collector| {
                function.on_timer(time, ctx, collector)
            })?;
        Ok(Some(watermark))
    }

    fn on_processing_time(&mut self, now: ProcessingTime, out: &mut Output<O>) -> UserResult {
        let function = &mut self.function;
        self.keyed
            .advance_processing_time(now, out, |time, ctx, collector| {
                function.on_timer(time, ctx, collector)
            })
    }

    fn open(&mut self, ctx: &OperatorContext) -> UserResult {
        self.keyed.open(ctx)?;
        self.function.open(ctx)
    }

    fn snapshot_state(&mut self, snapshot: &mut OperatorSnapshot) -> UserResult {
        self.keyed.snapshot(snapshot)
    }

    fn restore_state(&mut self, restored: &OperatorSnapshot) -> UserResult {
        self.keyed.restore(restored)
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> UserResult {
        self.keyed.notify_checkpoint_complete(checkpoint_id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use sluice_state::ValueState;

    use super::*;
    use crate::harness::OneInputHarness;

    /// Counts per key and emits the count once a key saw no element for 60 s of event time,
    /// moving the key's one timer with each element (the integration tests run Flink's
    /// documented version, which keeps every timer and compares timestamps).
    struct CountWithTimeout {
        state: ValueState<(u64, Timestamp)>,
    }

    impl KeyedProcessFunction<String, (String, Timestamp), (String, u64)> for CountWithTimeout {
        fn process_element(
            &mut self,
            value: (String, Timestamp),
            ctx: &mut KeyedContext<'_, String>,
            _: &mut Collector<'_, (String, u64)>,
        ) -> UserResult {
            let (count, timer) = self.state.value(ctx.state())?.unwrap_or((0, 0));
            if count > 0 {
                ctx.delete_event_time_timer(timer);
            }
            let timer = ctx.timestamp().unwrap_or(value.1) + 60_000;
            self.state.update(ctx.state(), &(count + 1, timer))?;
            ctx.register_event_time_timer(timer);
            Ok(())
        }

        fn on_timer(
            &mut self,
            _: Timestamp,
            ctx: &mut KeyedContext<'_, String>,
            out: &mut Collector<'_, (String, u64)>,
        ) -> UserResult {
            let count = self.state.value(ctx.state())?.map_or(0, |(count, _)| count);
            self.state.clear(ctx.state())?;
            out.collect((ctx.current_key().clone(), count));
            Ok(())
        }
    }

    #[test]
    fn count_with_timeout_emits_after_a_quiet_minute() {
        let operator = KeyedProcessOperator::new(
            Arc::new(|e: &(String, Timestamp)| e.0.clone()),
            CountWithTimeout {
                state: ValueState::new("count"),
            },
        );
        let mut harness = OneInputHarness::new(operator);
        harness.process(Record::with_timestamp(("a".into(), 0), 0));
        harness.process(Record::with_timestamp(("a".into(), 30_000), 30_000));
        harness.process(Record::with_timestamp(("b".into(), 10_000), 10_000));
        harness.watermark(Watermark(70_000));
        assert_eq!(
            harness.take_records(),
            vec![Record::with_timestamp(("b".to_string(), 1), 70_000)]
        );
        harness.watermark(Watermark(90_000));
        assert_eq!(harness.take_values(), vec![("a".to_string(), 2)]);
    }

    #[test]
    fn state_and_timers_restore_at_any_parallelism() {
        use crate::harness::{Input, run_uninterrupted, run_with_restore};
        let make = || {
            KeyedProcessOperator::new(
                Arc::new(|e: &(String, Timestamp)| e.0.clone()),
                CountWithTimeout {
                    state: ValueState::new("count"),
                },
            )
        };
        let mut inputs = Vec::new();
        for i in 0..200i64 {
            let key = format!("k{}", (i * 7919) % 13);
            let timestamp = i * 6_000 + (i % 3) * 1_000;
            inputs.push(Input::Record(Record::with_timestamp(
                (key, timestamp),
                timestamp,
            )));
            if i % 2 == 1 {
                inputs.push(Input::Watermark(Watermark(timestamp - 2_000)));
            }
        }
        inputs.push(Input::Watermark(Watermark::MAX));
        let expected = run_uninterrupted(make, &inputs);
        assert!(expected.len() > 13, "timeouts fired: {expected:?}");
        let key_group = |e: &(String, Timestamp)| {
            assign_to_key_group(&e.0, sluice_core::DEFAULT_MAX_PARALLELISM)
        };
        for split in [0, 57, 120, inputs.len()] {
            for parallelism in 1..=4 {
                let (before, after) = inputs.split_at(split);
                let restored = run_with_restore(make, before, after, parallelism, key_group);
                assert_eq!(restored, expected, "split {split}, p={parallelism}");
            }
        }
    }
}
