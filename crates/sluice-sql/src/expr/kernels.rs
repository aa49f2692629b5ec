//! Scalar functions evaluated straight over Arrow arrays (rather than value by value through
//! keys): string mapping, `CONCAT`, `MOD`, `ABS`, `SPLIT_INDEX`, `REGEXP_EXTRACT`,
//! `TO_TIMESTAMP_LTZ`.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMillisecondType;
use arrow_array::{Array, ArrayRef, Int32Array};

use crate::error::{SqlError, SqlResult};
use crate::key::{KeyValue, key_value};
use crate::types::SqlType;

/// The row of argument `array` that holds row `row`'s value: a constant argument is one row
/// for all (see [`Function::takes_constant`](super::Function::takes_constant)).
fn row_of(array: &dyn Array, row: usize) -> usize {
    if array.len() == 1 { 0 } else { row }
}

/// A string column mapped value by value straight from its Arrow array (NULL stays NULL):
/// `f` appends a value's image to the (cleared) text it is given.
pub(super) fn map_strings(values: &ArrayRef, rows: usize, f: fn(&str, &mut String)) -> ArrayRef {
    let values = values.as_string::<i32>();
    let mut out =
        arrow_array::builder::StringBuilder::with_capacity(rows, values.value_data().len());
    let mut image = String::new();
    for value in values.iter() {
        match value {
            Some(text) => {
                image.clear();
                f(text, &mut image);
                out.append_value(&image);
            }
            None => out.append_null(),
        }
    }
    Arc::new(out.finish())
}

/// `LOWER` (`upper` false) or `UPPER` (true): Java's `toLowerCase`/`toUpperCase`, Unicode's
/// case mapping (ASCII text without allocating).
pub(super) fn change_case(text: &str, out: &mut String, upper: bool) {
    if text.is_ascii() {
        out.push_str(text);
        if upper {
            out.make_ascii_uppercase();
        } else {
            out.make_ascii_lowercase();
        }
    } else if upper {
        out.push_str(&text.to_uppercase());
    } else {
        out.push_str(&text.to_lowercase());
    }
}

/// `CONCAT` of string columns: NULL where any part is.
pub(super) fn concat(args: &[ArrayRef], rows: usize) -> ArrayRef {
    use std::fmt::Write as _;
    let parts: Vec<_> = args.iter().map(|a| a.as_string::<i32>()).collect();
    let bytes = parts
        .iter()
        .map(|p| match p.len() {
            1 => p.value_data().len() * rows,
            _ => p.value_data().len(),
        })
        .sum();
    let mut out = arrow_array::builder::StringBuilder::with_capacity(rows, bytes);
    for row in 0..rows {
        if parts.iter().any(|p| p.is_null(row_of(p, row))) {
            out.append_null();
            continue;
        }
        for part in &parts {
            // Writing into the builder's current value cannot fail.
            let _ = out.write_str(part.value(row_of(part, row)));
        }
        out.append_value("");
    }
    Arc::new(out.finish())
}

/// `TO_TIMESTAMP_LTZ(n, precision)` over columns: epoch seconds (precision 0) or milliseconds
/// (3) as `TIMESTAMP_LTZ(3)`.
pub(super) fn to_timestamp_ltz(args: &[ArrayRef]) -> SqlResult<ArrayRef> {
    let values = arrow_cast::cast(&args[0], &arrow_schema::DataType::Int64)?;
    let values = values.as_primitive::<arrow_array::types::Int64Type>();
    let precisions = arrow_cast::cast(&args[1], &arrow_schema::DataType::Int64)?;
    let precisions = precisions.as_primitive::<arrow_array::types::Int64Type>();
    let millis = values
        .iter()
        .enumerate()
        .map(|(row, value)| {
            let at = row_of(precisions, row);
            (value, precisions.is_valid(at).then(|| precisions.value(at)))
        })
        .map(|(value, precision)| match (value, precision) {
            (Some(v), Some(0)) => Ok(Some(v.saturating_mul(1000))),
            (Some(v), Some(3)) => Ok(Some(v)),
            (Some(_), Some(other)) => Err(SqlError::new(format!(
                "TO_TIMESTAMP_LTZ: precision must be 0 (seconds) or 3 (milliseconds), not {other}"
            ))),
            _ => Ok(None),
        })
        .collect::<SqlResult<arrow_array::TimestampMillisecondArray>>()?;
    Ok(Arc::new(millis.with_timezone("UTC")))
}

/// `MOD` of integer columns in the result type `ty` (the remainder takes the dividend's sign).
pub(super) fn modulo(args: &[ArrayRef], ty: &SqlType) -> SqlResult<ArrayRef> {
    let wanted = ty.arrow_type();
    let dividend = arrow_cast::cast(&args[0], &wanted)?;
    let divisor = arrow_cast::cast(&args[1], &wanted)?;
    let remainder = match divisor.len() {
        1 => arrow_arith::numeric::rem(&dividend, &arrow_array::Scalar::new(divisor)),
        _ => arrow_arith::numeric::rem(&dividend, &divisor),
    };
    remainder.map_err(|e| match e {
        arrow_schema::ArrowError::DivideByZero => SqlError::new("MOD by zero"),
        other => other.into(),
    })
}

/// `SPLIT_INDEX` over columns: the `index`-th part (from 0) of the text split at `separator`.
pub(super) fn split_index(
    args: &[ArrayRef],
    types: &[SqlType],
    rows: usize,
) -> SqlResult<ArrayRef> {
    let (text, separator) = (args[0].as_string::<i32>(), args[1].as_string::<i32>());
    let mut out = arrow_array::builder::StringBuilder::with_capacity(rows, rows * 8);
    for row in 0..rows {
        let index = match key_value(args[2].as_ref(), row_of(&args[2], row), &types[2]) {
            KeyValue::Int(i) => usize::try_from(i).ok(),
            _ => None,
        };
        let at = row_of(separator, row);
        let part = match (text.is_valid(row) && separator.is_valid(at), index) {
            (true, Some(index)) => nth_part(text.value(row), separator.value(at), index),
            _ => None,
        };
        out.append_option(part);
    }
    Ok(Arc::new(out.finish()))
}

/// The `index`-th part of `text` split at `separator` (a one-byte separator, an ASCII
/// character, found by comparing bytes).
fn nth_part<'t>(text: &'t str, separator: &str, index: usize) -> Option<&'t str> {
    match separator.as_bytes() {
        [] => None,
        &[byte] => {
            // An ASCII byte is never inside a longer character: the cuts are boundaries.
            let mut start = 0;
            let mut part = 0;
            for (at, &b) in text.as_bytes().iter().enumerate() {
                if b == byte {
                    if part == index {
                        return text.get(start..at);
                    }
                    part += 1;
                    start = at + 1;
                }
            }
            (part == index).then(|| text.get(start..)).flatten()
        }
        _ => text.split(separator).nth(index),
    }
}

/// `REGEXP_EXTRACT` over columns; each pattern is compiled once per thread (the recent ones
/// are kept), and matches are found without allocating.
pub(super) fn regexp_extract(
    args: &[ArrayRef],
    types: &[SqlType],
    rows: usize,
) -> SqlResult<ArrayRef> {
    let (text, pattern) = (args[0].as_string::<i32>(), args[1].as_string::<i32>());
    let groups = args.get(2);
    let group_of = |row: usize| match groups {
        Some(index) => match key_value(index.as_ref(), row_of(index, row), &types[2]) {
            KeyValue::Int(i) => usize::try_from(i).ok(),
            _ => None,
        },
        None => Some(0),
    };
    let constant_group = groups.is_none_or(|g| g.len() == 1);
    let mut group = None;
    let mut compiled: Option<(&str, Option<regex::Regex>)> = None;
    let mut locations = None;
    let mut out = arrow_array::builder::StringBuilder::with_capacity(rows, rows * 8);
    for row in 0..rows {
        if row == 0 || !constant_group {
            group = group_of(row);
        }
        let at = row_of(pattern, row);
        if text.is_null(row) || pattern.is_null(at) {
            out.append_null();
            continue;
        }
        let wanted = pattern.value(at);
        // A constant pattern is the same text at every row: compiled once, never compared.
        if compiled
            .as_ref()
            .is_none_or(|(p, _)| !std::ptr::eq(*p, wanted) && *p != wanted)
        {
            let regex = compiled_pattern(wanted);
            locations = regex.as_ref().map(regex::Regex::capture_locations);
            compiled = Some((wanted, regex));
        }
        let found = compiled
            .as_ref()
            .and_then(|(_, regex)| regex.as_ref())
            .zip(locations.as_mut())
            .zip(group)
            .and_then(|((regex, locations), group)| {
                let value = text.value(row);
                regex.captures_read(locations, value)?;
                let (start, end) = locations.get(group)?;
                Some(&value[start..end])
            });
        match found {
            Some(m) => out.append_value(m),
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// `DATE_FORMAT(timestamp, pattern)` over columns: a pattern translated from Java's and
/// parsed once per batch (not per row), each value formatted straight into the result.
pub(super) fn date_format(args: &[ArrayRef], rows: usize) -> SqlResult<ArrayRef> {
    use chrono::format::Item;
    use std::fmt::Write as _;
    let (times, pattern) = (
        args[0].as_primitive::<TimestampMillisecondType>(),
        args[1].as_string::<i32>(),
    );
    let mut parsed: Option<(&str, Vec<Item<'static>>)> = None;
    let mut out = arrow_array::builder::StringBuilder::with_capacity(rows, rows * 10);
    for row in 0..rows {
        let at = row_of(pattern, row);
        if times.is_null(row) || pattern.is_null(at) {
            out.append_null();
            continue;
        }
        let wanted = pattern.value(at);
        if parsed.as_ref().is_none_or(|(p, _)| *p != wanted) {
            let items = chrono::format::StrftimeItems::new(&super::functions::java_pattern(wanted))
                .parse_to_owned()
                .map_err(|e| SqlError::new(format!("DATE_FORMAT pattern '{wanted}': {e}")))?;
            parsed = Some((wanted, items));
        }
        let Some(time) = chrono::DateTime::from_timestamp_millis(times.value(row)) else {
            out.append_null();
            continue;
        };
        let items = parsed.as_ref().map(|(_, items)| items.iter());
        // Writing into the builder's current value cannot fail.
        let _ = write!(
            out,
            "{}",
            time.naive_utc()
                .format_with_items(items.into_iter().flatten())
        );
        out.append_value("");
    }
    Ok(Arc::new(out.finish()))
}

/// How many compiled patterns a thread keeps.
const KEPT_PATTERNS: usize = 64;

thread_local! {
    static PATTERNS: std::cell::RefCell<std::collections::HashMap<String, Option<regex::Regex>>> =
        std::cell::RefCell::default();
}

/// `pattern` compiled (`None`, as Flink's NULL, when it does not compile), from the thread's
/// recent patterns when it is one of them.
fn compiled_pattern(pattern: &str) -> Option<regex::Regex> {
    PATTERNS.with(|patterns| {
        let mut patterns = patterns.borrow_mut();
        if let Some(regex) = patterns.get(pattern) {
            return regex.clone();
        }
        if patterns.len() >= KEPT_PATTERNS {
            patterns.clear();
        }
        let regex = regex::Regex::new(pattern).ok();
        patterns.insert(pattern.to_string(), regex.clone());
        regex
    })
}

/// `ABS`: negates the negative values (`x < 0 ? -x : x`).
pub(super) fn abs(values: &ArrayRef) -> SqlResult<ArrayRef> {
    let zero = arrow_cast::cast(
        &(Arc::new(Int32Array::from(vec![0])) as ArrayRef),
        values.data_type(),
    )?;
    let negative = arrow_ord::cmp::lt(values, &arrow_array::Scalar::new(zero))?;
    let negated = arrow_arith::numeric::neg(values)?;
    Ok(arrow_select::zip::zip(&negative, &negated, values)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_the_pieces_between_separators() {
        let texts = ["a/b//c/", "/x", "", "no separator", "é/ü€/ß", "a::b::::c"];
        for text in texts {
            for separator in ["/", "::", "€"] {
                for index in 0..6 {
                    assert_eq!(
                        nth_part(text, separator, index),
                        text.split(separator).nth(index),
                        "{text:?} {separator:?} {index}"
                    );
                }
            }
        }
        assert_eq!(nth_part("a/b", "", 0), None);
    }

    #[test]
    fn case_mapping_follows_unicode_beyond_ascii() {
        let mut out = String::new();
        change_case("MiXeD Straße ΣΑΣ", &mut out, false);
        assert_eq!(out, "MiXeD Straße ΣΑΣ".to_lowercase());
        out.clear();
        change_case("abc ß", &mut out, true);
        assert_eq!(out, "ABC SS");
        out.clear();
        change_case("MiXeD", &mut out, false);
        assert_eq!(out, "mixed");
    }
}
