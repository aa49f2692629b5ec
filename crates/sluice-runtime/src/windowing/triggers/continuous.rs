//! The continuous triggers: fire every interval of event time or processing time while a
//! window is open, sharing one schedule of next fire times kept per window.

use sluice_core::Timestamp;

use super::{StateMerge, Trigger, TriggerContext, TriggerResult};
use crate::time::TimeDomain;
use crate::time::processing_time::ProcessingTime;
use crate::windowing::window::Window;

const FIRE_AT: &str = "fire-at";

/// Fires every `interval` of event time while the window is open, and at its end.
#[derive(Debug, Clone, Copy)]
pub struct ContinuousEventTimeTrigger {
    schedule: Schedule,
}

impl ContinuousEventTimeTrigger {
    /// Fires every `interval` ms of event time.
    pub fn of(interval: std::time::Duration) -> Self {
        ContinuousEventTimeTrigger {
            schedule: Schedule::every(interval, TimeDomain::EventTime),
        }
    }
}

impl<T, W: Window> Trigger<T, W> for ContinuousEventTimeTrigger {
    fn on_element(
        &self,
        _: &T,
        timestamp: Timestamp,
        ctx: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        let end = ctx.window().max_timestamp();
        if end <= ctx.current_watermark() {
            return TriggerResult::Fire;
        }
        ctx.register_event_time_timer(end);
        self.schedule.start(timestamp, ctx);
        TriggerResult::Continue
    }

    fn on_event_time(&self, time: Timestamp, ctx: &mut TriggerContext<'_, W>) -> TriggerResult {
        if time == ctx.window().max_timestamp() {
            return TriggerResult::Fire;
        }
        self.schedule.fire_if_due(time, ctx)
    }

    fn can_merge(&self) -> bool {
        true
    }

    fn on_merge(&self, ctx: &mut TriggerContext<'_, W>) {
        self.schedule.merge(ctx);
        let end = ctx.window().max_timestamp();
        if end > ctx.current_watermark() {
            ctx.register_event_time_timer(end);
        }
    }

    fn clear(&self, ctx: &mut TriggerContext<'_, W>) {
        self.schedule.clear(ctx);
    }
}

/// Fires every `interval` of processing time while the window is open.
#[derive(Debug, Clone, Copy)]
pub struct ContinuousProcessingTimeTrigger {
    schedule: Schedule,
}

impl ContinuousProcessingTimeTrigger {
    /// Fires every `interval` ms of processing time.
    pub fn of(interval: std::time::Duration) -> Self {
        ContinuousProcessingTimeTrigger {
            schedule: Schedule::every(interval, TimeDomain::ProcessingTime),
        }
    }
}

impl<T, W: Window> Trigger<T, W> for ContinuousProcessingTimeTrigger {
    fn on_element(&self, _: &T, _: Timestamp, ctx: &mut TriggerContext<'_, W>) -> TriggerResult {
        let now = ctx.current_processing_time();
        self.schedule.start(now, ctx);
        TriggerResult::Continue
    }

    fn on_processing_time(
        &self,
        now: ProcessingTime,
        ctx: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        self.schedule.fire_if_due(now, ctx)
    }

    fn can_merge(&self) -> bool {
        true
    }

    fn on_merge(&self, ctx: &mut TriggerContext<'_, W>) {
        self.schedule.merge(ctx);
    }

    fn clear(&self, ctx: &mut TriggerContext<'_, W>) {
        self.schedule.clear(ctx);
    }
}

/// The schedule of a continuous trigger: the next fire time kept as a trigger value, and a
/// timer for it in the trigger's time domain.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    interval: i64,
    domain: TimeDomain,
}

impl Schedule {
    fn every(interval: std::time::Duration, domain: TimeDomain) -> Self {
        Schedule {
            interval: i64::try_from(interval.as_millis())
                .unwrap_or(i64::MAX)
                .max(1),
            domain,
        }
    }

    /// The first element of a window: the next fire is the end of the interval `time` is in.
    fn start<W: Window>(&self, time: i64, ctx: &mut TriggerContext<'_, W>) {
        if ctx.state(FIRE_AT).is_none() {
            let aligned = time.wrapping_sub(time.wrapping_rem(self.interval));
            self.register_next(aligned, ctx);
        }
    }

    fn register_next<W: Window>(&self, time: i64, ctx: &mut TriggerContext<'_, W>) {
        let next = time
            .wrapping_add(self.interval)
            .min(ctx.window().max_timestamp());
        ctx.set_state(FIRE_AT, ctx.state(FIRE_AT).map_or(next, |t| t.min(next)));
        ctx.register_timer(self.domain, next);
    }

    /// Fires and schedules the next fire when `time` is the scheduled fire time.
    fn fire_if_due<W: Window>(&self, time: i64, ctx: &mut TriggerContext<'_, W>) -> TriggerResult {
        if ctx.state(FIRE_AT) != Some(time) {
            return TriggerResult::Continue;
        }
        ctx.clear_state(FIRE_AT);
        self.register_next(time, ctx);
        TriggerResult::Fire
    }

    /// Merges the next fire times of merged windows (the earliest wins) and schedules it.
    fn merge<W: Window>(&self, ctx: &mut TriggerContext<'_, W>) {
        if let Some(next) = ctx.merge_state(FIRE_AT, StateMerge::Min) {
            ctx.register_timer(self.domain, next);
        }
    }

    /// Deletes the scheduled fire of a window.
    fn clear<W: Window>(&self, ctx: &mut TriggerContext<'_, W>) {
        if let Some(time) = ctx.state(FIRE_AT) {
            ctx.delete_timer(self.domain, time);
            ctx.clear_state(FIRE_AT);
        }
    }
}
