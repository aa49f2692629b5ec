//! Flink's `csv` format: rows without a header, `,` between fields, `"` quotes; an empty field
//! is an empty STRING (and no value of another type); a field equal to `csv.null-literal` is
//! NULL. Written as Flink's Jackson-based writer does:
//! numbers and booleans bare, text quoted when it holds a character below `-` (space, `,`,
//! `"`, `#`, ...), decimals without trailing zeros, timestamps with the fraction they need.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{
    Array, ArrayRef, Decimal128Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use arrow_schema::SchemaRef;

use super::text_values::{ColumnBuilder, scalar_value};
use crate::error::{SqlError, SqlResult};
use crate::expr::format::{
    AsciiText, TextStyle, decimal_in_style, integer_text, timestamp_text, write_value,
};
use crate::key::KeyValue;
use crate::types::{SqlField, SqlType, arrow_schema};

/// Parses CSV lines into batches of a table's physical columns.
#[derive(Debug, Clone)]
pub struct CsvDecoder {
    fields: Vec<SqlField>,
    schema: SchemaRef,
    table: String,
    ignore_parse_errors: bool,
    null_literal: Option<String>,
}

impl CsvDecoder {
    /// A decoder of rows of `fields` for `table`; with `ignore_parse_errors` a malformed row is
    /// skipped (Flink's `csv.ignore-parse-errors`), else it fails the job.
    pub fn new(table: &str, fields: Vec<SqlField>, ignore_parse_errors: bool) -> Self {
        CsvDecoder {
            schema: arrow_schema(&fields),
            fields,
            table: table.to_string(),
            ignore_parse_errors,
            null_literal: None,
        }
    }

    /// Reads fields equal to `literal` as NULL (Flink's `csv.null-literal`).
    pub fn with_null_literal(mut self, literal: Option<String>) -> Self {
        self.null_literal = literal;
        self
    }

    fn is_null(&self, value: &str) -> bool {
        self.null_literal.as_deref() == Some(value)
    }

    /// The batch of the rows of `lines` (blank lines skipped). Each field is parsed once; a
    /// malformed row fails the batch, or with `csv.ignore-parse-errors` has it decoded again
    /// row by row, checking each row before taking it.
    pub fn decode<'a>(
        &self,
        lines: impl Iterator<Item = &'a str> + Clone,
    ) -> SqlResult<RecordBatch> {
        match self.decode_rows(lines.clone(), false) {
            Ok(batch) => Ok(batch),
            Err(_) if self.ignore_parse_errors => self.decode_rows(lines, true),
            Err(error) => Err(error),
        }
    }

    /// Decodes the rows: trusting each (the first bad one is an error), or `checking` each
    /// before taking it (skipping the bad ones).
    fn decode_rows<'a>(
        &self,
        lines: impl Iterator<Item = &'a str>,
        checking: bool,
    ) -> SqlResult<RecordBatch> {
        let mut columns = self.builders();
        let mut record = Fields::default();
        for line in lines {
            if line.trim().is_empty() {
                continue;
            }
            let checked = match record.split(line) {
                Err(problem) => Err(SqlError::new(format!(
                    "table '{}': malformed CSV row '{line}': {problem}",
                    self.table
                ))),
                Ok(()) if checking || record.len() != self.fields.len() => {
                    self.check_row(&record, line, &columns)
                }
                Ok(()) => Ok(()),
            };
            match checked {
                Err(_) if checking => continue,
                Err(error) => return Err(error),
                Ok(()) => {}
            }
            for ((builder, value), field) in
                columns.iter_mut().zip(record.iter(line)).zip(&self.fields)
            {
                let appended = if self.is_null(value) {
                    builder.append_null();
                    true
                } else {
                    append_field(builder, &field.ty, value)
                };
                if !appended {
                    // Only an unchecked row gets here: say what is wrong with it.
                    let error = self.check_row(&record, line, &self.builders()).err();
                    return Err(error.unwrap_or_else(|| SqlError::new("a malformed CSV row")));
                }
            }
        }
        let arrays: Vec<ArrayRef> = columns.iter_mut().map(ColumnBuilder::finish).collect();
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), arrays)?)
    }

    fn builders(&self) -> Vec<ColumnBuilder> {
        self.fields
            .iter()
            .map(|f| ColumnBuilder::new(&f.ty))
            .collect()
    }

    /// Whether every field of the row parses as its column's type.
    fn check_row(&self, record: &Fields, line: &str, columns: &[ColumnBuilder]) -> SqlResult<()> {
        if record.len() != self.fields.len() {
            return Err(SqlError::new(format!(
                "table '{}': the CSV row '{line}' has {} fields, the table {} columns",
                self.table,
                record.len(),
                self.fields.len()
            )));
        }
        for ((field, value), builder) in self.fields.iter().zip(record.iter(line)).zip(columns) {
            let accepted = match nested_value(value, &field.ty) {
                Nested::Value(_) => true,
                Nested::Invalid => false,
                Nested::Scalar => builder.accepts(value),
            };
            if !self.is_null(value) && !accepted {
                return Err(SqlError::new(format!(
                    "table '{}': in the CSV row '{line}', '{value}' is not a valid {} for column '{}'",
                    self.table, field.ty, field.name
                )));
            }
        }
        Ok(())
    }
}

/// Appends the field `text` to a column of `ty`; false when it is no value of the type.
fn append_field(builder: &mut ColumnBuilder, ty: &SqlType, text: &str) -> bool {
    if !ty.is_nested() {
        return builder.append(text);
    }
    match nested_value(text, ty) {
        Nested::Value(value) => {
            builder.append_nested(value);
            true
        }
        Nested::Invalid => false,
        Nested::Scalar => builder.append(text),
    }
}

/// A field read as a nested value.
enum Nested {
    /// The value of a `ROW` or `ARRAY` column.
    Value(KeyValue),
    /// The field is no value of its nested type.
    Invalid,
    /// The column is not nested: the field is read as a scalar.
    Scalar,
}

/// A `ROW` or `ARRAY` field as Flink's CSV format reads it: its parts separated by `;`. An
/// empty field is an empty array, or a NULL row; an array's elements and a row's fields are
/// values as top-level fields are (an empty one only for a string); a row needs a part per
/// field (more are ignored).
fn nested_value(text: &str, ty: &SqlType) -> Nested {
    let parts = |types: &mut dyn Iterator<Item = &SqlType>| -> Option<Vec<KeyValue>> {
        text.split(ARRAY_ELEMENT_DELIMITER)
            .zip(types)
            .map(|(part, ty)| (!ty.is_nested()).then(|| scalar_value(part, ty)).flatten())
            .collect()
    };
    let value = match ty {
        SqlType::Array(_) if text.is_empty() => Some(KeyValue::Array([].into())),
        SqlType::Array(element) => {
            parts(&mut std::iter::repeat(element.as_ref())).map(|e| KeyValue::Array(e.into()))
        }
        SqlType::Row(_) if text.is_empty() => Some(KeyValue::Null),
        // Fewer parts than fields leave the row short.
        SqlType::Row(fields) => parts(&mut fields.iter().map(|f| &f.ty))
            .filter(|values| values.len() == fields.len())
            .map(|fields| KeyValue::Row(fields.into())),
        SqlType::Map(..) => None,
        _ => return Nested::Scalar,
    };
    value.map_or(Nested::Invalid, Nested::Value)
}

/// What separates an array's elements and a row's fields in a CSV field (Flink's default
/// `csv.array-element-delimiter`).
const ARRAY_ELEMENT_DELIMITER: char = ';';

/// The fields of one CSV line, reused from line to line: a line without quotes is read in
/// place (its fields are its text between commas); a quoted one's fields are copied into
/// `text` without their quotes and doubled `""`.
#[derive(Debug, Default)]
struct Fields {
    text: String,
    /// Each field's start and end, in the line or (`quoted`) in `text`.
    bounds: Vec<(usize, usize)>,
    quoted: bool,
}

impl Fields {
    /// Splits `line` at the commas outside quotes.
    fn split(&mut self, line: &str) -> Result<(), &'static str> {
        self.text.clear();
        self.bounds.clear();
        self.quoted = false;
        let mut start = 0;
        for (at, &byte) in line.as_bytes().iter().enumerate() {
            match byte {
                b',' => {
                    self.bounds.push((start, at));
                    start = at + 1;
                }
                b'"' => {
                    self.quoted = true;
                    break;
                }
                _ => {}
            }
        }
        if !self.quoted {
            self.bounds.push((start, line.len()));
            return Ok(());
        }
        self.bounds.clear();
        let mut chars = line.chars().peekable();
        loop {
            let start = self.text.len();
            if chars.peek() == Some(&'"') {
                chars.next();
                loop {
                    match chars.next() {
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            self.text.push('"');
                        }
                        Some('"') => break,
                        Some(c) => self.text.push(c),
                        None => return Err("a quoted field does not end"),
                    }
                }
                if !matches!(chars.peek(), None | Some(',')) {
                    return Err("text after a quoted field");
                }
            }
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                self.text.push(c);
                chars.next();
            }
            self.bounds.push((start, self.text.len()));
            if chars.next().is_none() {
                return Ok(());
            }
        }
    }

    fn len(&self) -> usize {
        self.bounds.len()
    }

    /// The fields of `line`, which was split last.
    fn iter<'a>(&'a self, line: &'a str) -> impl Iterator<Item = &'a str> {
        let source = if self.quoted {
            self.text.as_str()
        } else {
            line
        };
        (self.bounds.iter()).map(move |&(start, end)| source.get(start..end).unwrap_or_default())
    }
}

/// Writes rows as Flink's CSV format does.
#[derive(Debug, Clone)]
pub struct CsvEncoder {
    types: Vec<SqlType>,
}

impl CsvEncoder {
    /// An encoder of rows with columns of `types`.
    pub fn new(types: Vec<SqlType>) -> Self {
        CsvEncoder { types }
    }

    /// Appends one line per row of `batch` to `out`.
    pub fn encode(&self, batch: &RecordBatch, out: &mut Vec<u8>) {
        let mut columns: Vec<Cells<'_>> = batch
            .columns()
            .iter()
            .zip(&self.types)
            .map(|(column, ty)| Cells::of(column, ty))
            .collect();
        let mut text = String::new();
        for row in 0..batch.num_rows() {
            for (i, cells) in columns.iter_mut().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                cells.write(row, &mut text, out);
            }
            out.push(b'\n');
        }
    }
}

/// One column's values as CSV fields: its type looked at once per batch, not per value.
enum Cells<'a> {
    /// Text, written from the array itself.
    Text(&'a StringArray),
    /// `BIGINT`s.
    Longs(&'a Int64Array),
    /// `DECIMAL`s of a scale.
    Decimals(&'a Decimal128Array, i8),
    /// `TIMESTAMP`s and `TIMESTAMP_LTZ`s, with the last one written and its text (window
    /// bounds repeat row after row).
    Timestamps(&'a TimestampMillisecondArray, Option<(i64, AsciiText)>),
    /// Any other type, through [`write_value`].
    Other(&'a dyn Array, &'a SqlType),
}

impl<'a> Cells<'a> {
    fn of(column: &'a ArrayRef, ty: &'a SqlType) -> Cells<'a> {
        let other = Cells::Other(column.as_ref(), ty);
        match ty {
            SqlType::Varchar(_) => column.as_string_opt::<i32>().map_or(other, Cells::Text),
            SqlType::BigInt => column.as_primitive_opt().map_or(other, Cells::Longs),
            SqlType::Decimal(_, scale) => (column.as_primitive_opt())
                .map_or(other, |decimals| Cells::Decimals(decimals, *scale)),
            SqlType::Timestamp(_) | SqlType::TimestampLtz(_) => {
                (column.as_primitive_opt()).map_or(other, |times| Cells::Timestamps(times, None))
            }
            _ => other,
        }
    }

    /// The column's array.
    fn array(&self) -> &dyn Array {
        match self {
            Cells::Text(array) => *array,
            Cells::Longs(array) => *array,
            Cells::Decimals(array, _) => *array,
            Cells::Timestamps(array, _) => *array,
            Cells::Other(array, _) => *array,
        }
    }

    /// Appends the field of `row` (nothing for NULL), using `text` as scratch.
    fn write(&mut self, row: usize, text: &mut String, out: &mut Vec<u8>) {
        if self.array().is_null(row) {
            return;
        }
        match self {
            Cells::Text(array) => write_field(array.value(row), true, out),
            Cells::Longs(array) => out.extend_from_slice(integer_text(array.value(row)).as_bytes()),
            Cells::Decimals(array, scale) => {
                let decimal = decimal_in_style(array.value(row), *scale, TextStyle::Csv);
                out.extend_from_slice(decimal.as_bytes());
            }
            Cells::Timestamps(array, last) => {
                let millis = array.value(row);
                let text = match last {
                    Some((written, text)) if *written == millis => text,
                    _ => {
                        let text = timestamp_text(millis, 3, TextStyle::Csv);
                        &last.insert((millis, text)).1
                    }
                };
                write_field(text.as_str(), true, out);
            }
            Cells::Other(array, ty) => {
                text.clear();
                write_value(*array, row, ty, TextStyle::Csv, text);
                write_field(text, ty.prints_as_text(), out);
            }
        }
    }
}

/// Jackson's CSV writer (Flink's) checks text up to this long (in UTF-16 units) for
/// characters that need quotes, and quotes longer text always.
const MAX_QUOTE_CHECK: usize = 24;

/// A field, quoted (with `"` doubled) when it is text holding a character below `-`, or text
/// longer than [`MAX_QUOTE_CHECK`].
fn write_field(text: &str, is_text: bool, out: &mut Vec<u8>) {
    if !is_text || !is_long(text) && !text.bytes().any(|b| b < b'-') {
        return out.extend_from_slice(text.as_bytes());
    }
    out.push(b'"');
    let mut pieces = text.split('"');
    if let Some(first) = pieces.next() {
        out.extend_from_slice(first.as_bytes());
    }
    for piece in pieces {
        out.extend_from_slice(b"\"\"");
        out.extend_from_slice(piece.as_bytes());
    }
    out.push(b'"');
}

/// Whether `text` is longer than [`MAX_QUOTE_CHECK`] UTF-16 units (one per ASCII byte, at
/// most one per three bytes of other text).
fn is_long(text: &str) -> bool {
    text.len() > MAX_QUOTE_CHECK
        && (text.len() > 3 * MAX_QUOTE_CHECK
            || text.is_ascii()
            || text.encode_utf16().count() > MAX_QUOTE_CHECK)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Vec<SqlField> {
        vec![
            SqlField::new("s", SqlType::Varchar(None)),
            SqlField::new("n", SqlType::Int),
            SqlField::new("d", SqlType::Double),
            SqlField::new("ts", SqlType::Timestamp(3)),
            SqlField::new("m", SqlType::Decimal(10, 2)),
        ]
    }

    #[test]
    fn round_trips_as_flink_writes_it() {
        // The input and output of a projection run on Flink 2.3.
        let input = [
            "a,1,1.5,2020-01-01 00:00:00.000,12.5",
            "\"b,x\",2,0.0001,2020-01-01 00:00:01.500,-3",
            "\"q\"\"t\",3,12345678.9,2020-01-01 00:00:02.123,0",
            ",4,1e-7,2020-01-01 00:00:03.100,1.25",
            " sp,5,100,2020-01-01 00:00:09.999,7",
        ];
        let batch = CsvDecoder::new("src", fields(), false)
            .decode(input.into_iter())
            .unwrap();
        let mut out = Vec::new();
        CsvEncoder::new(fields().into_iter().map(|f| f.ty).collect()).encode(&batch, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a,1,1.5,\"2020-01-01 00:00:00\",12.5\n\
             \"b,x\",2,1.0E-4,\"2020-01-01 00:00:01.5\",-3\n\
             \"q\"\"t\",3,1.23456789E7,\"2020-01-01 00:00:02.123\",0\n\
             ,4,1.0E-7,\"2020-01-01 00:00:03.1\",1.25\n\
             \" sp\",5,100.0,\"2020-01-01 00:00:09.999\",7\n"
        );
    }

    #[test]
    fn typed_columns_write_nulls_empty_and_repeated_times_alike() {
        let times = [
            Some(1_577_836_801_500),
            Some(1_577_836_801_500),
            None,
            Some(0),
        ];
        let decimals = Decimal128Array::from(vec![Some(1250), Some(-5), None, Some(0)]);
        let batch = RecordBatch::try_from_iter([
            (
                "id",
                Arc::new(Int64Array::from(vec![
                    Some(-7),
                    None,
                    Some(i64::MAX),
                    Some(0),
                ])) as ArrayRef,
            ),
            (
                "price",
                Arc::new(decimals.with_precision_and_scale(10, 2).unwrap()),
            ),
            (
                "ts",
                Arc::new(TimestampMillisecondArray::from(times.to_vec())),
            ),
        ])
        .unwrap();
        let types = vec![
            SqlType::BigInt,
            SqlType::Decimal(10, 2),
            SqlType::Timestamp(3),
        ];
        let mut out = Vec::new();
        CsvEncoder::new(types).encode(&batch, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "-7,12.5,\"2020-01-01 00:00:01.5\"\n\
             ,-0.05,\"2020-01-01 00:00:01.5\"\n\
             9223372036854775807,,\n\
             0,0,\"1970-01-01 00:00:00\"\n"
        );
    }

    #[test]
    fn malformed_rows_fail_with_the_row_or_are_skipped() {
        let lines = [
            "a,x,1.0,2020-01-01 00:00:00,1",
            "b,2,1.0,2020-01-01 00:00:00,1",
        ];
        let error = CsvDecoder::new("src", fields(), false)
            .decode(lines.into_iter())
            .unwrap_err();
        assert!(
            error
                .message
                .contains("'x' is not a valid INT for column 'n'"),
            "{error}"
        );
        assert!(error.message.contains("table 'src'"), "{error}");
        let batch = CsvDecoder::new("src", fields(), true)
            .decode(lines.into_iter())
            .unwrap();
        assert_eq!(batch.num_rows(), 1);
        let error = CsvDecoder::new("src", fields(), false)
            .decode(["a,1"].into_iter())
            .unwrap_err();
        assert!(
            error.message.contains("has 2 fields, the table 5 columns"),
            "{error}"
        );
    }

    #[test]
    fn arrays_and_rows_are_read_from_their_parts_or_name_the_bad_field() {
        let field = |name: &str, ty: &str| SqlField::new(name, SqlType::from_text(ty).unwrap());
        let fields = vec![
            field("nums", "ARRAY<BIGINT>"),
            field("r", "ROW<a INT, b STRING>"),
        ];
        let decoder = CsvDecoder::new("t", fields.clone(), false);
        let batch = decoder
            .decode(["1;2,7;x", ",", "3,4;;extra"].into_iter())
            .unwrap();
        let encoded = {
            let mut out = Vec::new();
            CsvEncoder::new(fields.iter().map(|f| f.ty.clone()).collect()).encode(&batch, &mut out);
            String::from_utf8(out).unwrap()
        };
        // An empty field: an empty array and a NULL row; extra parts of a row are dropped.
        assert_eq!(encoded, "1;2,7;x\n,\n3,4;\n");
        for (line, bad) in [("1;x,7;q", "'1;x'"), ("1,7", "'7'"), ("1,x;q", "'x;q'")] {
            let error = decoder.decode([line].into_iter()).unwrap_err();
            assert!(error.message.contains(bad), "{line}: {error}");
        }
    }

    #[test]
    fn splits_fields_as_csv_quotes_them() {
        let mut fields = Fields::default();
        let split = |fields: &mut Fields, line: &str| -> Vec<String> {
            fields.split(line).unwrap();
            fields.iter(line).map(str::to_owned).collect()
        };
        assert_eq!(
            split(&mut fields, "a,\"b,\"\"c\"\"\",,d"),
            ["a", "b,\"c\"", "", "d"]
        );
        assert_eq!(split(&mut fields, "a,é,,d"), ["a", "é", "", "d"]);
        assert_eq!(split(&mut fields, ",x,"), ["", "x", ""]);
        assert_eq!(split(&mut fields, ""), [""]);
        assert!(fields.split("\"open").is_err());
        assert!(fields.split("\"a\"b,c").is_err());
    }

    #[test]
    fn text_is_quoted_as_jackson_quotes_it() {
        let quoted = |text: &str| {
            let mut out = Vec::new();
            write_field(text, true, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(quoted("channel-9656"), "channel-9656");
        assert_eq!(quoted("a b"), "\"a b\"");
        assert_eq!(quoted("say \"hi\""), "\"say \"\"hi\"\"\"");
        // Longer than 24 characters: always quoted.
        assert_eq!(quoted(&"x".repeat(24)), "x".repeat(24));
        assert_eq!(quoted(&"x".repeat(25)), format!("\"{}\"", "x".repeat(25)));
        // Counted in UTF-16 units, as Java counts them.
        assert_eq!(quoted(&"é".repeat(24)), "é".repeat(24));
    }
}
