//! The broadcast state pattern: a (possibly keyed) stream connected with a broadcast stream.
//! Every parallel instance sees every broadcast element and keeps the same broadcast state
//! (maps named by [`BroadcastStateDescriptor`]s); elements of the other stream read it.
//! With a keyed stream, the function also has keyed state and timers.

use std::any::Any;
use std::collections::HashMap;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sluice_core::{Record, Timestamp, UserResult, Watermark};
use sluice_state::OperatorSnapshot;

use super::keyed_process::{KeyedContext, KeyedRuntime};
use crate::operator::{OperatorContext, TwoInputOperator};
use crate::output::{Collector, Output};
use crate::processing_time::ProcessingTime;

/// Names one broadcast map state of keys `K` and values `V`.
pub struct BroadcastStateDescriptor<K, V> {
    name: Arc<str>,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for BroadcastStateDescriptor<K, V> {
    fn clone(&self) -> Self {
        BroadcastStateDescriptor {
            name: Arc::clone(&self.name),
            _types: PhantomData,
        }
    }
}

impl<K, V> BroadcastStateDescriptor<K, V> {
    /// A descriptor named `name`.
    pub fn new(name: &str) -> Self {
        BroadcastStateDescriptor {
            name: Arc::from(name),
            _types: PhantomData,
        }
    }

    /// The state's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The broadcast states of one operator instance.
#[derive(Default)]
pub struct BroadcastStates {
    maps: HashMap<Arc<str>, Box<dyn Any + Send>>,
}

impl BroadcastStates {
    /// The map named by `descriptor` (empty until the broadcast side writes it).
    pub fn get<K: 'static, V: 'static>(
        &self,
        descriptor: &BroadcastStateDescriptor<K, V>,
    ) -> Option<&HashMap<K, V>> {
        self.maps.get(&descriptor.name)?.downcast_ref()
    }

    /// The map named by `descriptor`, for writing; an error if the name is used with other types.
    pub fn get_mut<K: Send + 'static, V: Send + 'static>(
        &mut self,
        descriptor: &BroadcastStateDescriptor<K, V>,
    ) -> UserResult<&mut HashMap<K, V>> {
        self.maps
            .entry(Arc::clone(&descriptor.name))
            .or_insert_with(|| Box::new(HashMap::<K, V>::new()))
            .downcast_mut()
            .ok_or_else(|| {
                format!(
                    "broadcast state '{}' is used with two different types",
                    descriptor.name
                )
                .into()
            })
    }
}

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
    /// Runs `function`.
    pub fn new(function: P) -> Self {
        BroadcastProcessOperator {
            function,
            states: BroadcastStates::default(),
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

/// Runs a keyed broadcast process function.
pub struct KeyedBroadcastProcessOperator<IN, K, P> {
    key_selector: Arc<dyn Fn(&IN) -> K + Send + Sync>,
    function: P,
    states: BroadcastStates,
    keyed: KeyedRuntime<K>,
}

impl<IN, K: Hash + Eq + Clone + Serialize, P> KeyedBroadcastProcessOperator<IN, K, P> {
    /// Runs `function` on the keys `key_selector` extracts.
    pub fn new(key_selector: Arc<dyn Fn(&IN) -> K + Send + Sync>, function: P) -> Self {
        KeyedBroadcastProcessOperator {
            key_selector,
            function,
            states: BroadcastStates::default(),
            keyed: KeyedRuntime::new(),
        }
    }
}

impl<IN, K, B, OUT, P> TwoInputOperator<IN, B, OUT> for KeyedBroadcastProcessOperator<IN, K, P>
where
    IN: Send + 'static,
    B: Send + 'static,
    OUT: Send + 'static,
    K: Hash + Eq + Clone + Serialize + DeserializeOwned + Send + 'static,
    P: KeyedBroadcastProcessFunction<K, IN, B, OUT>,
{
    fn open(&mut self, ctx: &OperatorContext) -> UserResult {
        self.keyed.open(ctx);
        Ok(())
    }

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

    fn process_watermark(
        &mut self,
        watermark: Watermark,
        out: &mut Output<OUT>,
    ) -> UserResult<Option<Watermark>> {
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

    /// The keyed state and timers (the broadcast maps are not part of the snapshot yet).
    fn snapshot_state(&mut self, snapshot: &mut OperatorSnapshot) -> UserResult {
        self.keyed.snapshot(snapshot)
    }

    fn restore_state(&mut self, restored: &OperatorSnapshot) -> UserResult {
        self.keyed.restore(restored)
    }
}
