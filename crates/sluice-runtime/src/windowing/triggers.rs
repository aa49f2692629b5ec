//! Triggers: when a window's contents are emitted (fired) and when they are dropped (purged),
//! with Flink's semantics for each built-in trigger.

use sluice_core::Timestamp;

use super::window::Window;
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
    /// An element was added to `window`.
    fn on_element(
        &self,
        element: &T,
        timestamp: Timestamp,
        window: &W,
        ctx: &mut TriggerContext<'_, W>,
    ) -> TriggerResult;

    /// An event-time timer of `window` fired.
    fn on_event_time(
        &self,
        time: Timestamp,
        window: &W,
        ctx: &mut TriggerContext<'_, W>,
    ) -> TriggerResult;

    /// A processing-time timer of `window` fired.
    fn on_processing_time(
        &self,
        time: ProcessingTime,
        window: &W,
        ctx: &mut TriggerContext<'_, W>,
    ) -> TriggerResult;

    /// Whether the trigger supports merging windows.
    fn can_merge(&self) -> bool {
        false
    }

    /// Windows were merged into `window`.
    fn on_merge(&self, _window: &W, _ctx: &mut TriggerContext<'_, W>) {}

    /// The window is gone: delete its timers and values.
    fn clear(&self, window: &W, ctx: &mut TriggerContext<'_, W>);
}

/// Fires once the watermark passes the window's end (and again for each late element within
/// the allowed lateness). The default of event-time windows.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventTimeTrigger;

impl<T, W: Window> Trigger<T, W> for EventTimeTrigger {
    fn on_element(
        &self,
        _: &T,
        _: Timestamp,
        window: &W,
        ctx: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        if window.max_timestamp() <= ctx.current_watermark() {
            TriggerResult::Fire
        } else {
            ctx.register_event_time_timer(window.max_timestamp());
            TriggerResult::Continue
        }
    }

    fn on_event_time(
        &self,
        time: Timestamp,
        window: &W,
        _: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        if time == window.max_timestamp() {
            TriggerResult::Fire
        } else {
            TriggerResult::Continue
        }
    }

    fn on_processing_time(
        &self,
        _: ProcessingTime,
        _: &W,
        _: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        TriggerResult::Continue
    }

    fn can_merge(&self) -> bool {
        true
    }

    fn on_merge(&self, window: &W, ctx: &mut TriggerContext<'_, W>) {
        if window.max_timestamp() > ctx.current_watermark() {
            ctx.register_event_time_timer(window.max_timestamp());
        }
    }

    fn clear(&self, window: &W, ctx: &mut TriggerContext<'_, W>) {
        ctx.delete_event_time_timer(window.max_timestamp());
    }
}

/// Fires when the wall clock passes the window's end. The default of processing-time windows.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessingTimeTrigger;

impl<T, W: Window> Trigger<T, W> for ProcessingTimeTrigger {
    fn on_element(
        &self,
        _: &T,
        _: Timestamp,
        window: &W,
        ctx: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        ctx.register_processing_time_timer(window.max_timestamp());
        TriggerResult::Continue
    }

    fn on_event_time(&self, _: Timestamp, _: &W, _: &mut TriggerContext<'_, W>) -> TriggerResult {
        TriggerResult::Continue
    }

    fn on_processing_time(
        &self,
        _: ProcessingTime,
        _: &W,
        _: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        TriggerResult::Fire
    }

    fn can_merge(&self) -> bool {
        true
    }

    fn on_merge(&self, window: &W, ctx: &mut TriggerContext<'_, W>) {
        if window.max_timestamp() > ctx.current_processing_time() {
            ctx.register_processing_time_timer(window.max_timestamp());
        }
    }

    fn clear(&self, window: &W, ctx: &mut TriggerContext<'_, W>) {
        ctx.delete_processing_time_timer(window.max_timestamp());
    }
}

const COUNT: &str = "count";
const FIRE_AT: &str = "fire-at";

/// The schedule shared by the continuous triggers: the next fire time kept as a trigger value,
/// and a timer for it in the trigger's time domain.
fn register_next_fire<W: Window>(
    interval: i64,
    time: i64,
    window: &W,
    ctx: &mut TriggerContext<'_, W>,
    event_time: bool,
) {
    let next = time.wrapping_add(interval).min(window.max_timestamp());
    ctx.set_state(FIRE_AT, ctx.state(FIRE_AT).map_or(next, |t| t.min(next)));
    if event_time {
        ctx.register_event_time_timer(next);
    } else {
        ctx.register_processing_time_timer(next);
    }
}

/// Fires and schedules the next fire when `time` is the scheduled fire time.
fn fire_if_scheduled<W: Window>(
    interval: i64,
    time: i64,
    window: &W,
    ctx: &mut TriggerContext<'_, W>,
    event_time: bool,
) -> TriggerResult {
    if ctx.state(FIRE_AT) != Some(time) {
        return TriggerResult::Continue;
    }
    ctx.clear_state(FIRE_AT);
    register_next_fire(interval, time, window, ctx, event_time);
    TriggerResult::Fire
}

/// Merges the next fire times of merged windows (the earliest wins) and schedules it.
fn merge_next_fire<W: Window>(ctx: &mut TriggerContext<'_, W>, event_time: bool) {
    if let Some(next) = ctx.merge_state(FIRE_AT, StateMerge::Min) {
        if event_time {
            ctx.register_event_time_timer(next);
        } else {
            ctx.register_processing_time_timer(next);
        }
    }
}

/// Deletes the scheduled fire of a window.
fn clear_next_fire<W: Window>(ctx: &mut TriggerContext<'_, W>, event_time: bool) {
    if let Some(time) = ctx.state(FIRE_AT) {
        if event_time {
            ctx.delete_event_time_timer(time);
        } else {
            ctx.delete_processing_time_timer(time);
        }
        ctx.clear_state(FIRE_AT);
    }
}

/// Fires every `max_count` elements of a window.
#[derive(Debug, Clone, Copy)]
pub struct CountTrigger {
    max_count: i64,
}

impl CountTrigger {
    /// Fires once a window holds `max_count` new elements.
    pub fn of(max_count: u64) -> Self {
        CountTrigger {
            max_count: i64::try_from(max_count).unwrap_or(i64::MAX),
        }
    }
}

impl<T, W: Window> Trigger<T, W> for CountTrigger {
    fn on_element(
        &self,
        _: &T,
        _: Timestamp,
        _: &W,
        ctx: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        let count = ctx.state(COUNT).unwrap_or(0) + 1;
        if count >= self.max_count {
            ctx.clear_state(COUNT);
            TriggerResult::Fire
        } else {
            ctx.set_state(COUNT, count);
            TriggerResult::Continue
        }
    }

    fn on_event_time(&self, _: Timestamp, _: &W, _: &mut TriggerContext<'_, W>) -> TriggerResult {
        TriggerResult::Continue
    }

    fn on_processing_time(
        &self,
        _: ProcessingTime,
        _: &W,
        _: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        TriggerResult::Continue
    }

    fn can_merge(&self) -> bool {
        true
    }

    fn on_merge(&self, _: &W, ctx: &mut TriggerContext<'_, W>) {
        ctx.merge_state(COUNT, StateMerge::Sum);
    }

    fn clear(&self, _: &W, ctx: &mut TriggerContext<'_, W>) {
        ctx.clear_state(COUNT);
    }
}

/// Fires every `interval` of event time while the window is open, and at its end.
#[derive(Debug, Clone, Copy)]
pub struct ContinuousEventTimeTrigger {
    interval: i64,
}

impl ContinuousEventTimeTrigger {
    /// Fires every `interval` ms of event time.
    pub fn of(interval: std::time::Duration) -> Self {
        ContinuousEventTimeTrigger {
            interval: (interval.as_millis() as i64).max(1),
        }
    }
}

impl<T, W: Window> Trigger<T, W> for ContinuousEventTimeTrigger {
    fn on_element(
        &self,
        _: &T,
        timestamp: Timestamp,
        window: &W,
        ctx: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        if window.max_timestamp() <= ctx.current_watermark() {
            return TriggerResult::Fire;
        }
        ctx.register_event_time_timer(window.max_timestamp());
        if ctx.state(FIRE_AT).is_none() {
            let aligned = timestamp.wrapping_sub(timestamp.wrapping_rem(self.interval));
            register_next_fire(self.interval, aligned, window, ctx, true);
        }
        TriggerResult::Continue
    }

    fn on_event_time(
        &self,
        time: Timestamp,
        window: &W,
        ctx: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        if time == window.max_timestamp() {
            return TriggerResult::Fire;
        }
        fire_if_scheduled(self.interval, time, window, ctx, true)
    }

    fn on_processing_time(
        &self,
        _: ProcessingTime,
        _: &W,
        _: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        TriggerResult::Continue
    }

    fn can_merge(&self) -> bool {
        true
    }

    fn on_merge(&self, window: &W, ctx: &mut TriggerContext<'_, W>) {
        merge_next_fire(ctx, true);
        if window.max_timestamp() > ctx.current_watermark() {
            ctx.register_event_time_timer(window.max_timestamp());
        }
    }

    fn clear(&self, _: &W, ctx: &mut TriggerContext<'_, W>) {
        clear_next_fire(ctx, true);
    }
}

/// Fires every `interval` of processing time while the window is open.
#[derive(Debug, Clone, Copy)]
pub struct ContinuousProcessingTimeTrigger {
    interval: i64,
}

impl ContinuousProcessingTimeTrigger {
    /// Fires every `interval` ms of processing time.
    pub fn of(interval: std::time::Duration) -> Self {
        ContinuousProcessingTimeTrigger {
            interval: (interval.as_millis() as i64).max(1),
        }
    }
}

impl<T, W: Window> Trigger<T, W> for ContinuousProcessingTimeTrigger {
    fn on_element(
        &self,
        _: &T,
        _: Timestamp,
        window: &W,
        ctx: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        if ctx.state(FIRE_AT).is_none() {
            let now = ctx.current_processing_time();
            let aligned = now.wrapping_sub(now.wrapping_rem(self.interval));
            register_next_fire(self.interval, aligned, window, ctx, false);
        }
        TriggerResult::Continue
    }

    fn on_event_time(&self, _: Timestamp, _: &W, _: &mut TriggerContext<'_, W>) -> TriggerResult {
        TriggerResult::Continue
    }

    fn on_processing_time(
        &self,
        time: ProcessingTime,
        window: &W,
        ctx: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        fire_if_scheduled(self.interval, time, window, ctx, false)
    }

    fn can_merge(&self) -> bool {
        true
    }

    fn on_merge(&self, _: &W, ctx: &mut TriggerContext<'_, W>) {
        merge_next_fire(ctx, false);
    }

    fn clear(&self, _: &W, ctx: &mut TriggerContext<'_, W>) {
        clear_next_fire(ctx, false);
    }
}

/// Turns every fire of the wrapped trigger into fire-and-purge.
pub struct PurgingTrigger<T, W> {
    inner: std::sync::Arc<dyn Trigger<T, W>>,
}

impl<T, W> PurgingTrigger<T, W> {
    /// Purges the window whenever `inner` fires it.
    pub fn of(inner: impl Trigger<T, W> + 'static) -> Self
    where
        W: Window,
    {
        PurgingTrigger {
            inner: std::sync::Arc::new(inner),
        }
    }
}

fn purging(result: TriggerResult) -> TriggerResult {
    if result.is_fire() {
        TriggerResult::FireAndPurge
    } else {
        result
    }
}

impl<T, W: Window> Trigger<T, W> for PurgingTrigger<T, W> {
    fn on_element(
        &self,
        element: &T,
        timestamp: Timestamp,
        window: &W,
        ctx: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        purging(self.inner.on_element(element, timestamp, window, ctx))
    }

    fn on_event_time(
        &self,
        time: Timestamp,
        window: &W,
        ctx: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        purging(self.inner.on_event_time(time, window, ctx))
    }

    fn on_processing_time(
        &self,
        time: ProcessingTime,
        window: &W,
        ctx: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        purging(self.inner.on_processing_time(time, window, ctx))
    }

    fn can_merge(&self) -> bool {
        self.inner.can_merge()
    }

    fn on_merge(&self, window: &W, ctx: &mut TriggerContext<'_, W>) {
        self.inner.on_merge(window, ctx);
    }

    fn clear(&self, window: &W, ctx: &mut TriggerContext<'_, W>) {
        self.inner.clear(window, ctx);
    }
}

/// Never fires: the default of global windows, which need a trigger of their own.
#[derive(Debug, Clone, Copy, Default)]
pub struct NeverTrigger;

impl<T, W: Window> Trigger<T, W> for NeverTrigger {
    fn on_element(
        &self,
        _: &T,
        _: Timestamp,
        _: &W,
        _: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        TriggerResult::Continue
    }

    fn on_event_time(&self, _: Timestamp, _: &W, _: &mut TriggerContext<'_, W>) -> TriggerResult {
        TriggerResult::Continue
    }

    fn on_processing_time(
        &self,
        _: ProcessingTime,
        _: &W,
        _: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        TriggerResult::Continue
    }

    fn can_merge(&self) -> bool {
        true
    }

    fn clear(&self, _: &W, _: &mut TriggerContext<'_, W>) {}
}
