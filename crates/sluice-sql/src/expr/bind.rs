//! Binding: a parsed SQL expression becomes a typed [`Expr`] over the columns of a scope, with
//! Flink's typing of literals, operators and casts. Errors point at the expression at fault
//! and, for an unknown column, name the closest known one.

use std::sync::Arc;

use arrow_array::{ArrayRef, StringArray};
use sqlparser::ast::{self, DateTimeField, Spanned, UnaryOperator, Value};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

pub use super::literal::interval_millis;
use super::literal::{constant, interval_literal, literal, number_literal};
pub use super::scope::{Scope, ScopeColumn, WindowBound};
use super::typing::{binary, expect_boolean, typed};
pub use super::typing::{cast_to, comparable};
use super::udf::Functions;
use super::{Expr, ExprKind, Function};
use crate::error::{SqlError, SqlResult, did_you_mean};
use crate::types::SqlType;

/// Binds `expr` over `scope`.
pub fn bind(expr: &ast::Expr, scope: &Scope, functions: &Functions) -> SqlResult<Expr> {
    bind_inner(expr, scope, functions).map_err(|e| e.or_at(&expr.span()))
}

fn bind_inner(expr: &ast::Expr, scope: &Scope, functions: &Functions) -> SqlResult<Expr> {
    use ast::Expr as E;
    match expr {
        E::Identifier(ident) => Ok(scope.column(
            scope
                .resolve(&ident.value)
                .map_err(|e| e.or_at(&ident.span))?,
        )),
        E::CompoundIdentifier(parts) => bind_compound(parts, scope),
        E::Nested(inner) => bind(inner, scope, functions),
        E::Value(value) => literal(&value.value),
        E::TypedString(typed) => {
            let text = match &typed.value.value {
                Value::SingleQuotedString(text) => text.as_str(),
                other => {
                    return Err(SqlError::new(format!(
                        "expected a string after the type, found {other}"
                    )));
                }
            };
            let ty = parse_type(&typed.data_type)?;
            let strings: ArrayRef = Arc::new(StringArray::from(vec![text]));
            let value = super::cast(&strings, &SqlType::Varchar(None), &ty)?;
            Ok(constant(value, ty))
        }
        E::Interval(interval) => interval_literal(interval),
        E::UnaryOp { op, expr } => bind_unary(*op, bind(expr, scope, functions)?),
        E::BinaryOp { left, op, right } => {
            let (left, right) = (
                bind(left, scope, functions)?,
                bind(right, scope, functions)?,
            );
            binary(op, left, right)
        }
        E::IsNull(inner) | E::IsNotNull(inner) => {
            let inner = bind(inner, scope, functions)?;
            let negated = matches!(expr, E::IsNotNull(_));
            Ok(typed(
                ExprKind::IsNull {
                    expr: Box::new(inner),
                    negated,
                },
                SqlType::Boolean,
                false,
            ))
        }
        E::Between {
            expr,
            negated,
            low,
            high,
        } => {
            let value = bind(expr, scope, functions)?;
            let low = binary(
                &ast::BinaryOperator::GtEq,
                value.clone(),
                bind(low, scope, functions)?,
            )?;
            let high = binary(
                &ast::BinaryOperator::LtEq,
                value,
                bind(high, scope, functions)?,
            )?;
            let between = binary(&ast::BinaryOperator::And, low, high)?;
            Ok(if *negated {
                let nullable = between.nullable;
                typed(ExprKind::Not(Box::new(between)), SqlType::Boolean, nullable)
            } else {
                between
            })
        }
        E::Cast {
            expr, data_type, ..
        } => {
            let inner = bind(expr, scope, functions)?;
            let ty = parse_type(data_type)?;
            Ok(cast_to(inner, &ty))
        }
        E::Case {
            operand,
            conditions,
            else_result,
            ..
        } => bind_case(
            operand.as_deref(),
            conditions,
            else_result.as_deref(),
            scope,
            functions,
        ),
        E::Function(function) => bind_function(function, scope, functions),
        other => bind_special(other, scope, functions),
    }
}

/// SQL's special forms of function calls: `SUBSTRING(.. FROM .. FOR ..)`, `TRIM`, `EXTRACT`,
/// `LIKE`, `IN (..)`.
fn bind_special(expr: &ast::Expr, scope: &Scope, functions: &Functions) -> SqlResult<Expr> {
    use ast::Expr as E;
    match expr {
        E::Substring {
            expr,
            substring_from,
            substring_for,
            ..
        } => {
            let mut args = vec![bind(expr, scope, functions)?];
            args.push(match substring_from {
                Some(from) => bind(from, scope, functions)?,
                None => number_literal("1")?,
            });
            if let Some(length) = substring_for {
                args.push(bind(length, scope, functions)?);
            }
            call(Function::Substring, args)
        }
        E::Trim {
            expr,
            trim_where: None,
            trim_what: None,
            trim_characters: None,
        } => call(Function::Trim, vec![bind(expr, scope, functions)?]),
        E::Extract { field, expr, .. } => {
            use super::functions::TimeField;
            let field = match field {
                DateTimeField::Year => TimeField::Year,
                DateTimeField::Month => TimeField::Month,
                DateTimeField::Day => TimeField::Day,
                DateTimeField::Hour => TimeField::Hour,
                DateTimeField::Minute => TimeField::Minute,
                DateTimeField::Second => TimeField::Second,
                other => {
                    return Err(SqlError::new(format!(
                        "EXTRACT({other} FROM ..) is not supported"
                    )));
                }
            };
            call(
                Function::TimeField(field),
                vec![bind(expr, scope, functions)?],
            )
        }
        E::Like {
            negated,
            any: false,
            expr,
            pattern,
            escape_char: None,
        } => {
            let matched = call(
                Function::Like,
                vec![
                    bind(expr, scope, functions)?,
                    bind(pattern, scope, functions)?,
                ],
            )?;
            Ok(negate_if(*negated, matched))
        }
        E::InList {
            expr,
            list,
            negated,
        } => {
            let value = bind(expr, scope, functions)?;
            let mut any: Option<Expr> = None;
            for item in list {
                let equal = binary(
                    &ast::BinaryOperator::Eq,
                    value.clone(),
                    bind(item, scope, functions)?,
                )?;
                any = Some(match any {
                    None => equal,
                    Some(previous) => binary(&ast::BinaryOperator::Or, previous, equal)?,
                });
            }
            let any = any.ok_or_else(|| SqlError::new("IN needs at least one value"))?;
            Ok(negate_if(*negated, any))
        }
        E::Array(array) => {
            let elements = array
                .elem
                .iter()
                .map(|e| bind(e, scope, functions))
                .collect::<SqlResult<Vec<_>>>()?;
            call(Function::ArrayOf, elements)
        }
        E::CompoundFieldAccess { root, access_chain } => {
            let mut value = bind(root, scope, functions)?;
            for access in access_chain {
                let ast::AccessExpr::Subscript(ast::Subscript::Index { index }) = access else {
                    return Err(SqlError::new(format!(
                        "unsupported access {access} of {root}"
                    )));
                };
                value = call(
                    Function::Element,
                    vec![value, bind(index, scope, functions)?],
                )?;
            }
            Ok(value)
        }
        other => Err(SqlError::new(format!("unsupported expression: {other}"))),
    }
}

/// `NOT e`, `-e`, `+e`.
/// `a.b.c`: a column and the fields of its `ROW` value (`person.id`), or a table's name or alias
/// before a column (`B.bidder`; the scope's columns have unique names).
fn bind_compound(parts: &[ast::Ident], scope: &Scope) -> SqlResult<Expr> {
    let names_a_row = |ident: &ast::Ident| {
        scope
            .columns
            .iter()
            .any(|c| c.name == ident.value && matches!(c.ty, SqlType::Row(_)))
    };
    let start = match parts {
        [] => return Err(SqlError::new("empty column name")),
        [first, ..] if names_a_row(first) => 0,
        _ => 1,
    };
    let column = &parts[start];
    let index = if start == 0 {
        scope.resolve(&column.value)
    } else {
        scope.resolve_qualified(&parts[0].value, &column.value)
    };
    let mut expr = scope.column(index.map_err(|e| e.or_at(&column.span))?);
    for field in &parts[start + 1..] {
        let Some((index, ty)) = expr.ty.row_field(&field.value) else {
            let known = match &expr.ty {
                SqlType::Row(fields) => {
                    did_you_mean(&field.value, fields.iter().map(|f| f.name.as_str()))
                }
                _ => String::new(),
            };
            return Err(SqlError::at(
                &field.span,
                format!("{} has no field '{}'.{known}", expr.ty, field.value),
            ));
        };
        let ty = ty.clone();
        expr = typed(ExprKind::Field(Box::new(expr), index), ty, true);
    }
    Ok(expr)
}

fn bind_unary(op: UnaryOperator, inner: Expr) -> SqlResult<Expr> {
    match op {
        UnaryOperator::Not => {
            expect_boolean(&inner, "NOT")?;
            Ok(typed(
                ExprKind::Not(Box::new(inner.clone())),
                SqlType::Boolean,
                inner.nullable,
            ))
        }
        UnaryOperator::Minus if inner.ty.is_numeric() || inner.ty == SqlType::IntervalDayTime => {
            let (ty, nullable) = (inner.ty.clone(), inner.nullable);
            Ok(typed(ExprKind::Negate(Box::new(inner)), ty, nullable))
        }
        UnaryOperator::Plus if inner.ty.is_numeric() => Ok(inner),
        other => Err(SqlError::new(format!(
            "cannot apply {other} to {}",
            inner.ty
        ))),
    }
}

/// A Flink type written in an expression (`CAST(x AS DECIMAL(10, 2))`), by its text.
fn parse_type(data_type: &ast::DataType) -> SqlResult<SqlType> {
    let text = data_type.to_string();
    let dialect = GenericDialect {};
    let mut parser = Parser::new(&dialect).try_with_sql(&text)?;
    SqlType::parse(&mut parser)
}

fn bind_case(
    operand: Option<&ast::Expr>,
    conditions: &[ast::CaseWhen],
    else_result: Option<&ast::Expr>,
    scope: &Scope,
    functions: &Functions,
) -> SqlResult<Expr> {
    let operand = operand.map(|e| bind(e, scope, functions)).transpose()?;
    let mut branches = Vec::new();
    for when in conditions {
        let condition = bind(&when.condition, scope, functions)?;
        let condition = match &operand {
            Some(value) => binary(&ast::BinaryOperator::Eq, value.clone(), condition)?,
            None => condition,
        };
        expect_boolean(&condition, "WHEN")?;
        branches.push((condition, bind(&when.result, scope, functions)?));
    }
    let otherwise = else_result.map(|e| bind(e, scope, functions)).transpose()?;
    let mut ty = branches
        .first()
        .map(|(_, r)| r.ty.clone())
        .unwrap_or(SqlType::Boolean);
    for result in branches.iter().map(|(_, r)| r).chain(otherwise.as_ref()) {
        ty = comparable(&ty, &result.ty)?;
    }
    let nullable =
        otherwise.as_ref().is_none_or(|e| e.nullable) || branches.iter().any(|(_, r)| r.nullable);
    let branches = branches
        .into_iter()
        .map(|(c, r)| (c, cast_to(r, &ty)))
        .collect();
    let otherwise = otherwise.map(|e| Box::new(cast_to(e, &ty)));
    Ok(typed(
        ExprKind::Case {
            branches,
            otherwise,
        },
        ty,
        nullable,
    ))
}

/// `a AND b` of two boolean expressions.
pub fn and(a: Expr, b: Expr) -> SqlResult<Expr> {
    binary(&ast::BinaryOperator::And, a, b)
}

/// `NOT e` when `negated`, else `e`.
fn negate_if(negated: bool, e: Expr) -> Expr {
    if !negated {
        return e;
    }
    let nullable = e.nullable;
    typed(ExprKind::Not(Box::new(e)), SqlType::Boolean, nullable)
}

/// The call of `function` on bound `args`, typed.
fn call(function: Function, args: Vec<Expr>) -> SqlResult<Expr> {
    let types: Vec<SqlType> = args.iter().map(|a| a.ty.clone()).collect();
    let ty = function.result_type(&types)?;
    let args: Vec<Expr> = match (function, &ty) {
        (Function::Coalesce, _) => args.into_iter().map(|a| cast_to(a, &ty)).collect(),
        (Function::ArrayOf, SqlType::Array(element)) => {
            args.into_iter().map(|a| cast_to(a, element)).collect()
        }
        (Function::MapOf, SqlType::Map(key, value)) => args
            .into_iter()
            .enumerate()
            .map(|(i, a)| cast_to(a, if i % 2 == 0 { key } else { value }))
            .collect(),
        (Function::Element, _) => match &types[0] {
            SqlType::Map(key, _) => {
                let mut args = args.into_iter();
                let map = args.next().into_iter();
                map.chain(args.map(|a| cast_to(a, key))).collect()
            }
            _ => args,
        },
        _ => args,
    };
    let nullable = match function {
        Function::Coalesce => args.iter().all(|a| a.nullable),
        Function::ArrayOf | Function::MapOf => false,
        Function::SplitIndex
        | Function::ToTimestamp
        | Function::DateFormat
        | Function::RegexpExtract
        | Function::Element => true,
        _ => args.iter().any(|a| a.nullable),
    };
    Ok(typed(ExprKind::Call(function, args), ty, nullable))
}

fn bind_function(
    function: &ast::Function,
    scope: &Scope,
    functions: &Functions,
) -> SqlResult<Expr> {
    let name = function.name.to_string();
    let args = function_args(function)?
        .iter()
        .map(|a| bind(a, scope, functions))
        .collect::<SqlResult<Vec<_>>>()?;
    if let Some(udf) = functions.get(&name) {
        let types: Vec<SqlType> = args.iter().map(|a| a.ty.clone()).collect();
        let ty = udf
            .function
            .result_type(&types)
            .map_err(|e| e.or_at(&function.name.span()))?;
        let nullable = udf
            .function
            .nullable(&args.iter().map(|a| a.nullable).collect::<Vec<_>>());
        return Ok(typed(ExprKind::Udf(udf, args), ty, nullable));
    }
    let resolved = Function::named(&name).ok_or_else(|| {
        SqlError::new(format!(
            "No match found for function signature {name}(...){}",
            did_you_mean(&name, functions.names())
        ))
        .or_at(&function.name.span())
    })?;
    call(resolved, args)
}

/// The plain (unnamed, non-wildcard) arguments of a call.
pub fn function_args(function: &ast::Function) -> SqlResult<Vec<&ast::Expr>> {
    let list = match &function.args {
        ast::FunctionArguments::List(list) => list,
        ast::FunctionArguments::None => return Ok(Vec::new()),
        ast::FunctionArguments::Subquery(_) => {
            return Err(SqlError::new(format!(
                "subquery arguments of {} are not supported",
                function.name
            )));
        }
    };
    list.args
        .iter()
        .map(|arg| match arg {
            ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e))
            | ast::FunctionArg::Named {
                arg: ast::FunctionArgExpr::Expr(e),
                ..
            }
            | ast::FunctionArg::ExprNamed {
                arg: ast::FunctionArgExpr::Expr(e),
                ..
            } => Ok(e),
            other => Err(SqlError::new(format!(
                "unsupported argument {other} of {}",
                function.name
            ))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::FlinkDialect;

    fn scope() -> Scope {
        Scope {
            columns: vec![
                ScopeColumn::new("price", SqlType::Int, true),
                ScopeColumn::new("ts", SqlType::Timestamp(3), true),
            ],
        }
    }

    fn bound(text: &str) -> SqlResult<Expr> {
        let dialect = FlinkDialect;
        let expr = Parser::new(&dialect).try_with_sql(text)?.parse_expr()?;
        bind(&expr, &scope(), &Functions::default())
    }

    #[test]
    fn types_follow_flink() {
        assert_eq!(bound("price + 1").unwrap().ty, SqlType::Int);
        assert_eq!(bound("price / 3.0").unwrap().ty, SqlType::Decimal(17, 6));
        assert_eq!(bound("price * 1e10").unwrap().ty, SqlType::Double);
        assert_eq!(bound("price * 1.5").unwrap().ty, SqlType::Decimal(12, 1));
        assert_eq!(
            bound("ts - INTERVAL '5' SECOND").unwrap().ty,
            SqlType::Timestamp(3)
        );
        assert_eq!(
            bound("CAST(price AS STRING)").unwrap().ty,
            SqlType::Varchar(None)
        );
        assert_eq!(
            bound("price > 2 AND ts IS NOT NULL").unwrap().ty,
            SqlType::Boolean
        );
        assert_eq!(
            bound("CASE WHEN price > 2 THEN 'big' ELSE 'small' END")
                .unwrap()
                .ty,
            SqlType::Varchar(None)
        );
    }

    #[test]
    fn unknown_columns_point_at_the_name_and_suggest() {
        let error = bound("1 + prise").unwrap_err();
        assert!(
            error.message.contains("Column 'prise' not found"),
            "{error}"
        );
        assert!(error.message.contains("Did you mean 'price'?"), "{error}");
        assert_eq!(error.position, Some((1, 5)));
        let error = bound("FOO(price)").unwrap_err();
        assert!(
            error
                .message
                .contains("No match found for function signature FOO"),
            "{error}"
        );
        assert!(bound("price AND TRUE").is_err());
    }

    #[test]
    fn intervals_are_milliseconds() {
        let dialect = FlinkDialect;
        let expr = Parser::new(&dialect)
            .try_with_sql("INTERVAL '10' MINUTE")
            .unwrap()
            .parse_expr()
            .unwrap();
        assert_eq!(interval_millis(&expr).unwrap(), 600_000);
    }
}
