//! The window operator: assigns each element of a key to windows, keeps their contents, runs
//! the trigger, emits through the window function, and cleans windows up once they can no
//! longer receive elements — Flink's `WindowOperator`, step for step.

use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sluice_state::{HeapTable, KeyedStore, KeyedTable, OperatorSnapshot};

use sluice_core::{Record, Timestamp, UserResult, Watermark};

use super::assigners::WindowAssigner;
use super::function_state::FunctionState;
use super::functions::InternalWindowFunction;
use super::store::{KeyScope, KeyWindows, TimerQueues};
use super::triggers::{Trigger, TriggerContext, TriggerResult};
use super::window::{Window, cleanup_time};
use crate::task::operator::{OneInputOperator, OperatorContext};
use crate::task::output::{Output, OutputTag};
use crate::time::processing_time::{ProcessingTime, ProcessingTimeService};

/// The name the window contents are snapshotted under.
const WINDOWS_STATE: &str = "window-contents";

/// The per-key table of a window operator.
type WindowTable<K, W, C> = Box<dyn KeyedTable<K, KeyWindows<W, C>>>;

/// Keyed windows over records of type `T`, emitting `OUT` through the window function `F`.
pub struct WindowOperator<T, K, W, OUT, F: InternalWindowFunction<T, K, W, OUT>> {
    key_selector: Arc<dyn Fn(&T) -> K + Send + Sync>,
    assigner: Arc<dyn WindowAssigner<T, W>>,
    trigger: Arc<dyn Trigger<T, W>>,
    allowed_lateness: i64,
    late_tag: Option<OutputTag<T>>,
    function: F,
    windows: WindowTable<K, W, F::Contents>,
    timers: TimerQueues<K, W>,
    watermark: Timestamp,
    now: ProcessingTime,
    time: ProcessingTimeService,
    /// The window function's keyed state (per window and per key).
    function_state: FunctionState,
    _out: PhantomData<fn() -> OUT>,
}

impl<T, K, W, OUT, F> WindowOperator<T, K, W, OUT, F>
where
    T: Clone + Send + 'static,
    K: Hash + Eq + Clone + Serialize + DeserializeOwned + Send + 'static,
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
        let max_parallelism = sluice_core::DEFAULT_MAX_PARALLELISM;
        WindowOperator {
            key_selector,
            assigner,
            trigger,
            allowed_lateness,
            late_tag,
            function,
            windows: Box::new(HeapTable::new(WINDOWS_STATE, max_parallelism)),
            timers: TimerQueues::default(),
            watermark: Timestamp::MIN,
            now: 0,
            time: ProcessingTimeService::default(),
            function_state: FunctionState::new(max_parallelism),
            _out: PhantomData,
        }
    }

    /// When a window's state is dropped: its end plus the allowed lateness (event time; never
    /// when that overflows), or its end (processing time).
    fn cleanup_time(&self, window: &W) -> Timestamp {
        if self.assigner.is_event_time() {
            cleanup_time(window.max_timestamp(), self.allowed_lateness)
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

    /// Takes `key`'s windows out of the table (empty when it has none).
    fn take_key(&mut self, key: &K) -> UserResult<KeyWindows<W, F::Contents>> {
        Ok(self.windows.take(key)?.unwrap_or_default())
    }

    /// Puts `key`'s windows back, unless nothing is left of them.
    fn put_key(&mut self, key: K, windows: KeyWindows<W, F::Contents>) -> UserResult {
        let empty = windows.is_empty();
        Ok(self.windows.put_back(key, windows, empty)?)
    }

    fn scope<'a>(
        &'a mut self,
        key: &'a K,
        windows: &'a mut KeyWindows<W, F::Contents>,
    ) -> KeyScope<'a, K, W, F::Contents> {
        KeyScope {
            key,
            windows,
            timers: &mut self.timers,
        }
    }

    fn trigger_call<R>(
        &mut self,
        key: &K,
        windows: &mut KeyWindows<W, F::Contents>,
        window: &W,
        merged: &[W],
        call: impl FnOnce(&dyn Trigger<T, W>, &mut TriggerContext<'_, W>) -> R,
    ) -> R {
        let trigger = Arc::clone(&self.trigger);
        let (watermark, now) = (self.watermark, self.now);
        let mut scope = self.scope(key, windows);
        let mut ctx = TriggerContext::new(window.clone(), watermark, now, merged, &mut scope);
        call(trigger.as_ref(), &mut ctx)
    }

    fn set_cleanup_timer(
        &mut self,
        key: &K,
        windows: &mut KeyWindows<W, F::Contents>,
        window: &W,
        register: bool,
    ) {
        let cleanup = self.cleanup_time(window);
        if cleanup == Timestamp::MAX {
            return;
        }
        let event_time = self.assigner.is_event_time();
        let mut scope = self.scope(key, windows);
        if register {
            scope.register(window, event_time, cleanup);
        } else {
            scope.delete(window, event_time, cleanup);
        }
    }

    fn emit(
        &mut self,
        key: &K,
        windows: &mut KeyWindows<W, F::Contents>,
        window: &W,
        state_window: &W,
        out: &mut Output<OUT>,
    ) -> UserResult {
        let Some(contents) = windows
            .get_mut(state_window)
            .and_then(|slot| slot.contents.as_mut())
        else {
            return Ok(());
        };
        let function = &mut self.function;
        let times = (self.watermark, self.now);
        self.function_state
            .emit(key, window, times, out, |ctx, collector| {
                function.emit(key, ctx, contents, collector)
            })
    }

    /// Lets the window function clear the per-window state of a window being dropped.
    fn clear_function_state(&mut self, key: &K, window: &W) -> UserResult {
        let function = &mut self.function;
        let times = (self.watermark, self.now);
        self.function_state
            .with_context(key, window, times, |ctx| function.clear(key, ctx))
    }

    /// Applies a trigger decision to `window` (contents in `state_window`).
    fn act(
        &mut self,
        result: TriggerResult,
        key: &K,
        windows: &mut KeyWindows<W, F::Contents>,
        window: &W,
        state_window: &W,
        out: &mut Output<OUT>,
    ) -> UserResult {
        if result.is_fire() {
            self.emit(key, windows, window, state_window, out)?;
        }
        if result.is_purge() {
            windows.take_contents(state_window);
        }
        Ok(())
    }

    /// Adds `window` to the key's merging set, performing the merges it causes.
    fn add_merging_window(
        &mut self,
        key: &K,
        windows: &mut KeyWindows<W, F::Contents>,
        window: W,
    ) -> UserResult<W> {
        let assigner = Arc::clone(&self.assigner);
        let (actual, merges) = windows
            .merging
            .add_window(window, |all| assigner.merge_windows(all));
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
            self.trigger_call(
                key,
                windows,
                &merge.result,
                &merge.merged,
                |trigger, ctx| trigger.on_merge(&merge.result, ctx),
            );
            for merged in &merge.merged {
                self.trigger_call(key, windows, merged, &[], |trigger, ctx| {
                    trigger.clear(merged, ctx)
                });
                self.set_cleanup_timer(key, windows, merged, false);
            }
            for source_window in &merge.merged_state_windows {
                if let Some(source) = windows.take_contents(source_window) {
                    let target = windows.slot(&merge.state_window);
                    target.contents = Some(match target.contents.take() {
                        Some(t) => self.function.merge(t, source),
                        None => source,
                    });
                }
            }
        }
        Ok(actual)
    }

    fn process_record(&mut self, record: Record<T>, out: &mut Output<OUT>) -> UserResult {
        let key = (self.key_selector)(&record.value);
        let mut windows = self.take_key(&key)?;
        let result = self.process_key_record(&key, &mut windows, record, out);
        self.put_key(key, windows)?;
        result
    }

    fn process_key_record(
        &mut self,
        key: &K,
        windows: &mut KeyWindows<W, F::Contents>,
        record: Record<T>,
        out: &mut Output<OUT>,
    ) -> UserResult {
        let timestamp = record.timestamp.unwrap_or(Timestamp::MIN);
        let assigned = self
            .assigner
            .assign_windows(&record.value, timestamp, self.now)?;
        // Every window but the last gets a copy; the last takes the record itself, so a
        // record of one window (tumbling) is never copied.
        let mut pending: Option<(W, W)> = None;
        for window in assigned {
            let target = if self.assigner.is_merging() {
                let actual = self.add_merging_window(key, windows, window)?;
                if self.is_window_late(&actual) {
                    windows.merging.retire_window(&actual);
                    continue;
                }
                let state_window = windows
                    .merging
                    .state_window(&actual)
                    .cloned()
                    .ok_or("merging window set lost a window")?;
                (actual, state_window)
            } else if self.is_window_late(&window) {
                continue;
            } else {
                (window.clone(), window)
            };
            if let Some((window, state_window)) = pending.replace(target) {
                let copy = record.clone();
                self.add_and_trigger(key, windows, &window, &state_window, copy, timestamp, out)?;
            }
        }
        match pending {
            Some((window, state_window)) => {
                self.add_and_trigger(key, windows, &window, &state_window, record, timestamp, out)
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
    #[allow(clippy::too_many_arguments)]
    fn add_and_trigger(
        &mut self,
        key: &K,
        windows: &mut KeyWindows<W, F::Contents>,
        window: &W,
        state_window: &W,
        record: Record<T>,
        timestamp: Timestamp,
        out: &mut Output<OUT>,
    ) -> UserResult {
        let result = self.trigger_call(key, windows, window, &[], |trigger, ctx| {
            trigger.on_element(&record.value, timestamp, window, ctx)
        });
        let function = &mut self.function;
        let contents = windows
            .slot(state_window)
            .contents
            .get_or_insert_with(|| function.create());
        function.add(contents, record);
        self.act(result, key, windows, window, state_window, out)?;
        self.set_cleanup_timer(key, windows, window, true);
        Ok(())
    }

    /// Fires due timers of one domain up to `limit`.
    fn fire_timers(
        &mut self,
        event_time: bool,
        limit: Timestamp,
        out: &mut Output<OUT>,
    ) -> UserResult {
        while let Some((time, key, window)) = self.timers.pop_due(event_time, limit) {
            let Some(mut windows) = self.windows.take(&key)? else {
                continue;
            };
            let result = if windows.remove_timer(&window, (event_time, time)) {
                self.on_timer(time, &key, &mut windows, window, event_time, out)
            } else {
                Ok(())
            };
            self.put_key(key, windows)?;
            result?;
        }
        self.schedule_processing_time();
        Ok(())
    }

    fn on_timer(
        &mut self,
        time: Timestamp,
        key: &K,
        windows: &mut KeyWindows<W, F::Contents>,
        window: W,
        event_time: bool,
        out: &mut Output<OUT>,
    ) -> UserResult {
        let state_window = if self.assigner.is_merging() {
            match windows.merging.state_window(&window) {
                Some(state_window) => state_window.clone(),
                None => return Ok(()),
            }
        } else {
            window.clone()
        };
        let result = self.trigger_call(key, windows, &window, &[], |trigger, ctx| {
            if event_time {
                trigger.on_event_time(time, &window, ctx)
            } else {
                trigger.on_processing_time(time, &window, ctx)
            }
        });
        self.act(result, key, windows, &window, &state_window, out)?;
        if event_time == self.assigner.is_event_time() && time == self.cleanup_time(&window) {
            windows.take_contents(&state_window);
            self.trigger_call(key, windows, &window, &[], |trigger, ctx| {
                trigger.clear(&window, ctx)
            });
            self.clear_function_state(key, &window)?;
            windows.merging.retire_window(&window);
        }
        Ok(())
    }

    fn schedule_processing_time(&mut self) {
        if let Some(earliest) = self.timers.earliest_processing_time() {
            self.time.wake_at(earliest);
        }
    }
}

impl<T, K, W, OUT, F> OneInputOperator<T, OUT> for WindowOperator<T, K, W, OUT, F>
where
    T: Clone + Send + 'static,
    K: Hash + Eq + Clone + Serialize + DeserializeOwned + Send + 'static,
    W: Window,
    OUT: Send + 'static,
    F: InternalWindowFunction<T, K, W, OUT>,
{
    fn open(&mut self, ctx: &OperatorContext) -> UserResult {
        self.time = ctx.processing_time.clone();
        self.now = self.time.now();
        self.function_state = FunctionState::for_operator(ctx)?;
        self.windows = Box::new(KeyedStore::new(
            WINDOWS_STATE,
            &*ctx.state_backend,
            ctx.backend_scope(),
        )?);
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
        self.fire_timers(true, self.watermark, out)?;
        Ok(Some(watermark))
    }

    fn on_processing_time(&mut self, now: ProcessingTime, out: &mut Output<OUT>) -> UserResult {
        self.now = now;
        self.fire_timers(false, now, out)
    }

    /// Window contents, trigger values and timers per key, and the window function's state.
    fn snapshot_state(&mut self, snapshot: &mut OperatorSnapshot) -> UserResult {
        self.windows.snapshot(&mut snapshot.keyed)?;
        self.function_state.snapshot(&mut snapshot.keyed)?;
        Ok(())
    }

    /// Loads the windows of this subtask's key groups and requeues their timers.
    fn restore_state(&mut self, restored: &OperatorSnapshot) -> UserResult {
        let timers = &mut self.timers;
        self.windows.restore(&restored.keyed, &mut |key, windows| {
            for (window, event_time, time) in windows.timers() {
                timers.push(event_time, time, key, window);
            }
        })?;
        self.function_state
            .restore(&restored.keyed, &[WINDOWS_STATE])?;
        self.schedule_processing_time();
        Ok(())
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> UserResult {
        self.windows.notify_checkpoint_complete(checkpoint_id);
        self.function_state
            .notify_checkpoint_complete(checkpoint_id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::harness::OneInputHarness;
    use crate::task::output::{Collector, OutputTag};
    use crate::time::processing_time::ManualClock;
    use crate::windowing::WindowContext;
    use crate::windowing::{
        BufferedWindowFunction, ContinuousEventTimeTrigger, ContinuousProcessingTimeTrigger,
        CountEvictor, CountTrigger, DynamicSessionWindows, Elements, EventTimeTrigger, Evictor,
        GlobalWindow, GlobalWindows, PurgingTrigger, SessionWindows, SlidingWindows, TimeEvictor,
        TimeWindow, TumblingWindows,
    };
    use sluice_core::key_group::assign_to_key_group;

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

    /// Out-of-order events of five keys with watermarks 20 ms behind, for restore tests.
    fn restore_inputs(seed: u64) -> Vec<crate::harness::Input<Event>> {
        use crate::harness::Input;
        let mut state = seed;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            state >> 33
        };
        let mut inputs = Vec::new();
        for i in 0..300i64 {
            let key = (b'a' + (next() % 5) as u8) as char;
            let timestamp = i * 3 - (next() % 25) as i64;
            inputs.push(Input::Record(Record::with_timestamp((key, i), timestamp)));
            if i % 7 == 0 {
                inputs.push(Input::Watermark(Watermark(i * 3 - 20)));
            }
        }
        inputs
    }

    fn restore_matches_uninterrupted<Op: OneInputOperator<Event, String> + 'static>(
        make: impl Fn() -> Op,
    ) {
        let key_group = |e: &Event| assign_to_key_group(&e.0, sluice_core::DEFAULT_MAX_PARALLELISM);
        for seed in 1..4 {
            let inputs = restore_inputs(seed);
            let expected = crate::harness::run_uninterrupted(&make, &inputs);
            assert!(!expected.is_empty());
            for split in [0, 50, 211, inputs.len()] {
                for parallelism in 1..=3 {
                    let (before, after) = inputs.split_at(split);
                    let restored = crate::harness::run_with_restore(
                        &make,
                        before,
                        after,
                        parallelism,
                        key_group,
                    );
                    assert_eq!(
                        restored, expected,
                        "seed {seed}, split {split}, p={parallelism}"
                    );
                }
            }
        }
    }

    #[test]
    fn windows_restore_at_any_parallelism_with_the_same_results() {
        restore_matches_uninterrupted(|| {
            time_operator(
                Arc::new(SessionWindows::event_time_with_gap(Duration::from_millis(
                    8,
                ))),
                Arc::new(crate::windowing::EventTimeTrigger),
            )
        });
        restore_matches_uninterrupted(|| {
            let mut operator = time_operator(
                Arc::new(SlidingWindows::event_time(
                    Duration::from_millis(30),
                    Duration::from_millis(10),
                )),
                Arc::new(crate::windowing::EventTimeTrigger),
            );
            operator.allowed_lateness = 15;
            operator
        });
        restore_matches_uninterrupted(|| {
            global_operator(Arc::new(PurgingTrigger::of(CountTrigger::of(3))), None)
        });
    }
}
