//! Flink's `debezium-json` format for writing a changelog: one JSON object per change —
//! `{"before":null,"after":{..},"op":"c"}` for an insert or the new side of an update,
//! `{"before":{..},"after":null,"op":"d"}` for a delete or the old side of an update — with
//! values as Flink's JSON writer prints them (numbers bare, decimals without trailing zeros,
//! timestamps as `yyyy-MM-dd HH:mm:ss[.fff]` strings).

use arrow_array::RecordBatch;

use crate::expr::format::{TextStyle, write_value};
use crate::operators::group_agg::{RowKind, row_kinds};
use crate::types::SqlType;

/// Writes changes as `debezium-json` lines.
#[derive(Debug, Clone)]
pub struct DebeziumJsonEncoder {
    names: Vec<String>,
    types: Vec<SqlType>,
}

impl DebeziumJsonEncoder {
    /// An encoder of rows with columns `names` of `types` (a last row-kind column, if the
    /// batches have one, is read for each row's kind).
    pub fn new(names: Vec<String>, types: Vec<SqlType>) -> Self {
        DebeziumJsonEncoder { names, types }
    }

    /// Appends one line per row of `batch` to `out`.
    pub fn encode(&self, batch: &RecordBatch, out: &mut Vec<u8>) {
        let kinds = row_kinds(batch);
        let mut row_text = String::new();
        let mut value = String::new();
        for row in 0..batch.num_rows() {
            row_text.clear();
            row_text.push('{');
            for (i, ((name, ty), column)) in self
                .names
                .iter()
                .zip(&self.types)
                .zip(batch.columns())
                .enumerate()
            {
                if i > 0 {
                    row_text.push(',');
                }
                push_json_string(&mut row_text, name);
                row_text.push(':');
                if column.is_null(row) {
                    row_text.push_str("null");
                    continue;
                }
                value.clear();
                write_value(column.as_ref(), row, ty, TextStyle::Csv, &mut value);
                if ty.prints_as_text() {
                    push_json_string(&mut row_text, &value);
                } else {
                    row_text.push_str(&value);
                }
            }
            row_text.push('}');
            let kind = kinds.map_or(RowKind::Insert, |k| RowKind::from_code(k.value(row)));
            let line = match kind {
                RowKind::Insert | RowKind::UpdateAfter => {
                    format!("{{\"before\":null,\"after\":{row_text},\"op\":\"c\"}}\n")
                }
                RowKind::UpdateBefore | RowKind::Delete => {
                    format!("{{\"before\":{row_text},\"after\":null,\"op\":\"d\"}}\n")
                }
            };
            out.extend_from_slice(line.as_bytes());
        }
    }
}

/// `text` as a JSON string literal.
fn push_json_string(out: &mut String, text: &str) {
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

    #[test]
    fn escapes_strings_as_json() {
        let mut out = String::new();
        push_json_string(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, "\"a\\\"b\\\\c\\nd\\u0001é\"");
    }
}
