//! Throughput benchmark cases, one per run so each process's peak RSS can be measured
//! (`scripts/bench.sh` runs them all beside Flink and writes the table in BENCHMARKS.md).
//!
//! ```sh
//! cargo run --release --example bench_throughput -- word-count --input FILE -p 1 [--batch]
//! cargo run --release --example bench_throughput -- keyed-sum --records 50000000 -p 1
//! cargo run --release --example bench_throughput -- windows --kind tumbling --records 10000000 -p 1
//! cargo run --release --example bench_throughput -- trivial
//! ```
//!
//! Each case prints one line: `case=… p=… records=… wall_s=… records_per_s=… mb_per_s=…`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use sluice::core::random::{GOLDEN, splitmix64};
use sluice::jobs::word_count::{self, WordCountArgs};
use sluice::prelude::*;
use sluice::runtime::checkpoint::CheckpointStats;
use sluice::sinks::DiscardingSink;

/// mimalloc, as in every Sluice binary (see `src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    case: Case,
}

#[derive(Debug, Subcommand)]
enum Case {
    /// WordCount over a file into a discarding sink (streaming: every update; --batch: final
    /// counts only).
    WordCount {
        #[arg(long)]
        input: PathBuf,
        #[arg(short = 'p', long, default_value_t = 1)]
        parallelism: usize,
        #[arg(long)]
        batch: bool,
    },
    /// `source -> map -> key_by -> sum` over small records, streaming every update; with
    /// `--checkpoint-dir`, checkpointing every `--checkpoint-interval-ms`; with `--restore`, a
    /// job resuming from the latest checkpoint there (its recovery time).
    KeyedSum(KeyedSum),
    /// Keyed event-time windows over a Nexmark-like bid stream (10,000 auctions, 10 events per
    /// event-time ms, watermarks 4 s behind): count and max price per auction and window.
    Windows {
        #[arg(long, value_enum, default_value_t = WindowShape::Tumbling)]
        kind: WindowShape,
        #[arg(long, default_value_t = 10_000_000)]
        records: i64,
        #[arg(short = 'p', long, default_value_t = 1)]
        parallelism: usize,
    },
    /// A one-record job: start-up and tear-down cost.
    Trivial,
}

/// The keyed-sum case's arguments.
#[derive(Debug, clap::Args)]
struct KeyedSum {
    #[arg(long, default_value_t = 50_000_000)]
    records: i64,
    #[arg(long, default_value_t = 10_000)]
    keys: i64,
    #[arg(short = 'p', long, default_value_t = 1)]
    parallelism: usize,
    #[arg(long)]
    checkpoint_dir: Option<PathBuf>,
    #[arg(long, default_value_t = 1_000)]
    checkpoint_interval_ms: u64,
    #[arg(long)]
    restore: bool,
    /// `hashmap` or `rocksdb` (Flink's `state.backend.type`).
    #[arg(long, default_value = "hashmap")]
    state_backend: String,
    /// RocksDB checkpoints store only new files.
    #[arg(long)]
    incremental: bool,
    /// Unaligned checkpoints: barriers overtake queued records.
    #[arg(long)]
    unaligned: bool,
    /// Bytes of incompressible payload each key keeps besides its sum (to make state
    /// large: 10 M keys with 100 bytes is about 1 GB).
    #[arg(long, default_value_t = 0)]
    payload_bytes: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum WindowShape {
    /// 10 s tumbling windows.
    Tumbling,
    /// 10 s windows every 2 s.
    Sliding,
    /// Sessions with a 1 s gap.
    Session,
}

fn main() -> Result<(), String> {
    let started = Instant::now();
    match Cli::parse().case {
        Case::WordCount {
            input,
            parallelism,
            batch,
        } => run_word_count(input, parallelism, batch),
        Case::KeyedSum(args) => run_keyed_sum(args),
        Case::Windows {
            kind,
            records,
            parallelism,
        } => run_windows(kind, records, parallelism),
        Case::Trivial => {
            let env = StreamExecutionEnvironment::new();
            env.from_collection(vec![1u8]).sink_to(DiscardingSink);
            env.execute("trivial").map_err(|e| e.to_string())?;
            println!(
                "case=trivial process_s={:.4}",
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
    }
}

/// The bundled WordCount job over `input`, into a discarding sink.
fn run_word_count(input: PathBuf, parallelism: usize, batch: bool) -> Result<(), String> {
    let bytes = std::fs::metadata(&input).map_err(|e| e.to_string())?.len();
    let env = StreamExecutionEnvironment::new();
    let args = WordCountArgs {
        input: Some(input),
        output: None,
        hostname: None,
        port: None,
        parallelism: Some(parallelism),
        streaming: !batch,
        web: Default::default(),
    };
    word_count::build(&env, &args)?.sink_to(DiscardingSink);
    let result = env.execute("bench word count").map_err(|e| e.to_string())?;
    let words = result.operator("Counter").map_or(0, |o| o.records_in);
    let case = if batch {
        "word-count-batch"
    } else {
        "word-count-streaming"
    };
    report(
        case,
        parallelism,
        words,
        bytes,
        result.net_runtime.as_secs_f64(),
    );
    Ok(())
}

/// `source -> map -> key_by -> sum`, checkpointed or restored as `args` says.
fn run_keyed_sum(args: KeyedSum) -> Result<(), String> {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(args.parallelism);
    env.set_state_option("state.backend.type", &args.state_backend);
    env.set_state_option(
        "execution.checkpointing.incremental",
        &args.incremental.to_string(),
    );
    if let Some(dir) = &args.checkpoint_dir {
        let dir = dir
            .to_str()
            .ok_or("the checkpoint directory must be UTF-8")?;
        if args.restore {
            // Recovery: restore the latest checkpoint and run to the end, taking none.
            env.restore_from(dir);
        } else {
            env.enable_checkpointing(Duration::from_millis(args.checkpoint_interval_ms));
            env.set_checkpoint_storage(dir);
            env.set_checkpoint_option(
                "execution.checkpointing.unaligned.enabled",
                &args.unaligned.to_string(),
            );
        }
    }
    let numbers = env.from_sequence(0, args.records - 1).uid("numbers");
    let checksum = SumOfCounts::default();
    let (keys, payload_bytes) = (args.keys, args.payload_bytes);
    if payload_bytes == 0 {
        numbers
            .map(move |n: i64| (n % keys, 1i64))
            .uid("pairs")
            .key_by(|r: &(i64, i64)| r.0)
            .sum(|r: &mut (i64, i64)| &mut r.1)
            .uid("sums")
            .sink_to(checksum.clone());
    } else {
        numbers
            .map(move |n: i64| (n % keys, 1i64, payload(n, payload_bytes)))
            .uid("pairs")
            .key_by(|r: &(i64, i64, Vec<u8>)| r.0)
            .reduce(|a: (i64, i64, Vec<u8>), b: (i64, i64, Vec<u8>)| (a.0, a.1 + b.1, b.2))
            .uid("sums")
            .sink_to(DiscardingSink);
    }
    let result = env.execute("bench keyed sum").map_err(|e| e.to_string())?;
    if payload_bytes == 0 && !args.restore {
        println!("checksum={}", checksum.total());
    }
    let bytes = args.records as u64 * (16 + payload_bytes as u64);
    let wall = result.net_runtime.as_secs_f64();
    report(
        &args.case_name(),
        args.parallelism,
        args.records as u64,
        bytes,
        wall,
    );
    report_checkpoints(&result.checkpoints);
    Ok(())
}

impl KeyedSum {
    /// The case's name in the report: the checkpointing, backend and alignment it ran with.
    fn case_name(&self) -> String {
        let case = match (&self.checkpoint_dir, self.restore) {
            (None, _) => "keyed-sum",
            (Some(_), false) => "keyed-sum-checkpointed",
            (Some(_), true) => "keyed-sum-restored",
        };
        let case = match (self.state_backend.as_str(), self.incremental) {
            ("hashmap", _) => case.to_string(),
            (backend, false) => format!("{case}-{backend}"),
            (backend, true) => format!("{case}-{backend}-incremental"),
        };
        if self.unaligned {
            format!("{case}-unaligned")
        } else {
            case
        }
    }
}

/// One line on the periodic checkpoints of a run, if it took any.
fn report_checkpoints(checkpoints: &[CheckpointStats]) {
    let Some(last) = checkpoints.last() else {
        return;
    };
    let millis = |d: Duration| d.as_secs_f64() * 1_000.0;
    let average =
        checkpoints.iter().map(|c| millis(c.duration)).sum::<f64>() / checkpoints.len() as f64;
    let longest = checkpoints
        .iter()
        .map(|c| millis(c.duration))
        .fold(0.0, f64::max);
    let in_flight: u64 = checkpoints.iter().map(|c| c.in_flight_bytes).sum();
    println!(
        "checkpoints={} avg_ms={average:.1} max_ms={longest:.1} last_ms={:.1} last_write_ms={:.1} last_bytes={} in_flight_bytes={in_flight}",
        checkpoints.len(),
        millis(last.duration),
        millis(last.write_duration),
        last.bytes
    );
}

/// Count and max price per auction in windows of `kind`, over `records` bids.
fn run_windows(kind: WindowShape, records: i64, parallelism: usize) -> Result<(), String> {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(parallelism);
    let keyed = env
        .from_source(BidSource { records }, "bids")
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_secs(4))
                .with_timestamp_assigner(|bid: &Bid, _| bid.date_time),
        )
        .key_by(|bid: &Bid| bid.auction);
    let seconds = Duration::from_secs;
    let windowed = match kind {
        WindowShape::Tumbling => keyed
            .window(TumblingWindows::event_time(seconds(10)))
            .aggregate(CountAndMax),
        WindowShape::Sliding => keyed
            .window(SlidingWindows::event_time(seconds(10), seconds(2)))
            .aggregate(CountAndMax),
        WindowShape::Session => keyed
            .window(SessionWindows::event_time_with_gap(seconds(1)))
            .aggregate(CountAndMax),
    };
    let checksum = PaneChecksum::default();
    windowed.name("Window").sink_to(checksum.clone());
    let result = env.execute("bench windows").map_err(|e| e.to_string())?;
    println!("checksum={}", checksum.line());
    let case = format!("windows-{kind:?}").to_lowercase();
    let wall = result.net_runtime.as_secs_f64();
    report(
        &case,
        parallelism,
        records as u64,
        records as u64 * 100,
        wall,
    );
    Ok(())
}

/// A Nexmark-like bid, reduced to the columns the window query reads.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
struct Bid {
    auction: i64,
    price: i64,
    date_time: i64,
}

impl Bid {
    /// Bid number `seq`: event time 2024-01-01 + seq / 10 ms; auction (10,000 of them) and
    /// price (1..=100,000) drawn from SplitMix64 of `seq`, so any engine generates the same
    /// bids whichever reader makes which (benches/flink/WindowsBench.java does).
    fn number(seq: i64) -> Self {
        let draw = splitmix64(seq as u64);
        Bid {
            auction: 1000 + (draw % 10_000) as i64,
            price: 1 + ((draw >> 32) % 100_000) as i64,
            date_time: 1_704_067_200_000 + seq / 10,
        }
    }
}

/// Generates `records` bids; reader `i` of `p` takes the numbers `i, i + p, …` so all readers
/// advance event time together.
struct BidSource {
    records: i64,
}

struct BidReader {
    next: i64,
    stride: i64,
    end: i64,
}

impl Source<Bid> for BidSource {
    type Split = (i64, i64);
    type Reader = BidReader;

    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }

    fn create_splits(&self, parallelism: usize) -> UserResult<Vec<(i64, i64)>> {
        Ok((0..parallelism as i64)
            .map(|i| (i, parallelism as i64))
            .collect())
    }

    fn create_reader(&self, _ctx: &OperatorContext) -> UserResult<BidReader> {
        Ok(BidReader {
            next: 0,
            stride: 1,
            end: self.records,
        })
    }
}

impl SourceReader<Bid, (i64, i64)> for BidReader {
    fn add_split(&mut self, (first, stride): (i64, i64)) -> UserResult {
        self.next = first;
        self.stride = stride;
        Ok(())
    }

    fn poll_next(&mut self, output: &mut SourceOutput<'_, Bid>) -> UserResult<ReaderStatus> {
        while !output.is_full() {
            if self.next >= self.end {
                return Ok(ReaderStatus::SplitFinished);
            }
            output.collect(Bid::number(self.next));
            self.next += self.stride;
        }
        Ok(ReaderStatus::MoreAvailable)
    }
}

/// A sink summing up the panes it receives (their number, counts and maximum prices) into a
/// line that does not depend on their order: equal lines, equal results.
#[derive(Debug, Clone, Default)]
struct PaneChecksum(Arc<[AtomicI64; 3]>);

impl PaneChecksum {
    fn line(&self) -> String {
        let [panes, count, max] = &*self.0;
        format!(
            "panes:{},count:{},max:{}",
            panes.load(Ordering::Relaxed),
            count.load(Ordering::Relaxed),
            max.load(Ordering::Relaxed)
        )
    }
}

impl Sink<(u64, i64)> for PaneChecksum {
    type Writer = PaneChecksum;

    fn create_writer(&self, _ctx: &OperatorContext) -> UserResult<PaneChecksum> {
        Ok(self.clone())
    }
}

impl SinkWriter<(u64, i64)> for PaneChecksum {
    fn write(&mut self, (count, max): (u64, i64), _: Option<i64>) -> UserResult {
        let [panes, counts, maxes] = &*self.0;
        panes.fetch_add(1, Ordering::Relaxed);
        counts.fetch_add(count as i64, Ordering::Relaxed);
        maxes.fetch_add(max, Ordering::Relaxed);
        Ok(())
    }
}

/// A sink adding up the counts of the running sums it receives: every subtask into one total,
/// which the job's output is checked by (the same on every engine, whatever the order).
#[derive(Debug, Clone, Default)]
struct SumOfCounts(Arc<AtomicI64>);

impl SumOfCounts {
    fn total(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Sink<(i64, i64)> for SumOfCounts {
    type Writer = SumOfCountsWriter;

    fn create_writer(&self, _ctx: &OperatorContext) -> UserResult<SumOfCountsWriter> {
        Ok(SumOfCountsWriter {
            total: Arc::clone(&self.0),
            sum: 0,
        })
    }
}

/// One subtask's part of [`SumOfCounts`], added to the total when its input ends.
struct SumOfCountsWriter {
    total: Arc<AtomicI64>,
    sum: i64,
}

impl SinkWriter<(i64, i64)> for SumOfCountsWriter {
    fn write(&mut self, value: (i64, i64), _: Option<i64>) -> UserResult {
        self.sum = self.sum.wrapping_add(value.1);
        Ok(())
    }

    fn write_batch(&mut self, batch: &mut Vec<Record<(i64, i64)>>) -> UserResult {
        for record in batch.drain(..) {
            self.sum = self.sum.wrapping_add(record.value.1);
        }
        Ok(())
    }

    fn finish(&mut self) -> UserResult {
        self.total.fetch_add(self.sum, Ordering::Relaxed);
        Ok(())
    }
}

/// COUNT(*) and MAX(price).
#[derive(Debug, Clone, Copy)]
struct CountAndMax;

impl AggregateFunction<Bid, (u64, i64), (u64, i64)> for CountAndMax {
    fn create_accumulator(&self) -> (u64, i64) {
        (0, i64::MIN)
    }

    fn add(&self, accumulator: &mut (u64, i64), bid: Bid) {
        accumulator.0 += 1;
        accumulator.1 = accumulator.1.max(bid.price);
    }

    fn get_result(&self, accumulator: &(u64, i64)) -> (u64, i64) {
        *accumulator
    }

    fn merge(&self, a: (u64, i64), b: (u64, i64)) -> (u64, i64) {
        (a.0 + b.0, a.1.max(b.1))
    }
}

/// `len` bytes that do not compress, derived from `n` (SplitMix64).
fn payload(n: i64, len: usize) -> Vec<u8> {
    let mut state = n as u64;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        bytes.extend_from_slice(&splitmix64(state).to_le_bytes());
        state = state.wrapping_add(GOLDEN);
    }
    bytes.truncate(len);
    bytes
}

fn report(case: &str, parallelism: usize, records: u64, bytes: u64, wall: f64) {
    println!(
        "case={case} p={parallelism} records={records} mb={:.1} wall_s={wall:.3} records_per_s={:.0} mb_per_s={:.1}",
        bytes as f64 / 1e6,
        records as f64 / wall,
        bytes as f64 / 1e6 / wall
    );
}
