//! Literals as Flink types them: integers INT (BIGINT when too big), numbers with a point
//! DECIMAL of their digits, with an exponent DOUBLE, quoted text STRING, and intervals as
//! milliseconds.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Decimal128Array, Float64Array, Int32Array, Int64Array, StringArray,
};
use sqlparser::ast::{self, DateTimeField, Spanned, Value};

use super::bind::{Scope, bind};
use super::typing::typed;
use super::{Expr, ExprKind};
use crate::error::{SqlError, SqlResult};
use crate::types::SqlType;

/// A constant of type `ty` (a one-row array).
pub(super) fn constant(value: ArrayRef, ty: SqlType) -> Expr {
    let nullable = value.null_count() > 0;
    typed(ExprKind::Literal(value), ty, nullable)
}

/// Flink's literal types: integers are INT (BIGINT when too big), numbers with a point
/// DECIMAL, with an exponent DOUBLE; quoted strings STRING.
pub(super) fn literal(value: &Value) -> SqlResult<Expr> {
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

pub(super) fn number_literal(text: &str) -> SqlResult<Expr> {
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
pub(super) fn interval_literal(interval: &ast::Interval) -> SqlResult<Expr> {
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
    let bound = bind(expr, &Scope::default(), &super::udf::Functions::default())?;
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
