//! The purging trigger: turns the fires of another trigger into fire-and-purge.

use std::sync::Arc;

use sluice_core::Timestamp;

use super::{Trigger, TriggerContext, TriggerResult};
use crate::time::processing_time::ProcessingTime;
use crate::windowing::window::Window;

/// Turns every fire of the wrapped trigger into fire-and-purge.
pub struct PurgingTrigger<T, W> {
    inner: Arc<dyn Trigger<T, W>>,
}

impl<T, W> PurgingTrigger<T, W> {
    /// Purges the window whenever `inner` fires it.
    pub fn of(inner: impl Trigger<T, W> + 'static) -> Self
    where
        W: Window,
    {
        PurgingTrigger {
            inner: Arc::new(inner),
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
        ctx: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        purging(self.inner.on_element(element, timestamp, ctx))
    }

    fn on_event_time(&self, time: Timestamp, ctx: &mut TriggerContext<'_, W>) -> TriggerResult {
        purging(self.inner.on_event_time(time, ctx))
    }

    fn on_processing_time(
        &self,
        now: ProcessingTime,
        ctx: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        purging(self.inner.on_processing_time(now, ctx))
    }

    fn can_merge(&self) -> bool {
        self.inner.can_merge()
    }

    fn on_merge(&self, ctx: &mut TriggerContext<'_, W>) {
        self.inner.on_merge(ctx);
    }

    fn clear(&self, ctx: &mut TriggerContext<'_, W>) {
        self.inner.clear(ctx);
    }
}
