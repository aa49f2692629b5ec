//! The default triggers: fire when the window's end passes in event time or in processing
//! time, and never (global windows).

use sluice_core::Timestamp;

use super::{Trigger, TriggerContext, TriggerResult};
use crate::time::TimeDomain;
use crate::time::processing_time::ProcessingTime;
use crate::windowing::window::Window;

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

    fn can_merge(&self) -> bool {
        true
    }

    fn on_merge(&self, window: &W, ctx: &mut TriggerContext<'_, W>) {
        register_open_end(TimeDomain::EventTime, window, ctx);
    }

    fn clear(&self, window: &W, ctx: &mut TriggerContext<'_, W>) {
        ctx.delete_timer(TimeDomain::EventTime, window.max_timestamp());
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
        register_open_end(TimeDomain::ProcessingTime, window, ctx);
    }

    fn clear(&self, window: &W, ctx: &mut TriggerContext<'_, W>) {
        ctx.delete_timer(TimeDomain::ProcessingTime, window.max_timestamp());
    }
}

/// After a merge: a timer for the merged window's end, unless `domain`'s time has passed it.
fn register_open_end<W: Window>(domain: TimeDomain, window: &W, ctx: &mut TriggerContext<'_, W>) {
    if window.max_timestamp() > ctx.current_time(domain) {
        ctx.register_timer(domain, window.max_timestamp());
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

    fn can_merge(&self) -> bool {
        true
    }

    fn clear(&self, _: &W, _: &mut TriggerContext<'_, W>) {}
}
