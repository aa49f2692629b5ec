//! Drops every record: for benchmarks and for streams kept only for their side effects.

use sluice_core::{Record, Timestamp, UserResult};
use sluice_runtime::sink::{Sink, SinkWriter};
use sluice_runtime::task::operator::OperatorContext;

/// Accepts and drops every record, as Flink's `DiscardingSink`.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiscardingSink;

impl<T: Send + 'static> Sink<T> for DiscardingSink {
    type Writer = DiscardingSink;

    fn create_writer(&self, _ctx: &OperatorContext) -> UserResult<DiscardingSink> {
        Ok(DiscardingSink)
    }
}

impl<T: Send + 'static> SinkWriter<T> for DiscardingSink {
    fn write(&mut self, _value: T, _timestamp: Option<Timestamp>) -> UserResult {
        Ok(())
    }

    fn write_batch(&mut self, batch: &mut Vec<Record<T>>) -> UserResult {
        batch.clear();
        Ok(())
    }
}
