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

use std::hash::Hash;
use std::sync::Arc;

use sluice_core::Record;
use sluice_core::key_selector::{KeyMap, KeySelector};

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
    keys: KeySelector<T, K>,
    reduce: F,
    partials: KeyMap<K, Option<T>>,
}

impl<T, K, F> KeyedPreAggregate<T, K, F> {
    /// Folds with `reduce` the records of each key `keys` finds.
    pub fn new(keys: KeySelector<T, K>, reduce: F) -> Self {
        KeyedPreAggregate {
            keys,
            reduce,
            partials: KeyMap::default(),
        }
    }
}

impl<T, K, F> PreAggregate<T> for KeyedPreAggregate<T, K, F>
where
    T: Send,
    K: Hash + Eq + Clone + Send,
    F: FnMut(T, T) -> T + Send,
{
    fn add(&mut self, batch: &mut Vec<Record<T>>) {
        for record in batch.drain(..) {
            let slot = self.keys.slot(&mut self.partials, &record.value);
            *slot = Some(fold(&mut self.reduce, slot.take(), record.value));
        }
    }

    fn keys(&self) -> usize {
        self.partials.len()
    }

    fn drain_into(&mut self, out: &mut Vec<Record<T>>) {
        out.extend(
            self.partials
                .drain()
                .filter_map(|(_, value)| value.map(Record::new)),
        );
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
}
