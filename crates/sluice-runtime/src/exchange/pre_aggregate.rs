//! Pre-aggregation before a keyed exchange, in batch mode: a producer folds the records of each
//! key with the consumer's reduce function and sends one partial value per key instead of every
//! record (the combiner of Flink's DataSet `reduce`, the local phase of a local-global
//! aggregation).
//!
//! It runs only when the job runs in batch mode, where the keyed reduce behind the exchange emits
//! one final value per key and every record's own update is never seen; a streaming job sends
//! every record. The reduce function must be associative, as a reduce over a partitioned input
//! already has to be: the consumer folds the partial values of every producer. Memory stays
//! bounded: a producer sends its partial values on when it holds [`MAX_PARTIAL_KEYS`] keys, and
//! before every control element, so watermarks and barriers stay behind the records they follow.

use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use rustc_hash::FxBuildHasher;
use sluice_core::Record;
use sluice_core::key_selector::{BorrowedKeyFn, KeyMap, KeySelector, OwnedKeyFn};

/// The most keys a producer folds before it sends its partial values on.
pub const MAX_PARTIAL_KEYS: usize = 1 << 16;

/// Folds records of equal keys into partial values.
pub trait PreAggregate<T>: Send {
    /// Folds every record of `batch` into its key's partial value, leaving `batch` empty.
    fn add(&mut self, batch: &mut Vec<Record<T>>);
    /// The number of keys holding a partial value.
    fn keys(&self) -> usize;
    /// Moves every partial value into `out` (without timestamps: a batch-mode reduce emits its
    /// final values without them).
    fn drain_into(&mut self, out: &mut Vec<Record<T>>);
}

/// A key's new value: `value` reduced into what was accumulated, if anything (a producer's
/// partial value here, the keyed reduce's state behind the exchange).
pub fn fold<T>(reduce: &mut impl FnMut(T, T) -> T, accumulated: Option<T>, value: T) -> T {
    match accumulated {
        Some(accumulated) => reduce(accumulated, value),
        None => value,
    }
}

/// Makes one [`PreAggregate`] per producing subtask.
pub type PreAggregateFactory<T> = Arc<dyn Fn() -> Box<dyn PreAggregate<T>> + Send + Sync>;

/// Partial values per key, folded with a reduce function.
pub struct KeyedPreAggregate<T, K, F> {
    partials: Partials<T, K>,
    reduce: F,
}

/// The partial values of a [`KeyedPreAggregate`], by how its key selector finds keys.
enum Partials<T, K> {
    /// Keys returned by a function: each stored beside its value.
    Owned {
        keys: OwnedKeyFn<T, K>,
        map: KeyMap<K, Option<T>>,
    },
    /// Keys borrowed from the record: found in the stored values themselves, so a key is held
    /// (and copied) nowhere else and the table stays small enough for the cache. A value is
    /// `None` only while it is being folded.
    Borrowed {
        keys: BorrowedKeyFn<T, K>,
        table: HashTable<Option<T>>,
        hasher: FxBuildHasher,
    },
}

impl<T, K, F> KeyedPreAggregate<T, K, F> {
    /// Folds with `reduce` the records of each key `keys` finds.
    pub fn new(keys: KeySelector<T, K>, reduce: F) -> Self {
        let partials = match keys {
            KeySelector::Owned(keys) => Partials::Owned {
                keys,
                map: KeyMap::default(),
            },
            KeySelector::Borrowed(keys) => Partials::Borrowed {
                keys,
                table: HashTable::new(),
                hasher: FxBuildHasher,
            },
        };
        KeyedPreAggregate { partials, reduce }
    }
}

impl<T, K, F> PreAggregate<T> for KeyedPreAggregate<T, K, F>
where
    T: Send,
    K: Hash + Eq + Send,
    F: FnMut(T, T) -> T + Send,
{
    fn add(&mut self, batch: &mut Vec<Record<T>>) {
        let reduce = &mut self.reduce;
        match &mut self.partials {
            Partials::Owned { keys, map } => {
                for record in batch.drain(..) {
                    let slot = map.entry(keys(&record.value)).or_default();
                    *slot = Some(fold(reduce, slot.take(), record.value));
                }
            }
            Partials::Borrowed {
                keys,
                table,
                hasher,
            } => {
                let hash_of =
                    |value: &Option<T>| value.as_ref().map_or(0, |v| hasher.hash_one(keys(v)));
                for record in batch.drain(..) {
                    let key = keys(&record.value);
                    let hash = hasher.hash_one(key);
                    let same_key =
                        |stored: &Option<T>| stored.as_ref().is_some_and(|s| keys(s) == key);
                    match table.entry(hash, same_key, hash_of) {
                        Entry::Occupied(entry) => {
                            let slot = entry.into_mut();
                            *slot = Some(fold(reduce, slot.take(), record.value));
                        }
                        Entry::Vacant(entry) => {
                            entry.insert(Some(record.value));
                        }
                    }
                }
            }
        }
    }

    fn keys(&self) -> usize {
        match &self.partials {
            Partials::Owned { map, .. } => map.len(),
            Partials::Borrowed { table, .. } => table.len(),
        }
    }

    fn drain_into(&mut self, out: &mut Vec<Record<T>>) {
        match &mut self.partials {
            Partials::Owned { map, .. } => {
                out.extend(map.drain().filter_map(|(_, value)| value.map(Record::new)))
            }
            Partials::Borrowed { table, .. } => {
                out.extend(table.drain().flatten().map(Record::new))
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    type Pair = (u32, u64);

    /// Sums of the second field per first field.
    pub(crate) fn sums() -> Box<dyn PreAggregate<Pair>> {
        Box::new(KeyedPreAggregate::new(
            KeySelector::Owned(Arc::new(|p: &Pair| p.0)),
            |a: Pair, b: Pair| (a.0, a.1 + b.1),
        ))
    }

    pub(crate) fn records(pairs: impl IntoIterator<Item = Pair>) -> Vec<Record<Pair>> {
        pairs.into_iter().map(Record::new).collect()
    }

    #[test]
    fn folds_each_key_into_one_partial_value() {
        let mut partials = sums();
        partials.add(&mut records([(1, 1), (2, 5), (1, 2)]));
        partials.add(&mut records([(1, 3)]));
        assert_eq!(partials.keys(), 2);
        let mut out = Vec::new();
        partials.drain_into(&mut out);
        let mut values: Vec<Pair> = out.iter().map(|r| r.value).collect();
        values.sort();
        assert_eq!(values, [(1, 6), (2, 5)]);
        assert_eq!(partials.keys(), 0);
    }

    #[test]
    fn borrowed_keys_fold_through_the_growth_of_the_table() {
        let mut partials = KeyedPreAggregate::new(
            KeySelector::Borrowed(Arc::new(|p: &(String, u64)| &p.0)),
            |a: (String, u64), b: (String, u64)| (a.0, a.1 + b.1),
        );
        for round in 1..=3 {
            let mut batch: Vec<_> = (0..5_000u64)
                .map(|k| Record::new((format!("k{k}"), k * round)))
                .collect();
            partials.add(&mut batch);
            assert!(batch.is_empty());
        }
        assert_eq!(partials.keys(), 5_000);
        let mut out = Vec::new();
        partials.drain_into(&mut out);
        assert_eq!(out.len(), 5_000);
        for record in out {
            let (key, sum) = record.value;
            let k: u64 = key[1..].parse().unwrap();
            assert_eq!(sum, 6 * k, "{key}");
        }
        assert_eq!(partials.keys(), 0);
    }
}
