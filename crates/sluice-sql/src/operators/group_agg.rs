//! Group aggregation without windows (`GROUP BY k` over an unbounded stream): each row updates
//! its key's accumulators and the operator emits the change, as Flink's `GroupAggFunction`
//! does without mini-batches — `+I` for a key's first result, `-U` of the previous and `+U` of
//! the new result when it changed, nothing when it did not. Its output is a changelog: the
//! keys, the aggregates and a trailing row-kind column ([`RowKind`] codes).

use std::sync::Arc;

use arrow_array::{ArrayRef, Int8Array, RecordBatch};
use arrow_schema::SchemaRef;
use serde::{Deserialize, Serialize};
use sluice_core::{Record, UserResult};
use sluice_runtime::task::operator::{OneInputOperator, OperatorContext, StreamOperator};
use sluice_runtime::task::output::Output;
use sluice_state::OperatorSnapshot;

use super::key_split::RoutedBatch;
use super::keyed_state::{KeyedValues, StateStore};
use crate::aggregate::{Accumulator, AggCall, arguments_of, result_column};
use crate::batch::RowBatch;
use crate::key::{KeyValue, columns_of, key_column, row_key};
use crate::types::SqlType;

/// The name of the row-kind column of a changelog's batches.
pub const ROW_KIND_COLUMN: &str = "$row_kind";

/// Flink's row kinds, by their byte codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i8)]
pub enum RowKind {
    /// `+I`: a new row.
    Insert = 0,
    /// `-U`: the row as it was before an update.
    UpdateBefore = 1,
    /// `+U`: the row as it is after an update.
    UpdateAfter = 2,
    /// `-D`: a deleted row.
    Delete = 3,
}

impl RowKind {
    /// The kind of a code of the row-kind column.
    pub fn from_code(code: i8) -> RowKind {
        match code {
            1 => RowKind::UpdateBefore,
            2 => RowKind::UpdateAfter,
            3 => RowKind::Delete,
            _ => RowKind::Insert,
        }
    }

    /// Flink's short string: `+I`, `-U`, `+U`, `-D`.
    pub fn short(self) -> &'static str {
        match self {
            RowKind::Insert => "+I",
            RowKind::UpdateBefore => "-U",
            RowKind::UpdateAfter => "+U",
            RowKind::Delete => "-D",
        }
    }
}

/// What the operator computes.
#[derive(Debug, Clone)]
pub struct GroupAggSpec {
    /// The grouping keys (input column, type).
    pub keys: Vec<(usize, SqlType)>,
    /// The aggregates.
    pub aggregates: Vec<AggCall>,
    /// `keys…, aggregates…, row kind` (no row kind when `final_only`).
    pub schema: SchemaRef,
    /// Batch mode: one `+I` per key with its final result when the input ends, instead of a
    /// changelog as the rows arrive.
    pub final_only: bool,
}

/// One key's state: its accumulators and the result last emitted.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Group {
    accumulators: Vec<Accumulator>,
    emitted: Option<Vec<KeyValue>>,
}

/// A key, its result, and how the result changed.
type Change = (Vec<KeyValue>, Vec<KeyValue>, RowKind);

/// The checkpointed state: each key's group.
const STATE: &str = "sql-group-aggregates";

/// The group aggregation operator.
pub struct GroupAggOperator {
    spec: GroupAggSpec,
    groups: KeyedValues<Vec<KeyValue>, Group>,
    store: StateStore,
}

impl GroupAggOperator {
    /// An operator computing `spec`.
    pub fn new(spec: GroupAggSpec) -> Self {
        GroupAggOperator {
            spec,
            groups: KeyedValues::new(STATE),
            store: StateStore::default(),
        }
    }

    /// Updates the groups with `batch` and returns the changes, in row order (none when only
    /// final results are emitted).
    fn changes(&mut self, batch: &RecordBatch) -> UserResult<Option<RecordBatch>> {
        let keys = columns_of(batch, &self.spec.keys);
        let args = arguments_of(batch, &self.spec.aggregates);
        let mut changes: Vec<Change> = Vec::new();
        let calls = &self.spec.aggregates;
        let final_only = self.spec.final_only;
        for row in 0..batch.num_rows() {
            let key = row_key(&keys, row);
            let new_group = || Group {
                accumulators: calls.iter().map(Accumulator::new).collect(),
                emitted: None,
            };
            let change = self
                .groups
                .modify(&mut self.store, &key, new_group, |group| {
                    for (acc, arg) in group.accumulators.iter_mut().zip(&args) {
                        acc.add(
                            arg.as_ref()
                                .map(|(a, ty)| (a.as_ref() as &dyn arrow_array::Array, ty)),
                            row,
                        );
                    }
                    if final_only {
                        return None;
                    }
                    let result: Vec<KeyValue> = group
                        .accumulators
                        .iter()
                        .zip(calls)
                        .map(|(a, c)| a.value(c))
                        .collect();
                    match group.emitted.replace(result.clone()) {
                        None => Some((result, None)),
                        Some(before) if before != result => Some((result, Some(before))),
                        Some(_) => None,
                    }
                })?;
            match change {
                Some((result, None)) => changes.push((key, result, RowKind::Insert)),
                Some((result, Some(before))) => {
                    changes.push((key.clone(), before, RowKind::UpdateBefore));
                    changes.push((key, result, RowKind::UpdateAfter));
                }
                None => {}
            }
        }
        self.batch_of(&changes)
    }

    /// Every key's final result as an insert.
    fn final_results(&self) -> UserResult<Option<RecordBatch>> {
        let calls = &self.spec.aggregates;
        let mut results: Vec<Change> = Vec::new();
        self.groups.for_each(&self.store, |key, group| {
            let values = group
                .accumulators
                .iter()
                .zip(calls)
                .map(|(a, c)| a.value(c))
                .collect();
            results.push((key.to_vec(), values, RowKind::Insert));
            Ok(())
        })?;
        self.batch_of(&results)
    }

    /// The batch of `changes`: keys, results, row kinds.
    fn batch_of(&self, changes: &[Change]) -> UserResult<Option<RecordBatch>> {
        if changes.is_empty() {
            return Ok(None);
        }
        let mut columns: Vec<ArrayRef> = Vec::new();
        for (i, (_, ty)) in self.spec.keys.iter().enumerate() {
            columns.push(key_column(changes.iter().map(|c| &c.0[i]), ty));
        }
        for (i, call) in self.spec.aggregates.iter().enumerate() {
            columns.push(result_column(call, changes.iter().map(|c| &c.1[i])));
        }
        if !self.spec.final_only {
            columns.push(Arc::new(
                changes.iter().map(|c| c.2 as i8).collect::<Int8Array>(),
            ));
        }
        Ok(Some(RecordBatch::try_new(
            Arc::clone(&self.spec.schema),
            columns,
        )?))
    }
}

impl StreamOperator<RoutedBatch, RowBatch> for GroupAggOperator {
    fn open(&mut self, ctx: &OperatorContext) -> UserResult {
        self.store.open(ctx, &mut [&mut self.groups])
    }

    fn snapshot_state(&mut self, snapshot: &mut OperatorSnapshot) -> UserResult {
        self.groups.snapshot(&self.store, snapshot)?;
        self.store.snapshot(snapshot)
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> UserResult {
        self.store.notify_checkpoint_complete(checkpoint_id);
        Ok(())
    }

    fn restore_state(&mut self, restored: &OperatorSnapshot) -> UserResult {
        self.groups.restore(&mut self.store, restored)
    }
}

impl OneInputOperator<RoutedBatch, RowBatch> for GroupAggOperator {
    fn process_batch(
        &mut self,
        batch: &mut Vec<Record<RoutedBatch>>,
        out: &mut Output<RowBatch>,
    ) -> UserResult {
        for record in batch.drain(..) {
            if let Some(changes) = self.changes(&record.value.batch.0)? {
                out.emit(RowBatch(changes), record.timestamp);
            }
        }
        Ok(())
    }

    fn end_input(&mut self, out: &mut Output<RowBatch>) -> UserResult {
        if self.spec.final_only
            && let Some(results) = self.final_results()?
        {
            out.emit(RowBatch(results), None);
        }
        Ok(())
    }
}

/// The column of row kinds of a changelog batch's last column.
pub fn row_kinds(batch: &RecordBatch) -> Option<&Int8Array> {
    let last = batch.schema().fields().last()?.name().clone();
    (last == ROW_KIND_COLUMN).then(|| {
        batch
            .column(batch.num_columns() - 1)
            .as_any()
            .downcast_ref::<Int8Array>()
    })?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::AggKind;
    use crate::expr::bind::{Scope, ScopeColumn};
    use crate::key::key_group_of;
    use arrow_array::Int64Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    use sluice_runtime::harness::OneInputHarness;

    fn counting() -> GroupAggOperator {
        counting_with(false)
    }

    fn counting_with(final_only: bool) -> GroupAggOperator {
        let mut scope = Scope {
            columns: vec![ScopeColumn::new("k", SqlType::BigInt, true)],
        };
        scope
            .columns
            .push(ScopeColumn::new("m", SqlType::BigInt, true));
        if !final_only {
            scope
                .columns
                .push(ScopeColumn::new(ROW_KIND_COLUMN, SqlType::TinyInt, false));
        }
        GroupAggOperator::new(GroupAggSpec {
            keys: vec![(0, SqlType::BigInt)],
            aggregates: vec![AggCall::new(AggKind::Max, Some((1, SqlType::BigInt))).unwrap()],
            schema: scope.arrow_schema(),
            final_only,
        })
    }

    fn rows(rows: &[(i64, i64)]) -> Record<RoutedBatch> {
        let column = |f: fn(&(i64, i64)) -> i64| {
            Arc::new(Int64Array::from(rows.iter().map(f).collect::<Vec<_>>())) as ArrayRef
        };
        super::super::key_split::routed_rows(vec![("k", column(|r| r.0)), ("v", column(|r| r.1))])
    }

    #[test]
    fn emits_a_changelog_without_unchanged_results() {
        let mut harness = OneInputHarness::new(counting());
        harness.process(rows(&[(1, 5), (2, 1), (1, 3), (1, 9)]));
        // MAX(1) stays 5 after the 3: no change is emitted for it.
        assert_eq!(
            changes(harness.take_values()),
            [("+I", 1, 5), ("+I", 2, 1), ("-U", 1, 5), ("+U", 1, 9)]
        );
    }

    #[test]
    fn groups_kept_in_a_state_backend_give_the_same_changelog_and_restore_in_memory() {
        use crate::operators::keyed_state::tests::context;
        let mut harness = OneInputHarness::with_context(counting(), context(true, 0, 1));
        harness.process(rows(&[(1, 5), (2, 1), (1, 3), (1, 9)]));
        assert_eq!(
            changes(harness.take_values()),
            [("+I", 1, 5), ("+I", 2, 1), ("-U", 1, 5), ("+U", 1, 9)]
        );
        let snapshot = harness.snapshot();
        let mut restored = OneInputHarness::with_context(counting(), context(false, 0, 1));
        restored.restore(&snapshot);
        restored.process(rows(&[(1, 4), (2, 6)]));
        assert_eq!(
            changes(restored.take_values()),
            [("-U", 2, 1), ("+U", 2, 6)]
        );
    }

    #[test]
    fn batch_mode_emits_each_keys_final_result_at_the_end() {
        for encoded in [false, true] {
            batch_mode_final_results(encoded);
        }
    }

    fn batch_mode_final_results(encoded: bool) {
        use crate::operators::keyed_state::tests::context;
        let mut harness =
            OneInputHarness::with_context(counting_with(true), context(encoded, 0, 1));
        harness.process(rows(&[(1, 5), (2, 1), (1, 9)]));
        assert!(harness.take_values().is_empty(), "nothing before the end");
        harness.end_input();
        let mut finals: Vec<(i64, i64)> = Vec::new();
        for batch in harness.take_values() {
            assert!(row_kinds(&batch.0).is_none(), "inserts only: no row kinds");
            let (keys, maxes) = (batch.0.column(0), batch.0.column(1));
            for r in 0..batch.0.num_rows() {
                finals.push((
                    keys.as_primitive::<Int64Type>().value(r),
                    maxes.as_primitive::<Int64Type>().value(r),
                ));
            }
        }
        finals.sort();
        assert_eq!(finals, [(1, 9), (2, 1)]);
    }

    #[test]
    fn restored_groups_go_on_from_their_last_result_at_another_parallelism() {
        use sluice_runtime::harness::{Input, run_with_restore_on};
        let before = [Input::Record(rows(&[(1, 5), (2, 1), (3, 7)]))];
        let after: Vec<_> = [(1, 3), (2, 4), (3, 8), (4, 2)]
            .iter()
            .map(|row| Input::Record(rows(&[*row])))
            .collect();
        let key_group = |routed: &RoutedBatch| {
            let keys = routed.batch.0.column(0).as_primitive::<Int64Type>();
            key_group_of(
                &[KeyValue::Int(keys.value(0))],
                sluice_core::DEFAULT_MAX_PARALLELISM,
            )
        };
        let in_memory = || Arc::new(sluice_state::HashMapStateBackendFactory);
        for parallelism in [1, 2] {
            let emitted = run_with_restore_on(
                in_memory(),
                counting,
                &before,
                &after,
                parallelism,
                key_group,
            );
            let mut emitted = changes(emitted);
            emitted.sort();
            // Key 1 keeps its max 5 (no change); 2 and 3 retract the result from before the
            // restore; 4 is new.
            let mut expected = vec![
                ("+I", 1, 5),
                ("+I", 2, 1),
                ("+I", 3, 7),
                ("-U", 2, 1),
                ("+U", 2, 4),
                ("-U", 3, 7),
                ("+U", 3, 8),
                ("+I", 4, 2),
            ];
            expected.sort();
            assert_eq!(emitted, expected, "restored at parallelism {parallelism}");
        }
    }

    /// `(row kind, key, max)` of the rows of `batches`.
    fn changes(batches: Vec<RowBatch>) -> Vec<(&'static str, i64, i64)> {
        let mut changes = Vec::new();
        for batch in batches {
            let b = &batch.0;
            for r in 0..b.num_rows() {
                let kind = RowKind::from_code(row_kinds(b).unwrap().value(r)).short();
                changes.push((
                    kind,
                    b.column(0).as_primitive::<Int64Type>().value(r),
                    b.column(1).as_primitive::<Int64Type>().value(r),
                ));
            }
        }
        changes
    }
}
