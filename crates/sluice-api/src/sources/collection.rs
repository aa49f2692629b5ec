//! A non-parallel, replayable source over a collection: its split is the range of positions
//! not yet emitted, so checkpoints record how far it got and a restarted job goes on from there.

use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use sluice_core::UserResult;
use sluice_runtime::source::{Boundedness, ReaderStatus, Source, SourceOutput, SourceReader};
use sluice_runtime::task::operator::OperatorContext;

/// Emits the values of a collection, in order, from one reader.
pub struct CollectionSource<T> {
    values: Arc<Mutex<Vec<T>>>,
}

impl<T> CollectionSource<T> {
    /// A source over `values`.
    pub fn new(values: Vec<T>) -> Self {
        CollectionSource {
            values: Arc::new(Mutex::new(values)),
        }
    }
}

/// The positions `next..end` of the collection still to emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionSplit {
    /// The next position to emit.
    pub next: usize,
    /// One past the last position.
    pub end: usize,
}

/// The reader of a [`CollectionSource`].
pub struct CollectionReader<T> {
    values: Arc<Mutex<Vec<T>>>,
    current: Option<CollectionSplit>,
}

fn len<T>(values: &Mutex<Vec<T>>) -> usize {
    values.lock().unwrap_or_else(PoisonError::into_inner).len()
}

impl<T: Clone + Send + 'static> Source<T> for CollectionSource<T> {
    type Split = CollectionSplit;
    type Reader = CollectionReader<T>;

    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }

    fn create_splits(&self, _parallelism: usize) -> UserResult<Vec<CollectionSplit>> {
        Ok(vec![CollectionSplit {
            next: 0,
            end: len(&self.values),
        }])
    }

    fn create_reader(&self, _ctx: &OperatorContext) -> UserResult<CollectionReader<T>> {
        Ok(CollectionReader {
            values: Arc::clone(&self.values),
            current: None,
        })
    }
}

impl<T: Clone + Send + 'static> SourceReader<T, CollectionSplit> for CollectionReader<T> {
    fn add_split(&mut self, split: CollectionSplit) -> UserResult {
        let available = len(&self.values);
        if split.end > available {
            return Err(format!(
                "a restored collection source expects {} values but has {available}: the collection changed",
                split.end
            )
            .into());
        }
        self.current = Some(split);
        Ok(())
    }

    fn poll_next(&mut self, output: &mut SourceOutput<'_, T>) -> UserResult<ReaderStatus> {
        let Some(split) = self.current.as_mut() else {
            return Ok(ReaderStatus::SplitFinished);
        };
        let values = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        while !output.is_full() && split.next < split.end {
            output.collect(values[split.next].clone());
            split.next += 1;
        }
        drop(values);
        if split.next >= split.end {
            self.current = None;
            return Ok(ReaderStatus::SplitFinished);
        }
        Ok(ReaderStatus::MoreAvailable)
    }

    fn snapshot_state(&mut self) -> UserResult<Vec<CollectionSplit>> {
        Ok(self.current.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::Record;

    #[test]
    fn a_reader_resumes_where_its_snapshot_left_off() {
        let source = CollectionSource::new((0..10).collect::<Vec<i32>>());
        let ctx = OperatorContext::single("collection");
        let mut reader = source.create_reader(&ctx).unwrap();
        reader
            .add_split(source.create_splits(1).unwrap()[0])
            .unwrap();
        let mut batch: Vec<Record<i32>> = Vec::new();
        reader
            .poll_next(&mut SourceOutput::new(&mut batch, 4))
            .unwrap();
        let rest = reader.snapshot_state().unwrap();
        assert_eq!(rest, vec![CollectionSplit { next: 4, end: 10 }]);
        let mut resumed = source.create_reader(&ctx).unwrap();
        resumed.add_split(rest[0]).unwrap();
        let mut tail: Vec<Record<i32>> = Vec::new();
        resumed
            .poll_next(&mut SourceOutput::new(&mut tail, 100))
            .unwrap();
        let values: Vec<i32> = batch.into_iter().chain(tail).map(|r| r.value).collect();
        assert_eq!(values, (0..10).collect::<Vec<_>>());
        let changed = CollectionSource::new(vec![1]).create_reader(&ctx);
        assert!(changed.unwrap().add_split(rest[0]).is_err());
    }
}
