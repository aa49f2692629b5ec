//! The in-memory state backend: per state, per key group, an ordered map.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::backend::{Entries, StateBackend, StateId, TableId};
use crate::error::StateError;
use crate::snapshot::KeyedSnapshot;

/// Keeps all state in memory, in ordered maps per state and key group.
#[derive(Debug, Default)]
pub struct HeapStateBackend {
    names: Vec<String>,
    /// `tables[state][key_group]`.
    tables: Vec<Vec<BTreeMap<Vec<u8>, Vec<u8>>>>,
    key_groups: usize,
}

impl HeapStateBackend {
    /// A backend for `max_parallelism` key groups.
    pub fn new(max_parallelism: usize) -> Self {
        HeapStateBackend {
            names: Vec::new(),
            tables: Vec::new(),
            key_groups: max_parallelism.max(1),
        }
    }

    fn table(&self, id: TableId) -> Option<&BTreeMap<Vec<u8>, Vec<u8>>> {
        self.tables.get(id.state.0 as usize)?.get(id.key_group)
    }

    fn table_mut(&mut self, id: TableId) -> Option<&mut BTreeMap<Vec<u8>, Vec<u8>>> {
        self.tables
            .get_mut(id.state.0 as usize)?
            .get_mut(id.key_group)
    }
}

impl StateBackend for HeapStateBackend {
    fn register(&mut self, name: &str) -> Result<StateId, StateError> {
        if let Some(index) = self.names.iter().position(|n| n == name) {
            return Ok(StateId(index as u32));
        }
        self.names.push(name.to_string());
        self.tables
            .push((0..self.key_groups).map(|_| BTreeMap::new()).collect());
        Ok(StateId((self.names.len() - 1) as u32))
    }

    fn get(&self, table: TableId, key: &[u8]) -> Result<Option<Cow<'_, [u8]>>, StateError> {
        Ok(self
            .table(table)
            .and_then(|map| map.get(key))
            .map(|value| Cow::Borrowed(value.as_slice())))
    }

    fn put(&mut self, table: TableId, key: Vec<u8>, value: Vec<u8>) -> Result<(), StateError> {
        if let Some(map) = self.table_mut(table) {
            map.insert(key, value);
        }
        Ok(())
    }

    fn delete(&mut self, table: TableId, key: &[u8]) -> Result<(), StateError> {
        if let Some(map) = self.table_mut(table) {
            map.remove(key);
        }
        Ok(())
    }

    fn scan_prefix(&self, table: TableId, prefix: &[u8]) -> Result<Entries, StateError> {
        let Some(map) = self.table(table) else {
            return Ok(Vec::new());
        };
        Ok(map
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn delete_prefix(&mut self, table: TableId, prefix: &[u8]) -> Result<(), StateError> {
        let Some(map) = self.table_mut(table) else {
            return Ok(());
        };
        let doomed: Vec<Vec<u8>> = map
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for key in doomed {
            map.remove(&key);
        }
        Ok(())
    }

    fn len(&self, state: StateId) -> Result<usize, StateError> {
        Ok(self
            .tables
            .get(state.0 as usize)
            .map_or(0, |groups| groups.iter().map(BTreeMap::len).sum()))
    }

    fn snapshot(&self, into: &mut KeyedSnapshot) -> Result<(), StateError> {
        for (name, groups) in self.names.iter().zip(&self.tables) {
            for (key_group, table) in groups.iter().enumerate() {
                for (key, value) in table {
                    into.push(key_group, name, key.clone(), value.clone());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_the_backend_suite() {
        crate::testing::backend_suite(|| HeapStateBackend::new(128));
    }
}
