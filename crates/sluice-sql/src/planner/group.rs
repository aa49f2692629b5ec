//! Group aggregation without windows: `SELECT keys, aggregates FROM t GROUP BY keys` (or no
//! `GROUP BY`: one group). Its result is a changelog, whose batches carry the row kind in a
//! last column that the select list passes on to the sink.

use sqlparser::ast::{GroupByExpr, Select, Spanned};

use super::aggregate::{
    AggregationPlan, aggregate_columns, aggregate_input, group_by_names, keyed_aggregation,
    select_list,
};
use super::group_exprs::with_group_expressions;
use super::rewrite::rewrite_item;
use super::select::bind_filter;
use super::{PlanContext, Planned};
use crate::aggregate::AggKind;
use crate::error::{SqlError, SqlResult};
use crate::expr::bind::{Scope, ScopeColumn, WindowBound};
use crate::operators::group_agg::{GroupAggOperator, GroupAggSpec, ROW_KIND_COLUMN};
use crate::types::SqlType;

/// Plans a grouped `SELECT` over `input`.
pub fn plan_group_aggregate(
    ctx: &PlanContext<'_>,
    select: &Select,
    input: Planned,
) -> SqlResult<Planned> {
    if super::select::changelog_kind(&input.scope).is_some() {
        return Err(SqlError::new(
            "aggregating an updating input (a changelog) is not supported yet",
        )
        .or_at(&select.span()));
    }
    let (select, input) = with_group_expressions(ctx, select, input)?;
    let select = select.as_ref();
    let keys = group_columns(select, &input.scope)?;
    let bound = |which| {
        keys.iter()
            .copied()
            .find(|&k| input.scope.columns[k].window_bound == Some(which))
    };
    if let (Some(start), Some(end)) = (bound(WindowBound::Start), bound(WindowBound::End)) {
        return super::window::plan_attached_window_aggregate(
            ctx, select, input, &keys, start, end,
        );
    }
    let filter = select
        .selection
        .as_ref()
        .map(|e| bind_filter(e, &input.scope, &ctx.catalog.functions))
        .transpose()?;
    let aggregation = aggregate_input(
        &select.projection,
        &input.scope,
        filter,
        Vec::new(),
        &keys,
        &ctx.catalog.functions,
    )?;
    let mut post = Scope::default();
    for &key in &keys {
        let mut column = input.scope.columns[key].clone();
        // A grouped result is no time attribute.
        column.rowtime = false;
        post.columns.push(column);
    }
    post.columns
        .extend(aggregate_columns(&aggregation.aggregates));
    // Streaming: a changelog, its row kinds in a last column. Batch: final results only (as
    // Flink's batch HashAggregate).
    if !ctx.batch {
        post.columns
            .push(ScopeColumn::new(ROW_KIND_COLUMN, SqlType::TinyInt, false));
    }
    let spec = GroupAggSpec {
        keys: aggregation.keys.clone(),
        aggregates: aggregation.aggregates.clone(),
        schema: post.arrow_schema(),
        final_only: ctx.batch,
    };
    let operator_type = if ctx.batch {
        "HashAggregate"
    } else {
        "GroupAggregate"
    };
    let description = format!("{operator_type}({})", aggregation.describe());
    let plan = AggregationPlan {
        operator_type,
        description: &description,
        spec,
    };
    let (grouped, parallelism) = keyed_aggregation(ctx, input, &aggregation, plan, |spec| {
        GroupAggOperator::new(spec.clone())
    });
    let carried: Vec<usize> = if ctx.batch {
        Vec::new()
    } else {
        vec![post.columns.len() - 1]
    };
    select_list(
        grouped,
        &aggregation.items,
        &post,
        &carried,
        parallelism,
        &ctx.catalog.functions,
    )
}

/// The `GROUP BY` columns' indexes in `scope`.
fn group_columns(select: &Select, scope: &Scope) -> SqlResult<Vec<usize>> {
    group_by_names(select)?
        .into_iter()
        .map(|(name, expr)| scope.resolve(&name).map_err(|e| e.or_at(&expr.span())))
        .collect()
}

/// Whether the select aggregates: `GROUP BY`, or an aggregate call in its select list.
pub fn aggregates(select: &Select) -> bool {
    let grouped = match &select.group_by {
        GroupByExpr::Expressions(exprs, _) => !exprs.is_empty(),
        GroupByExpr::All(_) => true,
    };
    let mut calls = false;
    for item in &select.projection {
        let _ = rewrite_item(item, &mut |function| {
            calls |= AggKind::named(&function.name.to_string()).is_some();
            Ok(None)
        });
    }
    grouped || calls
}
