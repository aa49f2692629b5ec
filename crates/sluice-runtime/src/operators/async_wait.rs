//! Async I/O (Flink's `AsyncWaitOperator`): calls an asynchronous function per record with at
//! most `capacity` calls in flight, each bounded by `timeout`, and emits results in input order
//! (`ordered`) or as they complete (unordered; watermarks still separate what comes before
//! them from what comes after).
//!
//! The futures run on a shared Tokio runtime. A completion wakes the task, which emits what is
//! ready on its next processing-time turn. A full operator blocks its task until a call
//! completes: that is backpressure. A failed or timed-out call fails the job with its cause.
//!
//! A checkpoint stores the input of every call not emitted yet, and the watermarks queued
//! between them (as Flink does); a restored operator issues those calls again, in order. The
//! final watermark (`Watermark::MAX`, the end of a bounded input) waits for every call, so
//! their results precede the job's final checkpoint.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sluice_core::{Record, StreamData, Timestamp, UserResult, Watermark};
use sluice_state::{OperatorSnapshot, OperatorStateStore};

use crate::signal::TaskWaker;
use crate::task::operator::{OneInputOperator, OperatorContext, StreamOperator, WatermarkOut};
use crate::task::output::Output;
use crate::time::processing_time::{ProcessingTime, ProcessingTimeService};

/// How an async operator runs its calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsyncOptions {
    /// The most calls in flight per subtask.
    pub capacity: usize,
    /// How long one call may take.
    pub timeout: Duration,
    /// Emit results in input order (`true`) or as they complete.
    pub ordered: bool,
}

impl AsyncOptions {
    /// Ordered results, with `capacity` calls in flight and a per-call `timeout`.
    pub fn ordered(timeout: Duration, capacity: usize) -> Self {
        AsyncOptions {
            capacity: capacity.max(1),
            timeout,
            ordered: true,
        }
    }

    /// Results as they complete, with `capacity` calls in flight and a per-call `timeout`.
    pub fn unordered(timeout: Duration, capacity: usize) -> Self {
        AsyncOptions {
            ordered: false,
            ..Self::ordered(timeout, capacity)
        }
    }
}

/// The Tokio runtime shared by every async operator of the process.
fn runtime() -> Result<&'static tokio::runtime::Runtime, String> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("sluice-async-io")
                .enable_time()
                .build()
                .map_err(|e| format!("cannot start the async I/O runtime: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

enum Entry<I, O> {
    Call {
        id: u64,
        /// The input, kept until the results are emitted: a checkpoint stores it.
        input: I,
        timestamp: Option<Timestamp>,
        results: Option<Vec<O>>,
    },
    Watermark(Watermark),
}

/// The operator list state that holds the queue at a checkpoint.
const QUEUE_STATE: &str = "async-wait-queue";

/// A queue entry as a checkpoint stores it: a call's input (issued again on restore) or a
/// watermark waiting behind calls.
#[derive(Serialize, Deserialize)]
enum Queued<I> {
    Call {
        value: I,
        timestamp: Option<Timestamp>,
    },
    Watermark(Watermark),
}

type Completion<O> = (u64, Result<Vec<O>, String>);

/// Runs an async function per record.
pub struct AsyncWaitOperator<I, O, F> {
    function: Arc<F>,
    options: AsyncOptions,
    queue: VecDeque<Entry<I, O>>,
    in_flight: usize,
    next_id: u64,
    done: (Sender<Completion<O>>, Receiver<Completion<O>>),
    time: ProcessingTimeService,
    waker: Arc<TaskWaker>,
    _input: std::marker::PhantomData<fn(I)>,
}

impl<I, O, F> AsyncWaitOperator<I, O, F> {
    /// An operator calling `function` per record.
    pub fn new(function: Arc<F>, options: AsyncOptions) -> Self {
        AsyncWaitOperator {
            function,
            options,
            queue: VecDeque::new(),
            in_flight: 0,
            next_id: 0,
            done: channel(),
            time: ProcessingTimeService::default(),
            waker: TaskWaker::new(),
            _input: std::marker::PhantomData,
        }
    }
}

impl<I, O, F, Fut> AsyncWaitOperator<I, O, F>
where
    I: StreamData,
    O: Send + 'static,
    F: Fn(I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = UserResult<Vec<O>>> + Send + 'static,
{
    fn start(&mut self, record: Record<I>) -> UserResult {
        let id = self.next_id;
        self.next_id += 1;
        let future = (self.function)(record.value.clone());
        self.queue.push_back(Entry::Call {
            id,
            input: record.value,
            timestamp: record.timestamp,
            results: None,
        });
        self.in_flight += 1;
        let (done, time, waker) = (
            self.done.0.clone(),
            self.time.clone(),
            Arc::clone(&self.waker),
        );
        let timeout = self.options.timeout;
        let runtime = runtime()?;
        let call = runtime.spawn(async move { tokio::time::timeout(timeout, future).await });
        // A second task reports the call's end, so a panicking call is reported, not lost.
        runtime.spawn(async move {
            let outcome = match call.await {
                Ok(Ok(Ok(results))) => Ok(results),
                Ok(Ok(Err(error))) => Err(error.to_string()),
                Ok(Err(_)) => Err(format!(
                    "async call timed out after {} ms",
                    timeout.as_millis()
                )),
                Err(failure) if failure.is_panic() => Err(format!(
                    "async call {}",
                    crate::error::panic_message(failure.into_panic().as_ref())
                )),
                Err(failure) => Err(format!("async call failed: {failure}")),
            };
            let _ = done.send((id, outcome));
            time.wake_at(ProcessingTime::MIN);
            waker.wake();
        });
        Ok(())
    }

    fn complete(&mut self, (id, outcome): Completion<O>) -> UserResult {
        let results = outcome?;
        self.in_flight -= 1;
        for entry in self.queue.iter_mut() {
            if let Entry::Call {
                id: entry_id,
                results: slot,
                ..
            } = entry
                && *entry_id == id
            {
                *slot = Some(results);
                break;
            }
        }
        Ok(())
    }

    /// Takes every completion that arrived, without waiting.
    fn collect_completions(&mut self) -> UserResult {
        while let Ok(completion) = self.done.1.try_recv() {
            self.complete(completion)?;
        }
        Ok(())
    }

    /// Waits for one call to complete.
    fn wait_for_one(&mut self) -> UserResult {
        let patience = self.options.timeout + Duration::from_secs(5);
        match self.done.1.recv_timeout(patience) {
            Ok(completion) => self.complete(completion),
            Err(RecvTimeoutError::Timeout) => {
                Err(format!("no async call completed within {} ms", patience.as_millis()).into())
            }
            Err(RecvTimeoutError::Disconnected) => Err("the async I/O runtime stopped".into()),
        }
    }

    /// Waits until every call completed.
    fn wait_for_all(&mut self) -> UserResult {
        while self.in_flight > 0 {
            self.wait_for_one()?;
        }
        Ok(())
    }

    /// Emits what is ready: the completed head of the queue (ordered), or every completed call
    /// before the first pending watermark (unordered).
    fn emit_ready(&mut self, out: &mut Output<O>) {
        if !self.options.ordered {
            let barrier = self
                .queue
                .iter()
                .position(|e| matches!(e, Entry::Watermark(_)))
                .unwrap_or(self.queue.len());
            let mut index = 0;
            let mut end = barrier;
            while index < end {
                if matches!(
                    self.queue[index],
                    Entry::Call {
                        results: Some(_),
                        ..
                    }
                ) {
                    if let Some(Entry::Call {
                        timestamp,
                        results: Some(results),
                        ..
                    }) = self.queue.remove(index)
                    {
                        out.records
                            .extend(results.into_iter().map(|value| Record { value, timestamp }));
                    }
                    end -= 1;
                } else {
                    index += 1;
                }
            }
        }
        loop {
            match self.queue.front() {
                Some(Entry::Call {
                    results: Some(_), ..
                }) => {
                    if let Some(Entry::Call {
                        timestamp,
                        results: Some(results),
                        ..
                    }) = self.queue.pop_front()
                    {
                        out.records
                            .extend(results.into_iter().map(|value| Record { value, timestamp }));
                    }
                }
                Some(Entry::Watermark(watermark)) => {
                    out.emit_watermark(*watermark);
                    self.queue.pop_front();
                }
                _ => break,
            }
        }
    }
}

impl<I, O, F, Fut> OneInputOperator<I, O> for AsyncWaitOperator<I, O, F>
where
    I: StreamData,
    O: Send + 'static,
    F: Fn(I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = UserResult<Vec<O>>> + Send + 'static,
{
    fn process_batch(&mut self, batch: &mut Vec<Record<I>>, out: &mut Output<O>) -> UserResult {
        for record in batch.drain(..) {
            self.collect_completions()?;
            while self.in_flight >= self.options.capacity {
                self.wait_for_one()?;
            }
            self.start(record)?;
        }
        self.collect_completions()?;
        self.emit_ready(out);
        Ok(())
    }

    fn end_input(&mut self, out: &mut Output<O>) -> UserResult {
        self.wait_for_all()?;
        self.emit_ready(out);
        Ok(())
    }

    /// Emits what completed before the barrier, so the checkpoint holds only what did not.
    fn prepare_snapshot(&mut self, _checkpoint_id: u64, out: &mut Output<O>) -> UserResult {
        self.collect_completions()?;
        self.emit_ready(out);
        Ok(())
    }
}

impl<I, O, F, Fut> StreamOperator<I, O> for AsyncWaitOperator<I, O, F>
where
    I: StreamData,
    O: Send + 'static,
    F: Fn(I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = UserResult<Vec<O>>> + Send + 'static,
{
    fn process_watermark(&mut self, watermark: Watermark, out: &mut Output<O>) -> WatermarkOut {
        if watermark == Watermark::MAX {
            // The end of the input: a bounded source sends it before the final checkpoint's
            // barrier, and whatever is emitted after that barrier is never committed. Drain.
            self.wait_for_all()?;
        }
        self.collect_completions()?;
        self.emit_ready(out);
        if self.queue.is_empty() {
            return Ok(Some(watermark));
        }
        self.queue.push_back(Entry::Watermark(watermark));
        Ok(None)
    }

    fn on_processing_time(&mut self, _now: ProcessingTime, out: &mut Output<O>) -> UserResult {
        self.collect_completions()?;
        self.emit_ready(out);
        Ok(())
    }

    fn open(&mut self, ctx: &OperatorContext) -> UserResult {
        self.time = ctx.processing_time.clone();
        self.waker = Arc::clone(&ctx.task_waker);
        runtime()?;
        Ok(())
    }

    fn snapshot_state(&mut self, snapshot: &mut OperatorSnapshot) -> UserResult {
        let queued: Vec<Queued<I>> = self
            .queue
            .iter()
            .map(|entry| match entry {
                Entry::Call {
                    input, timestamp, ..
                } => Queued::Call {
                    value: input.clone(),
                    timestamp: *timestamp,
                },
                Entry::Watermark(watermark) => Queued::Watermark(*watermark),
            })
            .collect();
        let mut store = OperatorStateStore::new();
        store.list_state(QUEUE_STATE)?.update(&queued)?;
        snapshot.operator = store.snapshot();
        Ok(())
    }

    /// Issues the stored calls again, in their order, with the watermarks between them.
    fn restore_state(&mut self, restored: &OperatorSnapshot) -> UserResult {
        let mut store = OperatorStateStore::restored(restored.operator.clone());
        let queued: Vec<Queued<I>> = store.list_state(QUEUE_STATE)?.get()?;
        for entry in queued {
            match entry {
                Queued::Call { value, timestamp } => self.start(Record { value, timestamp })?,
                Queued::Watermark(watermark) => self.queue.push_back(Entry::Watermark(watermark)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::OneInputHarness;

    /// Completes after `delay` ms: later inputs finish first.
    async fn delayed(v: u64) -> UserResult<Vec<u64>> {
        tokio::time::sleep(Duration::from_millis(50 - v * 10)).await;
        Ok(vec![v * 100])
    }

    fn harness(
        options: AsyncOptions,
    ) -> OneInputHarness<u64, u64, impl OneInputOperator<u64, u64>> {
        OneInputHarness::new(AsyncWaitOperator::new(Arc::new(delayed), options))
    }

    #[test]
    fn ordered_results_keep_input_order() {
        let mut harness = harness(AsyncOptions::ordered(Duration::from_secs(5), 10));
        for v in 0..5 {
            harness.process(Record::with_timestamp(v, v as i64));
        }
        harness.end_input();
        let records = harness.take_records();
        assert_eq!(
            records.iter().map(|r| r.value).collect::<Vec<_>>(),
            vec![0, 100, 200, 300, 400]
        );
        assert_eq!(records[2].timestamp, Some(2));
    }

    #[test]
    fn unordered_results_may_overtake_but_not_across_watermarks() {
        let mut harness = harness(AsyncOptions::unordered(Duration::from_secs(5), 10));
        harness.process(Record::new(0));
        harness.process(Record::new(1));
        harness.watermark(Watermark(7));
        harness.process(Record::new(4));
        harness.end_input();
        let values: Vec<u64> = harness.take_values();
        assert_eq!(values.len(), 3);
        assert_eq!(values[2], 400, "the call after the watermark comes last");
        assert_eq!(harness.watermarks(), vec![Watermark(7)]);
    }

    #[test]
    fn a_snapshot_keeps_the_calls_in_flight_and_a_restore_issues_them_again() {
        let slow = |v: u64| async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(vec![v])
        };
        let mut original = OneInputHarness::new(AsyncWaitOperator::new(
            Arc::new(slow),
            AsyncOptions::ordered(Duration::from_secs(5), 10),
        ));
        original.process(Record::with_timestamp(1, 1));
        original.process(Record::with_timestamp(2, 2));
        original.watermark(Watermark(2));
        original.process(Record::with_timestamp(3, 3));
        let snapshot = original.snapshot();
        assert!(original.take_records().is_empty(), "nothing completed yet");

        let mut restored = harness(AsyncOptions::ordered(Duration::from_secs(5), 10));
        restored.restore(&snapshot);
        restored.end_input();
        let records = restored.take_records();
        let got: Vec<(u64, Option<i64>)> = records.iter().map(|r| (r.value, r.timestamp)).collect();
        assert_eq!(got, vec![(100, Some(1)), (200, Some(2)), (300, Some(3))]);
        assert_eq!(restored.watermarks(), vec![Watermark(2)]);
    }

    #[test]
    fn the_final_watermark_waits_for_every_call() {
        let mut harness = harness(AsyncOptions::ordered(Duration::from_secs(5), 10));
        harness.process(Record::new(1));
        harness.process(Record::new(2));
        harness.watermark(Watermark::MAX);
        assert_eq!(harness.take_values(), vec![100, 200]);
        assert_eq!(harness.watermarks(), vec![Watermark::MAX]);
    }

    #[test]
    fn a_panicking_call_fails_with_its_message() {
        let panicking = |v: u64| async move {
            assert!(v < 1, "cannot look up {v}");
            Ok(vec![v])
        };
        let mut harness = OneInputHarness::new(AsyncWaitOperator::new(
            Arc::new(panicking),
            AsyncOptions::ordered(Duration::from_secs(5), 1),
        ));
        harness.process(Record::new(0));
        harness.process(Record::new(3));
        let err = harness.try_process(Record::new(4)).unwrap_err();
        assert!(
            err.to_string()
                .contains("async call panicked: cannot look up 3"),
            "{err}"
        );
    }

    #[test]
    fn a_timeout_fails_with_a_clear_error() {
        let slow = |_: u64| async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            Ok(vec![1u64])
        };
        let mut harness = OneInputHarness::new(AsyncWaitOperator::new(
            Arc::new(slow),
            AsyncOptions::ordered(Duration::from_millis(20), 1),
        ));
        harness.process(Record::new(1));
        let err = harness.try_process(Record::new(2)).unwrap_err();
        assert!(
            err.to_string().contains("async call timed out after 20 ms"),
            "{err}"
        );
    }
}
