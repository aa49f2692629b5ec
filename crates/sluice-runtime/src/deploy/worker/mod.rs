//! Cluster modes of a job binary: plan mode, where the binary only describes its job to the
//! client that submits it, and worker mode, where a TaskManager started it to run its share of
//! a job attempt.
//!
//! Rust cannot ship closures, so on a cluster every process that runs a job's operators is the
//! job's own binary: its `main` builds the same graph as everywhere else, and `execute` then
//! runs only the pipelines the JobManager placed on this worker. The environment tells the
//! binary which mode it is in; without it, `execute` runs the embedded mini-cluster.

use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::deploy::protocol::{
    ClusterPlan, FromWorker, Hello, Placement, PlanTask, ToWorker, WorkerHello, read_message,
    send_message,
};
use crate::error::JobError;
use crate::graph::{JobGraph, OperatorFactory};
use crate::net::auth;
use crate::net::frame::{FrameReader, MAX_FRAME_BYTES};
use crate::net::heartbeat;
use crate::net::transport::{BoxSocket, Transport};
use crate::source::Boundedness;

mod env;
mod placed;

pub use env::*;
use placed::{JobManagerLine, run_placed};

impl ClusterMode {
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
            .enumerate()
            .map(|(index, vertex)| PlanTask {
                parallelism: vertex.parallelism,
                source: job.vertex_is_source(index),
            })
            .collect(),
        operators: job.operator_layout(),
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

fn send_control(link: &ControlLink, message: &impl serde::Serialize) -> Result<(), String> {
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
    let hello = WorkerHello {
        job: env.job.clone(),
        attempt: env.attempt,
        worker: env.worker,
        data_address,
        fingerprint: cluster_plan(job).fingerprint,
    };
    send_control(&control, &Hello::Worker(hello)).map_err(runtime)?;
    let heartbeats = heartbeat::send_every(
        Arc::clone(&control),
        FromWorker::Heartbeat,
        env.heartbeat_interval,
    );
    let placement = await_start(&mut frames, env)?;
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
    report_outcome(&control, &outcome, &leaving, &ended)?;
    outcome
}

/// Waits for the JobManager to place every worker of the attempt.
fn await_start(
    frames: &mut FrameReader<BoxSocket>,
    env: &WorkerEnv,
) -> Result<Placement, JobError> {
    loop {
        let message = read_message::<ToWorker, _>(frames)
            .map_err(|e| runtime(heartbeat::explain(e, env.heartbeat_timeout)))?;
        match message {
            Some(ToWorker::Start(placement)) => return Ok(placement),
            Some(ToWorker::Heartbeat) => {}
            Some(ToWorker::Rejected { reason }) => {
                return Err(runtime(format!(
                    "the JobManager rejected this worker: {reason}"
                )));
            }
            Some(_) | None => return Err(JobError::Cancelled),
        }
    }
}

/// Tells the JobManager how this worker's share ended. The report must reach it before this
/// process exits (over TLS it is still in the relay): the sending side is closed, then the
/// JobManager's closing of the connection (`ended`) awaited.
fn report_outcome(
    control: &ControlLink,
    outcome: &Result<(), JobError>,
    leaving: &AtomicBool,
    ended: &mpsc::Receiver<()>,
) -> Result<(), JobError> {
    let report = match outcome {
        Ok(()) => FromWorker::Finished,
        Err(error) => FromWorker::Failed {
            error: error.to_string(),
        },
    };
    send_control(control, &report).map_err(runtime)?;
    leaving.store(true, Ordering::Release);
    let _ = control
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .shutdown(std::net::Shutdown::Write);
    let _ = ended.recv_timeout(Duration::from_secs(5));
    Ok(())
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
