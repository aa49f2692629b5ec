//! Buffer timeout: partly filled buffers of a busy task are sent once the timeout passes, and
//! not before they are full when the timeout is disabled.

use std::time::{Duration, Instant};

use sluice::prelude::*;

/// An unbounded source that is always busy: one record per poll, about a millisecond apart.
struct Trickle;

struct TrickleReader {
    next: u64,
}

impl Source<u64> for Trickle {
    type Split = ();
    type Reader = TrickleReader;

    fn boundedness(&self) -> Boundedness {
        Boundedness::Unbounded
    }

    fn create_splits(&self, _parallelism: usize) -> UserResult<Vec<()>> {
        Ok(vec![()])
    }

    fn create_reader(&self, _ctx: &OperatorContext) -> UserResult<TrickleReader> {
        Ok(TrickleReader { next: 0 })
    }
}

impl SourceReader<u64, ()> for TrickleReader {
    fn add_split(&mut self, _split: ()) -> UserResult {
        Ok(())
    }

    fn poll_next(&mut self, output: &mut SourceOutput<'_, u64>) -> UserResult<ReaderStatus> {
        std::thread::sleep(Duration::from_millis(1));
        output.collect(self.next);
        self.next += 1;
        Ok(ReaderStatus::MoreAvailable)
    }
}

/// Runs the trickle for a while and returns how many records crossed to the next task.
fn delivered_within(configure: impl Fn(&StreamExecutionEnvironment), wait: Duration) -> usize {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(1);
    configure(&env);
    let seen = env.from_source(Trickle, "trickle").rebalance().collect();
    let client = env.execute_async("buffer timeout").unwrap();
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline && seen.is_empty() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let delivered = seen.len();
    client.cancel();
    assert!(matches!(client.wait(), Err(JobError::Cancelled)));
    delivered
}

#[test]
fn a_busy_task_sends_partial_buffers_after_the_timeout() {
    // Buffers that never fill here: only the timeout sends records on.
    let started = Instant::now();
    let delivered = delivered_within(
        |env| {
            env.set_buffer_timeout(Duration::from_millis(20))
                .set_buffer_size(1_000_000);
        },
        Duration::from_secs(5),
    );
    assert!(
        delivered > 0,
        "nothing arrived in {:?} although the 20 ms buffer timeout passed",
        started.elapsed()
    );
}

#[test]
fn without_a_timeout_only_full_buffers_are_sent() {
    let delivered = delivered_within(
        |env| {
            env.disable_buffer_timeout().set_buffer_size(1_000_000);
        },
        Duration::from_millis(300),
    );
    assert_eq!(delivered, 0);
}
