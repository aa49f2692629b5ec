//! Flink's `debezium-json` changelog format: one JSON object per change. Written as
//! `{"before":null,"after":{..},"op":"c"}` for an insert or the new side of an update and
//! `{"before":{..},"after":null,"op":"d"}` for a delete or the old side of an update, the
//! rows as the `json` format writes them. Read: `c` (create) and `r` (snapshot read) insert
//! `after`, `u` retracts `before` (`-U`) and inserts `after` (`+U`), `d` deletes `before`; with
//! `debezium-json.schema-include` the change is the `payload` of each object.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{ArrayRef, Int8Array, RecordBatch};
use arrow_schema::SchemaRef;
use serde_json::{Map, Value};

use super::json::{JsonDecoder, JsonEncoder, parse_object};
use super::text_values::ColumnBuilder;
use crate::error::SqlResult;
use crate::operators::group_agg::{ROW_KIND_COLUMN, RowKind, row_kinds};
use crate::types::{SqlField, SqlType, arrow_schema};

/// Writes changes as `debezium-json` lines.
#[derive(Debug, Clone)]
pub struct DebeziumJsonEncoder {
    rows: JsonEncoder,
}

impl DebeziumJsonEncoder {
    /// An encoder of rows with columns `names` of `types` (a last row-kind column, if the
    /// batches have one, is read for each row's kind).
    pub fn new(names: Vec<String>, types: Vec<SqlType>) -> Self {
        DebeziumJsonEncoder {
            rows: JsonEncoder::new(names, types),
        }
    }

    /// Appends one line per row of `batch` to `out`.
    pub fn encode(&self, batch: &RecordBatch, out: &mut Vec<u8>) {
        let kinds = row_kinds(batch);
        let mut row_text = String::new();
        for row in 0..batch.num_rows() {
            row_text.clear();
            self.rows.write_object(batch.columns(), row, &mut row_text);
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

/// Reads `debezium-json` lines as a changelog: the table's columns and a last row-kind column.
#[derive(Debug, Clone)]
pub struct DebeziumJsonDecoder {
    rows: JsonDecoder,
    schema_include: bool,
    schema: SchemaRef,
}

impl DebeziumJsonDecoder {
    /// A decoder of changes to rows of `fields` for `table`, with the format's options
    /// (`debezium-json.schema-include`, `.ignore-parse-errors`).
    pub fn new(
        table: &str,
        fields: Vec<SqlField>,
        options: &BTreeMap<String, String>,
    ) -> SqlResult<Self> {
        let mut with_kind = fields.clone();
        with_kind.push(SqlField {
            nullable: false,
            ..SqlField::new(ROW_KIND_COLUMN, SqlType::TinyInt)
        });
        let schema_include = options
            .get("debezium-json.schema-include")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        Ok(DebeziumJsonDecoder {
            rows: JsonDecoder::new(table, fields, options, "debezium-json")?,
            schema_include,
            schema: arrow_schema(&with_kind),
        })
    }

    /// The batch of the changes of `lines`.
    pub fn decode<'a>(&self, lines: impl Iterator<Item = &'a str>) -> SqlResult<RecordBatch> {
        let mut builders = self.rows.builders();
        let mut kinds: Vec<i8> = Vec::new();
        for line in lines.filter(|l| !l.trim().is_empty()) {
            let appended = self.append(line, &mut builders, &mut kinds);
            match appended {
                Ok(()) => {}
                Err(_) if self.rows.ignores_parse_errors() => {}
                Err(problem) => return Err(self.rows.error(&problem)),
            }
        }
        let kinds: ArrayRef = Arc::new(Int8Array::from(kinds));
        self.rows
            .finish(&mut builders, vec![kinds], Some(&self.schema))
    }

    /// Appends the rows of the change `line` and their kinds.
    fn append(
        &self,
        line: &str,
        builders: &mut [ColumnBuilder],
        kinds: &mut Vec<i8>,
    ) -> Result<(), String> {
        let mut change = parse_object(line)?;
        if self.schema_include {
            change = match change.remove("payload") {
                Some(Value::Object(payload)) => payload,
                _ => return Err(format!("no 'payload' object in '{line}' (schema-include)")),
            };
        }
        let side = |name: &str| -> Result<Option<&Map<String, Value>>, String> {
            match change.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Object(row)) => Ok(Some(row)),
                Some(other) => Err(format!("'{name}' is not an object: {other}")),
            }
        };
        let (before, after) = (side("before")?, side("after")?);
        let op = change.get("op").and_then(Value::as_str).unwrap_or_default();
        let required = |row, name: &str| required_side(row, name, op, line);
        let rows: Vec<(&Map<String, Value>, RowKind)> = match op {
            "c" | "r" => vec![(required(after, "after")?, RowKind::Insert)],
            "u" => vec![
                (required(before, "before")?, RowKind::UpdateBefore),
                (required(after, "after")?, RowKind::UpdateAfter),
            ],
            "d" => vec![(required(before, "before")?, RowKind::Delete)],
            other => return Err(format!("unknown op '{other}' in '{line}'")),
        };
        for (row, kind) in rows {
            self.rows
                .append(row, builders)
                .map_err(|problem| format!("{problem} in '{line}'"))?;
            kinds.push(kind as i8);
        }
        Ok(())
    }
}

/// The `before` or `after` row `name` a change with `op` needs.
fn required_side<'a>(
    row: Option<&'a Map<String, Value>>,
    name: &str,
    op: &str,
    line: &str,
) -> Result<&'a Map<String, Value>, String> {
    row.ok_or_else(|| format!("the '{name}' of a change with op '{op}' is null in '{line}'"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::options;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;

    #[test]
    fn reads_each_change_as_rows_with_their_kinds() {
        let fields = vec![
            SqlField::new("id", SqlType::BigInt),
            SqlField::new("n", SqlType::BigInt),
        ];
        let decoder = DebeziumJsonDecoder::new("t", fields, &options(&[])).unwrap();
        let lines = [
            r#"{"before":null,"after":{"id":1,"n":5},"op":"c"}"#,
            r#"{"before":{"id":1,"n":5},"after":{"id":1,"n":6},"op":"u"}"#,
            r#"{"before":{"id":1,"n":6},"after":null,"op":"d"}"#,
            r#"{"before":null,"after":{"id":2,"n":1},"op":"r"}"#,
        ];
        let batch = decoder.decode(lines.into_iter()).unwrap();
        let kinds: Vec<&str> = (0..batch.num_rows())
            .map(|r| RowKind::from_code(row_kinds(&batch).unwrap().value(r)).short())
            .collect();
        assert_eq!(kinds, ["+I", "-U", "+U", "-D", "+I"]);
        let n = batch.column(1).as_primitive::<Int64Type>();
        assert_eq!(n.values().to_vec(), [5, 5, 6, 6, 1]);
        let error = decoder
            .decode([r#"{"before":null,"after":null,"op":"d"}"#].into_iter())
            .unwrap_err();
        assert!(
            error.message.contains("'before' of a change with op 'd'"),
            "{error}"
        );
        let error = decoder.decode([r#"{"op":"x"}"#].into_iter()).unwrap_err();
        assert!(error.message.contains("unknown op 'x'"), "{error}");
    }

    #[test]
    fn writes_changes_as_flink_does() {
        let fields = vec![SqlField::new("id", SqlType::BigInt)];
        let decoder = DebeziumJsonDecoder::new("t", fields, &options(&[])).unwrap();
        let line = r#"{"before":{"id":1},"after":{"id":2},"op":"u"}"#;
        let batch = decoder.decode([line].into_iter()).unwrap();
        let mut out = Vec::new();
        DebeziumJsonEncoder::new(vec!["id".into()], vec![SqlType::BigInt]).encode(&batch, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"before\":{\"id\":1},\"after\":null,\"op\":\"d\"}\n{\"before\":null,\"after\":{\"id\":2},\"op\":\"c\"}\n"
        );
    }
}
