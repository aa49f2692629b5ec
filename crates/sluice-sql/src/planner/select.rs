//! `SELECT` without aggregation: a filter and a projection over one relation, fused into one
//! Calc.

use crate::expr::udf::Functions;
use sqlparser::ast::{self, Select, SelectItem, Spanned, TableFactor};

use super::{PlanContext, Planned, group, legacy_window, plan_relation, window, with_calc};
use crate::error::{SqlError, SqlResult};
use crate::expr::Expr;
use crate::expr::bind::{Scope, ScopeColumn, bind};
use crate::operators::calc::Calc;
use crate::types::SqlType;

/// Plans a `SELECT`.
pub fn plan_select(ctx: &PlanContext<'_>, select: &Select) -> SqlResult<Planned> {
    let from = match select.from.as_slice() {
        [one] if one.joins.is_empty() => one,
        [] => {
            return Err(
                SqlError::new("SELECT without FROM is not supported yet").or_at(&select.span())
            );
        }
        _ => return Err(SqlError::new("joins are not supported yet").or_at(&select.span())),
    };
    if let Some(windowed) = legacy_window::rewrite(select)? {
        return plan_select(ctx, &windowed);
    }
    if select.having.is_some() {
        return Err(SqlError::new("HAVING is not supported yet").or_at(&select.span()));
    }
    if let TableFactor::TableFunction { expr, .. } = &from.relation {
        return window::plan_window_aggregate(ctx, select, expr);
    }
    let input = plan_relation(ctx, &from.relation)?;
    if group::aggregates(select) {
        return group::plan_group_aggregate(ctx, select, input);
    }
    let filter = select
        .selection
        .as_ref()
        .map(|e| bind_filter(e, &input.scope, &ctx.catalog.functions))
        .transpose()?;
    let (projections, scope) = project(&select.projection, &input.scope, &ctx.catalog.functions)?;
    let stream = with_calc(input.stream, Calc::new(filter, projections, &scope));
    Ok(Planned { stream, scope })
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
                for (index, column) in scope.columns.iter().enumerate() {
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
        let rowtime =
            matches!(bound.kind, crate::expr::ExprKind::Column(i) if scope.columns[i].rowtime);
        let mut column = ScopeColumn::new(&name, bound.ty.clone(), bound.nullable);
        column.rowtime = rowtime;
        output.columns.push(column);
        projections.push(bound);
    }
    Ok((projections, output))
}
