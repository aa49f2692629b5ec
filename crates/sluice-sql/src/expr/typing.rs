//! The typing of operators, as Flink types them: numbers widen to a common type (decimal
//! products and quotients get Flink's precision and scale, integers divide as integers),
//! comparisons bring both sides to one type, a timestamp plus an interval stays a timestamp.

use sqlparser::ast;

use super::{BinaryOp, Expr, ExprKind, Function};
use crate::error::{SqlError, SqlResult};
use crate::types::SqlType;

/// An expression of `kind`, typed.
pub(super) fn typed(kind: ExprKind, ty: SqlType, nullable: bool) -> Expr {
    Expr { kind, ty, nullable }
}

/// `e` converted to `ty` (itself when it has that type already).
pub fn cast_to(e: Expr, ty: &SqlType) -> Expr {
    if &e.ty == ty {
        return e;
    }
    let nullable = e.nullable;
    typed(ExprKind::Cast(Box::new(e)), ty.clone(), nullable)
}

pub(super) fn expect_boolean(e: &Expr, context: &str) -> SqlResult<()> {
    if e.ty == SqlType::Boolean {
        return Ok(());
    }
    Err(SqlError::new(format!(
        "{context} expects BOOLEAN operands, found {}",
        e.ty
    )))
}

pub(super) fn binary(op: &ast::BinaryOperator, left: Expr, right: Expr) -> SqlResult<Expr> {
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
pub fn comparable(left: &SqlType, right: &SqlType) -> SqlResult<SqlType> {
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
