//! A non-parallel source over an iterator (and so over a collection).

use std::sync::{Mutex, PoisonError};

use sluice_core::UserResult;
use sluice_runtime::source::{Boundedness, ReaderStatus, Source, SourceOutput, SourceReader};
use sluice_runtime::task::operator::OperatorContext;

/// Emits what an iterator yields, in order, from one reader. The iterator is consumed: a job
/// reads it once.
pub struct IteratorSource<I> {
    iter: Mutex<Option<I>>,
}

impl<I> IteratorSource<I> {
    /// A source over `iter`.
    pub fn new(iter: impl IntoIterator<IntoIter = I>) -> Self {
        IteratorSource {
            iter: Mutex::new(Some(iter.into_iter())),
        }
    }
}

/// The reader of an [`IteratorSource`].
pub struct IteratorReader<I> {
    iter: Option<I>,
    reading: bool,
}

impl<I> Source<I::Item> for IteratorSource<I>
where
    I: Iterator + Send + 'static,
    I::Item: Send + 'static,
{
    type Split = ();
    type Reader = IteratorReader<I>;

    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }

    /// An iterator is consumed as it is read: it cannot be replayed.
    fn supports_checkpoints(&self) -> bool {
        false
    }

    fn create_splits(&self, _parallelism: usize) -> UserResult<Vec<()>> {
        Ok(vec![()])
    }

    fn create_reader(&self, _ctx: &OperatorContext) -> UserResult<IteratorReader<I>> {
        let iter = self
            .iter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        Ok(IteratorReader {
            iter,
            reading: false,
        })
    }
}

impl<I> SourceReader<I::Item, ()> for IteratorReader<I>
where
    I: Iterator + Send + 'static,
    I::Item: Send + 'static,
{
    fn add_split(&mut self, _split: ()) -> UserResult {
        if self.iter.is_none() {
            return Err("an iterator source can be read only once".into());
        }
        self.reading = true;
        Ok(())
    }

    fn poll_next(&mut self, output: &mut SourceOutput<'_, I::Item>) -> UserResult<ReaderStatus> {
        let Some(iter) = self.iter.as_mut().filter(|_| self.reading) else {
            return Ok(ReaderStatus::SplitFinished);
        };
        while !output.is_full() {
            match iter.next() {
                Some(value) => output.collect(value),
                None => {
                    self.reading = false;
                    return Ok(ReaderStatus::SplitFinished);
                }
            }
        }
        Ok(ReaderStatus::MoreAvailable)
    }
}
