//! Sluice's runtime: operators, operator chains, tasks, channels, partitioners, the job graph
//! and the local mini-cluster that runs it.
//!
//! Data flows as batches of records with control elements (watermarks, status, end of input)
//! in-band. Inside a task, operators are chained by direct calls; between tasks, bounded
//! channels carry batches and give backpressure. See `docs/architecture.md` for the picture.

pub mod checkpoint;
pub mod deploy;
pub mod error;
pub mod exchange;
pub mod functions;
pub mod graph;
#[cfg(any(test, feature = "testing"))]
pub mod harness;
pub mod job_id;
pub mod metrics;
pub mod net;
pub mod operators;
pub mod signal;
pub mod sink;
pub mod source;
pub mod task;
pub mod time;
pub mod two_phase_commit;
pub mod windowing;

pub use deploy::job_client::{CancelHandle, JobClient};
pub use deploy::mini_cluster::JobExecutionResult;
pub use error::{JobError, TaskError};
