//! A window table function on its own (`SELECT .. FROM TABLE(TUMBLE|HOP|CUMULATE(..))` with no
//! aggregation, Flink's `WindowTableFunction`): each row once per window it falls in, with the
//! window's `window_start`, `window_end` and `window_time` (its end − 1 ms) after its columns.
//! Stateless: rows of windows that already fired pass too, for the operator after it (a window
//! join) to drop as late.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMillisecondType;
use arrow_array::{Array, RecordBatch, TimestampMillisecondArray, UInt32Array};
use arrow_schema::SchemaRef;
use sluice_core::{Record, Timestamp, UserResult};
use sluice_runtime::task::operator::{OneInputOperator, StreamOperator};
use sluice_runtime::task::output::Output;

use super::window_kind::WindowKind;
use crate::batch::RowBatch;

/// The window table function operator.
#[derive(Debug, Clone)]
pub struct WindowTableOperator {
    /// The windows (not sessions, which need state).
    pub kind: WindowKind,
    /// The rowtime column of the input.
    pub time_column: usize,
    /// The input's columns, then `window_start`, `window_end`, `window_time`.
    pub schema: SchemaRef,
}

impl WindowTableOperator {
    /// The rows of `batch` in their windows; a row whose time is NULL is in none.
    fn assign(&self, batch: &RecordBatch) -> UserResult<RecordBatch> {
        let times = batch
            .column(self.time_column)
            .as_primitive_opt::<TimestampMillisecondType>()
            .ok_or_else(|| {
                format!(
                    "a window table function's time column is {}, not TIMESTAMP(3)",
                    batch.column(self.time_column).data_type()
                )
            })?;
        let mut rows = Vec::with_capacity(batch.num_rows());
        let (mut starts, mut ends) = (Vec::new(), Vec::new());
        let mut windows = Vec::new();
        for row in 0..batch.num_rows() {
            if times.is_null(row) {
                continue;
            }
            self.kind.windows(times.value(row), &mut windows);
            for &(start, end) in &windows {
                rows.push(row as u32);
                starts.push(start);
                ends.push(end);
            }
        }
        let mut columns =
            arrow_select::take::take_arrays(batch.columns(), &UInt32Array::from(rows), None)?;
        let window_times: Vec<Timestamp> = ends.iter().map(|end| end - 1).collect();
        for values in [starts, ends, window_times] {
            columns.push(Arc::new(TimestampMillisecondArray::from(values)));
        }
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }
}

impl StreamOperator<RowBatch, RowBatch> for WindowTableOperator {}

impl OneInputOperator<RowBatch, RowBatch> for WindowTableOperator {
    fn process_batch(
        &mut self,
        batch: &mut Vec<Record<RowBatch>>,
        out: &mut Output<RowBatch>,
    ) -> UserResult {
        super::calc::map_batches(batch, out, |rows| self.assign(rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, Int64Array};
    use arrow_schema::{DataType, Field, Schema, TimeUnit};

    #[test]
    fn each_row_comes_once_per_window_with_its_bounds() {
        let time = DataType::Timestamp(TimeUnit::Millisecond, None);
        let schema = Arc::new(Schema::new(vec![
            Field::new("v", DataType::Int64, true),
            Field::new("ts", time.clone(), true),
            Field::new("window_start", time.clone(), false),
            Field::new("window_end", time.clone(), false),
            Field::new("window_time", time, false),
        ]));
        let op = WindowTableOperator {
            kind: WindowKind::Hop { slide: 5, size: 10 },
            time_column: 1,
            schema,
        };
        let batch = RecordBatch::try_from_iter([
            ("v", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
            (
                "ts",
                Arc::new(TimestampMillisecondArray::from(vec![Some(7), None])) as ArrayRef,
            ),
        ])
        .unwrap();
        let windowed = op.assign(&batch).unwrap();
        let column = |i: usize| -> Vec<i64> {
            let c = windowed.column(i);
            (0..c.len())
                .map(
                    |row| match c.as_primitive_opt::<TimestampMillisecondType>() {
                        Some(t) => t.value(row),
                        None => c.as_primitive::<arrow_array::types::Int64Type>().value(row),
                    },
                )
                .collect()
        };
        assert_eq!(column(0), [1, 1]);
        assert_eq!(column(2), [5, 0]);
        assert_eq!(column(3), [15, 10]);
        assert_eq!(column(4), [14, 9]);
    }
}
