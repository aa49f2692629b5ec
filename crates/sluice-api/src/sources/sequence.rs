//! A parallel source of the numbers in a range, split into one sub-range per reader, as fast
//! as they are read or paced at a number of rows per second (Flink's `datagen` pacing).

use std::time::{Duration, Instant};

use sluice_core::UserResult;
use sluice_runtime::source::{Boundedness, ReaderStatus, Source, SourceOutput, SourceReader};
use sluice_runtime::task::operator::OperatorContext;

/// Emits `from..=to`.
#[derive(Debug, Clone)]
pub struct SequenceSource {
    from: i64,
    to: i64,
    rows_per_second: Option<f64>,
}

impl SequenceSource {
    /// The numbers `from..=to` (none when `from > to`).
    pub fn new(from: i64, to: i64) -> Self {
        SequenceSource {
            from,
            to,
            rows_per_second: None,
        }
    }

    /// Emits about `rate` numbers per second over all readers, each number when it is due
    /// (not a batch at a time).
    pub fn with_rows_per_second(mut self, rate: f64) -> Self {
        self.rows_per_second = Some(rate);
        self
    }
}

/// The pace of one reader: its share of the rate, and how far it got since it started.
#[derive(Debug)]
struct Pace {
    per_second: f64,
    start: Instant,
    emitted: u64,
}

impl Pace {
    /// How many numbers may be emitted now; when none, waits a little for the next first.
    fn due(&mut self) -> u64 {
        let due = (self.start.elapsed().as_secs_f64() * self.per_second) as u64;
        if due > self.emitted {
            return due - self.emitted;
        }
        let next = Duration::from_secs_f64((self.emitted + 1) as f64 / self.per_second);
        let wait = next.saturating_sub(self.start.elapsed());
        std::thread::sleep(wait.min(Duration::from_millis(20)));
        0
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
    pace: Option<Pace>,
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

    fn create_reader(&self, ctx: &OperatorContext) -> UserResult<SequenceReader> {
        let pace = self.rows_per_second.map(|rate| Pace {
            per_second: rate / ctx.parallelism.max(1) as f64,
            start: Instant::now(),
            emitted: 0,
        });
        Ok(SequenceReader {
            next: 1,
            last: 0,
            pace,
        })
    }
}

impl SourceReader<i64, SequenceSplit> for SequenceReader {
    fn add_split(&mut self, split: SequenceSplit) -> UserResult {
        self.next = i128::from(split.from);
        self.last = i128::from(split.to);
        Ok(())
    }

    fn poll_next(&mut self, output: &mut SourceOutput<'_, i64>) -> UserResult<ReaderStatus> {
        let mut room = self.pace.as_mut().map_or(u64::MAX, Pace::due);
        while room > 0 && !output.is_full() && self.next <= self.last {
            output.collect(self.next as i64);
            self.next += 1;
            room -= 1;
            if let Some(pace) = &mut self.pace {
                pace.emitted += 1;
            }
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
    fn a_paced_reader_emits_the_numbers_as_they_fall_due() {
        let source = SequenceSource::new(1, 1_000).with_rows_per_second(100.0);
        let mut reader = source
            .create_reader(&OperatorContext::single("sequence"))
            .unwrap();
        reader
            .add_split(SequenceSplit { from: 1, to: 1_000 })
            .unwrap();
        let started = Instant::now();
        let mut read = Vec::new();
        while started.elapsed() < Duration::from_millis(300) {
            let mut records = Vec::new();
            let mut output = SourceOutput::new(&mut records, 1_024);
            reader.poll_next(&mut output).unwrap();
            read.extend(records.into_iter().map(|r| r.value));
        }
        // About 30 in 300 ms at 100 per second, in order, not a batch of 1,024.
        assert!((20..=40).contains(&read.len()), "{} numbers", read.len());
        assert_eq!(read, (1..=read.len() as i64).collect::<Vec<_>>());
    }

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
