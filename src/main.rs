//! The `sluice` command-line tool.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sluice::jobs::event_time_windows::{self, EventTimeWindowsArgs};
use sluice::jobs::exactly_once_counts::{self, ExactlyOnceCountsArgs};
use sluice::jobs::word_count::{self, WordCountArgs};

/// Sluice: a distributed, stateful stream processor.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the built-in WordCount job on the embedded mini-cluster.
    WordCount(WordCountArgs),
    /// Count and sum `key,timestamp_ms,value` lines per key in event-time windows.
    EventTimeWindows(EventTimeWindowsArgs),
    /// Running per-key counts and sums of `key,value` lines, written exactly once.
    ExactlyOnceCounts(ExactlyOnceCountsArgs),
}

/// mimalloc: Sluice moves many small records between threads, where glibc's allocator is slow.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    sluice::init_logging();
    let outcome = match &Cli::parse().command {
        Command::WordCount(args) => word_count::run(args).map(|result| {
            tracing::info!(
                "job '{}' finished in {} ms",
                result.job_name,
                result.net_runtime.as_millis()
            );
            0
        }),
        Command::EventTimeWindows(args) => event_time_windows::run(args),
        Command::ExactlyOnceCounts(args) => exactly_once_counts::run(args),
    };
    sluice::jobs::exit_code(outcome)
}
