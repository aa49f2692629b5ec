//! Scalar expressions: bound to an input schema by [`bind`], typed with Flink's rules, and
//! evaluated a whole Arrow record batch at a time with Arrow's kernels.

pub mod bind;
mod case;
mod decimal;
mod explain;
mod fold;
pub mod format;
mod functions;
mod kernels;
mod literal;
pub mod rows;
mod scope;
mod typing;
pub mod udf;
mod walk;

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, BooleanArray, Datum, RecordBatch, Scalar, UInt32Array};
use arrow_cast::CastOptions;
use arrow_schema::DataType;

use crate::error::{SqlError, SqlResult};
use crate::types::SqlType;

pub use functions::Function;

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Multiply,
    /// `/`
    Divide,
    /// `%` / `MOD`
    Modulo,
    /// `=`
    Eq,
    /// `<>`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
    /// `AND`
    And,
    /// `OR`
    Or,
}

impl BinaryOp {
    /// Whether it compares its operands or connects two conditions (`AND`, `OR`): an
    /// operation that fails on no values.
    pub fn compares_or_connects(self) -> bool {
        !matches!(
            self,
            BinaryOp::Plus
                | BinaryOp::Minus
                | BinaryOp::Multiply
                | BinaryOp::Divide
                | BinaryOp::Modulo
        )
    }
}

/// What an expression computes.
#[derive(Debug, Clone)]
pub enum ExprKind {
    /// The input column at this index.
    Column(usize),
    /// A constant, as a one-row array of the expression's type.
    Literal(ArrayRef),
    /// A binary operation on operands already widened to a common type.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `NOT e`.
    Not(Box<Expr>),
    /// `-e`.
    Negate(Box<Expr>),
    /// `e IS [NOT] NULL`.
    IsNull {
        /// The operand.
        expr: Box<Expr>,
        /// `IS NOT NULL`.
        negated: bool,
    },
    /// `CAST(e AS type)` (to the expression's type).
    Cast(Box<Expr>),
    /// `CASE WHEN c THEN r ... ELSE e END`.
    Case {
        /// The `(condition, result)` pairs, in order.
        branches: Vec<(Expr, Expr)>,
        /// The `ELSE` result (NULL when absent).
        otherwise: Option<Box<Expr>>,
    },
    /// A scalar function call.
    Call(Function, Vec<Expr>),
    /// A user-defined function's call.
    Udf(udf::Udf, Vec<Expr>),
    /// The field at this index of a `ROW` value (`person.id`); NULL where the row is NULL.
    Field(Box<Expr>, usize),
    /// `expr`, computed before where a filter needed it: read from input column `values`
    /// where input column `computed` is true, computed on the other rows.
    Partial {
        /// The column of the values computed before (NULL where not computed).
        values: usize,
        /// The column saying where they were computed.
        computed: usize,
        /// The expression.
        expr: Box<Expr>,
    },
}

/// A typed expression over the columns of an input batch.
#[derive(Debug, Clone)]
pub struct Expr {
    /// What it computes.
    pub kind: ExprKind,
    /// Its Flink type.
    pub ty: SqlType,
    /// Whether it can be NULL.
    pub nullable: bool,
}

impl Expr {
    /// The input column `index`, of type `ty`.
    pub fn column(index: usize, ty: SqlType, nullable: bool) -> Expr {
        Expr {
            kind: ExprKind::Column(index),
            ty,
            nullable,
        }
    }

    /// Evaluates the expression on every row of `batch`.
    pub fn eval(&self, batch: &RecordBatch) -> SqlResult<ArrayRef> {
        let rows = batch.num_rows();
        let array = match &self.kind {
            ExprKind::Column(index) => Arc::clone(batch.column(*index)),
            ExprKind::Literal(value) => repeat(value, rows)?,
            ExprKind::Binary(op, left, right) => match (left.constant(), right.constant()) {
                // A constant operand stays one value: Arrow's kernels take it as a scalar.
                (None, Some(constant)) => {
                    with_scalar(*op, &left.eval(batch)?, constant, false, &self.ty)?
                }
                (Some(constant), None) => {
                    with_scalar(*op, &right.eval(batch)?, constant, true, &self.ty)?
                }
                _ => binary(*op, &left.eval(batch)?, &right.eval(batch)?, &self.ty)?,
            },
            ExprKind::Not(inner) => {
                Arc::new(arrow_arith::boolean::not(as_boolean(&inner.eval(batch)?)?)?)
            }
            ExprKind::Negate(inner) => arrow_arith::numeric::neg(&inner.eval(batch)?)?,
            ExprKind::IsNull { expr, negated } => {
                let value = expr.eval(batch)?;
                Arc::new(if *negated {
                    arrow_arith::boolean::is_not_null(&value)?
                } else {
                    arrow_arith::boolean::is_null(&value)?
                })
            }
            ExprKind::Cast(inner) => cast(&inner.eval(batch)?, &inner.ty, &self.ty)?,
            ExprKind::Case {
                branches,
                otherwise,
            } => case::eval_case(branches, otherwise.as_deref(), &self.ty, batch)?,
            ExprKind::Call(function, args) => {
                let types: Vec<SqlType> = args.iter().map(|a| a.ty.clone()).collect();
                let args = args
                    .iter()
                    .enumerate()
                    .map(|(i, a)| match a.constant() {
                        Some(value) if function.takes_constant(i) => Ok(Arc::clone(value)),
                        _ => a.eval(batch),
                    })
                    .collect::<SqlResult<Vec<_>>>()?;
                function.eval(&args, &types, &self.ty, rows)?
            }
            ExprKind::Field(row, index) => field_of(&row.eval(batch)?, *index)?,
            ExprKind::Partial {
                values,
                computed,
                expr,
            } => rows::eval_partial(batch, *values, *computed, expr)?,
            ExprKind::Udf(udf, args) => {
                let args = args
                    .iter()
                    .map(|a| a.eval(batch))
                    .collect::<SqlResult<Vec<_>>>()?;
                let result = udf.function.eval(&args, rows)?;
                if result.len() != rows {
                    return Err(SqlError::new(format!(
                        "function {} returned {} values for {rows} rows",
                        udf.name,
                        result.len()
                    )));
                }
                result
            }
        };
        conform(array, &self.ty)
    }
}

impl Expr {
    /// Whether evaluating it can fail on no row: comparisons, logic and text functions over
    /// columns and constants.
    pub fn cannot_fail(&self) -> bool {
        let operation = match &self.kind {
            ExprKind::Column(_) | ExprKind::Literal(_) => true,
            ExprKind::Not(_) | ExprKind::IsNull { .. } => true,
            ExprKind::Binary(op, ..) => op.compares_or_connects(),
            ExprKind::Call(function, _) => function.never_fails(),
            _ => false,
        };
        operation && self.children().into_iter().all(Expr::cannot_fail)
    }

    /// The value of a constant (a literal), as a one-row array of its type.
    fn constant(&self) -> Option<&ArrayRef> {
        match &self.kind {
            ExprKind::Literal(value) if value.data_type() == &self.ty.arrow_type() => Some(value),
            _ => None,
        }
    }
}

/// An Arrow kernel that takes either operand as a scalar.
type DatumKernel = fn(&dyn Datum, &dyn Datum) -> Result<ArrayRef, arrow_schema::ArrowError>;

impl BinaryOp {
    /// Arrow's kernel for it that takes either operand as a scalar, if it has one.
    fn datum_kernel(self) -> Option<DatumKernel> {
        use arrow_arith::numeric;
        use arrow_ord::cmp;
        let kernel: DatumKernel = match self {
            BinaryOp::Plus => numeric::add,
            BinaryOp::Minus => numeric::sub,
            BinaryOp::Multiply => numeric::mul,
            BinaryOp::Modulo => numeric::rem,
            BinaryOp::Eq => |l, r| Ok(Arc::new(cmp::eq(l, r)?)),
            BinaryOp::NotEq => |l, r| Ok(Arc::new(cmp::neq(l, r)?)),
            BinaryOp::Lt => |l, r| Ok(Arc::new(cmp::lt(l, r)?)),
            BinaryOp::LtEq => |l, r| Ok(Arc::new(cmp::lt_eq(l, r)?)),
            BinaryOp::Gt => |l, r| Ok(Arc::new(cmp::gt(l, r)?)),
            BinaryOp::GtEq => |l, r| Ok(Arc::new(cmp::gt_eq(l, r)?)),
            BinaryOp::Divide | BinaryOp::And | BinaryOp::Or => return None,
        };
        Some(kernel)
    }
}

/// `op` (of result type `ty`) of a column and a constant (`constant_first`: the constant is
/// the left operand), the constant given to the kernel as a scalar rather than repeated for
/// every row.
fn with_scalar(
    op: BinaryOp,
    column: &ArrayRef,
    constant: &ArrayRef,
    constant_first: bool,
    ty: &SqlType,
) -> SqlResult<ArrayRef> {
    let scalar = Scalar::new(Arc::clone(constant));
    match op.datum_kernel() {
        // Operands of one type: a timestamp plus an interval takes the general path.
        Some(kernel) if column.data_type() == constant.data_type() => Ok(match constant_first {
            true => kernel(&scalar, column)?,
            false => kernel(column, &scalar)?,
        }),
        _ => {
            let repeated = repeat(constant, column.len())?;
            match constant_first {
                true => binary(op, &repeated, column, ty),
                false => binary(op, column, &repeated, ty),
            }
        }
    }
}

/// Field `index` of a struct column, NULL where the struct is NULL.
fn field_of(rows: &ArrayRef, index: usize) -> SqlResult<ArrayRef> {
    let rows = rows
        .as_any()
        .downcast_ref::<arrow_array::StructArray>()
        .ok_or_else(|| SqlError::new(format!("expected a ROW, found {}", rows.data_type())))?;
    let field = Arc::clone(rows.column(index));
    let Some(outer) = rows.nulls() else {
        return Ok(field);
    };
    let nulls = arrow_buffer::NullBuffer::union(Some(outer), field.nulls());
    let data = field.to_data().into_builder().nulls(nulls).build()?;
    Ok(arrow_array::make_array(data))
}

/// A one-row array repeated `rows` times.
fn repeat(value: &ArrayRef, rows: usize) -> SqlResult<ArrayRef> {
    let indices = UInt32Array::from(vec![0u32; rows]);
    Ok(arrow_select::take::take(value.as_ref(), &indices, None)?)
}

/// Gives `array` exactly the Arrow type of `ty` (kernels may pick another decimal precision).
fn conform(array: ArrayRef, ty: &SqlType) -> SqlResult<ArrayRef> {
    let wanted = ty.arrow_type();
    if array.data_type() == &wanted {
        return Ok(array);
    }
    Ok(arrow_cast::cast(&array, &wanted)?)
}

/// The array as booleans, or an error naming the type found.
pub fn as_boolean(array: &ArrayRef) -> SqlResult<&BooleanArray> {
    array
        .as_any()
        .downcast_ref::<BooleanArray>()
        .ok_or_else(|| SqlError::new(format!("expected BOOLEAN, found {}", array.data_type())))
}

/// Where `condition` is true, as bits without NULLs: a NULL condition is not true.
pub fn true_where(condition: &BooleanArray) -> BooleanArray {
    match condition.null_count() {
        0 => condition.clone(),
        _ => arrow_select::filter::prep_null_mask_filter(condition),
    }
}

fn binary(op: BinaryOp, left: &ArrayRef, right: &ArrayRef, ty: &SqlType) -> SqlResult<ArrayRef> {
    use arrow_ord::cmp;
    let boolean = |result: BooleanArray| -> SqlResult<ArrayRef> { Ok(Arc::new(result)) };
    match op {
        BinaryOp::Plus => plus_or_minus(left, right, true),
        BinaryOp::Minus => plus_or_minus(left, right, false),
        BinaryOp::Multiply => Ok(arrow_arith::numeric::mul(left, right)?),
        BinaryOp::Divide => match ty {
            SqlType::Decimal(..) => decimal::divide(left, right, ty),
            _ => Ok(arrow_arith::numeric::div(left, right)?),
        },
        BinaryOp::Modulo => Ok(arrow_arith::numeric::rem(left, right)?),
        BinaryOp::Eq => boolean(cmp::eq(left, right)?),
        BinaryOp::NotEq => boolean(cmp::neq(left, right)?),
        BinaryOp::Lt => boolean(cmp::lt(left, right)?),
        BinaryOp::LtEq => boolean(cmp::lt_eq(left, right)?),
        BinaryOp::Gt => boolean(cmp::gt(left, right)?),
        BinaryOp::GtEq => boolean(cmp::gt_eq(left, right)?),
        BinaryOp::And => boolean(arrow_arith::boolean::and_kleene(
            as_boolean(left)?,
            as_boolean(right)?,
        )?),
        BinaryOp::Or => boolean(arrow_arith::boolean::or_kleene(
            as_boolean(left)?,
            as_boolean(right)?,
        )?),
    }
}

/// `+`/`-`; a timestamp plus or minus an interval (milliseconds) stays a timestamp.
fn plus_or_minus(left: &ArrayRef, right: &ArrayRef, plus: bool) -> SqlResult<ArrayRef> {
    let apply = |l: &ArrayRef, r: &ArrayRef| {
        if plus {
            arrow_arith::numeric::add(l, r)
        } else {
            arrow_arith::numeric::sub(l, r)
        }
    };
    match (left.data_type(), right.data_type()) {
        (DataType::Timestamp(..), DataType::Int64) => {
            let millis = arrow_cast::cast(left, &DataType::Int64)?;
            let moved = apply(&millis, right)?;
            Ok(arrow_cast::cast(&moved, left.data_type())?)
        }
        _ => Ok(apply(left, right)?),
    }
}

/// Converts `array` from `from` to `to` with Flink's rules: to strings as Flink prints values,
/// others with Arrow's cast, failing on values that do not convert.
pub fn cast(array: &ArrayRef, from: &SqlType, to: &SqlType) -> SqlResult<ArrayRef> {
    if from == to {
        return Ok(Arc::clone(array));
    }
    if to.is_string() {
        return format::to_strings(array, from);
    }
    if from.is_timestamp() && to.is_timestamp() || from.is_integer() && to.is_timestamp() {
        let millis = arrow_cast::cast(array, &DataType::Int64)?;
        return Ok(arrow_cast::cast(&millis, &to.arrow_type())?);
    }
    if from.is_string() && to.is_timestamp() {
        return format::parse_timestamps(array, to);
    }
    let options = CastOptions {
        safe: false,
        ..CastOptions::default()
    };
    arrow_cast::cast_with_options(array, &to.arrow_type(), &options)
        .map_err(|e| SqlError::new(format!("CAST from {from} to {to} failed: {e}")))
}

#[cfg(test)]
impl Expr {
    /// The `INT` constant `value` (for tests).
    pub(crate) fn int(value: i32) -> Expr {
        Expr {
            kind: ExprKind::Literal(Arc::new(arrow_array::Int32Array::from(vec![value]))),
            ty: SqlType::Int,
            nullable: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Decimal128Array, Int32Array, StringArray};

    fn batch() -> RecordBatch {
        RecordBatch::try_from_iter([
            (
                "a",
                Arc::new(Int32Array::from(vec![Some(1), None, Some(7)])) as ArrayRef,
            ),
            (
                "s",
                Arc::new(StringArray::from(vec!["x", "y", "z"])) as ArrayRef,
            ),
        ])
        .unwrap()
    }

    #[test]
    fn evaluates_arithmetic_and_comparisons_with_nulls() {
        let a = Expr::column(0, SqlType::Int, true);
        let sum = Expr {
            kind: ExprKind::Binary(BinaryOp::Plus, Box::new(a.clone()), Box::new(Expr::int(2))),
            ty: SqlType::Int,
            nullable: true,
        };
        let out = sum.eval(&batch()).unwrap();
        let out = out.as_any().downcast_ref::<Int32Array>().unwrap();
        assert_eq!(out.iter().collect::<Vec<_>>(), [Some(3), None, Some(9)]);
        let greater = Expr {
            kind: ExprKind::Binary(BinaryOp::Gt, Box::new(a), Box::new(Expr::int(2))),
            ty: SqlType::Boolean,
            nullable: true,
        };
        let out = greater.eval(&batch()).unwrap();
        assert_eq!(
            as_boolean(&out).unwrap().iter().collect::<Vec<_>>(),
            [Some(false), None, Some(true)]
        );
    }

    #[test]
    fn a_constant_operand_on_either_side_gives_what_a_repeated_one_gives() {
        use arrow_array::{Int64Array, TimestampMillisecondArray};
        let batch = RecordBatch::try_from_iter([
            (
                "a",
                Arc::new(Int32Array::from(vec![Some(1), None, Some(7)])) as ArrayRef,
            ),
            ("fives", Arc::new(Int32Array::from(vec![5; 3]))),
            (
                "t",
                Arc::new(TimestampMillisecondArray::from(vec![
                    10_000, 20_000, 30_000,
                ])),
            ),
            ("four_seconds", Arc::new(Int64Array::from(vec![4000; 3]))),
        ])
        .unwrap();
        let interval = |value: i64| Expr {
            kind: ExprKind::Literal(Arc::new(Int64Array::from(vec![value]))),
            ty: SqlType::IntervalDayTime,
            nullable: false,
        };
        let int = |index| Expr::column(index, SqlType::Int, true);
        let (timestamp, seconds) = (
            Expr::column(2, SqlType::Timestamp(3), false),
            Expr::column(3, SqlType::IntervalDayTime, false),
        );
        let cases = [
            (BinaryOp::Minus, SqlType::Int, int(0), Expr::int(5), int(1)),
            (BinaryOp::Modulo, SqlType::Int, int(0), Expr::int(5), int(1)),
            (BinaryOp::Lt, SqlType::Boolean, int(0), Expr::int(5), int(1)),
            (BinaryOp::Divide, SqlType::Int, int(0), Expr::int(5), int(1)),
            // A timestamp minus an interval: operands of two types.
            (
                BinaryOp::Minus,
                SqlType::Timestamp(3),
                timestamp,
                interval(4000),
                seconds,
            ),
        ];
        for (op, ty, column, constant, repeated) in cases {
            let binary = |left: &Expr, right: &Expr| Expr {
                kind: ExprKind::Binary(op, Box::new(left.clone()), Box::new(right.clone())),
                ty: ty.clone(),
                nullable: true,
            };
            // `constant op column` and `column op constant`, against the constant repeated.
            for (scalar, plain) in [
                (binary(&constant, &column), binary(&repeated, &column)),
                (binary(&column, &constant), binary(&column, &repeated)),
            ] {
                let scalar = scalar.eval(&batch).map(|a| a.to_data());
                let plain = plain.eval(&batch).map(|a| a.to_data());
                match (scalar, plain) {
                    (Ok(scalar), Ok(plain)) => assert_eq!(scalar, plain, "{op:?}"),
                    (scalar, plain) => assert_eq!(scalar.is_err(), plain.is_err(), "{op:?}"),
                }
            }
        }
    }

    #[test]
    fn casts_conform_to_the_declared_type() {
        let a = Expr::column(0, SqlType::Int, true);
        let as_decimal = Expr {
            kind: ExprKind::Cast(Box::new(a)),
            ty: SqlType::Decimal(10, 2),
            nullable: true,
        };
        let out = as_decimal.eval(&batch()).unwrap();
        let out = out.as_any().downcast_ref::<Decimal128Array>().unwrap();
        assert_eq!(out.data_type(), &DataType::Decimal128(10, 2));
        assert_eq!(out.value(2), 700);
    }
}
