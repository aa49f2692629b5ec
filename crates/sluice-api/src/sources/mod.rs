//! Built-in sources: collections and iterators, number sequences, text files and sockets.

mod collection;
mod iterator;
mod sequence;
mod socket;
mod text_file;

/// The longest line the text sources accept by default (64 MiB): input without newlines fails
/// with a clear error instead of growing one line until memory runs out.
pub const DEFAULT_MAX_LINE_BYTES: usize = 64 << 20;

pub use collection::{CollectionSource, CollectionSplit};
pub use iterator::IteratorSource;
pub use sequence::SequenceSource;
pub use socket::SocketTextSource;
pub use text_file::{FileInfo, FileLine, FileSplit, FromFileLine, TextFileSource};
