//! Binding: a parsed SQL expression becomes a typed [`Expr`] over the columns of a scope, with
//! Flink's typing of literals, operators and casts. Errors point at the expression at fault
//! and, for an unknown column, name the closest known one.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Decimal128Array, Float64Array, Int32Array, Int64Array, StringArray,
    TimestampMillisecondArray,
};
use sqlparser::ast::{self, DateTimeField, Spanned, UnaryOperator, Value};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

use super::{BinaryOp, Expr, ExprKind, Function};
use crate::error::{SqlError, SqlResult, did_you_mean};
use crate::types::SqlType;

/// A column visible to expressions.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopeColumn {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: SqlType,
    /// Whether it can be NULL.
    pub nullable: bool,
    /// Whether it is an event-time attribute (a table's `WATERMARK` column, `window_time`).
    pub rowtime: bool,
}

impl ScopeColumn {
    /// A column that is not a time attribute.
    pub fn new(name: &str, ty: SqlType, nullable: bool) -> Self {
        ScopeColumn {
            name: name.to_string(),
            ty,
            nullable,
            rowtime: false,
        }
    }
}

/// The columns an expression may name, in the order of the batch it is evaluated on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scope {
    /// The columns.
    pub columns: Vec<ScopeColumn>,
}

impl Scope {
    /// The index of the column `name`, or an error naming the closest one.
    pub fn resolve(&self, name: &str) -> SqlResult<usize> {
        self.columns
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| {
                SqlError::new(format!(
                    "Column '{name}' not found in any table.{}",
                    did_you_mean(name, self.columns.iter().map(|c| c.name.as_str()))
                ))
            })
    }

    /// The Arrow schema of batches holding these columns.
    pub fn arrow_schema(&self) -> arrow_schema::SchemaRef {
        let fields: Vec<_> = self
            .columns
            .iter()
            .map(|c| crate::types::SqlField::new(c.name.clone(), c.ty.clone()))
            .collect();
        crate::types::arrow_schema(&fields)
    }

    /// The expression reading column `index`.
    pub fn column(&self, index: usize) -> Expr {
        let column = &self.columns[index];
        Expr::column(index, column.ty.clone(), column.nullable)
    }
}

/// Binds `expr` over `scope`.
pub fn bind(expr: &ast::Expr, scope: &Scope) -> SqlResult<Expr> {
    bind_inner(expr, scope).map_err(|e| e.or_at(&expr.span()))
}

fn bind_inner(expr: &ast::Expr, scope: &Scope) -> SqlResult<Expr> {
    use ast::Expr as E;
    match expr {
        E::Identifier(ident) => Ok(scope.column(
            scope
                .resolve(&ident.value)
                .map_err(|e| e.or_at(&ident.span))?,
        )),
        E::CompoundIdentifier(parts) => {
            let last = parts
                .last()
                .ok_or_else(|| SqlError::new("empty column name"))?;
            Ok(scope.column(
                scope
                    .resolve(&last.value)
                    .map_err(|e| e.or_at(&last.span))?,
            ))
        }
        E::Nested(inner) => bind(inner, scope),
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
        E::UnaryOp { op, expr } => {
            let inner = bind(expr, scope)?;
            match op {
                UnaryOperator::Not => {
                    expect_boolean(&inner, "NOT")?;
                    Ok(typed(
                        ExprKind::Not(Box::new(inner.clone())),
                        SqlType::Boolean,
                        inner.nullable,
                    ))
                }
                UnaryOperator::Minus
                    if inner.ty.is_numeric() || inner.ty == SqlType::IntervalDayTime =>
                {
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
        E::BinaryOp { left, op, right } => {
            let (left, right) = (bind(left, scope)?, bind(right, scope)?);
            binary(op, left, right)
        }
        E::IsNull(inner) | E::IsNotNull(inner) => {
            let inner = bind(inner, scope)?;
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
            let value = bind(expr, scope)?;
            let low = binary(&ast::BinaryOperator::GtEq, value.clone(), bind(low, scope)?)?;
            let high = binary(&ast::BinaryOperator::LtEq, value, bind(high, scope)?)?;
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
            let inner = bind(expr, scope)?;
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
        ),
        E::Function(function) => bind_function(function, scope),
        E::Substring {
            expr,
            substring_from,
            substring_for,
            ..
        } => {
            let mut args = vec![bind(expr, scope)?];
            args.push(match substring_from {
                Some(from) => bind(from, scope)?,
                None => number_literal("1")?,
            });
            if let Some(length) = substring_for {
                args.push(bind(length, scope)?);
            }
            call(Function::Substring, args)
        }
        E::Trim {
            expr,
            trim_where: None,
            trim_what: None,
            trim_characters: None,
        } => call(Function::Trim, vec![bind(expr, scope)?]),
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
            call(Function::TimeField(field), vec![bind(expr, scope)?])
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
                vec![bind(expr, scope)?, bind(pattern, scope)?],
            )?;
            Ok(negate_if(*negated, matched))
        }
        E::InList {
            expr,
            list,
            negated,
        } => {
            let value = bind(expr, scope)?;
            let mut any: Option<Expr> = None;
            for item in list {
                let equal = binary(&ast::BinaryOperator::Eq, value.clone(), bind(item, scope)?)?;
                any = Some(match any {
                    None => equal,
                    Some(previous) => binary(&ast::BinaryOperator::Or, previous, equal)?,
                });
            }
            let any = any.ok_or_else(|| SqlError::new("IN needs at least one value"))?;
            Ok(negate_if(*negated, any))
        }
        other => Err(SqlError::new(format!("unsupported expression: {other}"))),
    }
}

fn typed(kind: ExprKind, ty: SqlType, nullable: bool) -> Expr {
    Expr { kind, ty, nullable }
}

fn constant(value: ArrayRef, ty: SqlType) -> Expr {
    let nullable = value.null_count() > 0;
    typed(ExprKind::Literal(value), ty, nullable)
}

/// `e` converted to `ty` (itself when it has that type already).
pub fn cast_to(e: Expr, ty: &SqlType) -> Expr {
    if &e.ty == ty {
        return e;
    }
    let nullable = e.nullable;
    typed(ExprKind::Cast(Box::new(e)), ty.clone(), nullable)
}

fn expect_boolean(e: &Expr, context: &str) -> SqlResult<()> {
    if e.ty == SqlType::Boolean {
        return Ok(());
    }
    Err(SqlError::new(format!(
        "{context} expects BOOLEAN operands, found {}",
        e.ty
    )))
}

/// A Flink type written in an expression (`CAST(x AS DECIMAL(10, 2))`), by its text.
fn parse_type(data_type: &ast::DataType) -> SqlResult<SqlType> {
    let text = data_type.to_string();
    let dialect = GenericDialect {};
    let mut parser = Parser::new(&dialect).try_with_sql(&text)?;
    SqlType::parse(&mut parser)
}

/// Flink's literal types: integers are INT (BIGINT when too big), numbers with a point
/// DECIMAL, with an exponent DOUBLE; quoted strings STRING.
fn literal(value: &Value) -> SqlResult<Expr> {
    Ok(match value {
        Value::Number(text, _) => number_literal(text)?,
        Value::SingleQuotedString(text) => constant(
            Arc::new(StringArray::from(vec![text.as_str()])),
            SqlType::Varchar(None),
        ),
        Value::Boolean(b) => constant(Arc::new(BooleanArray::from(vec![*b])), SqlType::Boolean),
        Value::Null => constant(
            Arc::new(StringArray::from(vec![None::<&str>])),
            SqlType::Varchar(None),
        ),
        other => return Err(SqlError::new(format!("unsupported literal {other}"))),
    })
}

fn number_literal(text: &str) -> SqlResult<Expr> {
    let bad = || SqlError::new(format!("bad number literal {text}"));
    if text.contains(['e', 'E']) {
        let value: f64 = text.parse().map_err(|_| bad())?;
        return Ok(constant(
            Arc::new(Float64Array::from(vec![value])),
            SqlType::Double,
        ));
    }
    if let Some((whole, fraction)) = text.split_once('.') {
        let digits = format!("{whole}{fraction}");
        let unscaled: i128 = digits.parse().map_err(|_| bad())?;
        let scale = fraction.len() as u8;
        let precision = (digits.trim_start_matches('0').len() as u8)
            .max(scale)
            .max(1);
        let ty = SqlType::Decimal(precision, scale as i8);
        let array = Decimal128Array::from(vec![unscaled])
            .with_precision_and_scale(precision, scale as i8)?;
        return Ok(constant(Arc::new(array), ty));
    }
    let value: i64 = text.parse().map_err(|_| bad())?;
    Ok(match i32::try_from(value) {
        Ok(small) => constant(Arc::new(Int32Array::from(vec![small])), SqlType::Int),
        Err(_) => constant(Arc::new(Int64Array::from(vec![value])), SqlType::BigInt),
    })
}

/// `INTERVAL 'n' UNIT` as milliseconds.
fn interval_literal(interval: &ast::Interval) -> SqlResult<Expr> {
    let text = match interval.value.as_ref() {
        ast::Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(text) | Value::Number(text, _) => text.clone(),
            other => return Err(SqlError::new(format!("bad interval value {other}"))),
        },
        other => return Err(SqlError::new(format!("bad interval value {other}"))),
    };
    let amount: f64 = text
        .trim()
        .parse()
        .map_err(|_| SqlError::new(format!("bad interval value '{text}'")))?;
    let unit = match interval.leading_field.as_ref() {
        Some(DateTimeField::Millisecond | DateTimeField::Milliseconds) => 1.0,
        Some(DateTimeField::Second | DateTimeField::Seconds) | None => 1_000.0,
        Some(DateTimeField::Minute | DateTimeField::Minutes) => 60_000.0,
        Some(DateTimeField::Hour | DateTimeField::Hours) => 3_600_000.0,
        Some(DateTimeField::Day | DateTimeField::Days) => 86_400_000.0,
        Some(other) => return Err(SqlError::new(format!("unsupported interval unit {other}"))),
    };
    let millis = (amount * unit).round() as i64;
    Ok(constant(
        Arc::new(Int64Array::from(vec![millis])),
        SqlType::IntervalDayTime,
    ))
}

/// The milliseconds of a constant interval expression (window sizes).
pub fn interval_millis(expr: &ast::Expr) -> SqlResult<i64> {
    let bound = bind(expr, &Scope::default())?;
    match (&bound.kind, &bound.ty) {
        (ExprKind::Literal(value), SqlType::IntervalDayTime) => Ok(value
            .as_any()
            .downcast_ref::<Int64Array>()
            .map(|v| v.value(0))
            .unwrap_or(0)),
        _ => Err(
            SqlError::new(format!("expected an interval literal, found {expr}"))
                .or_at(&expr.span()),
        ),
    }
}

fn binary(op: &ast::BinaryOperator, left: Expr, right: Expr) -> SqlResult<Expr> {
    use ast::BinaryOperator as B;
    let nullable = left.nullable || right.nullable;
    let op = match op {
        B::Plus => BinaryOp::Plus,
        B::Minus => BinaryOp::Minus,
        B::Multiply => BinaryOp::Multiply,
        B::Divide => BinaryOp::Divide,
        B::Modulo => BinaryOp::Modulo,
        B::Eq => BinaryOp::Eq,
        B::NotEq => BinaryOp::NotEq,
        B::Lt => BinaryOp::Lt,
        B::LtEq => BinaryOp::LtEq,
        B::Gt => BinaryOp::Gt,
        B::GtEq => BinaryOp::GtEq,
        B::And => BinaryOp::And,
        B::Or => BinaryOp::Or,
        B::StringConcat => {
            let ty = Function::Concat.result_type(&[left.ty.clone(), right.ty.clone()])?;
            return Ok(typed(
                ExprKind::Call(Function::Concat, vec![left, right]),
                ty,
                nullable,
            ));
        }
        other => return Err(SqlError::new(format!("unsupported operator {other}"))),
    };
    let make = |ty: SqlType, l: Expr, r: Expr| {
        typed(ExprKind::Binary(op, Box::new(l), Box::new(r)), ty, nullable)
    };
    match op {
        BinaryOp::And | BinaryOp::Or => {
            expect_boolean(&left, "AND/OR")?;
            expect_boolean(&right, "AND/OR")?;
            Ok(make(SqlType::Boolean, left, right))
        }
        BinaryOp::Eq
        | BinaryOp::NotEq
        | BinaryOp::Lt
        | BinaryOp::LtEq
        | BinaryOp::Gt
        | BinaryOp::GtEq => {
            let common = comparable(&left.ty, &right.ty)?;
            Ok(make(
                SqlType::Boolean,
                cast_to(left, &common),
                cast_to(right, &common),
            ))
        }
        BinaryOp::Plus | BinaryOp::Minus
            if left.ty.is_timestamp() && right.ty == SqlType::IntervalDayTime =>
        {
            let ty = left.ty.clone();
            Ok(make(ty, left, right))
        }
        BinaryOp::Divide => divide(left, right, make),
        _ => {
            let common = left.ty.common_numeric(&right.ty).ok_or_else(|| {
                SqlError::new(format!(
                    "cannot apply '{op:?}' to {} and {}",
                    left.ty, right.ty
                ))
            })?;
            let ty = match (&op, &common) {
                (BinaryOp::Multiply, SqlType::Decimal(..)) => decimal_product(&left.ty, &right.ty),
                _ => common.clone(),
            };
            let (left, right) = match &ty {
                SqlType::Decimal(..) => (
                    cast_to(left, &as_decimal(&common)),
                    cast_to(right, &as_decimal(&common)),
                ),
                _ => (cast_to(left, &common), cast_to(right, &common)),
            };
            Ok(make(ty, left, right))
        }
    }
}

/// Division: integers divide as integers, decimals to Flink's decimal quotient type.
fn divide(left: Expr, right: Expr, make: impl Fn(SqlType, Expr, Expr) -> Expr) -> SqlResult<Expr> {
    let common = left
        .ty
        .common_numeric(&right.ty)
        .ok_or_else(|| SqlError::new(format!("cannot divide {} by {}", left.ty, right.ty)))?;
    if let SqlType::Decimal(..) = common {
        let (l, r) = (as_decimal(&left.ty), as_decimal(&right.ty));
        let (SqlType::Decimal(p1, s1), SqlType::Decimal(p2, s2)) = (&l, &r) else {
            unreachable!("as_decimal returns decimals")
        };
        let scale = (6i16).max(i16::from(*s1) + i16::from(*p2) + 1);
        let precision = (i16::from(*p1) - i16::from(*s1) + i16::from(*s2) + scale).min(38);
        let scale = scale.min(precision);
        let ty = SqlType::Decimal(precision as u8, scale as i8);
        return Ok(make(ty, cast_to(left, &l), cast_to(right, &r)));
    }
    Ok(make(
        common.clone(),
        cast_to(left, &common),
        cast_to(right, &common),
    ))
}

/// An exact type as a decimal (integers with their digits, scale 0).
fn as_decimal(ty: &SqlType) -> SqlType {
    match ty {
        SqlType::TinyInt => SqlType::Decimal(3, 0),
        SqlType::SmallInt => SqlType::Decimal(5, 0),
        SqlType::Int => SqlType::Decimal(10, 0),
        SqlType::BigInt => SqlType::Decimal(19, 0),
        other => other.clone(),
    }
}

/// Flink's type of a decimal product: precisions and scales add (at most 38).
fn decimal_product(left: &SqlType, right: &SqlType) -> SqlType {
    match (as_decimal(left), as_decimal(right)) {
        (SqlType::Decimal(p1, s1), SqlType::Decimal(p2, s2)) => {
            SqlType::Decimal((p1 + p2).min(38), (s1 + s2).min(38))
        }
        (other, _) => other,
    }
}

/// The type two compared values are brought to.
fn comparable(left: &SqlType, right: &SqlType) -> SqlResult<SqlType> {
    if left == right {
        return Ok(left.clone());
    }
    if let Some(common) = left.common_numeric(right) {
        return Ok(common);
    }
    match (left, right) {
        (a, b) if a.is_string() && b.is_string() => Ok(SqlType::Varchar(None)),
        (a, b) if a.is_timestamp() && b.is_timestamp() => Ok(a.clone()),
        (a, b) if a.is_timestamp() && b.is_string() => Ok(a.clone()),
        (a, b) if a.is_string() && b.is_timestamp() => Ok(b.clone()),
        _ => Err(SqlError::new(format!("cannot compare {left} with {right}"))),
    }
}

fn bind_case(
    operand: Option<&ast::Expr>,
    conditions: &[ast::CaseWhen],
    else_result: Option<&ast::Expr>,
    scope: &Scope,
) -> SqlResult<Expr> {
    let operand = operand.map(|e| bind(e, scope)).transpose()?;
    let mut branches = Vec::new();
    for when in conditions {
        let condition = bind(&when.condition, scope)?;
        let condition = match &operand {
            Some(value) => binary(&ast::BinaryOperator::Eq, value.clone(), condition)?,
            None => condition,
        };
        expect_boolean(&condition, "WHEN")?;
        branches.push((condition, bind(&when.result, scope)?));
    }
    let otherwise = else_result.map(|e| bind(e, scope)).transpose()?;
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
    let args: Vec<Expr> = match function {
        Function::Coalesce => args.into_iter().map(|a| cast_to(a, &ty)).collect(),
        _ => args,
    };
    let nullable = function == Function::Coalesce && args.iter().all(|a| a.nullable)
        || function != Function::Coalesce && args.iter().any(|a| a.nullable)
        || matches!(
            function,
            Function::SplitIndex | Function::ToTimestamp | Function::DateFormat
        );
    Ok(typed(ExprKind::Call(function, args), ty, nullable))
}

fn bind_function(function: &ast::Function, scope: &Scope) -> SqlResult<Expr> {
    let name = function.name.to_string();
    let resolved = Function::named(&name).ok_or_else(|| {
        SqlError::new(format!("No match found for function signature {name}(...)"))
            .or_at(&function.name.span())
    })?;
    let args = function_args(function)?
        .iter()
        .map(|a| bind(a, scope))
        .collect::<SqlResult<Vec<_>>>()?;
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

/// A timestamp column's milliseconds as a literal (tests and constant folding).
pub fn timestamp_literal(millis: i64) -> Expr {
    constant(
        Arc::new(TimestampMillisecondArray::from(vec![millis])),
        SqlType::Timestamp(3),
    )
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
        bind(&expr, &scope())
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
