//! Planning: an `INSERT INTO sink SELECT ...` becomes a Sluice job on a
//! [`StreamExecutionEnvironment`] — table scans,
//! Calcs (filter and projection), window aggregations behind a keyed exchange, `UNION ALL`,
//! views (planned where they are read), and the sink.

mod aggregate;
mod group;
mod group_exprs;
mod join;
mod join_expiry;
mod legacy_window;
mod referenced;
mod rewrite;
mod scan;
pub mod select;
pub mod sink;
mod union;
mod values;
mod window;

use std::cell::RefCell;
use std::collections::HashMap;

use sluice_api::prelude::*;
use sqlparser::ast::{self, Query, SetExpr, SetOperator, SetQuantifier, Spanned, TableFactor};

use crate::batch::RowBatch;
use crate::catalog::Catalog;
use crate::error::{SqlError, SqlResult};
use crate::expr::bind::{Scope, cast_to};
use crate::operators::calc::{Calc, CalcOperator};
use crate::statement::object_name;
pub use referenced::ReferencedNames;

/// What planning reads: the catalog and the environment the job is built on.
pub struct PlanContext<'a> {
    /// The session's tables.
    pub catalog: &'a Catalog,
    /// The job being built.
    pub env: &'a StreamExecutionEnvironment,
    /// Batch mode (`execution.runtime-mode` = `batch`): aggregates emit final results only.
    pub batch: bool,
    /// The plans made so far, to reuse.
    pub reuse: RefCell<Reuse>,
    /// The column names the job's queries can reach: scans compute only those.
    pub referenced: ReferencedNames,
}

/// A planned relation: its stream of batches and the columns they hold.
#[derive(Clone)]
pub struct Planned {
    /// The batches.
    pub stream: DataStream<RowBatch>,
    /// Their columns.
    pub scope: Scope,
    /// What the stream computes, when it is one that plans reuse (a table's scan).
    pub digest: Option<String>,
}

impl Planned {
    /// The relation `stream` of `scope`'s columns.
    pub fn new(stream: DataStream<RowBatch>, scope: Scope) -> Planned {
        Planned {
            stream,
            scope,
            digest: None,
        }
    }

    /// The same relation, its columns named as of the `FROM` item `table`.
    fn qualified(self, table: &str) -> Planned {
        Planned {
            scope: self.scope.qualified(table),
            ..self
        }
    }
}

/// What planning made already in one job, used again where the same is planned again
/// (Flink's sub-plan reuse): a table is scanned once, and an aggregation of a scan computed
/// once however many times a query names it.
pub struct Reuse {
    enabled: bool,
    scans: HashMap<String, Planned>,
    aggregations: HashMap<String, (DataStream<RowBatch>, usize)>,
}

impl Reuse {
    /// Nothing planned yet; `enabled` false plans everything anew
    /// (`table.optimizer.reuse-sub-plan-enabled` = `false`).
    pub fn new(enabled: bool) -> RefCell<Reuse> {
        RefCell::new(Reuse {
            enabled,
            scans: HashMap::new(),
            aggregations: HashMap::new(),
        })
    }
}

/// `stream` through `calc`.
fn with_calc(stream: DataStream<RowBatch>, calc: Calc) -> DataStream<RowBatch> {
    let name = calc.description.clone();
    stream.transform(&name, "Calc", move || CalcOperator(calc.clone()))
}

/// `input`'s batches with each column cast to the type of `target`'s column of the same
/// position (the batches themselves when every type matches already).
fn cast_columns(input: Planned, target: &Scope) -> DataStream<RowBatch> {
    let same = input
        .scope
        .columns
        .iter()
        .zip(&target.columns)
        .all(|(a, b)| a.ty == b.ty);
    if same {
        return input.stream;
    }
    let projections = (0..target.columns.len())
        .map(|i| cast_to(input.scope.column(i), &target.columns[i].ty))
        .collect();
    with_calc(
        input.stream,
        Calc::new(None, projections, &input.scope, target),
    )
}

/// Plans a query.
pub fn plan_query(ctx: &PlanContext<'_>, query: &Query) -> SqlResult<Planned> {
    if query.order_by.is_some() || query.limit_clause.is_some() || query.with.is_some() {
        return Err(
            SqlError::new("ORDER BY, LIMIT and WITH are not supported yet").or_at(&query.span()),
        );
    }
    plan_set_expr(ctx, &query.body)
}

/// Plans a query body: a `SELECT`, a nested query, or `UNION ALL`.
fn plan_set_expr(ctx: &PlanContext<'_>, body: &SetExpr) -> SqlResult<Planned> {
    match body {
        SetExpr::Select(select) => select::plan_select(ctx, select),
        SetExpr::Query(inner) => plan_query(ctx, inner),
        SetExpr::Values(values) => values::plan_values(ctx, values),
        SetExpr::SetOperation {
            op: SetOperator::Union,
            set_quantifier: SetQuantifier::All,
            left,
            right,
        } => union::union_all(plan_set_expr(ctx, left)?, plan_set_expr(ctx, right)?)
            .map_err(|e| e.or_at(&body.span())),
        other => Err(SqlError::new(format!(
            "unsupported query: {}",
            other.to_string().chars().take(60).collect::<String>()
        ))
        .or_at(&other.span())),
    }
}

/// Plans reading the table or view `name`.
fn plan_named(ctx: &PlanContext<'_>, name: &str) -> SqlResult<Planned> {
    if let Some(view) = ctx.catalog.view(name) {
        return plan_query(ctx, view);
    }
    if let Some(scanned) = ctx.reuse.borrow().scans.get(name) {
        return Ok(scanned.clone());
    }
    let mut scanned = scan::scan(ctx, ctx.catalog.table(name)?)?;
    if !ctx.reuse.borrow().enabled {
        return Ok(scanned);
    }
    scanned.digest = Some(format!("scan {name}"));
    ctx.reuse
        .borrow_mut()
        .scans
        .insert(name.to_string(), scanned.clone());
    Ok(scanned)
}

/// `planned` with its columns named by `alias`'s column list (`AS t(a, b)`), if it has one.
fn renamed(mut planned: Planned, alias: &ast::TableAlias) -> SqlResult<Planned> {
    if alias.columns.is_empty() {
        return Ok(planned);
    }
    if alias.columns.len() != planned.scope.columns.len() {
        return Err(SqlError::new(format!(
            "the alias {} names {} columns of {}",
            alias,
            alias.columns.len(),
            planned.scope.columns.len()
        ))
        .or_at(&alias.name.span));
    }
    for (column, name) in planned.scope.columns.iter_mut().zip(&alias.columns) {
        column.name = name.name.value.clone();
    }
    Ok(planned)
}

/// A derived `FROM` item under its alias, if it has one (`(..) AS t(a, b)`).
fn aliased(planned: Planned, alias: Option<&ast::TableAlias>) -> SqlResult<Planned> {
    Ok(match alias {
        Some(alias) => renamed(planned, alias)?.qualified(&alias.name.value),
        None => planned,
    })
}

/// Plans a `FROM` item.
fn plan_relation(ctx: &PlanContext<'_>, relation: &TableFactor) -> SqlResult<Planned> {
    match relation {
        TableFactor::Table { name, alias, .. } => {
            let table = object_name(name);
            let planned = plan_named(ctx, &table).map_err(|e| e.or_at(&name.span()))?;
            Ok(planned.qualified(alias.as_ref().map_or(&table, |a| &a.name.value)))
        }
        TableFactor::Derived {
            subquery, alias, ..
        } => aliased(plan_query(ctx, subquery)?, alias.as_ref()),
        TableFactor::TableFunction { expr, alias } => {
            aliased(window::plan_window_table(ctx, expr)?, alias.as_ref())
        }
        other => Err(SqlError::new(format!("unsupported FROM item: {other}")).or_at(&other.span())),
    }
}
