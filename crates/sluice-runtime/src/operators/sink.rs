//! The operator that feeds records to a user [`Sink`]'s writer.

use std::sync::Arc;

use sluice_core::{Record, UserResult};

use crate::operator::{OneInputOperator, OperatorContext};
use crate::output::Output;
use crate::sink::{Sink, SinkWriter};

/// Writes every record through a sink writer created when the subtask opens.
pub struct SinkOperator<T, S: Sink<T>> {
    sink: Arc<S>,
    writer: Option<S::Writer>,
}

impl<T, S: Sink<T>> SinkOperator<T, S> {
    /// An operator writing to `sink`.
    pub fn new(sink: Arc<S>) -> Self {
        SinkOperator { sink, writer: None }
    }

    fn writer(&mut self) -> UserResult<&mut S::Writer> {
        self.writer
            .as_mut()
            .ok_or_else(|| "sink writer used before open".into())
    }
}

impl<T: Send, S: Sink<T>> OneInputOperator<T, ()> for SinkOperator<T, S> {
    fn open(&mut self, ctx: &OperatorContext) -> UserResult {
        self.writer = Some(self.sink.create_writer(ctx)?);
        Ok(())
    }

    fn process_batch(&mut self, batch: &mut Vec<Record<T>>, _out: &mut Output<()>) -> UserResult {
        self.writer()?.write_batch(batch)
    }

    fn end_input(&mut self, _out: &mut Output<()>) -> UserResult {
        self.writer()?.finish()
    }
}
