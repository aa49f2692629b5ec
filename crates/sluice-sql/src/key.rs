//! Grouping keys: the values of a row's key columns as one hashable value, its key group for
//! the exchange, and the columns rebuilt from keys for output.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, TimestampMillisecondType,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array,
    Int8Array, Int16Array, Int32Array, Int64Array, StringArray, TimestampMillisecondArray,
};

use serde::{Deserialize, Serialize};

use crate::types::SqlType;

/// One value of a key column.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum KeyValue {
    /// NULL (sorts first).
    Null,
    /// A boolean.
    Bool(bool),
    /// Any integer, date or timestamp.
    Int(i64),
    /// A decimal's unscaled value.
    Decimal(i128),
    /// A float's bits, ordered as the float (total order).
    Float(OrderedFloat),
    /// A string.
    Str(Box<str>),
    /// A `ROW` value: its fields in order.
    Row(Vec<KeyValue>),
}

/// An `f64` with a total order and hash by its bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OrderedFloat(u64);

impl OrderedFloat {
    /// Wraps `value`.
    pub fn new(value: f64) -> Self {
        OrderedFloat(value.to_bits())
    }

    /// The float.
    pub fn get(self) -> f64 {
        f64::from_bits(self.0)
    }
}

impl PartialOrd for OrderedFloat {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrderedFloat {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.get().total_cmp(&other.get())
    }
}

/// The value at `row` of `array` (of type `ty`).
pub fn key_value(array: &dyn Array, row: usize, ty: &SqlType) -> KeyValue {
    if array.is_null(row) {
        return KeyValue::Null;
    }
    match ty {
        SqlType::Boolean => KeyValue::Bool(array.as_boolean().value(row)),
        SqlType::TinyInt => KeyValue::Int(i64::from(array.as_primitive::<Int8Type>().value(row))),
        SqlType::SmallInt => KeyValue::Int(i64::from(array.as_primitive::<Int16Type>().value(row))),
        SqlType::Int => KeyValue::Int(i64::from(array.as_primitive::<Int32Type>().value(row))),
        SqlType::BigInt | SqlType::IntervalDayTime => {
            KeyValue::Int(array.as_primitive::<Int64Type>().value(row))
        }
        SqlType::Float => KeyValue::Float(OrderedFloat::new(f64::from(
            array.as_primitive::<Float32Type>().value(row),
        ))),
        SqlType::Double => KeyValue::Float(OrderedFloat::new(
            array.as_primitive::<Float64Type>().value(row),
        )),
        SqlType::Decimal(..) => {
            KeyValue::Decimal(array.as_primitive::<Decimal128Type>().value(row))
        }
        SqlType::Varchar(_) => KeyValue::Str(array.as_string::<i32>().value(row).into()),
        SqlType::Date => KeyValue::Int(i64::from(array.as_primitive::<Date32Type>().value(row))),
        SqlType::Timestamp(_) | SqlType::TimestampLtz(_) => {
            KeyValue::Int(array.as_primitive::<TimestampMillisecondType>().value(row))
        }
        SqlType::Row(fields) => {
            let rows = array.as_struct();
            KeyValue::Row(
                fields
                    .iter()
                    .enumerate()
                    .map(|(i, field)| key_value(rows.column(i).as_ref(), row, &field.ty))
                    .collect(),
            )
        }
    }
}

/// The column of type `ty` holding `values` (as [`key_value`] read them).
pub fn key_column<'a>(values: impl Iterator<Item = &'a KeyValue>, ty: &SqlType) -> ArrayRef {
    let int = |v: &KeyValue| match v {
        KeyValue::Int(i) => Some(*i),
        _ => None,
    };
    let float = |v: &KeyValue| match v {
        KeyValue::Float(f) => Some(f.get()),
        _ => None,
    };
    match ty {
        SqlType::Boolean => Arc::new(
            values
                .map(|v| match v {
                    KeyValue::Bool(b) => Some(*b),
                    _ => None,
                })
                .collect::<BooleanArray>(),
        ),
        SqlType::TinyInt => Arc::new(
            values
                .map(|v| int(v).map(|i| i as i8))
                .collect::<Int8Array>(),
        ),
        SqlType::SmallInt => Arc::new(
            values
                .map(|v| int(v).map(|i| i as i16))
                .collect::<Int16Array>(),
        ),
        SqlType::Int => Arc::new(
            values
                .map(|v| int(v).map(|i| i as i32))
                .collect::<Int32Array>(),
        ),
        SqlType::BigInt | SqlType::IntervalDayTime => {
            Arc::new(values.map(int).collect::<Int64Array>())
        }
        SqlType::Float => Arc::new(
            values
                .map(|v| float(v).map(|f| f as f32))
                .collect::<Float32Array>(),
        ),
        SqlType::Double => Arc::new(values.map(float).collect::<Float64Array>()),
        SqlType::Decimal(p, s) => Arc::new(
            values
                .map(|v| match v {
                    KeyValue::Decimal(d) => Some(*d),
                    _ => None,
                })
                .collect::<Decimal128Array>()
                .with_precision_and_scale(*p, *s)
                .expect("a decimal type of the plan"),
        ),
        SqlType::Varchar(_) => Arc::new(
            values
                .map(|v| match v {
                    KeyValue::Str(s) => Some(s.as_ref()),
                    _ => None,
                })
                .collect::<StringArray>(),
        ),
        SqlType::Date => Arc::new(
            values
                .map(|v| int(v).map(|i| i as i32))
                .collect::<Date32Array>(),
        ),
        SqlType::Timestamp(_) => Arc::new(values.map(int).collect::<TimestampMillisecondArray>()),
        SqlType::TimestampLtz(_) => Arc::new(
            values
                .map(int)
                .collect::<TimestampMillisecondArray>()
                .with_timezone("UTC"),
        ),
        SqlType::Row(fields) => row_column(values.collect(), fields),
    }
}

/// The struct column of `ROW` values (`KeyValue::Row`; anything else is NULL).
fn row_column(values: Vec<&KeyValue>, fields: &[crate::types::RowField]) -> ArrayRef {
    let present: Vec<bool> = values
        .iter()
        .map(|v| matches!(v, KeyValue::Row(_)))
        .collect();
    let children = fields
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let column: Vec<&KeyValue> = values
                .iter()
                .map(|v| match v {
                    KeyValue::Row(inner) => inner.get(i).unwrap_or(&KeyValue::Null),
                    _ => &KeyValue::Null,
                })
                .collect();
            key_column(column.into_iter(), &field.ty)
        })
        .collect();
    Arc::new(arrow_array::StructArray::new(
        crate::types::row_arrow_fields(fields),
        children,
        Some(arrow_buffer::NullBuffer::from(present)),
    ))
}

/// The key group of `key`: where the exchange sends its rows and checkpoints keep its state.
pub fn key_group_of(key: &[KeyValue], max_parallelism: usize) -> usize {
    sluice_core::key_group::key_group_for_hash(
        sluice_core::key_group::stable_hash(key),
        max_parallelism,
    )
}

/// The key columns (index, type) of `batch`, with their types.
pub fn columns_of(
    batch: &arrow_array::RecordBatch,
    keys: &[(usize, SqlType)],
) -> Vec<(ArrayRef, SqlType)> {
    keys.iter()
        .map(|(i, ty)| (Arc::clone(batch.column(*i)), ty.clone()))
        .collect()
}

/// The key of `row`: the values of the `columns` (index and type) of a batch.
pub fn row_key(columns: &[(ArrayRef, SqlType)], row: usize) -> Vec<KeyValue> {
    columns
        .iter()
        .map(|(array, ty)| key_value(array.as_ref(), row, ty))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_columns() {
        for (array, ty) in [
            (
                Arc::new(StringArray::from(vec![Some("a"), None])) as ArrayRef,
                SqlType::Varchar(None),
            ),
            (
                Arc::new(Int32Array::from(vec![Some(-3), None])),
                SqlType::Int,
            ),
            (
                Arc::new(Float64Array::from(vec![Some(1.5), None])),
                SqlType::Double,
            ),
            (
                Arc::new(
                    Decimal128Array::from(vec![Some(1250), None])
                        .with_precision_and_scale(10, 2)
                        .unwrap(),
                ),
                SqlType::Decimal(10, 2),
            ),
        ] {
            let keys: Vec<_> = (0..2)
                .map(|row| key_value(array.as_ref(), row, &ty))
                .collect();
            assert_eq!(keys[1], KeyValue::Null);
            assert_eq!(&key_column(keys.iter(), &ty), &array);
        }
    }
}
