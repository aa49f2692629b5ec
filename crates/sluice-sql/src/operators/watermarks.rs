//! The watermark assigner of a table's `WATERMARK FOR ts AS expr`, as Flink SQL's
//! `WatermarkAssigner`: the watermark is the highest value of `expr` seen (from 0, where
//! Flink starts it), emitted right after a row that moves it more than
//! `pipeline.auto-watermark-interval` past the last one emitted, and every interval of
//! processing time otherwise (if it moved at all).
//!
//! Rows come in batches, and a watermark due after a row may wait: a row past it (its rowtime
//! above the watermark + 1 ms) is handled alike by every operator before and after it, so it
//! waits until a row comes that is not past it (one it may make late, or whose session it may
//! close) — then the batch is cut before that row and the watermark goes between the parts,
//! where Flink has it between the rows — or until [`ROWS_PER_WATERMARK`] rows have passed
//! since the last one, or the next interval of processing time (with no interval, the end of
//! the batch). The results are Flink's; an ordered stream's batches stay whole, and operators
//! downstream see a watermark every few thousand rows, not every few (Flink's every 200 ms of
//! event time is every 20 rows of a stream of a hundred rows a second).

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMillisecondType;
use arrow_array::{Array, RecordBatch};
use sluice_core::{Record, Timestamp, UserResult, Watermark};
use sluice_runtime::task::operator::{
    OneInputOperator, OperatorContext, StreamOperator, WatermarkOut,
};
use sluice_runtime::task::output::Output;
use sluice_runtime::time::processing_time::{ProcessingTime, ProcessingTimeService};

use crate::batch::RowBatch;
use crate::expr::Expr;

/// The highest non-NULL timestamp of a column, if any.
pub fn max_timestamp(array: &dyn Array) -> Option<Timestamp> {
    arrow_arith::aggregate::max(array.as_primitive::<TimestampMillisecondType>())
}

/// How many rows at most pass between a watermark due and its emission (when no row before
/// needs it): downstream operators hold the windows of about as many rows.
pub const ROWS_PER_WATERMARK: usize = 16 * 1024;

/// Assigns the watermarks of a table's `WATERMARK` clause to its rows.
#[derive(Clone)]
pub struct WatermarkAssigner {
    expr: Expr,
    rowtime: usize,
    /// `pipeline.auto-watermark-interval` in milliseconds (0: no periodic emission).
    interval: i64,
    /// The highest value of the expression seen (never below 0).
    current: Timestamp,
    /// The last watermark emitted (0 before any).
    emitted: Timestamp,
    /// The watermark due, not emitted yet.
    due: Option<Timestamp>,
    /// Rows emitted since the last watermark.
    rows_since: usize,
    last_periodic: ProcessingTime,
    time: ProcessingTimeService,
}

impl WatermarkAssigner {
    /// The assigner of the watermark `expr` (a timestamp) over rows whose time attribute is
    /// column `rowtime`.
    pub fn new(expr: Expr, rowtime: usize) -> Self {
        WatermarkAssigner {
            expr,
            rowtime,
            interval: 0,
            current: 0,
            emitted: 0,
            due: None,
            rows_since: 0,
            last_periodic: 0,
            time: ProcessingTimeService::default(),
        }
    }

    /// Emits the watermark `watermark`.
    fn emit_watermark(&mut self, watermark: Timestamp, out: &mut Output<RowBatch>) {
        self.emitted = watermark;
        self.due = None;
        self.rows_since = 0;
        out.emit_watermark(Watermark(watermark));
    }

    /// Emits the rows of `batch` with the watermarks due among them.
    fn assign(&mut self, batch: &RecordBatch, out: &mut Output<RowBatch>) -> UserResult {
        let marks = self.expr.eval(batch)?;
        let marks = marks.as_primitive::<TimestampMillisecondType>();
        let times = batch
            .column(self.rowtime)
            .as_primitive::<TimestampMillisecondType>();
        let rowtime = self.rowtime;
        let emit = |from: usize, to: usize, out: &mut Output<RowBatch>| {
            let part = batch.slice(from, to - from);
            let timestamp = max_timestamp(part.column(rowtime)).unwrap_or(i64::MIN);
            out.emit(RowBatch(part), Some(timestamp));
        };
        // The first row not emitted yet.
        let mut from = 0;
        for row in 0..batch.num_rows() {
            if let Some(watermark) = self.due
                && times.is_valid(row)
                && times.value(row) <= watermark.saturating_add(1)
            {
                // This row comes after the watermark.
                emit(from, row, out);
                self.emit_watermark(watermark, out);
                from = row;
            }
            if marks.is_valid(row) {
                self.current = self.current.max(marks.value(row));
            }
            if self.current - self.due.unwrap_or(self.emitted) > self.interval {
                self.due = Some(self.current);
            }
        }
        if from < batch.num_rows() {
            emit(from, batch.num_rows(), out);
            self.rows_since += batch.num_rows() - from;
        }
        // Without periodic watermarks, none waits for more rows.
        if let Some(watermark) = self.due
            && (self.rows_since >= ROWS_PER_WATERMARK || self.interval == 0)
        {
            self.emit_watermark(watermark, out);
        }
        Ok(())
    }
}

impl StreamOperator<RowBatch, RowBatch> for WatermarkAssigner {
    fn open(&mut self, ctx: &OperatorContext) -> UserResult {
        self.interval = i64::try_from(ctx.auto_watermark_interval.as_millis()).unwrap_or(i64::MAX);
        self.time = ctx.processing_time.clone();
        self.last_periodic = self.time.now();
        if self.interval > 0 {
            self.time
                .wake_at(self.last_periodic.saturating_add(self.interval));
        }
        Ok(())
    }

    /// Watermarks from before the assigner are dropped (it defines event time from here on),
    /// but the end of input's.
    fn process_watermark(
        &mut self,
        watermark: Watermark,
        _out: &mut Output<RowBatch>,
    ) -> WatermarkOut {
        if watermark != Watermark::MAX {
            return Ok(None);
        }
        self.current = Timestamp::MAX;
        self.emitted = Timestamp::MAX;
        self.due = None;
        Ok(Some(watermark))
    }

    fn on_processing_time(
        &mut self,
        now: ProcessingTime,
        out: &mut Output<RowBatch>,
    ) -> UserResult {
        if self.interval <= 0 {
            return Ok(());
        }
        if self.last_periodic.saturating_add(self.interval) <= now {
            self.last_periodic = now;
            if self.current > self.emitted {
                self.emit_watermark(self.current, out);
            }
        }
        self.time.wake_at(now.saturating_add(self.interval));
        Ok(())
    }
}

impl OneInputOperator<RowBatch, RowBatch> for WatermarkAssigner {
    fn process_batch(
        &mut self,
        batch: &mut Vec<Record<RowBatch>>,
        out: &mut Output<RowBatch>,
    ) -> UserResult {
        for record in batch.drain(..) {
            self.assign(&record.value.0, out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::TimestampMillisecondArray;
    use arrow_schema::{DataType, Field, Schema, TimeUnit};
    use sluice_runtime::harness::OneInputHarness;

    use super::*;
    use crate::types::SqlType;

    /// An assigner whose watermark is the row's time (no delay), in a harness.
    fn assigner() -> OneInputHarness<RowBatch, RowBatch, WatermarkAssigner> {
        let expr = Expr::column(0, SqlType::Timestamp(3), false);
        OneInputHarness::new(WatermarkAssigner::new(expr, 0))
    }

    fn rows(times: impl IntoIterator<Item = i64>) -> Record<RowBatch> {
        let ty = DataType::Timestamp(TimeUnit::Millisecond, None);
        let schema = Arc::new(Schema::new(vec![Field::new("ts", ty, false)]));
        let times = TimestampMillisecondArray::from_iter_values(times);
        Record::new(RowBatch(
            RecordBatch::try_new(schema, vec![Arc::new(times)]).unwrap(),
        ))
    }

    fn sizes(harness: &mut OneInputHarness<RowBatch, RowBatch, WatermarkAssigner>) -> Vec<usize> {
        harness
            .take_values()
            .iter()
            .map(|b| b.0.num_rows())
            .collect()
    }

    #[test]
    fn a_row_behind_a_due_watermark_comes_after_it() {
        let mut harness = assigner();
        // Flink emits 10 000 after the first row and 20 000 after the second: the third is late.
        harness.process(rows([10_000, 20_000, 11_000]));
        assert_eq!(sizes(&mut harness), [2, 1], "cut before the third row");
        assert_eq!(harness.watermarks(), [Watermark(20_000)]);
    }

    #[test]
    fn a_row_at_the_watermark_plus_one_comes_after_it_and_one_past_does_not() {
        let mut harness = assigner();
        harness.process(rows([10_000, 10_001]));
        assert_eq!(sizes(&mut harness), [1, 1]);
        let mut harness = assigner();
        harness.process(rows([10_000, 10_002]));
        assert_eq!(sizes(&mut harness), [2]);
        assert!(harness.watermarks().is_empty(), "waits for more rows");
    }

    #[test]
    fn a_watermark_past_every_row_waits_for_many_rows_or_the_interval() {
        let mut harness = assigner();
        harness.process(rows([1_000, 2_000, 3_000]));
        assert!(harness.watermarks().is_empty());
        // A move of no more than the interval (200 ms) is not due by itself.
        harness.process(rows([3_100]));
        harness.processing_time(i64::MAX / 2);
        assert_eq!(harness.watermarks(), [Watermark(3_100)]);
        // Rows 2 ms apart: a watermark comes due every 202 ms, the last one emitted.
        let many = (0..ROWS_PER_WATERMARK as i64).map(|i| 10_000 + 2 * i);
        harness.process(rows(many));
        let highest = 2 * (ROWS_PER_WATERMARK as i64 - 1);
        assert_eq!(
            harness.watermarks(),
            [Watermark(3_100), Watermark(10_000 + highest / 202 * 202)]
        );
    }

    #[test]
    fn only_the_end_of_input_passes_through() {
        let mut harness = assigner();
        harness.watermark(Watermark(5_000));
        harness.process(rows([-5_000]));
        harness.processing_time(i64::MAX / 2);
        assert!(harness.watermarks().is_empty(), "from 0, as Flink's");
        harness.watermark(Watermark::MAX);
        assert_eq!(harness.watermarks(), [Watermark::MAX]);
    }
}
