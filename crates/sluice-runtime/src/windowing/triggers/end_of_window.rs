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
    fn on_element(&self, _: &T, _: Timestamp, ctx: &mut TriggerContext<'_, W>) -> TriggerResult {
        let end = ctx.window().max_timestamp();
        if end <= ctx.current_watermark() {
            TriggerResult::Fire
        } else {
            ctx.register_event_time_timer(end);
            TriggerResult::Continue
        }
    }

    fn on_event_time(&self, time: Timestamp, ctx: &mut TriggerContext<'_, W>) -> TriggerResult {
        if time == ctx.window().max_timestamp() {
            TriggerResult::Fire
        } else {
            TriggerResult::Continue
        }
    }

    fn can_merge(&self) -> bool {
        true
    }

    fn on_merge(&self, ctx: &mut TriggerContext<'_, W>) {
        register_open_end(TimeDomain::EventTime, ctx);
    }

    fn clear(&self, ctx: &mut TriggerContext<'_, W>) {
        delete_end(TimeDomain::EventTime, ctx);
    }
}

/// Fires when the wall clock passes the window's end. The default of processing-time windows.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessingTimeTrigger;

impl<T, W: Window> Trigger<T, W> for ProcessingTimeTrigger {
    fn on_element(&self, _: &T, _: Timestamp, ctx: &mut TriggerContext<'_, W>) -> TriggerResult {
        ctx.register_processing_time_timer(ctx.window().max_timestamp());
        TriggerResult::Continue
    }

    fn on_processing_time(
        &self,
        _: ProcessingTime,
        _: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        TriggerResult::Fire
    }

    fn can_merge(&self) -> bool {
        true
    }

    fn on_merge(&self, ctx: &mut TriggerContext<'_, W>) {
        register_open_end(TimeDomain::ProcessingTime, ctx);
    }

    fn clear(&self, ctx: &mut TriggerContext<'_, W>) {
        delete_end(TimeDomain::ProcessingTime, ctx);
    }
}

/// After a merge: a timer for the merged window's end, unless `domain`'s time has passed it.
fn register_open_end<W: Window>(domain: TimeDomain, ctx: &mut TriggerContext<'_, W>) {
    let end = ctx.window().max_timestamp();
    if end > ctx.current_time(domain) {
        ctx.register_timer(domain, end);
    }
}

/// Deletes the timer for the window's end in `domain`.
fn delete_end<W: Window>(domain: TimeDomain, ctx: &mut TriggerContext<'_, W>) {
    ctx.delete_timer(domain, ctx.window().max_timestamp());
}

/// Never fires: the default of global windows, which need a trigger of their own.
#[derive(Debug, Clone, Copy, Default)]
pub struct NeverTrigger;

impl<T, W: Window> Trigger<T, W> for NeverTrigger {
    fn on_element(&self, _: &T, _: Timestamp, _: &mut TriggerContext<'_, W>) -> TriggerResult {
        TriggerResult::Continue
    }

    fn can_merge(&self) -> bool {
        true
    }

    fn clear(&self, _: &mut TriggerContext<'_, W>) {}
}
