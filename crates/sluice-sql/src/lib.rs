//! Flink SQL on Sluice: a script's statements are parsed in Flink's dialect, its tables kept in
//! a catalog, and each `INSERT INTO` planned into a Sluice job whose records are Arrow record
//! batches, run on the same runtime, state backends and checkpoints as DataStream jobs.
//!
//! Planning is this crate's own binder over sqlparser's syntax tree rather than DataFusion's
//! `SqlToRel`: Flink's typing (literal types, decimal precision and scale, integer division,
//! `CAST` and value printing) has to be exact for results to equal Flink's, window table
//! functions and Flink's DDL need planning of their own anyway, and the default build stays
//! small. sqlparser and Arrow are pinned to the versions DataFusion 55 uses, so DataFusion can
//! still serve the long tail of functions behind a feature.

pub mod aggregate;
pub mod batch;
pub mod catalog;
pub mod client;
pub mod collections;
pub mod connectors;
pub mod dialect;
pub mod error;
pub mod explain;
pub mod expr;
pub mod key;
pub mod live;
pub mod operators;
pub mod options;
pub mod planner;
pub mod remote_results;
pub mod result;
pub mod session;
pub mod statement;
pub mod table_view;
pub mod tableau;
pub mod types;

pub use error::{SqlError, SqlResult};
