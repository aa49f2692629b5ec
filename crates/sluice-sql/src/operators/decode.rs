//! Turns the text lines of a file source into row batches of a table's physical columns.

use sluice_core::{Record, UserResult};
use sluice_runtime::task::operator::{OneInputOperator, StreamOperator};
use sluice_runtime::task::output::Output;

use crate::batch::RowBatch;
use crate::connectors::csv::CsvDecoder;

/// Decodes each arriving group of lines into one batch.
pub struct DecodeOperator {
    decoder: CsvDecoder,
}

impl DecodeOperator {
    /// An operator decoding with `decoder`.
    pub fn new(decoder: CsvDecoder) -> Self {
        DecodeOperator { decoder }
    }
}

impl StreamOperator<String, RowBatch> for DecodeOperator {}

impl OneInputOperator<String, RowBatch> for DecodeOperator {
    fn process_batch(
        &mut self,
        batch: &mut Vec<Record<String>>,
        out: &mut Output<RowBatch>,
    ) -> UserResult {
        let rows = self
            .decoder
            .decode(batch.iter().map(|r| r.value.as_str()))?;
        batch.clear();
        if rows.num_rows() > 0 {
            out.emit(RowBatch(rows), None);
        }
        Ok(())
    }
}
