//! Flink's WordCount on Sluice.
//!
//! ```sh
//! cargo run --release --example word_count -- --input FILE --output OUT [--parallelism P]
//! cargo run --release --example word_count -- --hostname localhost --port 9999
//! ```
//!
//! The pipeline itself is `sluice::jobs::word_count::build`: read lines, lowercase, split into
//! runs of `[a-z0-9]`, key by word, sum.

use std::process::ExitCode;

use clap::Parser;
use sluice::jobs::word_count::{self, WordCountArgs};

#[derive(Debug, Parser)]
#[command(about = "Counts words in a file or socket stream")]
struct Cli {
    #[command(flatten)]
    args: WordCountArgs,
}

/// mimalloc: Sluice moves many small records between threads, where glibc's allocator is slow.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    sluice::init_logging();
    let cli = Cli::parse();
    match word_count::run(&cli.args) {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
