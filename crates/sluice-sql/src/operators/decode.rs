//! Turns the text lines of a file source into row batches of a table's physical columns, in
//! the table's format.

use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchOptions};
use arrow_schema::{Field, FieldRef, Schema};
use sluice_api::sources::FileLine;
use sluice_core::{Record, UserResult};
use sluice_runtime::task::operator::{OneInputOperator, StreamOperator};
use sluice_runtime::task::output::Output;

use crate::batch::RowBatch;
use crate::connectors::csv::CsvDecoder;
use crate::connectors::debezium_json::DebeziumJsonDecoder;
use crate::connectors::file_metadata::FileMetadata;
use crate::connectors::json::JsonDecoder;
use crate::error::SqlResult;

/// A text format's reader: lines to a batch of rows.
pub trait LineDecoder: Clone + Send + Sync + 'static {
    /// The batch of the rows of `lines`.
    fn decode_texts<'a>(
        &self,
        lines: impl Iterator<Item = &'a str> + Clone,
    ) -> SqlResult<RecordBatch>;
}

impl LineDecoder for CsvDecoder {
    fn decode_texts<'a>(
        &self,
        lines: impl Iterator<Item = &'a str> + Clone,
    ) -> SqlResult<RecordBatch> {
        self.decode(lines)
    }
}

impl LineDecoder for JsonDecoder {
    fn decode_texts<'a>(
        &self,
        lines: impl Iterator<Item = &'a str> + Clone,
    ) -> SqlResult<RecordBatch> {
        self.decode(lines)
    }
}

impl LineDecoder for DebeziumJsonDecoder {
    fn decode_texts<'a>(
        &self,
        lines: impl Iterator<Item = &'a str> + Clone,
    ) -> SqlResult<RecordBatch> {
        self.decode(lines)
    }
}

/// Decodes each arriving group of lines into one batch; lines that name their file get the
/// file's metadata appended as columns, in the order of `metadata`.
pub struct DecodeOperator<D> {
    decoder: D,
    /// Each metadata key with the field of its column.
    metadata: Vec<(FileMetadata, FieldRef)>,
}

impl<D> DecodeOperator<D> {
    /// An operator decoding with `decoder`.
    pub fn new(decoder: D) -> Self {
        DecodeOperator {
            decoder,
            metadata: Vec::new(),
        }
    }

    /// An operator decoding lines with `decoder` and appending the `metadata` of their files.
    /// The columns are named `$metadata0`, `$metadata1`, ...: the planner reads them by position.
    pub fn with_metadata(decoder: D, metadata: Vec<FileMetadata>) -> Self {
        let metadata = metadata
            .into_iter()
            .enumerate()
            .map(|(at, key)| {
                let field = Field::new(format!("$metadata{at}"), key.ty().arrow_type(), false);
                (key, Arc::new(field))
            })
            .collect();
        DecodeOperator { decoder, metadata }
    }
}

impl<D: LineDecoder> StreamOperator<String, RowBatch> for DecodeOperator<D> {}

impl<D: LineDecoder> OneInputOperator<String, RowBatch> for DecodeOperator<D> {
    fn process_batch(
        &mut self,
        batch: &mut Vec<Record<String>>,
        out: &mut Output<RowBatch>,
    ) -> UserResult {
        let rows = self
            .decoder
            .decode_texts(batch.iter().map(|r| r.value.as_str()))?;
        batch.clear();
        emit(rows, out);
        Ok(())
    }
}

impl<D: LineDecoder> StreamOperator<FileLine, RowBatch> for DecodeOperator<D> {}

impl<D: LineDecoder> OneInputOperator<FileLine, RowBatch> for DecodeOperator<D> {
    /// Decodes each run of lines from one file on its own, so a file's metadata goes with
    /// exactly the rows its lines gave (a format may skip a line).
    fn process_batch(
        &mut self,
        batch: &mut Vec<Record<FileLine>>,
        out: &mut Output<RowBatch>,
    ) -> UserResult {
        for run in batch.chunk_by(|a, b| Arc::ptr_eq(&a.value.file, &b.value.file)) {
            let rows = self
                .decoder
                .decode_texts(run.iter().map(|r| r.value.line.as_str()))?;
            let file = &run[0].value.file;
            let mut fields: Vec<FieldRef> = rows.schema().fields().iter().cloned().collect();
            let mut columns = rows.columns().to_vec();
            for (key, field) in &self.metadata {
                fields.push(Arc::clone(field));
                columns.push(key.column(file, rows.num_rows()));
            }
            let schema = Arc::new(Schema::new(fields));
            let options = RecordBatchOptions::new().with_row_count(Some(rows.num_rows()));
            let rows = RecordBatch::try_new_with_options(schema, columns, &options)
                .map_err(|e| format!("cannot add the metadata of {}: {e}", file.path.display()))?;
            emit(rows, out);
        }
        batch.clear();
        Ok(())
    }
}

fn emit(rows: RecordBatch, out: &mut Output<RowBatch>) {
    if rows.num_rows() > 0 {
        out.emit(RowBatch(rows), None);
    }
}
