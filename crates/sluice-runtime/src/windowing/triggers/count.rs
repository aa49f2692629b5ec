//! The count trigger: fires every n elements of a window.

use sluice_core::Timestamp;

use super::{StateMerge, Trigger, TriggerContext, TriggerResult};
use crate::windowing::window::Window;

const COUNT: &str = "count";

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
    fn on_element(&self, _: &T, _: Timestamp, ctx: &mut TriggerContext<'_, W>) -> TriggerResult {
        let count = ctx.state(COUNT).unwrap_or(0) + 1;
        if count >= self.max_count {
            ctx.clear_state(COUNT);
            TriggerResult::Fire
        } else {
            ctx.set_state(COUNT, count);
            TriggerResult::Continue
        }
    }

    fn can_merge(&self) -> bool {
        true
    }

    fn on_merge(&self, ctx: &mut TriggerContext<'_, W>) {
        ctx.merge_state(COUNT, StateMerge::Sum);
    }

    fn clear(&self, ctx: &mut TriggerContext<'_, W>) {
        ctx.clear_state(COUNT);
    }
}
