//! Flink's legacy group windows — `GROUP BY TUMBLE(ts, size)`, `HOP(ts, slide, size)`,
//! `SESSION(ts, gap)` with `TUMBLE_START(..)`, `_END`, `_ROWTIME` in the select list — rewritten
//! into the window table function they equal, then planned as one.

use sqlparser::ast::{self, GroupByExpr, Select, SetExpr, Spanned, TableFactor};
use sqlparser::parser::Parser;

use super::rewrite::rewrite_item;
use crate::dialect::FlinkDialect;
use crate::error::{SqlError, SqlResult};
use crate::expr::bind::function_args;

/// The legacy window functions of `GROUP BY`.
const GROUP_WINDOWS: [&str; 3] = ["TUMBLE", "HOP", "SESSION"];

/// The select rewritten to a window table function, if it groups by a legacy window.
pub fn rewrite(select: &Select) -> SqlResult<Option<Select>> {
    let GroupByExpr::Expressions(exprs, modifiers) = &select.group_by else {
        return Ok(None);
    };
    let Some(position) = exprs.iter().position(|e| group_window(e).is_some()) else {
        return Ok(None);
    };
    let (window, function) = group_window(&exprs[position]).expect("found above");
    let table =
        match select.from.as_slice() {
            [from] if from.joins.is_empty() => match &from.relation {
                TableFactor::Table { name, .. } => name.to_string(),
                other => {
                    return Err(SqlError::new("a GROUP BY window needs a table in FROM")
                        .or_at(&other.span()));
                }
            },
            _ => {
                return Err(SqlError::new("a GROUP BY window needs one table in FROM")
                    .or_at(&select.span()));
            }
        };
    let args: Vec<String> = function_args(function)?
        .iter()
        .map(|a| unqualified(a))
        .collect();
    let keys: Vec<&ast::Expr> = exprs
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != position)
        .map(|(_, e)| e)
        .collect();
    let (time, sizes) = args.split_first().ok_or_else(|| {
        SqlError::new(format!("{window} needs a time column")).or_at(&function.span())
    })?;
    let data = match window {
        "SESSION" if !keys.is_empty() => {
            let partition: Vec<String> = keys.iter().map(|k| unqualified(k)).collect();
            format!("TABLE {table} PARTITION BY {}", partition.join(", "))
        }
        _ => format!("TABLE {table}"),
    };
    let tvf = format!(
        "SELECT * FROM TABLE({window}({data}, DESCRIPTOR({time}), {}))",
        sizes.join(", ")
    );
    let mut rewritten = select.clone();
    rewritten.from[0].relation = parse_relation(&tvf).map_err(|e| e.or_at(&function.span()))?;
    let mut group: Vec<ast::Expr> = keys.into_iter().cloned().collect();
    group.extend(["window_start", "window_end"].map(|c| ast::Expr::Identifier(ast::Ident::new(c))));
    rewritten.group_by = GroupByExpr::Expressions(group, modifiers.clone());
    rewritten.projection = select
        .projection
        .iter()
        .map(|item| rewrite_item(item, &mut |f| Ok(window_property(window, f))))
        .collect::<SqlResult<_>>()?;
    Ok(Some(rewritten))
}

/// `expr` as text, a column without the table alias before it (`B.bidder` is `bidder`): the
/// window function reads the one table of `FROM` by its name.
fn unqualified(expr: &ast::Expr) -> String {
    match expr {
        ast::Expr::CompoundIdentifier(parts) if parts.len() == 2 => parts[1].to_string(),
        other => other.to_string(),
    }
}

/// `TUMBLE(..)`, `HOP(..)` or `SESSION(..)` in `GROUP BY`: its name and call.
fn group_window(expr: &ast::Expr) -> Option<(&'static str, &ast::Function)> {
    let ast::Expr::Function(function) = expr else {
        return None;
    };
    let name = function.name.to_string().to_ascii_uppercase();
    GROUP_WINDOWS
        .into_iter()
        .find(|w| *w == name)
        .map(|w| (w, function))
}

/// `TUMBLE_START(..)` and its kin as the window column they read.
fn window_property(window: &str, function: &ast::Function) -> Option<ast::Expr> {
    let name = function.name.to_string().to_ascii_uppercase();
    let column = match name.strip_prefix(window)?.strip_prefix('_')? {
        "START" => "window_start",
        "END" => "window_end",
        "ROWTIME" => "window_time",
        _ => return None,
    };
    Some(ast::Expr::Identifier(ast::Ident::new(column)))
}

/// The `FROM` item of a generated `SELECT * FROM ...`.
fn parse_relation(sql: &str) -> SqlResult<TableFactor> {
    let dialect = FlinkDialect;
    let query = Parser::new(&dialect).try_with_sql(sql)?.parse_query()?;
    match *query.body {
        SetExpr::Select(select) => Ok(select
            .from
            .into_iter()
            .next()
            .map(|f| f.relation)
            .ok_or_else(|| SqlError::new("no FROM"))?),
        _ => Err(SqlError::new(format!("cannot plan {sql}"))),
    }
}
