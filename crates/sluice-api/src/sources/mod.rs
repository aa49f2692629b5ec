//! Built-in sources: collections and iterators, number sequences, text files and sockets.

mod collection;
mod iterator;
mod sequence;
mod socket;
mod text_file;

pub use collection::{CollectionSource, CollectionSplit};
pub use iterator::IteratorSource;
pub use sequence::SequenceSource;
pub use socket::SocketTextSource;
pub use text_file::{FileSplit, TextFileSource};
