//! Turns the text lines of a file source into row batches of a table's physical columns, in
//! the table's format.

use arrow_array::RecordBatch;
use sluice_core::{Record, UserResult};
use sluice_runtime::task::operator::{OneInputOperator, StreamOperator};
use sluice_runtime::task::output::Output;

use crate::batch::RowBatch;
use crate::connectors::csv::CsvDecoder;
use crate::connectors::debezium_json::DebeziumJsonDecoder;
use crate::connectors::json::JsonDecoder;
use crate::error::SqlResult;

/// A text format's reader: lines to a batch of rows.
pub trait LineDecoder: Clone + Send + Sync + 'static {
    /// The batch of the rows of `lines`.
    fn decode_lines(&self, lines: &[Record<String>]) -> SqlResult<RecordBatch>;
}

impl LineDecoder for CsvDecoder {
    fn decode_lines(&self, lines: &[Record<String>]) -> SqlResult<RecordBatch> {
        self.decode(lines.iter().map(|r| r.value.as_str()))
    }
}

impl LineDecoder for JsonDecoder {
    fn decode_lines(&self, lines: &[Record<String>]) -> SqlResult<RecordBatch> {
        self.decode(lines.iter().map(|r| r.value.as_str()))
    }
}

impl LineDecoder for DebeziumJsonDecoder {
    fn decode_lines(&self, lines: &[Record<String>]) -> SqlResult<RecordBatch> {
        self.decode(lines.iter().map(|r| r.value.as_str()))
    }
}

/// Decodes each arriving group of lines into one batch.
pub struct DecodeOperator<D> {
    decoder: D,
}

impl<D> DecodeOperator<D> {
    /// An operator decoding with `decoder`.
    pub fn new(decoder: D) -> Self {
        DecodeOperator { decoder }
    }
}

impl<D: LineDecoder> StreamOperator<String, RowBatch> for DecodeOperator<D> {}

impl<D: LineDecoder> OneInputOperator<String, RowBatch> for DecodeOperator<D> {
    fn process_batch(
        &mut self,
        batch: &mut Vec<Record<String>>,
        out: &mut Output<RowBatch>,
    ) -> UserResult {
        let rows = self.decoder.decode_lines(batch)?;
        batch.clear();
        if rows.num_rows() > 0 {
            out.emit(RowBatch(rows), None);
        }
        Ok(())
    }
}
