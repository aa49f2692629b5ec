//! Evaluating an expression on some rows of a batch: a `CASE` branch on the rows that take
//! it, and a shared expression computed before only where a filter needed it
//! ([`ExprKind::Partial`](super::ExprKind::Partial)), completed on the rows a projection
//! reaches.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch, RecordBatchOptions, UInt32Array};

use super::{Expr, as_boolean};
use crate::error::SqlResult;

impl Expr {
    /// The expression's values on the rows `rows` (in order) of `batch`.
    pub fn eval_rows(&self, batch: &RecordBatch, rows: &[u32]) -> SqlResult<ArrayRef> {
        self.eval(&rows_of(batch, rows, self)?)
    }
}

/// The rows `rows` (in order) of `batch` as a batch, holding real values only in the columns
/// `expr` reads; the others are cut to the length without copying.
fn rows_of(batch: &RecordBatch, rows: &[u32], expr: &Expr) -> SqlResult<RecordBatch> {
    if rows.len() == batch.num_rows() {
        // Every row, in order.
        return Ok(batch.clone());
    }
    let mut read = vec![false; batch.num_columns()];
    expr.mark_columns(&mut read);
    let indices = UInt32Array::from(rows.to_vec());
    let columns = batch
        .columns()
        .iter()
        .zip(read)
        .map(|(column, read)| {
            if read {
                Ok(arrow_select::take::take(column.as_ref(), &indices, None)?)
            } else {
                Ok(column.slice(0, rows.len().min(column.len())))
            }
        })
        .collect::<SqlResult<Vec<_>>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(rows.len()));
    Ok(RecordBatch::try_new_with_options(
        batch.schema(),
        columns,
        &options,
    )?)
}

/// `expr`'s values on the rows of `batch`: column `values` where column `computed` is true,
/// computed from `expr` on the other rows.
pub(super) fn eval_partial(
    batch: &RecordBatch,
    values: usize,
    computed: usize,
    expr: &Expr,
) -> SqlResult<ArrayRef> {
    let done = as_boolean(batch.column(computed))?;
    let values = batch.column(values);
    if done.true_count() == done.len() {
        return Ok(Arc::clone(values));
    }
    let fresh = eval_where(expr, batch, &arrow_arith::boolean::not(done)?)?;
    Ok(arrow_select::zip::zip(done, values, &fresh)?)
}

/// `expr` computed only on the rows of `batch` where `needed` (without NULLs) is true: its
/// values there, NULL elsewhere.
pub fn eval_where(expr: &Expr, batch: &RecordBatch, needed: &BooleanArray) -> SqlResult<ArrayRef> {
    if needed.true_count() == batch.num_rows() {
        return expr.eval(batch);
    }
    let rows: Vec<u32> = needed
        .values()
        .set_indices()
        .map(|row| row as u32)
        .collect();
    let fresh = expr.eval_rows(batch, &rows)?;
    // Each needed row takes the next fresh value; the others take none (NULL).
    let mut next = 0;
    let indices: UInt32Array = needed
        .values()
        .iter()
        .map(|needed| {
            needed.then(|| {
                next += 1;
                next - 1
            })
        })
        .collect();
    Ok(arrow_select::take::take(fresh.as_ref(), &indices, None)?)
}
