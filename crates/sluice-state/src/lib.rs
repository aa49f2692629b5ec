//! Keyed state: what operators remember per key, partitioned by key group so it can be
//! snapshotted, restored and redistributed when a job is rescaled.
//!
//! The bottom is the [`StateBackend`] trait: ordered byte maps addressed by state id and key
//! group — what both the in-memory backend here and an embedded RocksDB implement. On top, the
//! typed handles ([`ValueState`], [`ListState`], [`MapState`], [`ReducingState`],
//! [`AggregatingState`]) encode the current key, namespace and values with postcard and apply
//! time-to-live. Every backend passes the one suite in `testing` (the `testing` feature).
//!
//! Operators that keep a whole structure per key (windows) use a [`KeyedTable`]: typed in
//! memory, or encoded in any backend. Operator (non-keyed) list state lives in an [`OperatorStateStore`]. A subtask's state is
//! captured as an [`OperatorSnapshot`] (keyed entries by key group, operator lists), and the
//! snapshots of all subtasks are divided again for any new parallelism.

pub mod backend;
pub mod backend_factory;
pub mod backend_options;
pub mod codec;
pub mod error;
pub mod handles;
pub mod heap;
pub mod native;
pub mod operator_state;
pub mod scope;
pub mod snapshot;
pub mod storage;
pub mod table;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod ttl;

pub use backend::{StateBackend, StateId, TableId};
pub use backend_factory::{
    BackendScope, HASHMAP_BACKEND, HashMapStateBackendFactory, StateBackendFactory,
};
pub use error::StateError;
pub use handles::{AggregatingState, ListState, MapState, ReducingState, ValueState};
pub use heap::HeapStateBackend;
pub use native::{LocalFile, NativeKeyedState, ScratchDir, SharedFile};
pub use operator_state::{OperatorListState, OperatorStateStore};
pub use scope::KeyedStateScope;
pub use snapshot::{
    Distribution, EntryWriter, InFlightData, KeyedSnapshot, OperatorList, OperatorSnapshot,
    OperatorStateSnapshot, SnapshotRequest,
};
pub use storage::{
    CheckpointMetadata, CheckpointStorage, RestoredCheckpoint, StorageError, TaskSnapshot,
};
pub use table::{BackendTable, HeapTable, KeyedStore, KeyedTable};
pub use ttl::{StateTtlConfig, TtlUpdate};
