//! Per-split watermarks: a reader working on a fast and a slow split at once keeps the slow
//! split's records on time, where one watermark over the mixed stream makes them late.

use std::time::Duration;

use sluice::jobs::event_time_windows::PerEventBoundedOutOfOrderness;
use sluice::prelude::*;

/// Two partitions read at once, records interleaved: partition 0 advances 1 ms per record,
/// partition 1 advances 100 ms per record.
struct Partitioned;

struct PartitionedReader {
    next: [i64; 2],
    emitted: usize,
    finished: u64,
}

const PER_PARTITION: usize = 200;

impl Source<(u64, i64)> for Partitioned {
    type Split = u64;
    type Reader = PartitionedReader;

    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }

    fn create_splits(&self, _: usize) -> UserResult<Vec<u64>> {
        Ok(vec![0, 1])
    }

    fn create_reader(&self, _: &OperatorContext) -> UserResult<PartitionedReader> {
        Ok(PartitionedReader {
            next: [0, 0],
            emitted: 0,
            finished: 0,
        })
    }
}

impl SourceReader<(u64, i64), u64> for PartitionedReader {
    fn add_split(&mut self, _: u64) -> UserResult {
        Ok(())
    }

    fn max_concurrent_splits(&self) -> usize {
        2
    }

    fn poll_next(&mut self, output: &mut SourceOutput<'_, (u64, i64)>) -> UserResult<ReaderStatus> {
        if self.emitted == 2 * PER_PARTITION {
            // One split ends per call.
            output.finish_split(self.finished);
            self.finished += 1;
            return Ok(ReaderStatus::SplitFinished);
        }
        let partition = (self.emitted % 2) as u64;
        output.set_split(partition);
        let step = if partition == 0 { 1 } else { 100 };
        let timestamp = self.next[partition as usize];
        output.collect((partition, timestamp));
        self.next[partition as usize] += step;
        self.emitted += 1;
        Ok(ReaderStatus::MoreAvailable)
    }
}

/// Counts records too late for their tumbling 10 ms windows.
fn late_records(per_split: bool) -> usize {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(1)
        .set_auto_watermark_interval(Duration::ZERO);
    let strategy = WatermarkStrategy::for_generator(|| PerEventBoundedOutOfOrderness::new(0))
        .with_timestamp_assigner(|e: &(u64, i64), _| e.1);
    let events = if per_split {
        env.from_source_with_watermarks(Partitioned, strategy, "partitions")
    } else {
        env.from_source(Partitioned, "partitions")
            .assign_timestamps_and_watermarks(strategy)
    };
    let late = OutputTag::<(u64, i64)>::new("late");
    let windows = events
        .key_by(|e: &(u64, i64)| e.0)
        .window(TumblingWindows::event_time(Duration::from_millis(10)))
        .side_output_late_data(&late)
        .aggregate(Count);
    let late_records = windows.get_side_output(&late).collect();
    windows.collect();
    env.execute("split watermarks").unwrap();
    late_records.len()
}

#[derive(Clone, Copy)]
struct Count;

impl AggregateFunction<(u64, i64), u64, u64> for Count {
    fn create_accumulator(&self) -> u64 {
        0
    }
    fn add(&self, accumulator: &mut u64, _: (u64, i64)) {
        *accumulator += 1;
    }
    fn get_result(&self, accumulator: &u64) -> u64 {
        *accumulator
    }
    fn merge(&self, a: u64, b: u64) -> u64 {
        a + b
    }
}

#[test]
fn per_split_watermarks_keep_the_slow_split_on_time() {
    assert_eq!(late_records(true), 0);
}

#[test]
fn one_watermark_over_both_splits_makes_the_slow_one_late() {
    assert!(late_records(false) > PER_PARTITION / 2);
}
