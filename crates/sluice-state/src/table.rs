//! Keyed tables: one typed value per key, for operators that keep a whole structure per key
//! (a key's windows with their contents and timers). An element takes its key's value out,
//! works on it, and puts it back — one lookup each way, however many windows it touches.
//!
//! [`HeapTable`] keeps values as they are and encodes them only for a snapshot (Flink's heap
//! backend); [`BackendTable`] stores them encoded in any [`StateBackend`] (what an embedded
//! RocksDB backend provides), so such operators run on either.

use std::hash::Hash;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sluice_core::key_group::assign_to_key_group;
use sluice_core::key_selector::{KeyMap, KeySelector};

use crate::backend::{StateBackend, StateId};
use crate::backend_factory::{BackendScope, StateBackendFactory};
use crate::codec::{decode, encode};
use crate::error::StateError;
use crate::snapshot::{EntryWriter, KeyedSnapshot};

/// One value per key, partitioned by key group, snapshotted under one state name.
pub trait KeyedTable<K, V>: Send
where
    K: Serialize + DeserializeOwned,
    V: Serialize + DeserializeOwned,
{
    /// The state name the table's entries are snapshotted under.
    fn name(&self) -> &str;

    /// Takes `key`'s value out to work on; follow with [`KeyedTable::put`] or
    /// [`KeyedTable::remove`] for the same key before touching another.
    fn take(&mut self, key: &K) -> Result<Option<V>, StateError>;

    /// Stores `value` for `key`.
    fn put(&mut self, key: K, value: V) -> Result<(), StateError>;

    /// Removes `key`'s value.
    fn remove(&mut self, key: &K) -> Result<(), StateError>;

    /// Puts a taken value back, or removes the key when nothing is left of it (`empty`).
    fn put_back(&mut self, key: K, value: V, empty: bool) -> Result<(), StateError> {
        if empty {
            self.remove(&key)
        } else {
            self.put(key, value)
        }
    }

    /// The number of keys with a value.
    fn len(&self) -> Result<usize, StateError>;

    /// Whether no key has a value.
    fn is_empty(&self) -> Result<bool, StateError> {
        Ok(self.len()? == 0)
    }

    /// Writes every entry into `into` under the table's name, grouped by key group.
    fn snapshot(&self, into: &mut KeyedSnapshot) -> Result<(), StateError>;

    /// Checkpoint `checkpoint_id` completed (see [`StateBackend::notify_checkpoint_complete`]).
    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) {
        let _ = checkpoint_id;
    }

    /// Loads the table's entries from `from`, for owners that derive nothing from them.
    fn restore_all(&mut self, from: &KeyedSnapshot) -> Result<(), StateError> {
        self.restore(from, &mut |_, _| {})
    }

    /// Loads the table's entries from `from`, showing each to `visit` (so the owner can
    /// rebuild what it derives from them, such as timer queues).
    fn restore(
        &mut self,
        from: &KeyedSnapshot,
        visit: &mut dyn FnMut(&K, &V),
    ) -> Result<(), StateError> {
        let name = self.name().to_string();
        from.require_canonical(&|state| state == name)?;
        for (_, key, value) in from.entries(&name) {
            let key: K = decode(&name, key)?;
            let value: V = decode(&name, value)?;
            visit(&key, &value);
            self.put(key, value)?;
        }
        Ok(())
    }
}

/// Values kept as they are, in one hash map; encoded only when snapshotted. Taking a value
/// leaves a default in its place until it is put back or removed, so the map does not churn.
pub struct HeapTable<K, V> {
    name: String,
    max_parallelism: usize,
    entries: KeyMap<K, V>,
}

impl<K, V> HeapTable<K, V> {
    /// An empty table snapshotted under `name`, for `max_parallelism` key groups.
    pub fn new(name: &str, max_parallelism: usize) -> Self {
        HeapTable {
            name: name.to_string(),
            max_parallelism: max_parallelism.max(1),
            entries: KeyMap::default(),
        }
    }
}

impl<K: Hash + Eq, V: Default> HeapTable<K, V> {
    /// The value of `key`, created as the default if absent: one lookup, for hot paths that
    /// know they run on the heap.
    pub fn get_or_default(&mut self, key: K) -> &mut V {
        self.entries.entry(key).or_default()
    }

    /// The value of `value`'s key (found with `keys`), created as the default if absent; a
    /// borrowed key is copied only when it is new.
    pub fn get_or_default_for<T>(&mut self, keys: &KeySelector<T, K>, value: &T) -> &mut V
    where
        K: Clone,
    {
        keys.slot(&mut self.entries, value)
    }

    /// The value of `key`, if any.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key)
    }

    /// Runs `work` on `key`'s value (a default one if the key has none) where it lies, then
    /// keeps it, or drops the key when `is_empty` says nothing is left: one lookup (a second
    /// to drop or insert the key), and the value is not moved.
    pub fn update<R>(
        &mut self,
        key: &K,
        is_empty: impl Fn(&V) -> bool,
        work: impl FnOnce(&mut V) -> R,
    ) -> R
    where
        K: Clone,
    {
        if let Some(value) = self.entries.get_mut(key) {
            let result = work(value);
            if is_empty(value) {
                self.entries.remove(key);
            }
            return result;
        }
        let mut value = V::default();
        let result = work(&mut value);
        if !is_empty(&value) {
            self.entries.insert(key.clone(), value);
        }
        result
    }

    /// Keeps the entries `keep` accepts (it may change them).
    pub fn retain(&mut self, keep: impl FnMut(&K, &mut V) -> bool) {
        self.entries.retain(keep);
    }

    /// Takes every entry out.
    pub fn drain(&mut self) -> impl Iterator<Item = (K, V)> + '_ {
        self.entries.drain()
    }
}

impl<K, V> KeyedTable<K, V> for HeapTable<K, V>
where
    K: Hash + Eq + Send + Serialize + DeserializeOwned,
    V: Default + Send + Serialize + DeserializeOwned,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn take(&mut self, key: &K) -> Result<Option<V>, StateError> {
        Ok(self.entries.get_mut(key).map(std::mem::take))
    }

    fn put(&mut self, key: K, value: V) -> Result<(), StateError> {
        match self.entries.get_mut(&key) {
            Some(slot) => *slot = value,
            None => {
                self.entries.insert(key, value);
            }
        }
        Ok(())
    }

    fn remove(&mut self, key: &K) -> Result<(), StateError> {
        self.entries.remove(key);
        Ok(())
    }

    fn len(&self) -> Result<usize, StateError> {
        Ok(self.entries.len())
    }

    fn snapshot(&self, into: &mut KeyedSnapshot) -> Result<(), StateError> {
        let mut writer = EntryWriter::new(&self.name);
        for (key, value) in &self.entries {
            writer.entry(assign_to_key_group(key, self.max_parallelism), key, value)?;
        }
        writer.finish(into);
        Ok(())
    }
}

/// Values stored encoded in a [`StateBackend`], one entry per key in the key's group.
pub struct BackendTable<B> {
    name: String,
    max_parallelism: usize,
    backend: B,
    state: StateId,
}

impl<B: StateBackend> BackendTable<B> {
    /// A table named `name` in `backend`, for `max_parallelism` key groups.
    pub fn new(name: &str, max_parallelism: usize, mut backend: B) -> Result<Self, StateError> {
        let state = backend.register(name)?;
        Ok(BackendTable {
            name: name.to_string(),
            max_parallelism: max_parallelism.max(1),
            backend,
            state,
        })
    }

    fn locate<K: Hash + Serialize>(&self, key: &K) -> Result<(usize, Vec<u8>), StateError> {
        Ok((
            assign_to_key_group(key, self.max_parallelism),
            encode(&self.name, key)?,
        ))
    }
}

impl<K, V, B> KeyedTable<K, V> for BackendTable<B>
where
    K: Hash + Serialize + DeserializeOwned,
    V: Serialize + DeserializeOwned,
    B: StateBackend,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn take(&mut self, key: &K) -> Result<Option<V>, StateError> {
        let (key_group, bytes) = self.locate(key)?;
        let Some(stored) = self.backend.get(self.state.in_group(key_group), &bytes)? else {
            return Ok(None);
        };
        Ok(Some(decode(&self.name, &stored)?))
    }

    fn put(&mut self, key: K, value: V) -> Result<(), StateError> {
        let (key_group, bytes) = self.locate(&key)?;
        let encoded = encode(&self.name, &value)?;
        self.backend
            .put(self.state.in_group(key_group), bytes, encoded)
    }

    fn remove(&mut self, key: &K) -> Result<(), StateError> {
        let (key_group, bytes) = self.locate(key)?;
        self.backend.delete(self.state.in_group(key_group), &bytes)
    }

    fn len(&self) -> Result<usize, StateError> {
        self.backend.len(self.state)
    }

    /// The backend holds this table's state only, so its snapshot is the table's.
    fn snapshot(&self, into: &mut KeyedSnapshot) -> Result<(), StateError> {
        self.backend.snapshot(into)
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) {
        self.backend.notify_checkpoint_complete(checkpoint_id);
    }

    /// Restores through the backend (which may read its own files) without reading the
    /// entries back.
    fn restore_all(&mut self, from: &KeyedSnapshot) -> Result<(), StateError> {
        let name = self.name.clone();
        self.backend.restore_where(from, &|state| state == name)
    }

    /// Restores through the backend (which may read its own files), then shows every entry.
    fn restore(
        &mut self,
        from: &KeyedSnapshot,
        visit: &mut dyn FnMut(&K, &V),
    ) -> Result<(), StateError> {
        let name = self.name.clone();
        self.backend.restore_where(from, &|state| state == name)?;
        for key_group in 0..self.max_parallelism {
            for (key, value) in self
                .backend
                .scan_prefix(self.state.in_group(key_group), &[])?
            {
                visit(&decode(&name, &key)?, &decode(&name, &value)?);
            }
        }
        Ok(())
    }
}

/// A keyed table on the job's configured backend: typed values on the heap for the in-memory
/// backend, encoded entries in the backend otherwise (RocksDB).
pub enum KeyedStore<K, V> {
    /// Typed values in memory.
    Heap(HeapTable<K, V>),
    /// Encoded entries in a backend.
    Backend(BackendTable<Box<dyn StateBackend>>),
}

impl<K, V> KeyedStore<K, V> {
    /// A table named `name` for the operator instance `scope`, on the backend `factory` makes.
    pub fn new(
        name: &str,
        factory: &dyn StateBackendFactory,
        scope: BackendScope<'_>,
    ) -> Result<Self, StateError> {
        if factory.on_heap() {
            return Ok(KeyedStore::Heap(HeapTable::new(
                name,
                scope.max_parallelism,
            )));
        }
        let backend = factory.create(scope)?;
        Ok(KeyedStore::Backend(BackendTable::new(
            name,
            scope.max_parallelism,
            backend,
        )?))
    }
}

impl<K, V> KeyedStore<K, V>
where
    K: Hash + Eq + Clone + Send + Serialize + DeserializeOwned,
    V: Default + Send + Serialize + DeserializeOwned,
{
    /// Runs `work` on `key`'s value (a default one if the key has none), then keeps it, or
    /// removes the key when `is_empty` says nothing is left. On the heap the value is changed
    /// where it lies, with one lookup; a backend reads it and writes it back.
    pub fn update<R>(
        &mut self,
        key: &K,
        is_empty: impl Fn(&V) -> bool,
        work: impl FnOnce(&mut V) -> R,
    ) -> Result<R, StateError> {
        match self {
            KeyedStore::Heap(table) => Ok(table.update(key, is_empty, work)),
            KeyedStore::Backend(table) => {
                let found = table.take(key)?;
                let existed = found.is_some();
                let mut value = found.unwrap_or_default();
                let result = work(&mut value);
                let empty = is_empty(&value);
                if existed || !empty {
                    table.put_back(key.clone(), value, empty)?;
                }
                Ok(result)
            }
        }
    }
}

impl<K, V> KeyedTable<K, V> for KeyedStore<K, V>
where
    K: Hash + Eq + Send + Serialize + DeserializeOwned,
    V: Default + Send + Serialize + DeserializeOwned,
{
    fn name(&self) -> &str {
        match self {
            KeyedStore::Heap(table) => KeyedTable::<K, V>::name(table),
            KeyedStore::Backend(table) => KeyedTable::<K, V>::name(table),
        }
    }

    fn take(&mut self, key: &K) -> Result<Option<V>, StateError> {
        match self {
            KeyedStore::Heap(table) => table.take(key),
            KeyedStore::Backend(table) => table.take(key),
        }
    }

    fn put(&mut self, key: K, value: V) -> Result<(), StateError> {
        match self {
            KeyedStore::Heap(table) => table.put(key, value),
            KeyedStore::Backend(table) => table.put(key, value),
        }
    }

    fn remove(&mut self, key: &K) -> Result<(), StateError> {
        match self {
            KeyedStore::Heap(table) => table.remove(key),
            KeyedStore::Backend(table) => KeyedTable::<K, V>::remove(table, key),
        }
    }

    fn len(&self) -> Result<usize, StateError> {
        match self {
            KeyedStore::Heap(table) => KeyedTable::<K, V>::len(table),
            KeyedStore::Backend(table) => KeyedTable::<K, V>::len(table),
        }
    }

    fn snapshot(&self, into: &mut KeyedSnapshot) -> Result<(), StateError> {
        match self {
            KeyedStore::Heap(table) => table.snapshot(into),
            KeyedStore::Backend(table) => KeyedTable::<K, V>::snapshot(table, into),
        }
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) {
        if let KeyedStore::Backend(table) = self {
            KeyedTable::<K, V>::notify_checkpoint_complete(table, checkpoint_id);
        }
    }

    fn restore(
        &mut self,
        from: &KeyedSnapshot,
        visit: &mut dyn FnMut(&K, &V),
    ) -> Result<(), StateError> {
        match self {
            KeyedStore::Heap(table) => table.restore(from, visit),
            KeyedStore::Backend(table) => table.restore(from, visit),
        }
    }

    fn restore_all(&mut self, from: &KeyedSnapshot) -> Result<(), StateError> {
        match self {
            KeyedStore::Heap(table) => table.restore_all(from),
            KeyedStore::Backend(table) => KeyedTable::<K, V>::restore_all(table, from),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::HeapStateBackend;
    use sluice_core::key_group::KeyGroupRange;

    /// Both tables: values round-trip through take/put, snapshots restore into either kind,
    /// split by key group.
    fn table_suite(make: &dyn Fn() -> Box<dyn KeyedTable<String, Vec<i64>>>) {
        let mut table = make();
        for i in 0..50 {
            table.put(format!("k{i}"), vec![i, i * 2]).unwrap();
        }
        let mut value = table.take(&"k7".to_string()).unwrap().unwrap();
        assert_eq!(value, vec![7, 14]);
        value.push(99);
        table.put("k7".to_string(), value).unwrap();
        table.take(&"k8".to_string()).unwrap();
        table.remove(&"k8".to_string()).unwrap();
        assert_eq!(table.take(&"k8".to_string()).unwrap(), None, "removed");
        table.put("k8".to_string(), vec![8, 16]).unwrap();
        assert_eq!(table.len().unwrap(), 50);
        let mut snapshot = KeyedSnapshot::default();
        table.snapshot(&mut snapshot).unwrap();
        let mut seen = 0;
        for index in 0..3 {
            let range = KeyGroupRange::for_subtask(128, 3, index);
            let mut restored = make();
            let part = KeyedSnapshot::select([&snapshot], range);
            restored.restore(&part, &mut |_, _| seen += 1).unwrap();
            for i in 0..50 {
                let key = format!("k{i}");
                let owned = range.contains(assign_to_key_group(&key, 128));
                let value = restored.take(&key).unwrap();
                assert_eq!(value.is_some(), owned, "{key} in subtask {index}");
                if let Some(value) = value {
                    assert_eq!(value[0], i);
                    assert_eq!(value.len(), if i == 7 { 3 } else { 2 });
                }
            }
        }
        assert_eq!(seen, 50, "every entry restored exactly once");
    }

    #[test]
    fn heap_tables_pass_the_table_suite() {
        table_suite(&|| Box::new(HeapTable::new("t", 128)));
    }

    #[test]
    fn backend_tables_pass_the_table_suite() {
        table_suite(&|| Box::new(BackendTable::new("t", 128, HeapStateBackend::new(128)).unwrap()));
    }

    #[test]
    fn update_changes_a_value_in_place_and_drops_emptied_keys() {
        let stores: [KeyedStore<String, Vec<i64>>; 2] = [
            KeyedStore::Heap(HeapTable::new("t", 128)),
            KeyedStore::Backend(
                BackendTable::new("t", 128, Box::new(HeapStateBackend::new(128)) as _).unwrap(),
            ),
        ];
        for mut store in stores {
            let key = "k".to_string();
            let pushed = |v: i64| move |values: &mut Vec<i64>| values.push(v);
            store.update(&key, Vec::is_empty, pushed(1)).unwrap();
            store.update(&key, Vec::is_empty, pushed(2)).unwrap();
            assert_eq!(store.take(&key).unwrap(), Some(vec![1, 2]));
            store.put(key.clone(), vec![1, 2]).unwrap();
            let len = store.update(&key, Vec::is_empty, |values| {
                values.clear();
                values.len()
            });
            assert_eq!(len.unwrap(), 0);
            assert_eq!(store.len().unwrap(), 0, "an emptied key is removed");
            store.update(&key, Vec::is_empty, |_| ()).unwrap();
            assert_eq!(
                store.len().unwrap(),
                0,
                "an absent key left empty is not stored"
            );
        }
    }

    #[test]
    fn a_corrupt_entry_is_an_error_naming_the_state() {
        let mut snapshot = KeyedSnapshot::default();
        snapshot.push(0, "t", encode("t", "k").unwrap(), vec![0xff, 0xff, 0xff]);
        let mut table: HeapTable<String, Vec<i64>> = HeapTable::new("t", 128);
        let error = table.restore(&snapshot, &mut |_, _| {}).unwrap_err();
        assert!(error.to_string().contains("state 't'"), "{error}");
    }
}
