//! Built-in sinks: standard output, text and CSV files, and in-memory collection.

mod collect;
mod file;
mod print;

pub use collect::{CollectSink, CollectedValues};
pub use file::{CsvEncoder, FileSink, RecordEncoder, TextEncoder};
pub use print::PrintSink;
