//! A non-parallel, unbounded source of the lines received on a TCP socket (Flink's
//! `socketTextStream`). It reconnects, logging each attempt, when the connection cannot be made
//! or is lost; a partial last line is emitted when the connection closes. Socket input cannot
//! be replayed.

use std::io::{ErrorKind, Read};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use sluice_core::UserResult;
use sluice_runtime::operator::OperatorContext;
use sluice_runtime::source::{Boundedness, ReaderStatus, Source, SourceOutput, SourceReader};

/// How long to wait between connection attempts.
const RETRY_DELAY: Duration = Duration::from_secs(1);
/// How long one read may block, so the task stays responsive.
const READ_TIMEOUT: Duration = Duration::from_millis(50);

/// Reads newline-separated lines from `host:port`.
#[derive(Debug, Clone)]
pub struct SocketTextSource {
    host: String,
    port: u16,
}

impl SocketTextSource {
    /// A source reading from `host:port`.
    pub fn new(host: &str, port: u16) -> Self {
        SocketTextSource {
            host: host.to_string(),
            port,
        }
    }
}

/// The reader of a [`SocketTextSource`].
pub struct SocketTextReader {
    address: String,
    stream: Option<TcpStream>,
    next_attempt: Instant,
    pending: Vec<u8>,
    chunk: Vec<u8>,
}

impl Source<String> for SocketTextSource {
    type Split = ();
    type Reader = SocketTextReader;

    fn boundedness(&self) -> Boundedness {
        Boundedness::Unbounded
    }

    fn create_splits(&self, _parallelism: usize) -> UserResult<Vec<()>> {
        Ok(vec![()])
    }

    fn create_reader(&self, _ctx: &OperatorContext) -> UserResult<SocketTextReader> {
        Ok(SocketTextReader {
            address: format!("{}:{}", self.host, self.port),
            stream: None,
            next_attempt: Instant::now(),
            pending: Vec::new(),
            chunk: vec![0; 1 << 16],
        })
    }
}

impl SocketTextReader {
    fn connect(&mut self) {
        let attempt = self
            .address
            .to_socket_addrs()
            .map_err(|e| e.to_string())
            .and_then(|mut addrs| addrs.next().ok_or_else(|| "no address found".to_string()))
            .and_then(|addr| {
                TcpStream::connect_timeout(&addr, RETRY_DELAY).map_err(|e| e.to_string())
            })
            .and_then(|stream| {
                stream
                    .set_read_timeout(Some(READ_TIMEOUT))
                    .map(|_| stream)
                    .map_err(|e| e.to_string())
            });
        match attempt {
            Ok(stream) => {
                tracing::info!("socket source: connected to {}", self.address);
                self.stream = Some(stream);
            }
            Err(error) => {
                tracing::warn!(
                    "socket source: cannot connect to {}: {error}; retrying in {} s",
                    self.address,
                    RETRY_DELAY.as_secs()
                );
                self.next_attempt = Instant::now() + RETRY_DELAY;
            }
        }
    }

    fn emit_lines(&mut self, output: &mut SourceOutput<'_, String>) {
        let mut start = 0;
        while let Some(offset) = self.pending[start..].iter().position(|&b| b == b'\n') {
            let mut end = start + offset;
            if end > start && self.pending[end - 1] == b'\r' {
                end -= 1;
            }
            output.collect(String::from_utf8_lossy(&self.pending[start..end]).into_owned());
            start += offset + 1;
        }
        self.pending.drain(..start);
    }

    fn disconnect(&mut self, reason: &str, output: &mut SourceOutput<'_, String>) {
        tracing::warn!("socket source: {reason} ({}); reconnecting", self.address);
        if !self.pending.is_empty() {
            output.collect(String::from_utf8_lossy(&self.pending).into_owned());
            self.pending.clear();
        }
        self.stream = None;
        self.next_attempt = Instant::now() + RETRY_DELAY;
    }
}

impl SourceReader<String, ()> for SocketTextReader {
    /// Sockets cannot be replayed: the split is saved so a restored job reconnects, but lines
    /// received after the last checkpoint are lost on recovery (as with Flink's socket source).
    fn snapshot_state(&mut self) -> UserResult<Vec<()>> {
        Ok(vec![()])
    }

    fn add_split(&mut self, _split: ()) -> UserResult {
        Ok(())
    }

    fn poll_next(&mut self, output: &mut SourceOutput<'_, String>) -> UserResult<ReaderStatus> {
        if self.stream.is_none() {
            if Instant::now() < self.next_attempt {
                return Ok(ReaderStatus::NothingAvailable);
            }
            self.connect();
        }
        let Some(stream) = self.stream.as_mut() else {
            return Ok(ReaderStatus::NothingAvailable);
        };
        match stream.read(&mut self.chunk) {
            Ok(0) => {
                self.disconnect("connection closed by peer", output);
                Ok(ReaderStatus::NothingAvailable)
            }
            Ok(n) => {
                self.pending.extend_from_slice(&self.chunk[..n]);
                self.emit_lines(output);
                Ok(ReaderStatus::MoreAvailable)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                Ok(ReaderStatus::NothingAvailable)
            }
            Err(e) => {
                self.disconnect(&format!("read failed: {e}"), output);
                Ok(ReaderStatus::NothingAvailable)
            }
        }
    }
}
