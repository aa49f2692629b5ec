//! Sluice's base types, shared by every other crate: the stream elements that flow through
//! channels, event-time values, the data bounds on records and keys, key groups, and the error
//! type user code returns.
//!
//! This crate has no runtime behaviour of its own and few dependencies, so everything above it
//! builds quickly.

pub mod aggregate;
pub mod data;
pub mod element;
pub mod error;
pub mod key_group;
pub mod mode;

pub use aggregate::AggregateFunction;
pub use data::{KeyData, StreamData};
pub use element::{Barrier, Record, StreamElement, Timestamp, Watermark};
pub use error::{UserError, UserResult};
pub use key_group::{DEFAULT_MAX_PARALLELISM, KeyGroupRange};
pub use mode::RuntimeMode;
