//! The state backend trait: per state, per key group, an ordered map of byte strings.
//!
//! Keys inside a key group are `encoded key | encoded namespace | encoded user key (map
//! state)`, so everything of one key and namespace is one contiguous range: map state iterates
//! a prefix, and a whole key group can be copied out for a snapshot or into another subtask
//! when rescaling. Values are opaque bytes.

use std::borrow::Cow;

use crate::error::StateError;
use crate::snapshot::KeyedSnapshot;

/// Entries as (key, value) byte strings, in key order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Identifies one declared state of an operator (assigned in declaration order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StateId(pub u32);

impl StateId {
    /// This state's table in `key_group`.
    pub fn in_group(self, key_group: usize) -> TableId {
        TableId {
            state: self,
            key_group,
        }
    }
}

/// One ordered map of a backend: the entries of one state in one key group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableId {
    /// The declared state.
    pub state: StateId,
    /// The key group.
    pub key_group: usize,
}

/// Storage for keyed state. Every operation can fail where the backend does I/O (an embedded
/// database on a full or broken disk); the in-memory backend never fails.
pub trait StateBackend: Send {
    /// Registers a state by name and returns its id (the same id for the same name).
    fn register(&mut self, name: &str) -> Result<StateId, StateError>;

    /// The value stored under `key` (borrowed where the backend holds it in memory, owned
    /// where it must be read, as from disk).
    fn get(&self, table: TableId, key: &[u8]) -> Result<Option<Cow<'_, [u8]>>, StateError>;

    /// Stores `value` under `key`.
    fn put(&mut self, table: TableId, key: Vec<u8>, value: Vec<u8>) -> Result<(), StateError>;

    /// Removes `key`.
    fn delete(&mut self, table: TableId, key: &[u8]) -> Result<(), StateError>;

    /// Every entry whose key starts with `prefix`, in key order.
    fn scan_prefix(&self, table: TableId, prefix: &[u8]) -> Result<Entries, StateError>;

    /// Removes every entry whose key starts with `prefix`.
    fn delete_prefix(&mut self, table: TableId, prefix: &[u8]) -> Result<(), StateError>;

    /// The number of entries of `state` over all key groups.
    fn len(&self, state: StateId) -> Result<usize, StateError>;

    /// Copies every entry of every state into `into`, grouped by key group — or, for a
    /// checkpoint (see [`KeyedSnapshot::request`]) of a backend that snapshots incrementally,
    /// adds its files.
    fn snapshot(&self, into: &mut KeyedSnapshot) -> Result<(), StateError>;

    /// Checkpoint `checkpoint_id` completed: files it stored may be referenced by the next
    /// incremental snapshots instead of being stored again.
    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) {
        let _ = checkpoint_id;
    }

    /// Loads the entries of `from` (state written by [`StateBackend::snapshot`], possibly of
    /// several old subtasks) into this backend.
    fn restore(&mut self, from: &KeyedSnapshot) -> Result<(), StateError> {
        self.restore_where(from, &|_| true)
    }

    /// Like [`StateBackend::restore`], for the states whose name `keep` accepts.
    fn restore_where(
        &mut self,
        from: &KeyedSnapshot,
        keep: &dyn Fn(&str) -> bool,
    ) -> Result<(), StateError> {
        from.require_canonical(keep)?;
        for name in from.state_names().into_iter().filter(|name| keep(name)) {
            let state = self.register(name)?;
            for (key_group, key, value) in from.entries(name) {
                self.put(state.in_group(key_group), key.to_vec(), value.to_vec())?;
            }
        }
        Ok(())
    }
}

/// A boxed backend is a backend, so operators can hold whichever one the job configures.
impl<B: StateBackend + ?Sized> StateBackend for Box<B> {
    fn register(&mut self, name: &str) -> Result<StateId, StateError> {
        (**self).register(name)
    }

    fn get(&self, table: TableId, key: &[u8]) -> Result<Option<Cow<'_, [u8]>>, StateError> {
        (**self).get(table, key)
    }

    fn put(&mut self, table: TableId, key: Vec<u8>, value: Vec<u8>) -> Result<(), StateError> {
        (**self).put(table, key, value)
    }

    fn delete(&mut self, table: TableId, key: &[u8]) -> Result<(), StateError> {
        (**self).delete(table, key)
    }

    fn scan_prefix(&self, table: TableId, prefix: &[u8]) -> Result<Entries, StateError> {
        (**self).scan_prefix(table, prefix)
    }

    fn delete_prefix(&mut self, table: TableId, prefix: &[u8]) -> Result<(), StateError> {
        (**self).delete_prefix(table, prefix)
    }

    fn len(&self, state: StateId) -> Result<usize, StateError> {
        (**self).len(state)
    }

    fn snapshot(&self, into: &mut KeyedSnapshot) -> Result<(), StateError> {
        (**self).snapshot(into)
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) {
        (**self).notify_checkpoint_complete(checkpoint_id);
    }

    fn restore_where(
        &mut self,
        from: &KeyedSnapshot,
        keep: &dyn Fn(&str) -> bool,
    ) -> Result<(), StateError> {
        (**self).restore_where(from, keep)
    }
}
