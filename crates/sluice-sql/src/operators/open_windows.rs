//! The open windows of a window aggregation over `TUMBLE`, `HOP` and `CUMULATE` windows: per
//! window and key, the accumulators. With the `hashmap` state backend they are values in
//! memory, by window then key; with any other backend (RocksDB) they are encoded in it, and
//! memory holds only which keys each open window has, to find them when it fires.

use std::collections::BTreeMap;
use std::hash::BuildHasher;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;
use sluice_core::{Timestamp, UserResult};
use sluice_runtime::task::operator::OperatorContext;
use sluice_state::OperatorSnapshot;
use sluice_state::codec::{decode, encode};

use super::keyed_state::{KeyedValues, StateStore, WindowKey};
use crate::aggregate::{Accumulator, AggCall};
use crate::key::KeyValue;

/// A window as `(end, start)`: windows in this order fire in order of their ends.
pub type Window = (Timestamp, Timestamp);

/// The groups of one fired window: each key with its accumulators.
pub type FiredGroups = Vec<(Vec<KeyValue>, Vec<Accumulator>)>;

/// One group of a window: its key and accumulators.
type Group = (Vec<KeyValue>, Vec<Accumulator>);

/// A group's key with its hash, computed once for all the windows a row is in.
#[derive(Clone, Copy)]
pub struct HashedKey<'a> {
    key: &'a [KeyValue],
    hash: u64,
}

impl<'a> HashedKey<'a> {
    /// `key` and its hash.
    pub fn new(key: &'a [KeyValue]) -> Self {
        HashedKey {
            key,
            hash: FxBuildHasher.hash_one(key),
        }
    }
}

/// Every open window's groups.
pub struct OpenWindows {
    name: &'static str,
    /// In memory: window → its groups, by key.
    in_memory: BTreeMap<Window, HashTable<Group>>,
    /// In a state backend: (window, key) → accumulators, and each window's keys.
    in_backend: KeyedValues<WindowKey, Vec<Accumulator>>,
    keys_by_window: BTreeMap<Window, Vec<Vec<KeyValue>>>,
    store: StateStore,
}

impl OpenWindows {
    /// No open window; `name` is the state's name in checkpoints.
    pub fn new(name: &'static str) -> Self {
        OpenWindows {
            name,
            in_memory: BTreeMap::new(),
            in_backend: KeyedValues::new(name),
            keys_by_window: BTreeMap::new(),
            store: StateStore::default(),
        }
    }

    /// Takes the job's state backend for the operator instance of `ctx`.
    pub fn open(&mut self, ctx: &OperatorContext) -> UserResult {
        self.store.open(ctx, &mut [&mut self.in_backend])
    }

    /// Calls `f` with the accumulators of `key` in `window`, new ones for `calls` when the
    /// window has no group of the key yet.
    pub fn add(
        &mut self,
        window: Window,
        key: HashedKey<'_>,
        calls: &[AggCall],
        f: impl FnOnce(&mut Vec<Accumulator>),
    ) -> UserResult {
        let new_accumulators = || calls.iter().map(Accumulator::new).collect();
        if !self.store.in_backend() {
            let groups = self.in_memory.entry(window).or_default();
            let group = groups
                .entry(
                    key.hash,
                    |g| g.0 == key.key,
                    |g| FxBuildHasher.hash_one(&g.0),
                )
                .or_insert_with(|| (key.key.to_vec(), new_accumulators()))
                .into_mut();
            f(&mut group.1);
            return Ok(());
        }
        let key = key.key;
        let mut new_key = false;
        let init = || {
            new_key = true;
            new_accumulators()
        };
        let entry = (window, key.to_vec());
        self.in_backend.modify(&mut self.store, &entry, init, f)?;
        if new_key {
            self.keys_by_window.entry(window).or_default().push(entry.1);
        }
        Ok(())
    }

    /// Removes the first window, in order of ends, if it ends at or before `watermark + 1`,
    /// and returns its groups in no particular order.
    pub fn pop_fired(&mut self, watermark: Timestamp) -> UserResult<Option<(Window, FiredGroups)>> {
        if !self.store.in_backend() {
            let Some(entry) = self.in_memory.first_entry() else {
                return Ok(None);
            };
            if entry.key().0 - 1 > watermark {
                return Ok(None);
            }
            let window = *entry.key();
            return Ok(Some((window, entry.remove().into_iter().collect())));
        }
        let Some(entry) = self.keys_by_window.first_entry() else {
            return Ok(None);
        };
        if entry.key().0 - 1 > watermark {
            return Ok(None);
        }
        let window = *entry.key();
        let mut groups = Vec::new();
        for key in entry.remove() {
            let entry = (window, key);
            if let Some(accumulators) = self.in_backend.take(&mut self.store, &entry)? {
                groups.push((entry.1, accumulators));
            }
        }
        Ok(Some((window, groups)))
    }

    /// Adds the open windows to `snapshot`, under this state's name: `(window, key)` →
    /// accumulators, by the key group of the key.
    pub fn snapshot(
        &self,
        snapshot: &mut OperatorSnapshot,
        key_group: impl Fn(&[KeyValue]) -> usize,
    ) -> UserResult {
        let entries = self.in_memory.iter().flat_map(|(window, groups)| {
            groups
                .iter()
                .map(|(key, accumulators)| (*window, key.as_slice(), accumulators.as_slice()))
        });
        snapshot_windows(&self.store, self.name, snapshot, key_group, entries)
    }

    /// Checkpoint `checkpoint_id` completed: the backend may refer to what it stored.
    pub fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) {
        self.store.notify_checkpoint_complete(checkpoint_id);
    }

    /// Loads the open windows of `restored`.
    pub fn restore(&mut self, restored: &OperatorSnapshot) -> UserResult {
        if !self.store.in_backend() {
            restored
                .keyed
                .require_canonical(&|state| state == self.name)?;
            for (_, entry, accumulators) in restored.keyed.entries(self.name) {
                let ((window, key), accumulators) =
                    decode_window_entry(self.name, entry, accumulators)?;
                let hash = FxBuildHasher.hash_one(&key);
                self.in_memory.entry(window).or_default().insert_unique(
                    hash,
                    (key, accumulators),
                    |g| FxBuildHasher.hash_one(&g.0),
                );
            }
            return Ok(());
        }
        self.in_backend.restore(&mut self.store, restored)?;
        let keys_by_window = &mut self.keys_by_window;
        self.in_backend.for_each(&self.store, |(window, key), _| {
            keys_by_window.entry(*window).or_default().push(key.clone());
            Ok(())
        })
    }
}

/// Adds the window state `name` of an operator to `snapshot`: the backend's states when
/// `store` has one, else the `entries` kept in memory, `(window, key)` → accumulators, by the
/// key group of the key.
pub fn snapshot_windows<'a>(
    store: &StateStore,
    name: &str,
    snapshot: &mut OperatorSnapshot,
    key_group: impl Fn(&[KeyValue]) -> usize,
    entries: impl Iterator<Item = (Window, &'a [KeyValue], &'a [Accumulator])>,
) -> UserResult {
    if store.in_backend() {
        return store.snapshot(snapshot);
    }
    for (window, key, accumulators) in entries {
        let entry = encode(name, &(window, key))?;
        snapshot
            .keyed
            .push(key_group(key), name, entry, encode(name, accumulators)?);
    }
    Ok(())
}

/// The window, key and accumulators of an entry [`snapshot_windows`] made.
pub fn decode_window_entry(
    name: &str,
    entry: &[u8],
    accumulators: &[u8],
) -> UserResult<(WindowKey, Vec<Accumulator>)> {
    Ok((decode(name, entry)?, decode(name, accumulators)?))
}
