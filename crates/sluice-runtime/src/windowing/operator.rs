//! The window operator: assigns each element of a key to windows, keeps their contents, runs
//! the trigger, emits through the window function, and cleans windows up once they can no
//! longer receive elements — Flink's `WindowOperator`, step for step.

use std::sync::Arc;

use sluice_core::DEFAULT_MAX_PARALLELISM;
use sluice_core::key_selector::OwnedKeyFn;
use sluice_state::{HeapTable, KeyedTable, OperatorSnapshot};

use sluice_core::{Record, Timestamp, UserResult, Watermark};

use super::assigners::WindowAssigner;
use super::function_state::FunctionState;
use super::functions::InternalWindowFunction;
use super::lateness::Lateness;
use super::store::{KeyScope, KeyWindows, TimerQueues};
use super::triggers::{Trigger, TriggerContext, TriggerResult};
use super::window::Window;
use crate::task::operator::{OneInputOperator, OperatorContext, StreamOperator, WatermarkOut};
use crate::task::output::Output;
use crate::time::processing_time::{ProcessingTime, ProcessingTimeService};

/// The name the window contents are snapshotted under.
const WINDOWS_STATE: &str = "window-contents";

/// One key's windows in an operator running `F`.
type KeyWindowsOf<F> =
    KeyWindows<<F as InternalWindowFunction>::Window, <F as InternalWindowFunction>::Contents>;

/// The per-key table of a window operator running `F`.
type WindowTable<F> = Box<dyn KeyedTable<<F as InternalWindowFunction>::Key, KeyWindowsOf<F>>>;

/// Keyed windows over the records of the window function `F`, emitting through it.
pub struct WindowOperator<F: InternalWindowFunction> {
    key_selector: OwnedKeyFn<F::In, F::Key>,
    assigner: Arc<dyn WindowAssigner<F::In, F::Window>>,
    trigger: Arc<dyn Trigger<F::In, F::Window>>,
    lateness: Lateness<F::In>,
    function: F,
    windows: WindowTable<F>,
    timers: TimerQueues<F::Key, F::Window>,
    watermark: Timestamp,
    now: ProcessingTime,
    time: ProcessingTimeService,
    /// The window function's keyed state (per window and per key).
    function_state: FunctionState,
}

impl<F: InternalWindowFunction<In: Clone>> WindowOperator<F> {
    /// A window operator.
    pub fn new(
        key_selector: OwnedKeyFn<F::In, F::Key>,
        assigner: Arc<dyn WindowAssigner<F::In, F::Window>>,
        trigger: Arc<dyn Trigger<F::In, F::Window>>,
        lateness: Lateness<F::In>,
        function: F,
    ) -> Self {
        WindowOperator {
            key_selector,
            assigner,
            trigger,
            lateness,
            function,
            windows: Box::new(HeapTable::new(WINDOWS_STATE, DEFAULT_MAX_PARALLELISM)),
            timers: TimerQueues::default(),
            watermark: Timestamp::MIN,
            now: 0,
            time: ProcessingTimeService::default(),
            function_state: FunctionState::default(),
        }
    }

    /// When a window's state is dropped: its end plus the allowed lateness (event time; never
    /// when that overflows), or its end (processing time).
    fn cleanup_time(&self, window: &F::Window) -> Timestamp {
        if self.assigner.is_event_time() {
            self.lateness.cleanup_time(window.max_timestamp())
        } else {
            window.max_timestamp()
        }
    }

    fn is_window_late(&self, window: &F::Window) -> bool {
        self.assigner.is_event_time() && self.cleanup_time(window) <= self.watermark
    }

    fn is_element_late(&self, timestamp: Timestamp) -> bool {
        self.assigner.is_event_time() && self.lateness.is_late(timestamp, self.watermark)
    }

    /// Takes `key`'s windows out of the table (empty when it has none).
    fn take_key(&mut self, key: &F::Key) -> UserResult<KeyWindowsOf<F>> {
        Ok(self.windows.take(key)?.unwrap_or_default())
    }

    /// Puts `key`'s windows back, unless nothing is left of them.
    fn put_key(&mut self, key: F::Key, windows: KeyWindowsOf<F>) -> UserResult {
        let empty = windows.is_empty();
        Ok(self.windows.put_back(key, windows, empty)?)
    }

    fn scope<'a>(
        &'a mut self,
        key: &'a F::Key,
        windows: &'a mut KeyWindowsOf<F>,
    ) -> KeyScope<'a, F::Key, F::Window, F::Contents> {
        KeyScope {
            key,
            windows,
            timers: &mut self.timers,
        }
    }

    fn trigger_call<R>(
        &mut self,
        key: &F::Key,
        windows: &mut KeyWindowsOf<F>,
        window: &F::Window,
        merged: &[F::Window],
        call: impl FnOnce(&dyn Trigger<F::In, F::Window>, &mut TriggerContext<'_, F::Window>) -> R,
    ) -> R {
        let trigger = Arc::clone(&self.trigger);
        let (watermark, now) = (self.watermark, self.now);
        let mut scope = self.scope(key, windows);
        let mut ctx = TriggerContext::new(window.clone(), watermark, now, merged, &mut scope);
        call(trigger.as_ref(), &mut ctx)
    }

    fn set_cleanup_timer(
        &mut self,
        key: &F::Key,
        windows: &mut KeyWindowsOf<F>,
        window: &F::Window,
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

    /// Lets the window function clear the per-window state of a window being dropped.
    fn clear_function_state(&mut self, key: &F::Key, window: &F::Window) -> UserResult {
        let times = (self.watermark, self.now);
        self.function_state
            .clear(&mut self.function, key, window, times)
    }

    /// Applies a trigger decision to `window` (contents in `state_window`).
    fn act(
        &mut self,
        result: TriggerResult,
        key: &F::Key,
        windows: &mut KeyWindowsOf<F>,
        window: &F::Window,
        state_window: &F::Window,
        out: &mut Output<F::Out>,
    ) -> UserResult {
        if result.is_fire()
            && let Some(contents) = windows
                .get_mut(state_window)
                .and_then(|slot| slot.contents.as_mut())
        {
            let times = (self.watermark, self.now);
            self.function_state
                .emit(&mut self.function, key, window, contents, times, out)?;
        }
        if result.is_purge() {
            windows.take_contents(state_window);
        }
        Ok(())
    }

    /// Adds `window` to the key's merging set, performing the merges it causes.
    fn add_merging_window(
        &mut self,
        key: &F::Key,
        windows: &mut KeyWindowsOf<F>,
        window: F::Window,
    ) -> UserResult<F::Window> {
        let assigner = Arc::clone(&self.assigner);
        let (actual, merges) = windows
            .merging
            .add_window(window, |all| assigner.merge_windows(all));
        for merge in merges {
            if self.assigner.is_event_time()
                && self
                    .lateness
                    .is_late(merge.result.max_timestamp(), self.watermark)
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
                |trigger, ctx| trigger.on_merge(ctx),
            );
            for merged in &merge.merged {
                self.trigger_call(key, windows, merged, &[], |trigger, ctx| trigger.clear(ctx));
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

    fn process_record(&mut self, record: Record<F::In>, out: &mut Output<F::Out>) -> UserResult {
        let key = (self.key_selector)(&record.value);
        let mut windows = self.take_key(&key)?;
        let result = self.process_key_record(&key, &mut windows, record, out);
        self.put_key(key, windows)?;
        result
    }

    fn process_key_record(
        &mut self,
        key: &F::Key,
        windows: &mut KeyWindowsOf<F>,
        record: Record<F::In>,
        out: &mut Output<F::Out>,
    ) -> UserResult {
        let timestamp = record.timestamp.unwrap_or(Timestamp::MIN);
        let assigned = self
            .assigner
            .assign_windows(&record.value, timestamp, self.now)?;
        // Every window but the last gets a copy; the last takes the record itself, so a
        // record of one window (tumbling) is never copied.
        let mut pending: Option<(F::Window, F::Window)> = None;
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
                if self.is_element_late(timestamp) {
                    self.lateness.drop_late(record, out);
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
        key: &F::Key,
        windows: &mut KeyWindowsOf<F>,
        window: &F::Window,
        state_window: &F::Window,
        record: Record<F::In>,
        timestamp: Timestamp,
        out: &mut Output<F::Out>,
    ) -> UserResult {
        let result = self.trigger_call(key, windows, window, &[], |trigger, ctx| {
            trigger.on_element(&record.value, timestamp, ctx)
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
        out: &mut Output<F::Out>,
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
        key: &F::Key,
        windows: &mut KeyWindowsOf<F>,
        window: F::Window,
        event_time: bool,
        out: &mut Output<F::Out>,
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
                trigger.on_event_time(time, ctx)
            } else {
                trigger.on_processing_time(time, ctx)
            }
        });
        self.act(result, key, windows, &window, &state_window, out)?;
        if event_time == self.assigner.is_event_time() && time == self.cleanup_time(&window) {
            windows.take_contents(&state_window);
            self.trigger_call(key, windows, &window, &[], |trigger, ctx| {
                trigger.clear(ctx)
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

impl<T: Clone, OUT, F: InternalWindowFunction<In = T, Out = OUT>> OneInputOperator<T, OUT>
    for WindowOperator<F>
{
    fn process_batch(&mut self, batch: &mut Vec<Record<T>>, out: &mut Output<OUT>) -> UserResult {
        self.now = self.time.now();
        for record in batch.drain(..) {
            self.process_record(record, out)?;
        }
        self.schedule_processing_time();
        Ok(())
    }
}

impl<T: Clone, OUT, F: InternalWindowFunction<In = T, Out = OUT>> StreamOperator<T, OUT>
    for WindowOperator<F>
{
    fn process_watermark(&mut self, watermark: Watermark, out: &mut Output<OUT>) -> WatermarkOut {
        self.watermark = self.watermark.max(watermark.0);
        self.fire_timers(true, self.watermark, out)?;
        Ok(Some(watermark))
    }

    fn on_processing_time(&mut self, now: ProcessingTime, out: &mut Output<OUT>) -> UserResult {
        self.now = now;
        self.fire_timers(false, now, out)
    }

    fn open(&mut self, ctx: &OperatorContext) -> UserResult {
        self.time = ctx.processing_time.clone();
        self.now = self.time.now();
        self.function_state = FunctionState::for_operator(ctx)?;
        self.windows = Box::new(ctx.keyed_store(WINDOWS_STATE)?);
        Ok(())
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
mod tests;
