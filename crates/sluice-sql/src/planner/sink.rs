//! Sinks of `INSERT INTO`: the query's columns are checked against (and cast to) the sink
//! table's physical columns, then written by the table's connector — `filesystem` (part files
//! committed exactly once, by checkpoints or at the end), `print` (Flink's `+I[..]` lines) or
//! `blackhole`.

use sluice_api::prelude::*;
use sluice_api::sinks::{DiscardingSink, ExactlyOnceFileSink, RecordEncoder};
use sluice_core::Record;

use std::sync::Arc;

use super::aggregate::keyed_exchange;
use super::{Planned, cast_columns};
use crate::batch::RowBatch;
use crate::catalog::{ColumnKind, TableDef};
use crate::connectors::csv::CsvEncoder;
use crate::connectors::debezium_json::DebeziumJsonEncoder;
use crate::connectors::json::JsonEncoder;
use crate::connectors::local_path;
use crate::connectors::partitioned_files::{PartitionCommit, PartitionedFileSink, Partitioning};
use crate::error::{SqlError, SqlResult};
use crate::expr::bind::Scope;
use crate::expr::format::{TextStyle, write_value};
use crate::operators::calc::Calc;
use crate::operators::group_agg::{ROW_KIND_COLUMN, RowKind, row_kinds};
use crate::operators::key_split::{KeyRouting, RoutedBatch};
use crate::types::SqlType;

/// Writes `planned` into the sink table `table` (of a job built on `env`).
pub fn insert_into(
    env: &StreamExecutionEnvironment,
    table: &TableDef,
    planned: Planned,
) -> SqlResult<()> {
    if let Some(column) = table.columns.iter().find(|c| {
        matches!(
            c.kind,
            ColumnKind::Metadata {
                is_virtual: false,
                ..
            }
        )
    }) {
        return Err(SqlError::new(format!(
            "table '{}' declares the persistable metadata column '{}', but its connector writes no metadata; declare it VIRTUAL if it should not be written",
            table.name, column.field.name
        )));
    }
    let fields = table.physical_fields();
    let updating = planned
        .scope
        .columns
        .last()
        .is_some_and(|c| c.name == ROW_KIND_COLUMN);
    let width = planned.scope.columns.len() - usize::from(updating);
    let mismatch = |cause: String| {
        SqlError::new(format!(
            "Column types of query result and sink for '{}' do not match. Cause: {cause}",
            table.name
        ))
    };
    if fields.len() != width {
        return Err(mismatch(format!(
            "Different number of columns: the query has {width}, the sink {}.",
            fields.len()
        )));
    }
    for (index, (field, column)) in fields.iter().zip(&planned.scope.columns).enumerate() {
        if !assignable(&column.ty, &field.ty) {
            return Err(mismatch(format!(
                "Incompatible types for sink column '{}' at position {index}: the query gives {}, the sink takes {}.",
                field.name, column.ty, field.ty
            )));
        }
    }
    // The sink's columns (and the row kind of an updating query, carried on).
    let mut target = Scope::of_fields(&fields);
    target
        .columns
        .extend(planned.scope.columns[width..].iter().cloned());
    let stream = cast_columns(planned, &target);
    let names: Vec<String> = fields.iter().map(|f| f.name.clone()).collect();
    let types: Vec<SqlType> = fields.into_iter().map(|f| f.ty).collect();
    let name = format!(
        "Sink(table=[{}], fields=[{}])",
        table.name,
        names.join(", ")
    );
    match table.required_option("connector")? {
        "filesystem" => filesystem_sink(env, table, stream, &target, width, &name)?,
        "blackhole" => {
            stream.sink_to(DiscardingSink).name(&name);
        }
        "print" => {
            if let Some(option) = table.options.keys().find(|k| *k != "connector") {
                return Err(SqlError::new(format!(
                    "table '{}': the print connector's option '{option}' is not supported yet",
                    table.name
                )));
            }
            stream
                .flat_map(move |batch: RowBatch, out: &mut Collector<'_, String>| {
                    print_rows(&batch, &types, out)
                })
                .name(&name)
                .print()
                .name(&name);
        }
        other => {
            return Err(SqlError::new(format!(
                "table '{}': unknown sink connector '{other}' (supported: filesystem, print, blackhole)",
                table.name
            )));
        }
    }
    Ok(())
}

/// The `filesystem` connector's sink: part files in the table's format under its path (in a
/// directory per partition of a `PARTITIONED BY` table), committed exactly once. `target`:
/// the sink's `width` columns, then the row kind of an updating query.
fn filesystem_sink(
    env: &StreamExecutionEnvironment,
    table: &TableDef,
    stream: DataStream<RowBatch>,
    target: &Scope,
    width: usize,
    name: &str,
) -> SqlResult<()> {
    let path = local_path(table.required_option("path")?);
    let format = table.required_option("format")?;
    let updating = target.columns.len() > width;
    if updating && format != "debezium-json" {
        return Err(SqlError::new(format!(
            "Table sink '{}' doesn't support consuming update changes which is produced by node GroupAggregate: the {format} format writes inserts only (use 'format' = 'debezium-json')",
            table.name
        )));
    }
    let keys: Vec<usize> = table
        .partition_keys
        .iter()
        .map(|key| target.resolve(key))
        .collect::<SqlResult<_>>()?;
    // The files hold the other columns (and the row kinds, read by the encoder).
    let data: Vec<usize> = (0..target.columns.len())
        .filter(|i| !keys.contains(i))
        .collect();
    let names: Vec<String> = data
        .iter()
        .filter(|&&i| i < width)
        .map(|&i| target.columns[i].name.clone())
        .collect();
    let types: Vec<SqlType> = data
        .iter()
        .filter(|&&i| i < width)
        .map(|&i| target.columns[i].ty.clone())
        .collect();
    let encoder = match format {
        "csv" => BatchEncoder::Csv(CsvEncoder::new(types)),
        "json" => BatchEncoder::Json(JsonEncoder::new(names, types)),
        "debezium-json" => BatchEncoder::DebeziumJson(DebeziumJsonEncoder::new(names, types)),
        format => {
            return Err(SqlError::new(format!(
                "table '{}': unsupported format '{format}' for writing (supported: csv, json, debezium-json)",
                table.name
            )));
        }
    };
    if keys.is_empty() {
        stream
            .sink_to_committing(ExactlyOnceFileSink::new(path, encoder))
            .name(name);
        return Ok(());
    }
    let commit = PartitionCommit::from_options(&table.name, &table.options, &table.partition_keys)?;
    let schema = target.arrow_schema();
    let partitioning = Partitioning {
        keys: keys
            .iter()
            .map(|&k| {
                (
                    k,
                    target.columns[k].name.clone(),
                    target.columns[k].ty.clone(),
                )
            })
            .collect(),
        data_schema: Arc::new(schema.project(&data)?),
        data,
    };
    // A committed partition gets its success file from the one subtask that writes it.
    let stream = match &commit {
        Some(_) => by_partition(env, stream, target, &partitioning),
        None => stream,
    };
    stream
        .sink_to_committing(PartitionedFileSink::new(
            path,
            encoder,
            partitioning,
            commit,
        ))
        .name(name);
    Ok(())
}

/// `stream`'s rows sent to one subtask per partition.
fn by_partition(
    env: &StreamExecutionEnvironment,
    stream: DataStream<RowBatch>,
    scope: &Scope,
    partitioning: &Partitioning,
) -> DataStream<RowBatch> {
    let parallelism = env.parallelism();
    let routing = KeyRouting {
        keys: partitioning
            .keys
            .iter()
            .map(|(k, _, ty)| (*k, ty.clone()))
            .collect(),
        parallelism,
        max_parallelism: sluice_core::key_group::default_max_parallelism(parallelism),
    };
    let all = (0..scope.columns.len()).map(|i| scope.column(i)).collect();
    let identity = Calc::new(None, all, scope, scope);
    // Row batches are large records: a few per buffer bound what waits in the exchange.
    keyed_exchange(stream, identity, routing)
        .map(|routed: RoutedBatch| routed.batch)
        .set_input_buffer_size(super::aggregate::ROW_BATCHES_PER_BUFFER)
}

/// Each row of `batch` as Flink's print connector shows it: `+I[a, 1, 2024-01-01T00:00]`.
fn print_rows(batch: &RowBatch, types: &[SqlType], out: &mut Collector<'_, String>) {
    let mut line = String::new();
    for row in 0..batch.0.num_rows() {
        line.clear();
        let kind =
            row_kinds(&batch.0).map_or(RowKind::Insert, |k| RowKind::from_code(k.value(row)));
        line.push_str(kind.short());
        line.push('[');
        for (i, (column, ty)) in batch.0.columns().iter().zip(types).enumerate() {
            if i > 0 {
                line.push_str(", ");
            }
            if column.is_null(row) {
                line.push_str("null");
            } else {
                write_value(column.as_ref(), row, ty, TextStyle::Row, &mut line);
            }
        }
        line.push(']');
        out.collect(line.clone());
    }
}

/// Whether a query column of type `from` may be written into a sink column of type `to`
/// (Flink's implicit casts: within numbers, within strings, within timestamps).
fn assignable(from: &SqlType, to: &SqlType) -> bool {
    from == to
        || from.is_numeric() && to.is_numeric()
        || from.is_string() && to.is_string()
        || from.is_timestamp() && to.is_timestamp()
}

/// Writes batches as lines of a file format.
#[derive(Debug, Clone)]
enum BatchEncoder {
    /// Flink's CSV (inserts only).
    Csv(CsvEncoder),
    /// Flink's json (inserts only).
    Json(JsonEncoder),
    /// Flink's debezium-json (a changelog).
    DebeziumJson(DebeziumJsonEncoder),
}

impl RecordEncoder<RowBatch> for BatchEncoder {
    fn encode_batch(&self, batch: &mut Vec<Record<RowBatch>>, out: &mut Vec<u8>) -> UserResult {
        for record in batch.drain(..) {
            match self {
                BatchEncoder::Csv(csv) => csv.encode(&record.value.0, out),
                BatchEncoder::Json(json) => json.encode(&record.value.0, out),
                BatchEncoder::DebeziumJson(json) => json.encode(&record.value.0, out),
            }
        }
        Ok(())
    }
}
