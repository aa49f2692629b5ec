//! The open windows of a `TUMBLE`, `HOP` or `CUMULATE` window aggregation (or one over a window
//! aggregation's windows) kept in memory, by slices as Flink slices them: a row is aggregated
//! once, into the slice of time no window boundary cuts (a tumbling window, a `gcd(slide,
//! size)` stretch of hopping windows, a step of cumulating ones), and a window's groups are
//! its slices' groups merged when it fires. A hopping row costs one update instead of one per
//! window, and memory holds its group once.

use std::collections::{BTreeMap, BTreeSet};

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use sluice_core::{Timestamp, UserResult};

use super::open_windows::{HashedKey, Window};
use super::window_kind::window_fired;
use crate::aggregate::{Accumulator, AggCall};
use crate::key::KeyValue;

/// A slice's (or a restored window's) groups, laid out flat: the `i`th group's key is the
/// `i`th run of `key_width` values of `keys`, its accumulators the `i`th run of `width` of
/// `accumulators`, and `index` finds a group by its key's hash. A group costs its values and a
/// few bytes of index, no allocation of its own.
struct Groups {
    index: HashTable<u32>,
    keys: Vec<KeyValue>,
    accumulators: Vec<Accumulator>,
    key_width: usize,
    width: usize,
}

impl Groups {
    /// No group yet, room for `groups` of keys of `key_width` values and `width` aggregates.
    fn with_capacity(groups: usize, key_width: usize, width: usize) -> Self {
        Groups {
            index: HashTable::with_capacity(groups),
            keys: Vec::with_capacity(groups * key_width),
            accumulators: Vec::with_capacity(groups * width),
            key_width,
            width,
        }
    }

    fn key(&self, group: usize) -> &[KeyValue] {
        &self.keys[group * self.key_width..][..self.key_width]
    }

    fn accumulators(&self, group: usize) -> &[Accumulator] {
        &self.accumulators[group * self.width..][..self.width]
    }

    /// The accumulators of the group of `key`, a new group with `new` ones if there is none.
    fn group_of<New: IntoIterator<Item = Accumulator>>(
        &mut self,
        key: HashedKey<'_>,
        new: impl FnOnce() -> New,
    ) -> &mut [Accumulator] {
        debug_assert_eq!(key.key.len(), self.key_width, "one key width per operator");
        let Groups {
            index,
            keys,
            key_width: w,
            ..
        } = self;
        let w = *w;
        // A new group is numbered after those before it.
        let next = index.len();
        let entry = index.entry(
            key.hash,
            |&i| &keys[i as usize * w..][..w] == key.key,
            |&i| HashedKey::new(&keys[i as usize * w..][..w]).hash,
        );
        let group = match entry {
            Entry::Occupied(found) => *found.get() as usize,
            Entry::Vacant(slot) => {
                slot.insert(next as u32);
                self.keys.extend_from_slice(key.key);
                self.accumulators.extend(new());
                next
            }
        };
        &mut self.accumulators[group * self.width..][..self.width]
    }

    /// How many groups there are.
    fn len(&self) -> usize {
        self.index.len()
    }

    /// Every group's key and accumulators.
    fn iter(&self) -> impl Iterator<Item = (&[KeyValue], &[Accumulator])> {
        (0..self.len()).map(|group| (self.key(group), self.accumulators(group)))
    }
}

/// What a fired window holds: its groups' keys and accumulators, in no particular order.
pub type WindowRows<'a> = (Vec<&'a [KeyValue]>, Vec<&'a [Accumulator]>);

/// The open windows by slices.
pub struct SlicedWindows {
    /// Slice `(end, start)` → its groups.
    slices: BTreeMap<Window, Groups>,
    /// The windows with rows not emitted yet, in order of ends.
    pending: BTreeSet<Window>,
    /// Groups of windows a checkpoint held, merged with their slices' when they fire.
    restored: BTreeMap<Window, Groups>,
    /// Whether each window is exactly one slice (tumbling windows, a window aggregation's
    /// windows, hops as long as their slide): its groups are the slice's, not merged.
    one_slice_per_window: bool,
    /// The number of aggregates.
    width: usize,
    /// Reused by each merge: indexes of merged groups by key hash.
    scratch: HashTable<u32>,
}

impl SlicedWindows {
    /// No open window, for `calls` aggregated over windows that are each one slice or not.
    pub fn new(calls: &[AggCall], one_slice_per_window: bool) -> Self {
        SlicedWindows {
            slices: BTreeMap::new(),
            pending: BTreeSet::new(),
            restored: BTreeMap::new(),
            one_slice_per_window,
            width: calls.len(),
            scratch: HashTable::new(),
        }
    }

    /// Calls `f` with the accumulators of `key` in `slice`, new ones for `calls` when the slice
    /// has no group of the key yet. A slice seen for the first time is in the windows
    /// `windows` gives (those not fired yet); with none, the row is late: `false`.
    pub fn add(
        &mut self,
        slice: Window,
        key: HashedKey<'_>,
        calls: &[AggCall],
        windows: impl FnOnce(&mut Vec<Window>),
        f: impl FnOnce(&mut [Accumulator]),
    ) -> bool {
        let new = || calls.iter().map(Accumulator::new);
        if let Some(groups) = self.slices.get_mut(&slice) {
            f(groups.group_of(key, new));
            return true;
        }
        let mut open = Vec::new();
        windows(&mut open);
        if open.is_empty() {
            return false;
        }
        self.pending.extend(open);
        // A stream's slices hold about as many groups as the one before.
        let expected = self.slices.last_key_value().map_or(0, |(_, g)| g.len());
        let mut groups = Groups::with_capacity(expected, key.key.len(), self.width);
        f(groups.group_of(key, new));
        self.slices.insert(slice, groups);
        true
    }

    /// A group of `window` from a checkpoint.
    pub fn restore(&mut self, window: Window, key: Vec<KeyValue>, accumulators: Vec<Accumulator>) {
        self.pending.insert(window);
        let width = self.width;
        self.restored
            .entry(window)
            .or_insert_with(|| Groups::with_capacity(0, key.len(), width))
            .group_of(HashedKey::new(&key), || accumulators);
    }

    /// The first window, in order of ends, if it ends at or before `watermark + 1`: calls
    /// `emit` with it and its groups but those `skip` names, then forgets it and the slices no
    /// window left needs. Returns whether a window fired.
    pub fn fire_first(
        &mut self,
        watermark: Timestamp,
        skip: impl Fn(Window, &[KeyValue]) -> bool,
        emit: impl FnOnce(Window, WindowRows<'_>) -> UserResult,
    ) -> UserResult<bool> {
        let Some(&window) = self.pending.first() else {
            return Ok(false);
        };
        if !window_fired(window.0, watermark) {
            return Ok(false);
        }
        self.pending.pop_first();
        let mut merged = Vec::new();
        let rows = self.rows_of(window, &skip, &mut merged);
        emit(window, rows)?;
        self.restored.remove(&window);
        if self.one_slice_per_window {
            self.slices.remove(&window);
        } else {
            // Windows fire in order of ends and starts alike: slices before the next window's
            // start are in no window left.
            let needed_from = self.pending.first().map_or(window.0, |next| next.1);
            while let Some(slice) = self.slices.first_entry() {
                if slice.key().0 > needed_from {
                    break;
                }
                slice.remove();
            }
        }
        Ok(true)
    }

    /// Calls `f` with every window not fired yet and its groups but those `skip` names (what
    /// a checkpoint holds).
    pub fn for_each_window(
        &mut self,
        skip: impl Fn(Window, &[KeyValue]) -> bool,
        mut f: impl FnMut(Window, WindowRows<'_>) -> UserResult,
    ) -> UserResult {
        let windows: Vec<Window> = self.pending.iter().copied().collect();
        for window in windows {
            let mut merged = Vec::new();
            f(window, self.rows_of(window, &skip, &mut merged))?;
        }
        Ok(())
    }

    /// The groups of `window`: its one slice's as they are, or its slices' (and restored
    /// groups') merged into `merged`.
    fn rows_of<'a>(
        &'a mut self,
        (end, start): Window,
        skip: &impl Fn(Window, &[KeyValue]) -> bool,
        merged: &'a mut Vec<Accumulator>,
    ) -> WindowRows<'a> {
        let window = (end, start);
        let mut parts: Vec<&Groups> = if self.one_slice_per_window {
            self.slices.get(&window).into_iter().collect()
        } else {
            self.slices
                .range((start + 1, Timestamp::MIN)..=(end, Timestamp::MAX))
                .map(|(_, groups)| groups)
                .collect()
        };
        parts.extend(self.restored.get(&window));
        let kept = |(key, _): &(&[KeyValue], &[Accumulator])| !skip(window, key);
        if let [only] = parts.as_slice() {
            return only.iter().filter(kept).unzip();
        }
        let scratch = &mut self.scratch;
        scratch.clear();
        // Each key once, as its first group has it.
        let mut keys: Vec<&[KeyValue]> = Vec::new();
        let width = self.width;
        for (key, accumulators) in parts.iter().flat_map(|groups| groups.iter()).filter(kept) {
            let hash = HashedKey::new(key).hash;
            match scratch.find(hash, |&i| keys[i as usize] == key).copied() {
                Some(i) => {
                    let into = &mut merged[i as usize * width..][..width];
                    for (a, b) in into.iter_mut().zip(accumulators) {
                        a.merge(b);
                    }
                }
                None => {
                    scratch.insert_unique(hash, keys.len() as u32, |&i| {
                        HashedKey::new(keys[i as usize]).hash
                    });
                    keys.push(key);
                    merged.extend(accumulators.iter().cloned());
                }
            }
        }
        let merged: &'a Vec<Accumulator> = merged;
        let accumulators = if width == 0 {
            vec![&[][..]; keys.len()]
        } else {
            merged.chunks(width).collect()
        };
        (keys, accumulators)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::AggKind;

    fn count(windows: &mut SlicedWindows, slice: Window, key: i64, of: &[Window]) -> bool {
        let calls = [AggCall::new(AggKind::CountStar, None).unwrap()];
        let key = [KeyValue::Int(key)];
        windows.add(
            slice,
            HashedKey::new(&key),
            &calls,
            |into| into.extend_from_slice(of),
            |accs| accs[0].add(None, 0),
        )
    }

    /// `(window, [(key, count)])` of every window firing at `watermark`, keys sorted.
    fn fire(windows: &mut SlicedWindows, watermark: Timestamp) -> Vec<(Window, Vec<(i64, i64)>)> {
        let calls = [AggCall::new(AggKind::CountStar, None).unwrap()];
        let mut fired = Vec::new();
        loop {
            let mut rows = Vec::new();
            let mut at = None;
            let more = windows
                .fire_first(
                    watermark,
                    |_, _| false,
                    |window, (keys, accs)| {
                        at = Some(window);
                        for (key, acc) in keys.iter().zip(&accs) {
                            let (KeyValue::Int(k), KeyValue::Int(c)) =
                                (&key[0], acc[0].value(&calls[0]))
                            else {
                                panic!("ints")
                            };
                            rows.push((*k, c));
                        }
                        Ok(())
                    },
                )
                .unwrap();
            if !more {
                return fired;
            }
            rows.sort();
            fired.push((at.unwrap(), rows));
        }
    }

    #[test]
    fn hopping_windows_merge_their_slices_and_forget_the_slices_no_window_needs() {
        // HOP(slide 5, size 10): slices of 5; the slice [5, 10) is in windows [0, 10) and [5, 15).
        let mut windows =
            SlicedWindows::new(&[AggCall::new(AggKind::CountStar, None).unwrap()], false);
        assert!(count(&mut windows, (10, 5), 1, &[(10, 0), (15, 5)]));
        assert!(count(&mut windows, (10, 5), 1, &[]));
        assert!(count(&mut windows, (15, 10), 1, &[(15, 5), (20, 10)]));
        assert!(count(&mut windows, (15, 10), 2, &[]));
        assert_eq!(fire(&mut windows, 9), [((10, 0), vec![(1, 2)])]);
        assert_eq!(windows.slices.len(), 2, "[5, 10) is still in [5, 15)");
        assert_eq!(fire(&mut windows, 14), [((15, 5), vec![(1, 3), (2, 1)])]);
        assert_eq!(windows.slices.len(), 1);
        assert_eq!(fire(&mut windows, 100), [((20, 10), vec![(1, 1), (2, 1)])]);
        assert!(windows.slices.is_empty() && windows.pending.is_empty());
        // A slice whose windows all fired is late.
        assert!(!count(&mut windows, (10, 5), 1, &[]));
    }

    #[test]
    fn a_new_slice_has_room_for_as_many_groups_as_the_one_before() {
        let calls = [AggCall::new(AggKind::CountStar, None).unwrap()];
        let mut windows = SlicedWindows::new(&calls, true);
        for key in 0..100 {
            assert!(count(&mut windows, (10, 0), key, &[(10, 0)]));
        }
        assert!(count(&mut windows, (20, 10), 0, &[(20, 10)]));
        let next = &windows.slices[&(20, 10)];
        assert_eq!(next.len(), 1);
        assert!(next.accumulators.capacity() >= 100 && next.index.capacity() >= 100);
        assert!(next.keys.capacity() >= 100);
    }

    #[test]
    fn restored_groups_join_their_windows_slices() {
        let calls = [AggCall::new(AggKind::CountStar, None).unwrap()];
        let mut windows = SlicedWindows::new(&calls, true);
        let mut restored = Accumulator::new(&calls[0]);
        restored.add(None, 0);
        windows.restore((10, 0), vec![KeyValue::Int(1)], vec![restored]);
        assert!(count(&mut windows, (10, 0), 1, &[(10, 0)]));
        assert!(count(&mut windows, (10, 0), 3, &[]));
        assert_eq!(fire(&mut windows, 9), [((10, 0), vec![(1, 2), (3, 1)])]);
    }
}
