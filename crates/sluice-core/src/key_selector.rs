//! Key selectors: how a keyed stream finds a record's key.
//!
//! A selector either returns a new key (`key_by(|t| t.0.clone())`) or borrows it from the
//! record (`key_by_ref(|t| &t.0)`). Where the key is only looked at — hashed for the exchange,
//! or used by the keyed reduce to find its state ([`KeySelector::slot`]) — a borrowed key costs
//! no copy; a copy is made only when a new key is stored. Operators that need the key as a
//! value of their own take [`KeySelector::to_owned_fn`], which copies it.

use std::hash::Hash;
use std::sync::Arc;

use hashbrown::hash_map::RawEntryMut;

/// The hash map keyed state lives in on the heap: std's map (hashbrown) with FxHash, whose raw
/// entries let a borrowed key find or insert its entry with one lookup.
pub type KeyMap<K, V> = hashbrown::HashMap<K, V, rustc_hash::FxBuildHasher>;

/// A function returning a record's key.
pub type OwnedKeyFn<T, K> = Arc<dyn Fn(&T) -> K + Send + Sync>;

/// A function borrowing a record's key from the record.
pub type BorrowedKeyFn<T, K> = Arc<dyn for<'a> Fn(&'a T) -> &'a K + Send + Sync>;

/// Finds the key of a record of type `T`.
pub enum KeySelector<T, K> {
    /// Returns a new key per call.
    Owned(OwnedKeyFn<T, K>),
    /// Borrows the key from the record.
    Borrowed(BorrowedKeyFn<T, K>),
}

impl<T, K> Clone for KeySelector<T, K> {
    fn clone(&self) -> Self {
        match self {
            KeySelector::Owned(f) => KeySelector::Owned(Arc::clone(f)),
            KeySelector::Borrowed(f) => KeySelector::Borrowed(Arc::clone(f)),
        }
    }
}

impl<T: 'static, K: Clone + 'static> KeySelector<T, K> {
    /// The key of `value`, as a value of its own.
    pub fn key(&self, value: &T) -> K {
        match self {
            KeySelector::Owned(f) => f(value),
            KeySelector::Borrowed(f) => f(value).clone(),
        }
    }

    /// This selector as a function returning keys.
    pub fn to_owned_fn(&self) -> OwnedKeyFn<T, K> {
        match self {
            KeySelector::Owned(f) => Arc::clone(f),
            KeySelector::Borrowed(f) => {
                let f = Arc::clone(f);
                Arc::new(move |value: &T| f(value).clone())
            }
        }
    }
}

impl<T, K: Hash + Eq + Clone> KeySelector<T, K> {
    /// The entry of `value`'s key in `map`, inserted as the default if absent. A borrowed key
    /// is copied only when it is inserted.
    pub fn slot<'m, V: Default>(&self, map: &'m mut KeyMap<K, V>, value: &T) -> &'m mut V {
        match self {
            KeySelector::Owned(f) => map.entry(f(value)).or_default(),
            KeySelector::Borrowed(f) => {
                let key = f(value);
                match map.raw_entry_mut().from_key(key) {
                    RawEntryMut::Occupied(entry) => entry.into_mut(),
                    RawEntryMut::Vacant(entry) => entry.insert(key.clone(), V::default()).1,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Pair = (String, u64);

    fn selectors() -> [KeySelector<Pair, String>; 2] {
        [
            KeySelector::Owned(Arc::new(|p: &Pair| p.0.clone())),
            KeySelector::Borrowed(Arc::new(|p: &Pair| &p.0)),
        ]
    }

    #[test]
    fn owned_and_borrowed_selectors_agree() {
        let pair = ("flink".to_string(), 1);
        for keys in selectors() {
            assert_eq!(keys.key(&pair), "flink");
            assert_eq!(keys.to_owned_fn()(&pair), "flink");
        }
    }

    #[test]
    fn slot_finds_or_inserts_the_key() {
        for keys in selectors() {
            let mut counts: KeyMap<String, u64> = KeyMap::default();
            for word in ["a", "b", "a"] {
                *keys.slot(&mut counts, &(word.to_string(), 1)) += 1;
            }
            assert_eq!(counts.len(), 2);
            assert_eq!(counts["a"], 2);
        }
    }
}
