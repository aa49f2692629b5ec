//! Rewriting select lists before they are bound: function calls replaced by other expressions
//! (aggregate calls by the columns that hold their results, a legacy window's `TUMBLE_START`
//! by `window_start`).

use sqlparser::ast;

use crate::error::SqlResult;

/// What replaces a call: `Some(expression)`, or `None` to keep it (and rewrite its arguments).
pub type Replace<'a> = dyn FnMut(&ast::Function) -> SqlResult<Option<ast::Expr>> + 'a;

/// The select item with calls replaced by `replace`. An unaliased item that changed keeps
/// Flink's name for an expression (`EXPR$i`), not the name of the column it became.
pub fn rewrite_item(
    item: &ast::SelectItem,
    replace: &mut Replace<'_>,
) -> SqlResult<ast::SelectItem> {
    Ok(match item {
        ast::SelectItem::UnnamedExpr(expr) => {
            let rewritten = rewrite_expr(expr, replace)?;
            if &rewritten == expr {
                ast::SelectItem::UnnamedExpr(rewritten)
            } else {
                ast::SelectItem::UnnamedExpr(ast::Expr::Nested(Box::new(rewritten)))
            }
        }
        ast::SelectItem::ExprWithAlias { expr, alias } => ast::SelectItem::ExprWithAlias {
            expr: rewrite_expr(expr, replace)?,
            alias: alias.clone(),
        },
        other => other.clone(),
    })
}

/// The expression with calls replaced by `replace`.
pub fn rewrite_expr(expr: &ast::Expr, replace: &mut Replace<'_>) -> SqlResult<ast::Expr> {
    use ast::Expr as E;
    if let E::Function(function) = expr
        && let Some(replacement) = replace(function)?
    {
        return Ok(replacement);
    }
    let mut recurse = |e: &E| rewrite_expr(e, replace).map(Box::new);
    Ok(match expr {
        E::BinaryOp { left, op, right } => E::BinaryOp {
            left: recurse(left)?,
            op: op.clone(),
            right: recurse(right)?,
        },
        E::UnaryOp { op, expr } => E::UnaryOp {
            op: *op,
            expr: recurse(expr)?,
        },
        E::Nested(inner) => E::Nested(recurse(inner)?),
        E::IsNull(inner) => E::IsNull(recurse(inner)?),
        E::IsNotNull(inner) => E::IsNotNull(recurse(inner)?),
        E::Cast {
            kind,
            expr,
            data_type,
            array,
            format,
        } => E::Cast {
            kind: kind.clone(),
            expr: recurse(expr)?,
            data_type: data_type.clone(),
            array: *array,
            format: format.clone(),
        },
        E::Case {
            case_token,
            end_token,
            operand,
            conditions,
            else_result,
        } => {
            let mut whens = Vec::new();
            for when in conditions {
                whens.push(ast::CaseWhen {
                    condition: *recurse(&when.condition)?,
                    result: *recurse(&when.result)?,
                });
            }
            E::Case {
                case_token: case_token.clone(),
                end_token: end_token.clone(),
                operand: operand.as_deref().map(&mut recurse).transpose()?,
                conditions: whens,
                else_result: else_result.as_deref().map(&mut recurse).transpose()?,
            }
        }
        E::Function(function) => {
            let mut function = function.clone();
            if let ast::FunctionArguments::List(list) = &mut function.args {
                for arg in &mut list.args {
                    if let ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) = arg {
                        *e = rewrite_expr(e, replace)?;
                    }
                }
            }
            E::Function(function)
        }
        other => other.clone(),
    })
}
