//! Columns built from values given as text, as Flink's text formats (CSV, JSON) read them:
//! numbers, booleans (`true`/`false`, any case), decimals (rounded half up to the column's
//! scale; an exponent as Java's `BigDecimal` reads it), dates `yyyy-MM-dd`, timestamps
//! `yyyy-MM-dd HH:mm:ss[.fff]`; strings as they are. `ROW`, `ARRAY` and `MAP` columns take
//! whole values (JSON's objects and arrays).

use std::sync::Arc;

use arrow_array::ArrayRef;
use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder, Float64Builder, Int8Builder,
    Int16Builder, Int32Builder, Int64Builder, StringBuilder, TimestampMillisecondBuilder,
};
use chrono::NaiveDate;

use crate::expr::format::parse_timestamp_millis;
use crate::key::{KeyValue, key_column, key_value};
use crate::types::SqlType;

/// Builds one column from values given as text.
pub(crate) enum ColumnBuilder {
    Boolean(BooleanBuilder),
    TinyInt(Int8Builder),
    SmallInt(Int16Builder),
    Int(Int32Builder),
    BigInt(Int64Builder),
    Float(Float32Builder),
    Double(Float64Builder),
    Decimal(Decimal128Builder, u8, i8),
    String(StringBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMillisecondBuilder, Option<Arc<str>>),
    /// `ROW`, `ARRAY` and `MAP` values, given whole (not as text).
    Nested(Vec<KeyValue>, SqlType),
}

impl ColumnBuilder {
    /// A builder of a column of `ty`.
    pub(crate) fn new(ty: &SqlType) -> Self {
        match ty {
            SqlType::Boolean => ColumnBuilder::Boolean(BooleanBuilder::new()),
            SqlType::TinyInt => ColumnBuilder::TinyInt(Int8Builder::new()),
            SqlType::SmallInt => ColumnBuilder::SmallInt(Int16Builder::new()),
            SqlType::Int => ColumnBuilder::Int(Int32Builder::new()),
            SqlType::BigInt | SqlType::IntervalDayTime => {
                ColumnBuilder::BigInt(Int64Builder::new())
            }
            SqlType::Float => ColumnBuilder::Float(Float32Builder::new()),
            SqlType::Double => ColumnBuilder::Double(Float64Builder::new()),
            SqlType::Decimal(p, s) => ColumnBuilder::Decimal(Decimal128Builder::new(), *p, *s),
            SqlType::Varchar(_) => ColumnBuilder::String(StringBuilder::new()),
            SqlType::Row(_) | SqlType::Array(_) | SqlType::Map(..) => {
                ColumnBuilder::Nested(Vec::new(), ty.clone())
            }
            SqlType::Date => ColumnBuilder::Date(Date32Builder::new()),
            SqlType::Timestamp(_) => {
                ColumnBuilder::Timestamp(TimestampMillisecondBuilder::new(), None)
            }
            SqlType::TimestampLtz(_) => {
                ColumnBuilder::Timestamp(TimestampMillisecondBuilder::new(), Some(Arc::from("UTC")))
            }
        }
    }

    /// Whether `text` is a value of this column (only a string may be empty).
    pub(crate) fn accepts(&self, text: &str) -> bool {
        let text = text.trim();
        match self {
            ColumnBuilder::Boolean(_) => parse_bool(text).is_some(),
            ColumnBuilder::TinyInt(_) => text.parse::<i8>().is_ok(),
            ColumnBuilder::SmallInt(_) => text.parse::<i16>().is_ok(),
            ColumnBuilder::Int(_) => text.parse::<i32>().is_ok(),
            ColumnBuilder::BigInt(_) => text.parse::<i64>().is_ok(),
            ColumnBuilder::Float(_) => text.parse::<f32>().is_ok(),
            ColumnBuilder::Double(_) => text.parse::<f64>().is_ok(),
            ColumnBuilder::Decimal(_, p, s) => parse_decimal(text, *p, *s).is_some(),
            ColumnBuilder::String(_) => true,
            ColumnBuilder::Date(_) => parse_date(text).is_some(),
            ColumnBuilder::Timestamp(..) => parse_timestamp_millis(text).is_some(),
            ColumnBuilder::Nested(..) => false,
        }
    }

    /// Appends a whole value of a nested column.
    pub(crate) fn append_nested(&mut self, value: KeyValue) {
        if let ColumnBuilder::Nested(values, _) = self {
            values.push(value);
        }
    }

    /// Appends a value [`Self::accepts`] took.
    /// Parses and appends `raw`; false (appending nothing) when it is no value of the column.
    pub(crate) fn append(&mut self, raw: &str) -> bool {
        fn put<T>(value: Option<T>, append: impl FnOnce(T)) -> bool {
            value.map(append).is_some()
        }
        // Most fields have no space around them: trimmed only when they may.
        let bare = |byte: Option<u8>| byte.is_some_and(|b| b.is_ascii_graphic());
        let text = match bare(raw.bytes().next()) && bare(raw.bytes().last()) {
            true => raw,
            false => raw.trim(),
        };
        match self {
            ColumnBuilder::Boolean(b) => put(parse_bool(text), |v| b.append_value(v)),
            ColumnBuilder::TinyInt(b) => put(text.parse().ok(), |v| b.append_value(v)),
            ColumnBuilder::SmallInt(b) => put(text.parse().ok(), |v| b.append_value(v)),
            ColumnBuilder::Int(b) => put(text.parse().ok(), |v| b.append_value(v)),
            ColumnBuilder::BigInt(b) => put(text.parse().ok(), |v| b.append_value(v)),
            ColumnBuilder::Float(b) => put(text.parse().ok(), |v| b.append_value(v)),
            ColumnBuilder::Double(b) => put(text.parse().ok(), |v| b.append_value(v)),
            ColumnBuilder::Decimal(b, p, s) => {
                put(parse_decimal(text, *p, *s), |v| b.append_value(v))
            }
            ColumnBuilder::Date(b) => put(parse_date(text), |v| b.append_value(v)),
            ColumnBuilder::Timestamp(b, _) => {
                put(parse_timestamp_millis(text), |v| b.append_value(v))
            }
            ColumnBuilder::String(b) => {
                b.append_value(raw);
                true
            }
            ColumnBuilder::Nested(..) => false,
        }
    }

    /// Appends a NULL.
    pub(crate) fn append_null(&mut self) {
        match self {
            ColumnBuilder::Boolean(b) => b.append_null(),
            ColumnBuilder::TinyInt(b) => b.append_null(),
            ColumnBuilder::SmallInt(b) => b.append_null(),
            ColumnBuilder::Int(b) => b.append_null(),
            ColumnBuilder::BigInt(b) => b.append_null(),
            ColumnBuilder::Float(b) => b.append_null(),
            ColumnBuilder::Double(b) => b.append_null(),
            ColumnBuilder::Decimal(b, ..) => b.append_null(),
            ColumnBuilder::String(b) => b.append_null(),
            ColumnBuilder::Date(b) => b.append_null(),
            ColumnBuilder::Timestamp(b, _) => b.append_null(),
            ColumnBuilder::Nested(values, _) => values.push(KeyValue::Null),
        }
    }

    /// The column built so far (the builder starts over).
    pub(crate) fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Boolean(b) => Arc::new(b.finish()),
            ColumnBuilder::TinyInt(b) => Arc::new(b.finish()),
            ColumnBuilder::SmallInt(b) => Arc::new(b.finish()),
            ColumnBuilder::Int(b) => Arc::new(b.finish()),
            ColumnBuilder::BigInt(b) => Arc::new(b.finish()),
            ColumnBuilder::Float(b) => Arc::new(b.finish()),
            ColumnBuilder::Double(b) => Arc::new(b.finish()),
            ColumnBuilder::Decimal(b, p, s) => Arc::new(
                b.finish()
                    .with_precision_and_scale(*p, *s)
                    .expect("the precision and scale were validated by the DDL"),
            ),
            ColumnBuilder::String(b) => Arc::new(b.finish()),
            ColumnBuilder::Date(b) => Arc::new(b.finish()),
            ColumnBuilder::Timestamp(b, zone) => {
                Arc::new(b.finish().with_timezone_opt(zone.clone()))
            }
            ColumnBuilder::Nested(values, ty) => {
                let column = key_column(values.iter(), ty);
                values.clear();
                column
            }
        }
    }
}

/// The value of type `ty` (not nested) that `text` spells, as a column of `ty` reads it.
pub(crate) fn scalar_value(text: &str, ty: &SqlType) -> Option<KeyValue> {
    let mut builder = ColumnBuilder::new(ty);
    if !builder.append(text) {
        return None;
    }
    Some(key_value(builder.finish().as_ref(), 0, ty))
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn parse_date(text: &str) -> Option<i32> {
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    i32::try_from((date - epoch).num_days()).ok()
}

/// A decimal's unscaled value at `scale`, rounded half up; `None` if it is not a number or
/// does not fit `precision`. An exponent is read as Java's `BigDecimal` reads it (`1E+1`: Flink's
/// CSV writer writes decimals so).
fn parse_decimal(text: &str, precision: u8, scale: i8) -> Option<i128> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match digits.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i32>().ok()?),
        None => (digits, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if exponent == 0 {
        return unscaled_decimal(whole, fraction, negative, precision, scale);
    }
    if !mantissa.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    let (whole, fraction) = shift_point(whole, fraction, exponent)?;
    unscaled_decimal(&whole, &fraction, negative, precision, scale)
}

/// 10⁰ to 10³⁸: the bounds of the decimal precisions.
const POWERS_OF_TEN: [i128; 39] = {
    let mut powers = [1i128; 39];
    let mut n = 1;
    while n < powers.len() {
        powers[n] = powers[n - 1] * 10;
        n += 1;
    }
    powers
};

/// The unscaled value of `[-]whole.fraction` at `scale`, rounded half up; `None` if a digit
/// is not one or the value does not fit `precision`.
fn unscaled_decimal(
    whole: &str,
    fraction: &str,
    negative: bool,
    precision: u8,
    scale: i8,
) -> Option<i128> {
    let scale = usize::try_from(scale).ok()?;
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let fraction = fraction.as_bytes();
    if !whole
        .bytes()
        .chain(fraction.iter().copied())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let padded = (0..scale).map(|i| fraction.get(i).copied().unwrap_or(b'0'));
    let mut digits = whole.bytes().chain(padded);
    let mut unscaled = if whole.len() + scale <= 18 {
        // Fits 64 bits: no slow 128-bit arithmetic.
        i128::from(digits.fold(0i64, |value, digit| value * 10 + i64::from(digit - b'0')))
    } else {
        digits.try_fold(0i128, |value, digit| {
            value.checked_mul(10)?.checked_add(i128::from(digit - b'0'))
        })?
    };
    if fraction.get(scale).is_some_and(|&d| d >= b'5') {
        unscaled += 1;
    }
    if unscaled >= *POWERS_OF_TEN.get(usize::from(precision))? {
        return None;
    }
    Some(if negative { -unscaled } else { unscaled })
}

/// `whole.fraction` times ten to the `exponent`, as its new whole and fraction digits.
fn shift_point(whole: &str, fraction: &str, exponent: i32) -> Option<(String, String)> {
    // No DECIMAL holds more than 38 digits: a larger shift only makes a value that cannot fit.
    if exponent.unsigned_abs() > 80 {
        return None;
    }
    let shift = exponent.unsigned_abs() as usize;
    if exponent >= 0 {
        let padded = format!(
            "{fraction}{}",
            "0".repeat(shift.saturating_sub(fraction.len()))
        );
        let (moved, rest) = padded.split_at(shift);
        Some((format!("{whole}{moved}"), rest.to_string()))
    } else {
        let padded = format!("{}{whole}", "0".repeat(shift.saturating_sub(whole.len())));
        let (rest, moved) = padded.split_at(padded.len() - shift);
        Some((rest.to_string(), format!("{moved}{fraction}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_round_half_up_and_respect_precision() {
        assert_eq!(parse_decimal("12.345", 10, 2), Some(1235));
        assert_eq!(parse_decimal("-0.5", 10, 0), Some(-1));
        assert_eq!(parse_decimal("123", 3, 1), None);
        assert_eq!(parse_decimal("1e5", 10, 0), Some(100_000));
        assert_eq!(parse_decimal("1E+1", 10, 2), Some(1_000));
        assert_eq!(parse_decimal("-2.5E-1", 10, 2), Some(-25));
        assert_eq!(parse_decimal("1.5E-3", 10, 2), Some(0));
        assert_eq!(parse_decimal("1E+9", 5, 0), None);
        assert_eq!(parse_decimal("1Ex", 5, 0), None);
        assert_eq!(parse_decimal("E5", 5, 0), None);
        // 18 digits and more, up to the largest precision.
        assert_eq!(
            parse_decimal("9999999999999999.99", 18, 2),
            Some(999_999_999_999_999_999)
        );
        assert_eq!(
            parse_decimal("99999999999999999.99", 19, 2),
            Some(9_999_999_999_999_999_999)
        );
        let nines = "9".repeat(38);
        assert_eq!(parse_decimal(&nines, 38, 0), Some(nines.parse().unwrap()));
        assert_eq!(parse_decimal(&format!("{nines}9"), 38, 0), None);
        assert_eq!(parse_decimal("1x.5", 10, 2), None);
        assert_eq!(parse_decimal("1.x5", 10, 2), None);
    }

    #[test]
    fn fields_are_trimmed_only_of_space_around_them() {
        use arrow_array::cast::AsArray;
        let mut longs = ColumnBuilder::new(&SqlType::BigInt);
        assert!(longs.append(" 12\t") && longs.append("7"));
        assert!(!longs.append("1 2"));
        let column = longs.finish();
        let values = column
            .as_primitive::<arrow_array::types::Int64Type>()
            .values();
        assert_eq!(values.to_vec(), [12, 7]);
    }
}
