//! Built-in sinks: standard output, text and CSV files, in-memory collection, and discarding.

mod collect;
mod committing_file;
mod discard;
mod file;
mod print;

pub use collect::{CollectSink, CollectedValues};
pub use committing_file::{ExactlyOnceFileSink, PartWriter, PendingPart};
pub use discard::DiscardingSink;
pub use file::{CsvEncoder, FileSink, RecordEncoder, TextEncoder};
pub use print::PrintSink;
