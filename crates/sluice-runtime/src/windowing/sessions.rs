//! Event-time session windows with a static gap and the default trigger, without the general
//! machinery: each key keeps its sessions as a sorted vector of (window, contents, whether its
//! end timer is pending), an element finds the sessions its window `[t, t + gap)` touches and
//! merges them in place, and timers name the window they were set for (a timer whose window
//! merged away is stale and skipped).
//!
//! Observable behaviour is exactly the window operator's with `SessionWindows` and the
//! event-time trigger (Flink's `MergingWindowSet` and `EventTimeTrigger`): the same windows
//! fire at the same watermarks with the same contents, a window still inside the allowed
//! lateness fires again for each element added to it, an element whose own window is late and
//! touches no live session goes to the late output, and a session is dropped at its end plus
//! the allowed lateness.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sluice_core::DEFAULT_MAX_PARALLELISM;
use sluice_core::key_selector::OwnedKeyFn;
use sluice_core::{Record, Timestamp, UserResult, Watermark};
use sluice_state::{HeapTable, KeyedStore, KeyedTable, OperatorSnapshot};

use super::function_state::FunctionState;
use super::functions::InternalWindowFunction;
use super::lateness::Lateness;
use super::window::{TimeWindow, Window, typed};
use crate::task::operator::{OneInputOperator, OperatorContext, StreamOperator, WatermarkOut};
use crate::task::output::Output;
use crate::time::processing_time::{ProcessingTime, ProcessingTimeService};

/// The name the sessions are snapshotted under.
const SESSIONS_STATE: &str = "session-windows";

/// One live session of a key.
#[derive(Serialize, Deserialize)]
struct Session<C> {
    window: TimeWindow,
    contents: C,
    /// Whether a timer at the window's end is registered (it fires the window).
    end_timer: bool,
}

/// Session windows of a static gap over event time.
pub struct SessionWindowOperator<F: InternalWindowFunction> {
    key_selector: OwnedKeyFn<F::In, F::Key>,
    /// Each key's live sessions, sorted and disjoint.
    sessions: KeyedStore<F::Key, Vec<Session<F::Contents>>>,
    logic: SessionLogic<F>,
}

/// What the operator does with one key's sessions: everything but the table that holds them,
/// so the table can lend a key's sessions to it in place.
struct SessionLogic<F: InternalWindowFunction> {
    gap: i64,
    lateness: Lateness<F::In>,
    function: F,
    /// Window-end and cleanup timers by time: (key, window).
    timers: BTreeMap<Timestamp, Vec<(F::Key, TimeWindow)>>,
    watermark: Timestamp,
    time: ProcessingTimeService,
    /// Processing time as of the current batch or watermark.
    now: ProcessingTime,
    /// The window function's keyed state.
    function_state: FunctionState,
}

impl<F: InternalWindowFunction> SessionWindowOperator<F> {
    /// Sessions closing after `gap` ms without elements.
    pub fn new(
        key_selector: OwnedKeyFn<F::In, F::Key>,
        gap: i64,
        lateness: Lateness<F::In>,
        function: F,
    ) -> Self {
        SessionWindowOperator {
            key_selector,
            sessions: KeyedStore::Heap(HeapTable::new(SESSIONS_STATE, DEFAULT_MAX_PARALLELISM)),
            logic: SessionLogic {
                gap,
                lateness,
                function,
                timers: BTreeMap::new(),
                watermark: Timestamp::MIN,
                time: ProcessingTimeService::default(),
                now: 0,
                function_state: FunctionState::default(),
            },
        }
    }

    fn process_record(&mut self, record: Record<F::In>, out: &mut Output<F::Out>) -> UserResult {
        let Some(timestamp) = record.timestamp.filter(|t| *t != Timestamp::MIN) else {
            return Err("record has no timestamp but event-time session windows need one: assign timestamps and watermarks first".into());
        };
        let key = (self.key_selector)(&record.value);
        let logic = &mut self.logic;
        self.sessions.update(&key, Vec::is_empty, |sessions| {
            logic.add(&key, sessions, timestamp, record, out)
        })?
    }

    fn on_timer(
        &mut self,
        time: Timestamp,
        key: F::Key,
        window: TimeWindow,
        out: &mut Output<F::Out>,
    ) -> UserResult {
        let logic = &mut self.logic;
        self.sessions.update(&key, Vec::is_empty, |sessions| {
            logic.fire(time, &key, sessions, window, out)
        })?
    }
}

impl<F: InternalWindowFunction> SessionLogic<F> {
    fn cleanup_time(&self, window: &TimeWindow) -> Timestamp {
        self.lateness.cleanup_time(window.max_timestamp())
    }

    fn timer(&mut self, time: Timestamp, key: &F::Key, window: TimeWindow) {
        self.timers
            .entry(time)
            .or_default()
            .push((key.clone(), window));
    }

    /// Registers the timers of a new or grown session: at its end unless that already
    /// passed, and at its cleanup time.
    fn register(&mut self, key: &F::Key, session: &mut Session<F::Contents>) {
        session.end_timer = session.window.max_timestamp() > self.watermark;
        self.queue_timers(key, session.window, session.end_timer);
    }

    /// Queues the end timer (when `end_timer`) and the cleanup timer (unless it never comes or
    /// is the end timer) of `window`.
    fn queue_timers(&mut self, key: &F::Key, window: TimeWindow, end_timer: bool) {
        let (end, cleanup) = (window.max_timestamp(), self.cleanup_time(&window));
        if end_timer {
            self.timer(end, key, window);
        }
        if cleanup != Timestamp::MAX && !(end_timer && cleanup == end) {
            self.timer(cleanup, key, window);
        }
    }

    fn emit(
        &mut self,
        key: &F::Key,
        window: &TimeWindow,
        contents: &mut F::Contents,
        out: &mut Output<F::Out>,
    ) -> UserResult {
        let times = (self.watermark, self.now);
        self.function_state.emit(
            &mut self.function,
            key,
            &typed(window)?,
            contents,
            times,
            out,
        )
    }

    fn add(
        &mut self,
        key: &F::Key,
        sessions: &mut Vec<Session<F::Contents>>,
        timestamp: Timestamp,
        record: Record<F::In>,
        out: &mut Output<F::Out>,
    ) -> UserResult {
        let window = TimeWindow::new(timestamp, timestamp.wrapping_add(self.gap));
        // Sessions are disjoint and sorted, so those touching `window` are contiguous.
        let first = sessions.partition_point(|s| s.window.end < window.start);
        let touching = sessions[first..]
            .iter()
            .take_while(|s| s.window.intersects(&window))
            .count();
        let position = if touching == 0 {
            if self.cleanup_time(&window) <= self.watermark {
                if self.lateness.is_late(timestamp, self.watermark) {
                    self.lateness.drop_late(record, out);
                }
                return Ok(());
            }
            let mut session = Session {
                window,
                contents: self.function.create(),
                end_timer: false,
            };
            self.register(key, &mut session);
            sessions.insert(first, session);
            first
        } else {
            let mut merged = sessions.drain(first..first + touching);
            let mut session = merged.next().expect("touching > 0");
            for other in merged {
                session.window = session.window.cover(&other.window);
                session.contents = self.function.merge(session.contents, other.contents);
            }
            let grown = session.window.cover(&window);
            if touching > 1 || grown != session.window {
                // Windows merged (or the session grew): the old windows' timers go stale.
                session.window = grown;
                self.register(key, &mut session);
            }
            sessions.insert(first, session);
            first
        };
        let session = &mut sessions[position];
        self.function.add(&mut session.contents, record);
        if session.window.max_timestamp() <= self.watermark {
            // The event-time trigger fires a window at once when its end already passed.
            let window = session.window;
            return self.emit(key, &window, &mut sessions[position].contents, out);
        }
        Ok(())
    }

    fn fire(
        &mut self,
        time: Timestamp,
        key: &F::Key,
        sessions: &mut Vec<Session<F::Contents>>,
        window: TimeWindow,
        out: &mut Output<F::Out>,
    ) -> UserResult {
        let Some(position) = sessions.iter().position(|s| s.window == window) else {
            return Ok(());
        };
        if time == window.max_timestamp() && sessions[position].end_timer {
            sessions[position].end_timer = false;
            self.emit(key, &window, &mut sessions[position].contents, out)?;
        }
        if time == self.cleanup_time(&window) {
            sessions.remove(position);
            let times = (self.watermark, self.now);
            self.function_state
                .clear(&mut self.function, key, &typed(&window)?, times)?;
        }
        Ok(())
    }
}

impl<T, OUT, F: InternalWindowFunction<In = T, Out = OUT>> OneInputOperator<T, OUT>
    for SessionWindowOperator<F>
{
    fn process_batch(&mut self, batch: &mut Vec<Record<T>>, out: &mut Output<OUT>) -> UserResult {
        self.logic.now = self.logic.time.now();
        for record in batch.drain(..) {
            self.process_record(record, out)?;
        }
        Ok(())
    }
}

impl<T, OUT, F: InternalWindowFunction<In = T, Out = OUT>> StreamOperator<T, OUT>
    for SessionWindowOperator<F>
{
    fn process_watermark(&mut self, watermark: Watermark, out: &mut Output<OUT>) -> WatermarkOut {
        self.logic.now = self.logic.time.now();
        self.logic.watermark = self.logic.watermark.max(watermark.0);
        while let Some(mut entry) = self.logic.timers.first_entry() {
            let time = *entry.key();
            if time > self.logic.watermark {
                break;
            }
            let Some((key, window)) = entry.get_mut().pop() else {
                entry.remove();
                continue;
            };
            self.on_timer(time, key, window, out)?;
        }
        Ok(Some(watermark))
    }

    fn open(&mut self, ctx: &OperatorContext) -> UserResult {
        self.logic.time = ctx.processing_time.clone();
        self.logic.function_state = FunctionState::for_operator(ctx)?;
        self.sessions = ctx.keyed_store(SESSIONS_STATE)?;
        Ok(())
    }

    /// Every key's sessions and the window function's state.
    fn snapshot_state(&mut self, snapshot: &mut OperatorSnapshot) -> UserResult {
        self.sessions.snapshot(&mut snapshot.keyed)?;
        self.logic.function_state.snapshot(&mut snapshot.keyed)?;
        Ok(())
    }

    /// Loads this subtask's sessions and requeues their timers.
    fn restore_state(&mut self, restored: &OperatorSnapshot) -> UserResult {
        let mut due = Vec::new();
        self.sessions
            .restore(&restored.keyed, &mut |key, sessions| {
                for session in sessions {
                    due.push((key.clone(), session.window, session.end_timer));
                }
            })?;
        for (key, window, end_timer) in due {
            self.logic.queue_timers(&key, window, end_timer);
        }
        self.logic
            .function_state
            .restore(&restored.keyed, &[SESSIONS_STATE])?;
        Ok(())
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> UserResult {
        self.sessions.notify_checkpoint_complete(checkpoint_id);
        self.logic
            .function_state
            .notify_checkpoint_complete(checkpoint_id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use sluice_core::key_group::assign_to_key_group;

    use super::super::test_support::{Event, inputs, late, run};
    use super::*;
    use crate::harness::{OneInputHarness, run_uninterrupted, run_with_restore};
    use crate::task::output::Collector;
    use crate::windowing::{
        BufferedWindowFunction, Elements, EventTimeTrigger, SessionWindows, WindowContext,
        WindowOperator,
    };

    fn describe(
        key: &u8,
        ctx: &mut WindowContext<'_, TimeWindow>,
        elements: Elements<'_, Event>,
        out: &mut Collector<'_, String>,
    ) -> UserResult {
        let mut values: Vec<i64> = elements.map(|e| e.1).collect();
        values.sort_unstable();
        let w = ctx.window();
        out.collect(format!("{key}@{}..{}:{values:?}", w.start, w.end));
        Ok(())
    }

    type Describe = fn(
        &u8,
        &mut WindowContext<'_, TimeWindow>,
        Elements<'_, Event>,
        &mut Collector<'_, String>,
    ) -> UserResult;

    /// The window function both operators run.
    type Function = BufferedWindowFunction<Event, u8, TimeWindow, String, Describe>;

    fn function() -> Function {
        BufferedWindowFunction::new(describe as Describe, None)
    }

    fn dedicated(gap: i64, lateness: i64) -> SessionWindowOperator<Function> {
        SessionWindowOperator::new(Arc::new(|e: &Event| e.0), gap, late(lateness), function())
    }

    fn general(gap: i64, lateness: i64) -> WindowOperator<Function> {
        WindowOperator::new(
            Arc::new(|e: &Event| e.0),
            Arc::new(SessionWindows::event_time_with_gap(Duration::from_millis(
                gap as u64,
            ))),
            Arc::new(EventTimeTrigger),
            late(lateness),
            function(),
        )
    }

    proptest! {
        /// The dedicated operator behaves exactly as the general window operator with session
        /// windows and the event-time trigger: same firings, same late elements.
        #[test]
        fn equals_the_general_window_operator(
            inputs in inputs(),
            gap in 1i64..30,
            lateness in prop::sample::select(vec![0i64, 5, 40]),
        ) {
            let expected = run(general(gap, lateness), &inputs);
            prop_assert_eq!(run(dedicated(gap, lateness), &inputs), expected);
        }
    }

    #[test]
    fn sessions_restore_at_any_parallelism_with_the_same_results() {
        let key_group = |e: &Event| assign_to_key_group(&e.0, sluice_core::DEFAULT_MAX_PARALLELISM);
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        for _ in 0..20 {
            let inputs = inputs().new_tree(&mut runner).expect("inputs").current();
            let make = || dedicated(7, 20);
            let expected = run_uninterrupted(make, &inputs);
            for split in [0, inputs.len() / 3, inputs.len()] {
                let (before, after) = inputs.split_at(split);
                for parallelism in 1..=3 {
                    let restored = run_with_restore(make, before, after, parallelism, key_group);
                    assert_eq!(restored, expected, "split {split}, p={parallelism}");
                }
            }
        }
    }

    #[test]
    fn records_without_timestamps_are_an_error() {
        let mut harness = OneInputHarness::new(dedicated(5, 0));
        let error = harness.try_process(Record::new((1, 1))).unwrap_err();
        assert!(error.to_string().contains("timestamp"), "{error}");
    }
}
