//! `WindowedStream`: a keyed stream cut into windows, and the functions that turn each
//! window into results (`reduce`, `aggregate`, `process`, and incremental + process).
//!
//! ```
//! use std::time::Duration;
//! use sluice_api::prelude::*;
//! use sluice_runtime::time::watermarks::WatermarkStrategy;
//! use sluice_runtime::windowing::TumblingWindows;
//!
//! let env = StreamExecutionEnvironment::new();
//! let sums = env
//!     .from_collection(vec![("a".to_string(), 1i64), ("a".into(), 5), ("a".into(), 12)])
//!     .assign_timestamps_and_watermarks(
//!         WatermarkStrategy::for_monotonous_timestamps().with_timestamp_assigner(|e: &(String, i64), _| e.1),
//!     )
//!     .key_by(|e: &(String, i64)| e.0.clone())
//!     .window(TumblingWindows::event_time(Duration::from_millis(10)))
//!     .reduce(|a: (String, i64), b: (String, i64)| (a.0, a.1 + b.1))
//!     .execute_and_collect("tumbling sums")
//!     .unwrap();
//! assert_eq!(sums, vec![("a".to_string(), 6), ("a".to_string(), 12)]);
//! ```

use std::sync::Arc;
use std::time::Duration;

use sluice_core::{KeyData, StreamData};
use sluice_runtime::task::output::{Collector, OutputTag};
use sluice_runtime::windowing::{
    AggregateFunction, AggregatingWindowFunction, BufferedWindowFunction, CountEvictor,
    CountTrigger, Elements, Evictor, GlobalWindow, GlobalWindows, InternalWindowFunction, Lateness,
    ProcessWindowFunction, PurgingTrigger, SessionWindowOperator, SlicingWindowOperator, Trigger,
    Window, WindowAssigner, WindowContext, WindowOperator,
};

use crate::datastream::DataStream;
use crate::keyed_stream::KeyedStream;
use crate::settings::OperatorSettings;

/// A keyed stream cut into windows; Flink's `WindowedStream`.
pub struct WindowedStream<T, K, W> {
    keyed: KeyedStream<T, K>,
    assigner: Arc<dyn WindowAssigner<T, W>>,
    trigger: Option<Arc<dyn Trigger<T, W>>>,
    evictor: Option<Arc<dyn Evictor<T, W>>>,
    lateness: Lateness<T>,
    non_parallel: bool,
}

impl<T: StreamData, K: KeyData> KeyedStream<T, K> {
    /// Cuts each key's records into the windows `assigner` chooses.
    pub fn window<W: Window, A: WindowAssigner<T, W>>(
        self,
        assigner: A,
    ) -> WindowedStream<T, K, W> {
        if let Err(error) = assigner.validate() {
            self.as_stream()
                .environment()
                .report(format!("window: {error}"));
        }
        WindowedStream {
            keyed: self,
            assigner: Arc::new(assigner),
            trigger: None,
            evictor: None,
            lateness: Lateness::default(),
            non_parallel: false,
        }
    }

    /// Windows of `size` elements per key, fired and purged when full (Flink's `countWindow`).
    pub fn count_window(self, size: u64) -> WindowedStream<T, K, GlobalWindow> {
        self.window(GlobalWindows)
            .trigger(PurgingTrigger::of(CountTrigger::of(size)))
    }

    /// Windows of the last `size` elements per key, fired every `slide` elements.
    pub fn count_window_sliding(self, size: u64, slide: u64) -> WindowedStream<T, K, GlobalWindow> {
        self.window(GlobalWindows)
            .evictor(CountEvictor::of(
                usize::try_from(size).unwrap_or(usize::MAX),
            ))
            .trigger(CountTrigger::of(slide))
    }
}

impl<T: StreamData> DataStream<T> {
    /// Cuts the whole (non-keyed) stream into windows; the window operator runs with
    /// parallelism 1, as Flink's `windowAll`.
    pub fn window_all<W: Window, A: WindowAssigner<T, W>>(
        self,
        assigner: A,
    ) -> WindowedStream<T, (), W> {
        let mut windowed = self.key_by(|_: &T| ()).window(assigner);
        windowed.non_parallel = true;
        windowed
    }

    /// Windows of `size` elements of the whole stream, fired and purged when full (Flink's
    /// `countWindowAll`); non-parallel.
    pub fn count_window_all(self, size: u64) -> WindowedStream<T, (), GlobalWindow> {
        self.window_all(GlobalWindows)
            .trigger(PurgingTrigger::of(CountTrigger::of(size)))
    }
}

/// Makes the window operator of `window_all` non-parallel.
fn limit_parallelism<O>(stream: DataStream<O>, non_parallel: bool) -> DataStream<O> {
    if non_parallel {
        let (env, node) = stream.operator_node();
        if let Some(node) = node {
            env.node_settings(node, |n| n.max_supported_parallelism = Some(1));
        }
    }
    stream
}

/// `reduce` as an aggregate: the accumulator is the reduced value so far.
struct ReduceAggregate<F>(F);

impl<T, F> AggregateFunction<T, Option<T>, Option<T>> for ReduceAggregate<F>
where
    T: Clone,
    F: Fn(T, T) -> T + Send + Sync + 'static,
{
    fn create_accumulator(&self) -> Option<T> {
        None
    }

    fn add(&self, accumulator: &mut Option<T>, value: T) {
        *accumulator = Some(match accumulator.take() {
            Some(reduced) => (self.0)(reduced, value),
            None => value,
        });
    }

    fn get_result(&self, accumulator: &Option<T>) -> Option<T> {
        accumulator.clone()
    }

    fn merge(&self, a: Option<T>, b: Option<T>) -> Option<T> {
        match (a, b) {
            (Some(a), Some(b)) => Some((self.0)(a, b)),
            (a, b) => a.or(b),
        }
    }
}

impl<T: StreamData, K: KeyData, W: Window> WindowedStream<T, K, W> {
    /// Replaces the assigner's default trigger.
    pub fn trigger(mut self, trigger: impl Trigger<T, W> + 'static) -> Self {
        self.trigger = Some(Arc::new(trigger));
        self
    }

    /// Removes elements from a firing window before or after its function runs.
    pub fn evictor(mut self, evictor: impl Evictor<T, W> + 'static) -> Self {
        self.evictor = Some(Arc::new(evictor));
        self
    }

    /// Keeps windows this long after the watermark passed their end: late elements within it
    /// fire the window again with the updated contents.
    pub fn allowed_lateness(mut self, lateness: Duration) -> Self {
        self.lateness.allowed = i64::try_from(lateness.as_millis()).unwrap_or(i64::MAX);
        self
    }

    /// Sends elements too late for all their windows to the side output `tag` (use
    /// `get_side_output` on the result).
    pub fn side_output_late_data(mut self, tag: &OutputTag<T>) -> Self {
        self.lateness.side_output = Some(tag.clone());
        self
    }

    fn build<O, F>(self, make_function: impl Fn() -> F + Send + Sync + 'static) -> DataStream<O>
    where
        O: StreamData,
        F: InternalWindowFunction<In = T, Key = K, Window = W, Out = O>,
    {
        let key_selector = self.keyed.key_selector();
        let assigner = self.assigner;
        let session_gap = assigner
            .session_gap()
            .filter(|_| self.trigger.is_none() && self.evictor.is_none());
        let trigger = self.trigger.unwrap_or_else(|| assigner.default_trigger());
        if assigner.is_merging() && !trigger.can_merge() {
            self.keyed
                .as_stream()
                .environment()
                .report("window: the trigger does not support merging windows (session windows)");
        }
        let lateness = self.lateness;
        if let Some(gap) = session_gap {
            // Event-time sessions with the default trigger: the dedicated session operator.
            let stream = self
                .keyed
                .as_stream()
                .transform("Window", "Window", move || {
                    SessionWindowOperator::new(
                        Arc::clone(&key_selector),
                        gap,
                        lateness.clone(),
                        make_function(),
                    )
                });
            return limit_parallelism(stream, self.non_parallel);
        }
        let stream = self
            .keyed
            .as_stream()
            .transform("Window", "Window", move || {
                WindowOperator::new(
                    Arc::clone(&key_selector),
                    Arc::clone(&assigner),
                    Arc::clone(&trigger),
                    lateness.clone(),
                    make_function(),
                )
            });
        limit_parallelism(stream, self.non_parallel)
    }

    /// Emits what `function` makes of each firing window's elements.
    pub fn process<O, P>(self, function: P) -> DataStream<O>
    where
        O: StreamData,
        P: ProcessWindowFunction<T, O, K, W> + Clone + Sync,
    {
        let evictor = self.evictor.clone();
        self.build(move || BufferedWindowFunction::new(function.clone(), evictor.clone()))
    }

    /// Folds each window incrementally with `aggregate` and emits its result.
    pub fn aggregate<A, ACC, R>(self, aggregate: A) -> DataStream<R>
    where
        A: AggregateFunction<T, ACC, R> + Clone,
        ACC: StreamData,
        R: StreamData,
    {
        self.aggregate_with_process(aggregate, emit_each::<R, K, W>)
    }

    /// Folds each window incrementally with `aggregate`, then hands the single result to
    /// `function` with the window's metadata.
    pub fn aggregate_with_process<A, ACC, R, O, P>(self, aggregate: A, function: P) -> DataStream<O>
    where
        A: AggregateFunction<T, ACC, R> + Clone,
        ACC: StreamData,
        R: StreamData,
        O: StreamData,
        P: ProcessWindowFunction<R, O, K, W> + Clone + Sync,
    {
        let sliced = self
            .assigner
            .sliding_shape()
            .filter(|_| self.evictor.is_none() && self.trigger.is_none());
        if let Some(shape) = sliced {
            // Event-time tumbling or sliding windows with the default trigger: by slices.
            let key_selector = self.keyed.key_selector();
            let lateness = self.lateness;
            let stream = self
                .keyed
                .as_stream()
                .transform("Window", "Window", move || {
                    SlicingWindowOperator::new(
                        Arc::clone(&key_selector),
                        shape,
                        lateness.clone(),
                        AggregatingWindowFunction::new(aggregate.clone(), function.clone()),
                    )
                });
            return limit_parallelism(stream, self.non_parallel);
        }
        match self.evictor.clone() {
            None => self
                .build(move || AggregatingWindowFunction::new(aggregate.clone(), function.clone())),
            Some(evictor) => self.build(move || {
                let (aggregate, mut function) = (aggregate.clone(), function.clone());
                let fold = move |key: &K,
                                 ctx: &mut WindowContext<'_, W>,
                                 elements: Elements<'_, T>,
                                 out: &mut Collector<'_, O>| {
                    let mut accumulator = aggregate.create_accumulator();
                    for element in elements {
                        aggregate.add(&mut accumulator, element.clone());
                    }
                    let result = aggregate.get_result(&accumulator);
                    function.process(key, ctx, Elements::one(&result), out)
                };
                BufferedWindowFunction::new(fold, Some(Arc::clone(&evictor)))
            }),
        }
    }

    /// Combines each window's elements with `reduce(accumulated, new)`, incrementally.
    pub fn reduce<F>(self, reduce: F) -> DataStream<T>
    where
        F: Fn(T, T) -> T + Clone + Send + Sync + 'static,
    {
        self.reduce_with_process(reduce, emit_each::<T, K, W>)
    }

    /// Reduces each window incrementally, then hands the result to `function` with the
    /// window's metadata.
    pub fn reduce_with_process<F, O, P>(self, reduce: F, function: P) -> DataStream<O>
    where
        F: Fn(T, T) -> T + Clone + Send + Sync + 'static,
        O: StreamData,
        P: ProcessWindowFunction<T, O, K, W> + Clone + Sync,
    {
        let flatten = move |key: &K,
                            ctx: &mut WindowContext<'_, W>,
                            reduced: Elements<'_, Option<T>>,
                            out: &mut Collector<'_, O>| {
            let values: Vec<&T> = reduced.flatten().collect();
            let mut function = function.clone();
            match values.first() {
                Some(value) => function.process(key, ctx, Elements::one(*value), out),
                None => Ok(()),
            }
        };
        let reduce = ReduceAggregate(reduce);
        self.aggregate_with_process(ReduceAggregateHandle(Arc::new(reduce)), flatten)
    }
}

/// A shareable [`ReduceAggregate`].
struct ReduceAggregateHandle<F>(Arc<ReduceAggregate<F>>);

impl<F> Clone for ReduceAggregateHandle<F> {
    fn clone(&self) -> Self {
        ReduceAggregateHandle(Arc::clone(&self.0))
    }
}

impl<T, F> AggregateFunction<T, Option<T>, Option<T>> for ReduceAggregateHandle<F>
where
    T: Clone,
    F: Fn(T, T) -> T + Send + Sync + 'static,
{
    fn create_accumulator(&self) -> Option<T> {
        self.0.create_accumulator()
    }

    fn add(&self, accumulator: &mut Option<T>, value: T) {
        self.0.add(accumulator, value);
    }

    fn get_result(&self, accumulator: &Option<T>) -> Option<T> {
        self.0.get_result(accumulator)
    }

    fn merge(&self, a: Option<T>, b: Option<T>) -> Option<T> {
        self.0.merge(a, b)
    }
}

/// The process function that emits each element as is.
fn emit_each<R: Clone, K, W>(
    _: &K,
    _: &mut WindowContext<'_, W>,
    elements: Elements<'_, R>,
    out: &mut Collector<'_, R>,
) -> sluice_core::UserResult {
    for element in elements {
        out.collect(element.clone());
    }
    Ok(())
}
