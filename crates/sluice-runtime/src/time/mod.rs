//! Time: event-time watermarks (strategies and generators, per-split watermarks in sources,
//! the valve that combines a task's input watermarks, alignment across sources), processing
//! time and the task's wake-up schedule, and the timer service of keyed operators.

pub mod alignment;
pub mod processing_time;
pub mod split_watermarks;
pub mod timers;
pub mod watermark_valve;
pub mod watermarks;

/// Which clock a timer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeDomain {
    /// Fires when the watermark reaches it.
    EventTime,
    /// Fires when the wall clock reaches it.
    ProcessingTime,
}
