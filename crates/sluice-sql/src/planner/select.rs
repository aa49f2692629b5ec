//! `SELECT` without aggregation: a filter and a projection over one relation, fused into one
//! Calc.

use crate::expr::udf::Functions;
use sqlparser::ast::{self, Select, SelectItem, Spanned, TableFactor};

use super::{PlanContext, Planned, group, join, legacy_window, plan_relation, window, with_calc};
use crate::error::{SqlError, SqlResult};
use crate::expr::Expr;
use crate::expr::bind::{Scope, ScopeColumn, bind};
use crate::operators::calc::Calc;
use crate::types::SqlType;

/// Plans a `SELECT`.
pub fn plan_select(ctx: &PlanContext<'_>, select: &Select) -> SqlResult<Planned> {
    if let Some(windowed) = legacy_window::rewrite(select)? {
        return plan_select(ctx, &windowed);
    }
    if select.having.is_some() {
        return Err(SqlError::new("HAVING is not supported yet").or_at(&select.span()));
    }
    let input = match select.from.as_slice() {
        // `SELECT 1`: one row of no columns.
        [] => super::values::one_empty_row(ctx)?,
        [from] if from.joins.is_empty() => {
            if let TableFactor::TableFunction { expr, .. } = &from.relation
                && group::aggregates(select)
            {
                return window::plan_window_aggregate(ctx, select, expr);
            }
            plan_relation(ctx, &from.relation)?
        }
        [from] => {
            let (joined, rest) = join::plan_joins(ctx, from, select.selection.as_ref())?;
            if rest != select.selection {
                // Parts of WHERE joined the join's condition: the rest filters the joined rows.
                let mut select = select.clone();
                select.selection = rest;
                return plan_over(ctx, &select, joined);
            }
            joined
        }
        _ => {
            return Err(SqlError::new(
                "a comma join is not supported yet: write JOIN .. ON with the equality of the two sides",
            )
            .or_at(&select.span()));
        }
    };
    plan_over(ctx, select, input)
}

/// `select`'s aggregation, or its `WHERE` and projection, over its planned `FROM` `input`.
fn plan_over(ctx: &PlanContext<'_>, select: &Select, input: Planned) -> SqlResult<Planned> {
    if group::aggregates(select) {
        return group::plan_group_aggregate(ctx, select, input);
    }
    let filter = select
        .selection
        .as_ref()
        .map(|e| bind_filter(e, &input.scope, &ctx.catalog.functions))
        .transpose()?;
    let (mut projections, mut scope) =
        project(&select.projection, &input.scope, &ctx.catalog.functions)?;
    // A changelog's rows keep their kinds.
    if let Some(kind) = changelog_kind(&input.scope) {
        projections.push(input.scope.column(kind));
        scope.columns.push(input.scope.columns[kind].clone());
    }
    let stream = with_calc(
        input.stream,
        Calc::new(filter, projections, &input.scope, &scope),
    );
    Ok(Planned::new(stream, scope))
}

/// The row-kind column of a changelog relation.
pub fn changelog_kind(scope: &Scope) -> Option<usize> {
    scope
        .columns
        .iter()
        .position(|c| c.name == crate::operators::group_agg::ROW_KIND_COLUMN)
}

/// A `WHERE` condition, which must be boolean.
pub fn bind_filter(expr: &ast::Expr, scope: &Scope, functions: &Functions) -> SqlResult<Expr> {
    let filter = bind(expr, scope, functions)?;
    if filter.ty != SqlType::Boolean {
        return Err(SqlError::new(format!(
            "WHERE needs a BOOLEAN condition, not {}",
            filter.ty
        ))
        .or_at(&expr.span()));
    }
    Ok(filter)
}

/// The select list's expressions, bound over `scope`, and the scope of their output:
/// each named by its alias, its column's name, or `EXPR$i` as Flink names it.
pub fn project(
    items: &[SelectItem],
    scope: &Scope,
    functions: &Functions,
) -> SqlResult<(Vec<Expr>, Scope)> {
    let mut projections = Vec::new();
    let mut output = Scope::default();
    for item in items {
        let (expr, name) = match item {
            SelectItem::UnnamedExpr(expr) => (expr, None),
            SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias.value.clone())),
            SelectItem::ExprWithAliases { .. } => {
                return Err(SqlError::new(format!("unsupported select item: {item}")));
            }
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                // `t.*`: the columns of the FROM item `t` (all, where none is known).
                let table = match item {
                    SelectItem::QualifiedWildcard(
                        ast::SelectItemQualifiedWildcardKind::ObjectName(name),
                        _,
                    ) if scope.columns.iter().any(|c| c.table.is_some()) => {
                        Some(crate::statement::object_name(name))
                    }
                    _ => None,
                };
                let kind = changelog_kind(scope);
                for (index, column) in scope.columns.iter().enumerate() {
                    let other_table = table.is_some() && column.table != table;
                    if Some(index) == kind || other_table {
                        continue;
                    }
                    projections.push(scope.column(index));
                    output.columns.push(column.clone());
                }
                continue;
            }
        };
        let bound = bind(expr, scope, functions)?;
        let name = name.unwrap_or_else(|| match expr {
            ast::Expr::Identifier(ident) => ident.value.clone(),
            ast::Expr::CompoundIdentifier(parts) => {
                parts.last().map(|p| p.value.clone()).unwrap_or_default()
            }
            _ => format!("EXPR${}", projections.len()),
        });
        use crate::expr::{ExprKind, Function};
        let rowtime = matches!(bound.kind, ExprKind::Column(i) if scope.columns[i].rowtime);
        let proctime = match &bound.kind {
            ExprKind::Column(i) => scope.columns[*i].proctime,
            ExprKind::Call(Function::Proctime, _) => true,
            _ => false,
        };
        let mut column = ScopeColumn::new(&name, bound.ty.clone(), bound.nullable);
        column.rowtime = rowtime;
        column.proctime = proctime;
        if let ExprKind::Column(i) = bound.kind {
            column.window_bound = scope.columns[i].window_bound;
            column.above_watermark = scope.columns[i].above_watermark;
        }
        output.columns.push(column);
        projections.push(bound);
    }
    Ok((projections, output))
}
