//! Flink SQL on Sluice: a script's statements are parsed in Flink's dialect, its tables kept in
//! a catalog, and each `INSERT INTO` planned into a Sluice job whose records are Arrow record
//! batches, run on the same runtime, state backends and checkpoints as DataStream jobs.

pub mod aggregate;
pub mod batch;
pub mod catalog;
pub mod client;
pub mod connectors;
pub mod dialect;
pub mod error;
pub mod expr;
pub mod key;
pub mod operators;
pub mod planner;
pub mod session;
pub mod statement;
pub mod tableau;
pub mod types;

pub use error::{SqlError, SqlResult};
