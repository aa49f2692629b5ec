//! Deployment: running a job graph's attempts. The embedded mini-cluster runs every subtask in
//! this process; the job client owns a job's attempts (restarts, savepoints, cancellation); in
//! worker mode a job binary runs its share of a cluster attempt, and in plan mode it only
//! describes its job to the client that submits it.

mod deployment;
pub mod job_client;
pub mod job_status;
pub mod job_watch;
pub mod mini_cluster;
pub mod protocol;
pub mod remote_checkpoints;
pub mod wiring;
pub mod worker;
