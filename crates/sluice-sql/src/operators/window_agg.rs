//! Window aggregation of the window table functions (`TUMBLE`, `HOP`, `CUMULATE`): rows are
//! assigned to their windows by the rowtime column, aggregated per window and key, and a window
//! is emitted — `keys…, window_start, window_end, window_time, aggregates…` — once the
//! watermark reaches its end − 1 ms. Rows of windows already emitted are late and dropped, as
//! Flink drops them.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMillisecondType;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;
use rustc_hash::FxHashMap;
use sluice_core::{Record, Timestamp, UserResult, Watermark};
use sluice_runtime::task::operator::{OneInputOperator, StreamOperator, WatermarkOut};
use sluice_runtime::task::output::Output;

use super::key_split::RoutedBatch;
use crate::aggregate::{Accumulator, AggCall, result_column};
use crate::batch::RowBatch;
use crate::key::{KeyValue, key_column, row_key};
use crate::types::SqlType;

/// How rows are assigned to windows (sizes in milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// `TUMBLE(.., size)`.
    Tumble {
        /// The window size.
        size: i64,
    },
    /// `HOP(.., slide, size)`.
    Hop {
        /// How far apart windows start.
        slide: i64,
        /// The window size.
        size: i64,
    },
    /// `CUMULATE(.., step, max size)`.
    Cumulate {
        /// How much each window of a cycle grows.
        step: i64,
        /// The size of the largest window of a cycle.
        size: i64,
    },
}

impl WindowKind {
    /// The `(start, end)` of every window holding time `ts`.
    pub fn windows(&self, ts: Timestamp, into: &mut Vec<(Timestamp, Timestamp)>) {
        into.clear();
        match *self {
            WindowKind::Tumble { size } => {
                let start = ts - ts.rem_euclid(size);
                into.push((start, start + size));
            }
            WindowKind::Hop { slide, size } => {
                let mut start = ts - ts.rem_euclid(slide);
                while start > ts - size {
                    into.push((start, start + size));
                    start -= slide;
                }
            }
            WindowKind::Cumulate { step, size } => {
                let start = ts - ts.rem_euclid(size);
                let mut end = start + step + (ts - start) / step * step;
                while end <= start + size {
                    into.push((start, end));
                    end += step;
                }
            }
        }
    }
}

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

/// One window's groups: key → accumulators.
type Groups = FxHashMap<Vec<KeyValue>, Vec<Accumulator>>;

/// The window aggregation operator.
pub struct WindowAggOperator {
    spec: WindowAggSpec,
    /// Open windows by `(end, start)`, so they fire in order of their ends.
    windows: BTreeMap<(Timestamp, Timestamp), Groups>,
    watermark: Timestamp,
    assigned: Vec<(Timestamp, Timestamp)>,
    late_rows: u64,
}

impl WindowAggOperator {
    /// An operator computing `spec`.
    pub fn new(spec: WindowAggSpec) -> Self {
        WindowAggOperator {
            spec,
            windows: BTreeMap::new(),
            watermark: Timestamp::MIN,
            assigned: Vec::new(),
            late_rows: 0,
        }
    }

    fn add(&mut self, batch: &RecordBatch) {
        let times = batch
            .column(self.spec.time_column)
            .as_primitive::<TimestampMillisecondType>()
            .clone();
        let keys: Vec<(ArrayRef, SqlType)> = self
            .spec
            .keys
            .iter()
            .map(|(i, ty)| (Arc::clone(batch.column(*i)), ty.clone()))
            .collect();
        let args: Vec<Option<(ArrayRef, SqlType)>> = self
            .spec
            .aggregates
            .iter()
            .map(|call| {
                call.arg
                    .as_ref()
                    .map(|(i, ty)| (Arc::clone(batch.column(*i)), ty.clone()))
            })
            .collect();
        for row in 0..batch.num_rows() {
            if times.is_null(row) {
                continue;
            }
            self.spec.kind.windows(times.value(row), &mut self.assigned);
            let key = row_key(&keys, row);
            for &(start, end) in &self.assigned {
                if end - 1 <= self.watermark {
                    self.late_rows += 1;
                    continue;
                }
                let groups = self.windows.entry((end, start)).or_default();
                let accumulators = groups
                    .entry(key.clone())
                    .or_insert_with(|| self.spec.aggregates.iter().map(Accumulator::new).collect());
                for (acc, arg) in accumulators.iter_mut().zip(&args) {
                    acc.add(
                        arg.as_ref()
                            .map(|(a, ty)| (a.as_ref() as &dyn arrow_array::Array, ty)),
                        row,
                    );
                }
            }
        }
    }

    /// Emits (and forgets) every window ending at or before `watermark + 1`.
    fn fire(&mut self, watermark: Timestamp, out: &mut Output<RowBatch>) -> UserResult {
        while let Some(entry) = self.windows.first_entry() {
            let (end, start) = *entry.key();
            if end - 1 > watermark {
                break;
            }
            let groups = entry.remove();
            let batch = self.window_batch(start, end, groups)?;
            out.emit(RowBatch(batch), Some(end - 1));
        }
        Ok(())
    }

    fn window_batch(
        &self,
        start: Timestamp,
        end: Timestamp,
        groups: Groups,
    ) -> UserResult<RecordBatch> {
        let mut rows: Vec<(Vec<KeyValue>, Vec<Accumulator>)> = groups.into_iter().collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        let mut columns: Vec<ArrayRef> = Vec::new();
        for (i, (_, ty)) in self.spec.keys.iter().enumerate() {
            columns.push(key_column(rows.iter().map(|(k, _)| &k[i]), ty));
        }
        let count = rows.len();
        for time in [start, end, end - 1] {
            let values = vec![KeyValue::Int(time); count];
            columns.push(key_column(values.iter(), &SqlType::Timestamp(3)));
        }
        for (i, call) in self.spec.aggregates.iter().enumerate() {
            let values: Vec<KeyValue> = rows.iter().map(|(_, accs)| accs[i].value(call)).collect();
            columns.push(result_column(call, values.iter()));
        }
        Ok(RecordBatch::try_new(
            Arc::clone(&self.spec.schema),
            columns,
        )?)
    }
}

impl StreamOperator<RoutedBatch, RowBatch> for WindowAggOperator {
    fn process_watermark(
        &mut self,
        watermark: Watermark,
        out: &mut Output<RowBatch>,
    ) -> WatermarkOut {
        self.watermark = self.watermark.max(watermark.0);
        self.fire(watermark.0, out)?;
        Ok(Some(watermark))
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
            self.add(&record.value.batch.0);
        }
        Ok(())
    }

    /// A bounded input ends with every window emitted (Flink's final `MAX_WATERMARK`).
    fn end_input(&mut self, out: &mut Output<RowBatch>) -> UserResult {
        self.fire(Timestamp::MAX, out)
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
        let batch = RecordBatch::try_from_iter([
            (
                "t",
                Arc::new(TimestampMillisecondArray::from(
                    rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                )) as ArrayRef,
            ),
            (
                "k",
                Arc::new(Int64Array::from(
                    rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                )) as ArrayRef,
            ),
        ])
        .unwrap();
        Record::new(RoutedBatch {
            target: 0,
            batch: RowBatch(batch),
        })
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

    /// `(key, window_start, count)` of the emitted rows.
    fn emitted(
        harness: &mut OneInputHarness<RoutedBatch, RowBatch, WindowAggOperator>,
    ) -> Vec<(i64, i64, i64)> {
        let mut out = Vec::new();
        for batch in harness.take_values() {
            let b = &batch.0;
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
        }
        out
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
}
