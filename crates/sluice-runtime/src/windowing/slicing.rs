//! Sliding event-time windows by slices: with an aggregate function, each element updates one
//! accumulator per *slice* (the greatest common divisor of size and slide) and key, and a
//! firing window merges the accumulators of its slices. An element of a 10 s / 2 s sliding
//! window then costs one accumulator update instead of five.
//!
//! The accumulators are kept per slice, then per key — as Flink's SQL window aggregation keeps
//! them — so the slice elements go to is a small, hot hash map, and when the watermark passes a
//! window's end every key's result for it comes from one pass over its slices; no per-key
//! timers are needed.
//!
//! Observable behaviour is exactly the window operator's with the event-time trigger: the same
//! windows fire at the same watermarks with the same contents, late elements inside the
//! allowed lateness fire their windows again, elements late for all their windows go to the
//! late output, and state is dropped once no window can use it.
//!
//! A restored operator keeps, per key group, how far the watermark had gone before the
//! snapshot, and treats that key group's elements as if the watermark were still there until
//! it passes again: windows fire once and late elements stay late, so a restarted job gives the
//! results of an uninterrupted one. (The general window operator, like Flink's, starts its
//! watermark over after a restore and may accept elements that were late before.)

use std::collections::BTreeMap;

use rustc_hash::{FxHashMap, FxHashSet};
use sluice_core::key_group::{KeyGroupRange, assign_to_key_group};
use sluice_core::key_selector::OwnedKeyFn;
use sluice_core::{Record, Timestamp, UserResult, Watermark};
use sluice_state::OperatorSnapshot;
use sluice_state::codec::{decode, encode};

use super::function_state::FunctionState;
use super::functions::InternalWindowFunction;
use super::lateness::Lateness;
use super::window::{TimeWindow, Window, cleanup_time, typed};
use crate::task::operator::{OneInputOperator, OperatorContext, StreamOperator, WatermarkOut};
use crate::task::output::Output;
use crate::time::processing_time::{ProcessingTime, ProcessingTimeService};

/// The names the slices and the key groups' watermark progress are snapshotted under.
const SLICE_STATES: [&str; 2] = ["window-slices", "window-slices-progress"];

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

/// Sliding windows aggregated by slices: `F`'s window contents are the slices' accumulators,
/// copied into each window that holds the slice when it fires.
pub struct SlicingWindowOperator<F: InternalWindowFunction> {
    key_selector: OwnedKeyFn<F::In, F::Key>,
    shape: SlidingShape,
    slice: i64,
    lateness: Lateness<F::In>,
    function: F,
    /// Accumulators by slice start, then key.
    slices: BTreeMap<Timestamp, FxHashMap<F::Key, F::Contents>>,
    /// After a restore: per key group, the watermark before the snapshot.
    restored_progress: FxHashMap<usize, Timestamp>,
    /// The highest restored progress; until the watermark passes it, each key's group counts.
    restored_through: Timestamp,
    /// Reused for the window starts of each element.
    scratch: Vec<i64>,
    watermark: Timestamp,
    time: ProcessingTimeService,
    /// Processing time as of the current batch or watermark.
    now: ProcessingTime,
    /// The process function's keyed state.
    function_state: FunctionState,
    /// The key groups this subtask owns.
    key_groups: KeyGroupRange,
}

impl<F: InternalWindowFunction<Contents: Clone>> SlicingWindowOperator<F> {
    /// An operator for windows of `shape`.
    pub fn new(
        key_selector: OwnedKeyFn<F::In, F::Key>,
        shape: SlidingShape,
        lateness: Lateness<F::In>,
        function: F,
    ) -> Self {
        SlicingWindowOperator {
            key_selector,
            shape,
            slice: gcd(shape.size, shape.slide),
            lateness,
            function,
            slices: BTreeMap::new(),
            restored_progress: FxHashMap::default(),
            restored_through: Timestamp::MIN,
            scratch: Vec::new(),
            watermark: Timestamp::MIN,
            time: ProcessingTimeService::default(),
            now: 0,
            function_state: FunctionState::default(),
            key_groups: KeyGroupRange::for_subtask(sluice_core::DEFAULT_MAX_PARALLELISM, 1, 0),
        }
    }

    fn window(&self, start: i64) -> TimeWindow {
        TimeWindow::new(start, start.wrapping_add(self.shape.size))
    }

    fn cleanup_time(&self, window: &TimeWindow) -> Timestamp {
        self.lateness.cleanup_time(window.max_timestamp())
    }

    /// Calls `f` with the start of every window holding `timestamp`, latest first, as the
    /// sliding assigner computes them.
    fn for_each_start(&self, timestamp: Timestamp, mut f: impl FnMut(i64)) {
        let last = TimeWindow::start_with_offset(timestamp, self.shape.offset, self.shape.slide);
        let lower = timestamp.wrapping_sub(self.shape.size);
        let mut start = last;
        let mut count = 0;
        while start > lower && count <= self.shape.size / self.shape.slide {
            f(start);
            count += 1;
            start = start.wrapping_sub(self.shape.slide);
        }
    }

    /// Fills `live` with the starts of the windows holding `timestamp` that are not yet
    /// cleaned up at `watermark`.
    fn live_window_starts(&self, timestamp: Timestamp, watermark: Timestamp, live: &mut Vec<i64>) {
        live.clear();
        self.for_each_start(timestamp, |start| {
            if self.cleanup_time(&self.window(start)) > watermark {
                live.push(start);
            }
        });
    }

    /// The watermark as `key`'s key group sees it: after a restore, at least where it was
    /// before the snapshot.
    fn watermark_for(&self, key: &F::Key) -> Timestamp {
        if self.watermark >= self.restored_through {
            return self.watermark;
        }
        let group = assign_to_key_group(key, self.function_state.max_parallelism());
        self.restored_progress
            .get(&group)
            .map_or(self.watermark, |progress| self.watermark.max(*progress))
    }

    /// The starts of the windows with state whose `time_of` lies in `(from, to]`, in order.
    fn windows_due(
        &self,
        from: Timestamp,
        to: Timestamp,
        time_of: impl Fn(&TimeWindow) -> Timestamp,
    ) -> Vec<i64> {
        let mut due = Vec::new();
        for slice_start in self.slices.keys() {
            self.for_each_start(*slice_start, |start| {
                let time = time_of(&self.window(start));
                if time > from && time <= to {
                    due.push(start);
                }
            });
        }
        due.sort_unstable();
        due.dedup();
        due
    }

    /// Whether `key`'s window ending at `max` fired before the snapshot this operator was
    /// restored from.
    fn fired_before_restore(&self, key: &F::Key, max: Timestamp) -> bool {
        max <= self.restored_through && max <= self.watermark_for(key)
    }
}

impl<F: InternalWindowFunction<Contents: Clone>> SlicingWindowOperator<F> {
    /// Fires window `start` for one key (an element arrived after its end already passed).
    fn fire_key(&mut self, key: &F::Key, start: i64, out: &mut Output<F::Out>) -> UserResult {
        let window = self.window(start);
        let function = &mut self.function;
        let merged = self
            .slices
            .range(window.start..window.end)
            .filter_map(|(_, keys)| keys.get(key).cloned())
            .reduce(|a, b| function.merge(a, b));
        let Some(mut accumulator) = merged else {
            return Ok(());
        };
        let window: F::Window = typed(&window)?;
        let times = (self.watermark, self.now);
        self.function_state
            .emit(function, key, &window, &mut accumulator, times, out)
    }

    /// Fires window `start` for every key with elements in it (the watermark passed its end);
    /// with `clear`, the window is also cleaned up.
    fn fire_all(&mut self, start: i64, clear: bool, out: &mut Output<F::Out>) -> UserResult {
        let window = self.window(start);
        let typed_window: F::Window = typed(&window)?;
        let mut merged: FxHashMap<&F::Key, Option<F::Contents>> = FxHashMap::default();
        for (_, keys) in self.slices.range(window.start..window.end) {
            for (key, accumulator) in keys {
                let so_far = merged.entry(key).or_default();
                *so_far = Some(match so_far.take() {
                    Some(so_far) => self.function.merge(so_far, accumulator.clone()),
                    None => accumulator.clone(),
                });
            }
        }
        let times = (self.watermark, self.now);
        for (key, accumulator) in merged {
            let Some(mut accumulator) = accumulator else {
                continue;
            };
            let fired_before = self.fired_before_restore(key, window.max_timestamp());
            let function = &mut self.function;
            if !fired_before {
                self.function_state.emit(
                    function,
                    key,
                    &typed_window,
                    &mut accumulator,
                    times,
                    out,
                )?;
            }
            if clear {
                self.function_state
                    .clear(function, key, &typed_window, times)?;
            }
        }
        Ok(())
    }
}

impl<T, OUT, F> OneInputOperator<T, OUT> for SlicingWindowOperator<F>
where
    F: InternalWindowFunction<In = T, Out = OUT, Contents: Clone>,
{
    fn process_batch(&mut self, batch: &mut Vec<Record<T>>, out: &mut Output<OUT>) -> UserResult {
        self.now = self.time.now();
        let mut live = std::mem::take(&mut self.scratch);
        let result = batch
            .drain(..)
            .try_for_each(|record| self.process_record(record, &mut live, out));
        self.scratch = live;
        result
    }
}

impl<T, OUT, F> StreamOperator<T, OUT> for SlicingWindowOperator<F>
where
    F: InternalWindowFunction<In = T, Out = OUT, Contents: Clone>,
{
    fn process_watermark(&mut self, watermark: Watermark, out: &mut Output<OUT>) -> WatermarkOut {
        self.now = self.time.now();
        let (from, to) = (self.watermark, self.watermark.max(watermark.0));
        if to == from {
            return Ok(Some(watermark));
        }
        self.watermark = to;
        // Windows whose end passed fire for every key; those cleaned up at their end at once.
        let lateness = self.lateness.allowed;
        for start in self.windows_due(from, to, |w| w.max_timestamp()) {
            let clear =
                self.cleanup_time(&self.window(start)) == self.window(start).max_timestamp();
            self.fire_all(start, clear, out)?;
        }
        if lateness > 0 {
            let cleaned = self.windows_due(from, to, |w| cleanup_time(w.max_timestamp(), lateness));
            for start in cleaned {
                self.clear_all(start)?;
            }
        }
        self.prune(to);
        if to >= self.restored_through {
            self.restored_progress.clear();
        }
        Ok(Some(watermark))
    }

    fn open(&mut self, ctx: &OperatorContext) -> UserResult {
        self.time = ctx.processing_time.clone();
        self.key_groups = ctx.key_groups();
        self.function_state = FunctionState::for_operator(ctx)?;
        Ok(())
    }

    /// Every key's slice accumulators, the watermark progress of each owned key group, and the
    /// process function's state.
    fn snapshot_state(&mut self, snapshot: &mut OperatorSnapshot) -> UserResult {
        let [slices, progress] = SLICE_STATES;
        for (slice_start, keys) in &self.slices {
            for (key, accumulator) in keys {
                let group = assign_to_key_group(key, self.function_state.max_parallelism());
                snapshot.keyed.push(
                    group,
                    slices,
                    encode(slices, &(key, slice_start))?,
                    encode(slices, accumulator)?,
                );
            }
        }
        for group in self.key_groups.iter() {
            let restored = self.restored_progress.get(&group).copied();
            let fired_through = restored.map_or(self.watermark, |r| r.max(self.watermark));
            snapshot.keyed.push(
                group,
                progress,
                Vec::new(),
                encode(progress, &fired_through)?,
            );
        }
        self.function_state.snapshot(&mut snapshot.keyed)?;
        Ok(())
    }

    fn restore_state(&mut self, restored: &OperatorSnapshot) -> UserResult {
        let [slices, progress] = SLICE_STATES;
        for (_, key, accumulator) in restored.keyed.entries(slices) {
            let (key, slice_start): (F::Key, Timestamp) = decode(slices, key)?;
            let accumulator: F::Contents = decode(slices, accumulator)?;
            self.slices
                .entry(slice_start)
                .or_default()
                .insert(key, accumulator);
        }
        for (group, _, fired_through) in restored.keyed.entries(progress) {
            let fired_through: Timestamp = decode(progress, fired_through)?;
            let entry = self.restored_progress.entry(group).or_insert(fired_through);
            *entry = (*entry).max(fired_through);
            self.restored_through = self.restored_through.max(fired_through);
        }
        self.function_state
            .restore(&restored.keyed, &SLICE_STATES)?;
        Ok(())
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> UserResult {
        self.function_state
            .notify_checkpoint_complete(checkpoint_id);
        Ok(())
    }
}

impl<F: InternalWindowFunction<Contents: Clone>> SlicingWindowOperator<F> {
    fn process_record(
        &mut self,
        record: Record<F::In>,
        live: &mut Vec<i64>,
        out: &mut Output<F::Out>,
    ) -> UserResult {
        let Some(timestamp) = record.timestamp.filter(|t| *t != Timestamp::MIN) else {
            return Err("record has no timestamp but sliding event-time windows need one: assign timestamps and watermarks first".into());
        };
        let key = (self.key_selector)(&record.value);
        let watermark = self.watermark_for(&key);
        self.live_window_starts(timestamp, watermark, live);
        if live.is_empty() {
            if self.lateness.is_late(timestamp, watermark) {
                self.lateness.drop_late(record, out);
            }
            return Ok(());
        }
        let slice_start = TimeWindow::start_with_offset(timestamp, self.shape.offset, self.slice);
        let keys = self.slices.entry(slice_start).or_default();
        match keys.get_mut(&key) {
            Some(accumulator) => self.function.add(accumulator, record),
            None => {
                let mut accumulator = self.function.create();
                self.function.add(&mut accumulator, record);
                keys.insert(key.clone(), accumulator);
            }
        }
        for &start in live.iter() {
            if self.window(start).max_timestamp() <= watermark {
                // The window's end already passed: the event-time trigger fires it at once.
                self.fire_key(&key, start, out)?;
            }
        }
        Ok(())
    }

    /// Lets the process function clear window `start` of every key with elements in it.
    fn clear_all(&mut self, start: i64) -> UserResult {
        let window = self.window(start);
        let typed_window: F::Window = typed(&window)?;
        let mut keys: FxHashSet<&F::Key> = FxHashSet::default();
        for (_, slice) in self.slices.range(window.start..window.end) {
            keys.extend(slice.keys());
        }
        let function = &mut self.function;
        let times = (self.watermark, self.now);
        for key in keys {
            self.function_state
                .clear(function, key, &typed_window, times)?;
        }
        Ok(())
    }

    /// Drops the slices whose last window is cleaned up by `time`.
    fn prune(&mut self, time: Timestamp) {
        let (size, slide, offset, lateness) = (
            self.shape.size,
            self.shape.slide,
            self.shape.offset,
            self.lateness.allowed,
        );
        self.slices.retain(|slice_start, _| {
            // The last window holding this slice starts at the latest start <= the slice.
            let last_start = TimeWindow::start_with_offset(*slice_start, offset, slide);
            let max = last_start.wrapping_add(size).wrapping_sub(1);
            cleanup_time(max, lateness) > time
        });
    }
}

#[cfg(test)]
mod tests;
