//! Where SQL operators keep their state by key: typed values in memory with the `hashmap`
//! state backend (the default), or encoded in the job's state backend otherwise (RocksDB, as
//! Flink's `state.backend.type` chooses for SQL jobs too), so state larger than memory spills
//! to disk. Both ways write the same checkpoint entries (state name, key group of the stable
//! key hash, encoded key, encoded value): a savepoint taken with one backend restores into the
//! other, at any parallelism.

use std::borrow::Cow;
use std::hash::Hash;

use rustc_hash::FxHashMap;
use serde::Serialize;
use serde::de::DeserializeOwned;

use sluice_core::key_group::KeyGroupRange;
use sluice_core::{Timestamp, UserResult};
use sluice_runtime::task::operator::OperatorContext;
use sluice_state::codec::{decode, encode};
use sluice_state::{OperatorSnapshot, StateBackend, StateId};

use crate::key::{KeyValue, key_group_of};

/// The storage of one SQL operator instance: nothing of its own with the `hashmap` backend
/// (each [`KeyedValues`] holds its values), or the backend every [`KeyedValues`] of the
/// operator writes into.
pub struct StateStore {
    backend: Option<Box<dyn StateBackend>>,
    max_parallelism: usize,
    key_groups: KeyGroupRange,
}

impl Default for StateStore {
    fn default() -> Self {
        let max_parallelism = sluice_core::DEFAULT_MAX_PARALLELISM;
        StateStore {
            backend: None,
            max_parallelism,
            key_groups: KeyGroupRange::for_subtask(max_parallelism, 1, 0),
        }
    }
}

impl StateStore {
    /// Takes the job's state backend for the operator instance of `ctx` (none when it keeps
    /// values in memory) and registers `states` in it.
    pub fn open(
        &mut self,
        ctx: &OperatorContext,
        states: &mut [&mut dyn Registered],
    ) -> UserResult {
        self.max_parallelism = ctx.max_parallelism;
        self.key_groups = ctx.key_groups();
        if !ctx.state_backend.on_heap() {
            let mut backend = ctx.state_backend.create(ctx.backend_scope())?;
            for state in states {
                state.register(&mut *backend)?;
            }
            self.backend = Some(backend);
        }
        Ok(())
    }

    /// The job's max parallelism (its number of key groups).
    pub fn max_parallelism(&self) -> usize {
        self.max_parallelism
    }

    /// Whether values are kept encoded in a backend.
    pub fn in_backend(&self) -> bool {
        self.backend.is_some()
    }

    /// Adds the backend's states to `snapshot` (the values kept in memory are added by their
    /// [`KeyedValues::snapshot`]).
    pub fn snapshot(&self, snapshot: &mut OperatorSnapshot) -> UserResult {
        if let Some(backend) = &self.backend {
            backend.snapshot(&mut snapshot.keyed)?;
        }
        Ok(())
    }

    /// Checkpoint `checkpoint_id` completed: the backend may refer to what it stored.
    pub fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) {
        if let Some(backend) = &mut self.backend {
            backend.notify_checkpoint_complete(checkpoint_id);
        }
    }
}

/// A state that registers itself in an operator's backend.
pub trait Registered {
    /// Registers the state in `backend`.
    fn register(&mut self, backend: &mut dyn StateBackend) -> UserResult;
}

/// What a state's values are stored under: a SQL key, or more (a window and a key), with the
/// SQL key whose key group holds the entry.
pub trait StateKey: Serialize + DeserializeOwned + Eq + Hash + Clone {
    /// The key that decides the entry's key group.
    fn grouping_key(&self) -> &[KeyValue];
}

impl StateKey for Vec<KeyValue> {
    fn grouping_key(&self) -> &[KeyValue] {
        self
    }
}

impl StateKey for smallvec::SmallVec<[KeyValue; 1]> {
    fn grouping_key(&self) -> &[KeyValue] {
        self
    }
}

/// A window, as `(end, start)`, and the key of one of its groups.
pub type WindowKey = ((Timestamp, Timestamp), Vec<KeyValue>);

impl StateKey for WindowKey {
    fn grouping_key(&self) -> &[KeyValue] {
        &self.1
    }
}

/// One state of an operator: a value of type `V` per key of type `K`.
pub struct KeyedValues<K, V> {
    name: &'static str,
    id: Option<StateId>,
    values: FxHashMap<K, V>,
}

impl<K, V> Registered for KeyedValues<K, V> {
    fn register(&mut self, backend: &mut dyn StateBackend) -> UserResult {
        self.id = Some(backend.register(self.name)?);
        Ok(())
    }
}

/// The backend and table of `key`, when values are kept in a backend.
fn table_of<'s>(
    store: &'s mut StateStore,
    id: Option<StateId>,
    key: &impl StateKey,
) -> Option<(&'s mut Box<dyn StateBackend>, sluice_state::TableId)> {
    match (&mut store.backend, id) {
        (Some(backend), Some(id)) => {
            let key_group = key_group_of(key.grouping_key(), store.max_parallelism);
            Some((backend, id.in_group(key_group)))
        }
        _ => None,
    }
}

impl<K: StateKey, V: Serialize + DeserializeOwned + Clone> KeyedValues<K, V> {
    /// An empty state named `name` in checkpoints.
    pub fn new(name: &'static str) -> Self {
        KeyedValues {
            name,
            id: None,
            values: FxHashMap::default(),
        }
    }

    /// The value of `key`, if it has one.
    pub fn get<'a>(&'a self, store: &StateStore, key: &K) -> UserResult<Option<Cow<'a, V>>> {
        let (Some(backend), Some(id)) = (&store.backend, self.id) else {
            return Ok(self.values.get(key).map(Cow::Borrowed));
        };
        let table = id.in_group(key_group_of(key.grouping_key(), store.max_parallelism));
        let value = self.read(backend.as_ref(), table, &encode(self.name, key)?)?;
        Ok(value.map(Cow::Owned))
    }

    /// The value stored under `encoded_key` in `table` of `backend`, decoded.
    fn read(
        &self,
        backend: &dyn StateBackend,
        table: sluice_state::TableId,
        encoded_key: &[u8],
    ) -> UserResult<Option<V>> {
        match backend.get(table, encoded_key)? {
            Some(bytes) => Ok(Some(decode(self.name, &bytes)?)),
            None => Ok(None),
        }
    }

    /// Calls `f` with the value of `key`, made by `init` when it has none, and keeps what `f`
    /// leaves.
    pub fn modify<R>(
        &mut self,
        store: &mut StateStore,
        key: &K,
        init: impl FnOnce() -> V,
        f: impl FnOnce(&mut V) -> R,
    ) -> UserResult<R> {
        let Some((backend, table)) = table_of(store, self.id, key) else {
            if let Some(value) = self.values.get_mut(key) {
                return Ok(f(value));
            }
            return Ok(f(self.values.entry(key.clone()).or_insert_with(init)));
        };
        let encoded_key = encode(self.name, key)?;
        let mut value = match self.read(backend.as_ref(), table, &encoded_key)? {
            Some(value) => value,
            None => init(),
        };
        let result = f(&mut value);
        backend.put(table, encoded_key, encode(self.name, &value)?)?;
        Ok(result)
    }

    /// Calls `f` with the value of `key`, made by `init` when it has none, and keeps what `f`
    /// leaves unless `is_empty` calls it empty: then the key is removed (or never added).
    pub fn modify_or_remove<R>(
        &mut self,
        store: &mut StateStore,
        key: K,
        init: impl FnOnce() -> V,
        f: impl FnOnce(&mut V) -> R,
        is_empty: impl Fn(&V) -> bool,
    ) -> UserResult<R> {
        let Some((backend, table)) = table_of(store, self.id, &key) else {
            return Ok(match self.values.entry(key) {
                std::collections::hash_map::Entry::Occupied(mut entry) => {
                    let result = f(entry.get_mut());
                    if is_empty(entry.get()) {
                        entry.remove();
                    }
                    result
                }
                std::collections::hash_map::Entry::Vacant(entry) => {
                    let mut value = init();
                    let result = f(&mut value);
                    if !is_empty(&value) {
                        entry.insert(value);
                    }
                    result
                }
            });
        };
        let encoded_key = encode(self.name, &key)?;
        let stored = self.read(backend.as_ref(), table, &encoded_key)?;
        let existed = stored.is_some();
        let mut value = stored.unwrap_or_else(init);
        let result = f(&mut value);
        if !is_empty(&value) {
            backend.put(table, encoded_key, encode(self.name, &value)?)?;
        } else if existed {
            backend.delete(table, &encoded_key)?;
        }
        Ok(result)
    }

    /// Sets the value of `key`.
    pub fn put(&mut self, store: &mut StateStore, key: K, value: V) -> UserResult {
        match table_of(store, self.id, &key) {
            Some((backend, table)) => {
                backend.put(table, encode(self.name, &key)?, encode(self.name, &value)?)?
            }
            None => {
                self.values.insert(key, value);
            }
        }
        Ok(())
    }

    /// Removes and returns the value of `key`.
    pub fn take(&mut self, store: &mut StateStore, key: &K) -> UserResult<Option<V>> {
        let Some((backend, table)) = table_of(store, self.id, key) else {
            return Ok(self.values.remove(key));
        };
        let encoded_key = encode(self.name, key)?;
        let value = self.read(backend.as_ref(), table, &encoded_key)?;
        if value.is_some() {
            backend.delete(table, &encoded_key)?;
        }
        Ok(value)
    }

    /// Removes the value of `key`.
    pub fn remove(&mut self, store: &mut StateStore, key: &K) -> UserResult {
        match table_of(store, self.id, key) {
            Some((backend, table)) => backend.delete(table, &encode(self.name, key)?)?,
            None => {
                self.values.remove(key);
            }
        }
        Ok(())
    }

    /// Calls `f` with every key and its value (in no particular order).
    pub fn for_each(
        &self,
        store: &StateStore,
        mut f: impl FnMut(&K, &V) -> UserResult,
    ) -> UserResult {
        let (Some(backend), Some(id)) = (&store.backend, self.id) else {
            return self
                .values
                .iter()
                .try_for_each(|(key, value)| f(key, value));
        };
        for key_group in store.key_groups.start..=store.key_groups.end {
            for (key, value) in backend.scan_prefix(id.in_group(key_group), &[])? {
                let key: K = decode(self.name, &key)?;
                f(&key, &decode(self.name, &value)?)?;
            }
        }
        Ok(())
    }

    /// Calls `f` with every key and its value (in no particular order) and keeps what it
    /// leaves where it returns true; removes the key where it returns false.
    pub fn retain(
        &mut self,
        store: &mut StateStore,
        mut f: impl FnMut(&K, &mut V) -> bool,
    ) -> UserResult {
        let (Some(backend), Some(id)) = (&mut store.backend, self.id) else {
            self.values.retain(|key, value| f(key, value));
            return Ok(());
        };
        for key_group in store.key_groups.start..=store.key_groups.end {
            let table = id.in_group(key_group);
            for (encoded_key, encoded) in backend.scan_prefix(table, &[])? {
                let key: K = decode(self.name, &encoded_key)?;
                let mut value: V = decode(self.name, &encoded)?;
                if !f(&key, &mut value) {
                    backend.delete(table, &encoded_key)?;
                    continue;
                }
                let left = encode(self.name, &value)?;
                if left != encoded {
                    backend.put(table, encoded_key, left)?;
                }
            }
        }
        Ok(())
    }

    /// Adds the values kept in memory to `snapshot` (a backend's are added by
    /// [`StateStore::snapshot`]).
    pub fn snapshot(&self, store: &StateStore, snapshot: &mut OperatorSnapshot) -> UserResult {
        for (key, value) in &self.values {
            push_entry(snapshot, self.name, store.max_parallelism, key, value)?;
        }
        Ok(())
    }

    /// Loads this state's entries of `restored`.
    pub fn restore(&mut self, store: &mut StateStore, restored: &OperatorSnapshot) -> UserResult {
        let name = self.name;
        if let Some(backend) = &mut store.backend {
            backend.restore_where(&restored.keyed, &|state| state == name)?;
            return Ok(());
        }
        let values = &mut self.values;
        for_each_entry(restored, name, |key, value| {
            values.insert(key, value);
            Ok(())
        })
    }
}

/// Adds `key` → `value` of the state `name` to `snapshot` as a checkpoint holds it in memory:
/// encoded, in the key group of the key.
pub fn push_entry(
    snapshot: &mut OperatorSnapshot,
    name: &str,
    max_parallelism: usize,
    key: &impl StateKey,
    value: &impl Serialize,
) -> UserResult {
    let key_group = key_group_of(key.grouping_key(), max_parallelism);
    snapshot
        .keyed
        .push(key_group, name, encode(name, key)?, encode(name, value)?);
    Ok(())
}

/// Calls `f` with each `key` → `value` of the state `name` in `restored` (written in the
/// canonical format [`push_entry`] and the backends' savepoints write).
pub fn for_each_entry<K: DeserializeOwned, V: DeserializeOwned>(
    restored: &OperatorSnapshot,
    name: &str,
    mut f: impl FnMut(K, V) -> UserResult,
) -> UserResult {
    restored.keyed.require_canonical(&|state| state == name)?;
    for (_, key, value) in restored.keyed.entries(name) {
        f(decode(name, key)?, decode(name, value)?)?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use sluice_state::{BackendScope, HeapStateBackend, StateBackendFactory, StateError};

    use super::*;

    /// A backend that keeps values encoded, as RocksDB does, in memory.
    #[derive(Debug)]
    pub(crate) struct EncodedBackend;

    impl StateBackendFactory for EncodedBackend {
        fn name(&self) -> &'static str {
            "encoded"
        }

        fn create(&self, scope: BackendScope<'_>) -> Result<Box<dyn StateBackend>, StateError> {
            Ok(Box::new(HeapStateBackend::new(scope.max_parallelism)))
        }
    }

    /// The context of subtask `subtask` of `parallelism`, keeping state encoded when `encoded`.
    pub(crate) fn context(encoded: bool, subtask: usize, parallelism: usize) -> OperatorContext {
        let mut ctx = OperatorContext::single("keyed");
        ctx.subtask = subtask;
        ctx.parallelism = parallelism;
        if encoded {
            ctx.state_backend = Arc::new(EncodedBackend);
        }
        ctx
    }

    fn opened(ctx: &OperatorContext) -> (StateStore, KeyedValues<Vec<KeyValue>, i64>) {
        let mut store = StateStore::default();
        let mut values = KeyedValues::new("counts");
        store.open(ctx, &mut [&mut values]).unwrap();
        (store, values)
    }

    fn key(k: i64) -> Vec<KeyValue> {
        vec![KeyValue::Int(k)]
    }

    fn contents(store: &StateStore, values: &KeyedValues<Vec<KeyValue>, i64>) -> Vec<(i64, i64)> {
        let mut all = Vec::new();
        values
            .for_each(store, |key, value| {
                let KeyValue::Int(k) = key[0] else {
                    panic!("an integer key")
                };
                all.push((k, *value));
                Ok(())
            })
            .unwrap();
        all.sort();
        all
    }

    #[test]
    fn values_in_memory_and_encoded_in_a_backend_behave_alike() {
        for encoded in [false, true] {
            let (mut store, mut values) = opened(&context(encoded, 0, 1));
            assert_eq!(store.in_backend(), encoded);
            for k in [1, 2, 1, 3, 1] {
                values
                    .modify(&mut store, &key(k), || 0, |v| *v += 1)
                    .unwrap();
            }
            assert_eq!(values.get(&store, &key(1)).unwrap().as_deref(), Some(&3));
            assert_eq!(values.get(&store, &key(9)).unwrap(), None);
            // Down to zero: removed; a new key left at zero: never added.
            let decrement = |v: &mut i64| *v -= 1;
            for k in [2, 9] {
                values
                    .modify_or_remove(&mut store, key(k), || 1, decrement, |v| *v == 0)
                    .unwrap();
            }
            values
                .modify_or_remove(&mut store, key(4), || 1, |v| *v += 1, |v| *v == 0)
                .unwrap();
            assert_eq!(values.get(&store, &key(4)).unwrap().as_deref(), Some(&2));
            values.remove(&mut store, &key(4)).unwrap();
            values.remove(&mut store, &key(3)).unwrap();
            assert_eq!(contents(&store, &values), [(1, 3)], "encoded: {encoded}");
        }
    }

    #[test]
    fn a_snapshot_of_either_kind_restores_into_the_other_at_another_parallelism() {
        for (from_encoded, into_encoded) in [(false, true), (true, false), (true, true)] {
            let (mut store, mut values) = opened(&context(from_encoded, 0, 1));
            for k in 0..100 {
                values
                    .modify(&mut store, &key(k), || k, |v| *v *= 2)
                    .unwrap();
            }
            let mut snapshot = OperatorSnapshot::default();
            values.snapshot(&store, &mut snapshot).unwrap();
            store.snapshot(&mut snapshot).unwrap();
            let mut restored = Vec::new();
            for subtask in 0..2 {
                let ctx = context(into_encoded, subtask, 2);
                let part = OperatorSnapshot::for_subtask(
                    std::slice::from_ref(&snapshot),
                    ctx.key_groups(),
                    subtask,
                    2,
                );
                let (mut store, mut values) = opened(&ctx);
                values.restore(&mut store, &part).unwrap();
                let own = contents(&store, &values);
                assert!(!own.is_empty(), "subtask {subtask} got keys");
                restored.extend(own);
            }
            restored.sort();
            let expected: Vec<(i64, i64)> = (0..100).map(|k| (k, 2 * k)).collect();
            assert_eq!(restored, expected, "{from_encoded} into {into_encoded}");
        }
    }
}
