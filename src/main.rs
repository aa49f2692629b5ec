//! The `sluice` command-line tool.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
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
}

/// mimalloc: Sluice moves many small records between threads, where glibc's allocator is slow.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    sluice::init_logging();
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Command::WordCount(args) => word_count::run(args),
    };
    match outcome {
        Ok(result) => {
            tracing::info!(
                "job '{}' finished in {} ms",
                result.job_name,
                result.net_runtime.as_millis()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
