//! Running per-key counts and sums, written exactly once through crashes.
//!
//! ```sh
//! cargo run --release --example exactly_once_counts -- --input FILE --output-dir DIR \
//!     --checkpoint-dir CKPT --checkpoint-interval-ms N [--state-backend hashmap|rocksdb] \
//!     [--parallelism P] [--records-per-second R]
//! ```
//!
//! Reads `key,value` lines, keeps a running count and sum per key, and writes one line
//! `key,count,sum` per record through the exactly-once file sink into DIR. Kill it (even with
//! SIGKILL) and start it again with the same flags: it resumes from the latest checkpoint in
//! CKPT, and once it finishes the committed files (the names not starting with `.`) hold exactly
//! the lines of one uninterrupted run. The pipeline is `sluice::jobs::exactly_once_counts::run`.

use std::process::ExitCode;

use clap::Parser;
use sluice::jobs::exactly_once_counts::{self, ExactlyOnceCountsArgs};

/// mimalloc, as in every Sluice binary (see `src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(about = "Running per-key counts and sums of key,value lines, written exactly once")]
struct Cli {
    #[command(flatten)]
    args: ExactlyOnceCountsArgs,
}

fn main() -> ExitCode {
    sluice::init_logging();
    sluice::jobs::exit_code(exactly_once_counts::run(&Cli::parse().args))
}
