//! Window aggregation over the window table functions: `SELECT keys, window_start, window_end,
//! aggregates FROM TABLE(TUMBLE|HOP|CUMULATE(TABLE t, DESCRIPTOR(ts), ...)) GROUP BY
//! window_start, window_end, keys`. Planned as a Calc computing the keys and aggregate
//! arguments, a keyed exchange, the window operator, and a Calc computing the select list.
//! Without aggregation, a window table function is a relation of its own (for a window join);
//! a SESSION one collects its rows per session until the session closes.

use sluice_api::prelude::*;
use sqlparser::ast::{self, Select, Spanned};

use super::aggregate::{
    AggregateInput, AggregationPlan, aggregate_columns, aggregate_input, group_by_names,
    keyed_aggregation, pre_scope, select_list,
};
use super::select::bind_filter;
use super::{PlanContext, Planned, plan_named};
use crate::aggregate::{AggCall, AggKind};
use crate::dialect::TABLE_ARGUMENT;
use crate::error::{SqlError, SqlResult};
use crate::expr::Expr;
use crate::expr::bind::{Scope, ScopeColumn, WindowBound, function_args, interval_millis};
use crate::operators::calc::Calc;
use crate::operators::session_rows::SessionRowsOperator;
use crate::operators::window_agg::{WindowAggOperator, WindowAggSpec, WindowKind};
use crate::operators::window_table::WindowTableOperator;
use crate::types::SqlType;

/// The window columns a window table function adds.
const WINDOW_COLUMNS: [&str; 3] = ["window_start", "window_end", "window_time"];

/// A window table function call: its table, time column and windows.
struct WindowCall {
    table: String,
    /// `PARTITION BY` columns of the table argument (session windows).
    partition: Vec<String>,
    time_column: String,
    kind: WindowKind,
}

/// Plans a grouped `SELECT` over a window table function.
pub fn plan_window_aggregate(
    ctx: &PlanContext<'_>,
    select: &Select,
    tvf: &ast::Expr,
) -> SqlResult<Planned> {
    let call = window_call(tvf)?;
    let (input, time) = time_attributed(ctx, &call, tvf)?;
    let keys = group_keys(select, &input.scope)?;
    let mut key_names: Vec<&str> = keys
        .iter()
        .map(|&k| input.scope.columns[k].name.as_str())
        .collect();
    let mut partition: Vec<&str> = call.partition.iter().map(String::as_str).collect();
    key_names.sort_unstable();
    partition.sort_unstable();
    if !partition.is_empty() && partition != key_names {
        return Err(SqlError::new(format!(
            "a session window's PARTITION BY columns ({}) must be its GROUP BY columns ({}), so far",
            partition.join(", "),
            key_names.join(", ")
        ))
        .or_at(&tvf.span()));
    }
    aggregate_windows(
        ctx,
        select,
        input,
        &keys,
        &[time],
        window_table_columns(),
        call.kind,
    )
}

/// A window table function as a `FROM` item, with no aggregation: each row of its table once
/// per window, followed by `window_start`, `window_end` and `window_time` (the new time
/// attribute; the table's time column becomes a plain timestamp, as in Flink).
pub fn plan_window_table(ctx: &PlanContext<'_>, tvf: &ast::Expr) -> SqlResult<Planned> {
    let call = window_call(tvf)?;
    let (input, time) = time_attributed(ctx, &call, tvf)?;
    if matches!(call.kind, WindowKind::Session { .. }) {
        return plan_session_table(ctx, &call, input, time, tvf);
    }
    let mut scope = input.scope.clone();
    scope.columns[time].rowtime = false;
    scope.columns[time].proctime = false;
    scope
        .columns
        .extend(window_attributes(window_table_columns()));
    let operator = WindowTableOperator {
        kind: call.kind,
        time_column: time,
        schema: scope.arrow_schema(),
    };
    let description = format!(
        "WindowTableFunction(window=[{}], time_col=[{}])",
        call.kind.describe(),
        call.time_column
    );
    let stream = input
        .stream
        .transform(&description, "WindowTableFunction", move || {
            operator.clone()
        });
    Ok(Planned::new(stream, scope))
}

/// `TABLE(SESSION(TABLE t [PARTITION BY k], DESCRIPTOR(ts), gap))` with no aggregation: a
/// session window aggregation by the `PARTITION BY` columns collecting the columns of its
/// rows a query can read, whose closed sessions are laid out as rows again, each with its session's
/// `window_start`, `window_end` and `window_time`.
fn plan_session_table(
    ctx: &PlanContext<'_>,
    call: &WindowCall,
    input: Planned,
    time: usize,
    tvf: &ast::Expr,
) -> SqlResult<Planned> {
    let keys = call
        .partition
        .iter()
        .map(|name| input.scope.resolve(name))
        .collect::<SqlResult<Vec<usize>>>()
        .map_err(|e| e.or_at(&tvf.span()))?;
    // The columns a query can read (its rows wait in state until their session closes).
    let collected: Vec<usize> = (0..input.scope.columns.len())
        .filter(|&i| ctx.referenced.includes(&input.scope.columns[i].name))
        .collect();
    // Before the exchange: the time, the keys, then the columns to collect.
    let mut pre: Vec<Expr> = vec![input.scope.column(time)];
    pre.extend(keys.iter().map(|&k| input.scope.column(k)));
    let first_collected = pre.len();
    pre.extend(collected.iter().map(|&i| input.scope.column(i)));
    let aggregates = (collected.iter().enumerate())
        .map(|(n, &i)| {
            let ty = input.scope.columns[i].ty.clone();
            AggCall::new(AggKind::Collect, Some((first_collected + n, ty)))
        })
        .collect::<SqlResult<Vec<_>>>()?;
    let aggregation = AggregateInput {
        pre: Calc::new(None, pre.clone(), &input.scope, &pre_scope(&pre)),
        aggregates,
        keys: keys
            .iter()
            .enumerate()
            .map(|(i, &k)| (1 + i, input.scope.columns[k].ty.clone()))
            .collect(),
        items: Vec::new(),
    };
    // The aggregation's output: keys, window columns, the collected lists.
    let mut post = Scope::default();
    post.columns
        .extend(keys.iter().map(|&k| input.scope.columns[k].clone()));
    post.columns.extend(window_table_columns());
    post.columns
        .extend(aggregate_columns(&aggregation.aggregates));
    let spec = WindowAggSpec {
        kind: call.kind,
        time_column: 0,
        keys: aggregation.keys.clone(),
        aggregates: aggregation.aggregates.clone(),
        schema: post.arrow_schema(),
    };
    let mut window = call.kind.describe();
    if !call.partition.is_empty() {
        // SESSION(gap=[..], partition keys=[..])
        window.pop();
        window.push_str(&format!(
            ", partition keys=[{}])",
            call.partition.join(", ")
        ));
    }
    let description = format!(
        "WindowTableFunction(window=[{window}], time_col=[{}])",
        call.time_column
    );
    let plan = AggregationPlan {
        operator_type: "WindowTableFunction",
        description: &description,
        spec,
    };
    // The rows again: the table's columns collected (its time column a plain timestamp, as
    // in Flink's other window table functions), then the window's.
    let mut scope = Scope::default();
    for &i in &collected {
        let mut column = input.scope.columns[i].clone();
        column.rowtime = false;
        scope.columns.push(column);
    }
    let (sessions, parallelism) = keyed_aggregation(ctx, input, &aggregation, plan, |spec| {
        WindowAggOperator::new(spec.clone())
    });
    scope
        .columns
        .extend(window_attributes(window_table_columns()));
    let operator = SessionRowsOperator {
        lists: (keys.len() + 3..keys.len() + 3 + collected.len()).collect(),
        window_start: keys.len(),
        schema: scope.arrow_schema(),
    };
    let stream = sessions
        .transform("SessionRows", "SessionRows", move || operator.clone())
        .set_parallelism(parallelism);
    Ok(Planned::new(stream, scope))
}

/// The columns a window table function adds, unmarked: `window_start`, `window_end`,
/// `window_time`.
fn window_table_columns() -> [ScopeColumn; 3] {
    WINDOW_COLUMNS.map(|name| ScopeColumn::new(name, SqlType::Timestamp(3), false))
}

/// A window's `start`, `end` and `time` columns, marked as its bounds and its time attribute.
fn window_attributes([mut start, mut end, mut time]: [ScopeColumn; 3]) -> [ScopeColumn; 3] {
    start.window_bound = Some(WindowBound::Start);
    end.window_bound = Some(WindowBound::End);
    time.rowtime = true;
    [start, end, time]
}

/// The table of a window table function `call`, and the index of its time column, which
/// must be a time attribute (processing time gets watermarks that follow the clock).
fn time_attributed(
    ctx: &PlanContext<'_>,
    call: &WindowCall,
    tvf: &ast::Expr,
) -> SqlResult<(Planned, usize)> {
    let mut input = plan_named(ctx, &call.table).map_err(|e| e.or_at(&tvf.span()))?;
    let time = input
        .scope
        .resolve(&call.time_column)
        .map_err(|e| e.or_at(&tvf.span()))?;
    if input.scope.columns[time].proctime {
        // Processing-time windows: the wall clock when a row was computed is its time, and the
        // watermark follows the clock, so a window closes once the clock has passed its end.
        input.stream = super::scan::with_watermarks(input.stream, input.scope.column(time), time);
        input.scope.columns[time].rowtime = true;
    }
    if !input.scope.columns[time].rowtime {
        return Err(SqlError::new(format!(
            "The window function requires the timecol to be a time attribute: '{}' has no WATERMARK and is no PROCTIME()",
            call.time_column
        ))
        .or_at(&tvf.span()));
    }
    Ok((input, time))
}

/// `GROUP BY keys, s, e` over a window aggregation's output, where `s` and `e` are its
/// `window_start` and `window_end` (renamed or not): the same windows aggregated again, each
/// emitted once the watermark passes its end.
pub fn plan_attached_window_aggregate(
    ctx: &PlanContext<'_>,
    select: &Select,
    input: Planned,
    keys: &[usize],
    start: usize,
    end: usize,
) -> SqlResult<Planned> {
    let keys: Vec<usize> = keys
        .iter()
        .copied()
        .filter(|k| *k != start && *k != end)
        .collect();
    let bound = |index: usize| {
        let mut column = input.scope.columns[index].clone();
        column.rowtime = false;
        column
    };
    let bounds = [
        bound(start),
        bound(end),
        ScopeColumn::new("window_time", SqlType::Timestamp(3), false),
    ];
    aggregate_windows(
        ctx,
        select,
        input,
        &keys,
        &[start, end],
        bounds,
        WindowKind::Attached,
    )
}

/// The window aggregation of `select` over `input` by `keys`: the operator's input leads with
/// the columns `times` (the rowtime; or a window's start and end), its output holds the keys,
/// the window columns `bounds` and the aggregates.
fn aggregate_windows(
    ctx: &PlanContext<'_>,
    select: &Select,
    input: Planned,
    keys: &[usize],
    times: &[usize],
    bounds: [ScopeColumn; 3],
    kind: WindowKind,
) -> SqlResult<Planned> {
    let filter = select
        .selection
        .as_ref()
        .map(|e| bind_filter(e, &input.scope, &ctx.catalog.functions))
        .transpose()?;

    // Before the exchange: the window's times, the keys, then the aggregates' arguments.
    let leading = times.iter().map(|&t| input.scope.column(t)).collect();
    let aggregation = aggregate_input(
        &select.projection,
        &input.scope,
        filter,
        leading,
        keys,
        &ctx.catalog.functions,
    )?;

    // The window operator's output: keys, window columns, aggregates.
    let mut post = Scope::default();
    for &key in keys {
        post.columns.push(input.scope.columns[key].clone());
    }
    // A window fires once the watermark passes its end, and a later row of it is dropped as
    // late: the ends and times of the windows still to come are above the watermark.
    let [start, mut end, mut time] = window_attributes(bounds);
    end.above_watermark = true;
    time.above_watermark = true;
    post.columns.extend([start, end, time]);
    post.columns
        .extend(aggregate_columns(&aggregation.aggregates));
    let spec = WindowAggSpec {
        kind,
        time_column: 0,
        keys: aggregation.keys.clone(),
        aggregates: aggregation.aggregates.clone(),
        schema: post.arrow_schema(),
    };
    let description = format!(
        "WindowAggregate(window=[{}], {})",
        kind.describe(),
        aggregation.describe()
    );
    let plan = AggregationPlan {
        operator_type: "WindowAggregate",
        description: &description,
        spec,
    };
    let (windowed, parallelism) = keyed_aggregation(ctx, input, &aggregation, plan, |spec| {
        WindowAggOperator::new(spec.clone())
    });
    select_list(
        windowed,
        &aggregation.items,
        &post,
        &[],
        parallelism,
        &ctx.catalog.functions,
    )
}

/// Reads `TUMBLE(TABLE t, DESCRIPTOR(ts), size)`, `HOP(.., slide, size)` or
/// `CUMULATE(.., step, size)`.
fn window_call(tvf: &ast::Expr) -> SqlResult<WindowCall> {
    let bad = |message: String| SqlError::new(message).or_at(&tvf.span());
    let ast::Expr::Function(function) = tvf else {
        return Err(bad(format!(
            "expected a window function in TABLE(...), found {tvf}"
        )));
    };
    let name = function.name.to_string().to_ascii_uppercase();
    let args = function_args(function)?;
    let (table, time_column) = match args.as_slice() {
        [data, descriptor, ..] => (table_argument(data)?, descriptor_column(descriptor)?),
        _ => {
            return Err(bad(format!(
                "{name} needs TABLE t, DESCRIPTOR(column) and its sizes"
            )));
        }
    };
    let sizes = args[2..]
        .iter()
        .map(|e| interval_millis(e))
        .collect::<SqlResult<Vec<_>>>()?;
    let positive = |ms: i64| {
        if ms > 0 {
            Ok(ms)
        } else {
            Err(bad(format!("{name}: window sizes must be positive")))
        }
    };
    let kind = match (name.as_str(), sizes.as_slice()) {
        ("TUMBLE", [size]) => WindowKind::Tumble {
            size: positive(*size)?,
        },
        ("HOP", [slide, size]) => WindowKind::Hop {
            slide: positive(*slide)?,
            size: positive(*size)?,
        },
        ("CUMULATE", [step, size]) if size % step == 0 => WindowKind::Cumulate {
            step: positive(*step)?,
            size: positive(*size)?,
        },
        ("SESSION", [gap]) => WindowKind::Session {
            gap: positive(*gap)?,
        },
        ("CUMULATE", [_, _]) => {
            return Err(bad(
                "CUMULATE: the max size must be a multiple of the step".into()
            ));
        }
        ("TUMBLE" | "HOP" | "CUMULATE" | "SESSION", _) => {
            return Err(bad(format!("{name}: wrong number of interval arguments")));
        }
        _ => {
            return Err(bad(format!(
                "unknown window function {name} (TUMBLE, HOP, CUMULATE and SESSION are supported)"
            )));
        }
    };
    let (table, partition) = table;
    Ok(WindowCall {
        table,
        partition,
        time_column,
        kind,
    })
}

/// The table and `PARTITION BY` columns of a `TABLE name [PARTITION BY ..]` argument.
fn table_argument(expr: &ast::Expr) -> SqlResult<(String, Vec<String>)> {
    if let ast::Expr::Function(f) = expr
        && f.name.to_string() == TABLE_ARGUMENT
        && let [ast::Expr::CompoundIdentifier(parts), partition @ ..] = function_args(f)?.as_slice()
    {
        let table = parts.last().map(|p| p.value.clone()).unwrap_or_default();
        let partition = partition.iter().map(|e| e.to_string()).collect();
        return Ok((table, partition));
    }
    Err(SqlError::new(format!(
        "expected TABLE name as the window function's first argument, found {expr}"
    ))
    .or_at(&expr.span()))
}

/// The column of `DESCRIPTOR(column)`.
fn descriptor_column(expr: &ast::Expr) -> SqlResult<String> {
    if let ast::Expr::Function(f) = expr
        && f.name.to_string().eq_ignore_ascii_case("DESCRIPTOR")
        && let [ast::Expr::Identifier(column)] = function_args(f)?.as_slice()
    {
        return Ok(column.value.clone());
    }
    Err(SqlError::new(format!(
        "expected DESCRIPTOR(column) as the time column, found {expr}"
    ))
    .or_at(&expr.span()))
}

/// The grouping key columns: every `GROUP BY` column but the window columns, which must
/// include `window_start` and `window_end`.
fn group_keys(select: &Select, scope: &Scope) -> SqlResult<Vec<usize>> {
    let mut keys = Vec::new();
    let mut windows = Vec::new();
    for (name, expr) in group_by_names(select)? {
        if WINDOW_COLUMNS.contains(&name.as_str()) {
            windows.push(name);
        } else {
            keys.push(scope.resolve(&name).map_err(|e| e.or_at(&expr.span()))?);
        }
    }
    if !(windows.iter().any(|w| w == "window_start") && windows.iter().any(|w| w == "window_end")) {
        return Err(SqlError::new(
            "a window aggregation must GROUP BY window_start and window_end",
        )
        .or_at(&select.span()));
    }
    Ok(keys)
}
