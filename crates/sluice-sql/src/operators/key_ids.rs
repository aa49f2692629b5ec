//! Numbers for the keys an operator holds state for. Most keys are one integer column (an
//! auction, a user id): those are looked up as `i64`s in a map of their own, without hashing
//! and comparing [`KeyValue`]s; any other key by its values.

use rustc_hash::FxHashMap;

use crate::key::KeyValue;

/// Each key's id.
#[derive(Debug, Default)]
pub struct KeyIds {
    ints: FxHashMap<i64, u32>,
    others: FxHashMap<Vec<KeyValue>, u32>,
}

impl KeyIds {
    /// The id of `key`, if it has one.
    pub fn get(&self, key: &[KeyValue]) -> Option<u32> {
        match key {
            [KeyValue::Int(int)] => self.ints.get(int).copied(),
            _ => self.others.get(key).copied(),
        }
    }

    /// Gives `key` the id `id`.
    pub fn insert(&mut self, key: &[KeyValue], id: u32) {
        match key {
            [KeyValue::Int(int)] => self.ints.insert(*int, id),
            _ => self.others.insert(key.to_vec(), id),
        };
    }

    /// Takes the id of `key` away.
    pub fn remove(&mut self, key: &[KeyValue]) {
        match key {
            [KeyValue::Int(int)] => self.ints.remove(int),
            _ => self.others.remove(key),
        };
    }

    /// How many keys have ids.
    pub fn len(&self) -> usize {
        self.ints.len() + self.others.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_and_other_keys_keep_their_ids_apart() {
        let mut ids = KeyIds::default();
        let int = [KeyValue::Int(7)];
        let pair = [KeyValue::Int(7), KeyValue::Int(8)];
        ids.insert(&int, 0);
        ids.insert(&pair, 1);
        assert_eq!(
            (ids.get(&int), ids.get(&pair), ids.len()),
            (Some(0), Some(1), 2)
        );
        assert_eq!(ids.ints.len(), 1, "a lone integer is kept as one");
        ids.remove(&int);
        assert_eq!(
            (ids.get(&int), ids.get(&pair), ids.len()),
            (None, Some(1), 1)
        );
        assert_eq!(ids.get(&[KeyValue::Null]), None);
    }
}
