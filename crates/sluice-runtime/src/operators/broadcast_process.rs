//! The broadcast state pattern: a (possibly keyed) stream connected with a broadcast stream.
//! Every parallel instance sees every broadcast element and keeps the same broadcast state
//! (maps named by [`BroadcastStateDescriptor`]s, see `broadcast_state.rs`); elements of the
//! other stream read it. With a keyed stream, the function also has keyed state and timers.

use std::hash::Hash;
use std::sync::Arc;

use serde::Serialize;
use sluice_core::KeyData;
use sluice_core::{Record, Timestamp, UserResult, Watermark};
use sluice_state::OperatorSnapshot;

use super::broadcast_state::{BroadcastStateCodec, BroadcastStates};
use super::keyed_process::{KeyedContext, KeyedRuntime};
use crate::task::operator::{OperatorContext, StreamOperator, TwoInputOperator, WatermarkOut};
use crate::task::output::{Collector, Output};
use crate::time::processing_time::ProcessingTime;

/// Flink's `BroadcastProcessFunction` (non-keyed).
pub trait BroadcastProcessFunction<IN, B, OUT>: Send + 'static {
    /// Processes an element of the non-broadcast stream; broadcast state is read-only here.
    fn process_element(
        &mut self,
        value: IN,
        broadcast: &BroadcastStates,
        out: &mut Collector<'_, OUT>,
    ) -> UserResult;

    /// Processes a broadcast element; it may change the broadcast state.
    fn process_broadcast_element(
        &mut self,
        value: B,
        broadcast: &mut BroadcastStates,
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

    /// Processes a broadcast element; it may change the broadcast state.
    fn process_broadcast_element(
        &mut self,
        value: B,
        broadcast: &mut BroadcastStates,
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

/// Hands each broadcast element, with the (writable) broadcast states, to `f`.
fn apply_broadcast_batch<B, OUT>(
    batch: &mut Vec<Record<B>>,
    states: &mut BroadcastStates,
    out: &mut Output<OUT>,
    mut f: impl FnMut(B, &mut BroadcastStates, &mut Collector<'_, OUT>) -> UserResult,
) -> UserResult {
    for record in batch.drain(..) {
        let mut collector = Collector::new(&mut out.records, record.timestamp);
        f(record.value, states, &mut collector)?;
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
        for record in batch.drain(..) {
            let mut collector = Collector::new(&mut out.records, record.timestamp);
            self.function
                .process_element(record.value, &self.states, &mut collector)?;
        }
        Ok(())
    }

    fn process_batch2(&mut self, batch: &mut Vec<Record<B>>, out: &mut Output<OUT>) -> UserResult {
        let function = &mut self.function;
        apply_broadcast_batch(batch, &mut self.states, out, |value, states, collector| {
            function.process_broadcast_element(value, states, collector)
        })
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
        let function = &mut self.function;
        apply_broadcast_batch(batch, &mut self.states, out, |value, states, collector| {
            function.process_broadcast_element(value, states, collector)
        })
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
            broadcast: &BroadcastStates,
            out: &mut Collector<'_, i64>,
        ) -> UserResult {
            let limit = broadcast
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
            broadcast: &mut BroadcastStates,
            _: &mut Collector<'_, i64>,
        ) -> UserResult {
            broadcast
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
}
