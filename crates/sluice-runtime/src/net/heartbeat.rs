//! Heartbeats on a control connection, both ways. Each side sends a heartbeat every interval
//! from a thread of its own, and reads with the heartbeat timeout as its read deadline (any
//! message counts as a sign of life), so a peer that vanished without closing the connection —
//! a lost host, a hung or SIGSTOPped process — is noticed within the timeout.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;

use super::message::send_message;
use super::transport::BoxSocket;

/// Heartbeats being sent; they stop when this is dropped (or the connection fails).
#[derive(Debug)]
pub struct Heartbeats {
    alive: Arc<AtomicBool>,
}

impl Drop for Heartbeats {
    fn drop(&mut self) {
        self.alive.store(false, Ordering::Release);
    }
}

/// Sends `message` on `link` every `interval` until the returned handle is dropped.
pub fn send_every<M: Serialize + Clone + Send + 'static>(
    link: Arc<Mutex<BoxSocket>>,
    message: M,
    interval: Duration,
) -> Heartbeats {
    send_made_every(link, move || message.clone(), interval, "heartbeat")
}

/// Sends what `make` makes on `link` every `interval`, from a thread named `name`, until the
/// returned handle is dropped (or the connection fails).
pub fn send_made_every<M: Serialize, F: FnMut() -> M + Send + 'static>(
    link: Arc<Mutex<BoxSocket>>,
    mut make: F,
    interval: Duration,
    name: &str,
) -> Heartbeats {
    let alive = Arc::new(AtomicBool::new(true));
    let sending = Arc::clone(&alive);
    let spawned = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            while sending.load(Ordering::Acquire) {
                let message = make();
                let sent = send_message(
                    &mut *link.lock().unwrap_or_else(PoisonError::into_inner),
                    &message,
                );
                if sent.is_err() {
                    break;
                }
                std::thread::sleep(interval);
            }
        });
    if let Err(error) = spawned {
        tracing::warn!("cannot start a {name} thread: {error}");
    }
    Heartbeats { alive }
}

/// Bounds every read on `socket` by the heartbeat `timeout`: the peer sends at least a
/// heartbeat within it.
pub fn expect_within(socket: &BoxSocket, timeout: Duration) -> Result<(), String> {
    socket
        .set_read_timeout(Some(timeout))
        .map_err(|e| format!("cannot set the heartbeat timeout: {e}"))
}

/// Rewords a read error caused by the heartbeat deadline: the peer sent nothing, not even a
/// heartbeat, for `timeout`.
pub fn explain(error: String, timeout: Duration) -> String {
    if error.contains("timed out") || error.contains("temporarily unavailable") {
        format!(
            "no heartbeat or message for {timeout:?} (heartbeat.timeout): the peer hangs or is gone"
        )
    } else {
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::frame::{FrameReader, MAX_FRAME_BYTES};
    use crate::net::message::read_message;
    use std::net::{TcpListener, TcpStream};
    use std::time::Instant;

    #[test]
    fn heartbeats_arrive_until_dropped_and_silence_is_noticed_within_the_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let link: Arc<Mutex<BoxSocket>> = Arc::new(Mutex::new(Box::new(client)));
        let beats = send_every(Arc::clone(&link), 7u8, Duration::from_millis(20));
        let server: BoxSocket = Box::new(server);
        expect_within(&server, Duration::from_millis(300)).unwrap();
        let mut frames = FrameReader::new(server.clone_socket().unwrap(), MAX_FRAME_BYTES);
        for _ in 0..5 {
            assert_eq!(read_message::<u8, _>(&mut frames).unwrap(), Some(7));
        }
        drop(beats);
        // The connection stays open but silent: the deadline ends the wait.
        let started = Instant::now();
        let error = loop {
            match read_message::<u8, _>(&mut frames) {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("closed"),
                Err(error) => break error,
            }
        };
        assert!(started.elapsed() < Duration::from_secs(2));
        let explained = explain(error, Duration::from_millis(300));
        assert!(explained.contains("heartbeat.timeout"), "{explained}");
        drop(link);
    }
}
