//! Event-time session windows with a static gap and the default trigger, without the general
//! machinery: each key keeps its sessions as a sorted vector of (window, contents, whether its
//! end timer is pending), and an element finds the sessions its window `[t, t + gap)` touches
//! and merges them in place.
//!
//! A session has at most one live timer, at or before the next time it needs one (its end, or
//! its cleanup time). A session that grows keeps its timer: when the timer fires early, the
//! session sets the next one. So an element that extends a session queues no timer, and a
//! timer that fires is seldom stale. A timer names a window the session covers (sessions only
//! grow) and is live when its time is the session's `armed` time.
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
    /// Whether the window still fires at its end.
    end_timer: bool,
    /// The time of this session's live timer, if one is queued (requeued on restore).
    armed: Option<Timestamp>,
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

    /// The next time `session` needs a timer: its end while it still fires there, else its
    /// cleanup time (none when that never comes).
    fn next_due(&self, session: &Session<F::Contents>) -> Option<Timestamp> {
        if session.end_timer {
            return Some(session.window.max_timestamp());
        }
        Some(self.cleanup_time(&session.window)).filter(|t| *t != Timestamp::MAX)
    }

    /// Makes sure `session` has a timer no later than it next needs one: a timer already
    /// queued at or before that time stays, and sets the next one when it fires.
    fn arm(&mut self, key: &F::Key, session: &mut Session<F::Contents>) {
        let Some(due) = self.next_due(session) else {
            return;
        };
        if session.armed.is_none_or(|armed| due < armed) {
            session.armed = Some(due);
            self.timer(due, key, session.window);
        }
    }

    /// A new or grown session: it fires at its end unless that already passed.
    fn register(&mut self, key: &F::Key, session: &mut Session<F::Contents>) {
        session.end_timer = session.window.max_timestamp() > self.watermark;
        self.arm(key, session);
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
                armed: None,
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
                // The earlier of the two timers stays live; the other is stale.
                session.armed = match (session.armed, other.armed) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            let grown = session.window.cover(&window);
            if touching > 1 || grown != session.window {
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

    /// A timer set at `time` for `window` (or a session that has grown from it since).
    fn fire(
        &mut self,
        time: Timestamp,
        key: &F::Key,
        sessions: &mut Vec<Session<F::Contents>>,
        window: TimeWindow,
        out: &mut Output<F::Out>,
    ) -> UserResult {
        // Timers fire in time order, so the session is most often the key's first: a scan
        // from the front finds it sooner than a binary search.
        let Some(position) = sessions.iter().position(|s| s.window.end > window.start) else {
            return Ok(());
        };
        let session = &mut sessions[position];
        if session.window.start > window.start || session.armed != Some(time) {
            // Its session was dropped, or another timer of the session is the live one.
            return Ok(());
        }
        session.armed = None;
        let window = session.window;
        if session.end_timer && time == window.max_timestamp() {
            session.end_timer = false;
            self.emit(key, &window, &mut session.contents, out)?;
        }
        if time == self.cleanup_time(&window) {
            sessions.remove(position);
            let times = (self.watermark, self.now);
            return self
                .function_state
                .clear(&mut self.function, key, &typed(&window)?, times);
        }
        self.arm(key, &mut sessions[position]);
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
        let logic = &mut self.logic;
        self.sessions
            .restore(&restored.keyed, &mut |key, sessions| {
                for session in sessions {
                    if let Some(time) = session.armed {
                        logic.timer(time, key, session.window);
                    }
                }
            })?;
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
