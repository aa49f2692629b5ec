//! Network shuffle benchmark, a job binary for `sluice run` (or run alone: the embedded
//! mini-cluster, the one-process baseline).
//!
//! ```sh
//! sluice run -p 2 target/release/examples/bench_shuffle --records 20000000 --payload 0 --report DIR
//! sluice run -p 2 target/release/examples/bench_shuffle --records 2000000 --rate 500000 --report DIR
//! ```
//!
//! `p` readers generate `--records` records of 16 bytes (a key and the creation time in ns) plus
//! `--payload` bytes, optionally at `--rate` records/s in total; a hash partitioning on the key
//! shuffles them to `p` sinks (half the records cross to the other TaskManager at p=2), which count records and bytes and, with `--rate`, the latency from creation to the
//! sink. Each sink subtask writes one line to `DIR/sink-<subtask>.txt`:
//! `records=… bytes=… first_ns=… last_ns=… p50_us=… p99_us=…` (times since the epoch).
//! `scripts/bench_cluster.sh` runs it and adds the lines up.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;
use serde::{Deserialize, Serialize};
use sluice::prelude::*;

/// mimalloc, as in every Sluice binary (see `src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
struct Cli {
    /// Records in total.
    #[arg(long, default_value_t = 10_000_000)]
    records: u64,
    /// Bytes added to each 16-byte record.
    #[arg(long, default_value_t = 0)]
    payload: usize,
    /// Records per second in total (0: as fast as possible).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// The buffer timeout in ms.
    #[arg(long, default_value_t = 100)]
    buffer_timeout_ms: u64,
    /// Where the sinks write their reports.
    #[arg(long)]
    report: PathBuf,
}

/// One generated record.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Event {
    key: u64,
    created_ns: u64,
    #[serde(with = "serde_bytes")]
    payload: Vec<u8>,
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Generates `records` events; reader `i` of `p` makes every `p`-th one.
struct Generator {
    records: u64,
    payload: usize,
    rate: u64,
}

struct GeneratorReader {
    next: u64,
    stride: u64,
    end: u64,
    payload: usize,
    /// Records per ms for this reader (0: unlimited), and when it started.
    per_ms: f64,
    started: Option<u64>,
    emitted: u64,
}

impl Source<Event> for Generator {
    type Split = (u64, u64);
    type Reader = GeneratorReader;

    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }

    fn create_splits(&self, parallelism: usize) -> UserResult<Vec<(u64, u64)>> {
        Ok((0..parallelism as u64)
            .map(|i| (i, parallelism as u64))
            .collect())
    }

    fn create_reader(&self, ctx: &OperatorContext) -> UserResult<GeneratorReader> {
        Ok(GeneratorReader {
            next: 0,
            stride: 1,
            end: self.records,
            payload: self.payload,
            per_ms: self.rate as f64 / ctx.parallelism as f64 / 1000.0,
            started: None,
            emitted: 0,
        })
    }
}

impl SourceReader<Event, (u64, u64)> for GeneratorReader {
    fn add_split(&mut self, (first, stride): (u64, u64)) -> UserResult {
        self.next = first;
        self.stride = stride;
        Ok(())
    }

    fn poll_next(&mut self, output: &mut SourceOutput<'_, Event>) -> UserResult<ReaderStatus> {
        let now = now_ns();
        let started = *self.started.get_or_insert(now);
        let due = if self.per_ms > 0.0 {
            ((now - started) as f64 / 1e6 * self.per_ms) as u64 + 1
        } else {
            u64::MAX
        };
        while !output.is_full() {
            if self.next >= self.end {
                return Ok(ReaderStatus::SplitFinished);
            }
            if self.emitted >= due {
                // Ahead of the rate: wait a little.
                std::thread::sleep(Duration::from_micros(100));
                return Ok(ReaderStatus::MoreAvailable);
            }
            output.collect(Event {
                key: self.next,
                created_ns: now_ns(),
                payload: vec![7; self.payload],
            });
            self.next += self.stride;
            self.emitted += 1;
        }
        Ok(ReaderStatus::MoreAvailable)
    }
}

/// Counts what arrives and how late; writes its report when the input ends.
#[derive(Clone)]
struct Meter {
    report: PathBuf,
    latencies: bool,
}

struct MeterWriter {
    path: PathBuf,
    records: u64,
    bytes: u64,
    first_ns: u64,
    last_ns: u64,
    latencies_us: Option<Vec<u32>>,
}

impl Sink<Event> for Meter {
    type Writer = MeterWriter;

    fn create_writer(&self, ctx: &OperatorContext) -> UserResult<MeterWriter> {
        std::fs::create_dir_all(&self.report)?;
        Ok(MeterWriter {
            path: self.report.join(format!("sink-{}.txt", ctx.subtask)),
            records: 0,
            bytes: 0,
            first_ns: 0,
            last_ns: 0,
            latencies_us: self.latencies.then(Vec::new),
        })
    }
}

impl SinkWriter<Event> for MeterWriter {
    fn write(&mut self, event: Event, _timestamp: Option<Timestamp>) -> UserResult {
        let now = now_ns();
        if self.records == 0 {
            self.first_ns = now;
        }
        self.last_ns = now;
        self.records += 1;
        self.bytes += 16 + event.payload.len() as u64;
        if let Some(latencies) = &mut self.latencies_us {
            latencies.push((now.saturating_sub(event.created_ns) / 1000) as u32);
        }
        Ok(())
    }

    fn finish(&mut self) -> UserResult {
        let mut percentiles = String::new();
        if let Some(latencies) = &mut self.latencies_us
            && !latencies.is_empty()
        {
            latencies.sort_unstable();
            let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
            percentiles = format!(" p50_us={} p99_us={}", at(0.5), at(0.99));
        }
        std::fs::write(
            &self.path,
            format!(
                "records={} bytes={} first_ns={} last_ns={}{percentiles}\n",
                self.records, self.bytes, self.first_ns, self.last_ns
            ),
        )?;
        Ok(())
    }
}

fn main() -> Result<(), JobError> {
    let cli = Cli::parse();
    let env = StreamExecutionEnvironment::new();
    env.set_buffer_timeout(Duration::from_millis(cli.buffer_timeout_ms));
    env.from_source(
        Generator {
            records: cli.records,
            payload: cli.payload,
            rate: cli.rate,
        },
        "Source: Generator",
    )
    .partition_custom(
        |key: &u64, channels: usize| {
            ((key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) % channels as u64) as usize
        },
        |event: &Event| event.key,
    )
    .sink_to(Meter {
        report: cli.report.clone(),
        latencies: cli.rate > 0,
    })
    .name("Sink: Meter");
    env.execute("Shuffle benchmark")?;
    Ok(())
}
