//! A worker's settings, as the TaskManager hands them over in the environment of the process
//! it starts, and the variables a client sets for plan mode and job defaults.

use std::path::Path;
use std::time::Duration;

use crate::error::JobError;
use crate::net::tls::{DEFAULT_SERVER_NAME, TlsSettings};
use crate::net::transport::Transport;

/// Plan mode: write the job's [`ClusterPlan`](crate::deploy::protocol::ClusterPlan) as JSON to this file and exit.
pub const ENV_PLAN_FILE: &str = "SLUICE_PLAN_FILE";
/// The default parallelism a client asked for (`sluice run -p`).
pub const ENV_PARALLELISM: &str = "SLUICE_PARALLELISM";
/// The job defaults of the cluster configuration (`key: value` lines: checkpointing, state
/// backend, restart strategy keys), which the job's own settings override.
pub const ENV_JOB_OPTIONS: &str = "SLUICE_JOB_OPTIONS";
/// The savepoint or checkpoint a client asked the job to start from (`sluice run -s`).
pub const ENV_RESTORE_FROM: &str = "SLUICE_RESTORE_FROM";
/// Worker mode: the JobManager's RPC address (`host:port`).
pub const ENV_JOB_MANAGER: &str = "SLUICE_WORKER_JOB_MANAGER";
/// Worker mode: the job's id.
pub const ENV_JOB: &str = "SLUICE_WORKER_JOB";
/// Worker mode: the job attempt.
pub const ENV_ATTEMPT: &str = "SLUICE_WORKER_ATTEMPT";
/// Worker mode: this worker's index in the attempt.
pub const ENV_WORKER: &str = "SLUICE_WORKER_INDEX";
/// Worker mode: the host to listen on for data connections, as other workers reach it.
pub const ENV_HOST: &str = "SLUICE_WORKER_HOST";
/// Worker mode: the data port (0: any free port).
pub const ENV_DATA_PORT: &str = "SLUICE_WORKER_DATA_PORT";
/// How often a worker heartbeats to the JobManager, in ms (`heartbeat.interval`).
pub const ENV_HEARTBEAT_INTERVAL_MS: &str = "SLUICE_HEARTBEAT_INTERVAL_MS";
/// Silence after which a worker counts the JobManager as lost, in ms (`heartbeat.timeout`).
pub const ENV_HEARTBEAT_TIMEOUT_MS: &str = "SLUICE_HEARTBEAT_TIMEOUT_MS";
/// The cluster's shared secret.
pub const ENV_SECRET: &str = "SLUICE_CLUSTER_SECRET";
/// Mutual TLS: this process's certificate chain (PEM).
pub const ENV_TLS_CERT: &str = "SLUICE_TLS_CERT_FILE";
/// Mutual TLS: this process's private key (PEM).
pub const ENV_TLS_KEY: &str = "SLUICE_TLS_KEY_FILE";
/// Mutual TLS: the authority peers' certificates must be signed by (PEM).
pub const ENV_TLS_CA: &str = "SLUICE_TLS_CA_FILE";
/// Mutual TLS: the name peers' certificates must carry.
pub const ENV_TLS_SERVER_NAME: &str = "SLUICE_TLS_SERVER_NAME";

/// What the environment asks this process to do with its job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterMode {
    /// Describe the job into this file.
    Plan(String),
    /// Run a share of a job attempt.
    Worker(Box<WorkerEnv>),
}

/// A worker's settings, from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerEnv {
    /// The JobManager's RPC address.
    pub job_manager: String,
    /// The job's id.
    pub job: String,
    /// The attempt.
    pub attempt: u32,
    /// This worker's index.
    pub worker: usize,
    /// The host to listen on.
    pub host: String,
    /// The data port.
    pub data_port: u16,
    /// The cluster secret.
    pub secret: Vec<u8>,
    /// Mutual TLS, when the cluster uses it: certificate, key and authority files, and the
    /// name certificates carry.
    pub tls: Option<TlsFiles>,
    /// How often to heartbeat to the JobManager.
    pub heartbeat_interval: Duration,
    /// Silence after which the JobManager counts as lost.
    pub heartbeat_timeout: Duration,
}

/// Where a process's TLS material is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// This process's certificate chain (PEM).
    pub cert: String,
    /// Its private key (PEM).
    pub key: String,
    /// The authority peers must be signed by (PEM).
    pub authority: String,
    /// The name certificates carry.
    pub server_name: String,
}

impl TlsFiles {
    /// The transport these files make.
    pub fn transport(&self) -> Result<Transport, String> {
        let settings = TlsSettings::load(
            Path::new(&self.cert),
            Path::new(&self.key),
            Path::new(&self.authority),
            &self.server_name,
        )?;
        Ok(Transport::tls(settings))
    }

    /// The files named by the `SLUICE_TLS_*` variables, if set.
    pub fn from_env() -> Result<Option<TlsFiles>, JobError> {
        if std::env::var_os(ENV_TLS_CERT).is_none() {
            return Ok(None);
        }
        Ok(Some(TlsFiles {
            cert: variable(ENV_TLS_CERT)?,
            key: variable(ENV_TLS_KEY)?,
            authority: variable(ENV_TLS_CA)?,
            server_name: std::env::var(ENV_TLS_SERVER_NAME)
                .unwrap_or_else(|_| DEFAULT_SERVER_NAME.to_string()),
        }))
    }
}

fn variable(name: &str) -> Result<String, JobError> {
    std::env::var(name).map_err(|_| JobError::Runtime(format!("worker mode: {name} is not set")))
}

/// The duration in ms variable `name` holds, or `default` ms when it is not set.
fn milliseconds(name: &str, default: u64) -> Result<Duration, JobError> {
    if std::env::var_os(name).is_none() {
        return Ok(Duration::from_millis(default));
    }
    number(name).map(Duration::from_millis)
}

fn number<T: std::str::FromStr>(name: &str) -> Result<T, JobError> {
    let text = variable(name)?;
    text.parse()
        .map_err(|_| JobError::Runtime(format!("worker mode: {name}={text:?} is not a number")))
}

impl ClusterMode {
    /// The mode the environment asks for; `None` runs locally.
    pub fn from_env() -> Result<Option<ClusterMode>, JobError> {
        if let Ok(path) = std::env::var(ENV_PLAN_FILE) {
            return Ok(Some(ClusterMode::Plan(path)));
        }
        if std::env::var_os(ENV_JOB_MANAGER).is_none() {
            return Ok(None);
        }
        Ok(Some(ClusterMode::Worker(Box::new(WorkerEnv {
            job_manager: variable(ENV_JOB_MANAGER)?,
            job: variable(ENV_JOB)?,
            attempt: number(ENV_ATTEMPT)?,
            worker: number(ENV_WORKER)?,
            host: variable(ENV_HOST)?,
            data_port: number(ENV_DATA_PORT)?,
            secret: std::env::var(ENV_SECRET).unwrap_or_default().into_bytes(),
            tls: TlsFiles::from_env()?,
            heartbeat_interval: milliseconds(ENV_HEARTBEAT_INTERVAL_MS, 10_000)?,
            heartbeat_timeout: milliseconds(ENV_HEARTBEAT_TIMEOUT_MS, 50_000)?,
        }))))
    }
}
