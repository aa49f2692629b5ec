//! Window aggregation of the window table functions (`TUMBLE`, `HOP`, `CUMULATE`, `SESSION`):
//! rows are assigned to their windows by the rowtime column (sessions of a key merge when they
//! come within the gap of each other), aggregated per window and key, and a window
//! is emitted — `keys…, window_start, window_end, window_time, aggregates…` — once the
//! watermark reaches its end − 1 ms. Rows of windows already emitted are late and dropped, as
//! Flink drops them.
//!
//! Checkpoints hold the open windows' accumulators by the key group of their key, and how far
//! each key group has fired, so a job restores them at any parallelism: a restored subtask
//! keeps its key groups' windows and drops a replayed row whose window had already fired.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMillisecondType;
use arrow_array::{Array, ArrayRef, RecordBatch, TimestampMillisecondArray};
use arrow_schema::SchemaRef;
use rustc_hash::FxHashMap;
use sluice_core::key_group::KeyGroupRange;
use sluice_core::{Record, Timestamp, UserResult, Watermark};
use sluice_runtime::task::operator::{
    OneInputOperator, OperatorContext, StreamOperator, WatermarkOut,
};
use sluice_runtime::task::output::Output;
use sluice_state::OperatorSnapshot;
use sluice_state::codec::{decode, encode};
use smallvec::SmallVec;

use super::key_split::RoutedBatch;
use super::open_windows::{HashedKey, OpenWindows, Window};
use super::sessions::Sessions;
pub use super::window_kind::WindowKind;
use super::window_kind::{fires_at, window_fired};
use crate::aggregate::{Accumulator, AggCall, accumulated_columns, arguments_of};
use crate::batch::RowBatch;
use crate::key::{KeyValue, columns_of, key_column, key_group_of, row_key};
use crate::types::SqlType;

/// What the operator computes.
#[derive(Debug, Clone)]
pub struct WindowAggSpec {
    /// The windows.
    pub kind: WindowKind,
    /// The rowtime column of the input.
    pub time_column: usize,
    /// The grouping keys (input column, type).
    pub keys: Vec<(usize, SqlType)>,
    /// The aggregates.
    pub aggregates: Vec<AggCall>,
    /// `keys…, window_start, window_end, window_time, aggregates…`.
    pub schema: SchemaRef,
}

/// The checkpointed states: open windows' accumulators, and each key group's fired-through time.
const STATES: [&str; 2] = ["sql-window-accumulators", "sql-window-progress"];

/// The window aggregation operator.
pub struct WindowAggOperator {
    spec: WindowAggSpec,
    /// Open windows (all but sessions), in memory or in the job's state backend.
    windows: OpenWindows,
    /// Open session windows.
    sessions: Sessions,
    progress: Progress,
    assigned: Vec<(Timestamp, Timestamp)>,
    late_rows: u64,
    key_groups: KeyGroupRange,
    /// The watermark whose windows are still being emitted, a part at a time.
    firing: Option<Timestamp>,
}

/// About how many rows one part of a firing emits (whole windows): many windows firing at
/// once go out in parts, each handed on before the next is built.
pub const ROWS_PER_PART: usize = 4 * 1024;

/// How far windows have fired: this run's watermark and, after a restore, each key group's
/// fired-through time before it.
#[derive(Debug)]
struct Progress {
    watermark: Timestamp,
    max_parallelism: usize,
    restored: FxHashMap<usize, Timestamp>,
    restored_through: Timestamp,
}

impl Progress {
    fn key_group(&self, key: &[KeyValue]) -> usize {
        key_group_of(key, self.max_parallelism)
    }

    /// Whether the window ending at `end` has fired for `key`: by this run's watermark, or
    /// before the restore this run started from.
    fn fired(&self, end: Timestamp, key: &[KeyValue]) -> bool {
        window_fired(end, self.watermark) || self.fired_before_restore(end, key)
    }

    /// Whether the window ending at `end` had fired for `key` before the restore this run
    /// started from (its rows replayed since must not count again).
    fn fired_before_restore(&self, end: Timestamp, key: &[KeyValue]) -> bool {
        window_fired(end, self.restored_through)
            && self
                .restored
                .get(&self.key_group(key))
                .is_some_and(|progress| window_fired(end, *progress))
    }
}

impl WindowAggOperator {
    /// An operator computing `spec`.
    pub fn new(spec: WindowAggSpec) -> Self {
        let windows = OpenWindows::new(
            STATES[0],
            &spec.aggregates,
            spec.kind.one_slice_per_window(),
        );
        let sessions = Sessions::new(STATES[0], &spec.aggregates);
        WindowAggOperator {
            spec,
            windows,
            sessions,
            progress: Progress {
                watermark: Timestamp::MIN,
                max_parallelism: sluice_core::DEFAULT_MAX_PARALLELISM,
                restored: FxHashMap::default(),
                restored_through: Timestamp::MIN,
            },
            assigned: Vec::new(),
            late_rows: 0,
            key_groups: KeyGroupRange::for_subtask(sluice_core::DEFAULT_MAX_PARALLELISM, 1, 0),
            firing: None,
        }
    }

    fn is_session(&self) -> bool {
        matches!(self.spec.kind, WindowKind::Session { .. })
    }

    fn add(&mut self, batch: &RecordBatch) -> UserResult {
        let times = batch
            .column(self.spec.time_column)
            .as_primitive::<TimestampMillisecondType>()
            .clone();
        let ends = (self.spec.kind == WindowKind::Attached).then(|| {
            batch
                .column(self.spec.time_column + 1)
                .as_primitive::<TimestampMillisecondType>()
                .clone()
        });
        let keys = columns_of(batch, &self.spec.keys);
        let args = arguments_of(batch, &self.spec.aggregates);
        let session = self.is_session();
        if session {
            self.sessions.keep_batch(&args)?;
        }
        for row in 0..batch.num_rows() {
            if times.is_null(row) {
                continue;
            }
            let ts = times.value(row);
            // A window aggregation's window `(end, start)` the row is in.
            let attached = match &ends {
                Some(ends) if ends.is_valid(row) => Some((ends.value(row), ts)),
                Some(_) => continue,
                None => None,
            };
            // Most keys are a column or two: built in place, no allocation per row.
            let key: SmallVec<[KeyValue; 2]> = row_key(&keys, row);
            let add_row = |accumulators: &mut [Accumulator]| {
                for (acc, arg) in accumulators.iter_mut().zip(&args) {
                    acc.add(
                        arg.as_ref()
                            .map(|(a, ty)| (a.as_ref() as &dyn arrow_array::Array, ty)),
                        row,
                    );
                }
            };
            let (kind, watermark) = (self.spec.kind, self.progress.watermark);
            if let Some(slices) = self.windows.slices().filter(|_| !session) {
                let slice = attached.unwrap_or_else(|| kind.slice(ts));
                // The windows of a new slice, but those the watermark already fired.
                let windows_of_slice = |into: &mut Vec<Window>| {
                    match attached {
                        Some(window) => into.push(window),
                        None => {
                            let mut assigned = Vec::new();
                            kind.windows(ts, &mut assigned);
                            into.extend(assigned.iter().map(|&(start, end)| (end, start)));
                        }
                    }
                    into.retain(|(end, _)| !window_fired(*end, watermark));
                };
                if !slices.add(slice, HashedKey::new(&key), windows_of_slice, add_row) {
                    self.late_rows += 1;
                }
                continue;
            }
            match attached {
                Some((end, start)) => {
                    self.assigned.clear();
                    self.assigned.push((start, end));
                }
                None => self.spec.kind.windows(ts, &mut self.assigned),
            }
            for &(start, end) in &self.assigned {
                let progress = &self.progress;
                let calls = &self.spec.aggregates;
                if session {
                    let fired = |end| progress.fired(end, &key);
                    if !self.sessions.add(&key, (start, end), fired, row, add_row)? {
                        self.late_rows += 1;
                    }
                } else if progress.fired(end, &key) {
                    self.late_rows += 1;
                } else {
                    self.windows
                        .add((end, start), HashedKey::new(&key), calls, add_row)?;
                }
            }
        }
        Ok(())
    }

    /// Emits (and forgets) the windows ending at or before `watermark + 1`, in order of their
    /// ends, each followed by the watermark of its last millisecond (no later row of this
    /// operator is that early), so the operators after it go on window by window. Stops after
    /// a part of about [`ROWS_PER_PART`] rows; returns whether windows are left to emit.
    fn fire(&mut self, watermark: Timestamp, out: &mut Output<RowBatch>) -> UserResult<bool> {
        let mut rows_out = 0;
        loop {
            let (spec, progress) = (&self.spec, &self.progress);
            let mut fired = None;
            self.windows.fire_first(
                watermark,
                |(end, _), key| progress.fired_before_restore(end, key),
                |(end, start), (keys, accumulators)| {
                    rows_out += keys.len();
                    let batch = (!keys.is_empty())
                        .then(|| {
                            let aggregates = accumulated_columns(&spec.aggregates, &accumulators);
                            window_batch(spec, &keys, |_| (start, end), aggregates)
                        })
                        .transpose()?;
                    fired = Some((end, batch));
                    Ok(())
                },
            )?;
            // Set when a window fired.
            let Some((end, batch)) = fired else {
                break;
            };
            if let Some(batch) = batch {
                out.emit(RowBatch(batch), Some(fires_at(end)));
            }
            out.emit_watermark(Watermark(fires_at(end)));
            if rows_out >= ROWS_PER_PART {
                self.firing = Some(watermark);
                return Ok(true);
            }
        }
        self.firing = None;
        let (closed, left) = self.sessions.close(watermark, ROWS_PER_PART)?;
        let sessions = &closed.sessions;
        if let Some(last) = sessions.iter().map(|c| fires_at(c.2)).max() {
            let keys: Vec<&[KeyValue]> = sessions.iter().map(|c| &*c.0).collect();
            let bounds = |i: usize| (sessions[i].1, sessions[i].2);
            let batch = window_batch(&self.spec, &keys, bounds, closed.aggregates)?;
            out.emit(RowBatch(batch), Some(last));
        }
        if let Some(next_end) = left {
            // A session left open emits its row at its end − 1 or later.
            out.emit_watermark(Watermark(next_end - 2));
            self.firing = Some(watermark);
            return Ok(true);
        }
        Ok(false)
    }
}

/// The output rows of fired windows: keys, window columns (`bounds` of each row: start, end),
/// aggregates' columns.
fn window_batch(
    spec: &WindowAggSpec,
    keys: &[&[KeyValue]],
    bounds: impl Fn(usize) -> (Timestamp, Timestamp),
    aggregates: Vec<ArrayRef>,
) -> UserResult<RecordBatch> {
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (i, (_, ty)) in spec.keys.iter().enumerate() {
        columns.push(key_column(keys.iter().map(|key| &key[i]), ty));
    }
    let rows = 0..keys.len();
    let times: [&dyn Fn(usize) -> Timestamp; 3] =
        [&|r| bounds(r).0, &|r| bounds(r).1, &|r| bounds(r).1 - 1];
    for time in times {
        let values = TimestampMillisecondArray::from_iter_values(rows.clone().map(time));
        columns.push(Arc::new(values));
    }
    columns.extend(aggregates);
    Ok(RecordBatch::try_new(Arc::clone(&spec.schema), columns)?)
}

impl StreamOperator<RoutedBatch, RowBatch> for WindowAggOperator {
    fn open(&mut self, ctx: &OperatorContext) -> UserResult {
        self.progress.max_parallelism = ctx.max_parallelism;
        self.key_groups = ctx.key_groups();
        if self.is_session() {
            self.sessions.open(ctx, &self.spec.aggregates)
        } else {
            self.windows.open(ctx)
        }
    }

    fn snapshot_state(&mut self, snapshot: &mut OperatorSnapshot) -> UserResult {
        let progress = STATES[1];
        let key_group = |key: &[KeyValue]| self.progress.key_group(key);
        if self.is_session() {
            self.sessions.snapshot(snapshot, key_group)?;
        } else {
            let progress = &self.progress;
            self.windows
                .snapshot(snapshot, key_group, |(end, _), key| {
                    progress.fired_before_restore(end, key)
                })?;
        }
        for group in self.key_groups.iter() {
            let restored = self.progress.restored.get(&group).copied();
            let watermark = self.progress.watermark;
            let fired_through = restored.map_or(watermark, |r| r.max(watermark));
            snapshot.keyed.push(
                group,
                progress,
                Vec::new(),
                encode(progress, &fired_through)?,
            );
        }
        Ok(())
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> UserResult {
        self.windows.notify_checkpoint_complete(checkpoint_id);
        self.sessions.notify_checkpoint_complete(checkpoint_id);
        Ok(())
    }

    fn restore_state(&mut self, restored: &OperatorSnapshot) -> UserResult {
        let progress = STATES[1];
        if self.is_session() {
            self.sessions.restore(restored)?;
        } else {
            self.windows.restore(restored)?;
        }
        for (group, _, fired_through) in restored.keyed.entries(progress) {
            let fired_through: Timestamp = decode(progress, fired_through)?;
            let entry = self.progress.restored.entry(group).or_insert(fired_through);
            *entry = (*entry).max(fired_through);
            self.progress.restored_through = self.progress.restored_through.max(fired_through);
        }
        Ok(())
    }
    fn process_watermark(
        &mut self,
        watermark: Watermark,
        out: &mut Output<RowBatch>,
    ) -> WatermarkOut {
        self.progress.watermark = self.progress.watermark.max(watermark.0);
        self.fire(watermark.0, out)?;
        Ok(Some(watermark))
    }

    fn emit_pending(&mut self, out: &mut Output<RowBatch>) -> UserResult<bool> {
        match self.firing {
            Some(watermark) => self.fire(watermark, out),
            None => Ok(false),
        }
    }

    fn close(&mut self) -> UserResult {
        if self.late_rows > 0 {
            tracing::info!("window aggregation dropped {} late rows", self.late_rows);
        }
        Ok(())
    }
}

impl OneInputOperator<RoutedBatch, RowBatch> for WindowAggOperator {
    fn process_batch(
        &mut self,
        batch: &mut Vec<Record<RoutedBatch>>,
        _out: &mut Output<RowBatch>,
    ) -> UserResult {
        for record in batch.drain(..) {
            self.add(&record.value.batch.0)?;
        }
        if self.is_session() {
            self.sessions.flush()?;
        }
        Ok(())
    }

    /// A bounded input ends with every window emitted (Flink's final `MAX_WATERMARK`).
    fn end_input(&mut self, out: &mut Output<RowBatch>) -> UserResult {
        self.fire(Timestamp::MAX, out).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::AggKind;
    use crate::expr::bind::{Scope, ScopeColumn};
    use arrow_array::{Int64Array, TimestampMillisecondArray};
    use sluice_runtime::harness::OneInputHarness;

    /// Rows `(key, time)` as the window operator's input: time first, then the key.
    fn rows(rows: &[(i64, i64)]) -> Record<RoutedBatch> {
        let times = TimestampMillisecondArray::from(rows.iter().map(|r| r.1).collect::<Vec<_>>());
        let keys = Int64Array::from(rows.iter().map(|r| r.0).collect::<Vec<_>>());
        super::super::key_split::routed_rows(vec![
            ("t", Arc::new(times) as ArrayRef),
            ("k", Arc::new(keys)),
        ])
    }

    fn counting_tumble() -> WindowAggOperator {
        let mut scope = Scope {
            columns: vec![ScopeColumn::new("k", SqlType::BigInt, true)],
        };
        for name in ["window_start", "window_end", "window_time"] {
            scope
                .columns
                .push(ScopeColumn::new(name, SqlType::Timestamp(3), false));
        }
        scope
            .columns
            .push(ScopeColumn::new("c", SqlType::BigInt, false));
        WindowAggOperator::new(WindowAggSpec {
            kind: WindowKind::Tumble { size: 10 },
            time_column: 0,
            keys: vec![(1, SqlType::BigInt)],
            aggregates: vec![AggCall::new(AggKind::CountStar, None).unwrap()],
            schema: scope.arrow_schema(),
        })
    }

    #[test]
    fn many_windows_fire_in_parts_each_followed_by_its_watermark() {
        let mut harness = OneInputHarness::new(counting_tumble());
        // Four windows of 30,000 keys each: more rows than one part.
        let keys = 30_000;
        for window in 0..4 {
            let window_rows: Vec<(i64, i64)> = (0..keys).map(|k| (k, window * 10)).collect();
            harness.process(rows(&window_rows));
        }
        harness.watermark(Watermark(100));
        let emitted = emitted(&mut harness);
        assert_eq!(emitted.len(), 4 * keys as usize);
        assert!(emitted.iter().all(|&(_, _, count)| count == 1));
        let marks: Vec<i64> = harness.watermarks().iter().map(|w| w.0).collect();
        assert_eq!(marks, [9, 19, 29, 39, 100]);
    }

    /// `(key, window_start, count)` of the emitted rows.
    fn emitted(
        harness: &mut OneInputHarness<RoutedBatch, RowBatch, WindowAggOperator>,
    ) -> Vec<(i64, i64, i64)> {
        counts(harness.take_values())
    }

    /// `(key, window_start, count)` of the rows of `batches`, each batch's sorted (a window's
    /// rows come in no particular order).
    fn counts(batches: Vec<RowBatch>) -> Vec<(i64, i64, i64)> {
        let mut out = Vec::new();
        for batch in batches {
            let b = &batch.0;
            let first = out.len();
            for row in 0..b.num_rows() {
                out.push((
                    b.column(0)
                        .as_primitive::<arrow_array::types::Int64Type>()
                        .value(row),
                    b.column(1)
                        .as_primitive::<TimestampMillisecondType>()
                        .value(row),
                    b.column(4)
                        .as_primitive::<arrow_array::types::Int64Type>()
                        .value(row),
                ));
            }
            out[first..].sort();
        }
        out
    }

    /// The rows a window operator restored into `parallelism` subtasks emits: `before` and a
    /// watermark go to one subtask, which is snapshotted; `after` to the owners of the keys.
    fn run_restored(
        kind: WindowKind,
        before: &[(i64, i64)],
        watermark: i64,
        after: &[(i64, i64)],
        (parallelism, encoded): (usize, bool),
    ) -> Vec<(i64, i64, i64)> {
        use sluice_runtime::harness::{Input, run_with_restore_on};
        let before = [
            Input::Record(rows(before)),
            Input::Watermark(Watermark(watermark)),
        ];
        let after: Vec<_> = after
            .iter()
            .map(|row| Input::Record(rows(&[*row])))
            .collect();
        let key_group = |routed: &RoutedBatch| {
            let keys = routed
                .batch
                .0
                .column(1)
                .as_primitive::<arrow_array::types::Int64Type>();
            let key = vec![KeyValue::Int(keys.value(0))];
            key_group_of(&key, sluice_core::DEFAULT_MAX_PARALLELISM)
        };
        let backend = crate::operators::keyed_state::tests::context(encoded, 0, 1).state_backend;
        let make = || {
            let mut op = counting_tumble();
            op.spec.kind = kind;
            op
        };
        let batches = run_with_restore_on(backend, make, &before, &after, parallelism, key_group);
        let mut out = counts(batches);
        out.sort();
        out
    }

    #[test]
    fn restores_windows_at_another_parallelism() {
        let before = [(1, 3), (2, 5), (3, 14), (1, 12), (4, 15)];
        // (1, 7) is late: its window fired before the checkpoint.
        let after = [(1, 7), (2, 16), (3, 18), (1, 21)];
        let expected = [
            (1, 0, 1),
            (1, 10, 1),
            (1, 20, 1),
            (2, 0, 1),
            (2, 10, 1),
            (3, 10, 2),
            (4, 10, 1),
        ];
        let tumble = WindowKind::Tumble { size: 10 };
        for run in runs() {
            assert_eq!(
                run_restored(tumble, &before, 9, &after, run),
                expected,
                "restored at parallelism and in a backend: {run:?}"
            );
        }
    }

    /// Restores at parallelism 1, 2 and 3, with state in memory and in a backend.
    fn runs() -> impl Iterator<Item = (usize, bool)> {
        [1, 2, 3].into_iter().flat_map(|p| [(p, false), (p, true)])
    }

    #[test]
    fn restores_sessions_at_another_parallelism() {
        // Keys 1 and 2 fire before the checkpoint, 3's session stays open.
        let before = [(1, 3), (2, 5), (3, 14)];
        // (1, 4) is late: its session [4, 9) would have fired; (3, 16) extends [14, 19).
        let after = [(1, 4), (3, 16), (2, 30)];
        let expected = [(1, 3, 1), (2, 5, 1), (2, 30, 1), (3, 14, 2)];
        let sessions = WindowKind::Session { gap: 5 };
        for run in runs() {
            assert_eq!(
                run_restored(sessions, &before, 9, &after, run),
                expected,
                "restored at parallelism and in a backend: {run:?}"
            );
        }
    }

    #[test]
    fn sessions_merge_and_fire_at_their_end() {
        for encoded in [false, true] {
            sessions_merge_and_fire_with(encoded);
        }
    }

    fn sessions_merge_and_fire_with(encoded: bool) {
        use crate::operators::keyed_state::tests::context;
        let mut op = counting_tumble();
        op.spec.kind = WindowKind::Session { gap: 5 };
        let mut harness = OneInputHarness::with_context(op, context(encoded, 0, 1));
        // Key 1: 0, 3 and 6 merge into [0, 11); 12 is a session of its own. Key 2: [4, 9) and
        // [9, 14) touch, so they merge.
        harness.process(rows(&[(1, 0), (1, 12), (2, 4), (1, 3)]));
        harness.process(rows(&[(1, 6), (2, 9)]));
        harness.watermark(Watermark(10));
        assert_eq!(emitted(&mut harness), [(1, 0, 3)], "[0, 11) fires at 10");
        // 14 joins [12, 17).
        harness.process(rows(&[(1, 14)]));
        harness.end_input();
        assert_eq!(emitted(&mut harness), [(1, 12, 2), (2, 4, 2)]);
    }

    #[test]
    fn windows_fire_at_end_minus_one_and_late_rows_are_dropped() {
        let mut harness = OneInputHarness::new(counting_tumble());
        harness.process(rows(&[(1, 3), (2, 5), (1, 9), (1, 12)]));
        harness.watermark(Watermark(8));
        assert!(
            emitted(&mut harness).is_empty(),
            "window [0, 10) fires at 9, not 8"
        );
        harness.watermark(Watermark(9));
        assert_eq!(emitted(&mut harness), [(1, 0, 2), (2, 0, 1)]);
        // Late: its window [0, 10) fired already. On time: [10, 20) is open.
        harness.process(rows(&[(1, 7), (2, 15)]));
        harness.end_input();
        assert_eq!(emitted(&mut harness), [(1, 10, 1), (2, 10, 1)]);
    }

    fn windows(kind: WindowKind, ts: Timestamp) -> Vec<(Timestamp, Timestamp)> {
        let mut out = Vec::new();
        kind.windows(ts, &mut out);
        out.sort();
        out
    }

    #[test]
    fn assigns_rows_to_their_windows() {
        assert_eq!(windows(WindowKind::Tumble { size: 10 }, 12), [(10, 20)]);
        assert_eq!(windows(WindowKind::Tumble { size: 10 }, -1), [(-10, 0)]);
        assert_eq!(
            windows(WindowKind::Hop { slide: 5, size: 10 }, 12),
            [(5, 15), (10, 20)]
        );
        assert_eq!(
            windows(WindowKind::Cumulate { step: 2, size: 6 }, 3),
            [(0, 4), (0, 6)]
        );
        assert_eq!(
            windows(WindowKind::Cumulate { step: 2, size: 6 }, 8),
            [(6, 10), (6, 12)]
        );
    }

    #[test]
    fn attached_windows_come_from_the_rows_start_and_end() {
        // Input: window_start, window_end, key (a window aggregation's output aggregated again).
        let mut op = counting_tumble();
        op.spec.kind = WindowKind::Attached;
        op.spec.keys = vec![(2, SqlType::BigInt)];
        let mut harness = OneInputHarness::new(op);
        let column = |values: &[i64]| TimestampMillisecondArray::from(values.to_vec());
        harness.process(super::super::key_split::routed_rows(vec![
            ("s", Arc::new(column(&[0, 0, 5, 0])) as ArrayRef),
            ("e", Arc::new(column(&[10, 10, 15, 10]))),
            ("k", Arc::new(Int64Array::from(vec![1, 1, 1, 2]))),
        ]));
        harness.watermark(Watermark(9));
        assert_eq!(emitted(&mut harness), [(1, 0, 2), (2, 0, 1)]);
        harness.watermark(Watermark(14));
        assert_eq!(emitted(&mut harness), [(1, 5, 1)]);
    }
}
