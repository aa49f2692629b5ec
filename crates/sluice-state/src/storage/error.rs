//! Why checkpoint storage failed: an unusable location, a failed read or write, a corrupt
//! file, or a newest checkpoint that cannot be restored.

/// Why checkpoint storage failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The checkpoint directory is not usable.
    #[error("checkpoint storage '{location}': {message}")]
    Location {
        /// The directory or URL.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("checkpoint file '{file}': {message}")]
    Io {
        /// The file.
        file: String,
        /// The store's message.
        message: String,
    },
    /// A file is truncated, corrupt or of another format.
    #[error("checkpoint file '{file}' is corrupt: {message}")]
    Corrupt {
        /// The file.
        file: String,
        /// What the check found.
        message: String,
    },
    /// The newest completed checkpoint cannot be restored; recovery does not fall back on its
    /// own (see [`CheckpointStorage::latest`](crate::CheckpointStorage::latest)).
    #[error(
        "the newest checkpoint, {location}/chk-{id}, cannot be restored: {cause}. Recovery does \
         not go back to an older checkpoint by itself: sinks may have committed output after \
         it, which restoring an older one writes again. {older}"
    )]
    NewestUnusable {
        /// The job's checkpoint directory.
        location: String,
        /// The checkpoint's id.
        id: u64,
        /// Why it cannot be restored.
        cause: Box<StorageError>,
        /// What the user can do instead.
        older: String,
    },
}
