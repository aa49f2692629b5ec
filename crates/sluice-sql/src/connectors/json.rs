//! Flink's `json` format: one JSON object per line, a field per column by name. Reading, a
//! missing field is NULL (or an error with `json.fail-on-missing-field`), a STRING column takes
//! any value (text as it is, others as JSON), other columns take their value or its text (`"12"`
//! for an INT), timestamps as `yyyy-MM-dd HH:mm:ss[.fff]`; a malformed line fails the job, or
//! is skipped with `json.ignore-parse-errors`. Writing follows Flink's JSON writer: numbers bare,
//! decimals without trailing zeros, timestamps as strings with the fraction they need, `ROW`
//! values as nested objects. JSON numbers are read as 64-bit floats when not integers: a decimal
//! of more than 15 significant digits should be written as a string.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;
use serde_json::{Map, Value};

use super::text_values::{ColumnBuilder, scalar_value};
use crate::error::{SqlError, SqlResult};
use crate::expr::format::{TextStyle, write_value};
use crate::key::KeyValue;
use crate::types::{SqlField, SqlType, arrow_schema};

/// Parses lines of JSON objects into batches of a table's physical columns.
#[derive(Debug, Clone)]
pub struct JsonDecoder {
    table: String,
    fields: Vec<SqlField>,
    schema: SchemaRef,
    ignore_parse_errors: bool,
    fail_on_missing_field: bool,
}

impl JsonDecoder {
    /// A decoder of rows of `fields` for `table`, with the format options of `options`
    /// (`json.ignore-parse-errors`, `json.fail-on-missing-field`, under `prefix`).
    pub fn new(
        table: &str,
        fields: Vec<SqlField>,
        options: &BTreeMap<String, String>,
        prefix: &str,
    ) -> SqlResult<Self> {
        let flag = |key: &str| {
            options
                .get(&format!("{prefix}.{key}"))
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        };
        let ignore_parse_errors = flag("ignore-parse-errors");
        let fail_on_missing_field = flag("fail-on-missing-field");
        if ignore_parse_errors && fail_on_missing_field {
            return Err(SqlError::new(format!(
                "table '{table}': '{prefix}.fail-on-missing-field' and '{prefix}.ignore-parse-errors' shouldn't both be true"
            )));
        }
        Ok(JsonDecoder {
            table: table.to_string(),
            schema: arrow_schema(&fields),
            fields,
            ignore_parse_errors,
            fail_on_missing_field,
        })
    }

    /// The table's name (for errors).
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Whether a malformed row is skipped.
    pub fn ignores_parse_errors(&self) -> bool {
        self.ignore_parse_errors
    }

    /// Builders of the table's columns.
    pub(crate) fn builders(&self) -> Vec<ColumnBuilder> {
        self.fields
            .iter()
            .map(|f| ColumnBuilder::new(&f.ty))
            .collect()
    }

    /// The columns of `builders` as a batch of the table's columns, then `extra` ones.
    pub(crate) fn finish(
        &self,
        builders: &mut [ColumnBuilder],
        extra: Vec<ArrayRef>,
        schema: Option<&SchemaRef>,
    ) -> SqlResult<RecordBatch> {
        let mut arrays: Vec<ArrayRef> = builders.iter_mut().map(ColumnBuilder::finish).collect();
        arrays.extend(extra);
        let schema = schema.unwrap_or(&self.schema);
        Ok(RecordBatch::try_new(Arc::clone(schema), arrays)?)
    }

    /// The batch of the rows of `lines` (blank lines skipped).
    pub fn decode<'a>(&self, lines: impl Iterator<Item = &'a str>) -> SqlResult<RecordBatch> {
        let mut builders = self.builders();
        for line in lines.filter(|l| !l.trim().is_empty()) {
            let appended = parse_object(line).and_then(|object| {
                self.append(&object, &mut builders)
                    .map_err(|problem| format!("{problem} in '{line}'"))
            });
            match appended {
                Ok(()) => {}
                Err(_) if self.ignore_parse_errors => {}
                Err(problem) => return Err(self.error(&problem)),
            }
        }
        self.finish(&mut builders, Vec::new(), None)
    }

    /// An error about this table's input.
    pub(crate) fn error(&self, problem: &str) -> SqlError {
        SqlError::new(format!("table '{}': {problem}", self.table))
    }

    /// Appends the row of `object` (every column, or nothing when a value does not fit).
    pub(crate) fn append(
        &self,
        object: &Map<String, Value>,
        builders: &mut [ColumnBuilder],
    ) -> Result<(), String> {
        let mut cells: Vec<Cell<'_>> = Vec::with_capacity(self.fields.len());
        for (field, builder) in self.fields.iter().zip(builders.iter()) {
            let cell = match object.get(&field.name) {
                None if self.fail_on_missing_field => {
                    return Err(format!("the field '{}' is missing", field.name));
                }
                None | Some(Value::Null) => Cell::Null,
                Some(value) if field.ty.is_nested() => {
                    Cell::Whole(json_value(value, &field.ty, &field.name)?)
                }
                Some(Value::String(text)) => Cell::Text(Cow::Borrowed(text.as_str())),
                Some(value @ (Value::Object(_) | Value::Array(_))) if !field.ty.is_string() => {
                    return Err(format!(
                        "{value} is not a valid {} for '{}'",
                        field.ty, field.name
                    ));
                }
                Some(value) => Cell::Text(Cow::Owned(value.to_string())),
            };
            if let Cell::Text(text) = &cell
                && !builder.accepts(text)
            {
                return Err(format!(
                    "'{text}' is not a valid {} for '{}'",
                    field.ty, field.name
                ));
            }
            cells.push(cell);
        }
        for (builder, cell) in builders.iter_mut().zip(cells) {
            match cell {
                Cell::Null => builder.append_null(),
                Cell::Text(text) => {
                    builder.append(&text);
                }
                Cell::Whole(value) => builder.append_nested(value),
            }
        }
        Ok(())
    }
}

/// One field of a JSON line, checked before the row is appended.
enum Cell<'a> {
    Null,
    /// A scalar, as text.
    Text(Cow<'a, str>),
    /// A `ROW`, `ARRAY` or `MAP` value.
    Whole(KeyValue),
}

/// The value of `json` as a value of `ty` (of the column `column`, for errors): objects for
/// `ROW` (fields by name, missing ones NULL) and `MAP` (keys read as the key type), arrays for
/// `ARRAY`, and scalars as their column reads them.
fn json_value(json: &Value, ty: &SqlType, column: &str) -> Result<KeyValue, String> {
    let invalid = || format!("{json} is not a valid {ty} for '{column}'");
    Ok(match (json, ty) {
        (Value::Null, _) => KeyValue::Null,
        (Value::Array(items), SqlType::Array(element)) => KeyValue::Array(
            items
                .iter()
                .map(|item| json_value(item, element, column))
                .collect::<Result<_, _>>()?,
        ),
        (Value::Object(entries), SqlType::Map(key, value)) => KeyValue::Map(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = scalar_value(k, key).ok_or_else(invalid)?;
                    Ok((key, json_value(v, value, column)?))
                })
                .collect::<Result<_, String>>()?,
        ),
        (Value::Object(entries), SqlType::Row(fields)) => KeyValue::Row(
            fields
                .iter()
                .map(|f| {
                    entries
                        .get(&f.name)
                        .map_or(Ok(KeyValue::Null), |v| json_value(v, &f.ty, column))
                })
                .collect::<Result<_, _>>()?,
        ),
        (_, ty) if ty.is_nested() => return Err(invalid()),
        (Value::String(text), ty) => scalar_value(text, ty).ok_or_else(invalid)?,
        (Value::Array(_) | Value::Object(_), ty) if ty.is_string() => {
            KeyValue::Str(json.to_string().into_boxed_str())
        }
        (Value::Array(_) | Value::Object(_), _) => return Err(invalid()),
        (scalar, ty) => scalar_value(&scalar.to_string(), ty).ok_or_else(invalid)?,
    })
}

/// The JSON object of `line`.
pub(crate) fn parse_object(line: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(other) => Err(format!("a JSON line must be an object, not '{other}'")),
        Err(error) => Err(format!("malformed JSON '{line}': {error}")),
    }
}

/// Writes rows as lines of JSON objects (inserts only).
#[derive(Debug, Clone)]
pub struct JsonEncoder {
    names: Vec<String>,
    types: Vec<SqlType>,
}

impl JsonEncoder {
    /// An encoder of rows with columns `names` of `types`.
    pub fn new(names: Vec<String>, types: Vec<SqlType>) -> Self {
        JsonEncoder { names, types }
    }

    /// Appends one line per row of `batch` to `out`.
    pub fn encode(&self, batch: &RecordBatch, out: &mut Vec<u8>) {
        let mut line = String::new();
        for row in 0..batch.num_rows() {
            line.clear();
            self.write_object(batch.columns(), row, &mut line);
            line.push('\n');
            out.extend_from_slice(line.as_bytes());
        }
    }

    /// Row `row` of `columns` as a JSON object.
    pub fn write_object(&self, columns: &[ArrayRef], row: usize, out: &mut String) {
        write_object(&self.names, &self.types, columns, row, out);
    }
}

fn write_object(
    names: &[String],
    types: &[SqlType],
    columns: &[ArrayRef],
    row: usize,
    out: &mut String,
) {
    out.push('{');
    for (i, ((name, ty), column)) in names.iter().zip(types).zip(columns).enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(out, name);
        out.push(':');
        write_json_value(column.as_ref(), row, ty, out);
    }
    out.push('}');
}

/// One value as Flink's JSON writer writes it.
fn write_json_value(column: &dyn Array, row: usize, ty: &SqlType, out: &mut String) {
    if column.is_null(row) {
        out.push_str("null");
        return;
    }
    if let SqlType::Row(fields) = ty {
        let row_array = column.as_struct();
        let names: Vec<String> = fields.iter().map(|f| f.name.clone()).collect();
        let types: Vec<SqlType> = fields.iter().map(|f| f.ty.clone()).collect();
        write_object(&names, &types, row_array.columns(), row, out);
        return;
    }
    if let SqlType::Array(element) = ty {
        let list = column.as_list::<i32>().value(row);
        out.push('[');
        for i in 0..list.len() {
            if i > 0 {
                out.push(',');
            }
            write_json_value(list.as_ref(), i, element, out);
        }
        out.push(']');
        return;
    }
    if let SqlType::Map(key, value) = ty {
        // An object: each key as its text.
        let entries = column.as_map().value(row);
        out.push('{');
        for i in 0..entries.len() {
            if i > 0 {
                out.push(',');
            }
            let mut name = String::new();
            write_value(
                entries.column(0).as_ref(),
                i,
                key,
                TextStyle::Csv,
                &mut name,
            );
            push_json_string(out, &name);
            out.push(':');
            write_json_value(entries.column(1).as_ref(), i, value, out);
        }
        out.push('}');
        return;
    }
    let mut value = String::new();
    write_value(column, row, ty, TextStyle::Csv, &mut value);
    if ty.prints_as_text() {
        push_json_string(out, &value);
    } else {
        out.push_str(&value);
    }
}

/// `text` as a JSON string literal.
pub(crate) fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::options;

    fn fields() -> Vec<SqlField> {
        vec![
            SqlField::new("id", SqlType::BigInt),
            SqlField::new("name", SqlType::Varchar(None)),
            SqlField::new("price", SqlType::Decimal(10, 2)),
            SqlField::new("ts", SqlType::Timestamp(3)),
        ]
    }

    fn decoder(pairs: &[(&str, &str)]) -> SqlResult<JsonDecoder> {
        JsonDecoder::new("t", fields(), &options(pairs), "json")
    }

    #[test]
    fn round_trips_as_flink_writes_it() {
        let lines = [
            r#"{"id":1,"name":"a \"b\"","price":1E+1,"ts":"2024-01-01 00:00:01.5"}"#,
            r#"{"id":"2","name":{"x":1},"price":"0.75","extra":true}"#,
        ];
        let batch = decoder(&[]).unwrap().decode(lines.into_iter()).unwrap();
        assert_eq!(batch.num_rows(), 2);
        let names = fields().iter().map(|f| f.name.clone()).collect();
        let types = fields().into_iter().map(|f| f.ty).collect();
        let mut out = Vec::new();
        JsonEncoder::new(names, types).encode(&batch, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            concat!(
                r#"{"id":1,"name":"a \"b\"","price":1E+1,"ts":"2024-01-01 00:00:01.5"}"#,
                "\n",
                r#"{"id":2,"name":"{\"x\":1}","price":0.75,"ts":null}"#,
                "\n"
            )
        );
    }

    #[test]
    fn malformed_lines_fail_with_the_line_or_are_skipped() {
        let lines = [r#"{"id":1}"#, r#"{"id":"one"}"#, "not json", "[1]"];
        let error = decoder(&[]).unwrap().decode(lines.into_iter()).unwrap_err();
        assert!(
            error
                .message
                .contains("'one' is not a valid BIGINT for 'id'")
                && error.message.contains("table 't'"),
            "{error}"
        );
        let skipping = decoder(&[("json.ignore-parse-errors", "true")]).unwrap();
        assert_eq!(skipping.decode(lines.into_iter()).unwrap().num_rows(), 1);
        let strict = decoder(&[("json.fail-on-missing-field", "true")]).unwrap();
        let error = strict.decode(lines[..1].iter().copied()).unwrap_err();
        assert!(error.message.contains("'name' is missing"), "{error}");
        assert!(
            decoder(&[
                ("json.fail-on-missing-field", "true"),
                ("json.ignore-parse-errors", "true")
            ])
            .is_err()
        );
    }

    #[test]
    fn nested_values_that_do_not_fit_their_type_fail_with_the_line() {
        let fields = vec![
            SqlField::new("tags", SqlType::Array(Box::new(SqlType::Int))),
            SqlField::new(
                "qty",
                SqlType::Map(Box::new(SqlType::Varchar(None)), Box::new(SqlType::Int)),
            ),
        ];
        let decoder = JsonDecoder::new("t", fields, &options(&[]), "json").unwrap();
        let fits = decoder.decode([r#"{"tags":[1,"2"],"qty":{"a":3}}"#].into_iter());
        assert_eq!(fits.unwrap().num_rows(), 1);
        for (line, problem) in [
            (r#"{"tags":5}"#, "5 is not a valid ARRAY<INT> for 'tags'"),
            (r#"{"tags":["x"]}"#, r#""x" is not a valid INT for 'tags'"#),
            (
                r#"{"qty":{"a":"many"}}"#,
                r#""many" is not a valid INT for 'qty'"#,
            ),
        ] {
            let error = decoder.decode([line].into_iter()).unwrap_err();
            assert!(
                error.message.contains(problem) && error.message.contains(line),
                "{error}"
            );
        }
    }

    #[test]
    fn escapes_strings_as_json() {
        let mut out = String::new();
        push_json_string(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, "\"a\\\"b\\\\c\\nd\\u0001é\"");
    }
}
