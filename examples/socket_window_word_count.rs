//! Flink's SocketWindowWordCount: words from a socket counted in 5-second tumbling
//! processing-time windows.
//!
//! ```sh
//! nc -lk 9999                                   # in one terminal; type some lines
//! cargo run --example socket_window_word_count -- --hostname localhost --port 9999
//! ```

use std::time::Duration;

use clap::Parser;
use sluice::jobs::word_count::tokenize;
use sluice::prelude::*;

/// mimalloc, as in every Sluice binary (see `src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(about = "Counts words from a socket in 5 s tumbling processing-time windows")]
struct Cli {
    /// The host to read lines from.
    #[arg(long, default_value = "localhost")]
    hostname: String,
    /// The port to read lines from.
    #[arg(long)]
    port: u16,
    /// The window size in seconds.
    #[arg(long, default_value_t = 5)]
    window_seconds: u64,
}

fn main() -> Result<(), JobError> {
    sluice::init_logging();
    let cli = Cli::parse();
    let env = StreamExecutionEnvironment::new();
    env.socket_text_stream(&cli.hostname, cli.port)
        .flat_map(|line: String, out: &mut Collector<'_, (String, u64)>| {
            tokenize(line, |word| out.collect((word.to_string(), 1)));
        })
        .key_by(|(word, _): &(String, u64)| word.clone())
        .window(TumblingWindows::processing_time(Duration::from_secs(
            cli.window_seconds,
        )))
        .reduce(|a: (String, u64), b: (String, u64)| (a.0, a.1 + b.1))
        .print()
        .set_parallelism(1);
    env.execute("Socket Window WordCount")?;
    Ok(())
}
