//! Setting up the data plane of one job attempt: each worker process listens on its data port,
//! connects to every worker with a lower index and accepts the others, so each pair of workers
//! shares exactly one authenticated connection.
//!
//! The listener keeps serving for the worker's life: a connection that fails the handshake (a
//! wrong secret, garbage, another job) is logged and dropped, never fatal.

use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::auth;
use super::frame::{FrameReader, HANDSHAKE_FRAME_BYTES, MAX_FRAME_BYTES};
use super::message::{read_message, send_message};
use super::transport::{BoxSocket, Handshake, Transport, accept_each};
use crate::signal::{CANCEL_CHECK_INTERVAL, CancelToken};

/// How long a peer may take to finish its handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// An authenticated data connection: its reader (which may hold bytes already read) and the
/// stream to write to.
pub struct PeerStream {
    /// The frames coming from the peer.
    pub reader: FrameReader<BoxSocket>,
    /// The stream to the peer.
    pub writer: BoxSocket,
}

/// Who opened a data connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct DataHello {
    job: String,
    attempt: u32,
    worker: usize,
}

/// Which job attempt and worker this process is.
#[derive(Debug, Clone)]
pub struct WorkerIdentity {
    /// The job's id.
    pub job: String,
    /// The attempt.
    pub attempt: u32,
    /// This worker's index.
    pub worker: usize,
    /// The cluster secret.
    pub secret: Arc<[u8]>,
    /// Plain TCP or mutual TLS.
    pub transport: Transport,
}

/// Serves `listener`: authenticated connections of `identity`'s job attempt go to the returned
/// receiver with the connecting worker's index.
pub fn serve(
    listener: TcpListener,
    identity: WorkerIdentity,
) -> std::io::Result<mpsc::Receiver<(usize, PeerStream)>> {
    let (accepted, receiver) = mpsc::channel();
    std::thread::Builder::new()
        .name("data-listener".into())
        .spawn(move || {
            accept_each(
                listener,
                "data port",
                move |stream, peer, handshake| match accept_peer(stream, handshake, &identity) {
                    Ok((worker, connection)) => {
                        let _ = accepted.send((worker, connection));
                    }
                    Err(error) => {
                        tracing::warn!("data port: rejected a connection from {peer}: {error}")
                    }
                },
            )
        })?;
    Ok(receiver)
}

fn accept_peer(
    stream: TcpStream,
    handshake: Handshake,
    identity: &WorkerIdentity,
) -> Result<(usize, PeerStream), String> {
    stream
        .set_read_timeout(Some(HANDSHAKE_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let socket = identity
        .transport
        .accept(stream)
        .map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(HANDSHAKE_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut writer = socket.clone_socket().map_err(|e| e.to_string())?;
    let mut reader = FrameReader::new(socket, HANDSHAKE_FRAME_BYTES);
    auth::accept(&mut reader, &mut writer, &identity.secret).map_err(|e| e.to_string())?;
    let hello: DataHello = read_message(&mut reader)?
        .ok_or_else(|| "the peer closed the connection after the handshake".to_string())?;
    handshake.authenticated();
    reader.set_limit(MAX_FRAME_BYTES);
    if hello.job != identity.job || hello.attempt != identity.attempt {
        return Err(format!(
            "the peer belongs to job {} attempt {}, not job {} attempt {}",
            hello.job, hello.attempt, identity.job, identity.attempt
        ));
    }
    if hello.worker <= identity.worker {
        return Err(format!(
            "worker {} must be accepted by worker {}, not connect to it",
            identity.worker, hello.worker
        ));
    }
    Ok((hello.worker, PeerStream { reader, writer }))
}

/// Connects to the worker at `address` as `identity`.
pub fn connect_peer(address: &str, identity: &WorkerIdentity) -> Result<PeerStream, String> {
    let stream = TcpStream::connect(address).map_err(|e| format!("{address}: {e}"))?;
    let socket = identity
        .transport
        .connect(stream)
        .map_err(|e| format!("{address}: {e}"))?;
    socket
        .set_read_timeout(Some(HANDSHAKE_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut writer = socket.clone_socket().map_err(|e| e.to_string())?;
    let mut reader = FrameReader::new(socket, MAX_FRAME_BYTES);
    auth::connect(&mut reader, &mut writer, &identity.secret)
        .map_err(|e| format!("{address}: {e}"))?;
    send_message(
        &mut writer,
        &DataHello {
            job: identity.job.clone(),
            attempt: identity.attempt,
            worker: identity.worker,
        },
    )?;
    Ok(PeerStream { reader, writer })
}

/// Waits for the workers in `expected` to connect, within `timeout`.
pub fn await_peers(
    accepted: &mpsc::Receiver<(usize, PeerStream)>,
    mut expected: Vec<usize>,
    timeout: Duration,
    cancel: &CancelToken,
) -> Result<Vec<(usize, PeerStream)>, String> {
    let deadline = Instant::now() + timeout;
    let mut connected = Vec::new();
    while !expected.is_empty() {
        if cancel.is_cancelled() {
            return Err("cancelled while connecting to other workers".into());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "workers {expected:?} did not connect within {} s",
                timeout.as_secs()
            ));
        }
        match accepted.recv_timeout(CANCEL_CHECK_INTERVAL) {
            Ok((worker, stream)) => {
                if let Some(position) = expected.iter().position(|w| *w == worker) {
                    expected.swap_remove(position);
                    connected.push((worker, stream));
                } else {
                    tracing::warn!("data port: worker {worker} connected twice; dropped");
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err("the data listener stopped".into());
            }
        }
    }
    Ok(connected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn identity(worker: usize, secret: &[u8]) -> WorkerIdentity {
        WorkerIdentity {
            job: "job".into(),
            attempt: 1,
            worker,
            secret: Arc::from(secret),
            transport: Transport::plain(),
        }
    }

    #[test]
    fn garbage_and_strangers_are_turned_away_and_peers_still_get_in() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let accepted = serve(listener, identity(0, b"s")).unwrap();
        let mut garbage = TcpStream::connect(&address).unwrap();
        garbage.write_all(&[0xff; 64]).unwrap();
        assert!(connect_peer(&address, &identity(1, b"wrong")).is_err());
        let mut other_job = identity(1, b"s");
        other_job.job = "other".into();
        connect_peer(&address, &other_job).unwrap();
        connect_peer(&address, &identity(2, b"s")).unwrap();
        let peers = await_peers(
            &accepted,
            vec![2],
            Duration::from_secs(10),
            &CancelToken::new(),
        )
        .unwrap();
        assert_eq!(peers.len(), 1);
        assert_eq!(peers[0].0, 2);
        let timeout = await_peers(
            &accepted,
            vec![1],
            Duration::from_millis(100),
            &CancelToken::new(),
        );
        assert!(matches!(timeout, Err(e) if e.contains("did not connect")));
    }
}
