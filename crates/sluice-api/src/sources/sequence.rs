//! A parallel source of the numbers in a range, split into one sub-range per reader.

use sluice_core::UserResult;
use sluice_runtime::source::{Boundedness, ReaderStatus, Source, SourceOutput, SourceReader};
use sluice_runtime::task::operator::OperatorContext;

/// Emits `from..=to`.
#[derive(Debug, Clone)]
pub struct SequenceSource {
    from: i64,
    to: i64,
}

impl SequenceSource {
    /// The numbers `from..=to` (none when `from > to`).
    pub fn new(from: i64, to: i64) -> Self {
        SequenceSource { from, to }
    }
}

/// An inclusive sub-range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SequenceSplit {
    /// The first number.
    pub from: i64,
    /// The last number.
    pub to: i64,
}

/// The reader of a [`SequenceSource`].
#[derive(Debug, Default)]
pub struct SequenceReader {
    next: i128,
    last: i128,
}

impl Source<i64> for SequenceSource {
    type Split = SequenceSplit;
    type Reader = SequenceReader;

    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }

    fn create_splits(&self, parallelism: usize) -> UserResult<Vec<SequenceSplit>> {
        if self.from > self.to {
            return Ok(Vec::new());
        }
        let total = i128::from(self.to) - i128::from(self.from) + 1;
        let parts = (parallelism.max(1) as i128).min(total);
        Ok((0..parts)
            .map(|i| SequenceSplit {
                from: (i128::from(self.from) + total * i / parts) as i64,
                to: (i128::from(self.from) + total * (i + 1) / parts - 1) as i64,
            })
            .collect())
    }

    fn create_reader(&self, _ctx: &OperatorContext) -> UserResult<SequenceReader> {
        Ok(SequenceReader { next: 1, last: 0 })
    }
}

impl SourceReader<i64, SequenceSplit> for SequenceReader {
    fn add_split(&mut self, split: SequenceSplit) -> UserResult {
        self.next = i128::from(split.from);
        self.last = i128::from(split.to);
        Ok(())
    }

    fn poll_next(&mut self, output: &mut SourceOutput<'_, i64>) -> UserResult<ReaderStatus> {
        while !output.is_full() && self.next <= self.last {
            output.collect(self.next as i64);
            self.next += 1;
        }
        Ok(if self.next > self.last {
            ReaderStatus::SplitFinished
        } else {
            ReaderStatus::MoreAvailable
        })
    }

    /// The numbers not emitted yet.
    fn snapshot_state(&mut self) -> UserResult<Vec<SequenceSplit>> {
        Ok(if self.next <= self.last {
            vec![SequenceSplit {
                from: self.next as i64,
                to: self.last as i64,
            }]
        } else {
            Vec::new()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_cover_the_range_exactly() {
        let splits = SequenceSource::new(-3, 10).create_splits(4).unwrap();
        assert_eq!(splits.first().unwrap().from, -3);
        assert_eq!(splits.last().unwrap().to, 10);
        for pair in splits.windows(2) {
            assert_eq!(pair[0].to + 1, pair[1].from);
        }
        assert_eq!(SequenceSource::new(5, 5).create_splits(8).unwrap().len(), 1);
        assert!(
            SequenceSource::new(6, 5)
                .create_splits(8)
                .unwrap()
                .is_empty()
        );
        let full = SequenceSource::new(i64::MIN, i64::MAX)
            .create_splits(3)
            .unwrap();
        assert_eq!(full.last().unwrap().to, i64::MAX);
    }
}
