//! The groups of one slice of a window aggregation, kept by column: each key column and each
//! aggregate in a vector of its own, the `i`th group the `i`th entry of each, and a hash
//! index of group numbers. An integer key column holds `i64`s (8 bytes a group instead of a
//! 24-byte value) until a value of another kind comes, and a `COUNT` holds its counts as
//! `i64`s (instead of 32-byte accumulators): a `GROUP BY auction` counting bids costs about
//! 20 bytes a group.

use std::hash::{BuildHasher, Hash, Hasher};

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use rustc_hash::FxBuildHasher;

use super::open_windows::HashedKey;
use crate::aggregate::{Accumulator, AggCall, AggKind};
use crate::key::KeyValue;

/// One key column of a slice's groups.
enum KeyColumn {
    /// Every value so far an integer.
    Ints(Vec<i64>),
    /// Values of any kind.
    Values(Vec<KeyValue>),
}

impl KeyColumn {
    /// Room for `groups` values like `first`.
    fn with_capacity(groups: usize, first: &KeyValue) -> Self {
        match first {
            KeyValue::Int(_) => KeyColumn::Ints(Vec::with_capacity(groups)),
            _ => KeyColumn::Values(Vec::with_capacity(groups)),
        }
    }

    fn eq(&self, group: usize, value: &KeyValue) -> bool {
        match (self, value) {
            (KeyColumn::Ints(ints), KeyValue::Int(v)) => ints[group] == *v,
            (KeyColumn::Ints(_), _) => false,
            (KeyColumn::Values(values), v) => values[group] == *v,
        }
    }

    /// Appends `value`; a value that is not an integer turns the column into one of values.
    fn push(&mut self, value: &KeyValue) {
        match (&mut *self, value) {
            (KeyColumn::Ints(ints), KeyValue::Int(v)) => ints.push(*v),
            (KeyColumn::Ints(ints), _) => {
                let mut values: Vec<KeyValue> = Vec::with_capacity(ints.capacity().max(1));
                values.extend(ints.iter().map(|&v| KeyValue::Int(v)));
                values.push(value.clone());
                *self = KeyColumn::Values(values);
            }
            (KeyColumn::Values(values), _) => values.push(value.clone()),
        }
    }

    fn hash_into(&self, group: usize, hasher: &mut impl Hasher) {
        match self {
            KeyColumn::Ints(ints) => KeyValue::Int(ints[group]).hash(hasher),
            KeyColumn::Values(values) => values[group].hash(hasher),
        }
    }

    fn value(&self, group: usize) -> KeyValue {
        match self {
            KeyColumn::Ints(ints) => KeyValue::Int(ints[group]),
            KeyColumn::Values(values) => values[group].clone(),
        }
    }
}

/// One aggregate's accumulators over a slice's groups.
enum AggregateColumn {
    /// A `COUNT`'s counts.
    Counts(Vec<i64>),
    /// Any other aggregate's accumulators.
    Accumulators(Vec<Accumulator>),
}

impl AggregateColumn {
    fn with_capacity(groups: usize, call: &AggCall) -> Self {
        match call.kind {
            AggKind::Count | AggKind::CountStar => {
                AggregateColumn::Counts(Vec::with_capacity(groups))
            }
            _ => AggregateColumn::Accumulators(Vec::with_capacity(groups)),
        }
    }

    fn push(&mut self, accumulator: Accumulator) {
        match self {
            AggregateColumn::Counts(counts) => counts.push(count_of(&accumulator)),
            AggregateColumn::Accumulators(accumulators) => accumulators.push(accumulator),
        }
    }

    /// Moves the accumulator of `group` out (until [`Self::put`] puts it back).
    fn take(&mut self, group: usize) -> Accumulator {
        match self {
            AggregateColumn::Counts(counts) => Accumulator::Count(counts[group]),
            AggregateColumn::Accumulators(accumulators) => {
                std::mem::replace(&mut accumulators[group], Accumulator::Count(0))
            }
        }
    }

    fn put(&mut self, group: usize, accumulator: Accumulator) {
        match self {
            AggregateColumn::Counts(counts) => counts[group] = count_of(&accumulator),
            AggregateColumn::Accumulators(accumulators) => accumulators[group] = accumulator,
        }
    }

    fn value(&self, group: usize) -> Accumulator {
        match self {
            AggregateColumn::Counts(counts) => Accumulator::Count(counts[group]),
            AggregateColumn::Accumulators(accumulators) => accumulators[group].clone(),
        }
    }

    /// Merges the accumulator of `group` into `into`.
    fn merge_into(&self, group: usize, into: &mut Accumulator) {
        match self {
            AggregateColumn::Counts(counts) => into.merge(&Accumulator::Count(counts[group])),
            AggregateColumn::Accumulators(accumulators) => into.merge(&accumulators[group]),
        }
    }
}

/// The count of a `COUNT`'s accumulator.
fn count_of(accumulator: &Accumulator) -> i64 {
    match accumulator {
        Accumulator::Count(n) => *n,
        _ => 0,
    }
}

/// Whether the key of `group` in `keys` is `key`.
fn key_is(keys: &[KeyColumn], group: usize, key: &[KeyValue]) -> bool {
    keys.iter().zip(key).all(|(c, v)| c.eq(group, v))
}

/// A slice's (or a restored window's) groups.
pub(super) struct Groups {
    index: HashTable<u32>,
    keys: Vec<KeyColumn>,
    aggregates: Vec<AggregateColumn>,
}

impl Groups {
    /// No group yet, room for `groups` of keys like `first` and accumulators of `calls`.
    pub(super) fn with_capacity(groups: usize, first: &[KeyValue], calls: &[AggCall]) -> Self {
        Groups {
            index: HashTable::with_capacity(groups),
            keys: first
                .iter()
                .map(|value| KeyColumn::with_capacity(groups, value))
                .collect(),
            aggregates: calls
                .iter()
                .map(|call| AggregateColumn::with_capacity(groups, call))
                .collect(),
        }
    }

    /// How many groups there are.
    pub(super) fn len(&self) -> usize {
        self.index.len()
    }

    /// The hash of the key of `group`, as [`HashedKey::new`] hashes the key's values.
    fn key_hash(keys: &[KeyColumn], group: usize) -> u64 {
        let mut hasher = FxBuildHasher.build_hasher();
        // A slice hashes its length, then its values.
        hasher.write_usize(keys.len());
        for column in keys {
            column.hash_into(group, &mut hasher);
        }
        hasher.finish()
    }

    /// The number of the group of `key`, a new group with `calls`' empty accumulators if there
    /// is none.
    pub(super) fn group_of(&mut self, key: HashedKey<'_>, calls: &[AggCall]) -> usize {
        debug_assert_eq!(key.key.len(), self.keys.len(), "one key width per operator");
        let next = self.index.len();
        let Groups {
            index,
            keys,
            aggregates,
        } = self;
        let entry = index.entry(
            key.hash,
            |&i| key_is(keys, i as usize, key.key),
            |&i| Groups::key_hash(keys, i as usize),
        );
        match entry {
            Entry::Occupied(found) => *found.get() as usize,
            Entry::Vacant(slot) => {
                // A new group is numbered after those before it.
                slot.insert(next as u32);
                for (column, value) in keys.iter_mut().zip(key.key) {
                    column.push(value);
                }
                for (column, call) in aggregates.iter_mut().zip(calls) {
                    column.push(Accumulator::new(call));
                }
                next
            }
        }
    }

    /// Calls `f` with the accumulators of `group`, moved into `scratch` for it and back.
    pub(super) fn update(
        &mut self,
        group: usize,
        scratch: &mut Vec<Accumulator>,
        f: impl FnOnce(&mut [Accumulator]),
    ) {
        scratch.clear();
        scratch.extend(self.aggregates.iter_mut().map(|c| c.take(group)));
        f(scratch);
        for (column, accumulator) in self.aggregates.iter_mut().zip(scratch.drain(..)) {
            column.put(group, accumulator);
        }
    }

    /// Replaces the accumulators of `group`.
    pub(super) fn set(&mut self, group: usize, accumulators: Vec<Accumulator>) {
        for (column, accumulator) in self.aggregates.iter_mut().zip(accumulators) {
            column.put(group, accumulator);
        }
    }

    /// Appends the key of `group` to `out`.
    pub(super) fn key_into(&self, group: usize, out: &mut Vec<KeyValue>) {
        out.extend(self.keys.iter().map(|c| c.value(group)));
    }

    /// Appends the accumulators of `group` to `out`.
    pub(super) fn accumulators_into(&self, group: usize, out: &mut Vec<Accumulator>) {
        out.extend(self.aggregates.iter().map(|c| c.value(group)));
    }

    /// How many values a key has.
    pub(super) fn key_width(&self) -> usize {
        self.keys.len()
    }

    /// Merges the accumulators of `group` into `into`.
    pub(super) fn merge_into(&self, group: usize, into: &mut [Accumulator]) {
        for (column, into) in self.aggregates.iter().zip(into) {
            column.merge_into(group, into);
        }
    }

    /// The groups' keys as stored, for tests.
    #[cfg(test)]
    pub(super) fn keys_are_ints(&self) -> Vec<bool> {
        self.keys
            .iter()
            .map(|c| matches!(c, KeyColumn::Ints(_)))
            .collect()
    }

    /// Whether `key` has a group, for tests.
    #[cfg(test)]
    pub(super) fn has(&self, key: &[KeyValue]) -> bool {
        (0..self.len()).any(|group| key_is(&self.keys, group, key))
    }

    /// Room for how many groups each vector has, for tests.
    #[cfg(test)]
    pub(super) fn capacities(&self) -> Vec<usize> {
        let keys = self.keys.iter().map(|c| match c {
            KeyColumn::Ints(v) => v.capacity(),
            KeyColumn::Values(v) => v.capacity(),
        });
        let aggregates = self.aggregates.iter().map(|c| match c {
            AggregateColumn::Counts(v) => v.capacity(),
            AggregateColumn::Accumulators(v) => v.capacity(),
        });
        keys.chain(aggregates)
            .chain([self.index.capacity()])
            .collect()
    }
}
