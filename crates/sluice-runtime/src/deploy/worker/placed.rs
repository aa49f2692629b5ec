//! A placed worker: runs its pipelines, opens its data connections to the other workers,
//! forwards checkpoint reports to the JobManager and follows its messages, until the attempt
//! ends.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::Duration;

use sluice_state::CheckpointStorage;

use super::{ControlLink, WorkerEnv, runtime, send_control};
use crate::checkpoint::{Mailbox, TaskId, TaskReport};
use crate::deploy::mini_cluster::deploy_part;
use crate::deploy::protocol::{FromWorker, Placement, ToWorker, read_message};
use crate::deploy::remote_checkpoints::encode_report;
use crate::deploy::wiring::RemoteWiring;
use crate::error::JobError;
use crate::graph::JobGraph;
use crate::net::connection::{PeerChannels, run_connection};
use crate::net::data_plane::{PeerStream, WorkerIdentity, await_peers, connect_peer, serve};
use crate::net::frame::FrameReader;
use crate::net::heartbeat;
use crate::net::transport::{BoxSocket, Transport};
use crate::signal::CancelToken;

/// How long workers wait for each other's data connections.
const PEER_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs this worker's pipelines once the JobManager placed every pipeline.
pub(super) fn run_placed(
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
    // The tasks' counters go to the JobManager every heartbeat interval, and once at the end.
    let metrics = Arc::clone(&attempt.metrics);
    let reporting = {
        let metrics = Arc::clone(&metrics);
        let make = move || FromWorker::Metrics(metrics.report());
        heartbeat::send_made_every(
            Arc::clone(&control),
            make,
            env.heartbeat_interval,
            "metrics",
        )
    };
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
    let streams = match connect_peers(&part.peers, &addresses, &identity, &accepted, &cancel) {
        Ok(streams) => streams,
        Err(error) => return finish_failed(attempt, error),
    };
    let connections = carry_channels(streams, part.peers, &addresses, &cancel, &network_failure)?;
    let outcome = attempt.finish(&Mutex::new(false));
    if outcome.is_err() {
        cancel.cancel();
    }
    for connection in connections {
        let _ = connection.join();
    }
    drop(reporting);
    // Lost with the connection if it is gone; the outcome tells why.
    let _ = send_control(&control, &FromWorker::Metrics(metrics.report()));
    // Every task's last report (finished) goes out before the outcome.
    if let Some(forwarder) = forwarder {
        let _ = forwarder.join();
    }
    let network = network_failure
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    with_network_failure(outcome.map(drop), network)
}

/// The attempt's outcome with the failure of a data connection, if one failed: a lost
/// connection explains the tasks it cut off.
fn with_network_failure(
    outcome: Result<(), JobError>,
    network: Option<String>,
) -> Result<(), JobError> {
    match (outcome, network) {
        (Ok(()), None) => Ok(()),
        (Err(JobError::Task { cause, .. }), Some(error)) if cause.is_secondary() => {
            Err(runtime(error))
        }
        (Ok(()), Some(error)) => Err(runtime(error)),
        (Err(error), _) => Err(error),
    }
}

/// Carries each peer's channels over its data connection, one thread per peer; the first
/// connection to fail records why in `failure` and cancels the attempt.
fn carry_channels(
    streams: Vec<(usize, PeerStream)>,
    mut peers: BTreeMap<usize, PeerChannels>,
    addresses: &[String],
    cancel: &CancelToken,
    failure: &Arc<Mutex<Option<String>>>,
) -> Result<Vec<std::thread::JoinHandle<()>>, JobError> {
    let mut connections = Vec::new();
    for (peer, stream) in streams {
        let Some(channels) = peers.remove(&peer) else {
            continue;
        };
        let cancel = cancel.clone();
        let failure = Arc::clone(failure);
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
    Ok(connections)
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
pub(super) struct JobManagerLine {
    pub(super) frames: FrameReader<BoxSocket>,
    pub(super) control: ControlLink,
    pub(super) leaving: Arc<AtomicBool>,
    pub(super) ended: mpsc::Sender<()>,
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
