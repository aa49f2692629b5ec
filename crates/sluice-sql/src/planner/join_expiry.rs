//! When a regular join may forget a kept row: a row of one side can join only the other side's
//! rows that pass the `ON` condition with it. Where the condition bounds a column of the other
//! side from above by a column of this one (`this.t >= other.c - INTERVAL '10' SECOND`, as in
//! `this.t BETWEEN other.c - INTERVAL '10' SECOND AND other.c`) and that column is above the
//! watermark in every row still to come (the end or time of the windows a window aggregation
//! fires), a kept row whose `t` plus the bound is at or below the watermark joins nothing any
//! more. Flink keeps such rows for ever; forgetting them changes no result.

use crate::expr::bind::Scope;
use crate::expr::{BinaryOp, Expr, ExprKind};
use crate::operators::join::Expiry;

/// The expiry of each side's rows (left's, then right's) that `residual`, over the joined
/// columns `joined` (the left side's `left_width` columns first), implies; the tightest bound
/// where the condition gives several.
pub fn expiries(residual: Option<&Expr>, joined: &Scope, left_width: usize) -> [Option<Expiry>; 2] {
    let mut found: [Option<Expiry>; 2] = [None, None];
    let Some(residual) = residual else {
        return found;
    };
    for part in bound_conjuncts(residual) {
        let Some((side, expiry)) = bound(part, joined, left_width) else {
            continue;
        };
        let slot = &mut found[side];
        if slot.is_none_or(|before| expiry.within < before.within) {
            *slot = Some(expiry);
        }
    }
    found
}

/// The `AND`ed parts of a bound condition.
pub fn bound_conjuncts(expr: &Expr) -> Vec<&Expr> {
    match &expr.kind {
        ExprKind::Binary(BinaryOp::And, a, b) => {
            let mut parts = bound_conjuncts(a);
            parts.extend(bound_conjuncts(b));
            parts
        }
        _ => vec![expr],
    }
}

/// `part` as the expiry of one side's rows (0: left, 1: right): `a >= b` (or `>`, or `b <= a`,
/// `b < a`) where `a` is a column of that side plus a constant and `b` a column above the
/// watermark of the other side plus a constant, both of one millisecond time type.
fn bound(part: &Expr, joined: &Scope, left_width: usize) -> Option<(usize, Expiry)> {
    let ExprKind::Binary(op, a, b) = &part.kind else {
        return None;
    };
    let (greater, lesser) = match op {
        BinaryOp::GtEq | BinaryOp::Gt => (a, b),
        BinaryOp::LtEq | BinaryOp::Lt => (b, a),
        _ => return None,
    };
    let (kept, kept_offset) = shifted_column(greater)?;
    let (other, other_offset) = shifted_column(lesser)?;
    let side = usize::from(kept >= left_width);
    let other_side = usize::from(other >= left_width);
    let (kept_column, other_column) = (&joined.columns[kept], &joined.columns[other]);
    if side == other_side
        || !other_column.above_watermark
        || kept_column.ty != other_column.ty
        || !kept_column.ty.is_timestamp()
    {
        return None;
    }
    // kept + kept_offset >= other + other_offset: the other side's column is at most
    // kept + (kept_offset - other_offset).
    let within = kept_offset.checked_sub(other_offset)?;
    let column = if side == 0 { kept } else { kept - left_width };
    Some((side, Expiry { column, within }))
}

/// `e` as a column plus a constant number of milliseconds: `c`, `c + INTERVAL ..`,
/// `c - INTERVAL ..`.
fn shifted_column(e: &Expr) -> Option<(usize, i64)> {
    match &e.kind {
        ExprKind::Column(i) => Some((*i, 0)),
        ExprKind::Binary(op @ (BinaryOp::Plus | BinaryOp::Minus), c, shift) => {
            let ExprKind::Column(i) = c.kind else {
                return None;
            };
            let millis = interval_constant(shift)?;
            match op {
                BinaryOp::Plus => Some((i, millis)),
                _ => Some((i, millis.checked_neg()?)),
            }
        }
        _ => None,
    }
}

/// The milliseconds of a constant interval.
fn interval_constant(e: &Expr) -> Option<i64> {
    use arrow_array::{Array, Int64Array};
    match (&e.kind, &e.ty) {
        (ExprKind::Literal(value), crate::types::SqlType::IntervalDayTime) => value
            .as_any()
            .downcast_ref::<Int64Array>()
            .filter(|v| v.is_valid(0))
            .map(|v| v.value(0)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::bind::{ScopeColumn, bind};
    use crate::expr::udf::Functions;
    use crate::types::SqlType;

    /// Bids (`t`, `price`) joined with window results (`c`, `maxprice`, `c` above the
    /// watermark when `marked`).
    fn joined(marked: bool) -> Scope {
        let column = |name: &str, ty: SqlType| ScopeColumn::new(name, ty, true);
        let mut c = column("c", SqlType::Timestamp(3));
        c.above_watermark = marked;
        Scope {
            columns: vec![
                column("t", SqlType::Timestamp(3)),
                column("price", SqlType::BigInt),
                c,
                column("maxprice", SqlType::BigInt),
            ],
        }
    }

    fn expiries_of(condition: &str, scope: &Scope) -> [Option<Expiry>; 2] {
        let parsed = sqlparser::parser::Parser::new(&sqlparser::dialect::GenericDialect {})
            .try_with_sql(condition)
            .and_then(|mut p| p.parse_expr())
            .expect("parses");
        let bound = bind(&parsed, scope, &Functions::default()).expect("binds");
        expiries(Some(&bound), scope, 2)
    }

    #[test]
    fn a_time_within_an_interval_before_a_window_end_lets_the_rows_go() {
        let scope = joined(true);
        let q7 = expiries_of("t BETWEEN c - INTERVAL '10' SECOND AND c", &scope);
        assert_eq!(
            q7,
            [
                Some(Expiry {
                    column: 0,
                    within: 10_000
                }),
                None
            ]
        );
        // The same bound written the other way round, and the tightest of two.
        let reversed = expiries_of(
            "c - INTERVAL '5' SECOND <= t + INTERVAL '1' SECOND AND c < t + INTERVAL '2' SECOND",
            &scope,
        );
        assert_eq!(reversed[0].map(|e| e.within), Some(2_000));
    }

    #[test]
    fn rows_stay_without_a_bound_by_a_column_above_the_watermark() {
        // An upper bound on the kept row's time bounds nothing to come.
        assert_eq!(expiries_of("t <= c", &joined(true)), [None, None]);
        // The window end of rows that may still come late.
        assert_eq!(
            expiries_of("t BETWEEN c - INTERVAL '10' SECOND AND c", &joined(false)),
            [None, None]
        );
        // Not a time.
        assert_eq!(
            expiries_of("price >= maxprice", &joined(true)),
            [None, None]
        );
        assert_eq!(
            expiries_of("t >= c OR price > 3", &joined(true)),
            [None, None]
        );
    }
}
