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
use sluice_core::key_group::assign_to_key_group;
use sluice_core::{Record, Timestamp, UserResult, Watermark};
use sluice_state::{HeapStateBackend, KeyedStateScope, StateBackend};

use super::keyed_process::{KeyedContext, TimeDomain};
use crate::operator::{OperatorContext, TwoInputOperator};
use crate::output::{Collector, Output};
use crate::processing_time::{ProcessingTime, ProcessingTimeService};
use crate::timers::TimerService;

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
        for record in batch.drain(..) {
            let mut collector = Collector::new(&mut out.records, record.timestamp);
            self.function.process_broadcast_element(
                record.value,
                &mut self.states,
                &mut collector,
            )?;
        }
        Ok(())
    }
}

/// Runs a keyed broadcast process function.
pub struct KeyedBroadcastProcessOperator<IN, K, P> {
    key_selector: Arc<dyn Fn(&IN) -> K + Send + Sync>,
    function: P,
    states: BroadcastStates,
    backend: HeapStateBackend,
    timers: TimerService<K, ()>,
    watermark: Timestamp,
    max_parallelism: usize,
    time: ProcessingTimeService,
}

impl<IN, K, P> KeyedBroadcastProcessOperator<IN, K, P> {
    /// Runs `function` on the keys `key_selector` extracts.
    pub fn new(key_selector: Arc<dyn Fn(&IN) -> K + Send + Sync>, function: P) -> Self {
        KeyedBroadcastProcessOperator {
            key_selector,
            function,
            states: BroadcastStates::default(),
            backend: HeapStateBackend::new(sluice_core::DEFAULT_MAX_PARALLELISM),
            timers: TimerService::default(),
            watermark: Timestamp::MIN,
            max_parallelism: sluice_core::DEFAULT_MAX_PARALLELISM,
            time: ProcessingTimeService::default(),
        }
    }
}

impl<IN, K, P> KeyedBroadcastProcessOperator<IN, K, P>
where
    K: Hash + Eq + Clone + Serialize + Send + 'static,
{
    fn fire<B, OUT>(
        &mut self,
        time: Timestamp,
        key: K,
        domain: TimeDomain,
        out: &mut Output<OUT>,
    ) -> UserResult
    where
        OUT: Send + 'static,
        P: KeyedBroadcastProcessFunction<K, IN, B, OUT>,
    {
        let key_group = assign_to_key_group(&key, self.max_parallelism);
        let now = self.time.now();
        let timestamp = (domain == TimeDomain::EventTime).then_some(time);
        let scope = KeyedStateScope::new(
            &mut self.backend as &mut dyn StateBackend,
            key_group,
            &key,
            &(),
            now,
        )?;
        let mut ctx = KeyedContext::new(
            &key,
            timestamp,
            self.watermark,
            now,
            &mut self.timers,
            scope,
            &mut out.sides,
            Some(domain),
        );
        let mut collector = Collector::new(&mut out.records, timestamp);
        self.function
            .on_timer(time, &mut ctx, &self.states, &mut collector)
    }

    fn schedule(&mut self) {
        if let Some(earliest) = self.timers.processing_time.earliest() {
            self.time.wake_at(earliest);
        }
    }
}

impl<IN, K, B, OUT, P> TwoInputOperator<IN, B, OUT> for KeyedBroadcastProcessOperator<IN, K, P>
where
    IN: Send + 'static,
    B: Send + 'static,
    OUT: Send + 'static,
    K: Hash + Eq + Clone + Serialize + Send + 'static,
    P: KeyedBroadcastProcessFunction<K, IN, B, OUT>,
{
    fn open(&mut self, ctx: &OperatorContext) -> UserResult {
        self.max_parallelism = ctx.max_parallelism;
        self.backend = HeapStateBackend::new(ctx.max_parallelism);
        self.time = ctx.processing_time.clone();
        Ok(())
    }

    fn process_batch1(&mut self, batch: &mut Vec<Record<IN>>, out: &mut Output<OUT>) -> UserResult {
        let now = self.time.now();
        for record in batch.drain(..) {
            let key = (self.key_selector)(&record.value);
            let key_group = assign_to_key_group(&key, self.max_parallelism);
            let scope = KeyedStateScope::new(
                &mut self.backend as &mut dyn StateBackend,
                key_group,
                &key,
                &(),
                now,
            )?;
            let mut ctx = KeyedContext::new(
                &key,
                record.timestamp,
                self.watermark,
                now,
                &mut self.timers,
                scope,
                &mut out.sides,
                None,
            );
            let mut collector = Collector::new(&mut out.records, record.timestamp);
            self.function
                .process_element(record.value, &mut ctx, &self.states, &mut collector)?;
        }
        self.schedule();
        Ok(())
    }

    fn process_batch2(&mut self, batch: &mut Vec<Record<B>>, out: &mut Output<OUT>) -> UserResult {
        for record in batch.drain(..) {
            let mut collector = Collector::new(&mut out.records, record.timestamp);
            self.function.process_broadcast_element(
                record.value,
                &mut self.states,
                &mut collector,
            )?;
        }
        Ok(())
    }

    fn process_watermark(
        &mut self,
        watermark: Watermark,
        out: &mut Output<OUT>,
    ) -> UserResult<Option<Watermark>> {
        self.watermark = self.watermark.max(watermark.0);
        while let Some((time, key, ())) = self.timers.event_time.pop_due(self.watermark) {
            self.fire::<B, OUT>(time, key, TimeDomain::EventTime, out)?;
        }
        self.schedule();
        Ok(Some(watermark))
    }

    fn on_processing_time(&mut self, now: ProcessingTime, out: &mut Output<OUT>) -> UserResult {
        while let Some((time, key, ())) = self.timers.processing_time.pop_due(now) {
            self.fire::<B, OUT>(time, key, TimeDomain::ProcessingTime, out)?;
        }
        self.schedule();
        Ok(())
    }
}
