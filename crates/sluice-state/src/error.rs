//! Errors of state access.

/// Why a state operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// A key, namespace or value could not be encoded or decoded (a type changed between
    /// writing and reading, or stored bytes are corrupt).
    #[error("state '{state}': cannot {action}: {message}")]
    Codec {
        /// The state's name.
        state: String,
        /// What was being done.
        action: &'static str,
        /// The codec's message.
        message: String,
    },
    /// State was used outside a keyed context (no current key).
    #[error("state '{0}' was used without a current key (only keyed operators have keyed state)")]
    NoCurrentKey(String),
    /// A state was asked for in a way that contradicts how it was registered or restored.
    #[error("state '{state}': {message}")]
    Incompatible {
        /// The state's name.
        state: String,
        /// What contradicts what.
        message: String,
    },
    /// The state backend's storage failed (an embedded database's I/O).
    #[error("state backend {backend}: {message}")]
    Backend {
        /// The backend's name (`rocksdb`).
        backend: &'static str,
        /// What failed, with the database's message.
        message: String,
    },
}
