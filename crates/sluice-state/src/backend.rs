//! The state backend trait: per state, per key group, an ordered map of byte strings.
//!
//! Keys inside a key group are `encoded key | encoded namespace | encoded user key (map
//! state)`, so everything of one key and namespace is one contiguous range: map state iterates
//! a prefix, and a whole key group can be copied out for a snapshot or into another subtask
//! when rescaling. Values are opaque bytes.

use std::borrow::Cow;

use crate::snapshot::KeyedSnapshot;

/// Identifies one declared state of an operator (assigned in declaration order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StateId(pub u32);

/// Storage for keyed state.
pub trait StateBackend: Send {
    /// Registers a state by name and returns its id (the same id for the same name).
    fn register(&mut self, name: &str) -> StateId;

    /// The value stored under `key` (borrowed where the backend holds it in memory, owned
    /// where it must be read, as from disk).
    fn get(&self, state: StateId, key_group: usize, key: &[u8]) -> Option<Cow<'_, [u8]>>;

    /// Stores `value` under `key`.
    fn put(&mut self, state: StateId, key_group: usize, key: Vec<u8>, value: Vec<u8>);

    /// Removes `key`.
    fn delete(&mut self, state: StateId, key_group: usize, key: &[u8]);

    /// Every entry whose key starts with `prefix`, in key order.
    fn scan_prefix(
        &self,
        state: StateId,
        key_group: usize,
        prefix: &[u8],
    ) -> Vec<(Vec<u8>, Vec<u8>)>;

    /// Removes every entry whose key starts with `prefix`.
    fn delete_prefix(&mut self, state: StateId, key_group: usize, prefix: &[u8]);

    /// The number of entries of `state` over all key groups.
    fn len(&self, state: StateId) -> usize;

    /// Copies every entry of every state into `into`, grouped by key group.
    fn snapshot(&self, into: &mut KeyedSnapshot);

    /// Loads the entries of `from` (state written by [`StateBackend::snapshot`], possibly of
    /// several old subtasks) into this backend.
    fn restore(&mut self, from: &KeyedSnapshot) {
        self.restore_where(from, &|_| true);
    }

    /// Like [`StateBackend::restore`], for the states whose name `keep` accepts.
    fn restore_where(&mut self, from: &KeyedSnapshot, keep: &dyn Fn(&str) -> bool) {
        for name in from.state_names().into_iter().filter(|name| keep(name)) {
            let state = self.register(name);
            for (key_group, key, value) in from.entries(name) {
                self.put(state, key_group, key.to_vec(), value.to_vec());
            }
        }
    }
}
