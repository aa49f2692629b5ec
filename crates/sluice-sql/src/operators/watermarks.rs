//! The watermark generator of a table's `WATERMARK FOR ts AS expr`: the highest value of the
//! expression seen, emitted periodically (Flink's `pipeline.auto-watermark-interval`) when it
//! advanced.

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMillisecondType;
use sluice_core::{Timestamp, Watermark};
use sluice_runtime::time::watermarks::{WatermarkGenerator, WatermarkOutput};

use crate::batch::RowBatch;
use crate::expr::Expr;

/// Tracks the maximum of the watermark expression over the rows.
pub struct ExpressionWatermarks {
    expr: Expr,
    highest: Option<Timestamp>,
    emitted: Option<Timestamp>,
}

impl ExpressionWatermarks {
    /// A generator for the (timestamp-typed) expression `expr`.
    pub fn new(expr: Expr) -> Self {
        ExpressionWatermarks {
            expr,
            highest: None,
            emitted: None,
        }
    }
}

/// The highest non-NULL timestamp of a column, if any.
pub fn max_timestamp(array: &dyn Array) -> Option<Timestamp> {
    arrow_arith::aggregate::max(array.as_primitive::<TimestampMillisecondType>())
}

impl WatermarkGenerator<RowBatch> for ExpressionWatermarks {
    fn on_event(&mut self, event: &RowBatch, _timestamp: Timestamp, _output: &mut WatermarkOutput) {
        // An expression that fails here failed on the same rows in the Calc before.
        if let Ok(values) = self.expr.eval(&event.0)
            && let Some(max) = max_timestamp(values.as_ref())
        {
            self.highest = Some(self.highest.map_or(max, |h| h.max(max)));
        }
    }

    fn on_periodic_emit(&mut self, output: &mut WatermarkOutput) {
        if self.highest > self.emitted {
            self.emitted = self.highest;
            if let Some(watermark) = self.highest {
                output.emit_watermark(Watermark(watermark));
            }
        }
    }
}
