//! Built-in sinks: standard output, text and CSV files, in-memory collection, and discarding.

mod collect;
mod discard;
mod file;
mod print;

pub use collect::{CollectSink, CollectedValues};
pub use discard::DiscardingSink;
pub use file::{CsvEncoder, FileSink, RecordEncoder, TextEncoder};
pub use print::PrintSink;
