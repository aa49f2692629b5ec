//! `CASE WHEN c THEN r ... ELSE e END`, evaluated as Flink evaluates it: each condition only
//! on the rows no earlier branch took, each result only on the rows its branch took. So
//! `CASE WHEN b = 0 THEN 0 ELSE a / b END` divides no row by zero, and an expensive `ELSE`
//! (a regular expression) runs only where it is the answer.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, new_empty_array, new_null_array};

use super::{Expr, ExprKind, as_boolean};
use crate::error::SqlResult;
use crate::types::SqlType;

/// Evaluates the branches `(condition, result)` and `otherwise` of a `CASE` of type `ty`
/// on `batch`.
pub(super) fn eval_case(
    branches: &[(Expr, Expr)],
    otherwise: Option<&Expr>,
    ty: &SqlType,
    batch: &RecordBatch,
) -> SqlResult<ArrayRef> {
    let rows = batch.num_rows();
    if rows == 0 {
        return Ok(new_empty_array(&ty.arrow_type()));
    }
    // The rows no branch has taken yet, in order.
    let mut left: Vec<u32> = (0..rows as u32).collect();
    // The results computed so far, and for each row of `batch` where its value lies in them.
    let mut results: Vec<ArrayRef> = Vec::new();
    let mut placed: Vec<(usize, usize)> = vec![(usize::MAX, 0); rows];
    for (condition, result) in branches {
        // A condition that calls no function and cannot fail is evaluated on every row at
        // once, cheaper than copying the rows left (and no row fails that Flink would skip).
        let on_all_rows = condition.cannot_fail() && calls_nothing(condition);
        let when = match on_all_rows {
            true => condition.eval(batch)?,
            false => condition.eval_rows(batch, &left)?,
        };
        let when = as_boolean(&when)?;
        let (mut taken, mut rest) = (Vec::new(), Vec::new());
        for (i, &row) in left.iter().enumerate() {
            let at = if on_all_rows { row as usize } else { i };
            // A NULL condition is not true.
            if when.is_valid(at) && when.value(at) {
                taken.push(row);
            } else {
                rest.push(row);
            }
        }
        if !taken.is_empty() {
            place_result(&mut results, &mut placed, &taken, result, batch)?;
        }
        left = rest;
        if left.is_empty() {
            break;
        }
    }
    if !left.is_empty() {
        match otherwise {
            Some(otherwise) => place_result(&mut results, &mut placed, &left, otherwise, batch)?,
            None => place(
                &mut results,
                &mut placed,
                &left,
                new_null_array(&ty.arrow_type(), left.len()),
            ),
        }
    }
    // One result for every row: rows are taken in order, so it is the column as it is.
    if let [only] = &results[..]
        && only.len() == rows
    {
        return Ok(Arc::clone(only));
    }
    let arrays: Vec<&dyn Array> = results.iter().map(AsRef::as_ref).collect();
    Ok(arrow_select::interleave::interleave(&arrays, &placed)?)
}

/// Whether `e` calls no function: cheap enough to evaluate on all rows rather than copy the
/// rows left.
fn calls_nothing(e: &Expr) -> bool {
    !matches!(e.kind, ExprKind::Call(..) | ExprKind::Udf(..))
        && e.children().into_iter().all(calls_nothing)
}

/// Computes `result` on the rows `taken` of `batch` and records where their values are; a
/// column is recorded in place, without copying the rows.
fn place_result(
    results: &mut Vec<ArrayRef>,
    placed: &mut [(usize, usize)],
    taken: &[u32],
    result: &Expr,
    batch: &RecordBatch,
) -> SqlResult<()> {
    if let Some(column) = read_as_it_is(result, batch, taken)? {
        let at = results.len();
        for &row in taken {
            placed[row as usize] = (at, row as usize);
        }
        results.push(column);
        return Ok(());
    }
    let values = result.eval_rows(batch, taken)?;
    place(results, placed, taken, values);
    Ok(())
}

/// The column of `batch` holding `result`'s values on the rows `taken`, if there is one: a
/// column read, or a shared expression computed before on all of them.
fn read_as_it_is(result: &Expr, batch: &RecordBatch, taken: &[u32]) -> SqlResult<Option<ArrayRef>> {
    Ok(match result.kind {
        ExprKind::Column(index) => Some(Arc::clone(batch.column(index))),
        ExprKind::Partial {
            values, computed, ..
        } => {
            let done = as_boolean(batch.column(computed))?;
            (done.true_count() == done.len() || taken.iter().all(|&row| done.value(row as usize)))
                .then(|| Arc::clone(batch.column(values)))
        }
        _ => None,
    })
}

/// Records that the rows `taken` of the batch have their values, in order, in `values`.
fn place(
    results: &mut Vec<ArrayRef>,
    placed: &mut [(usize, usize)],
    taken: &[u32],
    values: ArrayRef,
) {
    let index = results.len();
    for (at, &row) in taken.iter().enumerate() {
        placed[row as usize] = (index, at);
    }
    results.push(values);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{BinaryOp, ExprKind};
    use arrow_array::Int32Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int32Type;

    fn binary(op: BinaryOp, left: Expr, right: Expr, ty: SqlType) -> Expr {
        Expr {
            kind: ExprKind::Binary(op, Box::new(left), Box::new(right)),
            ty,
            nullable: true,
        }
    }

    fn case(branches: Vec<(Expr, Expr)>, otherwise: Option<Expr>) -> Expr {
        Expr {
            kind: ExprKind::Case {
                branches,
                otherwise: otherwise.map(Box::new),
            },
            ty: SqlType::Int,
            nullable: true,
        }
    }

    fn values(expr: &Expr) -> Vec<Option<i32>> {
        let batch = RecordBatch::try_from_iter([
            (
                "a",
                Arc::new(Int32Array::from(vec![1, 6, 5, 8, 9])) as ArrayRef,
            ),
            (
                "b",
                Arc::new(Int32Array::from(vec![
                    Some(0),
                    Some(3),
                    None,
                    Some(2),
                    Some(0),
                ])),
            ),
        ])
        .unwrap();
        let out = expr.eval(&batch).unwrap();
        out.as_primitive::<Int32Type>().iter().collect()
    }

    #[test]
    fn each_result_is_computed_only_where_its_branch_is_taken() {
        let (a, b) = (
            Expr::column(0, SqlType::Int, false),
            Expr::column(1, SqlType::Int, true),
        );
        let b_is_zero = binary(BinaryOp::Eq, b.clone(), Expr::int(0), SqlType::Boolean);
        let b_above_two = binary(BinaryOp::Gt, b.clone(), Expr::int(2), SqlType::Boolean);
        let quotient = binary(BinaryOp::Divide, a.clone(), b, SqlType::Int);
        // Eager evaluation would divide 1 and 9 by zero and fail.
        let guarded = case(
            vec![(b_is_zero.clone(), Expr::int(-1)), (b_above_two, a)],
            Some(quotient.clone()),
        );
        assert_eq!(
            values(&guarded),
            [Some(-1), Some(6), None, Some(4), Some(-1)]
        );
        // A condition that can fail is evaluated only on the rows no branch before took.
        let quotient_above_two = binary(
            BinaryOp::Gt,
            quotient.clone(),
            Expr::int(2),
            SqlType::Boolean,
        );
        let guarded_condition = case(
            vec![
                (b_is_zero.clone(), Expr::int(-1)),
                (quotient_above_two, Expr::int(1)),
            ],
            Some(Expr::int(0)),
        );
        assert_eq!(
            values(&guarded_condition),
            [Some(-1), Some(0), Some(0), Some(1), Some(-1)]
        );
        // A NULL condition is not true; no ELSE is NULL.
        let without_else = case(vec![(b_is_zero, Expr::int(7))], None);
        assert_eq!(values(&without_else), [Some(7), None, None, None, Some(7)]);
    }

    #[test]
    fn a_batch_without_rows_gives_an_empty_column() {
        let batch = RecordBatch::try_from_iter([(
            "a",
            Arc::new(Int32Array::from(Vec::<i32>::new())) as ArrayRef,
        )])
        .unwrap();
        let a = Expr::column(0, SqlType::Int, false);
        let positive = binary(BinaryOp::Gt, a.clone(), Expr::int(0), SqlType::Boolean);
        let out = case(vec![(positive, a)], Some(Expr::int(0)))
            .eval(&batch)
            .unwrap();
        assert_eq!(out.len(), 0);
        assert_eq!(out.data_type(), &arrow_schema::DataType::Int32);
    }
}
