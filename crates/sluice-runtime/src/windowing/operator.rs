//! The window operator: assigns each element of a key to windows, keeps their contents, runs
//! the trigger, emits through the window function, and cleans windows up once they can no
//! longer receive elements — Flink's `WindowOperator`, step for step.

use std::collections::HashMap;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use sluice_core::{Record, Timestamp, UserResult, Watermark};

use super::assigners::WindowAssigner;
use super::functions::{InternalWindowFunction, WindowContext};
use super::merging_window_set::MergingWindowSet;
use super::triggers::{Trigger, TriggerBackend, TriggerContext, TriggerResult};
use super::window::Window;
use crate::operator::{OneInputOperator, OperatorContext};
use crate::output::{Output, OutputTag};
use crate::processing_time::{ProcessingTime, ProcessingTimeService};
use crate::timers::TimerService;

/// Timers and trigger values of every key and window.
struct TriggerStore<K, W> {
    timers: TimerService<K, W>,
    values: HashMap<(K, W), Vec<(&'static str, i64)>>,
}

/// The trigger backend for one key.
struct KeyScope<'a, K, W> {
    key: &'a K,
    store: &'a mut TriggerStore<K, W>,
}

impl<K: Hash + Eq + Clone, W: Window> TriggerBackend<W> for KeyScope<'_, K, W> {
    fn register_event_time_timer(&mut self, window: &W, time: Timestamp) {
        self.store
            .timers
            .event_time
            .register(time, self.key, window);
    }

    fn delete_event_time_timer(&mut self, window: &W, time: Timestamp) {
        self.store.timers.event_time.delete(time, self.key, window);
    }

    fn register_processing_time_timer(&mut self, window: &W, time: ProcessingTime) {
        self.store
            .timers
            .processing_time
            .register(time, self.key, window);
    }

    fn delete_processing_time_timer(&mut self, window: &W, time: ProcessingTime) {
        self.store
            .timers
            .processing_time
            .delete(time, self.key, window);
    }

    fn state(&self, window: &W, name: &'static str) -> Option<i64> {
        self.store
            .values
            .get(&(self.key.clone(), window.clone()))
            .and_then(|values| values.iter().find(|(n, _)| *n == name))
            .map(|(_, v)| *v)
    }

    fn set_state(&mut self, window: &W, name: &'static str, value: Option<i64>) {
        let slot = (self.key.clone(), window.clone());
        let values = self.store.values.entry(slot.clone()).or_default();
        values.retain(|(n, _)| *n != name);
        if let Some(value) = value {
            values.push((name, value));
        }
        if values.is_empty() {
            self.store.values.remove(&slot);
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
    contents: HashMap<(K, W), F::Contents>,
    store: TriggerStore<K, W>,
    merging: HashMap<K, MergingWindowSet<W>>,
    watermark: Timestamp,
    now: ProcessingTime,
    time: ProcessingTimeService,
    _out: PhantomData<fn() -> OUT>,
}

impl<T, K, W, OUT, F> WindowOperator<T, K, W, OUT, F>
where
    T: Clone + Send + 'static,
    K: Hash + Eq + Clone + Send + 'static,
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
            contents: HashMap::new(),
            store: TriggerStore {
                timers: TimerService::default(),
                values: HashMap::new(),
            },
            merging: HashMap::new(),
            watermark: Timestamp::MIN,
            now: 0,
            time: ProcessingTimeService::default(),
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
        let trigger = Arc::clone(&self.trigger);
        let mut scope = KeyScope {
            key,
            store: &mut self.store,
        };
        let mut ctx =
            TriggerContext::new(window.clone(), self.watermark, self.now, merged, &mut scope);
        call(trigger.as_ref(), &mut ctx)
    }

    fn set_cleanup_timer(&mut self, key: &K, window: &W, register: bool) {
        let cleanup = self.cleanup_time(window);
        if cleanup == Timestamp::MAX {
            return;
        }
        let queue = if self.assigner.is_event_time() {
            &mut self.store.timers.event_time
        } else {
            &mut self.store.timers.processing_time
        };
        if register {
            queue.register(cleanup, key, window);
        } else {
            queue.delete(cleanup, key, window);
        }
    }

    fn emit(&mut self, key: &K, window: &W, state_window: &W, out: &mut Output<OUT>) -> UserResult {
        let Some(contents) = self.contents.get_mut(&(key.clone(), state_window.clone())) else {
            return Ok(());
        };
        let ctx = WindowContext::new(window, self.watermark, self.now);
        let mut collector = out.collector(Some(window.max_timestamp()));
        self.function.emit(key, &ctx, contents, &mut collector)
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
            self.contents.remove(&(key.clone(), state_window.clone()));
        }
        Ok(())
    }

    fn add_to_window(&mut self, key: &K, state_window: &W, record: Record<T>) {
        let slot = (key.clone(), state_window.clone());
        let existing = self.contents.remove(&slot);
        let updated = self.function.add(existing, record);
        self.contents.insert(slot, updated);
    }

    /// Adds `window` to the key's merging set, performing the merges it causes.
    fn add_merging_window(&mut self, key: &K, window: W) -> UserResult<W> {
        let assigner = Arc::clone(&self.assigner);
        let (actual, merges) = self
            .merging
            .entry(key.clone())
            .or_default()
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
            let target_slot = (key.clone(), merge.state_window.clone());
            let mut target = self.contents.remove(&target_slot);
            for source_window in &merge.merged_state_windows {
                if let Some(source) = self.contents.remove(&(key.clone(), source_window.clone())) {
                    target = Some(match target {
                        Some(t) => self.function.merge(t, source),
                        None => source,
                    });
                }
            }
            if let Some(target) = target {
                self.contents.insert(target_slot, target);
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
        let merging = self.assigner.is_merging();
        let mut skipped = true;
        for window in windows {
            let (window, state_window) = if merging {
                let actual = self.add_merging_window(&key, window)?;
                if self.is_window_late(&actual) {
                    self.retire(&key, &actual);
                    continue;
                }
                let state_window = self
                    .merging
                    .get(&key)
                    .and_then(|set| set.state_window(&actual))
                    .cloned()
                    .ok_or("merging window set lost a window")?;
                (actual, state_window)
            } else {
                if self.is_window_late(&window) {
                    continue;
                }
                (window.clone(), window)
            };
            skipped = false;
            self.add_to_window(&key, &state_window, record.clone());
            let result = self.trigger_call(&key, &window, &[], |trigger, ctx| {
                trigger.on_element(&record.value, timestamp, &window, ctx)
            });
            self.act(result, &key, &window, &state_window, out)?;
            self.set_cleanup_timer(&key, &window, true);
        }
        if skipped
            && self.is_element_late(timestamp)
            && let Some(tag) = &self.late_tag
        {
            out.sides.emit(tag, record);
        }
        Ok(())
    }

    fn retire(&mut self, key: &K, window: &W) {
        if let Some(set) = self.merging.get_mut(key) {
            set.retire_window(window);
            if set.is_empty() {
                self.merging.remove(key);
            }
        }
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
                .merging
                .get(&key)
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
            self.contents.remove(&(key.clone(), state_window));
            self.trigger_call(&key, &window, &[], |trigger, ctx| {
                trigger.clear(&window, ctx)
            });
            self.retire(&key, &window);
        }
        Ok(())
    }

    fn schedule_processing_time(&mut self) {
        if let Some(earliest) = self.store.timers.processing_time.earliest() {
            self.time.wake_at(earliest);
        }
    }
}

impl<T, K, W, OUT, F> OneInputOperator<T, OUT> for WindowOperator<T, K, W, OUT, F>
where
    T: Clone + Send + 'static,
    K: Hash + Eq + Clone + Send + 'static,
    W: Window,
    OUT: Send + 'static,
    F: InternalWindowFunction<T, K, W, OUT>,
{
    fn open(&mut self, ctx: &OperatorContext) -> UserResult {
        self.time = ctx.processing_time.clone();
        self.now = self.time.now();
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
        while let Some((time, key, window)) = self.store.timers.event_time.pop_due(self.watermark) {
            self.on_timer(time, key, window, true, out)?;
        }
        self.schedule_processing_time();
        Ok(Some(watermark))
    }

    fn on_processing_time(&mut self, now: ProcessingTime, out: &mut Output<OUT>) -> UserResult {
        self.now = now;
        while let Some((time, key, window)) = self.store.timers.processing_time.pop_due(now) {
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
    use crate::output::Collector;
    use crate::processing_time::ManualClock;
    use crate::windowing::{
        BufferedWindowFunction, ContinuousEventTimeTrigger, CountEvictor, CountTrigger, Elements,
        Evictor, GlobalWindow, GlobalWindows, PurgingTrigger, TimeWindow, TumblingWindows,
    };

    type Event = (char, i64);

    /// Emits "key@start..end:[values]" for a time window.
    fn describe_time(
        key: &char,
        ctx: &WindowContext<'_, TimeWindow>,
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
        _: &WindowContext<'_, GlobalWindow>,
        elements: Elements<'_, Event>,
        out: &mut Collector<'_, String>,
    ) -> UserResult {
        let values: Vec<i64> = elements.map(|e| e.1).collect();
        out.collect(format!("{key}:{values:?}"));
        Ok(())
    }

    type DescribeTime = fn(
        &char,
        &WindowContext<'_, TimeWindow>,
        Elements<'_, Event>,
        &mut Collector<'_, String>,
    ) -> UserResult;
    type DescribeGlobal = fn(
        &char,
        &WindowContext<'_, GlobalWindow>,
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
}
