//! Windows: assigners that put elements into windows, triggers that decide when a window fires,
//! evictors, the merging of session windows, window functions, and the window operator.
//!
//! The semantics follow Flink's `WindowOperator` exactly: window boundaries and lateness use
//! Java's wrapping 64-bit arithmetic, a window is late once `max_timestamp + allowed_lateness
//! <= watermark`, an element inside the allowed lateness fires its window again, and an element
//! late for every window it belongs to goes to the late side output.

mod assigners;
mod evictors;
mod function_state;
mod functions;
mod lateness;
mod merging_window_set;
mod operator;
mod sessions;
mod slicing;
mod store;
#[cfg(test)]
mod test_support;
mod triggers;
mod window;

pub use assigners::{
    DynamicSessionWindows, ElementGap, FixedGap, GlobalWindows, SessionGap, SessionWindows,
    Sessions, SlidingWindows, TumblingWindows, WindowAssigner,
};
pub use evictors::{
    CountEvictor, EvictionRule, Evictor, KeepNewest, KeepRecent, RuleEvictor, TimeEvictor,
};
pub use functions::{
    AggregateFunction, AggregatingWindowFunction, BufferedWindowFunction, Elements,
    InternalWindowFunction, ProcessWindowFunction, WindowContext, WindowStateAccess,
};
pub use lateness::Lateness;
pub use merging_window_set::MergingWindowSet;
pub use operator::WindowOperator;
pub use sessions::SessionWindowOperator;
pub use slicing::{SlicingWindowOperator, SlidingShape};
pub use triggers::{
    ContinuousEventTimeTrigger, ContinuousProcessingTimeTrigger, CountTrigger, EventTimeTrigger,
    NeverTrigger, ProcessingTimeTrigger, PurgingTrigger, StateMerge, Trigger, TriggerContext,
    TriggerResult,
};
pub use window::{GlobalWindow, TimeWindow, Window};
