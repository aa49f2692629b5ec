//! Sluice's standalone cluster, as Flink's: a JobManager and TaskManagers started from a
//! configuration directory holding `config.yaml` and `workers`.
//!
//! This crate starts with the configuration ([`config`]); the processes build on it.

pub mod config;

pub use config::{ClusterConfig, ConfigError, ConfigSource};
