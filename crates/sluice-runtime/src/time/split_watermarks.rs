//! Per-split watermarks inside a source (Flink's `fromSource(source, watermarkStrategy)`): each
//! split a reader works on gets its own watermark generator, and the reader's watermark is the
//! minimum over its active splits, so a fast partition cannot make a slow one's records late.
//! A finished split stops holding the watermark back.

use std::collections::BTreeMap;

use sluice_core::{Record, Timestamp, Watermark};

use crate::time::processing_time::ProcessingTime;
use crate::time::watermarks::{WatermarkGenerator, WatermarkOutput, WatermarkStrategy};

/// Where a reader's records belong, as reported through the source output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitEvent {
    /// The records from here on belong to split `id`.
    Switch(u64),
    /// Split `id` has ended.
    Finished(u64),
}

struct SplitGenerator<T> {
    generator: Box<dyn WatermarkGenerator<T>>,
    watermark: Watermark,
}

/// The watermark generators of one reader's splits.
pub struct SplitWatermarks<T> {
    strategy: WatermarkStrategy<T>,
    splits: BTreeMap<u64, SplitGenerator<T>>,
    output: WatermarkOutput,
    emitted: Watermark,
    interval: i64,
    next_periodic: ProcessingTime,
}

impl<T> SplitWatermarks<T> {
    /// Generators following `strategy`, emitting periodically every `interval_ms` (0: never)
    /// from processing time `now`.
    pub fn new(strategy: WatermarkStrategy<T>, interval_ms: i64, now: ProcessingTime) -> Self {
        SplitWatermarks {
            strategy,
            splits: BTreeMap::new(),
            output: WatermarkOutput::default(),
            emitted: Watermark::MIN,
            interval: interval_ms,
            next_periodic: now + interval_ms,
        }
    }

    /// When the next periodic emission is due, if periodic emission is on.
    pub fn next_periodic(&self) -> Option<ProcessingTime> {
        (self.interval > 0).then_some(self.next_periodic)
    }

    /// The combined watermark if it rose above the last one emitted.
    fn advance(&mut self) -> Option<Watermark> {
        let combined = self.splits.values().map(|s| s.watermark).min()?;
        (combined > self.emitted).then(|| {
            self.emitted = combined;
            combined
        })
    }

    /// Stamps `record` of split `split` and runs its generator; the combined watermark if it
    /// rose.
    pub fn on_record(&mut self, split: u64, record: &mut Record<T>) -> Option<Watermark> {
        let timestamp = match &self.strategy.timestamp_assigner {
            Some(assign) => assign(&record.value, record.timestamp),
            None => record.timestamp.unwrap_or(Timestamp::MIN),
        };
        record.timestamp = Some(timestamp);
        let strategy = &self.strategy;
        let entry = self.splits.entry(split).or_insert_with(|| SplitGenerator {
            generator: (strategy.generator)(),
            watermark: Watermark::MIN,
        });
        entry
            .generator
            .on_event(&record.value, timestamp, &mut self.output);
        if let (Some(watermark), _) = self.output.take() {
            entry.watermark = entry.watermark.max(watermark);
        }
        self.advance()
    }

    /// Split `split` ended; the combined watermark if it rose.
    pub fn on_split_finished(&mut self, split: u64) -> Option<Watermark> {
        self.splits.remove(&split);
        self.advance()
    }

    /// Runs periodic emission if due at `now`; the combined watermark if it rose.
    pub fn on_processing_time(&mut self, now: ProcessingTime) -> Option<Watermark> {
        if self.interval <= 0 || now < self.next_periodic {
            return None;
        }
        self.next_periodic = now + self.interval;
        for split in self.splits.values_mut() {
            split.generator.on_periodic_emit(&mut self.output);
            if let (Some(watermark), _) = self.output.take() {
                split.watermark = split.watermark.max(watermark);
            }
        }
        self.advance()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn watermarks() -> SplitWatermarks<i64> {
        let strategy = WatermarkStrategy::for_bounded_out_of_orderness(Duration::ZERO)
            .with_timestamp_assigner(|v: &i64, _| *v);
        SplitWatermarks::new(strategy, 100, 0)
    }

    #[test]
    fn the_slowest_split_holds_the_watermark() {
        let mut w = watermarks();
        assert_eq!(
            w.on_record(1, &mut Record::new(10)),
            None,
            "periodic generators emit later"
        );
        w.on_record(2, &mut Record::new(1_000));
        assert_eq!(w.on_processing_time(100), Some(Watermark(9)));
        w.on_record(1, &mut Record::new(20));
        assert_eq!(w.on_processing_time(200), Some(Watermark(19)));
        assert_eq!(
            w.on_split_finished(1),
            Some(Watermark(999)),
            "a finished split lets go"
        );
    }

    #[test]
    fn records_get_their_assigned_timestamps() {
        let mut w = watermarks();
        let mut record = Record::new(42);
        w.on_record(0, &mut record);
        assert_eq!(record.timestamp, Some(42));
    }
}
