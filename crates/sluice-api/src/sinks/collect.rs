//! Collects records in memory, for tests and small jobs.

use std::sync::{Arc, Mutex, PoisonError};

use sluice_core::{Record, Timestamp, UserResult};
use sluice_runtime::sink::{Sink, SinkWriter};
use sluice_runtime::task::operator::OperatorContext;

/// A handle on the records a collect sink received.
pub struct CollectedValues<T> {
    values: Arc<Mutex<Vec<T>>>,
}

impl<T> Clone for CollectedValues<T> {
    fn clone(&self) -> Self {
        CollectedValues {
            values: Arc::clone(&self.values),
        }
    }
}

impl<T> CollectedValues<T> {
    /// Takes the records received so far (subtasks' records interleave in arrival order).
    pub fn take(&self) -> Vec<T> {
        std::mem::take(&mut *self.values.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// How many records were received so far.
    pub fn len(&self) -> usize {
        self.values
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no record was received yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A sink that appends every record to a shared vector.
pub struct CollectSink<T> {
    values: Arc<Mutex<Vec<T>>>,
}

impl<T> CollectSink<T> {
    /// An empty collect sink.
    pub fn new() -> Self {
        CollectSink {
            values: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The handle to read the collected records.
    pub fn values(&self) -> CollectedValues<T> {
        CollectedValues {
            values: Arc::clone(&self.values),
        }
    }
}

impl<T> Default for CollectSink<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// The writer of one collect subtask.
pub struct CollectWriter<T> {
    values: Arc<Mutex<Vec<T>>>,
}

impl<T: Send + 'static> Sink<T> for CollectSink<T> {
    type Writer = CollectWriter<T>;

    fn create_writer(&self, _ctx: &OperatorContext) -> UserResult<CollectWriter<T>> {
        Ok(CollectWriter {
            values: Arc::clone(&self.values),
        })
    }
}

impl<T: Send + 'static> SinkWriter<T> for CollectWriter<T> {
    fn write(&mut self, value: T, _timestamp: Option<Timestamp>) -> UserResult {
        self.values
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(value);
        Ok(())
    }

    fn write_batch(&mut self, batch: &mut Vec<Record<T>>) -> UserResult {
        self.values
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(batch.drain(..).map(|r| r.value));
        Ok(())
    }
}
