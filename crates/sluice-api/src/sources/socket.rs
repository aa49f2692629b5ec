//! A non-parallel, unbounded source of the lines received on a TCP socket (Flink's
//! `socketTextStream`). It reconnects, logging each attempt, when the connection cannot be made
//! or is lost; a partial last line is emitted when the connection closes. Socket input cannot
//! be replayed. A line longer than the limit ([`super::DEFAULT_MAX_LINE_BYTES`] unless set)
//! fails the source: memory stays bounded whatever the peer sends.

use std::io::{ErrorKind, Read};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use sluice_core::UserResult;
use sluice_runtime::source::{Boundedness, ReaderStatus, Source, SourceOutput, SourceReader};
use sluice_runtime::task::operator::OperatorContext;

/// How long to wait between connection attempts.
const RETRY_DELAY: Duration = Duration::from_secs(1);
/// How long one read may block, so the task stays responsive.
const READ_TIMEOUT: Duration = Duration::from_millis(50);

/// Reads newline-separated lines from `host:port`.
#[derive(Debug, Clone)]
pub struct SocketTextSource {
    host: String,
    port: u16,
    max_line_bytes: usize,
}

impl SocketTextSource {
    /// A source reading from `host:port`.
    pub fn new(host: &str, port: u16) -> Self {
        SocketTextSource {
            host: host.to_string(),
            port,
            max_line_bytes: super::DEFAULT_MAX_LINE_BYTES,
        }
    }

    /// Accepts lines of up to `bytes` bytes (64 MiB by default); a longer line fails the job.
    pub fn with_max_line_length(mut self, bytes: usize) -> Self {
        self.max_line_bytes = bytes.max(1);
        self
    }
}

/// The reader of a [`SocketTextSource`].
pub struct SocketTextReader {
    address: String,
    stream: Option<TcpStream>,
    next_attempt: Instant,
    pending: Vec<u8>,
    chunk: Vec<u8>,
    max_line_bytes: usize,
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
            max_line_bytes: self.max_line_bytes,
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
                if self.pending.len() > self.max_line_bytes {
                    return Err(format!(
                        "socket source {}: a line is longer than {} bytes (SocketTextSource::with_max_line_length raises the limit)",
                        self.address, self.max_line_bytes
                    )
                    .into());
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::Record;
    use std::io::Write;
    use std::net::TcpListener;

    #[test]
    fn a_line_longer_than_the_limit_fails_the_source_after_the_lines_before_it() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let sender = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            stream.write_all(b"ok\r\n").unwrap();
            for _ in 0..20 {
                if stream.write_all(&[b'x'; 10]).is_err() {
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(300));
        });
        let source = SocketTextSource::new("127.0.0.1", port).with_max_line_length(50);
        let mut reader = source
            .create_reader(&OperatorContext::single("socket"))
            .unwrap();
        let mut lines = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        let error = loop {
            assert!(Instant::now() < deadline, "no error; lines {lines:?}");
            let mut batch: Vec<Record<String>> = Vec::new();
            let mut output = SourceOutput::new(&mut batch, 16);
            let polled = reader.poll_next(&mut output);
            lines.extend(batch.into_iter().map(|r| r.value));
            if let Err(error) = polled {
                break error.to_string();
            }
        };
        assert_eq!(lines, ["ok"]);
        assert!(error.contains("longer than 50 bytes"), "{error}");
        sender.join().unwrap();
    }
}
