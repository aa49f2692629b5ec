//! The byte streams under the wire format: plain TCP, or TCP wrapped in mutual TLS.
//!
//! Everything above (frames, the handshake on the cluster secret, control sessions, data
//! connections) reads and writes a [`BoxSocket`]: the TCP stream itself, or the local end of a
//! relay that speaks TLS to the peer (see [`super::tls`]). A socket can be cloned for a reader
//! and a writer thread, and shut down from either.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

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

/// Accepts connections on `listener` for as long as the process lives, each handed to `handle`
/// with the peer's address on a thread of its own (a slow or hostile peer holds up no other).
/// Errors are logged as `port`'s and never end the loop.
pub fn accept_each<H>(listener: TcpListener, port: &'static str, handle: H)
where
    H: Fn(TcpStream, String) + Clone + Send + 'static,
{
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(error) => {
                tracing::warn!("{port}: cannot accept a connection: {error}");
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let handle = handle.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("{port} peer"))
            .spawn(move || {
                let peer = stream
                    .peer_addr()
                    .map_or_else(|_| "?".to_string(), |a| a.to_string());
                handle(stream, peer);
            });
        if let Err(error) = spawned {
            tracing::warn!("{port}: cannot start a connection thread: {error}");
        }
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
