//! The operator that feeds records to a user [`Sink`]'s writer.

use std::sync::Arc;

use sluice_core::{Record, UserResult};

use crate::sink::{Sink, SinkWriter};
use crate::task::operator::{OneInputOperator, OperatorContext, StreamOperator};
use crate::task::output::Output;

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
    fn process_batch(&mut self, batch: &mut Vec<Record<T>>, _out: &mut Output<()>) -> UserResult {
        self.writer()?.write_batch(batch)
    }

    fn end_input(&mut self, _out: &mut Output<()>) -> UserResult {
        self.writer()?.finish()
    }
}

impl<T: Send, S: Sink<T>> StreamOperator<T, ()> for SinkOperator<T, S> {
    fn open(&mut self, ctx: &OperatorContext) -> UserResult {
        self.writer = Some(self.sink.create_writer(ctx)?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::harness::OneInputHarness;

    /// Records writes and finishes in shared vectors.
    #[derive(Default)]
    struct Recording {
        written: Mutex<Vec<i32>>,
        finished: Mutex<bool>,
    }

    struct RecordingWriter(Arc<Recording>);

    impl Sink<i32> for Arc<Recording> {
        type Writer = RecordingWriter;

        fn create_writer(&self, _ctx: &OperatorContext) -> UserResult<RecordingWriter> {
            Ok(RecordingWriter(Arc::clone(self)))
        }
    }

    impl SinkWriter<i32> for RecordingWriter {
        fn write(&mut self, value: i32, _timestamp: Option<sluice_core::Timestamp>) -> UserResult {
            self.0.written.lock().unwrap().push(value);
            Ok(())
        }

        fn finish(&mut self) -> UserResult {
            *self.0.finished.lock().unwrap() = true;
            Ok(())
        }
    }

    #[test]
    fn writes_every_record_and_finishes_at_end_of_input() {
        let recording = Arc::new(Arc::new(Recording::default()));
        let mut harness = OneInputHarness::new(SinkOperator::new(Arc::clone(&recording)));
        harness.process(Record::new(1));
        harness.process(Record::new(2));
        assert!(!*recording.finished.lock().unwrap());
        harness.end_input();
        assert_eq!(*recording.written.lock().unwrap(), vec![1, 2]);
        assert!(*recording.finished.lock().unwrap());
    }
}
