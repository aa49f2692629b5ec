//! The open windows of a window aggregation over `TUMBLE`, `HOP` and `CUMULATE` windows: per
//! window and key, the accumulators. With the `hashmap` state backend they are values in
//! memory, by slices of time ([`SlicedWindows`]); with any other backend (RocksDB) they are
//! encoded in it by window and key, and memory holds only which keys each open window has, to
//! find them when it fires. Checkpoints hold `(window, key)` → accumulators either way.

use std::collections::BTreeMap;
use std::hash::BuildHasher;

use rustc_hash::FxBuildHasher;
use sluice_core::{Timestamp, UserResult};
use sluice_runtime::task::operator::OperatorContext;
use sluice_state::OperatorSnapshot;
use sluice_state::codec::{decode, encode};

use super::keyed_state::{KeyedValues, StateStore, WindowKey};
use super::sliced_windows::{SlicedWindows, WindowRows};
use super::window_kind::window_fired;
use crate::aggregate::{Accumulator, AggCall};
use crate::key::KeyValue;

/// A window as `(end, start)`: windows in this order fire in order of their ends.
pub type Window = (Timestamp, Timestamp);

/// A group's key with its hash, computed once for all the windows a row is in.
#[derive(Clone, Copy)]
pub struct HashedKey<'a> {
    pub(super) key: &'a [KeyValue],
    pub(super) hash: u64,
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
    /// In memory: the groups of each slice of time.
    in_memory: SlicedWindows,
    /// In a state backend: (window, key) → accumulators, and each window's keys.
    in_backend: KeyedValues<WindowKey, Vec<Accumulator>>,
    keys_by_window: BTreeMap<Window, Vec<Vec<KeyValue>>>,
    store: StateStore,
}

impl OpenWindows {
    /// No open window of `calls` (each window one slice or not); `name` is the state's name
    /// in checkpoints.
    pub fn new(name: &'static str, calls: &[AggCall], one_slice_per_window: bool) -> Self {
        OpenWindows {
            name,
            in_memory: SlicedWindows::new(calls, one_slice_per_window),
            in_backend: KeyedValues::new(name),
            keys_by_window: BTreeMap::new(),
            store: StateStore::default(),
        }
    }

    /// Takes the job's state backend for the operator instance of `ctx`.
    pub fn open(&mut self, ctx: &OperatorContext) -> UserResult {
        self.store.open(ctx, &mut [&mut self.in_backend])
    }

    /// The windows by slices, when they are in memory (rows go into them by slice, not by
    /// window through [`Self::add`]).
    pub fn slices(&mut self) -> Option<&mut SlicedWindows> {
        (!self.store.in_backend()).then_some(&mut self.in_memory)
    }

    /// In a state backend: calls `f` with the accumulators of `key` in `window`, new ones for
    /// `calls` when the window has no group of the key yet.
    pub fn add(
        &mut self,
        window: Window,
        key: HashedKey<'_>,
        calls: &[AggCall],
        f: impl FnOnce(&mut [Accumulator]),
    ) -> UserResult {
        let new_accumulators = || calls.iter().map(Accumulator::new).collect();
        let key = key.key;
        let mut new_key = false;
        let init = || {
            new_key = true;
            new_accumulators()
        };
        let entry = (window, key.to_vec());
        self.in_backend
            .modify(&mut self.store, &entry, init, |accs| f(accs))?;
        if new_key {
            self.keys_by_window.entry(window).or_default().push(entry.1);
        }
        Ok(())
    }

    /// Emits and forgets the first window, in order of ends, if it ends at or before
    /// `watermark + 1`: calls `emit` with it and its groups (in no particular order) but those
    /// `skip` names. Returns whether a window fired.
    pub fn fire_first(
        &mut self,
        watermark: Timestamp,
        skip: impl Fn(Window, &[KeyValue]) -> bool,
        emit: impl FnOnce(Window, WindowRows<'_>) -> UserResult,
    ) -> UserResult<bool> {
        if !self.store.in_backend() {
            return self.in_memory.fire_first(watermark, skip, emit);
        }
        let Some(entry) = self.keys_by_window.first_entry() else {
            return Ok(false);
        };
        if !window_fired(entry.key().0, watermark) {
            return Ok(false);
        }
        let window = *entry.key();
        let mut groups = Vec::new();
        for key in entry.remove() {
            let entry = (window, key);
            if let Some(accumulators) = self.in_backend.take(&mut self.store, &entry)?
                && !skip(window, &entry.1)
            {
                groups.push((entry.1, accumulators));
            }
        }
        emit(
            window,
            groups
                .iter()
                .map(|(key, accs)| (key.as_slice(), accs.as_slice()))
                .unzip(),
        )?;
        Ok(true)
    }

    /// Adds the open windows to `snapshot`, under this state's name: `(window, key)` →
    /// accumulators, by the key group of the key, but the groups `skip` names.
    pub fn snapshot(
        &mut self,
        snapshot: &mut OperatorSnapshot,
        key_group: impl Fn(&[KeyValue]) -> usize,
        skip: impl Fn(Window, &[KeyValue]) -> bool,
    ) -> UserResult {
        if self.store.in_backend() {
            return self.store.snapshot(snapshot);
        }
        let name = self.name;
        self.in_memory
            .for_each_window(skip, |window, (keys, accumulators)| {
                let entries = keys
                    .iter()
                    .zip(&accumulators)
                    .map(|(key, accs)| (window, *key, *accs));
                snapshot_windows(&self.store, name, snapshot, &key_group, entries)
            })
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
                self.in_memory.restore(window, key, accumulators);
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
    entries: impl Iterator<Item = (Window, &'a [KeyValue], impl AsRef<[Accumulator]>)>,
) -> UserResult {
    if store.in_backend() {
        return store.snapshot(snapshot);
    }
    for (window, key, accumulators) in entries {
        let entry = encode(name, &(window, key))?;
        snapshot.keyed.push(
            key_group(key),
            name,
            entry,
            encode(name, accumulators.as_ref())?,
        );
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
