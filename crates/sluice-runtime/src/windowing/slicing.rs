//! Sliding event-time windows by slices: with an aggregate function, each element updates one
//! accumulator per key and *slice* (the greatest common divisor of size and slide), and a
//! firing window merges the accumulators of its slices. An element of a 10 s / 2 s sliding
//! window then costs one accumulator update instead of five.
//!
//! Observable behaviour is exactly the window operator's with the event-time trigger: the same
//! windows fire at the same watermarks with the same contents, late elements inside the
//! allowed lateness fire their windows again, elements late for all their windows go to the
//! late output, and state is dropped once no window can use it.

use std::collections::BTreeMap;
use std::hash::Hash;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sluice_core::{AggregateFunction, Record, Timestamp, UserResult, Watermark};
use sluice_state::{HeapStateBackend, HeapTable, KeyedTable, OperatorSnapshot, StateBackend};

use super::functions::{Elements, ProcessWindowFunction};
use super::operator::with_function_context;
use super::window::{TimeWindow, Window};
use crate::operator::{OneInputOperator, OperatorContext};
use crate::output::{Output, OutputTag};
use crate::processing_time::{ProcessingTime, ProcessingTimeService};

/// The name the slices are snapshotted under.
const SLICES_STATE: &str = "window-slices";

/// The shape of sliding windows: size, slide and offset in ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlidingShape {
    /// Window size.
    pub size: i64,
    /// Window slide.
    pub slide: i64,
    /// Window start offset.
    pub offset: i64,
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a.abs().max(1)
    } else {
        gcd(b, a % b)
    }
}

/// One key's slice accumulators, and the windows that have timers: (start, whether the timer
/// at its end is still pending). A key has a handful of live slices and windows (size / slide
/// plus the lateness), so sorted vectors beat trees here.
#[derive(Serialize, Deserialize)]
struct KeySlices<ACC> {
    slices: Vec<(Timestamp, ACC)>,
    windows: Vec<(i64, bool)>,
}

impl<ACC> Default for KeySlices<ACC> {
    fn default() -> Self {
        KeySlices {
            slices: Vec::new(),
            windows: Vec::new(),
        }
    }
}

/// Sliding windows aggregated by slices.
pub struct SlicingWindowOperator<T, K, ACC, R, A, P, W> {
    key_selector: Arc<dyn Fn(&T) -> K + Send + Sync>,
    shape: SlidingShape,
    slice: i64,
    allowed_lateness: i64,
    late_tag: Option<OutputTag<T>>,
    aggregate: A,
    function: P,
    keys: Box<dyn KeyedTable<K, KeySlices<ACC>>>,
    /// Window-end (fire) and cleanup timers by time: (key, window start). Each window
    /// registers once (see `KeySlices::windows`), so no deduplication is needed here, and many
    /// keys share one time.
    timers: BTreeMap<Timestamp, Vec<(K, i64)>>,
    /// Reused for the window starts of each element.
    scratch: Vec<i64>,
    watermark: Timestamp,
    time: ProcessingTimeService,
    /// Processing time as of the current batch or watermark.
    now: ProcessingTime,
    /// The process function's keyed state.
    backend: HeapStateBackend,
    max_parallelism: usize,
    _types: std::marker::PhantomData<fn() -> (R, W)>,
}

impl<T, K, ACC, R, A, P, W> SlicingWindowOperator<T, K, ACC, R, A, P, W>
where
    K: Hash + Eq + Clone + Send + Serialize + DeserializeOwned + 'static,
    ACC: Send + Serialize + DeserializeOwned + 'static,
{
    /// An operator for windows of `shape`.
    pub fn new(
        key_selector: Arc<dyn Fn(&T) -> K + Send + Sync>,
        shape: SlidingShape,
        allowed_lateness: i64,
        late_tag: Option<OutputTag<T>>,
        aggregate: A,
        function: P,
    ) -> Self {
        SlicingWindowOperator {
            key_selector,
            shape,
            slice: gcd(shape.size, shape.slide),
            allowed_lateness,
            late_tag,
            aggregate,
            function,
            keys: Box::new(HeapTable::new(
                SLICES_STATE,
                sluice_core::DEFAULT_MAX_PARALLELISM,
            )),
            timers: BTreeMap::new(),
            scratch: Vec::new(),
            watermark: Timestamp::MIN,
            time: ProcessingTimeService::default(),
            now: 0,
            backend: HeapStateBackend::new(sluice_core::DEFAULT_MAX_PARALLELISM),
            max_parallelism: sluice_core::DEFAULT_MAX_PARALLELISM,
            _types: std::marker::PhantomData,
        }
    }

    fn window(&self, start: i64) -> TimeWindow {
        TimeWindow::new(start, start.wrapping_add(self.shape.size))
    }

    /// Flink's cleanup time: end + lateness, or never when that overflows.
    fn cleanup_time(&self, window: &TimeWindow) -> Timestamp {
        let cleanup = window.max_timestamp().wrapping_add(self.allowed_lateness);
        if cleanup >= window.max_timestamp() {
            cleanup
        } else {
            Timestamp::MAX
        }
    }

    /// Fills `live` with the starts of the windows holding `timestamp` (as the sliding assigner
    /// computes them) that are not yet cleaned up.
    fn live_window_starts(&self, timestamp: Timestamp, live: &mut Vec<i64>) {
        live.clear();
        let last = TimeWindow::start_with_offset(timestamp, self.shape.offset, self.shape.slide);
        let lower = timestamp.wrapping_sub(self.shape.size);
        let mut start = last;
        let mut count = 0;
        while start > lower && count <= self.shape.size / self.shape.slide {
            if self.cleanup_time(&self.window(start)) > self.watermark {
                live.push(start);
            }
            count += 1;
            start = start.wrapping_sub(self.shape.slide);
        }
    }
}

impl<T, K, ACC, R, A, P, W> SlicingWindowOperator<T, K, ACC, R, A, P, W>
where
    K: Hash + Eq + Clone + Send + Serialize + DeserializeOwned + 'static,
    ACC: Clone + Send + Serialize + DeserializeOwned + 'static,
    A: AggregateFunction<T, ACC, R>,
    W: Window,
{
    /// Emits window `start` of a key: its slices merged, through the process function.
    fn fire<O>(
        &mut self,
        key: &K,
        state: &KeySlices<ACC>,
        start: i64,
        out: &mut Output<O>,
    ) -> UserResult
    where
        P: ProcessWindowFunction<R, O, K, W>,
    {
        let window = self.window(start);
        let typed = W::from_bounds(window.start, window.end)
            .ok_or("sliding windows by slices need time windows")?;
        let merged = state
            .slices
            .iter()
            .filter(|(start, _)| *start >= window.start && *start < window.end)
            .map(|(_, acc)| acc.clone())
            .reduce(|a, b| self.aggregate.merge(a, b));
        let Some(accumulator) = merged else {
            return Ok(());
        };
        let result = self.aggregate.get_result(&accumulator);
        let function = &mut self.function;
        with_function_context(
            &mut self.backend,
            self.max_parallelism,
            key,
            &typed,
            self.watermark,
            self.now,
            |ctx| {
                let mut collector = out.collector(Some(window.max_timestamp()));
                function.process(key, ctx, Elements::one(&result), &mut collector)
            },
        )
    }

    /// Drops window `start` of a key, cleaned up at `time`, and the slices no later window
    /// needs (timers fire in time order, so windows cleaned later keep their slices).
    fn prune<O>(
        &mut self,
        key: &K,
        state: &mut KeySlices<ACC>,
        start: i64,
        time: Timestamp,
    ) -> UserResult
    where
        P: ProcessWindowFunction<R, O, K, W>,
    {
        state.windows.retain(|(w, _)| *w != start);
        let (size, slide, offset, lateness) = (
            self.shape.size,
            self.shape.slide,
            self.shape.offset,
            self.allowed_lateness,
        );
        state.slices.retain(|(slice_start, _)| {
            // The last window holding this slice starts at the latest start <= the slice.
            let last_start = TimeWindow::start_with_offset(*slice_start, offset, slide);
            let max = last_start.wrapping_add(size).wrapping_sub(1);
            let cleanup = max.wrapping_add(lateness);
            let cleanup = if cleanup >= max {
                cleanup
            } else {
                Timestamp::MAX
            };
            cleanup > time
        });
        let window = self.window(start);
        let typed = W::from_bounds(window.start, window.end)
            .ok_or("sliding windows by slices need time windows")?;
        let function = &mut self.function;
        with_function_context(
            &mut self.backend,
            self.max_parallelism,
            key,
            &typed,
            self.watermark,
            self.now,
            |ctx| function.clear(key, ctx),
        )
    }

    /// Queues the timers of window `start`: its end (when `end_pending`) and its cleanup.
    fn queue_timers(&mut self, key: &K, start: i64, end_pending: bool) {
        let max = start.wrapping_add(self.shape.size).wrapping_sub(1);
        if end_pending {
            self.timers
                .entry(max)
                .or_default()
                .push((key.clone(), start));
        }
        let cleanup = max.wrapping_add(self.allowed_lateness);
        if cleanup > max && cleanup != Timestamp::MAX {
            self.timers
                .entry(cleanup)
                .or_default()
                .push((key.clone(), start));
        }
    }

    fn add<O>(
        &mut self,
        key: &K,
        state: &mut KeySlices<ACC>,
        live: &[i64],
        timestamp: Timestamp,
        value: T,
        out: &mut Output<O>,
    ) -> UserResult
    where
        P: ProcessWindowFunction<R, O, K, W>,
    {
        let slice_start = TimeWindow::start_with_offset(timestamp, self.shape.offset, self.slice);
        let position = match state.slices.binary_search_by_key(&slice_start, |(s, _)| *s) {
            Ok(position) => position,
            Err(position) => {
                let fresh = self.aggregate.create_accumulator();
                state.slices.insert(position, (slice_start, fresh));
                position
            }
        };
        self.aggregate.add(&mut state.slices[position].1, value);
        let mut fire_now = Vec::new();
        for &start in live {
            let max = start.wrapping_add(self.shape.size).wrapping_sub(1);
            if max <= self.watermark {
                fire_now.push(start);
            }
            // A window's timers are registered once, with its first element.
            if !state.windows.iter().any(|(w, _)| *w == start) {
                let end_pending = max > self.watermark;
                state.windows.push((start, end_pending));
                self.queue_timers(key, start, end_pending);
            }
        }
        for start in fire_now {
            self.fire(key, state, start, out)?;
        }
        Ok(())
    }
}

impl<T, K, ACC, R, O, A, P, W> OneInputOperator<T, O>
    for SlicingWindowOperator<T, K, ACC, R, A, P, W>
where
    W: Window,
    T: Send + 'static,
    K: Hash + Eq + Clone + Send + Serialize + DeserializeOwned + 'static,
    ACC: Clone + Send + Serialize + DeserializeOwned + 'static,
    R: 'static,
    O: Send + 'static,
    A: AggregateFunction<T, ACC, R>,
    P: ProcessWindowFunction<R, O, K, W>,
{
    fn open(&mut self, ctx: &OperatorContext) -> UserResult {
        self.time = ctx.processing_time.clone();
        self.max_parallelism = ctx.max_parallelism;
        self.backend = HeapStateBackend::new(ctx.max_parallelism);
        self.keys = Box::new(HeapTable::new(SLICES_STATE, ctx.max_parallelism));
        Ok(())
    }

    fn process_batch(&mut self, batch: &mut Vec<Record<T>>, out: &mut Output<O>) -> UserResult {
        self.now = self.time.now();
        for record in batch.drain(..) {
            let Some(timestamp) = record.timestamp.filter(|t| *t != Timestamp::MIN) else {
                return Err("record has no timestamp but sliding event-time windows need one: assign timestamps and watermarks first".into());
            };
            let mut live = std::mem::take(&mut self.scratch);
            self.live_window_starts(timestamp, &mut live);
            if live.is_empty() {
                self.scratch = live;
                if timestamp.wrapping_add(self.allowed_lateness) <= self.watermark
                    && let Some(tag) = &self.late_tag
                {
                    out.sides.emit(tag, record);
                }
                continue;
            }
            let key = (self.key_selector)(&record.value);
            let mut state = self.keys.take(&key)?.unwrap_or_default();
            let result = self.add(&key, &mut state, &live, timestamp, record.value, out);
            self.scratch = live;
            self.keys.put(key, state)?;
            result?;
        }
        Ok(())
    }

    fn process_watermark(
        &mut self,
        watermark: Watermark,
        out: &mut Output<O>,
    ) -> UserResult<Option<Watermark>> {
        self.now = self.time.now();
        self.watermark = self.watermark.max(watermark.0);
        while let Some(entry) = self.timers.first_entry() {
            if *entry.key() > self.watermark {
                break;
            }
            let (time, due) = entry.remove_entry();
            for (key, start) in due {
                let Some(mut state) = self.keys.take(&key)? else {
                    continue;
                };
                let max = start.wrapping_add(self.shape.size).wrapping_sub(1);
                let mut result = Ok(());
                if time == max {
                    if let Some(window) = state.windows.iter_mut().find(|(w, _)| *w == start) {
                        window.1 = false;
                    }
                    result = self.fire(&key, &state, start, out);
                }
                if result.is_ok() && time == self.cleanup_time(&self.window(start)) {
                    result = self.prune::<O>(&key, &mut state, start, time);
                }
                let empty = state.slices.is_empty() && state.windows.is_empty();
                self.keys.put_back(key, state, empty)?;
                result?;
            }
        }
        Ok(Some(watermark))
    }

    /// Every key's slices and windows, and the process function's state.
    fn snapshot_state(&mut self, snapshot: &mut OperatorSnapshot) -> UserResult {
        self.keys.snapshot(&mut snapshot.keyed)?;
        self.backend.snapshot(&mut snapshot.keyed);
        Ok(())
    }

    /// Loads this subtask's slices and requeues their windows' timers.
    fn restore_state(&mut self, restored: &OperatorSnapshot) -> UserResult {
        let mut due = Vec::new();
        self.keys.restore(&restored.keyed, &mut |key, state| {
            for (start, end_pending) in &state.windows {
                due.push((key.clone(), *start, *end_pending));
            }
        })?;
        for (key, start, end_pending) in due {
            self.queue_timers(&key, start, end_pending);
        }
        self.backend
            .restore_where(&restored.keyed, &|name| name != SLICES_STATE);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_are_the_gcd_of_size_and_slide() {
        assert_eq!(gcd(10_000, 2_000), 2_000);
        assert_eq!(gcd(10, 3), 1);
        assert_eq!(gcd(300, 200), 100);
    }

    use std::time::Duration;

    use proptest::prelude::*;
    use sluice_core::key_group::assign_to_key_group;

    use super::super::test_support::{Event, inputs, late_tag, run};
    use crate::harness::{run_uninterrupted, run_with_restore};
    use crate::output::Collector;
    use crate::windowing::{
        AggregatingWindowFunction, EventTimeTrigger, SlidingWindows, WindowContext, WindowOperator,
    };

    /// Collects the values of a window as a sorted list.
    #[derive(Clone)]
    struct Values;

    impl AggregateFunction<Event, Vec<i64>, Vec<i64>> for Values {
        fn create_accumulator(&self) -> Vec<i64> {
            Vec::new()
        }
        fn add(&self, accumulator: &mut Vec<i64>, value: Event) {
            accumulator.push(value.1);
        }
        fn get_result(&self, accumulator: &Vec<i64>) -> Vec<i64> {
            let mut values = accumulator.clone();
            values.sort_unstable();
            values
        }
        fn merge(&self, mut a: Vec<i64>, b: Vec<i64>) -> Vec<i64> {
            a.extend(b);
            a
        }
    }

    type Describe = fn(
        &u8,
        &mut WindowContext<'_, TimeWindow>,
        Elements<'_, Vec<i64>>,
        &mut Collector<'_, String>,
    ) -> UserResult;

    fn describe(
        key: &u8,
        ctx: &mut WindowContext<'_, TimeWindow>,
        mut elements: Elements<'_, Vec<i64>>,
        out: &mut Collector<'_, String>,
    ) -> UserResult {
        let w = ctx.window();
        let values = elements.next().cloned().unwrap_or_default();
        out.collect(format!("{key}@{}..{}:{values:?}", w.start, w.end));
        Ok(())
    }

    fn sliced(
        lateness: i64,
    ) -> SlicingWindowOperator<Event, u8, Vec<i64>, Vec<i64>, Values, Describe, TimeWindow> {
        let shape = SlidingShape {
            size: 30,
            slide: 10,
            offset: 0,
        };
        SlicingWindowOperator::new(
            Arc::new(|e: &Event| e.0),
            shape,
            lateness,
            Some(late_tag()),
            Values,
            describe as Describe,
        )
    }

    proptest! {
        /// Slicing behaves exactly as the general window operator with sliding windows and the
        /// event-time trigger: same firings, same late elements.
        #[test]
        fn equals_the_general_window_operator(
            inputs in inputs(),
            lateness in prop::sample::select(vec![0i64, 5, 40]),
        ) {
            let general = WindowOperator::new(
                Arc::new(|e: &Event| e.0),
                Arc::new(SlidingWindows::event_time(Duration::from_millis(30), Duration::from_millis(10))),
                Arc::new(EventTimeTrigger),
                lateness,
                Some(late_tag()),
                AggregatingWindowFunction::new(Values, describe as Describe),
            );
            let expected = run(general, &inputs);
            prop_assert_eq!(run(sliced(lateness), &inputs), expected);
        }

        /// A snapshot restored at any parallelism continues with the same results.
        #[test]
        fn restores_at_any_parallelism_with_the_same_results(
            inputs in inputs(),
            split in 0usize..100,
            parallelism in 1usize..4,
        ) {
            let key_group = |e: &Event| assign_to_key_group(&e.0, sluice_core::DEFAULT_MAX_PARALLELISM);
            let make = || sliced(20);
            let expected = run_uninterrupted(make, &inputs);
            let (before, after) = inputs.split_at(split.min(inputs.len()));
            prop_assert_eq!(run_with_restore(make, before, after, parallelism, key_group), expected);
        }
    }
}
