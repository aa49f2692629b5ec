//! The JobManager's control port: TaskManagers and worker processes connect here.
//!
//! Each connection gets its own thread: the handshake (a peer without the cluster secret is
//! rejected and logged), then the peer's first message says whether it is a TaskManager or a
//! worker, and its session runs until the connection ends. Until then a peer may send frames of
//! at most [`HANDSHAKE_FRAME_BYTES`] and has
//! [`HANDSHAKE_DEADLINE`](sluice_runtime::net::transport::HANDSHAKE_DEADLINE) for all of it, and
//! at most [`MAX_UNAUTHENTICATED`](sluice_runtime::net::transport::MAX_UNAUTHENTICATED) peers
//! are in that state at once (see [`accept_each`]). Garbage or
//! oversized frames end that connection only.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sluice_runtime::deploy::protocol::{
    BLOB_CHUNK_BYTES, FromTaskManager, FromWorker, Hello, TaskManagerInfo, ToTaskManager, ToWorker,
    WorkerHello, read_message, send_message,
};
use sluice_runtime::net::auth;
use sluice_runtime::net::data_plane::HANDSHAKE_TIMEOUT;
use sluice_runtime::net::frame::{FrameReader, HANDSHAKE_FRAME_BYTES, MAX_FRAME_BYTES};
use sluice_runtime::net::heartbeat;
use sluice_runtime::net::transport::{BoxSocket, Handshake, Transport, accept_each};

use super::dispatcher::{Dispatcher, Link};

/// The largest message an authenticated worker may send: a task's snapshot travels in one.
const MAX_SNAPSHOT_FRAME_BYTES: usize = 1 << 30;

/// Serves `listener` for the life of the process.
pub fn serve(
    listener: TcpListener,
    dispatcher: Arc<Dispatcher>,
    secret: Arc<[u8]>,
    transport: Transport,
) {
    accept_each(listener, "control port", move |stream, peer, handshake| {
        if let Err(error) = session(stream, handshake, &dispatcher, &secret, &transport) {
            tracing::warn!("control port: connection from {peer} closed: {error}");
        }
    });
}

fn session(
    stream: TcpStream,
    handshake: Handshake,
    dispatcher: &Dispatcher,
    secret: &[u8],
    transport: &Transport,
) -> Result<(), String> {
    stream
        .set_read_timeout(Some(HANDSHAKE_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let socket = transport
        .accept(stream)
        .map_err(|e| format!("rejected: {e}"))?;
    socket
        .set_read_timeout(Some(HANDSHAKE_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut writer = socket.clone_socket().map_err(|e| e.to_string())?;
    let _ = writer.set_write_timeout(Some(Duration::from_secs(30)));
    let mut frames = FrameReader::new(socket, HANDSHAKE_FRAME_BYTES);
    auth::accept(&mut frames, &mut writer, secret).map_err(|e| format!("rejected: {e}"))?;
    let hello = read_message::<Hello, _>(&mut frames)?
        .ok_or_else(|| "closed before introducing itself".to_string())?;
    handshake.authenticated();
    frames.set_limit(MAX_FRAME_BYTES);
    // Both peers heartbeat: a peer silent for the timeout is gone, even with the connection open.
    heartbeat::expect_within(frames.get_ref(), dispatcher.heartbeat_timeout)?;
    let link: Link = Arc::new(Mutex::new(writer));
    match hello {
        Hello::TaskManager(info) => task_manager_session(info, frames, link, dispatcher),
        Hello::Worker(hello) => {
            // Workers send their tasks' snapshots on this connection.
            frames.set_limit(MAX_SNAPSHOT_FRAME_BYTES);
            worker_session(&hello, frames, link, dispatcher)
        }
    }
}

fn task_manager_session(
    info: TaskManagerInfo,
    mut frames: FrameReader<BoxSocket>,
    link: Link,
    dispatcher: &Dispatcher,
) -> Result<(), String> {
    let id = info.id.clone();
    send_message(
        &mut *link
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
        &ToTaskManager::Registered {
            heartbeat_interval_ms: millis(dispatcher.heartbeat_interval),
            heartbeat_timeout_ms: millis(dispatcher.heartbeat_timeout),
        },
    )?;
    dispatcher.register_task_manager(info, Arc::clone(&link));
    let _heartbeats = heartbeat::send_every(
        Arc::clone(&link),
        ToTaskManager::Heartbeat,
        dispatcher.heartbeat_interval,
    );
    let outcome = loop {
        match read_message::<FromTaskManager, _>(&mut frames) {
            Ok(Some(FromTaskManager::Heartbeat)) => dispatcher.heartbeat(&id),
            Ok(Some(FromTaskManager::Usage(usage))) => dispatcher.task_manager_usage(&id, usage),
            Ok(Some(FromTaskManager::FetchBlob { key })) => {
                send_blob_in_background(dispatcher, &link, key);
            }
            Ok(Some(FromTaskManager::WorkerExited {
                job,
                attempt,
                worker,
                success,
                detail,
            })) => dispatcher.worker_exited(&job, attempt, worker, success, &detail),
            Ok(None) => break Ok(()),
            Err(error) => break Err(heartbeat::explain(error, dispatcher.heartbeat_timeout)),
        }
    };
    dispatcher.task_manager_disconnected(&id, &link);
    outcome
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Sends job binary `key` to a TaskManager from a thread of its own, so that its session goes
/// on reading the TaskManager's heartbeats while a large binary streams; a failed send closes
/// the connection (the TaskManager registers again).
fn send_blob_in_background(dispatcher: &Dispatcher, link: &Link, key: String) {
    let blob = dispatcher.blobs.open_blob(&key);
    let link = Arc::clone(link);
    let spawned = std::thread::Builder::new()
        .name("send blob".into())
        .spawn(move || {
            if let Err(error) = send_blob(blob, &link, &key) {
                tracing::warn!("sending job binary {key}: {error}");
                let _ = link
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .shutdown(std::net::Shutdown::Both);
            }
        });
    if let Err(error) = spawned {
        tracing::warn!("cannot start sending a job binary: {error}");
    }
}

fn send_blob(blob: Result<impl Read, String>, link: &Link, key: &str) -> Result<(), String> {
    let send = |message: &ToTaskManager| {
        send_message(
            &mut *link
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            message,
        )
    };
    let mut blob = match blob {
        Ok(blob) => blob,
        Err(error) => {
            tracing::warn!("a TaskManager asked for a missing job binary: {error}");
            return send(&ToTaskManager::BlobMissing {
                key: key.to_string(),
            });
        }
    };
    let mut chunk = vec![0u8; BLOB_CHUNK_BYTES];
    loop {
        let mut filled = 0;
        while filled < chunk.len() {
            match blob.read(&mut chunk[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) => return Err(e.to_string()),
            }
        }
        let last = filled < chunk.len();
        send(&ToTaskManager::BlobChunk {
            key: key.to_string(),
            bytes: chunk[..filled].to_vec(),
            last,
        })?;
        if last {
            return Ok(());
        }
    }
}

fn worker_session(
    hello: &WorkerHello,
    mut frames: FrameReader<BoxSocket>,
    link: Link,
    dispatcher: &Dispatcher,
) -> Result<(), String> {
    if let Err(reason) = dispatcher.worker_hello(hello, Arc::clone(&link)) {
        let _ = send_message(
            &mut *link
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            &ToWorker::Rejected {
                reason: reason.clone(),
            },
        );
        return Err(reason);
    }
    let _heartbeats = heartbeat::send_every(
        Arc::clone(&link),
        ToWorker::Heartbeat,
        dispatcher.heartbeat_interval,
    );
    let outcome = loop {
        match read_message::<FromWorker, _>(&mut frames) {
            Ok(Some(FromWorker::Heartbeat)) => {}
            Ok(Some(report)) => dispatcher.worker_report(hello, report),
            Ok(None) => break Ok(()),
            Err(error) => break Err(heartbeat::explain(error, dispatcher.heartbeat_timeout)),
        }
    };
    dispatcher.worker_disconnected(hello, outcome.as_ref().err().map(String::as_str));
    outcome
}
