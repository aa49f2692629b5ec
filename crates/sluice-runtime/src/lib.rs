//! Sluice's runtime: operators, operator chains, tasks, channels, partitioners, the job graph
//! and the local mini-cluster that runs it.
//!
//! Data flows as batches of records with control elements (watermarks, status, end of input)
//! in-band. Inside a task, operators are chained by direct calls; between tasks, bounded
//! channels carry batches and give backpressure. See `docs/architecture.md` for the picture.

pub mod chain;
pub mod checkpoint;
pub mod error;
pub mod exchange;
pub mod functions;
pub mod graph;
pub mod harness;
pub mod job_client;
pub mod metrics;
pub mod mini_cluster;
pub mod net;
pub mod operator;
pub mod operators;
pub mod output;
pub mod signal;
pub mod sink;
pub mod source;
pub mod task;
pub mod time;
pub mod two_input;
pub mod two_phase_commit;
pub mod windowing;
pub mod worker;

pub use error::{JobError, TaskError};
pub use job_client::{CancelHandle, JobClient};
pub use mini_cluster::JobExecutionResult;
