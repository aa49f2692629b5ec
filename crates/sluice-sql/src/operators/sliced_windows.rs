//! The open windows of a `TUMBLE`, `HOP` or `CUMULATE` window aggregation (or one over a window
//! aggregation's windows) kept in memory, by slices as Flink slices them: a row is aggregated
//! once, into the slice of time no window boundary cuts (a tumbling window, a `gcd(slide,
//! size)` stretch of hopping windows, a step of cumulating ones), and a window's groups are
//! its slices' groups merged when it fires. A hopping row costs one update instead of one per
//! window, and memory holds its group once.

use std::collections::{BTreeMap, BTreeSet};

use hashbrown::HashTable;
use sluice_core::{Timestamp, UserResult};

use super::open_windows::{HashedKey, Window};
use super::slice_groups::Groups;
use super::window_kind::window_fired;
use crate::aggregate::{Accumulator, AggCall};
use crate::key::KeyValue;

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
    /// The aggregates.
    calls: Vec<AggCall>,
    /// Reused by each merge: indexes of merged groups by key hash.
    scratch: HashTable<u32>,
    /// Reused by each row: the accumulators of its group.
    updating: Vec<Accumulator>,
}

impl SlicedWindows {
    /// No open window, for `calls` aggregated over windows that are each one slice or not.
    pub fn new(calls: &[AggCall], one_slice_per_window: bool) -> Self {
        SlicedWindows {
            slices: BTreeMap::new(),
            pending: BTreeSet::new(),
            restored: BTreeMap::new(),
            one_slice_per_window,
            calls: calls.to_vec(),
            scratch: HashTable::new(),
            updating: Vec::new(),
        }
    }

    /// Calls `f` with the accumulators of `key` in `slice`, new ones when the slice has no
    /// group of the key yet. A slice seen for the first time is in the windows
    /// `windows` gives (those not fired yet); with none, the row is late: `false`.
    pub fn add(
        &mut self,
        slice: Window,
        key: HashedKey<'_>,
        windows: impl FnOnce(&mut Vec<Window>),
        f: impl FnOnce(&mut [Accumulator]),
    ) -> bool {
        let calls = &self.calls;
        if let Some(groups) = self.slices.get_mut(&slice) {
            let group = groups.group_of(key, calls);
            groups.update(group, &mut self.updating, f);
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
        let mut groups = Groups::with_capacity(expected, key.key, calls);
        let group = groups.group_of(key, calls);
        groups.update(group, &mut self.updating, f);
        self.slices.insert(slice, groups);
        true
    }

    /// A group of `window` from a checkpoint.
    pub fn restore(&mut self, window: Window, key: Vec<KeyValue>, accumulators: Vec<Accumulator>) {
        self.pending.insert(window);
        let calls = &self.calls;
        let groups = self
            .restored
            .entry(window)
            .or_insert_with(|| Groups::with_capacity(0, &key, calls));
        let group = groups.group_of(HashedKey::new(&key), calls);
        groups.set(group, accumulators);
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
        let (mut keys, mut merged) = (Vec::new(), Vec::new());
        let rows = self.rows_of(window, &skip, &mut keys, &mut merged);
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
            let (mut keys, mut merged) = (Vec::new(), Vec::new());
            f(window, self.rows_of(window, &skip, &mut keys, &mut merged))?;
        }
        Ok(())
    }

    /// The groups of `window`, their keys copied into `keys` and accumulators into `merged`:
    /// its one slice's, or its slices' (and restored groups') merged by key.
    fn rows_of<'a>(
        &mut self,
        (end, start): Window,
        skip: &impl Fn(Window, &[KeyValue]) -> bool,
        keys: &'a mut Vec<KeyValue>,
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
        let merging = parts.len() > 1;
        let key_width = parts.first().map_or(0, |groups| groups.key_width());
        let width = self.calls.len();
        let scratch = &mut self.scratch;
        scratch.clear();
        let mut rows = 0;
        for groups in parts {
            for group in 0..groups.len() {
                let at = keys.len();
                groups.key_into(group, keys);
                if skip(window, &keys[at..]) {
                    keys.truncate(at);
                    continue;
                }
                if merging {
                    // Each key once, with its groups' accumulators merged.
                    let key_of = |i: u32| &keys[i as usize * key_width..][..key_width];
                    let hash = HashedKey::new(&keys[at..]).hash;
                    if let Some(&i) = scratch.find(hash, |&i| key_of(i) == &keys[at..]) {
                        keys.truncate(at);
                        groups.merge_into(group, &mut merged[i as usize * width..][..width]);
                        continue;
                    }
                    scratch.insert_unique(hash, rows as u32, |&i| HashedKey::new(key_of(i)).hash);
                }
                groups.accumulators_into(group, merged);
                rows += 1;
            }
        }
        let keys: Vec<&[KeyValue]> = if key_width == 0 {
            vec![&[][..]; rows]
        } else {
            keys.chunks(key_width).collect()
        };
        let accumulators = if width == 0 {
            vec![&[][..]; rows]
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
        let key = [KeyValue::Int(key)];
        windows.add(
            slice,
            HashedKey::new(&key),
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
        // The key column, the counts and the index.
        assert!(next.capacities().iter().all(|&room| room >= 100));
    }

    #[test]
    fn integer_keys_and_counts_are_kept_as_integers_until_another_kind_of_key_comes() {
        let calls = [AggCall::new(AggKind::CountStar, None).unwrap()];
        let mut windows = SlicedWindows::new(&calls, true);
        let count_key = |windows: &mut SlicedWindows, key: &[KeyValue]| {
            let of = [(10, 0)];
            windows.add(
                (10, 0),
                HashedKey::new(key),
                |into| into.extend(of),
                |accs| accs[0].add(None, 0),
            )
        };
        for key in [1, 2, 1] {
            assert!(count_key(
                &mut windows,
                &[KeyValue::Int(key), KeyValue::Int(0)]
            ));
        }
        assert_eq!(windows.slices[&(10, 0)].keys_are_ints(), [true, true]);
        let text = KeyValue::Str("x".into());
        assert!(count_key(&mut windows, &[text.clone(), KeyValue::Int(0)]));
        assert!(count_key(
            &mut windows,
            &[KeyValue::Int(2), KeyValue::Int(0)]
        ));
        let slice = &windows.slices[&(10, 0)];
        assert_eq!(slice.keys_are_ints(), [false, true]);
        assert!(
            slice.has(&[text, KeyValue::Int(0)])
                && slice.has(&[KeyValue::Int(1), KeyValue::Int(0)])
        );
        let mut fired = Vec::new();
        windows
            .fire_first(
                10,
                |_, _| false,
                |_, (keys, accs)| {
                    for (key, acc) in keys.iter().zip(&accs) {
                        fired.push((key.to_vec(), acc[0].value(&calls[0])));
                    }
                    Ok(())
                },
            )
            .unwrap();
        fired.sort_by_key(|(key, _)| format!("{key:?}"));
        let counts: Vec<KeyValue> = fired.into_iter().map(|(_, count)| count).collect();
        assert_eq!(
            counts,
            [KeyValue::Int(2), KeyValue::Int(2), KeyValue::Int(1)]
        );
    }

    #[test]
    fn a_groups_stored_key_hashes_as_its_values_do() {
        let calls = [AggCall::new(AggKind::CountStar, None).unwrap()];
        let key = [KeyValue::Int(7), KeyValue::Str("a".into())];
        // Growing the index rehashes every group from its stored key: a hash unlike the
        // probe's would lose groups.
        let mut groups = Groups::with_capacity(0, &key, &calls);
        for i in 0..1000 {
            let key = [KeyValue::Int(i), KeyValue::Str("a".into())];
            groups.group_of(HashedKey::new(&key), &calls);
        }
        assert_eq!(groups.group_of(HashedKey::new(&key), &calls), 7);
        assert_eq!(groups.len(), 1000);
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
