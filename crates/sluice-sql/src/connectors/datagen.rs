//! Flink's `datagen` connector: rows of generated values. A field is a `sequence`
//! (`fields.<name>.start` to `.end`, which also bounds the table) or `random` (numbers in
//! `fields.<name>.min`..`.max`, strings of `fields.<name>.length` characters, booleans, and
//! timestamps up to `fields.<name>.max-past` before now); `number-of-rows` bounds the table,
//! `rows-per-second` (default 10,000, as in Flink) paces it. Row `n`'s random values are drawn
//! from a generator seeded by `n` and the field, so a job that restarts draws them again.

use sluice_runtime::time::processing_time::{Clock, SystemClock};
use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use sluice_core::random::{GOLDEN, SplitMix64};
use sluice_core::{Record, UserResult};
use sluice_runtime::task::operator::{OneInputOperator, StreamOperator};
use sluice_runtime::task::output::Output;

use crate::batch::RowBatch;
use crate::error::{SqlError, SqlResult};
use crate::key::{KeyValue, OrderedFloat, key_column};
use crate::types::{SqlField, SqlType, arrow_schema};

/// How one field's values are made.
#[derive(Debug, Clone, PartialEq)]
enum FieldKind {
    /// `start + n` for row `n`.
    Sequence { start: i64, end: i64 },
    /// Random numbers in `min..=max` (or text of `length` characters).
    Random {
        min: f64,
        max: f64,
        length: usize,
        max_past: i64,
    },
}

/// A `datagen` table's generator.
#[derive(Debug, Clone)]
pub struct DataGen {
    fields: Vec<(SqlField, FieldKind)>,
    schema: SchemaRef,
    /// How many rows there are (`None`: unbounded).
    pub rows: Option<u64>,
    /// The table's pace over all subtasks (`None`: as fast as it goes).
    pub rows_per_second: Option<f64>,
}

impl DataGen {
    /// The generator of `table`'s `fields` from its `options`.
    pub fn new(
        table: &str,
        fields: Vec<SqlField>,
        options: &BTreeMap<String, String>,
    ) -> SqlResult<DataGen> {
        let number = |key: &str| -> SqlResult<Option<f64>> {
            options
                .get(key)
                .map(|v| {
                    v.trim().parse::<f64>().map_err(|_| {
                        SqlError::new(format!(
                            "table '{table}': '{key}' must be a number, not '{v}'"
                        ))
                    })
                })
                .transpose()
        };
        let mut kinds = Vec::new();
        let mut rows = number("number-of-rows")?.map(|n| n as u64);
        for field in fields {
            if field.ty.is_nested() {
                return Err(SqlError::new(format!(
                    "table '{table}': datagen cannot generate the {} field '{}'",
                    field.ty, field.name
                )));
            }
            let prefix = format!("fields.{}.", field.name);
            let option = |name: &str| number(&format!("{prefix}{name}"));
            let kind = match options.get(&format!("{prefix}kind")).map(String::as_str) {
                Some("sequence") => {
                    let (Some(start), Some(end)) = (option("start")?, option("end")?) else {
                        return Err(SqlError::new(format!(
                            "table '{table}': the sequence field '{}' needs '{prefix}start' and '{prefix}end'",
                            field.name
                        )));
                    };
                    let count = (end - start + 1.0).max(0.0) as u64;
                    rows = Some(rows.map_or(count, |r| r.min(count)));
                    FieldKind::Sequence {
                        start: start as i64,
                        end: end as i64,
                    }
                }
                None | Some("random") => {
                    let (low, high) = default_range(&field.ty);
                    FieldKind::Random {
                        min: option("min")?.unwrap_or(low),
                        max: option("max")?.unwrap_or(high),
                        length: option("length")?.map_or(100, |l| l as usize),
                        max_past: option("max-past")?.map_or(0, |ms| ms as i64),
                    }
                }
                Some(other) => {
                    return Err(SqlError::new(format!(
                        "table '{table}': unknown '{prefix}kind' '{other}' (sequence or random)"
                    )));
                }
            };
            kinds.push((field, kind));
        }
        if rows == Some(0) {
            return Err(SqlError::new(format!(
                "table '{table}': its options generate no rows"
            )));
        }
        let rows_per_second = match number("rows-per-second")? {
            Some(rate) if rate > 0.0 => Some(rate),
            Some(_) => {
                return Err(SqlError::new(format!(
                    "table '{table}': 'rows-per-second' must be positive"
                )));
            }
            None => Some(10_000.0),
        };
        let schema = arrow_schema(&kinds.iter().map(|(f, _)| f.clone()).collect::<Vec<_>>());
        Ok(DataGen {
            fields: kinds,
            schema,
            rows,
            rows_per_second,
        })
    }

    /// The rows numbered `rows` as a batch.
    pub fn batch(&self, rows: &[i64], now: i64) -> SqlResult<RecordBatch> {
        let columns = self
            .fields
            .iter()
            .enumerate()
            .map(|(i, (field, kind))| {
                let values: Vec<KeyValue> = rows
                    .iter()
                    .map(|&n| value(&field.ty, kind, n, i as u64, now))
                    .collect();
                key_column(values.iter(), &field.ty)
            })
            .collect();
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }
}

/// The range random numbers of `ty` come from without `min`/`max` (Flink's: the type's range).
fn default_range(ty: &SqlType) -> (f64, f64) {
    match ty {
        SqlType::TinyInt => (i8::MIN as f64, i8::MAX as f64),
        SqlType::SmallInt => (i16::MIN as f64, i16::MAX as f64),
        SqlType::Int => (i32::MIN as f64, i32::MAX as f64),
        SqlType::Decimal(p, s) => {
            let bound = 10f64.powi(i32::from(*p) - i32::from(*s)) - 1.0;
            (-bound, bound)
        }
        SqlType::Float | SqlType::Double => (f64::from(f32::MIN), f64::from(f32::MAX)),
        _ => (i64::MIN as f64, i64::MAX as f64),
    }
}

/// Field `field`'s value of row `n`.
fn value(ty: &SqlType, kind: &FieldKind, n: i64, field: u64, now: i64) -> KeyValue {
    let (min, max, length, max_past) = match kind {
        FieldKind::Sequence { start, end } => {
            let v = start.saturating_add(n).min(*end);
            return match ty {
                SqlType::Varchar(_) => KeyValue::Str(v.to_string().into()),
                SqlType::Decimal(_, s) => {
                    KeyValue::Decimal((i128::from(v) * 10i128.pow(u32::from(*s as u8))).into())
                }
                SqlType::Float | SqlType::Double => KeyValue::Float(OrderedFloat::new(v as f64)),
                _ => KeyValue::Int(v),
            };
        }
        FieldKind::Random {
            min,
            max,
            length,
            max_past,
        } => (*min, *max, *length, *max_past),
    };
    let mut random = SplitMix64(((n as u64) << 8) ^ field.wrapping_mul(GOLDEN));
    let unit = random.next_f64();
    match ty {
        SqlType::Boolean => KeyValue::Bool(random.next_u64() & 1 == 1),
        SqlType::Varchar(_) => {
            const ALPHABET: &[u8] =
                b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
            let text: String = (0..length)
                .map(|_| char::from(ALPHABET[(random.next_u64() % 62) as usize]))
                .collect();
            KeyValue::Str(text.into())
        }
        SqlType::Float | SqlType::Double => {
            KeyValue::Float(OrderedFloat::new(min + (max - min) * unit))
        }
        SqlType::Decimal(_, s) => {
            let v = min + (max - min) * unit;
            KeyValue::Decimal(((v * 10f64.powi(i32::from(*s))).round() as i128).into())
        }
        SqlType::Timestamp(_) | SqlType::TimestampLtz(_) | SqlType::Date => {
            KeyValue::Int(now - (max_past as f64 * unit) as i64)
        }
        _ => {
            let span = (max - min).max(0.0) as u64;
            let offset = if span == u64::MAX {
                random.next_u64()
            } else {
                random.next_u64() % (span + 1)
            };
            KeyValue::Int((min as i64).wrapping_add(offset as i64))
        }
    }
}

/// Turns row numbers (from a sequence source, which paces them) into generated rows.
pub struct DataGenOperator {
    generator: DataGen,
}

impl DataGenOperator {
    /// An operator generating with `generator`.
    pub fn new(generator: DataGen) -> Self {
        DataGenOperator { generator }
    }
}

impl StreamOperator<i64, RowBatch> for DataGenOperator {}

impl OneInputOperator<i64, RowBatch> for DataGenOperator {
    fn process_batch(
        &mut self,
        batch: &mut Vec<Record<i64>>,
        out: &mut Output<RowBatch>,
    ) -> UserResult {
        let rows: Vec<i64> = batch.drain(..).map(|r| r.value).collect();
        if !rows.is_empty() {
            let now = SystemClock.now();
            out.emit(RowBatch(self.generator.batch(&rows, now)?), None);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::options;

    #[test]
    fn sequences_bound_the_table_and_random_values_stay_in_range() {
        let fields = vec![
            SqlField::new("id", SqlType::BigInt),
            SqlField::new("price", SqlType::Int),
            SqlField::new("name", SqlType::Varchar(None)),
        ];
        let generator = DataGen::new(
            "t",
            fields,
            &options(&[
                ("fields.id.kind", "sequence"),
                ("fields.id.start", "10"),
                ("fields.id.end", "19"),
                ("fields.price.min", "1"),
                ("fields.price.max", "5"),
                ("fields.name.length", "3"),
            ]),
        )
        .unwrap();
        assert_eq!(generator.rows, Some(10));
        let batch = generator.batch(&[0, 1, 9], 0).unwrap();
        let ids = batch
            .column(0)
            .as_any()
            .downcast_ref::<arrow_array::Int64Array>()
            .unwrap();
        assert_eq!(ids.values(), &[10, 11, 19]);
        let prices = batch
            .column(1)
            .as_any()
            .downcast_ref::<arrow_array::Int32Array>()
            .unwrap();
        assert!(
            prices.values().iter().all(|p| (1..=5).contains(p)),
            "{prices:?}"
        );
        let names = batch
            .column(2)
            .as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .unwrap();
        assert!(names.iter().all(|n| n.unwrap().len() == 3));
        // The same row draws the same values again.
        assert_eq!(
            generator.batch(&[1], 0).unwrap().column(1).as_ref(),
            batch.column(1).slice(1, 1).as_ref()
        );
    }

    #[test]
    fn bad_options_are_refused() {
        let fields = vec![SqlField::new("id", SqlType::BigInt)];
        assert!(
            DataGen::new(
                "t",
                fields.clone(),
                &options(&[("fields.id.kind", "sequence")])
            )
            .is_err()
        );
        assert!(
            DataGen::new(
                "t",
                fields.clone(),
                &options(&[("fields.id.kind", "zigzag")])
            )
            .is_err()
        );
        assert!(DataGen::new("t", fields, &options(&[("rows-per-second", "fast")])).is_err());
    }
}
