//! Sluice's standalone cluster, as Flink's: a JobManager and TaskManagers started from a
//! configuration directory holding `config.yaml` and `workers`, and the CLI commands that
//! submit and manage jobs.
//!
//! - [`config`]: the cluster configuration.
//! - [`jobmanager`]: the JobManager process: dispatcher, control port, REST API, blob store.
//! - [`taskmanager`]: the TaskManager process and the worker processes it runs.
//! - [`local_web`]: the same monitoring API and dashboard for a job on the embedded
//!   mini-cluster (`rest.port`).
//! - [`client`] and [`cli`]: `sluice run`, `list`, `cancel`, `savepoint`, `stop`, `info`.
//!
//! The wire format, authentication, control messages and the data plane are in
//! `sluice_runtime::net`, shared with the job binaries' worker mode.

pub mod cli;
pub mod client;
pub mod config;
pub mod jobmanager;
pub mod local_web;
pub mod port_range;
pub mod prometheus;
pub mod taskmanager;

pub use config::{ClusterConfig, ConfigError, ConfigSource};
