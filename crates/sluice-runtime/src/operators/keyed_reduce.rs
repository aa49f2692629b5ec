//! Keyed `reduce` and the aggregations built on it (`sum`, `min`, `max`, `min_by`, `max_by`).
//!
//! In streaming mode every input emits the key's updated value, as in Flink; in batch mode the
//! operator emits one final value per key when its input ends.

use std::hash::Hash;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sluice_core::{KeySelector, Record, RuntimeMode, UserResult};
use sluice_state::{HeapTable, KeyedStore, KeyedTable, OperatorSnapshot};

use crate::exchange::pre_aggregate::fold;
use crate::task::operator::{OneInputOperator, OperatorContext, StreamOperator};
use crate::task::output::Output;

/// The name the reduced values are snapshotted under.
const REDUCE_STATE: &str = "reduce";

/// Folds the records of each key with a reduce function.
pub struct KeyedReduceOperator<T, K, F> {
    keys: KeySelector<T, K>,
    reduce: F,
    state: KeyedStore<K, Option<T>>,
    batch_mode: bool,
}

impl<T, K, F> KeyedReduceOperator<T, K, F> {
    /// A reduce over the keys `keys` finds.
    pub fn new(keys: KeySelector<T, K>, reduce: F) -> Self {
        KeyedReduceOperator {
            keys,
            reduce,
            state: KeyedStore::Heap(HeapTable::new(
                REDUCE_STATE,
                sluice_core::DEFAULT_MAX_PARALLELISM,
            )),
            batch_mode: false,
        }
    }
}

impl<T, K, F> OneInputOperator<T, T> for KeyedReduceOperator<T, K, F>
where
    T: Clone + Send + Serialize + DeserializeOwned + 'static,
    K: Hash + Eq + Clone + Send + Serialize + DeserializeOwned + 'static,
    F: FnMut(T, T) -> T + Send,
{
    fn process_batch(&mut self, batch: &mut Vec<Record<T>>, out: &mut Output<T>) -> UserResult {
        for record in batch.drain(..) {
            let reduced = match &mut self.state {
                KeyedStore::Heap(table) => {
                    let slot = table.get_or_default_for(&self.keys, &record.value);
                    let reduced = fold(&mut self.reduce, slot.take(), record.value);
                    if self.batch_mode {
                        // Only the final value is emitted, at the end of the input: no copy.
                        // (Batch mode always keeps its values on the heap: see `open`.)
                        *slot = Some(reduced);
                        continue;
                    }
                    *slot = Some(reduced.clone());
                    reduced
                }
                KeyedStore::Backend(table) => {
                    let key = self.keys.key(&record.value);
                    let previous: Option<Option<T>> = table.take(&key)?;
                    let reduced = fold(&mut self.reduce, previous.flatten(), record.value);
                    table.put(key, Some(reduced.clone()))?;
                    reduced
                }
            };
            out.emit(reduced, record.timestamp);
        }
        Ok(())
    }

    fn end_input(&mut self, out: &mut Output<T>) -> UserResult {
        if let (true, KeyedStore::Heap(table)) = (self.batch_mode, &mut self.state) {
            out.records.extend(
                table
                    .drain()
                    .filter_map(|(_, value)| value.map(Record::new)),
            );
        }
        Ok(())
    }
}

impl<T, K, F> StreamOperator<T, T> for KeyedReduceOperator<T, K, F>
where
    T: Clone + Send + Serialize + DeserializeOwned + 'static,
    K: Hash + Eq + Clone + Send + Serialize + DeserializeOwned + 'static,
    F: FnMut(T, T) -> T + Send,
{
    fn open(&mut self, ctx: &OperatorContext) -> UserResult {
        self.batch_mode = ctx.runtime_mode == RuntimeMode::Batch;
        // Batch mode keeps its values in memory until the input ends, as Flink's batch
        // execution does whatever the state backend.
        self.state = if self.batch_mode {
            KeyedStore::Heap(HeapTable::new(REDUCE_STATE, ctx.max_parallelism))
        } else {
            ctx.keyed_store(REDUCE_STATE)?
        };
        Ok(())
    }

    fn snapshot_state(&mut self, snapshot: &mut OperatorSnapshot) -> UserResult {
        Ok(self.state.snapshot(&mut snapshot.keyed)?)
    }

    fn restore_state(&mut self, restored: &OperatorSnapshot) -> UserResult {
        Ok(self.state.restore_all(&restored.keyed)?)
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> UserResult {
        self.state.notify_checkpoint_complete(checkpoint_id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::OneInputHarness;

    type Pair = (char, i32);
    type SumByKey = KeyedReduceOperator<Pair, char, fn(Pair, Pair) -> Pair>;

    fn key(pair: &Pair) -> char {
        pair.0
    }

    fn add(a: Pair, b: Pair) -> Pair {
        (a.0, a.1 + b.1)
    }

    fn sum_by_key() -> SumByKey {
        KeyedReduceOperator::new(KeySelector::Owned(std::sync::Arc::new(key)), add)
    }

    #[test]
    fn streaming_emits_every_update() {
        let mut harness = OneInputHarness::new(sum_by_key());
        for v in [('a', 1), ('b', 2), ('a', 3)] {
            harness.process(Record::new(v));
        }
        assert_eq!(harness.take_values(), vec![('a', 1), ('b', 2), ('a', 4)]);
    }

    #[test]
    fn batch_emits_final_values_at_end() {
        let mut ctx = OperatorContext::single("reduce");
        ctx.runtime_mode = RuntimeMode::Batch;
        let mut harness = OneInputHarness::with_context(sum_by_key(), ctx);
        for v in [('a', 1), ('b', 2), ('a', 3)] {
            harness.process(Record::new(v));
        }
        assert!(harness.take_values().is_empty());
        harness.end_input();
        let mut values = harness.take_values();
        values.sort();
        assert_eq!(values, vec![('a', 4), ('b', 2)]);
    }

    #[test]
    fn running_sums_continue_after_a_restore_at_any_parallelism() {
        use crate::harness::{Input, run_uninterrupted, run_with_restore};
        use sluice_core::key_group::assign_to_key_group;
        let inputs: Vec<Input<Pair>> = (0..100)
            .map(|i| Input::Record(Record::new(((b'a' + (i * 7 % 9) as u8) as char, i))))
            .collect();
        let expected = run_uninterrupted(sum_by_key, &inputs);
        let key_group = |p: &Pair| assign_to_key_group(&p.0, sluice_core::DEFAULT_MAX_PARALLELISM);
        for split in [0, 33, 100] {
            for parallelism in 1..=3 {
                let (before, after) = inputs.split_at(split);
                let restored = run_with_restore(sum_by_key, before, after, parallelism, key_group);
                assert_eq!(restored, expected, "split {split}, p={parallelism}");
            }
        }
    }
}
