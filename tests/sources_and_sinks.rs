//! Sources and sinks through the public API: files, sequences, sockets, user sources and
//! sinks, text/CSV output and collection.

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sluice::prelude::*;

fn temp_dir(name: &str) -> PathBuf {
    common::temp_dir("it", name)
}

fn sorted<T: Ord>(mut values: Vec<T>) -> Vec<T> {
    values.sort();
    values
}

#[test]
fn text_file_lines_are_read_once_by_parallel_readers() {
    let dir = temp_dir("text-source");
    let path = dir.join("input.txt");
    let lines: Vec<String> = (0..200_000).map(|i| format!("line number {i}")).collect();
    std::fs::write(&path, lines.join("\n")).unwrap();
    for p in [1, 4] {
        let env = StreamExecutionEnvironment::new();
        env.set_parallelism(p);
        let out = env
            .read_text_file(&path)
            .execute_and_collect("read")
            .unwrap();
        assert_eq!(sorted(out), sorted(lines.clone()), "p={p}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_directory_is_read_file_by_file_skipping_hidden_files() {
    let dir = temp_dir("dir-source");
    std::fs::write(dir.join("a.txt"), "1\n2\n").unwrap();
    std::fs::write(dir.join("b.txt"), "3").unwrap();
    std::fs::write(dir.join(".hidden"), "nope\n").unwrap();
    let env = StreamExecutionEnvironment::new();
    let out = env.read_text_file(&dir).execute_and_collect("dir").unwrap();
    assert_eq!(sorted(out), vec!["1", "2", "3"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sequence_covers_its_range_at_any_parallelism() {
    for p in [1, 3, 8] {
        let env = StreamExecutionEnvironment::new();
        env.set_parallelism(p);
        let out = env
            .from_sequence(-5, 5000)
            .execute_and_collect("seq")
            .unwrap();
        assert_eq!(sorted(out), (-5..=5000).collect::<Vec<_>>(), "p={p}");
    }
}

#[test]
fn text_and_csv_sinks_write_one_file_or_one_per_subtask() {
    let dir = temp_dir("file-sinks");
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(3);
    let pairs = env.from_sequence(1, 30).map(|n: i64| (format!("k,{n}"), n));
    pairs
        .clone()
        .write_as_csv(dir.join("single.csv"))
        .set_parallelism(1);
    pairs
        .map(|(_, n): (String, i64)| n)
        .write_as_text(dir.join("parts"));
    env.execute("files").unwrap();

    let csv = std::fs::read_to_string(dir.join("single.csv")).unwrap();
    let mut rows: Vec<&str> = csv.lines().collect();
    rows.sort();
    let mut expected: Vec<String> = (1..=30).map(|n| format!("\"k,{n}\",{n}")).collect();
    expected.sort();
    assert_eq!(rows, expected);

    let mut numbers = Vec::new();
    for part in 1..=3 {
        let text = std::fs::read_to_string(dir.join("parts").join(part.to_string())).unwrap();
        numbers.extend(text.lines().map(|l| l.parse::<i64>().unwrap()));
    }
    assert_eq!(sorted(numbers), (1..=30).collect::<Vec<_>>());
    let leftovers: Vec<_> = std::fs::read_dir(dir.join("parts"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "in-progress files left behind");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A user-written parallel source: each split is a range of squares.
struct Squares {
    splits: usize,
}

struct SquaresReader {
    current: Option<std::ops::Range<u64>>,
}

impl Source<u64> for Squares {
    type Split = std::ops::Range<u64>;
    type Reader = SquaresReader;

    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }

    fn create_splits(&self, _parallelism: usize) -> UserResult<Vec<Self::Split>> {
        Ok((0..self.splits as u64)
            .map(|i| i * 10..(i + 1) * 10)
            .collect())
    }

    fn create_reader(&self, _ctx: &OperatorContext) -> UserResult<SquaresReader> {
        Ok(SquaresReader { current: None })
    }
}

impl SourceReader<u64, std::ops::Range<u64>> for SquaresReader {
    fn add_split(&mut self, split: std::ops::Range<u64>) -> UserResult {
        self.current = Some(split);
        Ok(())
    }

    fn poll_next(&mut self, output: &mut SourceOutput<'_, u64>) -> UserResult<ReaderStatus> {
        let Some(range) = self.current.as_mut() else {
            return Ok(ReaderStatus::SplitFinished);
        };
        match range.next() {
            Some(n) => {
                output.collect(n * n);
                Ok(ReaderStatus::MoreAvailable)
            }
            None => {
                self.current = None;
                Ok(ReaderStatus::SplitFinished)
            }
        }
    }
}

/// A user-written sink that records what each subtask saw and whether it finished.
#[derive(Clone, Default)]
struct RecordingSink {
    seen: Arc<Mutex<Vec<(usize, u64)>>>,
    finished: Arc<Mutex<Vec<usize>>>,
}

struct RecordingWriter {
    subtask: usize,
    sink: RecordingSink,
}

impl Sink<u64> for RecordingSink {
    type Writer = RecordingWriter;

    fn create_writer(&self, ctx: &OperatorContext) -> UserResult<RecordingWriter> {
        Ok(RecordingWriter {
            subtask: ctx.subtask,
            sink: self.clone(),
        })
    }
}

impl SinkWriter<u64> for RecordingWriter {
    fn write(&mut self, value: u64, _timestamp: Option<Timestamp>) -> UserResult {
        self.sink.seen.lock().unwrap().push((self.subtask, value));
        Ok(())
    }

    fn finish(&mut self) -> UserResult {
        self.sink.finished.lock().unwrap().push(self.subtask);
        Ok(())
    }
}

#[test]
fn user_sources_and_sinks_plug_in() {
    for p in [1, 4] {
        let env = StreamExecutionEnvironment::new();
        env.set_parallelism(p);
        let sink = RecordingSink::default();
        env.from_source(Squares { splits: 7 }, "squares")
            .sink_to(sink.clone());
        env.execute("user source").unwrap();
        let values: Vec<u64> = sink.seen.lock().unwrap().iter().map(|(_, v)| *v).collect();
        assert_eq!(
            sorted(values),
            (0..70u64).map(|n| n * n).collect::<Vec<_>>(),
            "p={p}"
        );
        assert_eq!(
            sorted(sink.finished.lock().unwrap().clone()),
            (0..p).collect::<Vec<_>>()
        );
    }
}

#[test]
fn socket_stream_reads_lines_and_reconnects() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        for batch in [["alpha", "beta"], ["gamma", "delta"]] {
            let (mut conn, _) = listener.accept().unwrap();
            for line in batch {
                writeln!(conn, "{line}").unwrap();
            }
            // Closing the connection makes the source reconnect for the next batch.
        }
    });
    let env = StreamExecutionEnvironment::new();
    let lines = env.socket_text_stream("127.0.0.1", port).collect();
    let client = env.execute_async("socket").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while lines.len() < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    client.cancel();
    assert!(matches!(client.wait(), Err(JobError::Cancelled)));
    server.join().unwrap();
    assert_eq!(
        sorted(lines.take()),
        vec!["alpha", "beta", "delta", "gamma"]
    );
}

#[test]
fn result_reports_runtime_and_record_counts() {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    env.from_sequence(1, 1000)
        .filter(|n: &i64| n % 2 == 0)
        .name("evens")
        .collect();
    let result = env.execute("counts").unwrap();
    let evens = result.operator("evens").unwrap();
    assert_eq!(evens.records_in, 1000);
    assert_eq!(evens.records_out, 500);
    assert_eq!(evens.records_in_per_subtask.iter().sum::<u64>(), 1000);
    assert_eq!(result.job_name, "counts");
}
