//! The regular join (Flink's `StreamingJoinOperator` for an inner join): both inputs' rows are
//! kept, by their join key, for as long as the job runs; a row arriving on one side joins the
//! other side's rows of its key, and the joined rows that pass the rest of the `ON` condition
//! are emitted. Inputs may be changelogs: an insert or update-after joins as `+I`, a retraction
//! (update-before, delete) removes its row and retracts what it joined with `-D`. Rows whose
//! key holds a NULL join nothing, as `=` never holds for NULL.
//!
//! A join of two windowed relations on their `window_start` and `window_end` is Flink's window
//! join: a window's rows are forgotten once the watermark passes its end, late rows are dropped,
//! and with the `hashmap` backend a window's rows wait in memory ([`super::window_join`]) and
//! join all at once when it ends.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, BooleanArray, Int8Array, RecordBatch};
use arrow_schema::SchemaRef;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use sluice_core::{Record, Timestamp, UserResult, Watermark};
use sluice_runtime::task::operator::{
    OperatorContext, StreamOperator, TwoInputOperator, WatermarkOut,
};
use sluice_runtime::task::output::Output;
use sluice_state::OperatorSnapshot;
use sluice_state::codec::{decode, encode_append};

use super::expiry_scan::ExpiryScan;
use super::group_agg::RowKind;
use super::key_split::RoutedBatch;
use super::keyed_state::{KeyedValues, StateStore};
use super::window_agg::ROWS_PER_PART;
use super::window_join::{WindowRows, joined_window, millis};
use super::window_kind::{fires_at, window_fired};
use crate::batch::RowBatch;
use crate::expr::{Expr, as_boolean, true_where};
use crate::key::{KeyValue, RowValues, columns_of, key_column, row_key};
use crate::types::SqlType;

/// One input of the join: the layout of its batches after the keyed exchange.
#[derive(Debug, Clone)]
pub struct JoinSide {
    /// The types of its data columns, which come first in its batches.
    pub types: Vec<SqlType>,
    /// Its join key columns (index in its batches, type).
    pub keys: Vec<(usize, SqlType)>,
    /// The row-kind column of a changelog input.
    pub row_kind: Option<usize>,
    /// When its kept rows can join no more, where the `ON` condition says.
    pub expiry: Option<Expiry>,
}

/// When a side's kept rows can join no more: the other side's rows still to come hold a value
/// above the watermark, and the `ON` condition keeps it at most `within` milliseconds after
/// the kept row's `column`; so a row whose `column` plus `within` is at or below the watermark
/// goes (a row whose `column` is NULL joins nothing and stays).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    /// The time column (an index into the side's data columns).
    pub column: usize,
    /// How far after it the other side's value can be, in milliseconds.
    pub within: i64,
}

/// What the join computes.
#[derive(Debug, Clone)]
pub struct JoinSpec {
    /// The first (left) input.
    pub left: JoinSide,
    /// The second (right) input.
    pub right: JoinSide,
    /// The rest of the `ON` condition, over the joined columns (left's, then right's).
    pub residual: Option<Expr>,
    /// The output: the joined columns, and a row-kind column when an input is a changelog.
    pub schema: SchemaRef,
    /// The key that is both sides' `window_end` (a join of window aggregations, which Flink
    /// plans as a window join): a window's rows are dropped once the watermark passes its end,
    /// as no row of it can come any more.
    pub window_end: Option<usize>,
    /// Flink's window join: both sides insert-only, `window_start` and `window_end` both
    /// among the keys. A row whose window has fired is late and dropped; with the `hashmap`
    /// backend a window's rows wait in memory and join when the watermark passes its end.
    pub windowed: bool,
    /// Which rows that join nothing come out (an outer join is a window join).
    pub join_type: JoinType,
}

/// Which rows that join nothing a join emits, the other side's columns NULL (Flink's join
/// types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinType {
    /// None.
    Inner,
    /// The left side's.
    LeftOuter,
    /// The right side's.
    RightOuter,
    /// Both sides'.
    FullOuter,
}

impl JoinType {
    /// Whether the left side's rows that join nothing come out.
    pub fn keeps_left(self) -> bool {
        matches!(self, JoinType::LeftOuter | JoinType::FullOuter)
    }

    /// Whether the right side's rows that join nothing come out.
    pub fn keeps_right(self) -> bool {
        matches!(self, JoinType::RightOuter | JoinType::FullOuter)
    }

    /// Flink's name of it in plans (`joinType=[..]`).
    pub fn name(self) -> &'static str {
        match self {
            JoinType::Inner => "InnerJoin",
            JoinType::LeftOuter => "LeftOuterJoin",
            JoinType::RightOuter => "RightOuterJoin",
            JoinType::FullOuter => "FullOuterJoin",
        }
    }
}

impl JoinSpec {
    /// Whether the output is a changelog.
    pub fn changelog(&self) -> bool {
        self.left.row_kind.is_some() || self.right.row_kind.is_some()
    }
}

/// A kept row (its values, encoded: a fraction of their size in memory), how many times it is
/// there, and the watermark at which it can join no more (`Timestamp::MAX`: never).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Kept {
    pub(super) row: Box<[u8]>,
    pub(super) count: u32,
    pub(super) expires: Timestamp,
}

/// A join key: its values, one of them kept in place (most keys are one column).
pub(super) type JoinKey = SmallVec<[KeyValue; 1]>;

/// A key's kept rows, one of them in place (most keys hold one row at a time).
pub(super) type KeptRows = SmallVec<[Kept; 1]>;

/// One side's rows by join key.
pub(super) type SideRows = KeyedValues<JoinKey, KeptRows>;

const LEFT_STATE: &str = "sql-join-left";
/// The codec name of kept rows (for messages).
pub(super) const ROW_CODEC: &str = "sql-join-row";
const RIGHT_STATE: &str = "sql-join-right";

/// The regular join operator.
pub struct JoinOperator {
    spec: JoinSpec,
    left: SideRows,
    right: SideRows,
    /// When each side's kept rows are next looked over for those that go.
    left_expiry: ExpiryScan,
    right_expiry: ExpiryScan,
    /// A window join's rows in memory (with the `hashmap` backend), per side.
    left_windows: WindowRows,
    right_windows: WindowRows,
    watermark: Timestamp,
    /// The watermark whose windows are still being joined, a part at a time.
    firing: Option<Timestamp>,
    /// The ends of the windows whose rows wait in a backend (an outer window join's).
    open_ends: BTreeSet<Timestamp>,
    /// Whether `open_ends` is still to be read from restored rows.
    ends_unknown: bool,
    late_rows: u64,
    store: StateStore,
}

impl JoinOperator {
    /// An operator computing `spec`.
    pub fn new(spec: JoinSpec) -> Self {
        JoinOperator {
            spec,
            left: SideRows::new(LEFT_STATE),
            right: SideRows::new(RIGHT_STATE),
            left_expiry: ExpiryScan::default(),
            right_expiry: ExpiryScan::default(),
            left_windows: WindowRows::default(),
            right_windows: WindowRows::default(),
            watermark: Timestamp::MIN,
            firing: None,
            open_ends: BTreeSet::new(),
            ends_unknown: false,
            late_rows: 0,
            store: StateStore::default(),
        }
    }

    /// With a window join's rows in memory: the key that is the window's end.
    fn buffered(&self) -> Option<usize> {
        self.spec
            .window_end
            .filter(|_| self.spec.windowed && !self.store.in_backend())
    }

    /// With an outer window join's rows in a backend, waiting there until their window fires
    /// (a row can only be known to join nothing then): the key that is the window's end.
    fn deferred(&self) -> Option<usize> {
        self.spec.window_end.filter(|_| {
            self.spec.windowed && self.spec.join_type != JoinType::Inner && self.store.in_backend()
        })
    }

    /// Moves the rows of the windows that ended by `watermark` out of the backend, to be
    /// joined as a window join's rows in memory are.
    fn take_fired(&mut self, end_key: usize, watermark: Timestamp) -> UserResult {
        let due = self.ends_unknown
            || self
                .open_ends
                .first()
                .is_some_and(|&end| window_fired(end, watermark));
        if !due {
            return Ok(());
        }
        let read_ends = std::mem::take(&mut self.ends_unknown);
        self.open_ends.retain(|&end| !window_fired(end, watermark));
        for (windows, kept, side) in [
            (&mut self.left_windows, &mut self.left, &self.spec.left),
            (&mut self.right_windows, &mut self.right, &self.spec.right),
        ] {
            let open_ends = read_ends.then_some(&mut self.open_ends);
            windows.take_fired(kept, &mut self.store, side, end_key, watermark, open_ends)?;
        }
        Ok(())
    }

    /// Takes the rows of `batch` from the left (`from_left`) or right input: a window join's
    /// in memory, else joined now.
    fn take_batch(
        &mut self,
        batch: &RecordBatch,
        from_left: bool,
    ) -> UserResult<Option<RecordBatch>> {
        let Some(end_key) = self.buffered() else {
            return self.join(batch, from_left);
        };
        let (side, rows) = if from_left {
            (&self.spec.left, &mut self.left_windows)
        } else {
            (&self.spec.right, &mut self.right_windows)
        };
        self.late_rows += rows.add(batch, side, end_key, self.watermark)?;
        Ok(None)
    }

    /// Joins and forgets the windows in memory that ended by `watermark`, in order of ends,
    /// in parts of about `part` rows; returns whether windows are left to join.
    fn fire_windows(
        &mut self,
        watermark: Timestamp,
        part: usize,
        out: &mut Output<RowBatch>,
    ) -> UserResult<bool> {
        let mut rows_out = 0;
        loop {
            if rows_out >= part {
                self.firing = Some(watermark);
                return Ok(true);
            }
            let ends = [
                self.left_windows.first_ended(watermark),
                self.right_windows.first_ended(watermark),
            ];
            let Some(end) = ends.into_iter().flatten().min() else {
                self.firing = None;
                return Ok(false);
            };
            let left = self.left_windows.take(end)?;
            let right = self.right_windows.take(end)?;
            if let Some(columns) = joined_window(left.as_ref(), right.as_ref(), &self.spec)? {
                let joined = RecordBatch::try_new(Arc::clone(&self.spec.schema), columns)?;
                rows_out += joined.num_rows();
                out.emit(RowBatch(joined), None);
            }
        }
    }

    /// Keeps (or retracts) the rows of `batch` from the left (`from_left`) or right input and
    /// returns the joined rows they make or retract.
    fn join(&mut self, batch: &RecordBatch, from_left: bool) -> UserResult<Option<RecordBatch>> {
        // An outer window join's rows only wait here: they join when their window fires.
        let deferred = self.deferred().is_some();
        let (side, own, other, expiry) = if from_left {
            (
                &self.spec.left,
                &mut self.left,
                &self.right,
                &mut self.left_expiry,
            )
        } else {
            (
                &self.spec.right,
                &mut self.right,
                &self.left,
                &mut self.right_expiry,
            )
        };
        let keys = columns_of(batch, &side.keys);
        let kinds = side
            .row_kind
            .and_then(|i| batch.column(i).as_any().downcast_ref::<Int8Array>());
        let expiry_times = side.expiry.and_then(|expiry| {
            let column = batch.column(expiry.column);
            millis(column.as_ref()).map(|times| (column, times, expiry.within))
        });
        // Only a changelog's rows are looked up again (to retract them): an insert-only side's
        // equal rows need not be found and counted.
        let count_equal = side.row_kind.is_some();
        let key_arrays: Vec<ArrayRef> = keys.iter().map(|(a, _)| Arc::clone(a)).collect();
        let mut joined = Joined::default();
        let mut encoded_row = Vec::new();
        // Reused by every run: its rows (index, kind, encoded), and those that join.
        let mut rows: Vec<(u32, RowKind, Box<[u8]>, Timestamp)> = Vec::new();
        let mut joining: Vec<(u32, RowKind)> = Vec::new();
        let watermark = self.watermark;
        let mut late_rows = 0;
        // A run of rows with one key (a window's rows come together) reads and writes that
        // key's state once.
        for run in arrow_ord::partition::partition(&key_arrays)?.ranges() {
            let key: JoinKey = row_key(&keys, run.start);
            if key.contains(&KeyValue::Null) {
                continue;
            }
            let window_end = match self.spec.window_end.map(|k| &key[k]) {
                Some(&KeyValue::Int(end)) => Some(end),
                _ => None,
            };
            // A window's rows go when it fires.
            let window_expires = window_end.map_or(Timestamp::MAX, fires_at);
            if self.spec.windowed && window_end.is_some_and(|end| window_fired(end, watermark)) {
                late_rows += run.len() as u64;
                continue;
            }
            if let Some(end) = window_end.filter(|_| deferred) {
                self.open_ends.insert(end);
            }
            for row in run {
                let values = RowValues {
                    batch,
                    row,
                    types: &side.types,
                };
                // Encoded into one buffer, copied out at its size: one allocation per row.
                encoded_row = encode_append(ROW_CODEC, std::mem::take(&mut encoded_row), &values)?;
                let encoded: Box<[u8]> = Box::from(encoded_row.as_slice());
                encoded_row.clear();
                let kind = kinds.map_or(RowKind::Insert, |k| RowKind::from_code(k.value(row)));
                let expires = match expiry_times {
                    Some((column, times, within)) if column.is_valid(row) => {
                        times[row].saturating_add(within).min(window_expires)
                    }
                    _ => window_expires,
                };
                rows.push((row as u32, kind, encoded, expires));
            }
            // The other side's rows of the key (looked up before the key moves into this
            // side's state).
            let kept = if deferred {
                None
            } else {
                other.get(&self.store, &key)?
            };
            // The rows that join: each with its output kind.
            own.modify_or_remove(
                &mut self.store,
                key,
                KeptRows::new,
                |kept| {
                    // An outer window join's rows go when their window fires, not by a scan.
                    let expiry = (!deferred).then_some(&mut *expiry);
                    apply(kept, rows.drain(..), count_equal, &mut joining, expiry)
                },
                SmallVec::is_empty,
            )?;
            if joining.is_empty() {
                continue;
            }
            let Some(kept) = kept else {
                continue;
            };
            let first = joined.kept_rows.len() as u32;
            for k in kept.iter() {
                joined.kept_rows.push(decode(ROW_CODEC, &k.row)?);
            }
            for &(row, kind) in &joining {
                for (i, k) in kept.iter().enumerate() {
                    joined.add(row, first + i as u32, k.count, kind);
                }
            }
        }
        self.late_rows += late_rows;
        if joined.kinds.is_empty() {
            return Ok(None);
        }
        self.output(batch, from_left, joined)
    }

    /// The joined rows as a batch, through the residual condition, with their row kinds when
    /// the output is a changelog: the arriving side's columns taken from its batch, the other
    /// side's built from the kept rows.
    fn output(
        &self,
        batch: &RecordBatch,
        from_left: bool,
        joined: Joined,
    ) -> UserResult<Option<RecordBatch>> {
        let (arriving, kept) = if from_left {
            (&self.spec.left, &self.spec.right)
        } else {
            (&self.spec.right, &self.spec.left)
        };
        let rows = arrow_array::UInt32Array::from(joined.arriving);
        let arriving_columns =
            arrow_select::take::take_arrays(&batch.columns()[..arriving.types.len()], &rows, None)?;
        let kept_columns = kept.types.iter().enumerate().map(|(i, ty)| {
            key_column(
                joined
                    .kept
                    .iter()
                    .map(|&row| &joined.kept_rows[row as usize][i]),
                ty,
            )
        });
        let columns: Vec<ArrayRef> = if from_left {
            arriving_columns.into_iter().chain(kept_columns).collect()
        } else {
            kept_columns.chain(arriving_columns).collect()
        };
        let kinds: ArrayRef =
            Arc::new(joined.kinds.iter().map(|k| *k as i8).collect::<Int8Array>());
        self.finish(columns, self.spec.changelog().then_some(kinds))
    }

    /// The joined columns (and row kinds of a changelog output) that pass the residual
    /// condition, as an output batch.
    fn finish(
        &self,
        mut columns: Vec<ArrayRef>,
        kinds: Option<ArrayRef>,
    ) -> UserResult<Option<RecordBatch>> {
        // The condition reads the joined columns by position.
        let keep = (self.spec.residual.as_ref())
            .map(|residual| residual_mask(residual, &columns))
            .transpose()?;
        columns.extend(kinds);
        if let Some(keep) = keep {
            if keep.true_count() == 0 {
                return Ok(None);
            }
            columns = columns
                .iter()
                .map(|column| arrow_select::filter::filter(column.as_ref(), &keep))
                .collect::<Result<_, _>>()?;
        }
        Ok(Some(RecordBatch::try_new(
            Arc::clone(&self.spec.schema),
            columns,
        )?))
    }
}

/// Which of the joined rows (`columns`: the left side's, then the right's) pass `residual`,
/// the rest of the `ON` condition (NULL does not pass).
pub(super) fn residual_mask(residual: &Expr, columns: &[ArrayRef]) -> UserResult<BooleanArray> {
    let rows = RecordBatch::try_from_iter(
        columns
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("c{i}"), Arc::clone(c))),
    )?;
    let passed = residual.eval(&rows)?;
    Ok(true_where(as_boolean(&passed)?))
}

/// The rows a batch joined: for each, the arriving row (its index in the batch), the kept row
/// of the other side it joined (an index into the decoded kept rows), and its kind.
#[derive(Default)]
struct Joined {
    arriving: Vec<u32>,
    kept: Vec<u32>,
    kinds: Vec<RowKind>,
    /// The other side's kept rows the batch joined, decoded once per run of a key.
    kept_rows: Vec<Vec<KeyValue>>,
}

impl Joined {
    /// The arriving row `row` joined `count` times with the kept row `kept`.
    fn add(&mut self, row: u32, kept: u32, count: u32, kind: RowKind) {
        let count = count as usize;
        self.arriving.extend(std::iter::repeat_n(row, count));
        self.kept.extend(std::iter::repeat_n(kept, count));
        self.kinds.extend(std::iter::repeat_n(kind, count));
    }
}

/// Applies a run of one key's arriving rows (index, kind, encoded values), in order, to the
/// key's `kept` rows; leaves in `joining` the rows that join, with the kind they join as: an insert or
/// update-after is kept and joins as `+I`, a retraction removes its row and joins as `-D`, and
/// the retraction of a row never kept (a state cleaned up) joins nothing. A row newly kept is
/// counted in `expiry` (if its rows go by a scan) by when it goes.
fn apply(
    kept: &mut KeptRows,
    rows: impl Iterator<Item = (u32, RowKind, Box<[u8]>, Timestamp)>,
    count_equal: bool,
    joining: &mut Vec<(u32, RowKind)>,
    mut expiry: Option<&mut ExpiryScan>,
) {
    joining.clear();
    for (row, kind, encoded, expires) in rows {
        if matches!(kind, RowKind::Insert | RowKind::UpdateAfter) {
            if keep(kept, encoded, expires, count_equal)
                && let Some(expiry) = expiry.as_deref_mut()
            {
                expiry.kept(expires);
            }
            joining.push((row, RowKind::Insert));
        } else if retract(kept, &encoded) {
            joining.push((row, RowKind::Delete));
        }
    }
}

/// Adds one occurrence of `row`, going at `expires`, to a key's `kept` rows, counted with an
/// equal row kept before when `count_equal`; true when it is a new row.
fn keep(kept: &mut KeptRows, row: Box<[u8]>, expires: Timestamp, count_equal: bool) -> bool {
    let equal = if count_equal {
        kept.iter_mut().find(|k| k.row == row)
    } else {
        None
    };
    match equal {
        Some(k) => {
            k.count += 1;
            false
        }
        None => {
            kept.push(Kept {
                row,
                count: 1,
                expires,
            });
            true
        }
    }
}

/// Removes one occurrence of `row` from a key's `kept` rows; false when there is none.
fn retract(kept: &mut KeptRows, row: &[u8]) -> bool {
    let Some(position) = kept.iter().position(|k| *k.row == *row) else {
        return false;
    };
    kept[position].count -= 1;
    if kept[position].count == 0 {
        kept.swap_remove(position);
    }
    true
}

impl StreamOperator<(RoutedBatch, RoutedBatch), RowBatch> for JoinOperator {
    fn open(&mut self, ctx: &OperatorContext) -> UserResult {
        self.store.open(ctx, &mut [&mut self.left, &mut self.right])
    }

    fn process_watermark(
        &mut self,
        watermark: Watermark,
        out: &mut Output<RowBatch>,
    ) -> WatermarkOut {
        self.watermark = self.watermark.max(watermark.0);
        if self.buffered().is_some() {
            self.fire_windows(watermark.0, ROWS_PER_PART, out)?;
            return Ok(Some(watermark));
        }
        if let Some(end_key) = self.deferred() {
            // Each fired window is joined whole: none is left in memory for a checkpoint.
            self.take_fired(end_key, watermark.0)?;
            self.fire_windows(watermark.0, usize::MAX, out)?;
            return Ok(Some(watermark));
        }
        self.left_expiry
            .drop_expired(&mut self.left, &mut self.store, watermark.0)?;
        self.right_expiry
            .drop_expired(&mut self.right, &mut self.store, watermark.0)?;
        Ok(Some(watermark))
    }

    fn snapshot_state(&mut self, snapshot: &mut OperatorSnapshot) -> UserResult {
        if self.buffered().is_some() {
            let max_parallelism = self.store.max_parallelism();
            self.left_windows
                .snapshot(&self.spec.left, LEFT_STATE, max_parallelism, snapshot)?;
            return self.right_windows.snapshot(
                &self.spec.right,
                RIGHT_STATE,
                max_parallelism,
                snapshot,
            );
        }
        self.left.snapshot(&self.store, snapshot)?;
        self.right.snapshot(&self.store, snapshot)?;
        self.store.snapshot(snapshot)
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> UserResult {
        self.store.notify_checkpoint_complete(checkpoint_id);
        Ok(())
    }

    fn emit_pending(&mut self, out: &mut Output<RowBatch>) -> UserResult<bool> {
        match self.firing {
            Some(watermark) => self.fire_windows(watermark, ROWS_PER_PART, out),
            None => Ok(false),
        }
    }

    fn close(&mut self) -> UserResult {
        if self.late_rows > 0 {
            tracing::info!("window join dropped {} late rows", self.late_rows);
        }
        Ok(())
    }

    fn restore_state(&mut self, restored: &OperatorSnapshot) -> UserResult {
        if let Some(end_key) = self.buffered() {
            self.left_windows
                .restore(&self.spec.left, end_key, LEFT_STATE, restored)?;
            return self
                .right_windows
                .restore(&self.spec.right, end_key, RIGHT_STATE, restored);
        }
        self.left.restore(&mut self.store, restored)?;
        self.right.restore(&mut self.store, restored)?;
        if self.deferred().is_some() {
            // Whose windows the restored rows wait for is read at the first watermark.
            self.ends_unknown = true;
            return Ok(());
        }
        // When the restored rows go is counted at the first watermark, on a side whose rows
        // go at all.
        for (scan, side) in [
            (&mut self.left_expiry, &self.spec.left),
            (&mut self.right_expiry, &self.spec.right),
        ] {
            if self.spec.window_end.is_some() || side.expiry.is_some() {
                scan.restored();
            }
        }
        Ok(())
    }
}

impl TwoInputOperator<RoutedBatch, RoutedBatch, RowBatch> for JoinOperator {
    fn process_batch1(
        &mut self,
        batch: &mut Vec<Record<RoutedBatch>>,
        out: &mut Output<RowBatch>,
    ) -> UserResult {
        for record in batch.drain(..) {
            if let Some(joined) = self.take_batch(&record.value.batch.0, true)? {
                out.emit(RowBatch(joined), None);
            }
        }
        Ok(())
    }

    fn process_batch2(
        &mut self,
        batch: &mut Vec<Record<RoutedBatch>>,
        out: &mut Output<RowBatch>,
    ) -> UserResult {
        for record in batch.drain(..) {
            if let Some(joined) = self.take_batch(&record.value.batch.0, false)? {
                out.emit(RowBatch(joined), None);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operators::key_split::routed_rows;
    use arrow_array::Int64Array;
    use arrow_array::cast::AsArray;
    use sluice_runtime::harness::TwoInputHarness;

    fn spec(right_changelog: bool, residual: Option<Expr>) -> JoinSpec {
        let side = |row_kind| JoinSide {
            types: vec![SqlType::BigInt, SqlType::BigInt],
            keys: vec![(0, SqlType::BigInt)],
            row_kind,
            expiry: None,
        };
        let mut fields = vec![
            arrow_schema::Field::new("k", arrow_schema::DataType::Int64, true),
            arrow_schema::Field::new("a", arrow_schema::DataType::Int64, true),
            arrow_schema::Field::new("k2", arrow_schema::DataType::Int64, true),
            arrow_schema::Field::new("b", arrow_schema::DataType::Int64, true),
        ];
        if right_changelog {
            fields.push(arrow_schema::Field::new(
                "$row_kind",
                arrow_schema::DataType::Int8,
                false,
            ));
        }
        JoinSpec {
            left: side(None),
            right: side(right_changelog.then_some(2)),
            residual,
            schema: Arc::new(arrow_schema::Schema::new(fields)),
            window_end: None,
            windowed: false,
            join_type: JoinType::Inner,
        }
    }

    /// The operator computing `spec`, opened with its rows in memory or, when `encoded`,
    /// encoded in a state backend.
    fn opened(spec: JoinSpec, encoded: bool) -> JoinOperator {
        let mut op = JoinOperator::new(spec);
        op.open(&crate::operators::keyed_state::tests::context(
            encoded, 0, 1,
        ))
        .unwrap();
        op
    }

    fn longs(values: &[i64]) -> ArrayRef {
        Arc::new(Int64Array::from(values.to_vec()))
    }

    fn joined(op: &mut JoinOperator, left: bool, record: Record<RoutedBatch>) -> Vec<Vec<i64>> {
        let Some(batch) = op.join(&record.value.batch.0, left).unwrap() else {
            return Vec::new();
        };
        (0..batch.num_rows())
            .map(|row| {
                batch
                    .columns()
                    .iter()
                    .map(|c| match c.data_type() {
                        arrow_schema::DataType::Int8 => {
                            i64::from(c.as_primitive::<arrow_array::types::Int8Type>().value(row))
                        }
                        _ => c.as_primitive::<arrow_array::types::Int64Type>().value(row),
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn rows_join_the_other_sides_rows_of_their_key_whichever_comes_first() {
        for encoded in [false, true] {
            rows_join_the_other_sides_rows_of_their_key_whichever_comes_first_with(encoded);
        }
    }

    fn rows_join_the_other_sides_rows_of_their_key_whichever_comes_first_with(encoded: bool) {
        let mut op = opened(spec(false, None), encoded);
        let left = routed_rows(vec![("k", longs(&[1, 2])), ("a", longs(&[10, 20]))]);
        assert!(joined(&mut op, true, left).is_empty());
        let right = routed_rows(vec![("k", longs(&[2, 3, 2])), ("b", longs(&[7, 8, 9]))]);
        assert_eq!(
            joined(&mut op, false, right),
            [vec![2, 20, 2, 7], vec![2, 20, 2, 9]]
        );
        // A duplicate row joins again; a NULL key joins nothing.
        let again = routed_rows(vec![("k", longs(&[2])), ("a", longs(&[20]))]);
        assert_eq!(joined(&mut op, true, again).len(), 2);
        let nulls = routed_rows(vec![
            ("k", Arc::new(Int64Array::from(vec![None])) as ArrayRef),
            ("a", longs(&[1])),
        ]);
        assert!(joined(&mut op, true, nulls).is_empty());
    }

    #[test]
    fn retractions_retract_what_their_row_joined() {
        for encoded in [false, true] {
            retractions_retract_what_their_row_joined_with(encoded);
        }
    }

    fn retractions_retract_what_their_row_joined_with(encoded: bool) {
        let mut op = opened(spec(true, None), encoded);
        let left = routed_rows(vec![("k", longs(&[1, 1])), ("a", longs(&[10, 11]))]);
        joined(&mut op, true, left);
        let insert = routed_rows(vec![
            ("k", longs(&[1])),
            ("b", longs(&[5])),
            (
                "$row_kind",
                Arc::new(Int8Array::from(vec![RowKind::Insert as i8])) as ArrayRef,
            ),
        ]);
        assert_eq!(
            joined(&mut op, false, insert),
            [vec![1, 10, 1, 5, 0], vec![1, 11, 1, 5, 0]]
        );
        let update = routed_rows(vec![
            ("k", longs(&[1, 1])),
            ("b", longs(&[5, 6])),
            (
                "$row_kind",
                Arc::new(Int8Array::from(vec![
                    RowKind::UpdateBefore as i8,
                    RowKind::UpdateAfter as i8,
                ])) as ArrayRef,
            ),
        ]);
        assert_eq!(
            joined(&mut op, false, update),
            [
                vec![1, 10, 1, 5, 3],
                vec![1, 11, 1, 5, 3],
                vec![1, 10, 1, 6, 0],
                vec![1, 11, 1, 6, 0]
            ]
        );
        // Retracting a row never kept retracts nothing.
        let unknown = routed_rows(vec![
            ("k", longs(&[1])),
            ("b", longs(&[99])),
            (
                "$row_kind",
                Arc::new(Int8Array::from(vec![RowKind::Delete as i8])) as ArrayRef,
            ),
        ]);
        assert!(joined(&mut op, false, unknown).is_empty());
        // Nor does one of a key never seen, which leaves no state for the key behind; a run of
        // one key whose insert is retracted in the same batch joins and retracts it.
        let run = routed_rows(vec![
            ("k", longs(&[7, 1, 1])),
            ("b", longs(&[1, 8, 8])),
            (
                "$row_kind",
                Arc::new(Int8Array::from(vec![
                    RowKind::Delete as i8,
                    RowKind::Insert as i8,
                    RowKind::Delete as i8,
                ])) as ArrayRef,
            ),
        ]);
        assert_eq!(
            joined(&mut op, false, run),
            [
                vec![1, 10, 1, 8, 0],
                vec![1, 11, 1, 8, 0],
                vec![1, 10, 1, 8, 3],
                vec![1, 11, 1, 8, 3]
            ]
        );
        let mut right_keys = Vec::new();
        op.right
            .for_each(&op.store, |key, _| {
                right_keys.push(key.clone());
                Ok(())
            })
            .unwrap();
        assert_eq!(
            right_keys,
            [JoinKey::from_elem(KeyValue::Int(1), 1)],
            "encoded: {encoded}"
        );
    }

    #[test]
    fn the_rest_of_the_condition_filters_joined_rows() {
        // ON l.k = r.k AND a < b
        let a = Expr::column(1, SqlType::BigInt, true);
        let b = Expr::column(3, SqlType::BigInt, true);
        let less = Expr {
            kind: crate::expr::ExprKind::Binary(
                crate::expr::BinaryOp::Lt,
                Box::new(a),
                Box::new(b),
            ),
            ty: SqlType::Boolean,
            nullable: true,
        };
        let mut op = JoinOperator::new(spec(false, Some(less)));
        joined(
            &mut op,
            true,
            routed_rows(vec![("k", longs(&[1])), ("a", longs(&[5]))]),
        );
        let right = routed_rows(vec![("k", longs(&[1, 1])), ("b", longs(&[4, 6]))]);
        assert_eq!(joined(&mut op, false, right), [vec![1, 5, 1, 6]]);
    }

    #[test]
    fn a_window_joins_rows_are_dropped_once_the_watermark_passes_its_end() {
        for encoded in [false, true] {
            a_window_joins_rows_are_dropped_once_the_watermark_passes_its_end_with(encoded);
        }
    }

    fn a_window_joins_rows_are_dropped_once_the_watermark_passes_its_end_with(encoded: bool) {
        // The key is the window's end (a join of window aggregations).
        let mut spec = spec(false, None);
        spec.window_end = Some(0);
        let mut op = opened(spec, encoded);
        joined(
            &mut op,
            true,
            routed_rows(vec![("k", longs(&[10, 2_000])), ("a", longs(&[1, 2]))]),
        );
        let mut out = Output::new(sluice_runtime::task::output::SideOutputs::default());
        op.process_watermark(Watermark(999), &mut out).unwrap();
        let right = routed_rows(vec![("k", longs(&[10, 2_000])), ("b", longs(&[5, 6]))]);
        // Window 10 ended (its last millisecond, 9, and the rest of its second are at or
        // below the watermark): only window 2000 still joins.
        assert_eq!(joined(&mut op, false, right), [vec![2_000, 2, 2_000, 6]]);
        let mut kept_keys = 0;
        op.left
            .for_each(&op.store, |_, _| {
                kept_keys += 1;
                Ok(())
            })
            .unwrap();
        assert_eq!(kept_keys, 1);
    }

    /// A window join (the key is the window's end) over a harness.
    fn window_join(
        encoded: bool,
    ) -> TwoInputHarness<RoutedBatch, RoutedBatch, RowBatch, JoinOperator> {
        window_join_of(encoded, JoinType::Inner)
    }

    /// A window join of `join_type` (the key is the window's end) over a harness.
    fn window_join_of(
        encoded: bool,
        join_type: JoinType,
    ) -> TwoInputHarness<RoutedBatch, RoutedBatch, RowBatch, JoinOperator> {
        let mut spec = spec(false, None);
        spec.window_end = Some(0);
        spec.windowed = true;
        spec.join_type = join_type;
        let context = crate::operators::keyed_state::tests::context(encoded, 0, 1);
        TwoInputHarness::with_context(JoinOperator::new(spec), context)
    }

    fn sorted_rows(batches: Vec<RowBatch>) -> Vec<Vec<i64>> {
        let mut rows: Vec<Vec<i64>> = batches
            .iter()
            .flat_map(|b| {
                (0..b.0.num_rows()).map(|row| {
                    b.0.columns()
                        .iter()
                        .map(|c| {
                            // NULL (an outer join's padding) as the least value.
                            let values = c.as_primitive::<arrow_array::types::Int64Type>();
                            if values.is_null(row) {
                                i64::MIN
                            } else {
                                values.value(row)
                            }
                        })
                        .collect()
                })
            })
            .collect();
        rows.sort();
        rows
    }

    fn watermark_both(
        h: &mut TwoInputHarness<RoutedBatch, RoutedBatch, RowBatch, JoinOperator>,
        at: i64,
    ) {
        h.watermark(1, Watermark(at));
        h.watermark(2, Watermark(at));
    }

    #[test]
    fn a_window_join_joins_each_window_once_and_drops_late_rows_with_either_backend() {
        for encoded in [false, true] {
            let mut h = window_join(encoded);
            h.process1(routed_rows(vec![
                ("k", longs(&[10, 20, 20])),
                ("a", longs(&[1, 2, 3])),
            ]));
            h.process2(routed_rows(vec![
                ("k", longs(&[20, 10])),
                ("b", longs(&[6, 5])),
            ]));
            watermark_both(&mut h, 19);
            let fired = sorted_rows(h.take_values());
            assert_eq!(
                fired,
                [vec![10, 1, 10, 5], vec![20, 2, 20, 6], vec![20, 3, 20, 6]],
                "encoded: {encoded}"
            );
            // Window 20 fired: rows of it now are late and join nothing.
            h.process1(routed_rows(vec![
                ("k", longs(&[20, 30])),
                ("a", longs(&[4, 7])),
            ]));
            h.process2(routed_rows(vec![
                ("k", longs(&[20, 30])),
                ("b", longs(&[8, 9])),
            ]));
            watermark_both(&mut h, i64::MAX);
            assert_eq!(
                sorted_rows(h.take_values()),
                [vec![30, 7, 30, 9]],
                "encoded: {encoded}"
            );
        }
    }

    #[test]
    fn a_window_joins_waiting_rows_restore_into_either_backend() {
        for (from, to) in [(false, false), (false, true), (true, false)] {
            let mut h = window_join(from);
            h.process1(routed_rows(vec![
                ("k", longs(&[10, 10, 20])),
                ("a", longs(&[1, 1, 2])),
            ]));
            let snapshot = h.snapshot();
            let mut restored = window_join(to);
            restored.restore(&snapshot);
            restored.process2(routed_rows(vec![
                ("k", longs(&[10, 20])),
                ("b", longs(&[5, 6])),
            ]));
            watermark_both(&mut restored, i64::MAX);
            assert_eq!(
                sorted_rows(restored.take_values()),
                [vec![10, 1, 10, 5], vec![10, 1, 10, 5], vec![20, 2, 20, 6]],
                "from encoded: {from}, to encoded: {to}"
            );
        }
    }

    #[test]
    fn an_outer_window_join_pads_rows_that_join_nothing_when_their_window_fires() {
        const NULL: i64 = i64::MIN;
        let cases = [
            (
                JoinType::LeftOuter,
                vec![vec![10, 1, NULL, NULL], vec![20, 2, 20, 6]],
            ),
            (
                JoinType::RightOuter,
                vec![vec![NULL, NULL, 30, 9], vec![20, 2, 20, 6]],
            ),
            (
                JoinType::FullOuter,
                vec![
                    vec![NULL, NULL, 30, 9],
                    vec![10, 1, NULL, NULL],
                    vec![20, 2, 20, 6],
                ],
            ),
        ];
        // In memory or in a backend, restored (`to`) or not: rows wait until their window fires.
        let runs = [
            (false, None),
            (true, None),
            (false, Some(false)),
            (true, Some(true)),
            (false, Some(true)),
            (true, Some(false)),
        ];
        for (from, to) in runs {
            for (join_type, expected) in &cases {
                let mut h = window_join_of(from, *join_type);
                h.process1(routed_rows(vec![
                    ("k", longs(&[10, 20])),
                    ("a", longs(&[1, 2])),
                ]));
                h.process2(routed_rows(vec![
                    ("k", longs(&[20, 30])),
                    ("b", longs(&[6, 9])),
                ]));
                if let Some(to) = to {
                    let snapshot = h.snapshot();
                    h = window_join_of(to, *join_type);
                    h.restore(&snapshot);
                }
                // Nothing before a window fires: a row may still find its match.
                watermark_both(&mut h, 8);
                assert!(h.take_values().is_empty());
                // Windows 10 and 20 fire, not 30.
                watermark_both(&mut h, 19);
                let mut fired = sorted_rows(h.take_values());
                let what = format!("{join_type:?}, encoded {from}, restored into {to:?}");
                assert!(fired.iter().all(|row| !row.contains(&30)), "{what}");
                // Window 30 fires at the end; a late row of window 20 joins nothing.
                h.process1(routed_rows(vec![("k", longs(&[20])), ("a", longs(&[5]))]));
                watermark_both(&mut h, i64::MAX);
                fired.extend(sorted_rows(h.take_values()));
                fired.sort();
                assert_eq!(&fired, expected, "{what}");
            }
        }
    }

    /// A join whose left rows go 10 ms after their column `a` (an expiry), over a harness.
    fn expiring_join(
        encoded: bool,
    ) -> TwoInputHarness<RoutedBatch, RoutedBatch, RowBatch, JoinOperator> {
        let mut spec = spec(false, None);
        spec.left.expiry = Some(Expiry {
            column: 1,
            within: 10,
        });
        let context = crate::operators::keyed_state::tests::context(encoded, 0, 1);
        TwoInputHarness::with_context(JoinOperator::new(spec), context)
    }

    #[test]
    fn rows_past_their_expiry_go_and_join_nothing_more_with_either_backend_and_after_restore() {
        for (from, to) in [(false, false), (true, true), (false, true), (true, false)] {
            let mut h = expiring_join(from);
            h.process1(routed_rows(vec![
                ("k", longs(&[1, 1, 2, 3])),
                ("a", longs(&[100, 2_000, 150, 5_000])),
            ]));
            watermark_both(&mut h, 110);
            // 150 + 10 is above the watermark: the row still joins.
            h.process2(routed_rows(vec![("k", longs(&[2])), ("b", longs(&[8]))]));
            assert_eq!(sorted_rows(h.take_values()), [vec![2, 150, 2, 8]]);
            let snapshot = h.snapshot();
            let mut h = expiring_join(to);
            h.restore(&snapshot);
            // 100 + 10 and 150 + 10 are at or below the watermark: those rows went (key 2 with
            // its only row), key 1 keeps its later row.
            watermark_both(&mut h, 1_999);
            h.process2(routed_rows(vec![
                ("k", longs(&[1, 2, 3])),
                ("b", longs(&[7, 8, 9])),
            ]));
            assert_eq!(
                sorted_rows(h.take_values()),
                [vec![1, 2_000, 1, 7], vec![3, 5_000, 3, 9]],
                "from encoded: {from}, to encoded: {to}"
            );
        }
    }
}
