//! The SESSION window table function on its own (`SELECT .. FROM TABLE(SESSION(..))` with no
//! aggregation): the session window aggregation before this operator collects each session's
//! rows, a list per column (in the same order in every list), and emits a session once the
//! watermark closes it; this lays the lists out as rows again, each followed by its session's
//! `window_start`, `window_end` and `window_time`, as Flink emits them.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch, UInt32Array};
use arrow_schema::SchemaRef;
use sluice_core::{Record, UserResult};
use sluice_runtime::task::operator::{OneInputOperator, StreamOperator};
use sluice_runtime::task::output::Output;

use crate::batch::RowBatch;

/// Lays a session aggregation's collected rows out again.
#[derive(Debug, Clone)]
pub struct SessionRowsOperator {
    /// The input's list columns, one per column of the rows, in order.
    pub lists: Vec<usize>,
    /// The input's `window_start`; `window_end` and `window_time` follow it.
    pub window_start: usize,
    /// The rows' columns, then `window_start`, `window_end`, `window_time`.
    pub schema: SchemaRef,
}

impl SessionRowsOperator {
    /// The rows of the sessions of `batch` (one session per row).
    fn rows(&self, batch: &RecordBatch) -> UserResult<RecordBatch> {
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        let mut session_of_row: Vec<u32> = Vec::new();
        for (n, &list) in self.lists.iter().enumerate() {
            let list = batch.column(list).as_list_opt::<i32>().ok_or_else(|| {
                format!(
                    "a session table's collected column is {}, not a list",
                    batch.column(list).data_type()
                )
            })?;
            let offsets = list.value_offsets();
            let (first, last) = (offsets[0] as usize, offsets[offsets.len() - 1] as usize);
            if n == 0 {
                for (session, pair) in offsets.windows(2).enumerate() {
                    let rows = (pair[1] - pair[0]) as usize;
                    session_of_row.extend(std::iter::repeat_n(session as u32, rows));
                }
            }
            columns.push(list.values().slice(first, last - first));
        }
        let sessions = UInt32Array::from(session_of_row);
        for window_column in self.window_start..self.window_start + 3 {
            columns.push(arrow_select::take::take(
                batch.column(window_column).as_ref(),
                &sessions,
                None,
            )?);
        }
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }
}

impl StreamOperator<RowBatch, RowBatch> for SessionRowsOperator {}

impl OneInputOperator<RowBatch, RowBatch> for SessionRowsOperator {
    fn process_batch(
        &mut self,
        batch: &mut Vec<Record<RowBatch>>,
        out: &mut Output<RowBatch>,
    ) -> UserResult {
        for record in batch.drain(..) {
            if record.value.0.num_rows() == 0 {
                continue;
            }
            let rows = self.rows(&record.value.0)?;
            out.emit(RowBatch(rows), record.timestamp);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Int64Array;
    use arrow_array::builder::{Int64Builder, ListBuilder};
    use arrow_array::types::Int64Type;
    use arrow_schema::{DataType, Field, Schema};

    fn lists(sessions: &[&[Option<i64>]]) -> ArrayRef {
        let mut builder = ListBuilder::new(Int64Builder::new());
        for values in sessions {
            for value in values.iter() {
                builder.values().append_option(*value);
            }
            builder.append(true);
        }
        Arc::new(builder.finish()) as ArrayRef
    }

    #[test]
    fn each_sessions_rows_come_out_with_its_window() {
        let longs = |v: &[i64]| Arc::new(Int64Array::from(v.to_vec())) as ArrayRef;
        // Two sessions: rows (1, a=10), (2, a=NULL); and (3, a=30).
        let input = RecordBatch::try_from_iter([
            ("key", longs(&[7, 8])),
            ("window_start", longs(&[0, 100])),
            ("window_end", longs(&[50, 150])),
            ("window_time", longs(&[49, 149])),
            ("ids", lists(&[&[Some(1), Some(2)], &[Some(3)]])),
            ("a", lists(&[&[Some(10), None], &[Some(30)]])),
        ])
        .unwrap();
        let fields = ["id", "a", "window_start", "window_end", "window_time"]
            .map(|name| Field::new(name, DataType::Int64, true));
        let op = SessionRowsOperator {
            lists: vec![4, 5],
            window_start: 1,
            schema: Arc::new(Schema::new(fields.to_vec())),
        };
        let rows = op.rows(&input).unwrap();
        let column = |i: usize| -> Vec<Option<i64>> {
            rows.column(i).as_primitive::<Int64Type>().iter().collect()
        };
        assert_eq!(column(0), [Some(1), Some(2), Some(3)]);
        assert_eq!(column(1), [Some(10), None, Some(30)]);
        assert_eq!(column(2), [Some(0), Some(0), Some(100)]);
        assert_eq!(column(4), [Some(49), Some(49), Some(149)]);
        // A batch whose lists' values do not start at 0.
        let second = op.rows(&input.slice(1, 1)).unwrap();
        let ids: Vec<i64> = second
            .column(0)
            .as_primitive::<Int64Type>()
            .values()
            .to_vec();
        assert_eq!(ids, [3]);
    }
}
