//! Operator state: named lists kept per operator subtask rather than per key (Flink's operator
//! `ListState` and union list state). Sources keep their positions here, sinks their pending
//! work. On restore at another parallelism a split list is dealt out among the new subtasks and
//! a union list goes whole to each (see [`OperatorStateSnapshot::redistribute`]).

use std::collections::BTreeMap;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec::{decode, encode};
use crate::error::StateError;
use crate::snapshot::{Distribution, OperatorList, OperatorStateSnapshot};

/// The operator list states of one subtask.
#[derive(Debug, Default)]
pub struct OperatorStateStore {
    lists: BTreeMap<String, OperatorList>,
}

impl OperatorStateStore {
    /// An empty store.
    pub fn new() -> Self {
        OperatorStateStore::default()
    }

    /// A store holding what a subtask restores (see [`OperatorStateSnapshot::redistribute`]).
    pub fn restored(snapshot: OperatorStateSnapshot) -> Self {
        OperatorStateStore {
            lists: snapshot.lists,
        }
    }

    /// The split list state `name`: on restore at another parallelism its elements are dealt
    /// out among the new subtasks.
    pub fn list_state<T>(&mut self, name: &str) -> Result<OperatorListState<'_, T>, StateError> {
        self.list(name, Distribution::Split)
    }

    /// The union list state `name`: on restore every subtask gets every element.
    pub fn union_list_state<T>(
        &mut self,
        name: &str,
    ) -> Result<OperatorListState<'_, T>, StateError> {
        self.list(name, Distribution::Union)
    }

    fn list<T>(
        &mut self,
        name: &str,
        distribution: Distribution,
    ) -> Result<OperatorListState<'_, T>, StateError> {
        let list = self
            .lists
            .entry(name.to_string())
            .or_insert_with(|| OperatorList {
                distribution,
                elements: Vec::new(),
            });
        if list.distribution != distribution {
            return Err(StateError::Incompatible {
                state: name.to_string(),
                message: format!(
                    "it was registered as {:?} and is now asked for as {:?}",
                    list.distribution, distribution
                ),
            });
        }
        Ok(OperatorListState {
            name: name.to_string(),
            list,
            _type: PhantomData,
        })
    }

    /// A copy of every list, for a checkpoint.
    pub fn snapshot(&self) -> OperatorStateSnapshot {
        OperatorStateSnapshot {
            lists: self.lists.clone(),
        }
    }
}

/// One operator list state, typed.
pub struct OperatorListState<'a, T> {
    name: String,
    list: &'a mut OperatorList,
    _type: PhantomData<fn() -> T>,
}

impl<T: Serialize + DeserializeOwned> OperatorListState<'_, T> {
    /// Every element, in insertion order.
    pub fn get(&self) -> Result<Vec<T>, StateError> {
        self.list
            .elements
            .iter()
            .map(|bytes| decode(&self.name, bytes))
            .collect()
    }

    /// Appends `value`.
    pub fn add(&mut self, value: &T) -> Result<(), StateError> {
        self.list.elements.push(encode(&self.name, value)?);
        Ok(())
    }

    /// Replaces every element with `values`.
    pub fn update(&mut self, values: &[T]) -> Result<(), StateError> {
        let encoded = values
            .iter()
            .map(|v| encode(&self.name, v))
            .collect::<Result<Vec<_>, _>>()?;
        self.list.elements = encoded;
        Ok(())
    }

    /// Removes every element.
    pub fn clear(&mut self) {
        self.list.elements.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_survive_a_snapshot_and_are_split_or_united_on_rescale() {
        let mut old = Vec::new();
        for subtask in 0..2u32 {
            let mut store = OperatorStateStore::new();
            let mut offsets = store.list_state::<u32>("offsets").unwrap();
            offsets.update(&[subtask * 10, subtask * 10 + 1]).unwrap();
            store
                .union_list_state::<String>("seen")
                .unwrap()
                .add(&format!("s{subtask}"))
                .unwrap();
            old.push(store.snapshot());
        }
        let mut offsets = Vec::new();
        for index in 0..3 {
            let snapshot = OperatorStateSnapshot::redistribute(&old, index, 3);
            let mut store = OperatorStateStore::restored(snapshot);
            offsets.push(store.list_state::<u32>("offsets").unwrap().get().unwrap());
            let seen = store.union_list_state::<String>("seen").unwrap().get();
            assert_eq!(seen.unwrap(), vec!["s0".to_string(), "s1".to_string()]);
        }
        assert_eq!(offsets, vec![vec![0, 1], vec![10], vec![11]]);
    }

    #[test]
    fn a_list_asked_for_with_another_distribution_is_an_error() {
        let mut store = OperatorStateStore::new();
        store.list_state::<u8>("l").unwrap().add(&1).unwrap();
        let error = store.union_list_state::<u8>("l").err().unwrap();
        assert!(error.to_string().contains("Split"), "{error}");
        let mut list = store.list_state::<u8>("l").unwrap();
        list.clear();
        assert!(list.get().unwrap().is_empty());
    }
}
