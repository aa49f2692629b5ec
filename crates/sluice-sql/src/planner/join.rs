//! Joins in `FROM`: `a [INNER] JOIN b ON cond` as Flink's regular join, and `LEFT`, `RIGHT`
//! and `FULL [OUTER] JOIN` of two windowed relations as its outer window join. The `ON` condition's
//! equalities between an expression of each side are the join key (both sides' rows go through
//! a keyed exchange on it); the rest of it filters the joined rows in the join operator.

use sluice_api::prelude::*;
use sqlparser::ast::{self, BinaryOperator, JoinConstraint, Spanned, TableWithJoins};

use super::aggregate::{ROW_BATCHES_PER_BUFFER, keyed_exchange};
use super::join_expiry::{bound_conjuncts, expiries};
use super::select::changelog_kind;
use super::{PlanContext, Planned, plan_relation};
use crate::error::{SqlError, SqlResult};
use crate::expr::bind::{Scope, ScopeColumn, WindowBound, and, bind, cast_to, comparable};
use crate::expr::{Expr, ExprKind};
use crate::operators::calc::Calc;
use crate::operators::group_agg::ROW_KIND_COLUMN;
use crate::operators::join::{Expiry, JoinOperator, JoinSide, JoinSpec, JoinType};
use crate::operators::key_split::KeyRouting;
use crate::types::SqlType;

/// Plans a `FROM` item with its joins, left to right; the parts of the `WHERE` condition
/// `filter` over both sides of the last join join its condition (as Flink pushes them into the
/// join), and the rest of `filter` is returned.
pub fn plan_joins(
    ctx: &PlanContext<'_>,
    from: &TableWithJoins,
    filter: Option<&ast::Expr>,
) -> SqlResult<(Planned, Option<ast::Expr>)> {
    let mut planned = plan_relation(ctx, &from.relation)?;
    let mut rest: Vec<&ast::Expr> = filter.map(conjuncts).unwrap_or_default();
    for (i, join) in from.joins.iter().enumerate() {
        let (join_type, on) = match &join.join_operator {
            ast::JoinOperator::Join(JoinConstraint::On(on))
            | ast::JoinOperator::Inner(JoinConstraint::On(on)) => (JoinType::Inner, on),
            ast::JoinOperator::Left(JoinConstraint::On(on))
            | ast::JoinOperator::LeftOuter(JoinConstraint::On(on)) => (JoinType::LeftOuter, on),
            ast::JoinOperator::Right(JoinConstraint::On(on))
            | ast::JoinOperator::RightOuter(JoinConstraint::On(on)) => (JoinType::RightOuter, on),
            ast::JoinOperator::FullOuter(JoinConstraint::On(on)) => (JoinType::FullOuter, on),
            other => {
                let kind = match other {
                    ast::JoinOperator::Join(_) | ast::JoinOperator::Inner(_) => "a join without ON",
                    ast::JoinOperator::Left(_) | ast::JoinOperator::LeftOuter(_) => "LEFT JOIN",
                    ast::JoinOperator::Right(_) | ast::JoinOperator::RightOuter(_) => "RIGHT JOIN",
                    ast::JoinOperator::FullOuter(_) => "FULL JOIN",
                    ast::JoinOperator::CrossJoin(_) => "CROSS JOIN",
                    _ => "this join",
                };
                return Err(SqlError::new(format!(
                    "{kind} is not supported yet (joins with ON are)"
                ))
                .or_at(&join.relation.span()));
            }
        };
        let right = plan_relation(ctx, &join.relation)?;
        // `WHERE` names columns of the whole `FROM`: only the last join sees them all. It
        // filters an outer join's rows after it (they may be NULL-padded).
        let pushed = if i + 1 == from.joins.len() && join_type == JoinType::Inner {
            std::mem::take(&mut rest)
        } else {
            Vec::new()
        };
        let (joined, kept) = plan_join(ctx, planned, right, join_type, on, pushed)
            .map_err(|e| e.or_at(&on.span()))?;
        planned = joined;
        rest.extend(kept);
    }
    let rest = rest
        .into_iter()
        .cloned()
        .reduce(|a, b| ast::Expr::BinaryOp {
            left: Box::new(a),
            op: BinaryOperator::And,
            right: Box::new(b),
        });
    Ok((planned, rest))
}

/// A relation's data columns (without a changelog's row kind) and its row-kind column.
fn data_of(scope: &Scope) -> (Scope, Option<usize>) {
    let mut data = scope.clone();
    let row_kind = changelog_kind(scope);
    if let Some(index) = row_kind {
        data.columns.remove(index);
    }
    (data, row_kind)
}

/// The `AND`ed parts of a condition.
fn conjuncts(expr: &ast::Expr) -> Vec<&ast::Expr> {
    match expr {
        ast::Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            let mut parts = conjuncts(left);
            parts.extend(conjuncts(right));
            parts
        }
        ast::Expr::Nested(inner) => conjuncts(inner),
        other => vec![other],
    }
}

/// `left JOIN right ON on` (of `join_type`), with the parts of `filter` (`AND`ed parts of
/// `WHERE`) that read both sides joining `on`; returns the parts it left.
fn plan_join<'w>(
    ctx: &PlanContext<'_>,
    left: Planned,
    right: Planned,
    join_type: JoinType,
    on: &ast::Expr,
    filter: Vec<&'w ast::Expr>,
) -> SqlResult<(Planned, Vec<&'w ast::Expr>)> {
    let functions = &ctx.catalog.functions;
    let (left_data, left_kind) = data_of(&left.scope);
    let (right_data, right_kind) = data_of(&right.scope);
    let mut joined = Scope::default();
    for column in left_data.columns.iter().chain(&right_data.columns) {
        let mut column = column.clone();
        // A regular join's output is no time attribute.
        column.rowtime = false;
        joined.columns.push(column);
    }
    let (mut left_keys, mut right_keys) = (Vec::new(), Vec::new());
    let mut window_end = None;
    let mut window_start = false;
    let mut residual: Option<Expr> = None;
    for part in conjuncts(on) {
        if let Some((l, r)) = equi_pair(part, &left_data, &right_data, functions) {
            let both = |bound| is_bound(&l, &left_data, bound) && is_bound(&r, &right_data, bound);
            if both(WindowBound::End) {
                window_end = Some(left_keys.len());
            }
            window_start |= both(WindowBound::Start);
            let ty = key_type(&l.ty, &r.ty).map_err(|e| e.or_at(&part.span()))?;
            left_keys.push(cast_to(l, &ty));
            right_keys.push(cast_to(r, &ty));
            continue;
        }
        let condition = bind(part, &joined, functions)?;
        if condition.ty != SqlType::Boolean {
            return Err(SqlError::new(format!(
                "ON must be a boolean condition, not {}",
                condition.ty
            ))
            .or_at(&part.span()));
        }
        residual = Some(match residual {
            None => condition,
            Some(before) => and(before, condition)?,
        });
    }
    let mut rest = Vec::new();
    for part in filter {
        match both_sides(part, &joined, left_data.columns.len(), functions) {
            Some(condition) => {
                residual = Some(match residual {
                    None => condition,
                    Some(before) => and(before, condition)?,
                })
            }
            None => rest.push(part),
        }
    }
    if left_keys.is_empty() {
        return Err(SqlError::new(
            "a join needs an equality between a column of each side in ON (cross joins are not supported)",
        ));
    }
    // Flink's window join: two windowed relations joined on both their window bounds.
    let windowed =
        window_start && window_end.is_some() && left_kind.is_none() && right_kind.is_none();
    if join_type != JoinType::Inner && !windowed {
        let sql = match join_type {
            JoinType::LeftOuter => "LEFT JOIN",
            JoinType::RightOuter => "RIGHT JOIN",
            _ => "FULL JOIN",
        };
        return Err(SqlError::new(format!(
            "{sql} is not supported yet but as a window join (both sides windowed, joined on \
             their window_start and window_end)"
        )));
    }
    let [left_expiry, right_expiry] = expiries(residual.as_ref(), &joined, left_data.columns.len());
    let description = join_description(
        &joined,
        &left_data,
        &left_keys,
        &right_keys,
        &residual,
        windowed,
        join_type,
    );
    let parallelism = ctx.env.parallelism();
    let max_parallelism = sluice_core::key_group::default_max_parallelism(parallelism);
    let exchange = |planned: Planned,
                    data: &Scope,
                    kind: Option<usize>,
                    keys: Vec<Expr>,
                    expiry: Option<Expiry>| {
        let mut projections: Vec<Expr> = (0..planned.scope.columns.len())
            .filter(|&i| Some(i) != kind)
            .map(|i| planned.scope.column(i))
            .collect();
        let mut scope = data.clone();
        let first_key = projections.len();
        for (i, key) in keys.iter().enumerate() {
            scope.columns.push(ScopeColumn::new(
                &format!("$key{i}"),
                key.ty.clone(),
                key.nullable,
            ));
            projections.push(key.clone());
        }
        let routed_kind = kind.map(|k| {
            scope.columns.push(planned.scope.columns[k].clone());
            projections.push(planned.scope.column(k));
            projections.len() - 1
        });
        let key_columns: Vec<(usize, SqlType)> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (first_key + i, k.ty.clone()))
            .collect();
        let routing = KeyRouting {
            keys: key_columns.clone(),
            parallelism,
            max_parallelism,
        };
        let side = JoinSide {
            types: data.columns.iter().map(|c| c.ty.clone()).collect(),
            keys: key_columns,
            row_kind: routed_kind,
            expiry,
        };
        let pre = Calc::new(None, projections, &planned.scope, &scope);
        (keyed_exchange(planned.stream, pre, routing), side)
    };
    let (left_stream, left_side) = exchange(left, &left_data, left_kind, left_keys, left_expiry);
    let (right_stream, right_side) =
        exchange(right, &right_data, right_kind, right_keys, right_expiry);
    let changelog = left_side.row_kind.is_some() || right_side.row_kind.is_some();
    let mut output = joined;
    let left_width = left_side.types.len();
    for (i, column) in output.columns.iter_mut().enumerate() {
        // The join may emit a row long after the watermark passed its values.
        column.above_watermark = false;
        let padded = if i < left_width {
            join_type.keeps_right()
        } else {
            join_type.keeps_left()
        };
        if padded {
            // The side an outer join pads with NULLs where a row of the other joined none.
            column.nullable = true;
            column.window_bound = None;
        }
    }
    if changelog {
        output
            .columns
            .push(ScopeColumn::new(ROW_KIND_COLUMN, SqlType::TinyInt, false));
    }
    let spec = JoinSpec {
        left: left_side,
        right: right_side,
        residual,
        schema: output.arrow_schema(),
        window_end,
        windowed,
        join_type,
    };
    let stream = left_stream
        .connect(right_stream)
        .transform(&description, "Join", move || {
            JoinOperator::new(spec.clone())
        })
        .set_parallelism(parallelism)
        .set_max_parallelism(max_parallelism)
        .set_input_buffer_size(ROW_BATCHES_PER_BUFFER);
    Ok((Planned::new(stream, output), rest))
}

/// `part` of a `WHERE` condition bound over the `joined` columns (the left side's
/// `left_width` first) when it is a boolean condition reading columns of both sides.
fn both_sides(
    part: &ast::Expr,
    joined: &Scope,
    left_width: usize,
    functions: &crate::expr::udf::Functions,
) -> Option<Expr> {
    let condition = bind(part, joined, functions).ok()?;
    let mut read = vec![false; joined.columns.len()];
    condition.mark_columns(&mut read);
    let (left, right) = read.split_at(left_width);
    (condition.ty == SqlType::Boolean && left.contains(&true) && right.contains(&true))
        .then_some(condition)
}

/// Whether `e` is the column of `scope` that is a window's `bound`.
fn is_bound(e: &Expr, scope: &Scope, bound: WindowBound) -> bool {
    matches!(e.kind, ExprKind::Column(i) if scope.columns[i].window_bound == Some(bound))
}

/// How plans show the join: `Join(joinType=[InnerJoin], where=[..])`, or `WindowJoin(..)`.
fn join_description(
    joined: &Scope,
    left: &Scope,
    left_keys: &[Expr],
    right_keys: &[Expr],
    residual: &Option<Expr>,
    windowed: bool,
    join_type: JoinType,
) -> String {
    // As Flink names the joined columns: a name taken before gets the first free number.
    let mut names: Vec<String> = Vec::new();
    for column in &joined.columns {
        let mut name = column.name.clone();
        let mut n = 0;
        while names.contains(&name) {
            name = format!("{}{n}", column.name);
            n += 1;
        }
        names.push(name);
    }
    let right_names = &names[left.columns.len()..];
    let mut conditions: Vec<String> = left_keys
        .iter()
        .zip(right_keys)
        .map(|(l, r)| format!("=({}, {})", l.describe(&names), r.describe(right_names)))
        .collect();
    if let Some(residual) = residual {
        conditions.extend(bound_conjuncts(residual).iter().map(|e| e.describe(&names)));
    }
    let condition = match conditions.as_slice() {
        [one] => one.clone(),
        all => format!("AND({})", all.join(", ")),
    };
    format!(
        "{}(joinType=[{}], where=[{condition}])",
        if windowed { "WindowJoin" } else { "Join" },
        join_type.name(),
    )
}

/// `a = b` with `a` over the left side's columns and `b` over the right's (or the reverse):
/// the two key expressions, left's first.
fn equi_pair(
    part: &ast::Expr,
    left: &Scope,
    right: &Scope,
    functions: &crate::expr::udf::Functions,
) -> Option<(Expr, Expr)> {
    let ast::Expr::BinaryOp {
        left: a,
        op: BinaryOperator::Eq,
        right: b,
    } = part
    else {
        return None;
    };
    let over = |e: &ast::Expr, scope: &Scope| bind(e, scope, functions).ok();
    match (over(a, left), over(b, right)) {
        (Some(l), Some(r)) => Some((l, r)),
        _ => match (over(b, left), over(a, right)) {
            (Some(l), Some(r)) => Some((l, r)),
            _ => None,
        },
    }
}

/// The type both sides of a key equality are compared in: as any comparison's.
fn key_type(left: &SqlType, right: &SqlType) -> SqlResult<SqlType> {
    comparable(left, right)
        .map_err(|e| SqlError::new(format!("{} in a join's ON condition", e.message)))
}
