//! A `SELECT`'s rows sent from a cluster back to the `sluice sql -m` client that asked for
//! them. The client listens on a port of its own ([`ResultServer`]) and submits the query with
//! that address and a one-time token; the job's single result sink ([`ResultSink`]) connects,
//! presents the token, and sends each row — its kind and values as text, one JSON line per row
//! — then an end line when its input ends. TCP's flow control carries the client's pace back
//! to the job, so neither side holds more than a few rows. A connection without the token is
//! closed unread; lines are bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sluice_core::{Record, Timestamp, UserResult};
use sluice_runtime::sink::{Sink, SinkWriter};
use sluice_runtime::task::operator::OperatorContext;

use crate::batch::RowBatch;
use crate::expr::bind::Scope;
use crate::operators::group_agg::RowKind;
use crate::result::{QueryResult, ResultRow};

/// How long the sink tries to reach the client, and the client waits for a connection to
/// present its token.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest line a client reads: one row's values as JSON.
const MAX_LINE: u64 = 64 << 20;

/// Where a query's rows go: the client's address and the token it expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultTarget {
    /// `host:port` of the client's [`ResultServer`].
    pub address: String,
    /// The token the client expects first.
    pub token: String,
}

/// One line of the result stream.
#[derive(Debug, Serialize, Deserialize)]
enum Line {
    /// A row: its kind's code and its values as text.
    Row(i8, Vec<Option<String>>),
    /// The sink's input ended: no row follows.
    End,
}

/// The sink sending a query's rows (batches of `scope`'s columns) to `target`.
#[derive(Debug, Clone)]
pub struct ResultSink {
    target: ResultTarget,
    scope: Scope,
}

impl ResultSink {
    /// A sink of batches with the columns of `scope`, sending to `target`.
    pub fn new(target: ResultTarget, scope: Scope) -> Self {
        ResultSink { target, scope }
    }
}

/// The connection of the result sink's subtask to the client.
pub struct ResultWriter {
    stream: std::io::BufWriter<TcpStream>,
    scope: Scope,
}

impl Sink<RowBatch> for ResultSink {
    type Writer = ResultWriter;

    fn create_writer(&self, _ctx: &OperatorContext) -> UserResult<ResultWriter> {
        let stream = connect(&self.target.address)?;
        let mut stream = std::io::BufWriter::new(stream);
        writeln!(stream, "{}", self.target.token)?;
        stream.flush()?;
        Ok(ResultWriter {
            stream,
            scope: self.scope.clone(),
        })
    }
}

/// A connection to `address`, tried until [`CONNECT_TIMEOUT`] has passed.
fn connect(address: &str) -> std::io::Result<TcpStream> {
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    loop {
        match TcpStream::connect(address) {
            Ok(stream) => return Ok(stream),
            Err(e) if Instant::now() >= deadline => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("cannot send the query's rows to the client at {address}: {e}"),
                ));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

impl SinkWriter<RowBatch> for ResultWriter {
    fn write(&mut self, value: RowBatch, timestamp: Option<Timestamp>) -> UserResult {
        self.write_batch(&mut vec![Record { value, timestamp }])
    }

    fn write_batch(&mut self, batch: &mut Vec<Record<RowBatch>>) -> UserResult {
        let batches: Vec<RowBatch> = batch.drain(..).map(|record| record.value).collect();
        for (kind, values) in QueryResult::collect(&self.scope, &batches).rows {
            serde_json::to_writer(&mut self.stream, &Line::Row(kind as i8, values))?;
            self.stream.write_all(b"\n")?;
        }
        self.stream.flush()?;
        Ok(())
    }

    fn finish(&mut self) -> UserResult {
        serde_json::to_writer(&mut self.stream, &Line::End)?;
        self.stream.write_all(b"\n")?;
        self.stream.flush()?;
        Ok(())
    }
}

/// What the client hears from the result stream.
#[derive(Debug)]
pub enum Received {
    /// Rows, in the order sent.
    Rows(Vec<ResultRow>),
    /// The sink's input ended.
    End,
    /// The stream broke (its reason).
    Broken(String),
}

/// The client's side: a port the query's sink connects to.
pub struct ResultServer {
    listener: TcpListener,
    token: String,
}

impl ResultServer {
    /// Listens on a free port of `ip` (the client's address as the cluster sees it) with a new
    /// random token.
    pub fn bind(ip: IpAddr) -> Result<ResultServer, String> {
        let listener = TcpListener::bind(SocketAddr::new(ip, 0))
            .map_err(|e| format!("cannot listen for the query's rows on {ip}: {e}"))?;
        let mut bytes = [0u8; 24];
        getrandom::getrandom(&mut bytes).map_err(|e| format!("no randomness for a token: {e}"))?;
        let token = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Ok(ResultServer { listener, token })
    }

    /// Where the query's sink sends its rows.
    pub fn target(&self) -> Result<ResultTarget, String> {
        let address = self
            .listener
            .local_addr()
            .map_err(|e| format!("cannot read the result port: {e}"))?;
        Ok(ResultTarget {
            address: address.to_string(),
            token: self.token.clone(),
        })
    }

    /// Waits for the sink's connection, closing those without the token, until `gave_up`
    /// says to stop (the job ended without connecting); then reads it on a thread, each
    /// line to the returned channel.
    pub fn accept(
        self,
        mut gave_up: impl FnMut() -> Option<String>,
    ) -> Result<mpsc::Receiver<Received>, String> {
        self.listener
            .set_nonblocking(true)
            .map_err(|e| format!("cannot poll the result port: {e}"))?;
        loop {
            match self.listener.accept() {
                Ok((stream, peer)) => match self.admit(stream) {
                    Ok(reader) => return Ok(read_on_thread(reader)),
                    Err(reason) => {
                        tracing::warn!("refused a result connection from {peer}: {reason}")
                    }
                },
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if let Some(reason) = gave_up() {
                        return Err(reason);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(format!("cannot accept the query's rows: {e}")),
            }
        }
    }

    /// The connection's reader once it presented the token.
    fn admit(&self, stream: TcpStream) -> Result<BufReader<TcpStream>, String> {
        let fail = |e: std::io::Error| e.to_string();
        stream.set_nonblocking(false).map_err(fail)?;
        stream
            .set_read_timeout(Some(CONNECT_TIMEOUT))
            .map_err(fail)?;
        let mut reader = BufReader::new(stream);
        let mut presented = String::new();
        (&mut reader)
            .take(self.token.len() as u64 + 2)
            .read_line(&mut presented)
            .map_err(fail)?;
        if !same(presented.trim_end().as_bytes(), self.token.as_bytes()) {
            return Err("a wrong token".into());
        }
        reader.get_ref().set_read_timeout(None).map_err(fail)?;
        Ok(reader)
    }
}

/// Whether `a` equals `b`, in time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// Reads the lines of `reader` on a thread: rows in groups as they come, then the end or
/// what broke the stream.
fn read_on_thread(mut reader: BufReader<TcpStream>) -> mpsc::Receiver<Received> {
    let (sender, receiver) = mpsc::sync_channel(16);
    std::thread::spawn(move || {
        let mut line = String::new();
        loop {
            line.clear();
            let read = (&mut reader).take(MAX_LINE).read_line(&mut line);
            let received = match read {
                Ok(0) => Received::Broken("the job closed the result stream early".into()),
                Ok(_) if !line.ends_with('\n') => {
                    Received::Broken(format!("a result line longer than {MAX_LINE} bytes"))
                }
                Ok(_) => match serde_json::from_str::<Line>(&line) {
                    Ok(Line::Row(code, values)) => {
                        Received::Rows(vec![(RowKind::from_code(code), values)])
                    }
                    Ok(Line::End) => Received::End,
                    Err(e) => Received::Broken(format!("a malformed result line: {e}")),
                },
                Err(e) => Received::Broken(format!("the result stream broke: {e}")),
            };
            let last = !matches!(received, Received::Rows(_));
            if sender.send(received).is_err() || last {
                return;
            }
        }
    });
    receiver
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::bind::ScopeColumn;
    use crate::types::SqlType;
    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use std::sync::Arc;

    fn scope() -> Scope {
        Scope {
            columns: vec![
                ScopeColumn::new("name", SqlType::Varchar(None), true),
                ScopeColumn::new("n", SqlType::BigInt, false),
            ],
        }
    }

    fn batch() -> RowBatch {
        RowBatch(
            RecordBatch::try_from_iter([
                (
                    "name",
                    Arc::new(StringArray::from(vec![Some("a"), None])) as ArrayRef,
                ),
                ("n", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
            ])
            .unwrap(),
        )
    }

    fn writer_to(target: ResultTarget) -> ResultWriter {
        let ctx = OperatorContext::single("results");
        ResultSink::new(target, scope())
            .create_writer(&ctx)
            .unwrap()
    }

    #[test]
    fn rows_reach_the_client_then_the_end() {
        let server = ResultServer::bind("127.0.0.1".parse().unwrap()).unwrap();
        let target = server.target().unwrap();
        let sending = std::thread::spawn(move || {
            let mut writer = writer_to(target);
            writer.write_batch(&mut vec![Record::new(batch())]).unwrap();
            writer.finish().unwrap();
        });
        let received = server.accept(|| None).unwrap();
        let mut rows = Vec::new();
        loop {
            match received.recv().unwrap() {
                Received::Rows(more) => rows.extend(more),
                Received::End => break,
                Received::Broken(reason) => panic!("{reason}"),
            }
        }
        sending.join().unwrap();
        assert_eq!(
            rows,
            [
                (
                    RowKind::Insert,
                    vec![Some("a".to_string()), Some("1".to_string())]
                ),
                (RowKind::Insert, vec![None, Some("2".to_string())]),
            ]
        );
    }

    #[test]
    fn a_connection_without_the_token_is_refused_and_a_cut_stream_is_broken() {
        let server = ResultServer::bind("127.0.0.1".parse().unwrap()).unwrap();
        let target = server.target().unwrap();
        let address = target.address.clone();
        let sending = std::thread::spawn(move || {
            // A stranger first: its rows are never read.
            let mut stranger = TcpStream::connect(&address).unwrap();
            writeln!(stranger, "not-the-token").unwrap();
            let _ = writeln!(stranger, "{{\"Row\":[0,[\"forged\",\"9\"]]}}");
            std::thread::sleep(Duration::from_millis(100));
            // Then the sink, which stops without its end line.
            let mut writer = writer_to(target);
            writer.write_batch(&mut vec![Record::new(batch())]).unwrap();
        });
        let received = server.accept(|| None).unwrap();
        let mut rows = Vec::new();
        let broken = loop {
            match received.recv().unwrap() {
                Received::Rows(more) => rows.extend(more),
                Received::End => panic!("no end was sent"),
                Received::Broken(reason) => break reason,
            }
        };
        sending.join().unwrap();
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert!(rows.iter().all(|(_, v)| v[0].as_deref() != Some("forged")));
        assert!(broken.contains("early"), "{broken}");
    }

    #[test]
    fn the_client_stops_waiting_when_told() {
        let server = ResultServer::bind("127.0.0.1".parse().unwrap()).unwrap();
        let error = server
            .accept(|| Some("the job failed".into()))
            .err()
            .unwrap();
        assert_eq!(error, "the job failed");
    }
}
