//! Triggers: when a window's contents are emitted (fired) and when they are dropped (purged).
//! This module holds the trait and the context a trigger sees; the built-in triggers, each with
//! Flink's semantics, are in the files beside it.

mod continuous;
mod count;
mod end_of_window;
mod purging;

pub use continuous::{ContinuousEventTimeTrigger, ContinuousProcessingTimeTrigger};
pub use count::CountTrigger;
pub use end_of_window::{EventTimeTrigger, NeverTrigger, ProcessingTimeTrigger};
pub use purging::PurgingTrigger;

use sluice_core::Timestamp;

use super::window::Window;
use crate::time::TimeDomain;
use crate::time::processing_time::ProcessingTime;

/// What a trigger decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerResult {
    /// Do nothing.
    Continue,
    /// Emit the window's contents, keep them.
    Fire,
    /// Drop the window's contents without emitting.
    Purge,
    /// Emit the window's contents, then drop them.
    FireAndPurge,
}

impl TriggerResult {
    /// Whether the window fires.
    pub fn is_fire(self) -> bool {
        matches!(self, TriggerResult::Fire | TriggerResult::FireAndPurge)
    }

    /// Whether the window's contents are dropped.
    pub fn is_purge(self) -> bool {
        matches!(self, TriggerResult::Purge | TriggerResult::FireAndPurge)
    }
}

/// How a trigger value is combined when windows merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateMerge {
    /// Add the values (counts).
    Sum,
    /// Keep the smallest (next fire times).
    Min,
}

/// What the window operator offers a trigger for the current key.
pub trait TriggerBackend<W> {
    /// Registers an event-time timer for `window`.
    fn register_event_time_timer(&mut self, window: &W, time: Timestamp);
    /// Deletes an event-time timer for `window`.
    fn delete_event_time_timer(&mut self, window: &W, time: Timestamp);
    /// Registers a processing-time timer for `window`.
    fn register_processing_time_timer(&mut self, window: &W, time: ProcessingTime);
    /// Deletes a processing-time timer for `window`.
    fn delete_processing_time_timer(&mut self, window: &W, time: ProcessingTime);
    /// A named value kept for `window`.
    fn state(&self, window: &W, name: &'static str) -> Option<i64>;
    /// Sets (or with `None` clears) a named value kept for `window`.
    fn set_state(&mut self, window: &W, name: &'static str, value: Option<i64>);
}

/// A trigger's view of one window of the current key.
pub struct TriggerContext<'a, W> {
    window: W,
    watermark: Timestamp,
    now: ProcessingTime,
    merged: &'a [W],
    backend: &'a mut dyn TriggerBackend<W>,
}

impl<'a, W: Window> TriggerContext<'a, W> {
    /// A context for `window`; `merged` are the windows merged into it (during `on_merge`).
    pub fn new(
        window: W,
        watermark: Timestamp,
        now: ProcessingTime,
        merged: &'a [W],
        backend: &'a mut dyn TriggerBackend<W>,
    ) -> Self {
        TriggerContext {
            window,
            watermark,
            now,
            merged,
            backend,
        }
    }

    /// The window this context is for.
    pub fn window(&self) -> &W {
        &self.window
    }

    /// The current watermark.
    pub fn current_watermark(&self) -> Timestamp {
        self.watermark
    }

    /// The current processing time.
    pub fn current_processing_time(&self) -> ProcessingTime {
        self.now
    }

    /// Fires `on_event_time` for this window when the watermark reaches `time`.
    pub fn register_event_time_timer(&mut self, time: Timestamp) {
        self.backend.register_event_time_timer(&self.window, time);
    }

    /// Deletes an event-time timer of this window.
    pub fn delete_event_time_timer(&mut self, time: Timestamp) {
        self.backend.delete_event_time_timer(&self.window, time);
    }

    /// Fires `on_processing_time` for this window when the clock reaches `time`.
    pub fn register_processing_time_timer(&mut self, time: ProcessingTime) {
        self.backend
            .register_processing_time_timer(&self.window, time);
    }

    /// Deletes a processing-time timer of this window.
    pub fn delete_processing_time_timer(&mut self, time: ProcessingTime) {
        self.backend
            .delete_processing_time_timer(&self.window, time);
    }

    /// The current time of `domain`: the watermark or the wall clock.
    pub fn current_time(&self, domain: TimeDomain) -> i64 {
        match domain {
            TimeDomain::EventTime => self.watermark,
            TimeDomain::ProcessingTime => self.now,
        }
    }

    /// Registers a timer of this window in `domain`.
    pub fn register_timer(&mut self, domain: TimeDomain, time: i64) {
        match domain {
            TimeDomain::EventTime => self.register_event_time_timer(time),
            TimeDomain::ProcessingTime => self.register_processing_time_timer(time),
        }
    }

    /// Deletes a timer of this window in `domain`.
    pub fn delete_timer(&mut self, domain: TimeDomain, time: i64) {
        match domain {
            TimeDomain::EventTime => self.delete_event_time_timer(time),
            TimeDomain::ProcessingTime => self.delete_processing_time_timer(time),
        }
    }

    /// A named value kept for this window.
    pub fn state(&self, name: &'static str) -> Option<i64> {
        self.backend.state(&self.window, name)
    }

    /// Sets a named value for this window.
    pub fn set_state(&mut self, name: &'static str, value: i64) {
        self.backend.set_state(&self.window, name, Some(value));
    }

    /// Clears a named value of this window.
    pub fn clear_state(&mut self, name: &'static str) {
        self.backend.set_state(&self.window, name, None);
    }

    /// During `on_merge`: combines the merged windows' values of `name` into this window's.
    pub fn merge_state(&mut self, name: &'static str, merge: StateMerge) -> Option<i64> {
        let mut values: Vec<i64> = self
            .merged
            .iter()
            .filter_map(|w| self.backend.state(w, name))
            .collect();
        values.extend(self.state(name));
        let merged = match merge {
            StateMerge::Sum => values.into_iter().reduce(|a, b| a.wrapping_add(b)),
            StateMerge::Min => values.into_iter().min(),
        };
        self.backend.set_state(&self.window, name, merged);
        merged
    }
}

/// Decides when windows fire; one instance serves every key and window, keeping per-window
/// values in the context.
pub trait Trigger<T, W: Window>: Send + Sync {
    /// An element was added to the context's window (`ctx.window()`).
    fn on_element(
        &self,
        element: &T,
        timestamp: Timestamp,
        ctx: &mut TriggerContext<'_, W>,
    ) -> TriggerResult;

    /// An event-time timer of the window fired (only timers the trigger registered fire; a
    /// trigger without event-time timers keeps this default).
    fn on_event_time(&self, _time: Timestamp, _ctx: &mut TriggerContext<'_, W>) -> TriggerResult {
        TriggerResult::Continue
    }

    /// A processing-time timer of the window fired (as `on_event_time`, for the wall clock).
    fn on_processing_time(
        &self,
        _now: ProcessingTime,
        _ctx: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        TriggerResult::Continue
    }

    /// Whether the trigger supports merging windows.
    fn can_merge(&self) -> bool {
        false
    }

    /// Windows (`ctx`'s merged windows) were merged into the context's window.
    fn on_merge(&self, _ctx: &mut TriggerContext<'_, W>) {}

    /// The window is gone: delete its timers and values.
    fn clear(&self, ctx: &mut TriggerContext<'_, W>);
}
