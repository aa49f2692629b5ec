//! Sluice's base types, shared by every other crate: the stream elements that flow through
//! channels, event-time values, the data bounds on records and keys, key groups, the error
//! type user code returns, and durable local file writes.
//!
//! This crate has no runtime behaviour of its own beyond those file helpers, and few
//! dependencies, so everything above it builds quickly.

pub mod aggregate;
pub mod config_value;
pub mod data;
pub mod durable;
pub mod element;
pub mod error;
pub mod key_group;
pub mod key_selector;
pub mod mode;
pub mod random;

pub use aggregate::AggregateFunction;
pub use data::{KeyData, StreamData};
pub use element::{Barrier, Record, StreamElement, Timestamp, Watermark};
pub use error::{UserError, UserResult};
pub use key_group::{DEFAULT_MAX_PARALLELISM, KeyGroupRange};
pub use key_selector::KeySelector;
pub use mode::RuntimeMode;
