//! Cluster modes of a job binary: plan mode, where the binary only describes its job to the
//! client that submits it, and worker mode, where a TaskManager started it to run its share of
//! a job attempt.
//!
//! Rust cannot ship closures, so on a cluster every process that runs a job's operators is the
//! job's own binary: its `main` builds the same graph as everywhere else, and `execute` then
//! runs only the pipelines the JobManager placed on this worker. The environment tells the
//! binary which mode it is in; without it, `execute` runs the embedded mini-cluster.

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::Duration;

use sha2::{Digest, Sha256};

use sluice_state::CheckpointStorage;

use crate::checkpoint::{Mailbox, TaskId, TaskReport};
use crate::deploy::mini_cluster::deploy_part;
use crate::deploy::protocol::{
    ClusterPlan, FromWorker, Hello, Placement, PlanTask, ToWorker, WorkerHello, read_message,
    send_message,
};
use crate::deploy::remote_checkpoints::encode_report;
use crate::deploy::wiring::RemoteWiring;
use crate::error::JobError;
use crate::graph::{JobGraph, OperatorFactory};
use crate::net::auth;
use crate::net::connection::PeerChannels;
use crate::net::connection::run_connection;
use crate::net::data_plane::{PeerStream, WorkerIdentity, await_peers, connect_peer, serve};
use crate::net::frame::{FrameReader, MAX_FRAME_BYTES};
use crate::net::heartbeat;
use crate::net::tls::{DEFAULT_SERVER_NAME, TlsSettings};
use crate::net::transport::{BoxSocket, Transport};
use crate::signal::CancelToken;
use crate::source::Boundedness;

/// Plan mode: write the job's [`ClusterPlan`] as JSON to this file and exit.
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

/// How long workers wait for each other's data connections.
const PEER_TIMEOUT: Duration = Duration::from_secs(60);

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

    /// Runs `job` in this mode.
    pub fn run(&self, job: &JobGraph) -> Result<(), JobError> {
        match self {
            ClusterMode::Plan(path) => {
                let plan = serde_json::to_vec_pretty(&cluster_plan(job))
                    .map_err(|e| JobError::Runtime(format!("cannot encode the plan: {e}")))?;
                std::fs::write(path, plan)
                    .map_err(|e| JobError::Runtime(format!("cannot write the plan to {path}: {e}")))
            }
            ClusterMode::Worker(env) => run_worker(job, env),
        }
    }
}

/// What a client submits about `job`.
pub fn cluster_plan(job: &JobGraph) -> ClusterPlan {
    let plan = job.plan_json();
    let fingerprint = hex(&Sha256::digest(plan.to_string().as_bytes()));
    let is_source = |node: crate::graph::NodeId| {
        matches!(job.graph.node(node).factory, OperatorFactory::Source(_))
    };
    ClusterPlan {
        name: job.config.name.clone(),
        job_id: job.config.job_id,
        restore_from: job.config.restore_from.clone(),
        pipelines: job
            .vertices
            .iter()
            .map(|v| v.parallelism)
            .max()
            .unwrap_or(1),
        bounded: job.graph.nodes.iter().all(|node| match &node.factory {
            OperatorFactory::Source(source) => source.boundedness() == Boundedness::Bounded,
            _ => true,
        }),
        checkpointing: job.config.checkpointing.clone(),
        restart_strategy: job.config.restart_strategy.clone(),
        tasks: job
            .vertices
            .iter()
            .map(|vertex| PlanTask {
                parallelism: vertex.parallelism,
                source: is_source(vertex.nodes[0]),
            })
            .collect(),
        operators: job
            .graph
            .nodes
            .iter()
            .map(|node| {
                (
                    node.effective_uid(),
                    (
                        job.vertex_of[node.id.0],
                        job.parallelism[node.id.0],
                        job.max_parallelism[node.id.0],
                    ),
                )
            })
            .collect(),
        plan,
        fingerprint,
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn runtime(message: impl std::fmt::Display) -> JobError {
    JobError::Runtime(message.to_string())
}

/// The worker's control connection to the JobManager, shared by the threads that send on it.
type ControlLink = Arc<Mutex<BoxSocket>>;

fn send_control(link: &ControlLink, message: &FromWorker) -> Result<(), String> {
    send_message(
        &mut *link.lock().unwrap_or_else(PoisonError::into_inner),
        message,
    )
}

/// Joins the attempt `env` names, runs this worker's pipelines of `job`, carries their
/// channels to the other workers, and reports the outcome to the JobManager.
fn run_worker(job: &JobGraph, env: &WorkerEnv) -> Result<(), JobError> {
    // The JobManager's id and restore point, whatever the program chose: every worker of an
    // attempt restores the one checkpoint the JobManager resolved.
    let mut job = job.clone();
    job.config.job_id = env.job.parse().map_err(runtime)?;
    job.config.restore_from = std::env::var(ENV_RESTORE_FROM).ok();
    let job = &job;
    let listener = TcpListener::bind((env.host.as_str(), env.data_port)).map_err(|e| {
        runtime(format!(
            "cannot listen on {}:{}: {e}",
            env.host, env.data_port
        ))
    })?;
    let data_address = format!(
        "{}:{}",
        env.host,
        listener.local_addr().map_err(runtime)?.port()
    );
    let transport = match &env.tls {
        Some(files) => files.transport().map_err(runtime)?,
        None => Transport::plain(),
    };
    let (control, mut frames) = connect_job_manager(env, &transport)?;
    heartbeat::expect_within(frames.get_ref(), env.heartbeat_timeout).map_err(runtime)?;
    let control: ControlLink = Arc::new(Mutex::new(control));
    send_message(
        &mut *control.lock().unwrap_or_else(PoisonError::into_inner),
        &Hello::Worker(WorkerHello {
            job: env.job.clone(),
            attempt: env.attempt,
            worker: env.worker,
            data_address,
            fingerprint: cluster_plan(job).fingerprint,
        }),
    )
    .map_err(runtime)?;
    let heartbeats = heartbeat::send_every(
        Arc::clone(&control),
        FromWorker::Heartbeat,
        env.heartbeat_interval,
    );
    let placement = loop {
        let message = read_message::<ToWorker, _>(&mut frames)
            .map_err(|e| runtime(heartbeat::explain(e, env.heartbeat_timeout)))?;
        match message {
            Some(ToWorker::Start(placement)) => break placement,
            Some(ToWorker::Heartbeat) => {}
            Some(ToWorker::Rejected { reason }) => {
                return Err(runtime(format!(
                    "the JobManager rejected this worker: {reason}"
                )));
            }
            Some(_) | None => return Err(JobError::Cancelled),
        }
    };
    let leaving = Arc::new(AtomicBool::new(false));
    let (ended_sender, ended) = mpsc::channel();
    let line = JobManagerLine {
        frames,
        control: Arc::clone(&control),
        leaving: Arc::clone(&leaving),
        ended: ended_sender,
    };
    let outcome = run_placed(job, env, placement, listener, line, transport);
    drop(heartbeats);
    let report = match &outcome {
        Ok(()) => FromWorker::Finished,
        Err(error) => FromWorker::Failed {
            error: error.to_string(),
        },
    };
    send_control(&control, &report).map_err(runtime)?;
    // The report must reach the JobManager before this process exits (over TLS it is still in
    // the relay): close the sending side and wait for the JobManager to close the connection.
    leaving.store(true, Ordering::Release);
    let _ = control
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .shutdown(std::net::Shutdown::Write);
    let _ = ended.recv_timeout(Duration::from_secs(5));
    outcome
}

fn connect_job_manager(
    env: &WorkerEnv,
    transport: &Transport,
) -> Result<(BoxSocket, FrameReader<BoxSocket>), JobError> {
    let unreachable = |e: std::io::Error| {
        runtime(format!(
            "cannot reach the JobManager at {}: {e}",
            env.job_manager
        ))
    };
    let stream = TcpStream::connect(&env.job_manager).map_err(unreachable)?;
    let socket = transport.connect(stream).map_err(unreachable)?;
    let mut writer = socket.clone_socket().map_err(runtime)?;
    let mut frames = FrameReader::new(socket, MAX_FRAME_BYTES);
    auth::connect(&mut frames, &mut writer, &env.secret)
        .map_err(|e| runtime(format!("JobManager at {}: {e}", env.job_manager)))?;
    Ok((writer, frames))
}

/// Runs this worker's pipelines once the JobManager placed every pipeline.
fn run_placed(
    job: &JobGraph,
    env: &WorkerEnv,
    placement: Placement,
    listener: TcpListener,
    line: JobManagerLine,
    transport: Transport,
) -> Result<(), JobError> {
    let control = Arc::clone(&line.control);
    let identity = WorkerIdentity {
        job: env.job.clone(),
        attempt: env.attempt,
        worker: env.worker,
        secret: Arc::from(env.secret.as_slice()),
        transport,
    };
    let accepted = serve(listener, identity.clone()).map_err(runtime)?;
    let addresses = placement.data_addresses.clone();
    let wiring = RemoteWiring::new(placement, env.worker);
    let (attempt, part) = deploy_part(job, Some(wiring))?;
    let cancel = attempt.cancel.clone();
    let (mailboxes, reports) = match part.checkpoints {
        Some((mailboxes, reports)) => (mailboxes, Some(reports)),
        None => (BTreeMap::new(), None),
    };
    watch_job_manager(line, mailboxes, cancel.clone(), env.heartbeat_timeout);
    watch_parent(cancel.clone());
    let storage = match checkpoint_storage(job) {
        Ok(storage) => storage,
        Err(error) => return finish_failed(attempt, error),
    };
    let forwarder = reports
        .map(|reports| forward_reports(reports, Arc::clone(&control), cancel.clone(), storage));
    let network_failure: Arc<Mutex<Option<String>>> = Arc::default();
    let mut peers = part.peers;
    let streams = match connect_peers(&peers, &addresses, &identity, &accepted, &cancel) {
        Ok(streams) => streams,
        Err(error) => return finish_failed(attempt, error),
    };
    let mut connections = Vec::new();
    for (peer, stream) in streams {
        let Some(channels) = peers.remove(&peer) else {
            continue;
        };
        let cancel = cancel.clone();
        let failure = Arc::clone(&network_failure);
        let name = format!("worker {peer} ({})", addresses.get(peer).map_or("?", |a| a));
        let handle = std::thread::Builder::new()
            .name(format!("net {name}"))
            .spawn(move || {
                if let Err(error) = run_connection(stream, channels, cancel.clone(), &name) {
                    failure
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get_or_insert(error);
                    cancel.cancel();
                }
            })
            .map_err(runtime)?;
        connections.push(handle);
    }
    let outcome = attempt.finish(&Mutex::new(false));
    if outcome.is_err() {
        cancel.cancel();
    }
    for connection in connections {
        let _ = connection.join();
    }
    // Every task's last report (finished) goes out before the outcome.
    if let Some(forwarder) = forwarder {
        let _ = forwarder.join();
    }
    let network = network_failure
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    match (outcome, network) {
        (Ok(_), None) => Ok(()),
        // A lost connection explains the tasks it cut off.
        (Err(JobError::Task { cause, .. }), Some(error)) if cause.is_secondary() => {
            Err(runtime(error))
        }
        (Ok(_), Some(error)) => Err(runtime(error)),
        (Err(error), _) => Err(error),
    }
}

/// Ends a deployed attempt that cannot run: its tasks are cancelled and awaited.
fn finish_failed(
    attempt: crate::deploy::job_client::Attempt,
    error: String,
) -> Result<(), JobError> {
    attempt.cancel.cancel();
    let _ = attempt.finish(&Mutex::new(false));
    Err(runtime(error))
}

/// The job's own checkpoint storage, where this worker stores its new shared files (if the
/// job checkpoints into one).
fn checkpoint_storage(job: &JobGraph) -> Result<Option<CheckpointStorage>, String> {
    let Some(directory) = job.config.checkpoint_directory() else {
        return Ok(None);
    };
    CheckpointStorage::open_job(directory, &job.config.job_id.to_string())
        .map(Some)
        .map_err(|error| format!("checkpoint storage {directory}: {error}"))
}

/// Opens this worker's data connections: to every lower-numbered worker it shares channels
/// with, and from every higher-numbered one (so each pair shares exactly one).
fn connect_peers(
    peers: &BTreeMap<usize, PeerChannels>,
    addresses: &[String],
    identity: &WorkerIdentity,
    accepted: &mpsc::Receiver<(usize, PeerStream)>,
    cancel: &CancelToken,
) -> Result<Vec<(usize, PeerStream)>, String> {
    let me = identity.worker;
    let mut streams = Vec::new();
    for peer in peers.keys().copied().filter(|p| *p < me) {
        let address = addresses.get(peer).map_or("", String::as_str);
        let stream = connect_peer(address, identity)
            .map_err(|error| format!("cannot connect to worker {peer}: {error}"))?;
        streams.push((peer, stream));
    }
    let higher = peers.keys().copied().filter(|p| *p > me).collect();
    streams.extend(await_peers(accepted, higher, PEER_TIMEOUT, cancel)?);
    Ok(streams)
}

/// Sends the local tasks' checkpoint reports to the coordinator in the JobManager, completing
/// and encoding their snapshots on the way (off the task threads). Ends when every task's
/// line is closed; a report that cannot be sent fails the attempt.
fn forward_reports(
    reports: mpsc::Receiver<TaskReport>,
    control: ControlLink,
    cancel: CancelToken,
    storage: Option<CheckpointStorage>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for report in reports {
            let sent = encode_report(report, storage.as_ref())
                .and_then(|wire| send_control(&control, &FromWorker::Report(wire)));
            if let Err(error) = sent {
                tracing::warn!("cannot report to the checkpoint coordinator: {error}");
                cancel.cancel();
                break;
            }
        }
    })
}

/// Posts the coordinator's messages into the local tasks' mailboxes; cancels the attempt when
/// the JobManager says so or its connection is lost.
fn watch_job_manager(
    line: JobManagerLine,
    mailboxes: BTreeMap<TaskId, Arc<Mailbox>>,
    cancel: CancelToken,
    timeout: Duration,
) {
    let JobManagerLine {
        mut frames,
        leaving,
        ended,
        ..
    } = line;
    let _ = std::thread::Builder::new()
        .name("job-manager".into())
        .spawn(move || {
            loop {
                match read_message::<ToWorker, _>(&mut frames) {
                    Ok(Some(ToWorker::Task { task, message })) => match mailboxes.get(&task) {
                        Some(mailbox) => mailbox.post(message),
                        None => tracing::warn!(
                            "the JobManager addressed task {}/{}, which does not run here",
                            task.vertex,
                            task.subtask
                        ),
                    },
                    Ok(Some(ToWorker::Cancel)) => {
                        tracing::info!("the JobManager cancelled this attempt");
                        break;
                    }
                    Ok(Some(_)) => {}
                    Ok(None) if leaving.load(Ordering::Acquire) => break,
                    Ok(None) => {
                        tracing::warn!("lost the JobManager: cancelling this attempt");
                        break;
                    }
                    Err(error) => {
                        let error = heartbeat::explain(error, timeout);
                        tracing::warn!("JobManager connection: {error}; cancelling this attempt");
                        break;
                    }
                }
            }
            cancel.cancel();
            drop(ended);
        });
}

/// A worker's connection to the JobManager: the messages coming in, the link to send on,
/// whether the worker is leaving (the connection's end is then expected), and a channel that
/// disconnects once the reading thread ended.
struct JobManagerLine {
    frames: FrameReader<BoxSocket>,
    control: ControlLink,
    leaving: Arc<AtomicBool>,
    ended: mpsc::Sender<()>,
}

/// Cancels the attempt when the TaskManager that started this process dies.
fn watch_parent(cancel: CancelToken) {
    let parent = std::os::unix::process::parent_id();
    let _ = std::thread::Builder::new()
        .name("parent-watch".into())
        .spawn(move || {
            while !cancel.is_cancelled() {
                if std::os::unix::process::parent_id() != parent {
                    tracing::warn!("the TaskManager is gone: cancelling this attempt");
                    cancel.cancel();
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
}
