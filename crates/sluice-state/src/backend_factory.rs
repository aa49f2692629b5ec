//! Choosing where keyed state lives (Flink's `state.backend.type`): a factory the job is
//! configured with, asked by every keyed operator instance for its storage when it opens.

use std::fmt::Debug;

use sluice_core::key_group::KeyGroupRange;

use crate::backend::StateBackend;
use crate::error::StateError;
use crate::heap::HeapStateBackend;

/// The name of the in-memory backend in configuration.
pub const HASHMAP_BACKEND: &str = "hashmap";

/// Which operator instance a backend is made for.
#[derive(Debug, Clone, Copy)]
pub struct BackendScope<'a> {
    /// The operator's uid.
    pub operator_uid: &'a str,
    /// The parallel instance.
    pub subtask: usize,
    /// The number of key groups.
    pub max_parallelism: usize,
    /// The key groups this instance owns.
    pub key_groups: KeyGroupRange,
}

/// Makes the keyed-state storage of operator instances.
pub trait StateBackendFactory: Send + Sync + Debug {
    /// The backend's name in configuration (`hashmap`, `rocksdb`).
    fn name(&self) -> &'static str;

    /// A fresh, empty backend for one operator instance.
    fn create(&self, scope: BackendScope<'_>) -> Result<Box<dyn StateBackend>, StateError>;

    /// Whether operators may keep state as typed values in memory instead of encoded in a
    /// backend (true for the in-memory backend only).
    fn on_heap(&self) -> bool {
        false
    }
}

/// The in-memory backend (Flink's `hashmap`): the default.
#[derive(Debug, Clone, Copy, Default)]
pub struct HashMapStateBackendFactory;

impl StateBackendFactory for HashMapStateBackendFactory {
    fn name(&self) -> &'static str {
        HASHMAP_BACKEND
    }

    fn create(&self, scope: BackendScope<'_>) -> Result<Box<dyn StateBackend>, StateError> {
        Ok(Box::new(HeapStateBackend::new(scope.max_parallelism)))
    }

    fn on_heap(&self) -> bool {
        true
    }
}
