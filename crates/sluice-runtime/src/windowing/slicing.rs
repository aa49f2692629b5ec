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

use rustc_hash::FxHashMap;
use sluice_core::{AggregateFunction, Record, Timestamp, UserResult, Watermark};

use super::functions::{Elements, ProcessWindowFunction, WindowContext};
use super::window::{TimeWindow, Window};
use crate::operator::OneInputOperator;
use crate::output::{Output, OutputTag};

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

/// One key's slice accumulators, and the windows that have timers.
/// A key has a handful of live slices and windows (size / slide plus the lateness), so sorted
/// vectors beat trees here.
struct KeySlices<ACC> {
    slices: Vec<(Timestamp, ACC)>,
    windows: Vec<i64>,
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
    keys: FxHashMap<K, KeySlices<ACC>>,
    /// Window-end (fire) and cleanup timers by time: (key, window start). Each window
    /// registers once (see `KeySlices::windows`), so no deduplication is needed here, and many
    /// keys share one time.
    timers: BTreeMap<Timestamp, Vec<(K, i64)>>,
    watermark: Timestamp,
    _types: std::marker::PhantomData<fn() -> (R, W)>,
}

impl<T, K, ACC, R, A, P, W> SlicingWindowOperator<T, K, ACC, R, A, P, W> {
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
            keys: FxHashMap::default(),
            timers: BTreeMap::new(),
            watermark: Timestamp::MIN,
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

    /// The starts of the windows holding `timestamp`, as the sliding assigner computes them.
    fn window_starts(&self, timestamp: Timestamp) -> Vec<i64> {
        let last = TimeWindow::start_with_offset(timestamp, self.shape.offset, self.shape.slide);
        let lower = timestamp.wrapping_sub(self.shape.size);
        let mut starts = Vec::new();
        let mut start = last;
        while start > lower && starts.len() as i64 <= self.shape.size / self.shape.slide {
            starts.push(start);
            start = start.wrapping_sub(self.shape.slide);
        }
        starts
    }
}

impl<T, K, ACC, R, A, P, W> SlicingWindowOperator<T, K, ACC, R, A, P, W>
where
    K: Hash + Eq + Clone,
    ACC: Clone,
    A: AggregateFunction<T, ACC, R>,
    W: Window,
{
    /// Emits window `start` of `key`: its slices merged, through the process function.
    fn fire<O>(&mut self, key: &K, start: i64, out: &mut Output<O>) -> UserResult
    where
        P: ProcessWindowFunction<R, O, K, W>,
    {
        let window = self.window(start);
        let Some(typed) = W::from_bounds(window.start, window.end) else {
            return Err("sliding windows by slices need time windows".into());
        };
        let Some(state) = self.keys.get(key) else {
            return Ok(());
        };
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
        let mut ctx = WindowContext::new(&typed, self.watermark, 0);
        let mut collector = out.collector(Some(window.max_timestamp()));
        self.function
            .process(key, &mut ctx, Elements::one(&result), &mut collector)
    }

    /// Drops the slices of `key` whose last window is cleaned up by time `time` (timers fire in
    /// time order, so windows cleaned later keep their slices).
    fn prune(&mut self, key: &K, start: i64, time: Timestamp) {
        let Some(state) = self.keys.get_mut(key) else {
            return;
        };
        state.windows.retain(|w| *w != start);
        let slices = &mut state.slices;
        let (size, slide, offset, lateness) = (
            self.shape.size,
            self.shape.slide,
            self.shape.offset,
            self.allowed_lateness,
        );
        slices.retain(|(slice_start, _)| {
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
        if state.slices.is_empty() && state.windows.is_empty() {
            self.keys.remove(key);
        }
    }
}

impl<T, K, ACC, R, O, A, P, W> OneInputOperator<T, O>
    for SlicingWindowOperator<T, K, ACC, R, A, P, W>
where
    W: Window,
    T: Send + 'static,
    K: Hash + Eq + Clone + Send + 'static,
    ACC: Clone + Send + 'static,
    R: 'static,
    O: Send + 'static,
    A: AggregateFunction<T, ACC, R>,
    P: ProcessWindowFunction<R, O, K, W>,
{
    fn process_batch(&mut self, batch: &mut Vec<Record<T>>, out: &mut Output<O>) -> UserResult {
        for record in batch.drain(..) {
            let Some(timestamp) = record.timestamp.filter(|t| *t != Timestamp::MIN) else {
                return Err("record has no timestamp but sliding event-time windows need one: assign timestamps and watermarks first".into());
            };
            let key = (self.key_selector)(&record.value);
            let live: Vec<i64> = self
                .window_starts(timestamp)
                .into_iter()
                .filter(|start| self.cleanup_time(&self.window(*start)) > self.watermark)
                .collect();
            if live.is_empty() {
                if timestamp.wrapping_add(self.allowed_lateness) <= self.watermark
                    && let Some(tag) = &self.late_tag
                {
                    out.sides.emit(tag, record);
                }
                continue;
            }
            let slice_start =
                TimeWindow::start_with_offset(timestamp, self.shape.offset, self.slice);
            let state = self.keys.entry(key.clone()).or_default();
            let position = match state.slices.binary_search_by_key(&slice_start, |(s, _)| *s) {
                Ok(position) => position,
                Err(position) => {
                    let fresh = self.aggregate.create_accumulator();
                    state.slices.insert(position, (slice_start, fresh));
                    position
                }
            };
            self.aggregate
                .add(&mut state.slices[position].1, record.value);
            let mut fire_now = Vec::new();
            for start in live {
                let max = start.wrapping_add(self.shape.size).wrapping_sub(1);
                if max <= self.watermark {
                    fire_now.push(start);
                }
                // A window's timers are registered once, with its first element.
                if !state.windows.contains(&start) {
                    state.windows.push(start);
                    if max > self.watermark {
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
            }
            for start in fire_now {
                self.fire(&key, start, out)?;
            }
        }
        Ok(())
    }

    fn process_watermark(
        &mut self,
        watermark: Watermark,
        out: &mut Output<O>,
    ) -> UserResult<Option<Watermark>> {
        self.watermark = self.watermark.max(watermark.0);
        while let Some(entry) = self.timers.first_entry() {
            if *entry.key() > self.watermark {
                break;
            }
            let (time, due) = entry.remove_entry();
            for (key, start) in due {
                let max = start.wrapping_add(self.shape.size).wrapping_sub(1);
                if time == max {
                    self.fire(&key, start, out)?;
                }
                if time == self.cleanup_time(&self.window(start)) {
                    self.prune(&key, start, time);
                }
            }
        }
        Ok(Some(watermark))
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
}
