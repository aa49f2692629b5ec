//! What window and group aggregations plan alike: the Calc before the exchange (leading
//! columns, the keys, then each aggregate's argument), the aggregate calls found in the select
//! list (which is rewritten to read their results as `$agg0`, `$agg1`, ...), the keyed
//! exchange, and the Calc computing the select list from the aggregation's output.

use crate::expr::udf::Functions;
use sluice_api::prelude::*;
use sqlparser::ast::{self, SelectItem, Spanned};

use super::rewrite::rewrite_item;
use super::select::project;
use super::{PlanContext, Planned, with_calc};
use crate::aggregate::{AggCall, AggKind};
use crate::batch::RowBatch;
use crate::error::{SqlError, SqlResult};
use crate::expr::Expr;
use crate::expr::bind::{Scope, ScopeColumn, bind, function_args};
use crate::operators::calc::Calc;
use crate::operators::key_split::{KeyRouting, KeySplitOperator, RoutedBatch};
use crate::types::SqlType;

/// Row batches per network buffer into an aggregation: each holds up to a thousand rows.
pub(super) const ROW_BATCHES_PER_BUFFER: usize = 2;

/// The input side of an aggregation.
pub struct AggregateInput {
    /// Computes `leading…, keys…, arguments…` (and applies the `WHERE` filter).
    pub pre: Calc,
    /// The aggregate calls, reading their arguments from `pre`'s output.
    pub aggregates: Vec<AggCall>,
    /// The key columns of `pre`'s output, with their types.
    pub keys: Vec<(usize, SqlType)>,
    /// The select list reading aggregate results as `$agg0`, `$agg1`, ...
    pub items: Vec<SelectItem>,
}

impl AggregateInput {
    /// How plans show the aggregation: `groupBy=[..], select=[..]`.
    pub fn describe(&self) -> String {
        let text = |column: usize| self.pre.column_texts[column].as_str();
        let keys: Vec<&str> = self.keys.iter().map(|(k, _)| text(*k)).collect();
        let calls: Vec<String> = self
            .aggregates
            .iter()
            .map(|call| {
                let name = call.kind.name();
                match &call.arg {
                    Some((column, _)) => format!("{name}({})", text(*column)),
                    None => format!("{name}(*)"),
                }
            })
            .collect();
        format!(
            "groupBy=[{}], select=[{}]",
            keys.join(", "),
            calls.join(", ")
        )
    }
}

/// Collects the aggregation of `items` over `scope`, grouped by the columns `keys`, after the
/// columns `leading` (the window operator's rowtime).
pub fn aggregate_input(
    items: &[SelectItem],
    scope: &Scope,
    filter: Option<Expr>,
    leading: Vec<Expr>,
    keys: &[usize],
    functions: &Functions,
) -> SqlResult<AggregateInput> {
    let first_key = leading.len();
    let mut pre = leading;
    pre.extend(keys.iter().map(|&k| scope.column(k)));
    let mut aggregates = Vec::new();
    let mut rewritten = Vec::new();
    for item in items {
        rewritten.push(rewrite_item(item, &mut |function| {
            if AggKind::named(&function.name.to_string()).is_none() {
                return Ok(None);
            }
            let (kind, arg) = aggregate_call(function, scope, functions)?;
            let arg = arg.map(|e| {
                pre.push(e.clone());
                (pre.len() - 1, e.ty)
            });
            aggregates.push(AggCall::new(kind, arg).map_err(|e| e.or_at(&function.span()))?);
            let column = format!("$agg{}", aggregates.len() - 1);
            Ok(Some(ast::Expr::Identifier(ast::Ident::new(column))))
        })?);
    }
    let pre_scope = pre_scope(&pre);
    let keys = keys
        .iter()
        .enumerate()
        .map(|(i, &k)| (first_key + i, scope.columns[k].ty.clone()))
        .collect();
    Ok(AggregateInput {
        pre: Calc::new(filter, pre, scope, &pre_scope),
        aggregates,
        keys,
        items: rewritten,
    })
}

/// The columns `pre` computes before an aggregation's exchange, named `$in0`, `$in1`, ...
pub fn pre_scope(pre: &[Expr]) -> Scope {
    Scope {
        columns: pre
            .iter()
            .enumerate()
            .map(|(i, e)| ScopeColumn::new(&format!("$in{i}"), e.ty.clone(), e.nullable))
            .collect(),
    }
}

/// The `$agg` columns of an aggregation's output.
pub fn aggregate_columns(aggregates: &[AggCall]) -> impl Iterator<Item = ScopeColumn> + '_ {
    aggregates.iter().enumerate().map(|(i, call)| {
        let counts = matches!(call.kind, AggKind::Count | AggKind::CountStar);
        ScopeColumn::new(&format!("$agg{i}"), call.ty.clone(), !counts)
    })
}

/// What an aggregation computes: its operator's name and description, and its spec.
pub struct AggregationPlan<'a, Spec> {
    /// The operator's type (`WindowAggregate`, `GroupAggregate`, ...).
    pub operator_type: &'static str,
    /// Its description in plans.
    pub description: &'a str,
    /// What the operator is made from.
    pub spec: Spec,
}

/// The aggregation operator made by `make` from `plan.spec` after the keyed exchange of the
/// rows of `relation` through `input`: one subtask per parallel instance of the job, or one
/// when there are no keys (a global aggregate). The same aggregation of the same scan, planned
/// again in the job, is the first one's output. Returns its output and parallelism.
pub fn keyed_aggregation<Spec, Op>(
    ctx: &PlanContext<'_>,
    relation: Planned,
    input: &AggregateInput,
    plan: AggregationPlan<'_, Spec>,
    make: fn(&Spec) -> Op,
) -> (DataStream<RowBatch>, usize)
where
    Spec: std::fmt::Debug + Clone + Send + Sync + 'static,
    Op: sluice_runtime::task::operator::OneInputOperator<RoutedBatch, RowBatch> + 'static,
{
    let digest = relation.digest.as_ref().map(|scan| {
        let pre = &input.pre.description;
        format!("{scan} | {pre} | {} | {:?}", plan.description, plan.spec)
    });
    if let Some(digest) = &digest
        && let Some(planned) = ctx.reuse.borrow().aggregations.get(digest)
    {
        return planned.clone();
    }
    let env = ctx.env;
    let stream = relation.stream;
    let (operator_type, description) = (plan.operator_type, plan.description);
    let spec = plan.spec;
    let make = move || make(&spec);
    let parallelism = if input.keys.is_empty() {
        1
    } else {
        env.parallelism()
    };
    // The exchange routes by the key groups the operator owns: one max parallelism for both.
    let routing = KeyRouting {
        keys: input.keys.clone(),
        parallelism,
        max_parallelism: sluice_core::key_group::default_max_parallelism(parallelism),
    };
    let max_parallelism = routing.max_parallelism;
    let aggregated = keyed_exchange(stream, input.pre.clone(), routing)
        .transform(description, operator_type, make)
        .set_parallelism(parallelism)
        .set_max_parallelism(max_parallelism)
        .set_input_buffer_size(ROW_BATCHES_PER_BUFFER);
    if let Some(digest) = digest {
        ctx.reuse
            .borrow_mut()
            .aggregations
            .insert(digest, (aggregated.clone(), parallelism));
    }
    (aggregated, parallelism)
}

/// The input's rows through `pre` to the subtask owning each row's key.
pub(super) fn keyed_exchange(
    stream: DataStream<RowBatch>,
    pre: Calc,
    routing: KeyRouting,
) -> DataStream<RoutedBatch> {
    let keys: Vec<&str> = routing
        .keys
        .iter()
        .map(|(k, _)| pre.column_texts[*k].as_str())
        .collect();
    let name = if keys.is_empty() {
        "Exchange(distribution=[single])".to_string()
    } else {
        format!("Exchange(distribution=[hash[{}]])", keys.join(", "))
    };
    with_calc(stream, pre)
        .transform(&name, "KeySplit", move || KeySplitOperator(routing.clone()))
        .partition_custom(
            |target: &u32, _| *target as usize,
            |batch: &RoutedBatch| batch.target,
        )
}

/// The Calc computing the (rewritten) select list over the aggregation's output `post`, and
/// then the columns `carried` of `post` (a changelog's row kind).
pub fn select_list(
    stream: DataStream<RowBatch>,
    items: &[SelectItem],
    post: &Scope,
    carried: &[usize],
    parallelism: usize,
    functions: &Functions,
) -> SqlResult<Planned> {
    let (mut projections, mut scope) = project(items, post, functions)?;
    for &column in carried {
        projections.push(post.column(column));
        scope.columns.push(post.columns[column].clone());
    }
    let calc = Calc::new(None, projections, post, &scope);
    let stream = with_calc(stream, calc).set_parallelism(parallelism);
    Ok(Planned::new(stream, scope))
}

/// The names of the `GROUP BY` columns, each with its expression (for error positions).
pub fn group_by_names(select: &ast::Select) -> SqlResult<Vec<(String, &ast::Expr)>> {
    let ast::GroupByExpr::Expressions(exprs, _) = &select.group_by else {
        return Err(SqlError::new("GROUP BY ALL is not supported").or_at(&select.span()));
    };
    exprs
        .iter()
        .map(|expr| match expr {
            ast::Expr::Identifier(ident) => Ok((ident.value.clone(), expr)),
            ast::Expr::CompoundIdentifier(parts) if !parts.is_empty() => {
                Ok((parts[parts.len() - 1].value.clone(), expr))
            }
            other => Err(SqlError::new(format!(
                "GROUP BY expressions other than columns are not supported yet: {other}"
            ))
            .or_at(&other.span())),
        })
        .collect()
}

/// An aggregate call: its kind and bound argument.
fn aggregate_call(
    function: &ast::Function,
    scope: &Scope,
    functions: &Functions,
) -> SqlResult<(AggKind, Option<Expr>)> {
    let kind = AggKind::named(&function.name.to_string())
        .ok_or_else(|| SqlError::new("not an aggregate"))?;
    let star = matches!(&function.args, ast::FunctionArguments::List(list)
        if matches!(list.args.as_slice(), [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard)]));
    if star {
        if kind != AggKind::Count {
            return Err(
                SqlError::new(format!("{}(*) is not an aggregate", function.name))
                    .or_at(&function.span()),
            );
        }
        return Ok((AggKind::CountStar, None));
    }
    match function_args(function)?.as_slice() {
        [arg] => Ok((kind, Some(bind(arg, scope, functions)?))),
        _ => Err(
            SqlError::new(format!("{} takes one argument", function.name)).or_at(&function.span()),
        ),
    }
}
