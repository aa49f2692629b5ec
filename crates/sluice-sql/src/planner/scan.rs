//! Table scans: a source table becomes a stream of row batches holding its physical and
//! computed columns, with timestamps and watermarks from its `WATERMARK` clause.

use crate::expr::udf::Functions;
use sluice_api::prelude::*;
use sluice_api::sources::{FileLine, SequenceSource, TextFileSource};
use sluice_runtime::time::processing_time::{Clock, SystemClock};

use super::select::changelog_kind;
use super::{PlanContext, Planned, ReferencedNames, with_calc};
use crate::batch::RowBatch;
use crate::catalog::{ColumnKind, TableDef};
use crate::connectors::csv::CsvDecoder;
use crate::connectors::datagen::{DataGen, DataGenOperator};
use crate::connectors::debezium_json::DebeziumJsonDecoder;
use crate::connectors::file_metadata::FileMetadata;
use crate::connectors::json::JsonDecoder;
use crate::connectors::nexmark::NexmarkSource;
use crate::error::{SqlError, SqlResult};
use crate::expr::bind::{Scope, ScopeColumn, bind, cast_to};
use crate::operators::calc::Calc;
use crate::operators::decode::{DecodeOperator, LineDecoder};
use crate::operators::group_agg::ROW_KIND_COLUMN;
use crate::operators::watermarks::WatermarkAssigner;
use crate::types::{SqlField, SqlType};

/// Plans reading `table`.
pub fn scan(ctx: &PlanContext<'_>, table: &TableDef) -> SqlResult<Planned> {
    let connector = table.required_option("connector")?;
    let physical = table.physical_fields();
    let metadata = file_metadata(table)?;
    let rows = match connector {
        "filesystem" => filesystem_source(ctx, table, physical.clone(), &metadata)?,
        "datagen" => datagen_source(ctx, table, physical.clone())?,
        "nexmark" => nexmark_source(ctx, table, &physical)?,
        other => {
            return Err(SqlError::new(format!(
                "table '{}': unknown source connector '{other}' (supported: filesystem, datagen, nexmark)",
                table.name
            )));
        }
    };
    let mut scope = Scope::of_fields(&physical);
    if is_changelog(table) {
        scope
            .columns
            .push(ScopeColumn::new(ROW_KIND_COLUMN, SqlType::TinyInt, false));
    }
    for (field, _) in &metadata {
        scope
            .columns
            .push(ScopeColumn::new(&field.name, field.ty.clone(), false));
    }
    let mut stream = rows;
    if table.columns.iter().any(|c| c.kind != ColumnKind::Physical) {
        let reached = match &table.watermark {
            Some(watermark) => ctx
                .referenced
                .clone()
                .with_words_of(&format!("{} {}", watermark.column, watermark.expr)),
            None => ctx.referenced.clone(),
        };
        let (calc, computed) = computed_columns(table, &scope, &reached, &ctx.catalog.functions)?;
        scope = computed;
        stream = with_calc(stream, calc);
    }
    if let Some(watermark) = &table.watermark {
        let expr = bind(&watermark.expr, &scope, &ctx.catalog.functions)?;
        if !expr.ty.is_timestamp() {
            return Err(SqlError::new(format!(
                "the WATERMARK of table '{}' must be a timestamp expression, not {}",
                table.name, expr.ty
            )));
        }
        let rowtime = scope.resolve(&watermark.column)?;
        let names: Vec<String> = scope.columns.iter().map(|c| c.name.clone()).collect();
        let description = format!(
            "WatermarkAssigner(rowtime=[{}], watermark=[{}])",
            names[rowtime],
            expr.describe(&names)
        );
        stream = with_watermarks(stream, expr, rowtime).name(&description);
        scope.columns[rowtime].rowtime = true;
    }
    Ok(Planned::new(stream, scope))
}

/// `stream` with the watermarks of `expr` over its time attribute, column `rowtime`, and
/// each batch's highest time as its timestamp.
pub fn with_watermarks(
    stream: DataStream<RowBatch>,
    expr: crate::expr::Expr,
    rowtime: usize,
) -> DataStream<RowBatch> {
    let assigner = WatermarkAssigner::new(expr, rowtime);
    stream.transform("WatermarkAssigner", "WatermarkAssigner", move || {
        assigner.clone()
    })
}

/// The Calc appending a table's computed columns to its physical ones: those named in
/// `reached` (the others no query reads).
fn computed_columns(
    table: &TableDef,
    physical: &Scope,
    reached: &ReferencedNames,
    functions: &Functions,
) -> SqlResult<(Calc, Scope)> {
    let mut projections = Vec::new();
    let mut scope = Scope::default();
    for column in &table.columns {
        let expr = match &column.kind {
            ColumnKind::Physical => physical.column(physical.resolve(&column.field.name)?),
            ColumnKind::Computed(_) if !reached.includes(&column.field.name) => continue,
            ColumnKind::Computed(expr) => bind(expr, physical, functions)?,
            ColumnKind::Metadata { .. } => physical.column(physical.resolve(&column.field.name)?),
        };
        let expr = match &column.kind {
            ColumnKind::Physical => cast_to(expr, &column.field.ty),
            _ => expr,
        };
        scope.columns.push(ScopeColumn::new(
            &column.field.name,
            expr.ty.clone(),
            expr.nullable,
        ));
        projections.push(expr);
    }
    if let Some(kind) = changelog_kind(physical) {
        projections.push(physical.column(kind));
        scope.columns.push(physical.columns[kind].clone());
    }
    Ok((Calc::new(None, projections, physical, &scope), scope))
}

/// The metadata of each `METADATA` column of `table`: the file metadata of the `filesystem`
/// connector (no other connector offers any). A column is declared with its metadata's type.
fn file_metadata(table: &TableDef) -> SqlResult<Vec<(SqlField, FileMetadata)>> {
    let connector = table.options.get("connector").map(String::as_str);
    let mut metadata = Vec::new();
    for column in &table.columns {
        let ColumnKind::Metadata { key, .. } = &column.kind else {
            continue;
        };
        if connector != Some("filesystem") {
            return Err(SqlError::new(format!(
                "table '{}': the metadata column '{}' (key '{key}') is not supported by its connector",
                table.name, column.field.name
            )));
        }
        let key = FileMetadata::from_key(key, &column.field.name, &table.name)?;
        if column.field.ty.arrow_type() != key.ty().arrow_type() {
            return Err(SqlError::new(format!(
                "table '{}': the metadata column '{}' is declared {}, but '{}' is {}",
                table.name,
                column.field.name,
                column.field.ty,
                key.key(),
                key.ty()
            )));
        }
        metadata.push((column.field.clone(), key));
    }
    Ok(metadata)
}

/// Whether `table` is read as a changelog (its format is `debezium-json`).
fn is_changelog(table: &TableDef) -> bool {
    table.options.get("connector").map(String::as_str) == Some("filesystem")
        && table.options.get("format").map(String::as_str) == Some("debezium-json")
}

/// How plans show reading `table`: `TableSourceScan(table=[[bids]], fields=[..])`.
fn scan_name(table: &TableDef) -> String {
    let fields: Vec<String> = table
        .physical_fields()
        .into_iter()
        .map(|f| f.name)
        .collect();
    format!(
        "TableSourceScan(table=[[{}]], fields=[{}])",
        table.name,
        fields.join(", ")
    )
}

/// The `filesystem` connector's source: a file or a directory of files in the table's format
/// (`csv`, `json`, or the changelog format `debezium-json`, whose batches end with a row-kind
/// column).
fn filesystem_source(
    ctx: &PlanContext<'_>,
    table: &TableDef,
    physical: Vec<SqlField>,
    metadata: &[(SqlField, FileMetadata)],
) -> SqlResult<DataStream<RowBatch>> {
    let path = crate::connectors::local_path(table.required_option("path")?);
    // Text is not splittable in Flink: each file is read in order by one reader, so event
    // time advances through it as it does there.
    let source = TextFileSource::new(path.into()).with_whole_files();
    let lines = if metadata.is_empty() {
        Lines::Text(ctx.env.from_source(source, path))
    } else {
        let keys = metadata.iter().map(|(_, key)| *key).collect();
        Lines::WithFile(ctx.env.from_source(source, path), keys)
    };
    let name = scan_name(table);
    let options = &table.options;
    Ok(match table.required_option("format")? {
        "csv" => {
            // Flink's CSV reads a row or an array of values separated by ';', not a map
            // and nothing nested deeper.
            let readable = |ty: &SqlType| match ty {
                SqlType::Array(element) => !element.is_nested(),
                SqlType::Row(fields) => fields.iter().all(|f| !f.ty.is_nested()),
                SqlType::Map(..) => false,
                _ => true,
            };
            if let Some(nested) = physical.iter().find(|f| !readable(&f.ty)) {
                return Err(SqlError::new(format!(
                    "table '{}': the csv format cannot read the {} column '{}'",
                    table.name, nested.ty, nested.name
                )));
            }
            let ignore_errors = options
                .get("csv.ignore-parse-errors")
                .is_some_and(|v| v == "true");
            let null_literal = options.get("csv.null-literal").cloned();
            let decoder = CsvDecoder::new(&table.name, physical, ignore_errors)
                .with_null_literal(null_literal);
            decoded(lines, &name, decoder)
        }
        "json" => decoded(
            lines,
            &name,
            JsonDecoder::new(&table.name, physical, options, "json")?,
        ),
        "debezium-json" => decoded(
            lines,
            &name,
            DebeziumJsonDecoder::new(&table.name, physical, options)?,
        ),
        format => {
            return Err(SqlError::new(format!(
                "table '{}': unsupported format '{format}' for reading (supported: csv, json, debezium-json)",
                table.name
            )));
        }
    })
}

/// The lines of a filesystem table's files: text, or lines that name their file when the table
/// reads file metadata.
enum Lines {
    Text(DataStream<String>),
    WithFile(DataStream<FileLine>, Vec<FileMetadata>),
}

/// `lines` decoded by `decoder`.
fn decoded<D: LineDecoder>(lines: Lines, name: &str, decoder: D) -> DataStream<RowBatch> {
    match lines {
        Lines::Text(lines) => {
            lines.transform(name, "Decode", move || DecodeOperator::new(decoder.clone()))
        }
        Lines::WithFile(lines, keys) => lines.transform(name, "Decode", move || {
            DecodeOperator::with_metadata(decoder.clone(), keys.clone())
        }),
    }
}

/// The `datagen` connector's source: row numbers striped over the subtasks (as Flink's sequence
/// generator stripes them, so all go through event time together), turned into rows.
fn datagen_source(
    ctx: &PlanContext<'_>,
    table: &TableDef,
    physical: Vec<SqlField>,
) -> SqlResult<DataStream<RowBatch>> {
    let generator = DataGen::new(&table.name, physical, &table.options)?;
    let last = generator.rows.map_or(i64::MAX, |rows| rows as i64 - 1);
    // `rows-per-second`: the row numbers come as they are due.
    let mut numbers = SequenceSource::striped(0, last);
    if let Some(rate) = generator.rows_per_second {
        numbers = numbers.with_rows_per_second(rate);
    }
    Ok(ctx.env.from_source(numbers, "Sequence Source").transform(
        &scan_name(table),
        "DataGen",
        move || DataGenOperator::new(generator.clone()),
    ))
}

/// The `nexmark` connector's source: the benchmark's events, striped over the subtasks.
fn nexmark_source(
    ctx: &PlanContext<'_>,
    table: &TableDef,
    physical: &[SqlField],
) -> SqlResult<DataStream<RowBatch>> {
    let now = SystemClock.now();
    let source = NexmarkSource::new(&table.name, physical, &table.options, now)?;
    Ok(ctx.env.from_source(source, &scan_name(table)))
}
