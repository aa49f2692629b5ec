//! `VALUES (..), (..)`: a bounded relation of constant rows, one batch from one source
//! subtask. Its columns take the common type of their values (a NULL needs a type, `CAST(NULL
//! AS INT)`, as in Flink) and are named `EXPR$0`, `EXPR$1`, .. unless an alias names them
//! (`AS t(a, b)`).

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchOptions};
use sqlparser::ast::{self, Spanned};

use super::union::common;
use super::{PlanContext, Planned};
use crate::batch::RowBatch;
use crate::error::{SqlError, SqlResult};
use crate::expr::Expr;
use crate::expr::bind::{Scope, ScopeColumn, bind, cast_to};

/// Plans `VALUES rows`.
pub fn plan_values(ctx: &PlanContext<'_>, values: &ast::Values) -> SqlResult<Planned> {
    let functions = &ctx.catalog.functions;
    let empty = Scope::default();
    let mut rows: Vec<Vec<Expr>> = Vec::new();
    for row in &values.rows {
        let bound = row
            .iter()
            .map(|e| {
                if is_null(e) {
                    return Err(SqlError::new(
                        "Illegal use of 'NULL' (give it a type: CAST(NULL AS type))",
                    )
                    .or_at(&e.span()));
                }
                bind(e, &empty, functions).map_err(|err| err.or_at(&e.span()))
            })
            .collect::<SqlResult<Vec<_>>>()?;
        if let Some(first) = rows.first()
            && first.len() != bound.len()
        {
            return Err(SqlError::new(format!(
                "VALUES rows of {} and {} columns",
                first.len(),
                bound.len()
            ))
            .or_at(&values.span()));
        }
        rows.push(bound);
    }
    let width = rows.first().map_or(0, Vec::len);
    let mut scope = Scope::default();
    for column in 0..width {
        let mut ty = None;
        for expr in rows.iter().map(|row| &row[column]) {
            ty = Some(match ty {
                None => expr.ty.clone(),
                Some(before) => common(&before, &expr.ty).ok_or_else(|| {
                    SqlError::new(format!(
                        "VALUES column {} holds {before} and {} values",
                        column + 1,
                        expr.ty
                    ))
                })?,
            });
        }
        let ty = ty.unwrap_or(crate::types::SqlType::Varchar(None));
        let nullable = rows.iter().any(|row| row[column].nullable);
        scope
            .columns
            .push(ScopeColumn::new(&format!("EXPR${column}"), ty, nullable));
    }
    let batch = evaluate(&rows, &scope)?;
    let stream = ctx.env.from_collection(vec![RowBatch(batch)]);
    Ok(Planned::new(stream, scope))
}

/// One row of no columns: what a `SELECT` without `FROM` reads.
pub fn one_empty_row(ctx: &PlanContext<'_>) -> SqlResult<Planned> {
    let scope = Scope::default();
    let batch = evaluate(&[Vec::new()], &scope)?;
    let stream = ctx.env.from_collection(vec![RowBatch(batch)]);
    Ok(Planned::new(stream, scope))
}

/// Whether `expr` is the constant `NULL`, which has no type of its own.
fn is_null(expr: &ast::Expr) -> bool {
    matches!(expr, ast::Expr::Value(value) if value.value == ast::Value::Null)
}

/// The rows' values as one batch of `scope`'s columns.
fn evaluate(rows: &[Vec<Expr>], scope: &Scope) -> SqlResult<RecordBatch> {
    let one_row = RecordBatch::try_new_with_options(
        Arc::new(arrow_schema::Schema::empty()),
        vec![],
        &RecordBatchOptions::new().with_row_count(Some(1)),
    )?;
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (index, column) in scope.columns.iter().enumerate() {
        let values = rows
            .iter()
            .map(|row| cast_to(row[index].clone(), &column.ty).eval(&one_row))
            .collect::<SqlResult<Vec<_>>>()?;
        let parts: Vec<&dyn Array> = values.iter().map(AsRef::as_ref).collect();
        columns.push(arrow_select::concat::concat(&parts)?);
    }
    Ok(RecordBatch::try_new_with_options(
        scope.arrow_schema(),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(rows.len())),
    )?)
}
