//! Ready-made jobs shipped with Sluice, run by the `sluice` binary and by the examples.

pub mod event_time_windows;
pub mod exactly_once_counts;
pub mod word_count;
