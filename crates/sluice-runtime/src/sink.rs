//! The sink API: how users write records to external systems.
//!
//! A [`Sink`] is shared by all parallel subtasks and creates one [`SinkWriter`] per subtask.
//! `finish` is called when the input ends: it is where a writer makes its output complete and
//! visible. (Exactly-once sinks add a committer driven by checkpoints.)

use sluice_core::{Record, Timestamp, UserResult};

use crate::task::operator::OperatorContext;

/// A destination for a stream's records.
pub trait Sink<T>: Send + Sync + 'static {
    /// The writer of one subtask.
    type Writer: SinkWriter<T>;

    /// Creates the writer for the subtask described by `ctx`.
    fn create_writer(&self, ctx: &OperatorContext) -> UserResult<Self::Writer>;
}

/// Writes the records of one sink subtask.
pub trait SinkWriter<T>: Send + 'static {
    /// Writes one value.
    fn write(&mut self, value: T, timestamp: Option<Timestamp>) -> UserResult;

    /// Writes (and drains) a batch; override to write a batch at once.
    fn write_batch(&mut self, batch: &mut Vec<Record<T>>) -> UserResult {
        batch
            .drain(..)
            .try_for_each(|record| self.write(record.value, record.timestamp))
    }

    /// The input ended: make everything written durable and visible.
    fn finish(&mut self) -> UserResult {
        Ok(())
    }
}
