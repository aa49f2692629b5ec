//! `GROUP BY` expressions, not only columns (`GROUP BY MOD(auction, 10)`, `GROUP BY
//! DATE_FORMAT(ts, 'yyyy-MM-dd')`): each is computed as a column appended to the input, and the
//! `GROUP BY` and the select list name that column where they name the expression, so the
//! aggregation groups by columns as ever.

use std::borrow::Cow;
use std::ops::ControlFlow;

use sqlparser::ast::{self, GroupByExpr, Ident, Select, SelectItem, VisitMut, VisitorMut};

use super::{PlanContext, Planned, with_calc};
use crate::error::SqlResult;
use crate::expr::bind::{ScopeColumn, bind};
use crate::operators::calc::Calc;

/// `select` and `input` with each `GROUP BY` expression that is not a column computed as a
/// column of the input (named `$groupN`) and named by it; the same when there is none.
pub fn with_group_expressions<'s>(
    ctx: &PlanContext<'_>,
    select: &'s Select,
    input: Planned,
) -> SqlResult<(Cow<'s, Select>, Planned)> {
    let GroupByExpr::Expressions(exprs, _) = &select.group_by else {
        return Ok((Cow::Borrowed(select), input));
    };
    let is_column = |e: &ast::Expr| {
        matches!(
            e,
            ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_)
        )
    };
    if exprs.iter().all(is_column) {
        return Ok((Cow::Borrowed(select), input));
    }
    let mut rewritten = select.clone();
    let mut scope = input.scope.clone();
    let mut projections: Vec<_> = (0..scope.columns.len())
        .map(|i| input.scope.column(i))
        .collect();
    for (i, expr) in exprs.iter().enumerate().filter(|(_, e)| !is_column(e)) {
        let bound = bind(expr, &input.scope, &ctx.catalog.functions)?;
        let name = format!("$group{i}");
        scope
            .columns
            .push(ScopeColumn::new(&name, bound.ty.clone(), bound.nullable));
        projections.push(bound);
        let column = ast::Expr::Identifier(Ident::new(&name));
        if let GroupByExpr::Expressions(keys, _) = &mut rewritten.group_by {
            keys[i] = column.clone();
        }
        for item in &mut rewritten.projection {
            name_in_item(item, expr, &column);
        }
    }
    let calc = Calc::new(None, projections, &input.scope, &scope);
    let stream = with_calc(input.stream, calc);
    Ok((Cow::Owned(rewritten), Planned::new(stream, scope)))
}

/// Replaces `expr` by `column` wherever `item` holds it. An unaliased item that was the
/// expression keeps the name Flink gives an expression (`EXPR$i`), not the column's.
fn name_in_item(item: &mut SelectItem, expr: &ast::Expr, column: &ast::Expr) {
    struct Replace<'a> {
        expr: &'a ast::Expr,
        column: &'a ast::Expr,
    }
    impl VisitorMut for Replace<'_> {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &mut ast::Expr) -> ControlFlow<()> {
            if e == self.expr {
                *e = self.column.clone();
            }
            ControlFlow::Continue(())
        }
    }
    let mut replace = Replace { expr, column };
    match item {
        SelectItem::UnnamedExpr(e) => {
            let before = e.clone();
            let _ = e.visit(&mut replace);
            if *e != before {
                *e = ast::Expr::Nested(Box::new(e.clone()));
            }
        }
        SelectItem::ExprWithAlias { expr, .. } => {
            let _ = expr.visit(&mut replace);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statement::{FlinkStatement, parse_script};

    fn select(sql: &str) -> Select {
        let mut statements = parse_script(sql).unwrap();
        let Some(FlinkStatement::Select(query)) = statements.pop() else {
            panic!("not a query: {sql}")
        };
        let ast::SetExpr::Select(select) = *query.body else {
            panic!("not a SELECT: {sql}")
        };
        *select
    }

    #[test]
    fn the_select_list_names_the_computed_key() {
        let mut item =
            select("SELECT MOD(a, 3), MOD(a, 3) + 1 AS next, COUNT(*) FROM t;").projection;
        let expr = match &item[0] {
            SelectItem::UnnamedExpr(e) => e.clone(),
            other => panic!("{other}"),
        };
        let column = ast::Expr::Identifier(Ident::new("$group0"));
        for i in &mut item {
            name_in_item(i, &expr, &column);
        }
        let texts: Vec<String> = item.iter().map(ToString::to_string).collect();
        assert_eq!(texts, ["($group0)", "$group0 + 1 AS next", "COUNT(*)"]);
    }
}
