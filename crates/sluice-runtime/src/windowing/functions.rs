//! Window functions: what a firing window emits.
//!
//! A [`ProcessWindowFunction`] sees all of a window's elements with the window's metadata;
//! an [`AggregateFunction`] (and `reduce`, built on it) folds elements incrementally so a
//! window holds one accumulator instead of its elements, optionally followed by a process
//! function that sees the single result. Internally both are an [`InternalWindowFunction`].

use std::marker::PhantomData;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
pub use sluice_core::AggregateFunction;
use sluice_core::{KeyData, Record, Timestamp, UserResult};

use super::evictors::Evictor;
use super::window::Window;
use sluice_state::{KeyedStateScope, StateBackend};

use crate::task::output::Collector;
use crate::time::processing_time::ProcessingTime;

/// What a window function knows about the firing window, and its state.
pub struct WindowContext<'a, W> {
    window: &'a W,
    watermark: Timestamp,
    processing_time: ProcessingTime,
    state: Option<WindowStateAccess<'a>>,
}

/// Keyed state of the firing window's key: per window, and across the key's windows.
pub struct WindowStateAccess<'a> {
    /// The operator's state backend.
    pub backend: &'a mut dyn StateBackend,
    /// The key's key group.
    pub key_group: usize,
    /// Encodes the key and window (`true`, per-window state) or the key alone (`false`):
    /// only when the function asks for state.
    pub prefix: &'a dyn Fn(bool) -> Result<Vec<u8>, sluice_state::StateError>,
}

impl<'a, W> WindowContext<'a, W> {
    /// A context for `window`, without state.
    pub fn new(window: &'a W, watermark: Timestamp, processing_time: ProcessingTime) -> Self {
        WindowContext {
            window,
            watermark,
            processing_time,
            state: None,
        }
    }

    /// Gives the function keyed state.
    pub fn with_state(mut self, state: WindowStateAccess<'a>) -> Self {
        self.state = Some(state);
        self
    }

    fn scope(&mut self, per_window: bool) -> UserResult<KeyedStateScope<'_>> {
        let now = self.processing_time;
        let access = self
            .state
            .as_mut()
            .ok_or("window state is only available to the window functions of keyed windows")?;
        let prefix = (access.prefix)(per_window)?;
        Ok(KeyedStateScope::from_encoded(
            &mut *access.backend,
            access.key_group,
            prefix,
            now,
        ))
    }

    /// State of this key and window (Flink's `windowState()`); clear it in
    /// [`ProcessWindowFunction::clear`].
    pub fn window_state(&mut self) -> UserResult<KeyedStateScope<'_>> {
        self.scope(true)
    }

    /// State of this key across all its windows (Flink's `globalState()`).
    pub fn global_state(&mut self) -> UserResult<KeyedStateScope<'_>> {
        self.scope(false)
    }

    /// The firing window.
    pub fn window(&self) -> &W {
        self.window
    }

    /// The current watermark.
    pub fn current_watermark(&self) -> Timestamp {
        self.watermark
    }

    /// The current processing time.
    pub fn current_processing_time(&self) -> ProcessingTime {
        self.processing_time
    }
}

/// The elements of a firing window, in arrival order.
pub struct Elements<'a, T> {
    inner: ElementsInner<'a, T>,
}

enum ElementsInner<'a, T> {
    Buffered(std::slice::Iter<'a, Record<T>>),
    One(Option<&'a T>),
}

impl<'a, T> Elements<'a, T> {
    /// The elements of a buffer.
    pub fn buffered(records: &'a [Record<T>]) -> Self {
        Elements {
            inner: ElementsInner::Buffered(records.iter()),
        }
    }

    /// A single element (an aggregate's result).
    pub fn one(value: &'a T) -> Self {
        Elements {
            inner: ElementsInner::One(Some(value)),
        }
    }
}

impl<'a, T> Iterator for Elements<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        match &mut self.inner {
            ElementsInner::Buffered(iter) => iter.next().map(|r| &r.value),
            ElementsInner::One(value) => value.take(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.inner {
            ElementsInner::Buffered(iter) => iter.size_hint(),
            ElementsInner::One(value) => (
                usize::from(value.is_some()),
                Some(usize::from(value.is_some())),
            ),
        }
    }
}

impl<T> ExactSizeIterator for Elements<'_, T> {}

/// Flink's `ProcessWindowFunction`: emits results for one key's firing window.
pub trait ProcessWindowFunction<IN, OUT, K, W>: Send + 'static {
    /// Processes the window's elements.
    fn process(
        &mut self,
        key: &K,
        ctx: &mut WindowContext<'_, W>,
        elements: Elements<'_, IN>,
        out: &mut Collector<'_, OUT>,
    ) -> UserResult;

    /// The window is being dropped: clear its per-window state here.
    fn clear(&mut self, _key: &K, _ctx: &mut WindowContext<'_, W>) -> UserResult {
        Ok(())
    }
}

impl<IN, OUT, K, W, F> ProcessWindowFunction<IN, OUT, K, W> for F
where
    F: FnMut(
            &K,
            &mut WindowContext<'_, W>,
            Elements<'_, IN>,
            &mut Collector<'_, OUT>,
        ) -> UserResult
        + Send
        + 'static,
{
    fn process(
        &mut self,
        window_key: &K,
        context: &mut WindowContext<'_, W>,
        contents: Elements<'_, IN>,
        collector: &mut Collector<'_, OUT>,
    ) -> UserResult {
        self(window_key, context, contents, collector)
    }
}

/// The operator-side view of a window function: the types it works on, and how a window's
/// contents are kept and emitted. The window operators are generic over this one type.
pub trait InternalWindowFunction: Send + 'static {
    /// The records windows are built from.
    type In: Send + 'static;
    /// The key of the keyed stream.
    type Key: KeyData;
    /// The window type.
    type Window: Window;
    /// What firing windows emit.
    type Out: Send + 'static;
    /// What a window holds.
    type Contents: Send + Serialize + DeserializeOwned + 'static;

    /// The contents of a new window.
    fn create(&mut self) -> Self::Contents;

    /// Adds a record to a window's contents.
    fn add(&mut self, contents: &mut Self::Contents, record: Record<Self::In>);

    /// Combines the contents of merged windows.
    fn merge(&mut self, target: Self::Contents, source: Self::Contents) -> Self::Contents;

    /// The window is being dropped.
    fn clear(&mut self, key: &Self::Key, ctx: &mut WindowContext<'_, Self::Window>) -> UserResult;

    /// Emits the results for a firing window.
    fn emit(
        &mut self,
        key: &Self::Key,
        ctx: &mut WindowContext<'_, Self::Window>,
        contents: &mut Self::Contents,
        out: &mut Collector<'_, Self::Out>,
    ) -> UserResult;
}

/// Keeps every element and hands them to a process function, after the evictor (if any).
pub struct BufferedWindowFunction<T, K, W, OUT, P> {
    function: P,
    evictor: Option<Arc<dyn Evictor<T, W>>>,
    _types: PhantomData<fn(K) -> OUT>,
}

impl<T, K, W, OUT, P> BufferedWindowFunction<T, K, W, OUT, P> {
    /// Buffers elements for `function`, evicting with `evictor`.
    pub fn new(function: P, evictor: Option<Arc<dyn Evictor<T, W>>>) -> Self {
        BufferedWindowFunction {
            function,
            evictor,
            _types: PhantomData,
        }
    }
}

impl<T, K, W, OUT, P> InternalWindowFunction for BufferedWindowFunction<T, K, W, OUT, P>
where
    T: Send + Serialize + DeserializeOwned + 'static,
    K: KeyData,
    W: Window,
    OUT: Send + 'static,
    P: ProcessWindowFunction<T, OUT, K, W>,
{
    type In = T;
    type Key = K;
    type Window = W;
    type Out = OUT;
    type Contents = Vec<Record<T>>;

    fn clear(&mut self, key: &K, ctx: &mut WindowContext<'_, W>) -> UserResult {
        self.function.clear(key, ctx)
    }

    fn create(&mut self) -> Vec<Record<T>> {
        Vec::new()
    }

    fn add(&mut self, contents: &mut Vec<Record<T>>, record: Record<T>) {
        contents.push(record);
    }

    fn merge(&mut self, mut target: Vec<Record<T>>, mut source: Vec<Record<T>>) -> Vec<Record<T>> {
        target.append(&mut source);
        target
    }

    fn emit(
        &mut self,
        key: &K,
        ctx: &mut WindowContext<'_, W>,
        contents: &mut Vec<Record<T>>,
        out: &mut Collector<'_, OUT>,
    ) -> UserResult {
        if let Some(evictor) = &self.evictor {
            evictor.evict_before(contents, ctx.window());
        }
        self.function
            .process(key, ctx, Elements::buffered(contents), out)?;
        if let Some(evictor) = &self.evictor {
            evictor.evict_after(contents, ctx.window());
        }
        Ok(())
    }
}

/// Folds elements with an aggregate function and hands the result to a process function.
pub struct AggregatingWindowFunction<T, K, W, OUT, A, ACC, R, P> {
    aggregate: A,
    function: P,
    _types: PhantomData<fn(T, K, W) -> OUT>,
    _accumulator: PhantomData<fn() -> (ACC, R)>,
}

impl<T, K, W, OUT, A, ACC, R, P> AggregatingWindowFunction<T, K, W, OUT, A, ACC, R, P> {
    /// Aggregates with `aggregate`, then emits through `function`.
    pub fn new(aggregate: A, function: P) -> Self {
        AggregatingWindowFunction {
            aggregate,
            function,
            _types: PhantomData,
            _accumulator: PhantomData,
        }
    }
}

impl<T, K, W, OUT, A, ACC, R, P> InternalWindowFunction
    for AggregatingWindowFunction<T, K, W, OUT, A, ACC, R, P>
where
    T: Send + 'static,
    A: AggregateFunction<T, ACC, R>,
    ACC: Send + Serialize + DeserializeOwned + 'static,
    R: 'static,
    P: ProcessWindowFunction<R, OUT, K, W>,
    K: KeyData,
    W: Window,
    OUT: Send + 'static,
{
    type In = T;
    type Key = K;
    type Window = W;
    type Out = OUT;
    type Contents = ACC;

    fn clear(&mut self, key: &K, ctx: &mut WindowContext<'_, W>) -> UserResult {
        self.function.clear(key, ctx)
    }

    fn create(&mut self) -> ACC {
        self.aggregate.create_accumulator()
    }

    fn add(&mut self, contents: &mut ACC, record: Record<T>) {
        self.aggregate.add(contents, record.value);
    }

    fn merge(&mut self, target: ACC, source: ACC) -> ACC {
        self.aggregate.merge(target, source)
    }

    fn emit(
        &mut self,
        key: &K,
        ctx: &mut WindowContext<'_, W>,
        contents: &mut ACC,
        out: &mut Collector<'_, OUT>,
    ) -> UserResult {
        let result = self.aggregate.get_result(contents);
        self.function.process(key, ctx, Elements::one(&result), out)
    }
}
