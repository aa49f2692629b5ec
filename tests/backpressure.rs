//! A slow sink slows a fast unbounded source: buffered data stays bounded, and the source's
//! blocked time shows up as backpressure.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sluice::prelude::*;

/// An endless source counting what it emitted.
struct Endless {
    emitted: Arc<AtomicU64>,
}

struct EndlessReader {
    emitted: Arc<AtomicU64>,
    next: u64,
}

impl Source<u64> for Endless {
    type Split = ();
    type Reader = EndlessReader;

    fn boundedness(&self) -> Boundedness {
        Boundedness::Unbounded
    }

    fn create_splits(&self, _parallelism: usize) -> UserResult<Vec<()>> {
        Ok(vec![()])
    }

    fn create_reader(&self, _ctx: &OperatorContext) -> UserResult<EndlessReader> {
        Ok(EndlessReader {
            emitted: Arc::clone(&self.emitted),
            next: 0,
        })
    }
}

impl SourceReader<u64, ()> for EndlessReader {
    fn add_split(&mut self, _split: ()) -> UserResult {
        Ok(())
    }

    fn poll_next(&mut self, output: &mut SourceOutput<'_, u64>) -> UserResult<ReaderStatus> {
        let mut n = 0;
        while !output.is_full() {
            output.collect(self.next);
            self.next += 1;
            n += 1;
        }
        self.emitted.fetch_add(n, Ordering::Relaxed);
        Ok(ReaderStatus::MoreAvailable)
    }
}

/// A sink that takes a millisecond per batch.
#[derive(Clone)]
struct SlowSink {
    consumed: Arc<AtomicU64>,
}

struct SlowWriter {
    consumed: Arc<AtomicU64>,
}

impl Sink<u64> for SlowSink {
    type Writer = SlowWriter;

    fn create_writer(&self, _ctx: &OperatorContext) -> UserResult<SlowWriter> {
        Ok(SlowWriter {
            consumed: Arc::clone(&self.consumed),
        })
    }
}

impl SinkWriter<u64> for SlowWriter {
    fn write(&mut self, _value: u64, _timestamp: Option<Timestamp>) -> UserResult {
        self.consumed.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn write_batch(&mut self, batch: &mut Vec<Record<u64>>) -> UserResult {
        std::thread::sleep(Duration::from_millis(1));
        self.consumed
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        batch.clear();
        Ok(())
    }
}

#[test]
fn slow_sink_backpressures_fast_source_with_bounded_buffers() {
    const BUFFER: u64 = 100;
    let emitted = Arc::new(AtomicU64::new(0));
    let consumed = Arc::new(AtomicU64::new(0));
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(1).set_buffer_size(BUFFER as usize);
    env.from_source(
        Endless {
            emitted: Arc::clone(&emitted),
        },
        "endless",
    )
    .map(|n: u64| n)
    .rebalance()
    .sink_to(SlowSink {
        consumed: Arc::clone(&consumed),
    });
    let client = env.execute_async("backpressure").unwrap();
    let metrics = client.metrics();
    let deadline = Instant::now() + Duration::from_millis(1500);
    let mut most_in_flight = 0;
    while Instant::now() < deadline {
        let in_flight = emitted
            .load(Ordering::Relaxed)
            .saturating_sub(consumed.load(Ordering::Relaxed));
        most_in_flight = most_in_flight.max(in_flight);
        std::thread::sleep(Duration::from_millis(5));
    }
    let total_emitted = emitted.load(Ordering::Relaxed);
    let source_blocked: u64 = metrics
        .task_summaries()
        .iter()
        .filter(|t| t.name.starts_with("Source"))
        .map(|t| t.backpressured_ms)
        .sum();
    client.cancel();
    assert!(matches!(client.wait(), Err(JobError::Cancelled)));

    // In flight at most: the channel's buffers, one in the sink's hands, one in the writer,
    // one being emitted, and one counted late.
    let bound = (sluice::runtime::exchange::channel::DEFAULT_CHANNEL_CAPACITY as u64 + 4) * BUFFER;
    assert!(
        most_in_flight <= bound,
        "{most_in_flight} records in flight, bound {bound}"
    );
    assert!(
        total_emitted > 4 * bound,
        "the source ran ({total_emitted} records)"
    );
    assert!(
        total_emitted < 5_000_000,
        "the source was held back ({total_emitted} records)"
    );
    assert!(
        source_blocked > 500,
        "source blocked only {source_blocked} ms"
    );
}
