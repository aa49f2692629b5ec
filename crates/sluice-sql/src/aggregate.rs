//! Aggregate functions with Flink's result types: `COUNT(*)`, `COUNT(x)`, `SUM`, `MIN`, `MAX`,
//! `AVG` (an integer average stays an integer, truncated as Java divides).

use arrow_array::{Array, ArrayRef};
use serde::{Deserialize, Serialize};

use crate::error::{SqlError, SqlResult};
use crate::key::{Int128, KeyValue, OrderedFloat, key_column, key_value};
use crate::types::SqlType;

/// Which aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggKind {
    /// `COUNT(*)`.
    CountStar,
    /// `COUNT(x)`: non-NULL values.
    Count,
    /// `SUM(x)`.
    Sum,
    /// `MIN(x)`.
    Min,
    /// `MAX(x)`.
    Max,
    /// `AVG(x)`.
    Avg,
    /// Every value, NULLs too, in the order added (no SQL name: a SESSION window table
    /// function keeps its rows' columns with it until their session closes).
    Collect,
}

impl AggKind {
    /// The aggregate called `name`, if it is one.
    pub fn named(name: &str) -> Option<AggKind> {
        Some(match name.to_ascii_uppercase().as_str() {
            "COUNT" => AggKind::Count,
            "SUM" => AggKind::Sum,
            "MIN" => AggKind::Min,
            "MAX" => AggKind::Max,
            "AVG" => AggKind::Avg,
            _ => return None,
        })
    }

    /// Its SQL name.
    pub fn name(&self) -> &'static str {
        match self {
            AggKind::CountStar | AggKind::Count => "COUNT",
            AggKind::Sum => "SUM",
            AggKind::Min => "MIN",
            AggKind::Max => "MAX",
            AggKind::Avg => "AVG",
            AggKind::Collect => "COLLECT",
        }
    }
}

/// One aggregate call of a query.
#[derive(Debug, Clone)]
pub struct AggCall {
    /// The function.
    pub kind: AggKind,
    /// The input column it reads (none for `COUNT(*)`).
    pub arg: Option<(usize, SqlType)>,
    /// Its result type.
    pub ty: SqlType,
}

impl AggCall {
    /// A call of `kind` over the column `arg`, typed as Flink types it.
    pub fn new(kind: AggKind, arg: Option<(usize, SqlType)>) -> SqlResult<AggCall> {
        let arg_ty = arg.as_ref().map(|(_, ty)| ty.clone());
        let ty = match (kind, &arg_ty) {
            (AggKind::CountStar | AggKind::Count, _) => SqlType::BigInt,
            (AggKind::Min | AggKind::Max, Some(ty)) => ty.clone(),
            (AggKind::Sum, Some(SqlType::Decimal(_, s))) => SqlType::Decimal(38, *s),
            (AggKind::Avg, Some(SqlType::Decimal(_, s))) => SqlType::Decimal(38, (*s).max(6)),
            (AggKind::Sum | AggKind::Avg, Some(ty)) if ty.is_numeric() => ty.clone(),
            (AggKind::Collect, Some(ty)) => SqlType::Array(Box::new(ty.clone())),
            (_, ty) => {
                return Err(SqlError::new(format!(
                    "cannot apply {kind:?} to {}",
                    ty.as_ref().map_or("*".to_string(), ToString::to_string)
                )));
            }
        };
        Ok(AggCall { kind, arg, ty })
    }
}

/// A running aggregate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Accumulator {
    /// Rows or non-NULL values counted.
    Count(i64),
    /// The sum of the values, none while all were NULL.
    Sum(Option<Number>),
    /// The smallest value so far.
    Min(Option<KeyValue>),
    /// The largest value so far.
    Max(Option<KeyValue>),
    /// Sum and count of the non-NULL values.
    Avg(Number, i64),
    /// The values, in the order added.
    Collect(Vec<KeyValue>),
}

/// A number being summed.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub enum Number {
    /// Integers (and intervals).
    Int(i64),
    /// A decimal's unscaled value.
    Decimal(Int128),
    /// Floats.
    Float(f64),
}

impl Number {
    fn zero(ty: &SqlType) -> Number {
        match ty {
            SqlType::Decimal(..) => Number::Decimal(0.into()),
            SqlType::Float | SqlType::Double => Number::Float(0.0),
            _ => Number::Int(0),
        }
    }

    fn add(self, value: &KeyValue) -> Number {
        match (self, value) {
            (Number::Int(a), KeyValue::Int(b)) => Number::Int(a.wrapping_add(*b)),
            (Number::Decimal(a), KeyValue::Decimal(b)) => {
                Number::Decimal((a.get() + b.get()).into())
            }
            (Number::Float(a), KeyValue::Float(b)) => Number::Float(a + b.get()),
            (n, _) => n,
        }
    }

    fn key(self) -> KeyValue {
        match self {
            Number::Int(i) => KeyValue::Int(i),
            Number::Decimal(d) => KeyValue::Decimal(d),
            Number::Float(f) => KeyValue::Float(OrderedFloat::new(f)),
        }
    }
}

impl Accumulator {
    /// The empty accumulator of `call`.
    pub fn new(call: &AggCall) -> Accumulator {
        let arg_ty = call.arg.as_ref().map(|(_, ty)| ty);
        match call.kind {
            AggKind::CountStar | AggKind::Count => Accumulator::Count(0),
            AggKind::Sum => Accumulator::Sum(None),
            AggKind::Min => Accumulator::Min(None),
            AggKind::Max => Accumulator::Max(None),
            AggKind::Avg => Accumulator::Avg(Number::zero(arg_ty.unwrap_or(&SqlType::BigInt)), 0),
            AggKind::Collect => Accumulator::Collect(Vec::new()),
        }
    }

    /// Adds the row `row` of the argument column (none for `COUNT(*)`).
    pub fn add(&mut self, arg: Option<(&dyn Array, &SqlType)>, row: usize) {
        let Some((array, ty)) = arg else {
            if let Accumulator::Count(n) = self {
                *n += 1;
            }
            return;
        };
        let value = key_value(array, row, ty);
        if value == KeyValue::Null && !matches!(self, Accumulator::Collect(_)) {
            return;
        }
        match self {
            Accumulator::Collect(values) => {
                // Most sessions collect a row or two: grow from one value, not from the four a
                // vector's first push makes room for.
                if values.len() == values.capacity() {
                    values.reserve_exact(values.len().max(1));
                }
                values.push(value)
            }
            Accumulator::Count(n) => *n += 1,
            Accumulator::Sum(sum) => *sum = Some(sum.unwrap_or(Number::zero(ty)).add(&value)),
            Accumulator::Min(best) => offer(best, false, &value),
            Accumulator::Max(best) => offer(best, true, &value),
            Accumulator::Avg(sum, count) => {
                *sum = sum.add(&value);
                *count += 1;
            }
        }
    }

    /// Adds what `other` (of the same call) accumulated: sessions that merge.
    pub fn merge(&mut self, other: &Accumulator) {
        match (self, other) {
            (Accumulator::Count(a), Accumulator::Count(b)) => *a += b,
            (Accumulator::Sum(a), Accumulator::Sum(Some(b))) => {
                *a = Some(match *a {
                    None => *b,
                    Some(sum) => sum.add(&b.key()),
                })
            }
            (Accumulator::Min(best), Accumulator::Min(Some(other))) => offer(best, false, other),
            (Accumulator::Max(best), Accumulator::Max(Some(other))) => offer(best, true, other),
            (Accumulator::Avg(sum, count), Accumulator::Avg(other_sum, other_count)) => {
                *sum = sum.add(&other_sum.key());
                *count += other_count;
            }
            (Accumulator::Collect(values), Accumulator::Collect(others)) => {
                values.extend(others.iter().cloned())
            }
            _ => {}
        }
    }

    /// The aggregate's value (for the result column of type `call.ty`).
    pub fn value(&self, call: &AggCall) -> KeyValue {
        match self {
            Accumulator::Count(n) => KeyValue::Int(*n),
            Accumulator::Sum(sum) => sum.map_or(KeyValue::Null, Number::key),
            Accumulator::Min(best) | Accumulator::Max(best) => {
                best.clone().unwrap_or(KeyValue::Null)
            }
            Accumulator::Collect(values) => KeyValue::Array(values.as_slice().into()),
            Accumulator::Avg(_, 0) => KeyValue::Null,
            Accumulator::Avg(sum, count) => match (sum, &call.ty) {
                (Number::Int(s), _) => KeyValue::Int(s / count),
                (Number::Float(s), _) => KeyValue::Float(OrderedFloat::new(s / *count as f64)),
                (Number::Decimal(s), SqlType::Decimal(_, scale)) => {
                    let arg_scale = match &call.arg {
                        Some((_, SqlType::Decimal(_, s))) => *s,
                        _ => 0,
                    };
                    let shift = 10i128.pow(u32::from((*scale - arg_scale).max(0) as u8));
                    let scaled = s.get() * shift;
                    let count = i128::from(*count);
                    let rounded = (scaled * 2 + scaled.signum() * count) / (2 * count);
                    KeyValue::Decimal(rounded.into())
                }
                (Number::Decimal(s), _) => KeyValue::Decimal(*s),
            },
        }
    }
}

/// Keeps `value` as `best` if it is the new largest (`max`) or smallest.
fn offer(best: &mut Option<KeyValue>, max: bool, value: &KeyValue) {
    let better = match best {
        None => true,
        Some(current) if max => value > current,
        Some(current) => value < current,
    };
    if better {
        *best = Some(value.clone());
    }
}

/// Each call's argument column of `batch` (none for `COUNT(*)`), with its type.
pub fn arguments_of(
    batch: &arrow_array::RecordBatch,
    calls: &[AggCall],
) -> Vec<Option<(ArrayRef, SqlType)>> {
    calls
        .iter()
        .map(|call| {
            call.arg
                .as_ref()
                .map(|(i, ty)| (std::sync::Arc::clone(batch.column(*i)), ty.clone()))
        })
        .collect()
}

/// The result column of `call` over `values`.
pub fn result_column<'a>(call: &AggCall, values: impl Iterator<Item = &'a KeyValue>) -> ArrayRef {
    key_column(values, &call.ty)
}

/// The result column of `call` over each row's accumulator of it (collected values are read
/// where they are, not copied into a value first).
pub fn accumulated_column<'a>(
    call: &AggCall,
    accumulators: impl Iterator<Item = &'a Accumulator>,
) -> ArrayRef {
    if let (AggKind::Collect, SqlType::Array(element)) = (call.kind, &call.ty) {
        let lists = accumulators.map(|accumulator| match accumulator {
            Accumulator::Collect(values) => Some(values.as_slice()),
            _ => None,
        });
        return crate::collections::list_column(lists, element);
    }
    let values: Vec<KeyValue> = accumulators.map(|a| a.value(call)).collect();
    result_column(call, values.iter())
}

/// The result column of each of `calls` over the rows' accumulators (one per call, in order).
pub fn accumulated_columns(calls: &[AggCall], rows: &[&[Accumulator]]) -> Vec<ArrayRef> {
    (calls.iter().enumerate())
        .map(|(i, call)| accumulated_column(call, rows.iter().map(|accs| &accs[i])))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Int32Array;

    #[test]
    fn a_value_and_an_accumulator_stay_small() {
        // Window and session state holds millions of them: a decimal aligned as an i128 (16)
        // or a `Vec` in a value would make them 32 and 48 bytes.
        assert_eq!(size_of::<KeyValue>(), 24);
        assert_eq!(size_of::<Accumulator>(), 32);
    }

    #[test]
    fn a_collected_list_grows_from_one_value() {
        let call = AggCall::new(AggKind::Collect, Some((0, SqlType::BigInt))).unwrap();
        let column = arrow_array::Int64Array::from(vec![7; 5]);
        let mut collected = Accumulator::new(&call);
        let capacity = |acc: &Accumulator| match acc {
            Accumulator::Collect(values) => values.capacity(),
            _ => unreachable!(),
        };
        let mut capacities = Vec::new();
        for row in 0..5 {
            collected.add(Some((&column, &SqlType::BigInt)), row);
            capacities.push(capacity(&collected));
        }
        assert_eq!(capacities, [1, 2, 4, 4, 8]);
    }

    #[test]
    fn decimals_order_and_sum_as_i128s() {
        let values: Vec<Int128> = [-(1i128 << 70), -1, 0, 1, 1 << 64, i128::MAX]
            .into_iter()
            .map(Int128::from)
            .collect();
        assert!(values.windows(2).all(|w| w[0] < w[1]));
        assert!(values.iter().all(|v| Int128::from(v.get()) == *v));
        let call = AggCall::new(AggKind::Sum, Some((0, SqlType::Decimal(38, 0)))).unwrap();
        let mut sum = Accumulator::new(&call);
        let column = arrow_array::Decimal128Array::from(vec![-(1i128 << 70), 5])
            .with_precision_and_scale(38, 0)
            .unwrap();
        sum.add(Some((&column, &SqlType::Decimal(38, 0))), 0);
        sum.add(Some((&column, &SqlType::Decimal(38, 0))), 1);
        assert_eq!(
            sum.value(&call),
            KeyValue::Decimal((5 - (1i128 << 70)).into())
        );
    }

    #[test]
    fn integer_averages_truncate_like_java() {
        let values = Int32Array::from(vec![Some(100), Some(7), None]);
        let call = AggCall::new(AggKind::Avg, Some((0, SqlType::Int))).unwrap();
        let mut acc = Accumulator::new(&call);
        for row in 0..3 {
            acc.add(Some((&values, &SqlType::Int)), row);
        }
        assert_eq!(acc.value(&call), KeyValue::Int(53));
        let call = AggCall::new(AggKind::Count, Some((0, SqlType::Int))).unwrap();
        let mut count = Accumulator::new(&call);
        for row in 0..3 {
            count.add(Some((&values, &SqlType::Int)), row);
        }
        assert_eq!(count.value(&call), KeyValue::Int(2));
        assert!(AggCall::new(AggKind::Sum, Some((0, SqlType::Varchar(None)))).is_err());
    }
}
