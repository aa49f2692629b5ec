//! Calc: a filter and a projection evaluated on whole batches (Flink's fused `Calc` node).

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use sluice_core::{Record, UserResult};
use sluice_runtime::task::operator::{OneInputOperator, StreamOperator};
use sluice_runtime::task::output::Output;

use crate::batch::RowBatch;
use crate::error::SqlResult;
use crate::expr::bind::Scope;
use crate::expr::{Expr, as_boolean};

/// Keeps the rows where `filter` is true and computes `projections` of them.
#[derive(Debug, Clone)]
pub struct Calc {
    /// Rows pass where this is TRUE (not FALSE or NULL).
    pub filter: Option<Expr>,
    /// The output columns.
    pub projections: Vec<Expr>,
    /// The output schema.
    pub schema: SchemaRef,
}

impl Calc {
    /// A Calc keeping the rows where `filter` holds and computing `projections`, which give
    /// the columns of `output`.
    pub fn new(filter: Option<Expr>, projections: Vec<Expr>, output: &Scope) -> Calc {
        Calc {
            filter,
            projections,
            schema: output.arrow_schema(),
        }
    }

    /// Applies the filter and projection to `batch`.
    pub fn apply(&self, batch: &RecordBatch) -> SqlResult<RecordBatch> {
        let filtered;
        let input = match &self.filter {
            Some(filter) => {
                let keep = filter.eval(batch)?;
                filtered = arrow_select::filter::filter_record_batch(batch, as_boolean(&keep)?)?;
                &filtered
            }
            None => batch,
        };
        let columns = self
            .projections
            .iter()
            .map(|e| e.eval(input))
            .collect::<SqlResult<Vec<_>>>()?;
        let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(input.num_rows()));
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.schema),
            columns,
            &options,
        )?)
    }
}

/// The Calc operator.
pub struct CalcOperator(pub Calc);

impl StreamOperator<RowBatch, RowBatch> for CalcOperator {}

impl OneInputOperator<RowBatch, RowBatch> for CalcOperator {
    fn process_batch(
        &mut self,
        batch: &mut Vec<Record<RowBatch>>,
        out: &mut Output<RowBatch>,
    ) -> UserResult {
        for record in batch.drain(..) {
            let result = self.0.apply(&record.value.0)?;
            if result.num_rows() > 0 {
                out.emit(RowBatch(result), record.timestamp);
            }
        }
        Ok(())
    }
}
