//! The broadcast state pattern: a (possibly keyed) stream connected with a broadcast stream.
//! Every parallel instance sees every broadcast element and keeps the same broadcast state
//! (maps named by [`BroadcastStateDescriptor`]s, see `broadcast_state.rs`); elements of the
//! other stream read it. With a keyed stream, the function also has keyed state and timers.

use std::hash::Hash;
use std::sync::Arc;

use serde::Serialize;
use sluice_core::KeyData;
use sluice_core::{Record, Timestamp, UserResult, Watermark};
use sluice_state::{KeyedStateScope, OperatorSnapshot};

use super::broadcast_state::{BroadcastStateCodec, BroadcastStates};
use super::keyed_process::{KeyedContext, KeyedRuntime};
use crate::task::operator::{OperatorContext, StreamOperator, TwoInputOperator, WatermarkOut};
use crate::task::output::{Collector, Output};
use crate::time::processing_time::ProcessingTime;

/// Flink's `BroadcastProcessFunction` (non-keyed).
pub trait BroadcastProcessFunction<IN, B, OUT>: Send + 'static {
    /// Processes an element of the non-broadcast stream; broadcast state is read-only here
    /// (Flink's `ReadOnlyContext`: `ctx` is shared).
    fn process_element(
        &mut self,
        value: IN,
        ctx: &BroadcastContext<'_>,
        out: &mut Collector<'_, OUT>,
    ) -> UserResult;

    /// Processes a broadcast element; it may change the broadcast state (`ctx`).
    fn process_broadcast_element(
        &mut self,
        value: B,
        ctx: &mut BroadcastContext<'_>,
        out: &mut Collector<'_, OUT>,
    ) -> UserResult;
}

/// Flink's `KeyedBroadcastProcessFunction`: keyed elements with keyed state and timers, and a
/// broadcast side.
pub trait KeyedBroadcastProcessFunction<K, IN, B, OUT>: Send + 'static {
    /// Processes a keyed element; broadcast state is read-only here.
    fn process_element(
        &mut self,
        value: IN,
        ctx: &mut KeyedContext<'_, K>,
        broadcast: &BroadcastStates,
        out: &mut Collector<'_, OUT>,
    ) -> UserResult;

    /// Processes a broadcast element; it may change the broadcast state, and reach the keyed
    /// state of every key through `ctx`.
    fn process_broadcast_element(
        &mut self,
        value: B,
        ctx: &mut KeyedBroadcastContext<'_, K>,
        out: &mut Collector<'_, OUT>,
    ) -> UserResult;

    /// A timer of `ctx.current_key()` fired.
    fn on_timer(
        &mut self,
        _timestamp: Timestamp,
        _ctx: &mut KeyedContext<'_, K>,
        _broadcast: &BroadcastStates,
        _out: &mut Collector<'_, OUT>,
    ) -> UserResult {
        Ok(())
    }
}

/// What a broadcast function sees beside an element: the broadcast state (writable for a
/// broadcast element; a non-keyed function gets it shared, read-only, for the other stream's
/// elements, as Flink's `ReadOnlyContext`), the element's timestamp and, for a keyed
/// function's broadcast side, the keyed state of every key of its subtask (Flink's `Context`
/// of `processBroadcastElement`).
pub struct BroadcastContext<'a, S = ()> {
    broadcast: &'a mut BroadcastStates,
    timestamp: Option<Timestamp>,
    keyed: S,
}

/// The broadcast context of a keyed broadcast function.
pub type KeyedBroadcastContext<'a, K> = BroadcastContext<'a, KeyedStates<'a, K>>;

/// The keyed state of a keyed broadcast function's subtask, as its broadcast side reaches it.
pub struct KeyedStates<'a, K>(&'a mut KeyedRuntime<K>);

impl<'a, S> BroadcastContext<'a, S> {
    fn new(broadcast: &'a mut BroadcastStates, keyed: S) -> Self {
        BroadcastContext {
            broadcast,
            timestamp: None,
            keyed,
        }
    }

    /// The broadcast state.
    pub fn states(&self) -> &BroadcastStates {
        self.broadcast
    }

    /// The broadcast state, to change.
    pub fn states_mut(&mut self) -> &mut BroadcastStates {
        self.broadcast
    }

    /// The broadcast element's timestamp.
    pub fn timestamp(&self) -> Option<Timestamp> {
        self.timestamp
    }
}

impl<K: KeyData> KeyedBroadcastContext<'_, K> {
    /// Calls `f` with every key of this subtask that has an entry in the keyed state named
    /// `state`, and that key's state, to read or change it (Flink's `applyToKeyedState`).
    pub fn apply_to_keyed_state(
        &mut self,
        state: &str,
        f: impl FnMut(&K, &mut KeyedStateScope<'_>) -> UserResult,
    ) -> UserResult {
        self.keyed.0.for_each_key(state, f)
    }
}

/// Hands each element of `batch` to `process` of `function`, with `ctx` at the element's
/// timestamp.
fn for_each_in_context<'a, F, B, OUT, S>(
    batch: &mut Vec<Record<B>>,
    mut ctx: BroadcastContext<'a, S>,
    out: &mut Output<OUT>,
    function: &mut F,
    process: impl Fn(&mut F, B, &mut BroadcastContext<'a, S>, &mut Collector<'_, OUT>) -> UserResult,
) -> UserResult {
    for record in batch.drain(..) {
        ctx.timestamp = record.timestamp;
        let mut collector = Collector::new(&mut out.records, record.timestamp);
        process(function, record.value, &mut ctx, &mut collector)?;
    }
    Ok(())
}

/// Runs a non-keyed broadcast process function.
pub struct BroadcastProcessOperator<P> {
    function: P,
    states: BroadcastStates,
}

impl<P> BroadcastProcessOperator<P> {
    /// Runs `function`; `codecs` restore the broadcast states (one per descriptor).
    pub fn new(function: P, codecs: Vec<BroadcastStateCodec>) -> Self {
        BroadcastProcessOperator {
            function,
            states: BroadcastStates::with_codecs(codecs),
        }
    }
}

impl<IN: Send + 'static, B: Send + 'static, OUT: Send + 'static, P> TwoInputOperator<IN, B, OUT>
    for BroadcastProcessOperator<P>
where
    P: BroadcastProcessFunction<IN, B, OUT>,
{
    fn process_batch1(&mut self, batch: &mut Vec<Record<IN>>, out: &mut Output<OUT>) -> UserResult {
        let ctx = BroadcastContext::new(&mut self.states, ());
        for_each_in_context(batch, ctx, out, &mut self.function, |f, value, ctx, out| {
            f.process_element(value, ctx, out)
        })
    }

    fn process_batch2(&mut self, batch: &mut Vec<Record<B>>, out: &mut Output<OUT>) -> UserResult {
        let ctx = BroadcastContext::new(&mut self.states, ());
        let process = P::process_broadcast_element;
        for_each_in_context(batch, ctx, out, &mut self.function, process)
    }
}

impl<IN: Send + 'static, B: Send + 'static, OUT: Send + 'static, P> StreamOperator<(IN, B), OUT>
    for BroadcastProcessOperator<P>
where
    P: BroadcastProcessFunction<IN, B, OUT>,
{
    /// The broadcast maps, as union state.
    fn snapshot_state(&mut self, snapshot: &mut OperatorSnapshot) -> UserResult {
        snapshot.operator = self.states.snapshot()?;
        Ok(())
    }

    fn restore_state(&mut self, restored: &OperatorSnapshot) -> UserResult {
        Ok(self.states.restore(&restored.operator)?)
    }
}

/// Runs a keyed broadcast process function.
pub struct KeyedBroadcastProcessOperator<IN, K, P> {
    key_selector: Arc<dyn Fn(&IN) -> K + Send + Sync>,
    function: P,
    states: BroadcastStates,
    keyed: KeyedRuntime<K>,
}

impl<IN, K: Hash + Eq + Clone + Serialize, P> KeyedBroadcastProcessOperator<IN, K, P> {
    /// Runs `function` on the keys `key_selector` extracts; `codecs` restore the broadcast
    /// states (one per descriptor).
    pub fn new(
        key_selector: Arc<dyn Fn(&IN) -> K + Send + Sync>,
        function: P,
        codecs: Vec<BroadcastStateCodec>,
    ) -> Self {
        KeyedBroadcastProcessOperator {
            key_selector,
            function,
            states: BroadcastStates::with_codecs(codecs),
            keyed: KeyedRuntime::new(),
        }
    }
}

impl<IN, K, B, OUT, P> TwoInputOperator<IN, B, OUT> for KeyedBroadcastProcessOperator<IN, K, P>
where
    IN: Send + 'static,
    B: Send + 'static,
    OUT: Send + 'static,
    K: KeyData,
    P: KeyedBroadcastProcessFunction<K, IN, B, OUT>,
{
    fn process_batch1(&mut self, batch: &mut Vec<Record<IN>>, out: &mut Output<OUT>) -> UserResult {
        for record in batch.drain(..) {
            let key = (self.key_selector)(&record.value);
            let (function, states) = (&mut self.function, &self.states);
            self.keyed
                .with_context(&key, record.timestamp, None, out, |ctx, collector| {
                    function.process_element(record.value, ctx, states, collector)
                })?;
        }
        self.keyed.schedule();
        Ok(())
    }

    fn process_batch2(&mut self, batch: &mut Vec<Record<B>>, out: &mut Output<OUT>) -> UserResult {
        let ctx = BroadcastContext::new(&mut self.states, KeyedStates(&mut self.keyed));
        let process = P::process_broadcast_element;
        for_each_in_context(batch, ctx, out, &mut self.function, process)
    }
}

impl<IN, K, B, OUT, P> StreamOperator<(IN, B), OUT> for KeyedBroadcastProcessOperator<IN, K, P>
where
    OUT: Send + 'static,
    K: KeyData,
    P: KeyedBroadcastProcessFunction<K, IN, B, OUT>,
{
    fn process_watermark(&mut self, watermark: Watermark, out: &mut Output<OUT>) -> WatermarkOut {
        let (function, states) = (&mut self.function, &self.states);
        self.keyed
            .advance_watermark(watermark, out, |time, ctx, collector| {
                function.on_timer(time, ctx, states, collector)
            })?;
        Ok(Some(watermark))
    }

    fn on_processing_time(&mut self, now: ProcessingTime, out: &mut Output<OUT>) -> UserResult {
        let (function, states) = (&mut self.function, &self.states);
        self.keyed
            .advance_processing_time(now, out, |time, ctx, collector| {
                function.on_timer(time, ctx, states, collector)
            })
    }

    fn open(&mut self, ctx: &OperatorContext) -> UserResult {
        self.keyed.open(ctx)?;
        Ok(())
    }

    /// The keyed state and timers, and the broadcast maps.
    fn snapshot_state(&mut self, snapshot: &mut OperatorSnapshot) -> UserResult {
        self.keyed.snapshot(snapshot)?;
        snapshot.operator = self.states.snapshot()?;
        Ok(())
    }

    fn restore_state(&mut self, restored: &OperatorSnapshot) -> UserResult {
        self.keyed.restore(restored)?;
        Ok(self.states.restore(&restored.operator)?)
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> UserResult {
        self.keyed.notify_checkpoint_complete(checkpoint_id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_state::ValueState;

    use crate::harness::TwoInputHarness;
    use crate::operators::BroadcastStateDescriptor;

    /// Passes values up to the broadcast limit.
    #[derive(Clone)]
    struct UpToLimit {
        limit: BroadcastStateDescriptor<String, i64>,
    }

    impl BroadcastProcessFunction<i64, i64, i64> for UpToLimit {
        fn process_element(
            &mut self,
            value: i64,
            ctx: &BroadcastContext<'_>,
            out: &mut Collector<'_, i64>,
        ) -> UserResult {
            let limit = ctx
                .states()
                .get(&self.limit)
                .and_then(|m| m.get("limit").copied());
            if limit.is_some_and(|limit| value <= limit) {
                out.collect(value);
            }
            Ok(())
        }

        fn process_broadcast_element(
            &mut self,
            value: i64,
            ctx: &mut BroadcastContext<'_>,
            _: &mut Collector<'_, i64>,
        ) -> UserResult {
            ctx.states_mut()
                .get_mut(&self.limit)?
                .insert("limit".into(), value);
            Ok(())
        }
    }

    #[test]
    fn broadcast_state_survives_a_restore() {
        let limit = BroadcastStateDescriptor::new("limit");
        let make = || {
            BroadcastProcessOperator::new(
                UpToLimit {
                    limit: limit.clone(),
                },
                vec![limit.codec()],
            )
        };
        let mut first = TwoInputHarness::new(make());
        first.process2(Record::new(10));
        first.process1(Record::new(7));
        assert_eq!(first.take_values(), vec![7]);
        let snapshot = first.snapshot();
        let mut restored = TwoInputHarness::new(make());
        restored.restore(&snapshot);
        restored.process1(Record::new(9));
        restored.process1(Record::new(11));
        assert_eq!(restored.take_values(), vec![9], "the limit came back");
    }

    /// Counts elements per key; the broadcast command "report" emits every key's count, and
    /// "reset" clears them all.
    #[derive(Clone)]
    struct Counts;

    impl KeyedBroadcastProcessFunction<String, String, String, String> for Counts {
        fn process_element(
            &mut self,
            _: String,
            ctx: &mut KeyedContext<'_, String>,
            _: &BroadcastStates,
            _: &mut Collector<'_, String>,
        ) -> UserResult {
            let count = ValueState::<u64>::new("count");
            let n = count.value(ctx.state())?.unwrap_or(0) + 1;
            Ok(count.update(ctx.state(), &n)?)
        }

        fn process_broadcast_element(
            &mut self,
            command: String,
            ctx: &mut KeyedBroadcastContext<'_, String>,
            out: &mut Collector<'_, String>,
        ) -> UserResult {
            let count = ValueState::<u64>::new("count");
            ctx.apply_to_keyed_state("count", |key, state| {
                match command.as_str() {
                    "report" => out.collect(format!("{key}={}", count.value(state)?.unwrap_or(0))),
                    _ => count.clear(state)?,
                }
                Ok(())
            })
        }
    }

    type CountsOperator = KeyedBroadcastProcessOperator<String, String, Counts>;

    fn counts() -> CountsOperator {
        KeyedBroadcastProcessOperator::new(Arc::new(|s: &String| s.clone()), Counts, vec![])
    }

    fn report(
        harness: &mut TwoInputHarness<String, String, String, CountsOperator>,
    ) -> Vec<String> {
        harness.process2(Record::new("report".to_string()));
        let mut lines = harness.take_values();
        lines.sort();
        lines
    }

    #[test]
    fn a_broadcast_element_reaches_the_keyed_state_of_every_key() {
        let mut harness = TwoInputHarness::new(counts());
        for key in ["a", "b", "a"] {
            harness.process1(Record::new(key.to_string()));
        }
        assert_eq!(report(&mut harness), ["a=2", "b=1"]);
        let snapshot = harness.snapshot();
        harness.process2(Record::new("reset".to_string()));
        assert_eq!(
            report(&mut harness),
            Vec::<String>::new(),
            "every key was cleared"
        );
        harness.process1(Record::new("b".to_string()));
        assert_eq!(report(&mut harness), ["b=1"]);
        let mut restored = TwoInputHarness::new(counts());
        restored.restore(&snapshot);
        assert_eq!(
            report(&mut restored),
            ["a=2", "b=1"],
            "restored keys are reached"
        );
    }
}
