//! The last link of a chain whose records go to other tasks: the exchange's record writer, as
//! a chain sees it.

use sluice_core::{Barrier, Record, StreamElement, Watermark};

use super::chain::{ChainLink, ChainSnapshot, LinkResult};
use crate::exchange::record_writer::RecordWriter;
use crate::time::processing_time::ProcessingTime;

impl<T: Clone + Send + 'static> ChainLink<T> for RecordWriter<T> {
    fn open(&mut self) -> LinkResult {
        Ok(())
    }

    fn on_batch(&mut self, batch: &mut Vec<Record<T>>) -> LinkResult {
        self.write(batch)
    }

    fn on_watermark(&mut self, watermark: Watermark) -> LinkResult {
        self.broadcast(StreamElement::Watermark(watermark))
    }

    fn on_status(&mut self, active: bool) -> LinkResult {
        self.broadcast(StreamElement::Status { active })
    }

    fn on_end_of_input(&mut self) -> LinkResult {
        self.broadcast(StreamElement::EndOfInput)
    }

    /// Sends the buffered records, then the barrier on every channel (it has no state).
    fn on_barrier(&mut self, barrier: Barrier, _into: &mut ChainSnapshot) -> LinkResult {
        self.send_barrier(barrier)
    }

    fn on_processing_time(&mut self, _now: ProcessingTime) -> LinkResult {
        Ok(())
    }

    fn flush(&mut self) -> LinkResult {
        RecordWriter::flush(self)
    }

    fn close(&mut self) -> LinkResult {
        RecordWriter::flush(self)
    }
}
