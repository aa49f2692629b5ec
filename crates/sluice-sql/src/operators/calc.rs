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
    /// How plans show it: `Calc(select=[..], where=[..])`.
    pub description: String,
    /// How plans show each output column's expression.
    pub column_texts: Vec<String>,
}

impl Calc {
    /// A Calc keeping the rows of `input` where `filter` holds and computing `projections`,
    /// which give the columns of `output`.
    pub fn new(
        filter: Option<Expr>,
        projections: Vec<Expr>,
        input: &Scope,
        output: &Scope,
    ) -> Calc {
        let names: Vec<String> = input.columns.iter().map(|c| c.name.clone()).collect();
        let column_texts: Vec<String> = projections.iter().map(|e| e.describe(&names)).collect();
        let select: Vec<String> = column_texts
            .iter()
            .zip(&output.columns)
            .map(|(text, column)| {
                if *text == column.name || column.name.starts_with('$') {
                    text.clone()
                } else {
                    format!("{text} AS {}", column.name)
                }
            })
            .collect();
        let mut description = format!("Calc(select=[{}]", select.join(", "));
        if let Some(filter) = &filter {
            description.push_str(&format!(", where=[{}]", filter.describe(&names)));
        }
        description.push(')');
        Calc {
            filter,
            projections,
            schema: output.arrow_schema(),
            description,
            column_texts,
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
        if input.num_rows() == 0 {
            return Ok(RecordBatch::new_empty(Arc::clone(&self.schema)));
        }
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
