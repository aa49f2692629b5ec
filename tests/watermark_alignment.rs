//! Watermark alignment: a fast source waits for a slow one of the same group.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use sluice::jobs::event_time_windows::PerEventBoundedOutOfOrderness;
use sluice::prelude::*;

/// An unbounded source whose event time advances `step` ms per record, `pause` apart; its
/// reader takes `open_delay` to create (a task that opens late on a loaded machine).
struct Clocked {
    step: i64,
    pause: Duration,
    open_delay: Duration,
    latest: Arc<AtomicI64>,
}

struct ClockedReader {
    step: i64,
    pause: Duration,
    next: i64,
    latest: Arc<AtomicI64>,
}

impl Source<i64> for Clocked {
    type Split = ();
    type Reader = ClockedReader;
    fn boundedness(&self) -> Boundedness {
        Boundedness::Unbounded
    }
    fn create_splits(&self, _: usize) -> UserResult<Vec<()>> {
        Ok(vec![()])
    }
    fn create_reader(&self, _: &OperatorContext) -> UserResult<ClockedReader> {
        std::thread::sleep(self.open_delay);
        Ok(ClockedReader {
            step: self.step,
            pause: self.pause,
            next: 0,
            latest: Arc::clone(&self.latest),
        })
    }
}

impl SourceReader<i64, ()> for ClockedReader {
    fn add_split(&mut self, _: ()) -> UserResult {
        Ok(())
    }
    fn poll_next(&mut self, output: &mut SourceOutput<'_, i64>) -> UserResult<ReaderStatus> {
        if !self.pause.is_zero() {
            std::thread::sleep(self.pause);
        }
        output.collect(self.next);
        self.latest.store(self.next, Ordering::Relaxed);
        self.next += self.step;
        Ok(ReaderStatus::MoreAvailable)
    }
}

/// Runs a fast and a slow source (whose task opens `slow_open_delay` late) for a while;
/// returns their latest event times.
fn run(aligned: bool, slow_open_delay: Duration) -> (i64, i64) {
    let (fast, slow) = (Arc::new(AtomicI64::new(0)), Arc::new(AtomicI64::new(0)));
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(1).set_buffer_size(8);
    let strategy = || {
        // A watermark after every record, so the drift is checked against exact positions.
        let s = WatermarkStrategy::for_generator(|| PerEventBoundedOutOfOrderness::new(0))
            .with_timestamp_assigner(|t: &i64, _| *t);
        if aligned {
            s.with_watermark_alignment(
                "ticks",
                Duration::from_millis(500),
                Duration::from_millis(5),
            )
        } else {
            s
        }
    };
    let fast_stream = env
        .from_source(
            Clocked {
                step: 10,
                pause: Duration::ZERO,
                open_delay: Duration::ZERO,
                latest: Arc::clone(&fast),
            },
            "fast",
        )
        .assign_timestamps_and_watermarks(strategy());
    let slow_stream = env
        .from_source(
            Clocked {
                step: 1,
                pause: Duration::from_millis(1),
                open_delay: slow_open_delay,
                latest: Arc::clone(&slow),
            },
            "slow",
        )
        .assign_timestamps_and_watermarks(strategy());
    fast_stream
        .union([slow_stream])
        .sink_to(sluice::sinks::DiscardingSink);
    let client = env.execute_async("alignment").unwrap();
    let until = Instant::now() + slow_open_delay + Duration::from_millis(600);
    while Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    let result = (fast.load(Ordering::Relaxed), slow.load(Ordering::Relaxed));
    client.cancel();
    assert!(matches!(client.wait(), Err(JobError::Cancelled)));
    result
}

#[test]
fn a_fast_source_waits_within_the_allowed_drift() {
    let (fast, slow) = run(true, Duration::ZERO);
    assert!(slow > 0, "the slow source ran");
    // Allowed: the drift, plus the batch emitted before the next check.
    assert!(
        fast <= slow + 500 + 200,
        "fast at {fast} ms, slow at {slow} ms"
    );
}

#[test]
fn a_source_whose_task_opens_late_holds_the_group_back_from_the_start() {
    let (fast, slow) = run(true, Duration::from_millis(300));
    assert!(slow > 0, "the slow source ran");
    assert!(
        fast <= slow + 500 + 200,
        "fast at {fast} ms, slow at {slow} ms"
    );
}

#[test]
fn without_alignment_the_fast_source_runs_ahead() {
    let (fast, slow) = run(false, Duration::ZERO);
    assert!(fast > slow + 10_000, "fast at {fast} ms, slow at {slow} ms");
}
