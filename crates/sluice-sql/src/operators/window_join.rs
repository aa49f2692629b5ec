//! A window join's rows kept in memory (Flink's `WindowJoin`, with the `hashmap` state
//! backend): each side's rows wait, as the Arrow columns they came in, under their window's end
//! until the watermark passes it; then the window's rows of both sides are joined at once and
//! forgotten. A row whose window has already fired is late and dropped, as Flink drops it.
//! Checkpoints hold the rows as the regular join keeps them (by join key, each row encoded), so
//! a savepoint restores with either state backend and at any parallelism.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::BuildHasher;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, TimestampMillisecondType};
use arrow_array::{Array, ArrayRef, RecordBatch, UInt32Array};
use arrow_schema::{ArrowError, SortOptions};
use rustc_hash::{FxBuildHasher, FxHashMap};
use sluice_core::{Timestamp, UserResult};
use sluice_state::OperatorSnapshot;
use sluice_state::codec::{decode, encode};

use super::join::{
    JoinKey, JoinSide, JoinSpec, JoinType, Kept, ROW_CODEC, SideRows, residual_mask,
};
use super::keyed_state::{StateStore, for_each_entry, push_entry};
use super::window_kind::{fires_at, window_fired};
use crate::key::{KeyValue, RowValues, key_column, key_value, row_key};

/// One chunk of a side's rows: its columns as they arrived (data columns first, join keys
/// among or after them).
type Chunk = Vec<ArrayRef>;

/// One side's rows, by the end of their window.
#[derive(Default)]
pub struct WindowRows {
    by_end: BTreeMap<Timestamp, Vec<Chunk>>,
}

impl WindowRows {
    /// Keeps the rows of `batch` (laid out as `side` says, `end_key` its join key that is the
    /// window's end) that can still join: not late at `watermark`, no NULL in their key.
    /// Returns how many late rows were dropped.
    pub fn add(
        &mut self,
        batch: &RecordBatch,
        side: &JoinSide,
        end_key: usize,
        watermark: Timestamp,
    ) -> UserResult<u64> {
        let columns: Chunk = batch.columns().to_vec();
        let ends = window_ends(batch.column(side.keys[end_key].0).as_ref())?;
        let fired = |end: Timestamp| window_fired(end, watermark);
        let has_null = side
            .keys
            .iter()
            .any(|(i, _)| batch.column(*i).null_count() > 0);
        // A window aggregation's rows come a window per batch: kept as they came.
        if let Some(&first) = ends.first()
            && !has_null
            && ends.iter().all(|&end| end == first)
        {
            if fired(first) {
                return Ok(ends.len() as u64);
            }
            self.by_end.entry(first).or_default().push(columns);
            return Ok(0);
        }
        let mut rows_by_end: BTreeMap<Timestamp, Vec<u32>> = BTreeMap::new();
        let mut late = 0;
        for (row, &end) in ends.iter().enumerate() {
            if has_null && side.keys.iter().any(|(i, _)| batch.column(*i).is_null(row)) {
                continue;
            }
            if fired(end) {
                late += 1;
                continue;
            }
            rows_by_end.entry(end).or_default().push(row as u32);
        }
        for (end, rows) in rows_by_end {
            let chunk = arrow_select::take::take_arrays(&columns, &UInt32Array::from(rows), None)?;
            self.by_end.entry(end).or_default().push(chunk);
        }
        Ok(late)
    }

    /// The end of the first window whose rows wait, if it ended by `watermark`.
    pub fn first_ended(&self, watermark: Timestamp) -> Option<Timestamp> {
        let (&end, _) = self.by_end.first_key_value()?;
        window_fired(end, watermark).then_some(end)
    }

    /// Removes and returns the rows of the window ending at `end`, as one chunk.
    pub fn take(&mut self, end: Timestamp) -> UserResult<Option<Chunk>> {
        let Some(chunks) = self.by_end.remove(&end) else {
            return Ok(None);
        };
        Ok(Some(concat(chunks)?))
    }

    /// Adds the rows to `snapshot` under `name` as the regular join keeps them in a backend:
    /// per join key, the encoded rows (data columns), in the key group of the key.
    pub fn snapshot(
        &self,
        side: &JoinSide,
        name: &str,
        max_parallelism: usize,
        snapshot: &mut OperatorSnapshot,
    ) -> UserResult {
        let mut by_key: FxHashMap<Vec<KeyValue>, Vec<Kept>> = FxHashMap::default();
        for (&end, chunk) in self
            .by_end
            .iter()
            .flat_map(|(end, chunks)| chunks.iter().map(move |chunk| (end, chunk)))
        {
            let data = RecordBatch::try_from_iter(
                chunk[..side.types.len()]
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (format!("c{i}"), Arc::clone(c))),
            )?;
            let keys: Vec<(ArrayRef, crate::types::SqlType)> = side
                .keys
                .iter()
                .map(|(i, ty)| (Arc::clone(&chunk[*i]), ty.clone()))
                .collect();
            for row in 0..data.num_rows() {
                let values = RowValues {
                    batch: &data,
                    row,
                    types: &side.types,
                };
                let row_bytes = encode(ROW_CODEC, &values)?.into_boxed_slice();
                by_key.entry(row_key(&keys, row)).or_default().push(Kept {
                    row: row_bytes,
                    count: 1,
                    expires: fires_at(end),
                });
            }
        }
        for (key, kept) in by_key {
            push_entry(snapshot, name, max_parallelism, &key, &kept)?;
        }
        Ok(())
    }

    /// Loads the rows `name` holds in `restored` (written by [`WindowRows::snapshot`] or by the
    /// regular join's backend).
    pub fn restore(
        &mut self,
        side: &JoinSide,
        end_key: usize,
        name: &str,
        restored: &OperatorSnapshot,
    ) -> UserResult {
        let mut rows_by_end: BTreeMap<Timestamp, KeyedRows> = BTreeMap::new();
        for_each_entry(restored, name, |key: JoinKey, kept: Vec<Kept>| {
            let KeyValue::Int(end) = key[end_key] else {
                return Ok(());
            };
            add_decoded(rows_by_end.entry(end).or_default(), &key, &kept)
        })?;
        self.insert(side, name, rows_by_end)
    }

    /// Moves the rows of the windows that ended by `watermark` out of a state backend's
    /// `kept` rows (the rows of an outer window join wait there until their window fires) into
    /// these; with `open_ends`, adds to it the ends of the windows left waiting.
    pub(super) fn take_fired(
        &mut self,
        kept: &mut SideRows,
        store: &mut StateStore,
        side: &JoinSide,
        end_key: usize,
        watermark: Timestamp,
        mut open_ends: Option<&mut BTreeSet<Timestamp>>,
    ) -> UserResult {
        let mut rows_by_end: BTreeMap<Timestamp, KeyedRows> = BTreeMap::new();
        let mut failed = Ok(());
        kept.retain(store, |key, rows| {
            let KeyValue::Int(end) = key[end_key] else {
                return true;
            };
            if !window_fired(end, watermark) {
                if let Some(ends) = open_ends.as_deref_mut() {
                    ends.insert(end);
                }
                return true;
            }
            if failed.is_ok() {
                failed = add_decoded(rows_by_end.entry(end).or_default(), key, rows);
            }
            false
        })?;
        failed?;
        self.insert(side, "the window join's rows", rows_by_end)
    }

    /// Adds decoded rows (join key and values, per window end) as one chunk per window.
    fn insert(
        &mut self,
        side: &JoinSide,
        name: &str,
        rows_by_end: BTreeMap<Timestamp, KeyedRows>,
    ) -> UserResult {
        let width = side
            .keys
            .iter()
            .map(|(i, _)| i + 1)
            .fold(side.types.len(), usize::max);
        for (end, rows) in rows_by_end {
            let mut chunk: Vec<Option<ArrayRef>> = side
                .types
                .iter()
                .enumerate()
                .map(|(i, ty)| Some(key_column(rows.iter().map(|(_, values)| &values[i]), ty)))
                .collect();
            chunk.resize(width, None);
            for (k, (i, ty)) in side.keys.iter().enumerate() {
                if chunk[*i].is_none() {
                    chunk[*i] = Some(key_column(rows.iter().map(|(key, _)| &key[k]), ty));
                }
            }
            let chunk = chunk
                .into_iter()
                .collect::<Option<Chunk>>()
                .ok_or_else(|| {
                    format!("the window join's rows of {name} leave a column unrestored")
                })?;
            self.by_end.entry(end).or_default().push(chunk);
        }
        Ok(())
    }
}

/// One window's rows, decoded: each row's join key and values.
type KeyedRows = Vec<(JoinKey, Vec<KeyValue>)>;

/// Adds a key's `kept` rows, decoded, to `rows` (a row kept twice, twice).
fn add_decoded(rows: &mut KeyedRows, key: &JoinKey, kept: &[Kept]) -> UserResult {
    for k in kept {
        let values: Vec<KeyValue> = decode(ROW_CODEC, &k.row)?;
        for _ in 0..k.count {
            rows.push((key.clone(), values.clone()));
        }
    }
    Ok(())
}

/// The output columns of one fired window of a window join (`left` and `right` its rows of
/// each side, if any): the pairs of rows with equal keys that pass the rest of the `ON`
/// condition, then, as the join type keeps them, each side's rows that joined none with the
/// other side's columns NULL; `None` when there are none.
pub fn joined_window(
    left: Option<&Chunk>,
    right: Option<&Chunk>,
    spec: &JoinSpec,
) -> UserResult<Option<Vec<ArrayRef>>> {
    let (mut from_left, mut from_right) = match (left, right) {
        (Some(l), Some(r)) => matching_rows(l, &spec.left, r, &spec.right)?,
        _ => (Vec::new(), Vec::new()),
    };
    if let (Some(residual), Some(l), Some(r)) = (&spec.residual, left, right)
        && !from_left.is_empty()
    {
        let mut pairs = take_rows(&l[..spec.left.types.len()], &from_left)?;
        pairs.extend(take_rows(&r[..spec.right.types.len()], &from_right)?);
        let passed = residual_mask(residual, &pairs)?;
        if spec.join_type == JoinType::Inner {
            // No row is padded: the pairs that pass are the output.
            if passed.true_count() == 0 {
                return Ok(None);
            }
            let filter = |column: &ArrayRef| arrow_select::filter::filter(column.as_ref(), &passed);
            return Ok(Some(pairs.iter().map(filter).collect::<Result<_, _>>()?));
        }
        let keep = |rows: Vec<u32>| -> Vec<u32> {
            rows.into_iter()
                .zip(passed.values().iter())
                .filter_map(|(row, pass)| pass.then_some(row))
                .collect()
        };
        from_left = keep(from_left);
        from_right = keep(from_right);
    }
    let lonely = |chunk: Option<&Chunk>, matched: &[u32], keeps: bool| -> Vec<u32> {
        let rows = chunk.and_then(|c| c.first()).map_or(0, |c| c.len());
        if !keeps || rows == 0 {
            return Vec::new();
        }
        let mut joined = vec![false; rows];
        matched.iter().for_each(|&row| joined[row as usize] = true);
        (0..rows as u32)
            .filter(|&row| !joined[row as usize])
            .collect()
    };
    let lonely_left = lonely(left, &from_left, spec.join_type.keeps_left());
    let lonely_right = lonely(right, &from_right, spec.join_type.keeps_right());
    let rows = from_left.len() + lonely_left.len() + lonely_right.len();
    if rows == 0 {
        return Ok(None);
    }
    let present = |rows: &[u32]| rows.iter().map(|&row| Some(row)).collect::<Vec<_>>();
    let absent = |n: usize| std::iter::repeat_n(None, n);
    let mut left_rows = present(&from_left);
    left_rows.extend(present(&lonely_left));
    left_rows.extend(absent(lonely_right.len()));
    let mut right_rows = present(&from_right);
    right_rows.extend(absent(lonely_left.len()));
    right_rows.extend(present(&lonely_right));
    let fields = spec.schema.fields();
    let mut columns = side_columns(left, &fields[..spec.left.types.len()], left_rows)?;
    let right_fields = &fields[spec.left.types.len()..][..spec.right.types.len()];
    columns.extend(side_columns(right, right_fields, right_rows)?);
    Ok(Some(columns))
}

/// The `rows` of a chunk's data columns.
fn take_rows(columns: &[ArrayRef], rows: &[u32]) -> Result<Vec<ArrayRef>, ArrowError> {
    arrow_select::take::take_arrays(columns, &UInt32Array::from(rows.to_vec()), None)
}

/// A side's data columns (typed as `fields`) at `rows`: NULL where a row is `None`.
fn side_columns(
    chunk: Option<&Chunk>,
    fields: &[arrow_schema::FieldRef],
    rows: Vec<Option<u32>>,
) -> Result<Vec<ArrayRef>, ArrowError> {
    match chunk {
        Some(chunk) => {
            arrow_select::take::take_arrays(&chunk[..fields.len()], &UInt32Array::from(rows), None)
        }
        None => Ok(fields
            .iter()
            .map(|f| arrow_array::new_null_array(f.data_type(), rows.len()))
            .collect()),
    }
}

/// The values of a `TIMESTAMP(3)` or `BIGINT` column, as milliseconds (NULLs as whatever they
/// hold), if it is one.
pub(super) fn millis(column: &dyn Array) -> Option<&[i64]> {
    column
        .as_primitive_opt::<TimestampMillisecondType>()
        .map(|times| &times.values()[..])
        .or_else(|| {
            column
                .as_primitive_opt::<Int64Type>()
                .map(|values| &values.values()[..])
        })
}

/// The window ends of a join key column (`TIMESTAMP(3)` or `BIGINT` milliseconds).
fn window_ends(column: &dyn Array) -> UserResult<&[Timestamp]> {
    millis(column).ok_or_else(|| {
        format!(
            "a window join's window_end key is {}, not a millisecond timestamp",
            column.data_type()
        )
        .into()
    })
}

/// Chunks of one side as one.
fn concat(mut chunks: Vec<Chunk>) -> Result<Chunk, ArrowError> {
    if chunks.len() == 1 {
        return Ok(chunks.pop().unwrap_or_default());
    }
    let width = chunks.first().map_or(0, Vec::len);
    (0..width)
        .map(|i| {
            let parts: Vec<&dyn Array> = chunks.iter().map(|c| c[i].as_ref()).collect();
            arrow_select::concat::concat(&parts)
        })
        .collect()
}

/// The pairs of rows (left index, right index) of one window whose join keys are equal: a
/// hash table over the smaller side, probed by the other.
pub fn matching_rows(
    left: &Chunk,
    left_side: &JoinSide,
    right: &Chunk,
    right_side: &JoinSide,
) -> UserResult<(Vec<u32>, Vec<u32>)> {
    let key_columns = |chunk: &Chunk, side: &JoinSide| -> Vec<ArrayRef> {
        side.keys
            .iter()
            .map(|(i, _)| Arc::clone(&chunk[*i]))
            .collect()
    };
    let (left_keys, right_keys) = (key_columns(left, left_side), key_columns(right, right_side));
    let types: Vec<&crate::types::SqlType> = left_side.keys.iter().map(|(_, ty)| ty).collect();
    let rows = |keys: &[ArrayRef]| keys.first().map_or(0, |k| k.len());
    let build_left = rows(&left_keys) <= rows(&right_keys);
    let (build, probe) = if build_left {
        (&left_keys, &right_keys)
    } else {
        (&right_keys, &left_keys)
    };
    let equal = build
        .iter()
        .zip(probe.iter())
        .map(|(b, p)| {
            arrow_ord::ord::make_comparator(b.as_ref(), p.as_ref(), SortOptions::default())
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Rows of a hash chain: the first row of each hash, then each row's next of its hash.
    let mut first: FxHashMap<u64, u32> = FxHashMap::default();
    let build_hashes = key_hashes(build, &types);
    let mut next = vec![u32::MAX; build_hashes.len()];
    for (row, hash) in build_hashes.iter().enumerate().rev() {
        if let Some(previous) = first.insert(*hash, row as u32) {
            next[row] = previous;
        }
    }
    let (mut from_build, mut from_probe) = (Vec::new(), Vec::new());
    for (row, hash) in key_hashes(probe, &types).iter().enumerate() {
        let mut candidate = first.get(hash).copied().unwrap_or(u32::MAX);
        while candidate != u32::MAX {
            let c = candidate as usize;
            if equal.iter().all(|cmp| cmp(c, row) == Ordering::Equal) {
                from_build.push(candidate);
                from_probe.push(row as u32);
            }
            candidate = next[c];
        }
    }
    Ok(if build_left {
        (from_build, from_probe)
    } else {
        (from_probe, from_build)
    })
}

/// A hash of each row's key (equal keys, equal hashes; only for this process).
fn key_hashes(keys: &[ArrayRef], types: &[&crate::types::SqlType]) -> Vec<u64> {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    let rows = keys.first().map_or(0, |k| k.len());
    let mut hashes = vec![0u64; rows];
    let mix = |hash: &mut u64, value: u64| *hash = (hash.rotate_left(5) ^ value).wrapping_mul(SEED);
    for (column, ty) in keys.iter().zip(types) {
        match millis(column.as_ref()) {
            Some(values) => {
                for (hash, value) in hashes.iter_mut().zip(values.iter()) {
                    mix(hash, *value as u64);
                }
            }
            None => {
                for (row, hash) in hashes.iter_mut().enumerate() {
                    mix(
                        hash,
                        FxBuildHasher.hash_one(key_value(column.as_ref(), row, ty)),
                    );
                }
            }
        }
    }
    hashes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::SqlType;
    use arrow_array::{Int64Array, StringArray};

    fn side(types: Vec<SqlType>, keys: Vec<(usize, SqlType)>) -> JoinSide {
        JoinSide {
            types,
            keys,
            row_kind: None,
            expiry: None,
        }
    }

    fn longs(values: &[i64]) -> ArrayRef {
        Arc::new(Int64Array::from(values.to_vec()))
    }

    #[test]
    fn rows_match_on_equal_keys_of_any_type() {
        let strings = |v: &[&str]| Arc::new(StringArray::from(v.to_vec())) as ArrayRef;
        let left_side = side(
            vec![SqlType::BigInt],
            vec![(1, SqlType::BigInt), (2, SqlType::Varchar(None))],
        );
        let right_side = left_side.clone();
        let left = vec![
            longs(&[1, 2, 3]),
            longs(&[7, 7, 8]),
            strings(&["a", "b", "a"]),
        ];
        let right = vec![
            longs(&[10, 20, 30, 40]),
            longs(&[7, 8, 7, 7]),
            strings(&["a", "a", "a", "b"]),
        ];
        let (l, r) = matching_rows(&left, &left_side, &right, &right_side).unwrap();
        let mut pairs: Vec<(u32, u32)> = l.into_iter().zip(r).collect();
        pairs.sort();
        assert_eq!(pairs, [(0, 0), (0, 2), (1, 3), (2, 1)]);
    }

    #[test]
    fn rows_wait_under_their_window_end_and_late_or_null_keyed_rows_are_dropped() {
        let side = side(vec![SqlType::BigInt], vec![(1, SqlType::BigInt)]);
        let mut rows = WindowRows::default();
        let batch = |values: &[i64], ends: Vec<Option<i64>>| {
            RecordBatch::try_from_iter([
                ("v", longs(values)),
                ("end", Arc::new(Int64Array::from(ends)) as ArrayRef),
            ])
            .unwrap()
        };
        // One window's rows together are kept as they came.
        assert_eq!(
            rows.add(&batch(&[1, 2], vec![Some(20), Some(20)]), &side, 0, 9)
                .unwrap(),
            0
        );
        // Mixed: a late row (window 10 fired at watermark 9) and a NULL key are dropped.
        let mixed = batch(&[3, 4, 5, 6], vec![Some(10), None, Some(30), Some(20)]);
        assert_eq!(rows.add(&mixed, &side, 0, 9).unwrap(), 1);
        assert_eq!(rows.first_ended(18), None);
        assert_eq!(rows.first_ended(19), Some(20));
        let window = rows.take(20).unwrap().unwrap();
        assert_eq!(window[0].as_primitive::<Int64Type>().values(), &[1, 2, 6]);
        assert_eq!(rows.first_ended(i64::MAX), Some(30));
    }

    #[test]
    fn a_snapshot_restores_the_rows_under_their_windows() {
        let side = side(vec![SqlType::BigInt], vec![(1, SqlType::BigInt)]);
        let mut rows = WindowRows::default();
        let batch =
            RecordBatch::try_from_iter([("v", longs(&[1, 1, 2])), ("end", longs(&[20, 20, 30]))])
                .unwrap();
        rows.add(&batch, &side, 0, 0).unwrap();
        let mut snapshot = OperatorSnapshot::default();
        rows.snapshot(&side, "rows", 128, &mut snapshot).unwrap();
        let mut restored = WindowRows::default();
        restored.restore(&side, 0, "rows", &snapshot).unwrap();
        let window = restored.take(20).unwrap().unwrap();
        assert_eq!(window[0].as_primitive::<Int64Type>().values(), &[1, 1]);
        assert_eq!(window[1].as_primitive::<Int64Type>().values(), &[20, 20]);
        assert!(restored.take(30).unwrap().is_some());
    }
}
