//! Keyed event-time windows with allowed lateness and a late-data side output.
//!
//! ```sh
//! cargo run --release --example event_time_windows -- --input FILE --output OUT --late-output LATE \
//!     --window tumbling|sliding|session --size-ms N [--slide-ms N] [--gap-ms N] \
//!     --out-of-orderness-ms N --allowed-lateness-ms N [--parallelism P]
//! ```
//!
//! Input lines are `key,timestamp_ms,value`; OUT gets `key,window_start,window_end,count,sum`
//! each time a window fires, LATE the records too late for all their windows. The pipeline is
//! `sluice::jobs::event_time_windows::run`.

use std::process::ExitCode;

use clap::Parser;
use sluice::jobs::event_time_windows::{self, EventTimeWindowsArgs};

/// mimalloc, as in every Sluice binary (see `src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(about = "Counts and sums key,timestamp_ms,value lines in event-time windows")]
struct Cli {
    #[command(flatten)]
    args: EventTimeWindowsArgs,
}

fn main() -> ExitCode {
    sluice::init_logging();
    sluice::jobs::exit_code(event_time_windows::run(&Cli::parse().args))
}
