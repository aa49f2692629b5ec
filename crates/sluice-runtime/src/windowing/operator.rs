//! The window operator: assigns each element of a key to windows, keeps their contents, runs
//! the trigger, emits through the window function, and cleans windows up once they can no
//! longer receive elements — Flink's `WindowOperator`, step for step.

use std::collections::BTreeMap;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::Serialize;
use sluice_core::key_group::assign_to_key_group;
use sluice_state::HeapStateBackend;
use sluice_state::scope::encode_key;

use sluice_core::{Record, Timestamp, UserResult, Watermark};

use super::assigners::WindowAssigner;
use super::functions::{InternalWindowFunction, WindowContext, WindowStateAccess};
use super::merging_window_set::MergingWindowSet;
use super::triggers::{Trigger, TriggerBackend, TriggerContext, TriggerResult};
use super::window::Window;
use crate::operator::{OneInputOperator, OperatorContext};
use crate::output::{Output, OutputTag};
use crate::processing_time::{ProcessingTime, ProcessingTimeService};

/// Everything kept for one key and window: its contents (when it is a state window), its
/// trigger values and the timers registered for it. One map lookup reaches all of them, and a
/// timer already registered is found in the slot without touching the timer queues.
struct WindowSlot<C> {
    contents: Option<C>,
    values: Vec<(&'static str, i64)>,
    timers: TimerList,
}

impl<C> Default for WindowSlot<C> {
    fn default() -> Self {
        WindowSlot {
            contents: None,
            values: Vec::new(),
            timers: TimerList::default(),
        }
    }
}

/// The timers of one window: usually one or two (its end and its cleanup), kept inline so
/// checking them costs no pointer chase; more spill to the heap.
#[derive(Default)]
struct TimerList {
    inline: [Option<(bool, Timestamp)>; 2],
    spilled: Vec<(bool, Timestamp)>,
}

impl TimerList {
    fn contains(&self, timer: &(bool, Timestamp)) -> bool {
        self.inline.contains(&Some(*timer)) || self.spilled.contains(timer)
    }

    fn push(&mut self, timer: (bool, Timestamp)) {
        match self.inline.iter_mut().find(|t| t.is_none()) {
            Some(free) => *free = Some(timer),
            None => self.spilled.push(timer),
        }
    }

    /// Removes `timer`; returns whether it was there.
    fn remove(&mut self, timer: &(bool, Timestamp)) -> bool {
        if let Some(slot) = self.inline.iter_mut().find(|t| t.as_ref() == Some(timer)) {
            *slot = None;
            return true;
        }
        match self.spilled.iter().position(|t| t == timer) {
            Some(position) => {
                self.spilled.swap_remove(position);
                true
            }
            None => false,
        }
    }

    fn is_empty(&self) -> bool {
        self.inline.iter().all(Option::is_none) && self.spilled.is_empty()
    }
}

impl<C> WindowSlot<C> {
    fn is_empty(&self) -> bool {
        self.contents.is_none() && self.values.is_empty() && self.timers.is_empty()
    }
}

/// The slots of every key and window, and the timer queues. A key's windows sit together, so
/// an element that belongs to several windows of its key (sliding windows) costs one random
/// memory access, not one per window.
struct WindowStore<K, W, C> {
    keys: FxHashMap<K, KeyWindows<W, C>>,
    /// Timers by time. A slot's timer list decides which entries are live: registering checks
    /// it, deleting only removes it there, and stale entries are skipped when due.
    event_timers: BTreeMap<Timestamp, Vec<(K, W)>>,
    processing_timers: BTreeMap<Timestamp, Vec<(K, W)>>,
}

/// Everything of one key: its window slots and, for merging assigners, its merging set —
/// one map entry, so an element touches one place in memory for its key.
struct KeyWindows<W, C> {
    slots: Vec<(W, WindowSlot<C>)>,
    merging: MergingWindowSet<W>,
}

impl<W, C> Default for KeyWindows<W, C> {
    fn default() -> Self {
        KeyWindows {
            slots: Vec::new(),
            merging: MergingWindowSet::default(),
        }
    }
}

impl<W: Window, C> KeyWindows<W, C> {
    fn is_empty(&self) -> bool {
        self.slots.is_empty() && self.merging.is_empty()
    }
}

impl<K: Hash + Eq + Clone, W: Window, C> WindowStore<K, W, C> {
    fn key_windows(&mut self, key: &K) -> &mut KeyWindows<W, C> {
        // Two lookups instead of `entry`, which would clone the key on every call.
        if self.keys.contains_key(key) {
            self.keys.get_mut(key).expect("present: checked just above")
        } else {
            self.keys.entry(key.clone()).or_default()
        }
    }

    /// The merging set of `key`, created if needed.
    fn merging_mut(&mut self, key: &K) -> &mut MergingWindowSet<W> {
        &mut self.key_windows(key).merging
    }

    /// The merging set of `key`, if it has one.
    fn merging(&self, key: &K) -> Option<&MergingWindowSet<W>> {
        self.keys.get(key).map(|k| &k.merging)
    }

    /// Forgets `window` in `key`'s merging set.
    fn retire(&mut self, key: &K, window: &W) {
        if let Some(entry) = self.keys.get_mut(key) {
            entry.merging.retire_window(window);
            if entry.is_empty() {
                self.keys.remove(key);
            }
        }
    }

    fn slot(&mut self, key: &K, window: &W) -> &mut WindowSlot<C> {
        let windows = &mut self.key_windows(key).slots;
        let position = match windows.iter().position(|(w, _)| w == window) {
            Some(position) => position,
            None => {
                windows.push((window.clone(), WindowSlot::default()));
                windows.len() - 1
            }
        };
        &mut windows[position].1
    }

    fn get(&self, key: &K, window: &W) -> Option<&WindowSlot<C>> {
        self.keys
            .get(key)?
            .slots
            .iter()
            .find(|(w, _)| w == window)
            .map(|(_, slot)| slot)
    }

    fn get_mut(&mut self, key: &K, window: &W) -> Option<&mut WindowSlot<C>> {
        self.keys
            .get_mut(key)?
            .slots
            .iter_mut()
            .find(|(w, _)| w == window)
            .map(|(_, slot)| slot)
    }

    /// Applies `change` to an existing slot and drops the slot if it became empty.
    fn update(&mut self, key: &K, window: &W, change: impl FnOnce(&mut WindowSlot<C>)) {
        let Some(entry) = self.keys.get_mut(key) else {
            return;
        };
        let Some(position) = entry.slots.iter().position(|(w, _)| w == window) else {
            return;
        };
        change(&mut entry.slots[position].1);
        if entry.slots[position].1.is_empty() {
            entry.slots.swap_remove(position);
            if entry.is_empty() {
                self.keys.remove(key);
            }
        }
    }

    fn queue(&mut self, event_time: bool) -> &mut BTreeMap<Timestamp, Vec<(K, W)>> {
        if event_time {
            &mut self.event_timers
        } else {
            &mut self.processing_timers
        }
    }

    fn register_timer(&mut self, key: &K, window: &W, event_time: bool, time: Timestamp) {
        let slot = self.slot(key, window);
        if slot.timers.contains(&(event_time, time)) {
            return;
        }
        slot.timers.push((event_time, time));
        self.queue(event_time)
            .entry(time)
            .or_default()
            .push((key.clone(), window.clone()));
    }

    /// Deletes a timer from its slot; the queue entry goes stale and is skipped when due.
    fn delete_timer(&mut self, key: &K, window: &W, event_time: bool, time: Timestamp) {
        self.update(key, window, |slot| {
            slot.timers.remove(&(event_time, time));
        });
    }

    /// Takes the earliest due timer of one domain that its slot still holds, forgetting it.
    fn pop_due(&mut self, event_time: bool, limit: Timestamp) -> Option<(Timestamp, K, W)> {
        loop {
            let mut entry = self.queue(event_time).first_entry()?;
            let time = *entry.key();
            if time > limit {
                return None;
            }
            let Some((key, window)) = entry.get_mut().pop() else {
                entry.remove();
                continue;
            };
            if entry.get().is_empty() {
                entry.remove();
            }
            let mut registered = false;
            self.update(&key, &window, |slot| {
                registered = slot.timers.remove(&(event_time, time));
            });
            if registered {
                return Some((time, key, window));
            }
        }
    }

    /// The earliest processing-time timer still registered.
    fn earliest_processing_time(&mut self) -> Option<Timestamp> {
        loop {
            let (time, entries) = self.processing_timers.iter().next()?;
            let time = *time;
            let live = entries.iter().any(|(key, window)| {
                self.get(key, window)
                    .is_some_and(|slot| slot.timers.contains(&(false, time)))
            });
            if live {
                return Some(time);
            }
            self.processing_timers.remove(&time);
        }
    }

    fn take_contents(&mut self, key: &K, window: &W) -> Option<C> {
        let mut taken = None;
        self.update(key, window, |slot| taken = slot.contents.take());
        taken
    }
}

/// The trigger backend for one key.
struct KeyScope<'a, K, W, C> {
    key: &'a K,
    store: &'a mut WindowStore<K, W, C>,
}

impl<K: Hash + Eq + Clone, W: Window, C> TriggerBackend<W> for KeyScope<'_, K, W, C> {
    fn register_event_time_timer(&mut self, window: &W, time: Timestamp) {
        self.store.register_timer(self.key, window, true, time);
    }

    fn delete_event_time_timer(&mut self, window: &W, time: Timestamp) {
        self.store.delete_timer(self.key, window, true, time);
    }

    fn register_processing_time_timer(&mut self, window: &W, time: ProcessingTime) {
        self.store.register_timer(self.key, window, false, time);
    }

    fn delete_processing_time_timer(&mut self, window: &W, time: ProcessingTime) {
        self.store.delete_timer(self.key, window, false, time);
    }

    fn state(&self, window: &W, name: &'static str) -> Option<i64> {
        self.store
            .get(self.key, window)
            .and_then(|slot| slot.values.iter().find(|(n, _)| *n == name))
            .map(|(_, v)| *v)
    }

    fn set_state(&mut self, window: &W, name: &'static str, value: Option<i64>) {
        match value {
            Some(value) => {
                let values = &mut self.store.slot(self.key, window).values;
                match values.iter_mut().find(|(n, _)| *n == name) {
                    Some(entry) => entry.1 = value,
                    None => values.push((name, value)),
                }
            }
            None => self.store.update(self.key, window, |slot| {
                slot.values.retain(|(n, _)| *n != name)
            }),
        }
    }
}

/// Keyed windows over records of type `T`, emitting `OUT` through the window function `F`.
pub struct WindowOperator<T, K, W, OUT, F: InternalWindowFunction<T, K, W, OUT>> {
    key_selector: Arc<dyn Fn(&T) -> K + Send + Sync>,
    assigner: Arc<dyn WindowAssigner<T, W>>,
    trigger: Arc<dyn Trigger<T, W>>,
    allowed_lateness: i64,
    late_tag: Option<OutputTag<T>>,
    function: F,
    store: WindowStore<K, W, F::Contents>,
    watermark: Timestamp,
    now: ProcessingTime,
    time: ProcessingTimeService,
    backend: HeapStateBackend,
    max_parallelism: usize,
    _out: PhantomData<fn() -> OUT>,
}

/// Calls `f` with a window function context for `key` and `window` whose keyed state lives in
/// `backend`; the state prefixes are encoded only if the function asks for state.
fn with_function_context<K: Hash + Serialize, W: Window, R>(
    backend: &mut HeapStateBackend,
    max_parallelism: usize,
    key: &K,
    window: &W,
    watermark: Timestamp,
    now: ProcessingTime,
    f: impl FnOnce(&mut WindowContext<'_, W>) -> R,
) -> R {
    let prefix = |per_window: bool| {
        if per_window {
            encode_key(key, window)
        } else {
            encode_key(key, &())
        }
    };
    let access = WindowStateAccess {
        backend,
        key_group: assign_to_key_group(key, max_parallelism),
        prefix: &prefix,
    };
    f(&mut WindowContext::new(window, watermark, now).with_state(access))
}

impl<T, K, W, OUT, F> WindowOperator<T, K, W, OUT, F>
where
    T: Clone + Send + 'static,
    K: Hash + Eq + Clone + Serialize + Send + 'static,
    W: Window,
    OUT: Send + 'static,
    F: InternalWindowFunction<T, K, W, OUT>,
{
    /// A window operator; `late_tag` receives elements too late for all their windows.
    pub fn new(
        key_selector: Arc<dyn Fn(&T) -> K + Send + Sync>,
        assigner: Arc<dyn WindowAssigner<T, W>>,
        trigger: Arc<dyn Trigger<T, W>>,
        allowed_lateness: i64,
        late_tag: Option<OutputTag<T>>,
        function: F,
    ) -> Self {
        WindowOperator {
            key_selector,
            assigner,
            trigger,
            allowed_lateness,
            late_tag,
            function,
            store: WindowStore {
                keys: FxHashMap::default(),
                event_timers: BTreeMap::new(),
                processing_timers: BTreeMap::new(),
            },
            watermark: Timestamp::MIN,
            now: 0,
            time: ProcessingTimeService::default(),
            backend: HeapStateBackend::new(sluice_core::DEFAULT_MAX_PARALLELISM),
            max_parallelism: sluice_core::DEFAULT_MAX_PARALLELISM,
            _out: PhantomData,
        }
    }

    /// When a window's state is dropped: its end plus the allowed lateness (event time; never
    /// when that overflows), or its end (processing time).
    fn cleanup_time(&self, window: &W) -> Timestamp {
        if self.assigner.is_event_time() {
            let cleanup = window.max_timestamp().wrapping_add(self.allowed_lateness);
            if cleanup >= window.max_timestamp() {
                cleanup
            } else {
                Timestamp::MAX
            }
        } else {
            window.max_timestamp()
        }
    }

    fn is_window_late(&self, window: &W) -> bool {
        self.assigner.is_event_time() && self.cleanup_time(window) <= self.watermark
    }

    fn is_element_late(&self, timestamp: Timestamp) -> bool {
        self.assigner.is_event_time()
            && timestamp.wrapping_add(self.allowed_lateness) <= self.watermark
    }

    fn trigger_call<R>(
        &mut self,
        key: &K,
        window: &W,
        merged: &[W],
        call: impl FnOnce(&dyn Trigger<T, W>, &mut TriggerContext<'_, W>) -> R,
    ) -> R {
        let mut scope = KeyScope {
            key,
            store: &mut self.store,
        };
        let mut ctx =
            TriggerContext::new(window.clone(), self.watermark, self.now, merged, &mut scope);
        call(self.trigger.as_ref(), &mut ctx)
    }

    fn set_cleanup_timer(&mut self, key: &K, window: &W, register: bool) {
        let cleanup = self.cleanup_time(window);
        if cleanup == Timestamp::MAX {
            return;
        }
        let event_time = self.assigner.is_event_time();
        if register {
            self.store.register_timer(key, window, event_time, cleanup);
        } else {
            self.store.delete_timer(key, window, event_time, cleanup);
        }
    }

    fn emit(&mut self, key: &K, window: &W, state_window: &W, out: &mut Output<OUT>) -> UserResult {
        let Some(contents) = self
            .store
            .get_mut(key, state_window)
            .and_then(|slot| slot.contents.as_mut())
        else {
            return Ok(());
        };
        let function = &mut self.function;
        let (watermark, now) = (self.watermark, self.now);
        with_function_context(
            &mut self.backend,
            self.max_parallelism,
            key,
            window,
            watermark,
            now,
            |ctx| {
                let mut collector = out.collector(Some(window.max_timestamp()));
                function.emit(key, ctx, contents, &mut collector)
            },
        )
    }

    /// Lets the window function clear the per-window state of a window being dropped.
    fn clear_function_state(&mut self, key: &K, window: &W) -> UserResult {
        let function = &mut self.function;
        let (watermark, now) = (self.watermark, self.now);
        with_function_context(
            &mut self.backend,
            self.max_parallelism,
            key,
            window,
            watermark,
            now,
            |ctx| function.clear(key, ctx),
        )
    }

    /// Applies a trigger decision to `window` (contents in `state_window`).
    fn act(
        &mut self,
        result: TriggerResult,
        key: &K,
        window: &W,
        state_window: &W,
        out: &mut Output<OUT>,
    ) -> UserResult {
        if result.is_fire() {
            self.emit(key, window, state_window, out)?;
        }
        if result.is_purge() {
            self.store.take_contents(key, state_window);
        }
        Ok(())
    }

    fn add_to_window(&mut self, key: &K, state_window: &W, record: Record<T>) {
        let function = &mut self.function;
        let contents = self
            .store
            .slot(key, state_window)
            .contents
            .get_or_insert_with(|| function.create());
        function.add(contents, record);
    }

    /// Adds `window` to the key's merging set, performing the merges it causes.
    fn add_merging_window(&mut self, key: &K, window: W) -> UserResult<W> {
        let assigner = Arc::clone(&self.assigner);
        let (actual, merges) = self
            .store
            .merging_mut(key)
            .add_window(window, |windows| assigner.merge_windows(windows));
        for merge in merges {
            if self.assigner.is_event_time()
                && merge
                    .result
                    .max_timestamp()
                    .wrapping_add(self.allowed_lateness)
                    <= self.watermark
            {
                return Err(format!(
                    "the end of event-time window {:?} cannot become earlier than the watermark {} by merging",
                    merge.result, self.watermark
                )
                .into());
            }
            self.trigger_call(key, &merge.result, &merge.merged, |trigger, ctx| {
                trigger.on_merge(&merge.result, ctx)
            });
            for merged in &merge.merged {
                self.trigger_call(key, merged, &[], |trigger, ctx| trigger.clear(merged, ctx));
                self.set_cleanup_timer(key, merged, false);
            }
            let mut target = self.store.take_contents(key, &merge.state_window);
            for source_window in &merge.merged_state_windows {
                if let Some(source) = self.store.take_contents(key, source_window) {
                    target = Some(match target {
                        Some(t) => self.function.merge(t, source),
                        None => source,
                    });
                }
            }
            if let Some(target) = target {
                self.store.slot(key, &merge.state_window).contents = Some(target);
            }
        }
        Ok(actual)
    }

    fn process_record(&mut self, record: Record<T>, out: &mut Output<OUT>) -> UserResult {
        let timestamp = record.timestamp.unwrap_or(Timestamp::MIN);
        let key = (self.key_selector)(&record.value);
        let windows = self
            .assigner
            .assign_windows(&record.value, timestamp, self.now)?;
        // Every window but the last gets a copy; the last takes the record itself, so a
        // record of one window (tumbling) is never copied.
        let mut pending: Option<(W, W)> = None;
        for window in windows {
            let target = if self.assigner.is_merging() {
                let actual = self.add_merging_window(&key, window)?;
                if self.is_window_late(&actual) {
                    self.retire(&key, &actual);
                    continue;
                }
                let state_window = self
                    .store
                    .merging(&key)
                    .and_then(|set| set.state_window(&actual))
                    .cloned()
                    .ok_or("merging window set lost a window")?;
                (actual, state_window)
            } else if self.is_window_late(&window) {
                continue;
            } else {
                (window.clone(), window)
            };
            if let Some((window, state_window)) = pending.replace(target) {
                self.add_and_trigger(&key, &window, &state_window, record.clone(), timestamp, out)?;
            }
        }
        match pending {
            Some((window, state_window)) => {
                self.add_and_trigger(&key, &window, &state_window, record, timestamp, out)
            }
            None => {
                if self.is_element_late(timestamp)
                    && let Some(tag) = &self.late_tag
                {
                    out.sides.emit(tag, record);
                }
                Ok(())
            }
        }
    }

    /// Runs the trigger for an element of `window`, adds the element, and acts on the trigger's
    /// decision (the trigger cannot see contents, so asking it first changes nothing).
    fn add_and_trigger(
        &mut self,
        key: &K,
        window: &W,
        state_window: &W,
        record: Record<T>,
        timestamp: Timestamp,
        out: &mut Output<OUT>,
    ) -> UserResult {
        let result = self.trigger_call(key, window, &[], |trigger, ctx| {
            trigger.on_element(&record.value, timestamp, window, ctx)
        });
        self.add_to_window(key, state_window, record);
        self.act(result, key, window, state_window, out)?;
        self.set_cleanup_timer(key, window, true);
        Ok(())
    }

    fn retire(&mut self, key: &K, window: &W) {
        self.store.retire(key, window);
    }

    fn on_timer(
        &mut self,
        time: Timestamp,
        key: K,
        window: W,
        event_time: bool,
        out: &mut Output<OUT>,
    ) -> UserResult {
        let state_window = if self.assigner.is_merging() {
            match self
                .store
                .merging(&key)
                .and_then(|set| set.state_window(&window))
            {
                Some(state_window) => state_window.clone(),
                None => return Ok(()),
            }
        } else {
            window.clone()
        };
        let result = self.trigger_call(&key, &window, &[], |trigger, ctx| {
            if event_time {
                trigger.on_event_time(time, &window, ctx)
            } else {
                trigger.on_processing_time(time, &window, ctx)
            }
        });
        self.act(result, &key, &window, &state_window, out)?;
        if event_time == self.assigner.is_event_time() && time == self.cleanup_time(&window) {
            self.store.take_contents(&key, &state_window);
            self.trigger_call(&key, &window, &[], |trigger, ctx| {
                trigger.clear(&window, ctx)
            });
            self.clear_function_state(&key, &window)?;
            self.retire(&key, &window);
        }
        Ok(())
    }

    fn schedule_processing_time(&mut self) {
        if let Some(earliest) = self.store.earliest_processing_time() {
            self.time.wake_at(earliest);
        }
    }
}

impl<T, K, W, OUT, F> OneInputOperator<T, OUT> for WindowOperator<T, K, W, OUT, F>
where
    T: Clone + Send + 'static,
    K: Hash + Eq + Clone + Serialize + Send + 'static,
    W: Window,
    OUT: Send + 'static,
    F: InternalWindowFunction<T, K, W, OUT>,
{
    fn open(&mut self, ctx: &OperatorContext) -> UserResult {
        self.time = ctx.processing_time.clone();
        self.now = self.time.now();
        self.max_parallelism = ctx.max_parallelism;
        self.backend = HeapStateBackend::new(ctx.max_parallelism);
        Ok(())
    }

    fn process_batch(&mut self, batch: &mut Vec<Record<T>>, out: &mut Output<OUT>) -> UserResult {
        self.now = self.time.now();
        for record in batch.drain(..) {
            self.process_record(record, out)?;
        }
        self.schedule_processing_time();
        Ok(())
    }

    fn process_watermark(
        &mut self,
        watermark: Watermark,
        out: &mut Output<OUT>,
    ) -> UserResult<Option<Watermark>> {
        self.watermark = self.watermark.max(watermark.0);
        while let Some((time, key, window)) = self.store.pop_due(true, self.watermark) {
            self.on_timer(time, key, window, true, out)?;
        }
        self.schedule_processing_time();
        Ok(Some(watermark))
    }

    fn on_processing_time(&mut self, now: ProcessingTime, out: &mut Output<OUT>) -> UserResult {
        self.now = now;
        while let Some((time, key, window)) = self.store.pop_due(false, now) {
            self.on_timer(time, key, window, false, out)?;
        }
        self.schedule_processing_time();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::harness::OneInputHarness;
    use crate::output::{Collector, OutputTag};
    use crate::processing_time::ManualClock;
    use crate::windowing::{
        BufferedWindowFunction, ContinuousEventTimeTrigger, ContinuousProcessingTimeTrigger,
        CountEvictor, CountTrigger, DynamicSessionWindows, Elements, EventTimeTrigger, Evictor,
        GlobalWindow, GlobalWindows, PurgingTrigger, SessionWindows, SlidingWindows, TimeEvictor,
        TimeWindow, TumblingWindows,
    };

    type Event = (char, i64);

    /// Emits "key@start..end:[values]" for a time window.
    fn describe_time(
        key: &char,
        ctx: &mut WindowContext<'_, TimeWindow>,
        elements: Elements<'_, Event>,
        out: &mut Collector<'_, String>,
    ) -> UserResult {
        let values: Vec<i64> = elements.map(|e| e.1).collect();
        let w = ctx.window();
        out.collect(format!("{key}@{}..{}:{values:?}", w.start, w.end));
        Ok(())
    }

    /// Emits "key:[values]" for a global window.
    fn describe_global(
        key: &char,
        _: &mut WindowContext<'_, GlobalWindow>,
        elements: Elements<'_, Event>,
        out: &mut Collector<'_, String>,
    ) -> UserResult {
        let values: Vec<i64> = elements.map(|e| e.1).collect();
        out.collect(format!("{key}:{values:?}"));
        Ok(())
    }

    type DescribeTime = fn(
        &char,
        &mut WindowContext<'_, TimeWindow>,
        Elements<'_, Event>,
        &mut Collector<'_, String>,
    ) -> UserResult;
    type DescribeGlobal = fn(
        &char,
        &mut WindowContext<'_, GlobalWindow>,
        Elements<'_, Event>,
        &mut Collector<'_, String>,
    ) -> UserResult;

    fn global_operator(
        trigger: Arc<dyn Trigger<Event, GlobalWindow>>,
        evictor: Option<Arc<dyn Evictor<Event, GlobalWindow>>>,
    ) -> WindowOperator<
        Event,
        char,
        GlobalWindow,
        String,
        BufferedWindowFunction<Event, GlobalWindow, DescribeGlobal>,
    > {
        WindowOperator::new(
            Arc::new(|e: &Event| e.0),
            Arc::new(GlobalWindows),
            trigger,
            0,
            None,
            BufferedWindowFunction::new(describe_global as DescribeGlobal, evictor),
        )
    }

    fn time_operator(
        assigner: Arc<dyn WindowAssigner<Event, TimeWindow>>,
        trigger: Arc<dyn Trigger<Event, TimeWindow>>,
    ) -> WindowOperator<
        Event,
        char,
        TimeWindow,
        String,
        BufferedWindowFunction<Event, TimeWindow, DescribeTime>,
    > {
        WindowOperator::new(
            Arc::new(|e: &Event| e.0),
            assigner,
            trigger,
            0,
            None,
            BufferedWindowFunction::new(describe_time as DescribeTime, None),
        )
    }

    #[test]
    fn purging_count_trigger_makes_count_windows() {
        let operator = global_operator(Arc::new(PurgingTrigger::of(CountTrigger::of(3))), None);
        let mut harness = OneInputHarness::new(operator);
        for v in 1..=7 {
            harness.process(Record::new(('a', v)));
            harness.process(Record::new(('b', v * 10)));
        }
        harness.end_input();
        let mut out = harness.take_values();
        out.sort();
        assert_eq!(
            out,
            vec![
                "a:[1, 2, 3]",
                "a:[4, 5, 6]",
                "b:[10, 20, 30]",
                "b:[40, 50, 60]"
            ]
        );
    }

    #[test]
    fn count_evictor_keeps_the_last_elements_of_a_sliding_count_window() {
        let operator = global_operator(
            Arc::new(CountTrigger::of(2)),
            Some(Arc::new(CountEvictor::of(3))),
        );
        let mut harness = OneInputHarness::new(operator);
        for v in 1..=6 {
            harness.process(Record::new(('a', v)));
        }
        assert_eq!(
            harness.take_values(),
            vec!["a:[1, 2]", "a:[2, 3, 4]", "a:[4, 5, 6]"]
        );
    }

    #[test]
    fn continuous_event_time_trigger_fires_every_interval_and_at_the_end() {
        let operator = time_operator(
            Arc::new(TumblingWindows::event_time(Duration::from_millis(100))),
            Arc::new(ContinuousEventTimeTrigger::of(Duration::from_millis(30))),
        );
        let mut harness = OneInputHarness::new(operator);
        harness.process(Record::with_timestamp(('a', 1), 5));
        harness.process(Record::with_timestamp(('a', 2), 10));
        harness.watermark(Watermark(35));
        assert_eq!(harness.take_values(), vec!["a@0..100:[1, 2]"]);
        harness.process(Record::with_timestamp(('a', 3), 40));
        harness.watermark(Watermark(99));
        assert_eq!(
            harness.take_values(),
            vec![
                "a@0..100:[1, 2, 3]",
                "a@0..100:[1, 2, 3]",
                "a@0..100:[1, 2, 3]"
            ]
        );
        harness.watermark(Watermark(1_000));
        assert!(
            harness.take_values().is_empty(),
            "the window was cleaned up at its end"
        );
    }

    #[test]
    fn event_time_windows_fire_when_the_watermark_passes_their_end() {
        let operator = time_operator(
            Arc::new(TumblingWindows::event_time(Duration::from_millis(10))),
            Arc::new(crate::windowing::EventTimeTrigger),
        );
        let mut harness = OneInputHarness::new(operator);
        harness.process(Record::with_timestamp(('a', 1), 3));
        harness.process(Record::with_timestamp(('a', 2), 12));
        harness.watermark(Watermark(8));
        assert!(harness.take_values().is_empty());
        harness.watermark(Watermark(9));
        let fired = harness.take_records();
        assert_eq!(
            fired,
            vec![Record::with_timestamp("a@0..10:[1]".to_string(), 9)],
            "results carry the window's max timestamp"
        );
        // Without allowed lateness a record for a finished window is dropped (no late tag).
        harness.process(Record::with_timestamp(('a', 3), 4));
        harness.watermark(Watermark::MAX);
        assert_eq!(harness.take_values(), vec!["a@10..20:[2]"]);
    }

    #[test]
    fn processing_time_windows_fire_by_the_clock() {
        let clock = ManualClock::new(1_005);
        let mut ctx = OperatorContext::single("window");
        ctx.processing_time = ProcessingTimeService::new(clock.clone());
        let operator = time_operator(
            Arc::new(TumblingWindows::processing_time(Duration::from_millis(10))),
            Arc::new(crate::windowing::ProcessingTimeTrigger),
        );
        let mut harness = OneInputHarness::with_context(operator, ctx.clone());
        harness.process(Record::new(('a', 1)));
        clock.set(1_008);
        harness.process(Record::new(('a', 2)));
        assert_eq!(ctx.processing_time.earliest(), Some(1_009));
        harness.processing_time(1_009);
        assert_eq!(harness.take_values(), vec!["a@1000..1010:[1, 2]"]);
        clock.set(1_012);
        harness.process(Record::new(('a', 3)));
        harness.processing_time(1_015);
        assert!(harness.take_values().is_empty());
        harness.processing_time(1_019);
        assert_eq!(harness.take_values(), vec!["a@1010..1020:[3]"]);
    }

    fn manual_context(now: i64) -> (Arc<ManualClock>, OperatorContext) {
        let clock = ManualClock::new(now);
        let mut ctx = OperatorContext::single("window");
        ctx.processing_time = ProcessingTimeService::new(clock.clone());
        (clock, ctx)
    }

    #[test]
    fn dynamic_session_gaps_come_from_each_element() {
        // The value is the gap: a large value keeps the session open longer.
        let assigner =
            DynamicSessionWindows::event_time(|e: &Event| Duration::from_millis(e.1 as u64));
        let mut harness = OneInputHarness::new(time_operator(
            Arc::new(assigner),
            Arc::new(EventTimeTrigger),
        ));
        harness.process(Record::with_timestamp(('a', 5), 0));
        harness.process(Record::with_timestamp(('a', 20), 3));
        harness.process(Record::with_timestamp(('a', 1), 40));
        harness.watermark(Watermark::MAX);
        let mut out = harness.take_values();
        out.sort();
        // [0,5) and [3,23) overlap and merge; [40,41) stands alone.
        assert_eq!(out, vec!["a@0..23:[5, 20]", "a@40..41:[1]"]);
    }

    #[test]
    fn processing_time_sessions_close_after_a_quiet_gap() {
        let (clock, ctx) = manual_context(1_000);
        let assigner = SessionWindows::processing_time_with_gap(Duration::from_millis(50));
        let mut harness = OneInputHarness::with_context(
            time_operator(
                Arc::new(assigner),
                Arc::new(crate::windowing::ProcessingTimeTrigger),
            ),
            ctx,
        );
        harness.process(Record::new(('a', 1)));
        clock.set(1_030);
        harness.process(Record::new(('a', 2)));
        harness.processing_time(1_060);
        assert!(
            harness.take_values().is_empty(),
            "the second element extended the session"
        );
        harness.processing_time(1_079);
        assert_eq!(harness.take_values(), vec!["a@1000..1080:[1, 2]"]);
    }

    #[test]
    fn sliding_processing_time_windows_take_each_element_into_every_window() {
        let (_clock, ctx) = manual_context(1_012);
        let assigner =
            SlidingWindows::processing_time(Duration::from_millis(20), Duration::from_millis(10));
        let mut harness = OneInputHarness::with_context(
            time_operator(
                Arc::new(assigner),
                Arc::new(crate::windowing::ProcessingTimeTrigger),
            ),
            ctx,
        );
        harness.process(Record::new(('a', 1)));
        harness.processing_time(1_019);
        assert_eq!(harness.take_values(), vec!["a@1000..1020:[1]"]);
        harness.processing_time(1_029);
        assert_eq!(harness.take_values(), vec!["a@1010..1030:[1]"]);
    }

    #[test]
    fn continuous_processing_time_trigger_fires_every_interval() {
        let (clock, ctx) = manual_context(1_000);
        let mut harness = OneInputHarness::with_context(
            time_operator(
                Arc::new(TumblingWindows::event_time(Duration::from_secs(3_600))),
                Arc::new(ContinuousProcessingTimeTrigger::of(Duration::from_millis(
                    100,
                ))),
            ),
            ctx,
        );
        harness.process(Record::with_timestamp(('a', 1), 5));
        harness.processing_time(1_099);
        assert!(harness.take_values().is_empty());
        harness.processing_time(1_100);
        assert_eq!(harness.take_values(), vec!["a@0..3600000:[1]"]);
        clock.set(1_150);
        harness.process(Record::with_timestamp(('a', 2), 6));
        harness.processing_time(1_200);
        assert_eq!(harness.take_values(), vec!["a@0..3600000:[1, 2]"]);
    }

    #[test]
    fn time_evictor_keeps_the_recent_elements_of_a_firing_window() {
        let operator = WindowOperator::new(
            Arc::new(|e: &Event| e.0),
            Arc::new(GlobalWindows),
            Arc::new(CountTrigger::of(4)),
            0,
            None,
            BufferedWindowFunction::new(
                describe_global as DescribeGlobal,
                Some(Arc::new(TimeEvictor::of(Duration::from_millis(10)))
                    as Arc<dyn Evictor<Event, GlobalWindow>>),
            ),
        );
        let mut harness = OneInputHarness::new(operator);
        for (v, t) in [(1, 0), (2, 8), (3, 15), (4, 20)] {
            harness.process(Record::with_timestamp(('a', v), t));
        }
        assert_eq!(harness.take_values(), vec!["a:[3, 4]"]);
    }

    #[test]
    fn allowed_lateness_refires_and_late_records_go_to_the_side_output() {
        let late = OutputTag::<Event>::new("late");
        let operator = WindowOperator::new(
            Arc::new(|e: &Event| e.0),
            Arc::new(TumblingWindows::event_time(Duration::from_millis(10))),
            Arc::new(EventTimeTrigger),
            5,
            Some(late.clone()),
            BufferedWindowFunction::new(describe_time as DescribeTime, None),
        );
        let mut harness = OneInputHarness::new(operator);
        let side = harness.side_output(&late);
        harness.process(Record::with_timestamp(('a', 1), 3));
        harness.watermark(Watermark(9));
        assert_eq!(
            harness.take_values(),
            vec!["a@0..10:[1]"],
            "fires when the watermark passes the end"
        );
        harness.process(Record::with_timestamp(('a', 2), 4));
        assert_eq!(
            harness.take_values(),
            vec!["a@0..10:[1, 2]"],
            "a late record within the lateness fires again"
        );
        harness.watermark(Watermark(14));
        harness.process(Record::with_timestamp(('a', 3), 5));
        assert!(
            harness.take_values().is_empty(),
            "the window was dropped at 9 + 5"
        );
        assert_eq!(side.lock().unwrap().values(), vec![('a', 3)]);
        harness.process(Record::with_timestamp(('a', 4), 12));
        harness.watermark(Watermark::MAX);
        assert_eq!(harness.take_values(), vec!["a@10..20:[4]"]);
    }
}
