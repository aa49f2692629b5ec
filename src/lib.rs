//! Sluice: a distributed, stateful stream processor with Apache Flink's model — DataStream API,
//! event time, keyed state, exactly-once checkpoints — written in Rust.
//!
//! This crate is the one to depend on: it re-exports the DataStream API and the runtime types a
//! job needs. Start from [`prelude`]:
//!
//! ```
//! use sluice::prelude::*;
//!
//! let env = StreamExecutionEnvironment::new();
//! let doubled = env
//!     .from_sequence(1, 3)
//!     .map(|n: i64| n * 2)
//!     .execute_and_collect("doubling")
//!     .unwrap();
//! let mut doubled = doubled;
//! doubled.sort();
//! assert_eq!(doubled, vec![2, 4, 6]);
//! ```

pub mod jobs;
pub mod sql_submit;

pub use sluice_api::*;
pub use sluice_core as core;
pub use sluice_runtime as runtime;
pub use sluice_sql as sql;
pub use sluice_state as state;

/// Installs a log subscriber writing to stderr, filtered by `RUST_LOG` (default: `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}
