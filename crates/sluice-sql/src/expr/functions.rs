//! Flink's built-in scalar functions: resolution by name with their result types, and their
//! evaluation over whole columns. String and time functions run row by row over the values
//! (NULL in, NULL out, unless the function says otherwise).

use sluice_runtime::time::processing_time::{Clock, SystemClock};
use std::sync::Arc;

use arrow_array::ArrayRef;
use chrono::{DateTime, Datelike, Timelike};

use crate::error::{SqlError, SqlResult};
use crate::key::{KeyValue, key_column, key_value};
use crate::types::SqlType;

use super::kernels::{
    abs, change_case, concat, date_format, map_strings, modulo, regexp_extract, split_index,
    to_timestamp_ltz,
};

/// A scalar function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `UPPER(s)`.
    Upper,
    /// `LOWER(s)`.
    Lower,
    /// `CHAR_LENGTH(s)` / `CHARACTER_LENGTH(s)`.
    CharLength,
    /// `CONCAT(s, ...)`: NULL if any argument is.
    Concat,
    /// `ABS(n)`.
    Abs,
    /// `MOD(a, b)`: the remainder of integers.
    Mod,
    /// `COALESCE(a, b, ...)`: the first non-NULL argument.
    Coalesce,
    /// `SUBSTRING(s FROM start [FOR length])` / `SUBSTR(s, start [, length])`, 1-based.
    Substring,
    /// `TRIM(s)`: without leading and trailing spaces.
    Trim,
    /// `SPLIT_INDEX(s, separator, index)`: the 0-based `index`th part, NULL if none.
    SplitIndex,
    /// `DATE_FORMAT(timestamp, 'java pattern')`.
    DateFormat,
    /// `TO_TIMESTAMP(s)`: `yyyy-MM-dd HH:mm:ss[.SSS]` to `TIMESTAMP(3)`.
    ToTimestamp,
    /// `TO_TIMESTAMP_LTZ(n, precision)`: epoch seconds (precision 0) or milliseconds (3) as
    /// `TIMESTAMP_LTZ(3)`.
    ToTimestampLtz,
    /// `s LIKE pattern`: `%` any run of characters, `_` any one.
    Like,
    /// `PROCTIME()`: the processing time (the wall clock) when the row is computed.
    Proctime,
    /// `REGEXP_EXTRACT(s, regex [, group])`: the group (default 0, the whole match) of the
    /// first match of `regex` in `s`; NULL without a match, such a group or a valid regex.
    RegexpExtract,
    /// `YEAR`, `MONTH`, `DAYOFMONTH`, `HOUR`, `MINUTE`, `SECOND` of a timestamp (and
    /// `EXTRACT(unit FROM ts)`).
    TimeField(TimeField),
    /// `ARRAY[a, b, ...]`: an array of the values (of one type).
    ArrayOf,
    /// `MAP[k1, v1, k2, v2, ...]`: a map of the pairs (a later equal key wins).
    MapOf,
    /// `a[i]` (1-based; NULL out of range) or `m[key]` (NULL for a missing key).
    Element,
    /// `CARDINALITY(a)`: the number of elements of an array or entries of a map.
    Cardinality,
}

/// A part of a timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeField {
    /// The year.
    Year,
    /// The month, 1 to 12.
    Month,
    /// The day of the month.
    Day,
    /// The hour, 0 to 23.
    Hour,
    /// The minute.
    Minute,
    /// The second.
    Second,
}

impl Function {
    /// The function called `name` (any case), or `None`.
    pub fn named(name: &str) -> Option<Function> {
        Some(match name.to_ascii_uppercase().as_str() {
            "UPPER" => Function::Upper,
            "LOWER" => Function::Lower,
            "CHAR_LENGTH" | "CHARACTER_LENGTH" => Function::CharLength,
            "CONCAT" => Function::Concat,
            "ABS" => Function::Abs,
            "MOD" => Function::Mod,
            "COALESCE" => Function::Coalesce,
            "SUBSTRING" | "SUBSTR" => Function::Substring,
            "TRIM" => Function::Trim,
            "SPLIT_INDEX" => Function::SplitIndex,
            "DATE_FORMAT" => Function::DateFormat,
            "TO_TIMESTAMP" => Function::ToTimestamp,
            "TO_TIMESTAMP_LTZ" => Function::ToTimestampLtz,
            "REGEXP_EXTRACT" => Function::RegexpExtract,
            "PROCTIME" => Function::Proctime,
            "YEAR" => Function::TimeField(TimeField::Year),
            "MONTH" => Function::TimeField(TimeField::Month),
            "DAYOFMONTH" => Function::TimeField(TimeField::Day),
            "HOUR" => Function::TimeField(TimeField::Hour),
            "MINUTE" => Function::TimeField(TimeField::Minute),
            "SECOND" => Function::TimeField(TimeField::Second),
            "CARDINALITY" => Function::Cardinality,
            crate::dialect::MAP_CONSTRUCTOR => Function::MapOf,
            _ => return None,
        })
    }

    /// The result type for arguments of `types`, or why they do not fit.
    pub fn result_type(&self, types: &[SqlType]) -> SqlResult<SqlType> {
        let string = |i: usize| types.get(i).is_some_and(SqlType::is_string);
        let integer = |i: usize| types.get(i).is_some_and(SqlType::is_integer);
        let count = types.len();
        let ty = match self {
            Function::Upper | Function::Lower | Function::Trim if count == 1 && string(0) => {
                SqlType::Varchar(None)
            }
            Function::CharLength if count == 1 && string(0) => SqlType::Int,
            Function::Concat if count > 0 && (0..count).all(string) => SqlType::Varchar(None),
            Function::Abs if count == 1 && types[0].is_numeric() => types[0].clone(),
            Function::Mod if count == 2 && integer(0) && integer(1) => types[0]
                .common_numeric(&types[1])
                .unwrap_or(SqlType::BigInt),
            Function::Coalesce if count > 0 => common_type(types)?,
            Function::Substring
                if (2..=3).contains(&count) && string(0) && (1..count).all(integer) =>
            {
                SqlType::Varchar(None)
            }
            Function::SplitIndex if count == 3 && string(0) && string(1) && integer(2) => {
                SqlType::Varchar(None)
            }
            Function::DateFormat if count == 2 && types[0].is_timestamp() && string(1) => {
                SqlType::Varchar(None)
            }
            Function::ToTimestamp if count == 1 && string(0) => SqlType::Timestamp(3),
            Function::ToTimestampLtz if count == 2 && integer(0) && integer(1) => {
                SqlType::TimestampLtz(3)
            }
            Function::Like if count == 2 && string(0) && string(1) => SqlType::Boolean,
            Function::Proctime if count == 0 => SqlType::TimestampLtz(3),
            Function::RegexpExtract
                if (2..=3).contains(&count)
                    && string(0)
                    && string(1)
                    && (2..count).all(integer) =>
            {
                SqlType::Varchar(None)
            }
            Function::TimeField(_) if count == 1 && types[0].is_timestamp() => SqlType::BigInt,
            Function::ArrayOf if count > 0 => SqlType::Array(Box::new(common_type(types)?)),
            Function::MapOf if count > 0 && count.is_multiple_of(2) => {
                let keys: Vec<SqlType> = types.iter().step_by(2).cloned().collect();
                let values: Vec<SqlType> = types.iter().skip(1).step_by(2).cloned().collect();
                SqlType::Map(
                    Box::new(common_type(&keys)?),
                    Box::new(common_type(&values)?),
                )
            }
            Function::Element if count == 2 => match &types[0] {
                SqlType::Array(element) if integer(1) => (**element).clone(),
                SqlType::Map(key, value)
                    if common_type(&[(**key).clone(), types[1].clone()]).is_ok() =>
                {
                    (**value).clone()
                }
                _ => return Err(self.misapplied(types)),
            },
            Function::Cardinality
                if count == 1 && matches!(types[0], SqlType::Array(_) | SqlType::Map(..)) =>
            {
                SqlType::Int
            }
            _ => return Err(self.misapplied(types)),
        };
        Ok(ty)
    }

    /// The error of applying this function to arguments of `types`.
    fn misapplied(&self, types: &[SqlType]) -> SqlError {
        SqlError::new(format!(
            "cannot apply {self:?} to arguments of types ({})",
            types
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }

    /// Whether a NULL argument makes the result NULL without calling the function.
    fn strict(&self) -> bool {
        !matches!(
            self,
            Function::Coalesce | Function::ArrayOf | Function::MapOf
        )
    }

    /// Whether it fails on no arguments: text functions that give NULL or a value for all.
    pub fn never_fails(&self) -> bool {
        matches!(
            self,
            Function::Upper
                | Function::Lower
                | Function::CharLength
                | Function::Concat
                | Function::Trim
                | Function::SplitIndex
                | Function::RegexpExtract
        )
    }

    /// Whether its kernel takes argument `index`, when it is a constant, as one row for all
    /// rows rather than repeated: patterns, separators, group numbers, divisors, the parts of
    /// a `CONCAT`.
    pub fn takes_constant(&self, index: usize) -> bool {
        match self {
            Function::Concat => true,
            Function::RegexpExtract | Function::SplitIndex => index >= 1,
            Function::DateFormat | Function::Mod | Function::ToTimestampLtz => index == 1,
            _ => false,
        }
    }

    /// Evaluates the function on argument columns (of `types`) of `rows` rows, into `ty`; an
    /// argument it [takes as a constant](Function::takes_constant) may be one row.
    pub fn eval(
        &self,
        args: &[ArrayRef],
        types: &[SqlType],
        ty: &SqlType,
        rows: usize,
    ) -> SqlResult<ArrayRef> {
        match self {
            Function::Abs => return abs(&args[0]),
            Function::RegexpExtract => return regexp_extract(args, types, rows),
            Function::DateFormat => return date_format(args, rows),
            Function::Upper => {
                return Ok(map_strings(&args[0], rows, |t, o| change_case(t, o, true)));
            }
            Function::Lower => {
                return Ok(map_strings(&args[0], rows, |t, o| change_case(t, o, false)));
            }
            Function::SplitIndex => return split_index(args, types, rows),
            Function::Concat => return Ok(concat(args, rows)),
            Function::Mod => return modulo(args, ty),
            Function::ToTimestampLtz => return to_timestamp_ltz(args),
            Function::Proctime => {
                let now = SystemClock.now();
                let values = arrow_array::TimestampMillisecondArray::from(vec![now; rows]);
                return Ok(Arc::new(values.with_timezone("UTC")));
            }
            _ => {}
        }
        let mut values = Vec::with_capacity(rows);
        let mut row_args = Vec::with_capacity(args.len());
        for row in 0..rows {
            row_args.clear();
            row_args.extend(
                args.iter()
                    .zip(types)
                    .map(|(a, t)| key_value(a.as_ref(), row, t)),
            );
            let nulls_in = row_args.contains(&KeyValue::Null);
            let value = if nulls_in && self.strict() {
                KeyValue::Null
            } else {
                self.apply(&row_args)?
            };
            values.push(value);
        }
        Ok(key_column(values.iter(), ty))
    }

    /// The function on one row's (non-NULL, but for `COALESCE`) values.
    fn apply(&self, args: &[KeyValue]) -> SqlResult<KeyValue> {
        let text = |i: usize| match &args[i] {
            KeyValue::Str(s) => s.as_ref(),
            _ => "",
        };
        let int = |i: usize| match &args[i] {
            KeyValue::Int(v) => *v,
            _ => 0,
        };
        let string = |s: String| KeyValue::Str(s.into_boxed_str());
        Ok(match self {
            Function::Trim => string(text(0).trim_matches(' ').to_string()),
            Function::CharLength => KeyValue::Int(text(0).chars().count() as i64),
            Function::Coalesce => args
                .iter()
                .find(|v| **v != KeyValue::Null)
                .cloned()
                .unwrap_or(KeyValue::Null),
            Function::Substring => {
                let chars: Vec<char> = text(0).chars().collect();
                let start = int(1).max(1) as usize - 1;
                let end = if args.len() > 2 {
                    let length = int(2);
                    if length < 0 {
                        return Err(SqlError::new("SUBSTRING with a negative length"));
                    }
                    (int(1) - 1 + length).max(0) as usize
                } else {
                    chars.len()
                };
                string(
                    chars
                        .get(start..end.min(chars.len()).max(start))
                        .unwrap_or_default()
                        .iter()
                        .collect(),
                )
            }
            Function::ToTimestamp => match super::format::parse_timestamp_millis(text(0)) {
                Some(millis) => KeyValue::Int(millis),
                None => KeyValue::Null,
            },
            Function::TimeField(field) => match DateTime::from_timestamp_millis(int(0)) {
                Some(time) => {
                    let time = time.naive_utc();
                    KeyValue::Int(i64::from(match field {
                        TimeField::Year => time.year() as u32,
                        TimeField::Month => time.month(),
                        TimeField::Day => time.day(),
                        TimeField::Hour => time.hour(),
                        TimeField::Minute => time.minute(),
                        TimeField::Second => time.second(),
                    }))
                }
                None => KeyValue::Null,
            },
            Function::Like => KeyValue::Bool(like(text(0), text(1))),
            Function::ArrayOf => KeyValue::Array(args.into()),
            Function::MapOf => map_of(args)?,
            Function::Element => element(&args[0], &args[1]),
            Function::Cardinality => KeyValue::Int(match &args[0] {
                KeyValue::Array(elements) => elements.len() as i64,
                KeyValue::Map(entries) => entries.len() as i64,
                _ => 0,
            }),
            Function::Abs
            | Function::DateFormat
            | Function::RegexpExtract
            | Function::Proctime
            | Function::Upper
            | Function::Lower
            | Function::SplitIndex
            | Function::Concat
            | Function::Mod
            | Function::ToTimestampLtz => {
                return Err(SqlError::new(format!(
                    "{self:?} is evaluated on whole columns, not row by row"
                )));
            }
        })
    }
}

/// `MAP[k1, v1, ...]` of one row's values: a later equal key replaces an earlier one's value,
/// as in Flink; a NULL key is an error.
fn map_of(args: &[KeyValue]) -> SqlResult<KeyValue> {
    let mut entries: Vec<(KeyValue, KeyValue)> = Vec::with_capacity(args.len() / 2);
    for pair in args.chunks(2) {
        let (key, value) = (pair[0].clone(), pair[1].clone());
        if key == KeyValue::Null {
            return Err(SqlError::new("a MAP key cannot be NULL"));
        }
        match entries.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => entries.push((key, value)),
        }
    }
    Ok(KeyValue::Map(entries.into()))
}

/// `container[index]`: an array's element (1-based) or a map's value; NULL when absent.
fn element(container: &KeyValue, index: &KeyValue) -> KeyValue {
    match (container, index) {
        (KeyValue::Array(elements), KeyValue::Int(i)) if *i >= 1 => elements
            .get((*i - 1) as usize)
            .cloned()
            .unwrap_or(KeyValue::Null),
        (KeyValue::Map(entries), key) => entries
            .iter()
            .find(|(k, _)| k == key)
            .map_or(KeyValue::Null, |(_, v)| v.clone()),
        _ => KeyValue::Null,
    }
}

/// Whether `text` matches the SQL `LIKE` pattern (`%`, `_`; no escape character).
fn like(text: &str, pattern: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let pattern: Vec<char> = pattern.chars().collect();
    // Greedy matching with backtracking to the last `%`.
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '_' || pattern[p] == text[t]) {
            t += 1;
            p += 1;
        } else if p < pattern.len() && pattern[p] == '%' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '%')
}

/// The type all of `types` convert to (`COALESCE`).
fn common_type(types: &[SqlType]) -> SqlResult<SqlType> {
    let mut common = types[0].clone();
    for ty in &types[1..] {
        common = if &common == ty {
            common
        } else if common.is_string() && ty.is_string() {
            SqlType::Varchar(None)
        } else {
            common
                .common_numeric(ty)
                .ok_or_else(|| SqlError::new(format!("COALESCE of {common} and {ty}")))?
        };
    }
    Ok(common)
}

/// A Java `SimpleDateFormat`/`DateTimeFormatter` pattern as a chrono format string (the
/// letters Flink's `DATE_FORMAT` users write: y M d H m s S, and quoted text).
pub fn java_pattern(pattern: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let run = chars[i..].iter().take_while(|&&d| d == c).count();
        match c {
            'y' => out.push_str(if run == 2 { "%y" } else { "%Y" }),
            'M' => out.push_str(if run >= 3 { "%b" } else { "%m" }),
            'd' => out.push_str("%d"),
            'H' => out.push_str("%H"),
            'h' => out.push_str("%I"),
            'm' => out.push_str("%M"),
            's' => out.push_str("%S"),
            'S' => out.push_str(match run {
                1..=3 => "%3f",
                4..=6 => "%6f",
                _ => "%9f",
            }),
            'a' => out.push_str("%p"),
            '\'' => {
                let quoted: String = chars[i + 1..].iter().take_while(|&&d| d != '\'').collect();
                out.push_str(&quoted.replace('%', "%%"));
                i += quoted.chars().count() + 2;
                continue;
            }
            '%' => out.push_str("%%"),
            other => out.push(other),
        }
        i += if c.is_ascii_alphabetic() { run } else { 1 };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Int32Array;
    use arrow_array::cast::AsArray;

    fn apply(function: Function, args: &[KeyValue]) -> KeyValue {
        function.apply(args).unwrap()
    }

    fn s(text: &str) -> KeyValue {
        KeyValue::Str(text.into())
    }

    #[test]
    fn string_functions_follow_flink() {
        assert_eq!(
            apply(
                Function::Substring,
                &[s("sluice"), KeyValue::Int(2), KeyValue::Int(3)]
            ),
            s("lui")
        );
        assert_eq!(
            apply(Function::Substring, &[s("sluice"), KeyValue::Int(4)]),
            s("ice")
        );
        assert_eq!(
            apply(Function::Substring, &[s("ab"), KeyValue::Int(5)]),
            s("")
        );
        let texts: ArrayRef = Arc::new(arrow_array::StringArray::from(vec!["a,b,c"; 3]));
        let commas: ArrayRef = Arc::new(arrow_array::StringArray::from(vec![",", ",", ""]));
        let indexes: ArrayRef = Arc::new(Int32Array::from(vec![1, 3, 0]));
        let types = [SqlType::Varchar(None), SqlType::Varchar(None), SqlType::Int];
        let parts = Function::SplitIndex
            .eval(
                &[texts.clone(), commas, indexes],
                &types,
                &SqlType::Varchar(None),
                3,
            )
            .unwrap();
        let parts: Vec<Option<&str>> = parts.as_string::<i32>().iter().collect();
        assert_eq!(parts, [Some("b"), None, None]);
        let lower = Function::Lower
            .eval(&[texts], &types[..1], &SqlType::Varchar(None), 3)
            .unwrap();
        assert_eq!(lower.as_string::<i32>().value(0), "a,b,c");
        assert_eq!(apply(Function::Coalesce, &[KeyValue::Null, s("x")]), s("x"));
        assert_eq!(apply(Function::Trim, &[s("  x ")]), s("x"));
    }

    #[test]
    fn constant_arguments_as_one_row_give_what_repeated_ones_give() {
        use arrow_array::{Int64Array, StringArray, TimestampMillisecondArray};
        let strings =
            |values: &[Option<&str>]| -> ArrayRef { Arc::new(StringArray::from(values.to_vec())) };
        let varchar = SqlType::Varchar(None);
        let texts = strings(&[Some("a=1&id=7"), None, Some("id=x,y"), Some("")]);
        let millis: ArrayRef = Arc::new(Int64Array::from(vec![
            Some(0),
            None,
            Some(86_400_123),
            Some(5),
        ]));
        let times: ArrayRef = Arc::new(TimestampMillisecondArray::from(vec![
            Some(0),
            None,
            Some(86_400_123),
            Some(5),
        ]));
        // Each call: the function, its arguments (constants as one row) and its type.
        type Call = (Function, Vec<(ArrayRef, SqlType)>, SqlType);
        let calls: Vec<Call> = vec![
            (
                Function::RegexpExtract,
                vec![
                    (texts.clone(), varchar.clone()),
                    (strings(&[Some("(&|^)id=([^&]*)")]), varchar.clone()),
                    (Arc::new(Int32Array::from(vec![2])), SqlType::Int),
                ],
                varchar.clone(),
            ),
            (
                Function::SplitIndex,
                vec![
                    (texts.clone(), varchar.clone()),
                    (strings(&[Some("=")]), varchar.clone()),
                    (Arc::new(Int32Array::from(vec![1])), SqlType::Int),
                ],
                varchar.clone(),
            ),
            (
                Function::Concat,
                vec![
                    (strings(&[Some("<")]), varchar.clone()),
                    (texts.clone(), varchar.clone()),
                    (strings(&[Some(">")]), varchar.clone()),
                ],
                varchar.clone(),
            ),
            (
                Function::Mod,
                vec![
                    (millis.clone(), SqlType::BigInt),
                    (Arc::new(Int64Array::from(vec![7])), SqlType::BigInt),
                ],
                SqlType::BigInt,
            ),
            (
                Function::ToTimestampLtz,
                vec![
                    (millis, SqlType::BigInt),
                    (Arc::new(Int32Array::from(vec![3])), SqlType::Int),
                ],
                SqlType::TimestampLtz(3),
            ),
            (
                Function::DateFormat,
                vec![
                    (times, SqlType::Timestamp(3)),
                    (strings(&[Some("yyyy-MM-dd HH:mm")]), varchar.clone()),
                ],
                varchar,
            ),
        ];
        for (function, args, ty) in calls {
            let types: Vec<SqlType> = args.iter().map(|(_, t)| t.clone()).collect();
            let one_row: Vec<ArrayRef> = args.iter().map(|(a, _)| a.clone()).collect();
            assert!(
                one_row
                    .iter()
                    .enumerate()
                    .all(|(i, a)| a.len() == 4 || function.takes_constant(i))
            );
            let repeated: Vec<ArrayRef> = one_row
                .iter()
                .map(|a| match a.len() {
                    1 => arrow_select::concat::concat(&[a.as_ref(); 4]).unwrap(),
                    _ => a.clone(),
                })
                .collect();
            let constant = function.eval(&one_row, &types, &ty, 4).unwrap();
            let plain = function.eval(&repeated, &types, &ty, 4).unwrap();
            assert_eq!(constant.len(), 4, "{function:?}");
            assert_eq!(constant.to_data(), plain.to_data(), "{function:?}");
        }
    }

    #[test]
    fn regexp_extract_takes_a_group_of_the_first_match() {
        let column = |values: Vec<Option<&str>>| -> ArrayRef {
            Arc::new(arrow_array::StringArray::from(values))
        };
        let text = column(vec![
            Some("https://x/a?query=1&channel_id=42&y=2"),
            Some("channel_id=7"),
            Some("no id"),
            None,
        ]);
        let pattern = column(vec![Some("(&|^)channel_id=([^&]*)"); 4]);
        let group: ArrayRef = Arc::new(Int32Array::from(vec![2, 2, 2, 2]));
        let types = [SqlType::Varchar(None), SqlType::Varchar(None), SqlType::Int];
        let out = Function::RegexpExtract
            .eval(
                &[text.clone(), pattern, group],
                &types,
                &SqlType::Varchar(None),
                4,
            )
            .unwrap();
        let out: Vec<Option<&str>> = out.as_string::<i32>().iter().collect();
        assert_eq!(out, [Some("42"), Some("7"), None, None]);
        // A group the pattern does not have, or a pattern that does not compile: NULL.
        let bad = column(vec![Some("(a"); 4]);
        let out = Function::RegexpExtract
            .eval(&[text, bad], &types[..2], &SqlType::Varchar(None), 4)
            .unwrap();
        assert_eq!(out.null_count(), 4);
    }

    #[test]
    fn like_matches_percent_and_underscore() {
        assert!(like("partner, inc", "partner%"));
        assert!(like("web", "_e_"));
        assert!(like("abcabd", "%abd"));
        assert!(!like("web", "w_"));
        assert!(like("", "%"));
    }

    #[test]
    fn dates_format_with_java_patterns() {
        assert_eq!(
            java_pattern("yyyy-MM-dd HH:mm:ss.SSS"),
            "%Y-%m-%d %H:%M:%S.%3f"
        );
        assert_eq!(java_pattern("yyyy'T'HH"), "%YT%H");
        // 2024-01-01 13:05:09.250
        let millis = 1_704_114_309_250;
        let times: ArrayRef = Arc::new(arrow_array::TimestampMillisecondArray::from(vec![
            Some(millis),
            None,
            Some(0),
        ]));
        let patterns: ArrayRef = Arc::new(arrow_array::StringArray::from(vec![
            "yyyy-MM-dd HH:mm",
            "yyyy",
            "HH:mm:ss.SSS 'at' dd",
        ]));
        let formatted = Function::DateFormat
            .eval(
                &[times, patterns],
                &[SqlType::Timestamp(3), SqlType::Varchar(None)],
                &SqlType::Varchar(None),
                3,
            )
            .unwrap();
        let formatted: Vec<Option<&str>> = formatted.as_string::<i32>().iter().collect();
        assert_eq!(
            formatted,
            [Some("2024-01-01 13:05"), None, Some("00:00:00.000 at 01")]
        );
        let ltz = |precision: i32| {
            let seconds: ArrayRef = Arc::new(arrow_array::Int64Array::from(vec![1_704_114_309]));
            let precision: ArrayRef = Arc::new(Int32Array::from(vec![precision]));
            Function::ToTimestampLtz.eval(
                &[seconds, precision],
                &[SqlType::BigInt, SqlType::Int],
                &SqlType::TimestampLtz(3),
                1,
            )
        };
        let converted = ltz(0).unwrap();
        let converted = converted.as_primitive::<arrow_array::types::TimestampMillisecondType>();
        assert_eq!(converted.value(0), 1_704_114_309_000);
        assert!(ltz(6).is_err());
        assert_eq!(
            apply(
                Function::TimeField(TimeField::Hour),
                &[KeyValue::Int(millis)]
            ),
            KeyValue::Int(13)
        );
    }
}
