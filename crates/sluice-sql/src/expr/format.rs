//! Values as Flink writes them: Java's `Double.toString`, `BigDecimal`, and SQL timestamps, in
//! the three styles Flink uses — `CAST(.. AS STRING)`, the CSV format (which strips a decimal's
//! trailing zeros and a timestamp's zero fraction) and the rows the `print` connector shows
//! (Java's `LocalDateTime.toString`).

use std::fmt::Write;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, TimestampMillisecondType,
};
use arrow_array::{Array, ArrayRef, TimestampMillisecondArray};
use chrono::{NaiveDate, NaiveDateTime};

use crate::error::{SqlError, SqlResult};
use crate::types::SqlType;

/// Which of Flink's spellings to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextStyle {
    /// `CAST(x AS STRING)`: decimals keep their scale, timestamps their precision.
    Cast,
    /// Flink's CSV format (Jackson): decimals without trailing zeros, timestamps with only the
    /// fraction digits they need.
    Csv,
    /// A row's `toString` (the `print` connector): timestamps as `2024-01-01T00:00:01.500`,
    /// without zero seconds (`2024-01-01T00:00`); decimals keep their scale.
    Row,
}

/// Appends the value at `row` (not NULL) of `array`, of type `ty`, to `out`.
pub fn write_value(
    array: &dyn Array,
    row: usize,
    ty: &SqlType,
    style: TextStyle,
    out: &mut String,
) {
    match ty {
        SqlType::Boolean => out.push_str(if array.as_boolean().value(row) {
            "true"
        } else {
            "false"
        }),
        SqlType::TinyInt => push_integer(out, array.as_primitive::<Int8Type>().value(row).into()),
        SqlType::SmallInt => push_integer(out, array.as_primitive::<Int16Type>().value(row).into()),
        SqlType::Int => push_integer(out, array.as_primitive::<Int32Type>().value(row).into()),
        SqlType::BigInt | SqlType::IntervalDayTime => {
            push_integer(out, array.as_primitive::<Int64Type>().value(row))
        }
        // A FLOAT prints its own shortest digits (Java's Float.toString), not a double's.
        SqlType::Float => {
            let value = array.as_primitive::<Float32Type>().value(row);
            java_floating(out, f64::from(value), &format!("{value:e}"))
        }
        SqlType::Double => {
            let value = array.as_primitive::<Float64Type>().value(row);
            java_floating(out, value, &format!("{value:e}"))
        }
        SqlType::Decimal(_, scale) => {
            let unscaled = array.as_primitive::<Decimal128Type>().value(row);
            out.push_str(decimal_in_style(unscaled, *scale, style).as_str())
        }
        SqlType::Varchar(_) => out.push_str(array.as_string::<i32>().value(row)),
        SqlType::Date => {
            let days = array.as_primitive::<Date32Type>().value(row);
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
            let date = epoch + chrono::Duration::days(i64::from(days));
            let _ = write!(out, "{}", date.format("%Y-%m-%d"));
        }
        SqlType::Timestamp(precision) | SqlType::TimestampLtz(precision) => {
            let millis = array.as_primitive::<TimestampMillisecondType>().value(row);
            timestamp(out, millis, *precision, style)
        }
        SqlType::Row(fields) => {
            // Flink's CAST(row AS STRING): `(a, b)`, NULL fields as `null`; its CSV format
            // joins the fields with `;`, NULL ones empty.
            let rows = array.as_struct();
            let (open, separator, close, null_text) = match style {
                TextStyle::Csv => ("", ";", "", ""),
                TextStyle::Cast | TextStyle::Row => ("(", ", ", ")", "null"),
            };
            out.push_str(open);
            for (i, field) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(separator);
                }
                write_element(
                    rows.column(i).as_ref(),
                    row,
                    &field.ty,
                    style,
                    null_text,
                    out,
                );
            }
            out.push_str(close);
        }
        SqlType::Array(element) => {
            // Flink's `[a, b]`; its CSV format joins the elements with `;` instead.
            let list = array.as_list::<i32>().value(row);
            let (open, separator, close) = match style {
                TextStyle::Csv => ("", ";", ""),
                TextStyle::Cast | TextStyle::Row => ("[", ", ", "]"),
            };
            let null_text = collection_null(style);
            out.push_str(open);
            for i in 0..list.len() {
                if i > 0 {
                    out.push_str(separator);
                }
                write_element(list.as_ref(), i, element, style, null_text, out);
            }
            out.push_str(close);
        }
        SqlType::Map(key, value) => {
            // Flink's `{k=v, ...}` (Java's `Map.toString`).
            let entries = array.as_map().value(row);
            out.push('{');
            for i in 0..entries.len() {
                if i > 0 {
                    out.push_str(", ");
                }
                let null_text = collection_null(style);
                write_element(entries.column(0).as_ref(), i, key, style, null_text, out);
                out.push('=');
                write_element(entries.column(1).as_ref(), i, value, style, null_text, out);
            }
            out.push('}');
        }
    }
}

/// How a NULL element of an array or map is written: `NULL` by a cast, `null` by a row's
/// `toString`, nothing by the CSV format.
fn collection_null(style: TextStyle) -> &'static str {
    match style {
        TextStyle::Cast => "NULL",
        TextStyle::Row => "null",
        TextStyle::Csv => "",
    }
}

/// [`write_value`], or `null_text` for a NULL.
fn write_element(
    array: &dyn Array,
    row: usize,
    ty: &SqlType,
    style: TextStyle,
    null_text: &str,
    out: &mut String,
) {
    if array.is_null(row) {
        out.push_str(null_text);
    } else {
        write_value(array, row, ty, style, out);
    }
}

/// Appends `value` in decimal (without the formatting machinery: integers are most of what
/// rows print).
fn push_integer(out: &mut String, value: i64) {
    out.push_str(integer_text(value).as_str());
}

/// `value` in decimal.
pub(crate) fn integer_text(value: i64) -> AsciiText {
    let mut text = AsciiText::default();
    if value < 0 {
        text.push(b'-');
    }
    text.digits(u128::from(value.unsigned_abs()), 1);
    text
}

/// Java's `Double.toString`/`Float.toString` from Rust's shortest round-trip digits (`{:e}`,
/// e.g. `1.2345e7`): plain between 10⁻³ and 10⁷, else `d.dddE±n`, always with a fraction digit.
fn java_floating(out: &mut String, value: f64, scientific: &str) {
    if value.is_nan() {
        return out.push_str("NaN");
    }
    if value.is_infinite() {
        return out.push_str(if value < 0.0 { "-Infinity" } else { "Infinity" });
    }
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    out.push_str(sign);
    if digits.bytes().all(|d| d == b'0') {
        return out.push_str("0.0");
    }
    if (-3..7).contains(&exponent) {
        let point = exponent + 1;
        if point <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-point) as usize));
            out.push_str(&digits);
        } else {
            let point = point as usize;
            let padded = format!("{digits:0<point$}");
            let (whole, fraction) = padded.split_at(point);
            out.push_str(whole);
            out.push('.');
            out.push_str(if fraction.is_empty() { "0" } else { fraction });
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let _ = write!(
            out,
            "{first}.{}E{exponent}",
            if rest.is_empty() { "0" } else { rest }
        );
    }
}

/// `BigDecimal.stripTrailingZeros()`: zero becomes `0` with scale 0.
fn strip_trailing_zeros(mut unscaled: i128, mut scale: i32) -> (i128, i32) {
    if unscaled == 0 {
        return (0, 0);
    }
    if let Ok(mut small) = i64::try_from(unscaled) {
        // Without the slow division of 128-bit numbers where it can.
        while small % 10 == 0 {
            small /= 10;
            scale -= 1;
        }
        return (i128::from(small), scale);
    }
    while unscaled % 10 == 0 {
        unscaled /= 10;
        scale -= 1;
    }
    (unscaled, scale)
}

/// A decimal as `BigDecimal.toString()` writes it, in the CSV style without trailing zeros.
pub(crate) fn decimal_in_style(unscaled: i128, scale: i8, style: TextStyle) -> AsciiText {
    let (unscaled, scale) = match style {
        TextStyle::Cast | TextStyle::Row => (unscaled, i32::from(scale)),
        TextStyle::Csv => strip_trailing_zeros(unscaled, i32::from(scale)),
    };
    decimal_text(unscaled, scale)
}

/// `BigDecimal.toString()`: plain unless the scale is negative or the value below 10⁻⁶.
fn decimal_text(unscaled: i128, scale: i32) -> AsciiText {
    let mut text = AsciiText::default();
    if unscaled < 0 {
        text.push(b'-');
    }
    let magnitude = unscaled.unsigned_abs();
    let adjusted = -scale + decimal_len(magnitude) as i32 - 1;
    if scale >= 0 && adjusted >= -6 {
        match 10u128.checked_pow(scale as u32) {
            _ if scale == 0 => text.digits(magnitude, 1),
            Some(unit) => {
                let (whole, fraction) = match (u64::try_from(magnitude), u64::try_from(unit)) {
                    // Without the slow division of 128-bit numbers where it can.
                    (Ok(magnitude), Ok(unit)) => {
                        (u128::from(magnitude / unit), u128::from(magnitude % unit))
                    }
                    _ => (magnitude / unit, magnitude % unit),
                };
                text.digits(whole, 1);
                text.push(b'.');
                text.digits(fraction, scale as usize);
            }
            None => {
                text.push_str("0.");
                text.digits(magnitude, scale as usize);
            }
        }
        return text;
    }
    let mut digits = AsciiText::default();
    digits.digits(magnitude, 1);
    let (first, rest) = digits.as_bytes().split_at(1);
    text.push_str(ascii(first));
    if !rest.is_empty() {
        text.push(b'.');
        text.push_str(ascii(rest));
    }
    text.push_str(if adjusted >= 0 { "E+" } else { "E-" });
    text.digits(u128::from(adjusted.unsigned_abs()), 1);
    text
}

/// Digits as text.
fn ascii(digits: &[u8]) -> &str {
    std::str::from_utf8(digits).unwrap_or_default()
}

/// How many decimal digits `value` has.
fn decimal_len(value: u128) -> usize {
    value.checked_ilog10().map_or(1, |log| log as usize + 1)
}

/// Milliseconds in a day.
const MILLIS_PER_DAY: i64 = 86_400_000;

/// The years a timestamp may fall in (chrono's and, near enough, Java's).
const YEARS: std::ops::RangeInclusive<i64> = -262_144..=262_143;

/// The proleptic Gregorian year, month and day of `days` since 1970-01-01 (the civil-from-days
/// arithmetic of Howard Hinnant's date algorithms: 400-year eras of 146,097 days, years
/// counted from March so that the leap day falls last).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month as u32, day as u32)
}

/// `yyyy-MM-dd HH:mm:ss` and a fraction: `precision` digits in the cast style, only the
/// digits needed (none for a whole second) in the CSV style.
fn timestamp(out: &mut String, millis: i64, precision: u8, style: TextStyle) {
    out.push_str(timestamp_text(millis, precision, style).as_str());
}

/// [`timestamp`]'s text (the milliseconds themselves outside the years a date can have).
pub(crate) fn timestamp_text(millis: i64, precision: u8, style: TextStyle) -> AsciiText {
    let (year, month, day) = civil_from_days(millis.div_euclid(MILLIS_PER_DAY));
    if !YEARS.contains(&year) {
        return integer_text(millis);
    }
    let of_day = millis.rem_euclid(MILLIS_PER_DAY) as u32;
    let (second, fraction) = (of_day / 1000, of_day % 1000);
    let mut text = AsciiText::default();
    text.padded(year.unsigned_abs() as u32, 4);
    text.push(b'-');
    text.padded(month, 2);
    text.push(b'-');
    text.padded(day, 2);
    text.push(if style == TextStyle::Row { b'T' } else { b' ' });
    text.padded(second / 3600, 2);
    text.push(b':');
    text.padded(second / 60 % 60, 2);
    if style == TextStyle::Row {
        // Java's LocalDateTime.toString: seconds only when the time has some.
        if millis.rem_euclid(60_000) != 0 {
            text.push(b':');
            text.padded(second % 60, 2);
        }
        if fraction != 0 {
            text.push(b'.');
            text.padded(fraction, 3);
        }
        return text;
    }
    text.push(b':');
    text.padded(second % 60, 2);
    match style {
        TextStyle::Cast if precision > 0 => {
            text.push(b'.');
            let precision = usize::from(precision.min(9));
            let shown = fraction / 10u32.pow(3u32.saturating_sub(precision as u32));
            text.padded(shown, precision.min(3));
            (3..precision).for_each(|_| text.push(b'0'));
        }
        TextStyle::Csv if fraction != 0 => {
            text.push(b'.');
            match (fraction % 100, fraction % 10) {
                (0, _) => text.padded(fraction / 100, 1),
                (_, 0) => text.padded(fraction / 10, 2),
                _ => text.padded(fraction, 3),
            }
        }
        _ => {}
    }
    text
}

/// `00` to `99`, each two digits.
const DIGIT_PAIRS: &[u8; 200] = b"\
    0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

/// ASCII text built on the stack and appended to a string or bytes at once (numbers, dates
/// and times, without the formatting machinery: they are most of what rows print).
#[derive(Clone, Copy)]
pub(crate) struct AsciiText {
    bytes: [u8; 64],
    len: usize,
}

impl Default for AsciiText {
    fn default() -> Self {
        AsciiText {
            bytes: [0; 64],
            len: 0,
        }
    }
}

impl AsciiText {
    fn push(&mut self, byte: u8) {
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = byte;
            self.len += 1;
        }
    }

    fn push_str(&mut self, text: &str) {
        text.bytes().for_each(|byte| self.push(byte));
    }

    /// Appends `value` in decimal, zero-padded to `width` digits.
    fn padded(&mut self, value: u32, width: usize) {
        self.word_digits(u64::from(value), width);
    }

    /// Appends `value` in decimal, zero-padded to `width` digits.
    fn digits(&mut self, value: u128, width: usize) {
        // The usual case without the slow arithmetic of 128-bit numbers.
        if let Ok(value) = u64::try_from(value) {
            return self.word_digits(value, width);
        }
        let end = self.len + decimal_len(value).max(width);
        let Some(slots) = self.bytes.get_mut(self.len..end) else {
            return;
        };
        let mut value = value;
        for slot in slots.iter_mut().rev() {
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
        }
        self.len = end;
    }

    /// [`AsciiText::digits`] of a 64-bit number, two digits at a time.
    fn word_digits(&mut self, mut value: u64, width: usize) {
        let len = value.checked_ilog10().map_or(1, |log| log as usize + 1);
        let end = self.len + len.max(width);
        let Some(slots) = self.bytes.get_mut(self.len..end) else {
            return;
        };
        let mut pairs = slots.rchunks_exact_mut(2);
        for pair in &mut pairs {
            let at = (value % 100) as usize * 2;
            pair.copy_from_slice(&DIGIT_PAIRS[at..at + 2]);
            value /= 100;
        }
        if let [first] = pairs.into_remainder() {
            *first = b'0' + (value % 10) as u8;
        }
        self.len = end;
    }

    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        ascii(self.as_bytes())
    }

    /// The text's bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// `CAST(array AS STRING)`.
pub fn to_strings(array: &ArrayRef, from: &SqlType) -> SqlResult<ArrayRef> {
    let mut text = String::new();
    let mut strings = StringBuilder::with_capacity(array.len(), array.len() * 8);
    for row in 0..array.len() {
        if array.is_valid(row) {
            text.clear();
            write_value(array.as_ref(), row, from, TextStyle::Cast, &mut text);
            strings.append_value(&text);
        } else {
            strings.append_null();
        }
    }
    Ok(Arc::new(strings.finish()))
}

/// Parses `yyyy-MM-dd HH:mm:ss[.fraction]` (or with `T`) to epoch milliseconds.
pub fn parse_timestamp_millis(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Some(millis) = parse_common_timestamp(text.as_bytes()) {
        return Some(millis);
    }
    let parsed = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f"))
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M"))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    Some(parsed.and_utc().timestamp_millis())
}

/// The common shape `yyyy-MM-dd HH:mm:ss[.f…]` (or with `T`), without chrono's format parser;
/// `None` for anything else (then parsed the slow way) or an invalid date.
fn parse_common_timestamp(bytes: &[u8]) -> Option<i64> {
    if bytes.len() < 19
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b' ' | b'T')
        || bytes[13] != b':'
        || bytes[16] != b':'
    {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        bytes[range].iter().try_fold(0u32, |n, &b| {
            b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(number(0..4)? as i32, number(5..7)?, number(8..10)?)?;
    let time = date.and_hms_opt(number(11..13)?, number(14..16)?, number(17..19)?)?;
    let mut millis = 0;
    match &bytes[19..] {
        [] => {}
        [b'.', digits @ ..]
            if !digits.is_empty() && digits.len() <= 9 && digits.iter().all(u8::is_ascii_digit) =>
        {
            for (i, &digit) in digits.iter().take(3).enumerate() {
                millis += i64::from(digit - b'0') * [100, 10, 1][i];
            }
        }
        _ => return None,
    }
    Some(time.and_utc().timestamp_millis() + millis)
}

/// `CAST(strings AS TIMESTAMP)`: a string that is not a timestamp fails with its text.
pub fn parse_timestamps(array: &ArrayRef, to: &SqlType) -> SqlResult<ArrayRef> {
    let strings = array.as_string::<i32>();
    let millis = strings
        .iter()
        .map(|value| match value {
            None => Ok(None),
            Some(text) => parse_timestamp_millis(text)
                .map(Some)
                .ok_or_else(|| SqlError::new(format!("CAST('{text}' AS {to}): not a timestamp"))),
        })
        .collect::<SqlResult<TimestampMillisecondArray>>()?;
    Ok(Arc::new(millis.with_timezone_opt(match to {
        SqlType::TimestampLtz(_) => Some("UTC"),
        _ => None,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    #[test]
    fn integers_and_padded_numbers_are_written_in_decimal() {
        for value in [0, 7, -7, 10, 1234567890, i64::MAX, i64::MIN] {
            let mut out = String::new();
            push_integer(&mut out, value);
            assert_eq!(out, value.to_string());
        }
        let mut text = AsciiText::default();
        text.padded(5, 3);
        text.padded(1234, 2);
        text.padded(0, 1);
        text.padded(7, 4);
        text.padded(98, 1);
        assert_eq!(text.as_str(), "00512340000798");
        for value in (0..100_000u64).chain([u64::MAX, 10u64.pow(19), 10u64.pow(18) - 1]) {
            let mut text = AsciiText::default();
            text.word_digits(value, 0);
            assert_eq!(text.as_str(), value.to_string());
        }
    }

    fn double(value: f64) -> String {
        let mut out = String::new();
        java_floating(&mut out, value, &format!("{value:e}"));
        out
    }

    fn decimal(unscaled: i128, scale: i32, style: TextStyle) -> String {
        let mut out = String::new();
        let (unscaled, scale) = match style {
            TextStyle::Csv => strip_trailing_zeros(unscaled, scale),
            TextStyle::Cast | TextStyle::Row => (unscaled, scale),
        };
        out.push_str(decimal_text(unscaled, scale).as_str());
        out
    }

    #[test]
    fn doubles_print_as_java_does() {
        // Each pair as Flink 2.3 (Java 17) wrote it to CSV.
        for (value, java) in [
            (1.5, "1.5"),
            (0.0001, "1.0E-4"),
            (12345678.9, "1.23456789E7"),
            (1e-7, "1.0E-7"),
            (100.0, "100.0"),
            (1.5e10, "1.5E10"),
            (1000000.0, "1000000.0"),
            (1e12, "1.0E12"),
            (0.001, "0.001"),
            (-2.5, "-2.5"),
            (0.0, "0.0"),
        ] {
            assert_eq!(double(value), java, "{value}");
        }
    }

    #[test]
    fn decimals_print_as_big_decimal_does() {
        assert_eq!(decimal(1250, 2, TextStyle::Cast), "12.50");
        assert_eq!(decimal(1250, 2, TextStyle::Csv), "12.5");
        assert_eq!(decimal(-300, 2, TextStyle::Csv), "-3");
        assert_eq!(decimal(0, 2, TextStyle::Csv), "0");
        assert_eq!(decimal(1000, 2, TextStyle::Csv), "1E+1");
        assert_eq!(decimal(5, 3, TextStyle::Cast), "0.005");
        assert_eq!(decimal(5, 8, TextStyle::Cast), "5E-8");
        assert_eq!(decimal(-123456, 3, TextStyle::Cast), "-123.456");
        assert_eq!(decimal(12, -3, TextStyle::Cast), "1.2E+4");
        // Beyond 64 bits, and the largest scale.
        let big = 12_345_678_901_234_567_890_123_456_789_012_345_678i128;
        assert_eq!(decimal(big, 0, TextStyle::Cast), big.to_string());
        assert_eq!(
            decimal(-big, 38, TextStyle::Cast),
            "-0.12345678901234567890123456789012345678"
        );
        assert_eq!(
            decimal(big, 40, TextStyle::Cast),
            "0.0012345678901234567890123456789012345678"
        );
    }

    #[test]
    fn dates_are_chronos_across_the_years() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        let days = (-800_000..800_000)
            .step_by(37)
            .chain([-719_468, 2_932_896, 0, -1]);
        for day in days {
            let date = epoch + chrono::Duration::days(day);
            let expected = (i64::from(date.year()), date.month(), date.day());
            assert_eq!(civil_from_days(day), expected, "day {day}");
        }
        assert_eq!(
            timestamp_text(i64::MAX, 3, TextStyle::Csv).as_str(),
            i64::MAX.to_string()
        );
        assert_eq!(
            timestamp_text(-1, 3, TextStyle::Csv).as_str(),
            "1969-12-31 23:59:59.999"
        );
    }

    #[test]
    fn timestamps_print_in_both_styles() {
        let shown = |millis: i64, precision: u8, style: TextStyle| {
            let mut out = String::new();
            timestamp(&mut out, millis, precision, style);
            out
        };
        for (millis, precision, style, text) in [
            (
                1_577_836_801_500,
                3,
                TextStyle::Csv,
                "2020-01-01 00:00:01.5",
            ),
            (1_577_836_800_000, 3, TextStyle::Csv, "2020-01-01 00:00:00"),
            (
                1_577_836_801_050,
                3,
                TextStyle::Csv,
                "2020-01-01 00:00:01.05",
            ),
            (
                1_577_836_801_007,
                3,
                TextStyle::Csv,
                "2020-01-01 00:00:01.007",
            ),
            (
                1_577_836_801_500,
                3,
                TextStyle::Cast,
                "2020-01-01 00:00:01.500",
            ),
            (
                1_577_836_801_050,
                1,
                TextStyle::Cast,
                "2020-01-01 00:00:01.0",
            ),
            (
                1_577_836_801_050,
                6,
                TextStyle::Cast,
                "2020-01-01 00:00:01.050000",
            ),
            // As Flink 2.3's print connector showed them.
            (
                1_577_836_801_500,
                3,
                TextStyle::Row,
                "2020-01-01T00:00:01.500",
            ),
            (1_577_836_800_000, 3, TextStyle::Row, "2020-01-01T00:00"),
            (1_577_836_809_000, 3, TextStyle::Row, "2020-01-01T00:00:09"),
        ] {
            assert_eq!(shown(millis, precision, style), text, "{millis} {style:?}");
        }
        assert_eq!(
            parse_timestamp_millis("2020-01-01 00:00:01.5"),
            Some(1_577_836_801_500)
        );
        assert_eq!(parse_timestamp_millis("2020-13-01 00:00:00"), None);
        assert_eq!(parse_timestamp_millis("2020-02-30 00:00:00"), None);
        assert_eq!(
            parse_timestamp_millis("2020-01-01T00:00:01.123456"),
            Some(1_577_836_801_123)
        );
        assert_eq!(
            parse_timestamp_millis("2020-01-01 00:00"),
            Some(1_577_836_800_000)
        );
        assert_eq!(parse_timestamp_millis("2020-01-01 00:00:0x"), None);
    }
}
