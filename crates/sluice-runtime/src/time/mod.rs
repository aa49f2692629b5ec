//! Time: event-time watermarks (strategies and generators, per-split watermarks in sources,
//! the valve that combines a task's input watermarks, alignment across sources), processing
//! time and the task's wake-up schedule, and the timer service of keyed operators.

pub mod alignment;
pub mod processing_time;
pub mod split_watermarks;
pub mod timers;
pub mod watermark_valve;
pub mod watermarks;
