//! Constant folding: a subexpression that reads no column (`CAST(7 AS BIGINT)`,
//! `'a' || 'b'`) computed once when an operator is built rather than on every row of every
//! batch, as Flink's planner reduces constant expressions.

use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchOptions};
use arrow_schema::Schema;

use super::{Expr, ExprKind, Function};

impl Expr {
    /// A copy where each outermost subexpression that reads no column and gives one value on
    /// every row is that value. One that fails (`1 / 0`) stays, to fail on the rows where it
    /// is evaluated, as without folding.
    pub fn folded(&self) -> Expr {
        self.replaced(&|e| {
            if matches!(e.kind, ExprKind::Literal(_)) || !is_constant(e) {
                return None;
            }
            let options = RecordBatchOptions::new().with_row_count(Some(1));
            let one_row =
                RecordBatch::try_new_with_options(Arc::new(Schema::empty()), vec![], &options)
                    .ok()?;
            let value = e.eval(&one_row).ok()?;
            Some(Expr {
                kind: ExprKind::Literal(value),
                ty: e.ty.clone(),
                nullable: e.nullable,
            })
        })
    }
}

/// Whether `e` gives the same value on every row: it reads no column, calls no user's
/// function (which may not) and does not read the clock.
fn is_constant(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Column(_)
        | ExprKind::Partial { .. }
        | ExprKind::Udf(..)
        | ExprKind::Call(Function::Proctime, _) => false,
        _ => e.children().into_iter().all(is_constant),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::BinaryOp;
    use crate::types::SqlType;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    use arrow_array::{ArrayRef, Int64Array};

    fn cast_to_bigint(e: Expr) -> Expr {
        Expr {
            kind: ExprKind::Cast(Box::new(e)),
            ty: SqlType::BigInt,
            nullable: false,
        }
    }

    fn binary(op: BinaryOp, left: Expr, right: Expr) -> Expr {
        Expr {
            kind: ExprKind::Binary(op, Box::new(left), Box::new(right)),
            ty: SqlType::BigInt,
            nullable: true,
        }
    }

    #[test]
    fn constant_parts_become_literals_and_give_the_same_values() {
        let id = Expr::column(0, SqlType::BigInt, false);
        // id * CAST(7 AS BIGINT) + CAST(1000 AS BIGINT)
        let expr = binary(
            BinaryOp::Plus,
            binary(BinaryOp::Multiply, id, cast_to_bigint(Expr::int(7))),
            cast_to_bigint(Expr::int(1000)),
        );
        let folded = expr.folded();
        let ExprKind::Binary(_, product, sum_right) = &folded.kind else {
            panic!("the sum stays a sum: {folded:?}");
        };
        assert!(matches!(sum_right.kind, ExprKind::Literal(_)));
        let ExprKind::Binary(_, _, factor) = &product.kind else {
            panic!("the product stays a product: {product:?}");
        };
        assert!(matches!(factor.kind, ExprKind::Literal(_)));
        let batch = RecordBatch::try_from_iter([(
            "id",
            Arc::new(Int64Array::from(vec![0, 1, 5])) as ArrayRef,
        )])
        .unwrap();
        let values = |e: &Expr| -> Vec<i64> {
            let out = e.eval(&batch).unwrap();
            out.as_primitive::<Int64Type>().values().to_vec()
        };
        assert_eq!(values(&folded), [1000, 1007, 1035]);
        assert_eq!(values(&folded), values(&expr));
    }

    #[test]
    fn a_constant_that_fails_stays_to_fail_where_it_is_evaluated() {
        let quotient = binary(
            BinaryOp::Divide,
            cast_to_bigint(Expr::int(1)),
            cast_to_bigint(Expr::int(0)),
        );
        let folded = quotient.folded();
        assert!(matches!(folded.kind, ExprKind::Binary(..)), "{folded:?}");
        // Its constant operands are folded all the same.
        let ExprKind::Binary(_, left, right) = &folded.kind else {
            unreachable!()
        };
        assert!(matches!(left.kind, ExprKind::Literal(_)));
        assert!(matches!(right.kind, ExprKind::Literal(_)));
    }
}
