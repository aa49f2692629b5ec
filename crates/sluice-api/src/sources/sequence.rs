//! A parallel source of the numbers in a range, split into one sub-range per reader (as
//! Flink's `fromSequence`) or striped over the readers (as the SQL `datagen` connector's
//! sequence: reader `i` of `p` takes the `i`-th number and every `p`-th after it, so all
//! readers go through the range together), as fast as they are read or paced at a number of
//! rows per second (Flink's `datagen` pacing).

use std::time::{Duration, Instant};

use sluice_core::UserResult;
use sluice_runtime::source::{Boundedness, ReaderStatus, Source, SourceOutput, SourceReader};
use sluice_runtime::task::operator::OperatorContext;

/// Emits `from..=to`.
#[derive(Debug, Clone)]
pub struct SequenceSource {
    from: i64,
    to: i64,
    striped: bool,
    rows_per_second: Option<f64>,
}

impl SequenceSource {
    /// The numbers `from..=to` (none when `from > to`), a sub-range per reader.
    pub fn new(from: i64, to: i64) -> Self {
        SequenceSource {
            from,
            to,
            striped: false,
            rows_per_second: None,
        }
    }

    /// The numbers `from..=to`, striped over the readers.
    pub fn striped(from: i64, to: i64) -> Self {
        SequenceSource {
            striped: true,
            ..SequenceSource::new(from, to)
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

/// The numbers from `from` up to `to`, `step` apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SequenceSplit {
    /// The first number.
    pub from: i64,
    /// No number is after this one.
    pub to: i64,
    /// The distance from one number to the next (1: every number).
    #[serde(default = "every_number")]
    pub step: i64,
}

fn every_number() -> i64 {
    1
}

impl SequenceSplit {
    /// Every number of `from..=to`.
    pub fn range(from: i64, to: i64) -> Self {
        SequenceSplit { from, to, step: 1 }
    }
}

/// The reader of a [`SequenceSource`].
#[derive(Debug, Default)]
pub struct SequenceReader {
    next: i128,
    last: i128,
    step: i128,
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
        let split = |i: i128| match self.striped {
            true => SequenceSplit {
                from: (i128::from(self.from) + i) as i64,
                to: self.to,
                step: parts as i64,
            },
            false => SequenceSplit::range(
                (i128::from(self.from) + total * i / parts) as i64,
                (i128::from(self.from) + total * (i + 1) / parts - 1) as i64,
            ),
        };
        Ok((0..parts).map(split).collect())
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
            step: 1,
            pace,
        })
    }
}

impl SourceReader<i64, SequenceSplit> for SequenceReader {
    fn add_split(&mut self, split: SequenceSplit) -> UserResult {
        if split.step < 1 {
            return Err(format!("a sequence split with step {}", split.step).into());
        }
        self.next = i128::from(split.from);
        self.last = i128::from(split.to);
        self.step = i128::from(split.step);
        Ok(())
    }

    fn poll_next(&mut self, output: &mut SourceOutput<'_, i64>) -> UserResult<ReaderStatus> {
        let mut room = self.pace.as_mut().map_or(u64::MAX, Pace::due);
        while room > 0 && !output.is_full() && self.next <= self.last {
            output.collect(self.next as i64);
            self.next += self.step;
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
                step: self.step as i64,
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
        reader.add_split(SequenceSplit::range(1, 1_000)).unwrap();
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

    /// Every number the readers of `splits` emit, each reader's in its order.
    fn read(splits: Vec<SequenceSplit>) -> Vec<Vec<i64>> {
        let source = SequenceSource::new(0, 0);
        let ctx = OperatorContext::single("sequence");
        (splits.into_iter())
            .map(|split| {
                let mut reader = source.create_reader(&ctx).unwrap();
                reader.add_split(split).unwrap();
                let mut records = Vec::new();
                let mut output = SourceOutput::new(&mut records, 1_024);
                reader.poll_next(&mut output).unwrap();
                records.into_iter().map(|r| r.value).collect()
            })
            .collect()
    }

    #[test]
    fn striped_readers_take_every_pth_number_as_flinks_datagen_does() {
        let splits = SequenceSource::striped(10, 16).create_splits(3).unwrap();
        assert_eq!(read(splits), [vec![10, 13, 16], vec![11, 14], vec![12, 15]]);
        let one = SequenceSource::striped(5, 5).create_splits(4).unwrap();
        assert_eq!(read(one), [vec![5]]);
        // A reader's rest is striped alike when it resumes from a snapshot.
        let source = SequenceSource::striped(0, 9);
        let mut reader = source
            .create_reader(&OperatorContext::single("sequence"))
            .unwrap();
        reader
            .add_split(source.create_splits(2).unwrap()[1])
            .unwrap();
        let mut records = Vec::new();
        reader
            .poll_next(&mut SourceOutput::new(&mut records, 2))
            .unwrap();
        let rest = reader.snapshot_state().unwrap();
        assert_eq!(read(rest), [vec![5, 7, 9]]);
        assert!(
            reader
                .add_split(SequenceSplit {
                    step: 0,
                    ..SequenceSplit::range(0, 1)
                })
                .is_err()
        );
    }
}
