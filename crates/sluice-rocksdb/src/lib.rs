//! Sluice's embedded RocksDB state backend (Flink's `state.backend.type: rocksdb`).
//!
//! Each keyed operator instance keeps its state in its own RocksDB database in a local working
//! directory: one column family per declared state, every key prefixed by its key group (two
//! bytes, big-endian), so a key group is one contiguous range — rescaling and snapshots copy
//! ranges, and state larger than memory spills to disk. The write-ahead log is off: durability
//! comes from checkpoints, as in Flink.
//!
//! With incremental checkpoints on (Flink's `execution.checkpointing.incremental`), a
//! checkpoint stores the database's new SST files only and refers to the files earlier
//! checkpoints stored; savepoints are always in the canonical format.
//!
//! The backend passes the same test suite as the in-memory one
//! (`sluice_state::testing::backend_suite`); its snapshots are the same canonical key-group
//! format, so a job can switch backends between a savepoint and its restore.

mod backend;
mod factory;
mod full;
mod incremental;
mod keys;

pub use backend::{DEFAULT_WRITE_BUFFER_BYTES, RocksDbOptions, RocksDbStateBackend};
pub use factory::{ROCKSDB_BACKEND, RocksDbStateBackendFactory};
