//! Throughput benchmark cases, one per run so each process's peak RSS can be measured
//! (`scripts/bench.sh` runs them all beside Flink and writes the table in BENCHMARKS.md).
//!
//! ```sh
//! cargo run --release --example bench_throughput -- word-count --input FILE -p 1 [--batch]
//! cargo run --release --example bench_throughput -- keyed-sum --records 50000000 -p 1
//! cargo run --release --example bench_throughput -- trivial
//! ```
//!
//! Each case prints one line: `case=… p=… records=… wall_s=… records_per_s=… mb_per_s=…`.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Parser, Subcommand};
use sluice::jobs::word_count::{self, WordCountArgs};
use sluice::prelude::*;
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
    /// `source -> map -> key_by -> sum` over small records, streaming every update.
    KeyedSum {
        #[arg(long, default_value_t = 50_000_000)]
        records: i64,
        #[arg(long, default_value_t = 10_000)]
        keys: i64,
        #[arg(short = 'p', long, default_value_t = 1)]
        parallelism: usize,
    },
    /// A one-record job: start-up and tear-down cost.
    Trivial,
}

fn main() -> Result<(), String> {
    let started = Instant::now();
    match Cli::parse().case {
        Case::WordCount {
            input,
            parallelism,
            batch,
        } => {
            let bytes = std::fs::metadata(&input).map_err(|e| e.to_string())?.len();
            let env = StreamExecutionEnvironment::new();
            let args = WordCountArgs {
                input: Some(input),
                output: None,
                hostname: None,
                port: None,
                parallelism: Some(parallelism),
                streaming: !batch,
            };
            word_count::build(&env, &args)?.sink_to(DiscardingSink);
            let result = env.execute("bench word count").map_err(|e| e.to_string())?;
            let words = result.operator("Counter").map_or(0, |o| o.records_in);
            report(
                if batch {
                    "word-count-batch"
                } else {
                    "word-count-streaming"
                },
                parallelism,
                words,
                bytes,
                result.net_runtime.as_secs_f64(),
            );
        }
        Case::KeyedSum {
            records,
            keys,
            parallelism,
        } => {
            let env = StreamExecutionEnvironment::new();
            env.set_parallelism(parallelism);
            env.from_sequence(0, records - 1)
                .map(move |n: i64| (n % keys, 1i64))
                .key_by(|r: &(i64, i64)| r.0)
                .sum(|r: &mut (i64, i64)| &mut r.1)
                .sink_to(DiscardingSink);
            let result = env.execute("bench keyed sum").map_err(|e| e.to_string())?;
            let bytes = records as u64 * 16;
            report(
                "keyed-sum",
                parallelism,
                records as u64,
                bytes,
                result.net_runtime.as_secs_f64(),
            );
        }
        Case::Trivial => {
            let env = StreamExecutionEnvironment::new();
            env.from_collection(vec![1u8]).sink_to(DiscardingSink);
            env.execute("trivial").map_err(|e| e.to_string())?;
            println!(
                "case=trivial process_s={:.4}",
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

fn report(case: &str, parallelism: usize, records: u64, bytes: u64, wall: f64) {
    println!(
        "case={case} p={parallelism} records={records} mb={:.1} wall_s={wall:.3} records_per_s={:.0} mb_per_s={:.1}",
        bytes as f64 / 1e6,
        records as f64 / wall,
        bytes as f64 / 1e6 / wall
    );
}
