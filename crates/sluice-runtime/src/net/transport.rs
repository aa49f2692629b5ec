//! The byte streams under the wire format: plain TCP, or TCP wrapped in mutual TLS.
//!
//! Everything above (frames, the handshake on the cluster secret, control sessions, data
//! connections) reads and writes a [`BoxSocket`]: the TCP stream itself, or the local end of a
//! relay that speaks TLS to the peer (see [`super::tls`]). A socket can be cloned for a reader
//! and a writer thread, and shut down from either.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use super::tls::TlsSettings;

/// A connected byte stream.
pub trait Socket: Read + Write + Send + Sync {
    /// Another handle on the same stream.
    fn clone_socket(&self) -> io::Result<BoxSocket>;
    /// Shuts down reading, writing or both.
    fn shutdown(&self, how: Shutdown) -> io::Result<()>;
    /// Bounds how long a read may block.
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
    /// Bounds how long a write may block.
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
}

/// A boxed socket.
pub type BoxSocket = Box<dyn Socket>;

impl std::fmt::Debug for dyn Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Socket")
    }
}

/// Implements [`Socket`] for a standard stream type with the methods of its own name.
macro_rules! std_socket {
    ($stream:ty) => {
        impl Socket for $stream {
            fn clone_socket(&self) -> io::Result<BoxSocket> {
                Ok(Box::new(self.try_clone()?))
            }

            fn shutdown(&self, how: Shutdown) -> io::Result<()> {
                <$stream>::shutdown(self, how)
            }

            fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
                <$stream>::set_read_timeout(self, timeout)
            }

            fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
                <$stream>::set_write_timeout(self, timeout)
            }
        }
    };
}

std_socket!(TcpStream);
std_socket!(UnixStream);

/// The most connections one listener holds in their handshake at once; more are closed as they
/// arrive, so unauthenticated peers cannot exhaust threads or memory.
pub const MAX_UNAUTHENTICATED: usize = 128;

/// How long a peer has for its whole handshake: TLS, authentication and its introduction. A
/// peer that trickles bytes is cut off at this deadline, not at a per-read timeout.
pub const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);

/// Accepts connections on `listener` for as long as the process lives, each handed to `handle`
/// with the peer's address and its [`Handshake`] on a thread of its own (a slow or hostile peer
/// holds up no other). At most [`MAX_UNAUTHENTICATED`] connections are in their handshake at
/// once. Errors are logged as `port`'s and never end the loop.
pub fn accept_each<H>(listener: TcpListener, port: &'static str, handle: H)
where
    H: Fn(TcpStream, String, Handshake) + Clone + Send + 'static,
{
    let in_handshake = Arc::new(AtomicUsize::new(0));
    let mut refusing = false;
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(error) => {
                tracing::warn!("{port}: cannot accept a connection: {error}");
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        if in_handshake.load(Ordering::Acquire) >= MAX_UNAUTHENTICATED {
            if !refusing {
                tracing::warn!(
                    "{port}: {MAX_UNAUTHENTICATED} connections are in their handshake; closing new ones until they finish"
                );
            }
            refusing = true;
            continue;
        }
        refusing = false;
        let handshake = Handshake::start(&stream, &in_handshake, HANDSHAKE_DEADLINE);
        let handle = handle.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("{port} peer"))
            .spawn(move || {
                let peer = stream
                    .peer_addr()
                    .map_or_else(|_| "?".to_string(), |a| a.to_string());
                handle(stream, peer, handshake);
            });
        if let Err(error) = spawned {
            tracing::warn!("{port}: cannot start a connection thread: {error}");
        }
    }
}

/// A connection in its handshake: it counts against its listener's cap and is shut down at its
/// deadline, until [`Handshake::authenticated`] (or drop) ends both.
pub struct Handshake {
    counter: Arc<AtomicUsize>,
    id: u64,
}

impl Handshake {
    fn start(stream: &TcpStream, counter: &Arc<AtomicUsize>, within: Duration) -> Self {
        counter.fetch_add(1, Ordering::AcqRel);
        let id = watchdog().watch(stream, Instant::now() + within);
        Handshake {
            counter: Arc::clone(counter),
            id,
        }
    }

    /// The peer authenticated and introduced itself: no deadline from now on.
    pub fn authenticated(self) {}
}

impl Drop for Handshake {
    fn drop(&mut self) {
        watchdog().forget(self.id);
        self.counter.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Shuts down connections whose handshake passed its deadline (one thread for the process).
struct Watchdog {
    watched: Mutex<BTreeMap<u64, (Instant, Option<TcpStream>)>>,
    next_id: AtomicU64,
}

/// How often the watchdog looks for expired handshakes.
const WATCHDOG_TICK: Duration = Duration::from_millis(100);

fn watchdog() -> &'static Watchdog {
    static WATCHDOG: OnceLock<Watchdog> = OnceLock::new();
    WATCHDOG.get_or_init(|| {
        let spawned = std::thread::Builder::new()
            .name("handshake watchdog".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(WATCHDOG_TICK);
                    watchdog().shut_expired();
                }
            });
        if let Err(error) = spawned {
            tracing::warn!("cannot start the handshake watchdog: {error}");
        }
        Watchdog {
            watched: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(0),
        }
    })
}

impl Watchdog {
    fn watch(&self, stream: &TcpStream, deadline: Instant) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let clone = stream.try_clone().ok();
        self.lock().insert(id, (deadline, clone));
        id
    }

    fn forget(&self, id: u64) {
        self.lock().remove(&id);
    }

    fn shut_expired(&self) {
        let now = Instant::now();
        self.lock().retain(|_, (deadline, stream)| {
            if *deadline > now {
                return true;
            }
            if let Some(stream) = stream {
                let _ = stream.shutdown(Shutdown::Both);
            }
            false
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, (Instant, Option<TcpStream>)>> {
        self.watched.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// How this process's connections are carried: plain TCP, or mutual TLS.
#[derive(Clone, Default)]
pub struct Transport {
    tls: Option<Arc<TlsSettings>>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.tls.is_some() {
            "Transport(mTLS)"
        } else {
            "Transport(TCP)"
        })
    }
}

impl Transport {
    /// Plain TCP.
    pub fn plain() -> Self {
        Transport::default()
    }

    /// Mutual TLS with `settings`.
    pub fn tls(settings: TlsSettings) -> Self {
        Transport {
            tls: Some(Arc::new(settings)),
        }
    }

    /// Whether connections use TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The stream of a connection this side accepted (for TLS: once the peer presented a
    /// certificate the trusted authority signed).
    pub fn accept(&self, stream: TcpStream) -> io::Result<BoxSocket> {
        let _ = stream.set_nodelay(true);
        match &self.tls {
            None => Ok(Box::new(stream)),
            Some(tls) => Ok(Box::new(tls.accept(stream)?)),
        }
    }

    /// The stream of a connection this side opened.
    pub fn connect(&self, stream: TcpStream) -> io::Result<BoxSocket> {
        let _ = stream.set_nodelay(true);
        match &self.tls {
            None => Ok(Box::new(stream)),
            Some(tls) => Ok(Box::new(tls.connect(stream)?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connected_pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    #[test]
    fn a_handshake_past_its_deadline_is_shut_down() {
        let (_client, server) = connected_pair();
        let counter = Arc::new(AtomicUsize::new(0));
        let handshake = Handshake::start(&server, &counter, Duration::from_millis(200));
        assert_eq!(counter.load(Ordering::Acquire), 1);
        let started = Instant::now();
        // The peer sends nothing and closes nothing: the watchdog ends the read.
        let read = (&server).read(&mut [0u8; 1]).unwrap_or(0);
        assert_eq!(read, 0);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        drop(handshake);
        assert_eq!(counter.load(Ordering::Acquire), 0);
    }

    #[test]
    fn an_authenticated_connection_has_no_deadline() {
        let (mut client, server) = connected_pair();
        let counter = Arc::new(AtomicUsize::new(0));
        Handshake::start(&server, &counter, Duration::from_millis(100)).authenticated();
        std::thread::sleep(Duration::from_millis(400));
        client.write_all(b"x").unwrap();
        let mut byte = [0u8; 1];
        assert_eq!((&server).read(&mut byte).unwrap(), 1);
    }

    #[test]
    fn connections_past_the_cap_are_closed_at_once() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            accept_each(listener, "test port", |stream, _, handshake| {
                // Hold the handshake until the peer closes.
                let _ = (&stream).read(&mut [0u8; 1]);
                drop(handshake);
            });
        });
        let held: Vec<TcpStream> = (0..MAX_UNAUTHENTICATED)
            .map(|_| TcpStream::connect(address).unwrap())
            .collect();
        let extra = TcpStream::connect(address).unwrap();
        extra
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert_eq!(
            (&extra).read(&mut [0u8; 1]).unwrap(),
            0,
            "closed by the listener"
        );
        drop(held);
        // Once they are gone, new connections are served again.
        std::thread::sleep(Duration::from_millis(200));
        let again = TcpStream::connect(address).unwrap();
        again
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let error = (&again).read(&mut [0u8; 1]).unwrap_err();
        assert!(
            matches!(
                error.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            "{error}"
        );
    }
}
