//! Tasks: one subtask of an operator chain, run on its own thread.
//!
//! The task loop is a mailbox: take what input is available, hand it to the chain, flush output
//! buffers when the buffer timeout passed or when there is nothing to do, and sleep on the
//! task's waker when idle. It checks the job's cancel token on every turn, so no task outlives a
//! cancelled or failed job.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_core::{Barrier, StreamData};
use sluice_state::InFlightData;

use crate::checkpoint::{TaskCheckpoints, TaskMessage};
use crate::error::TaskError;
use crate::exchange::input_gate::{GateEvent, InputGate};
use crate::metrics::TaskMetrics;
use crate::signal::{CANCEL_CHECK_INTERVAL, CancelToken, TaskWaker};
use crate::task::chain::{BoxedLink, ChainSnapshot, LinkResult};
use crate::task::operator::TwoInputOperator;
use crate::task::two_input::TwoInputDriver;
use crate::time::processing_time::{ProcessingTime, ProcessingTimeService};

/// What a task's input had.
#[derive(Debug, Clone, PartialEq)]
pub enum InputStatus {
    /// Something was processed; more may be available.
    MoreAvailable,
    /// A checkpoint barrier arrived on every input: the chain's state at it, already snapshotted
    /// (the barrier went on downstream).
    Checkpointed(Barrier, ChainSnapshot),
    /// A bounded source read everything and waits for the final checkpoint's trigger.
    AwaitingFinalCheckpoint,
    /// Nothing is available now; the task may sleep for up to the given time.
    NothingAvailable(Duration),
    /// The input ended and end of input went down the chain.
    Finished,
}

/// The head of a task: where its elements come from.
pub trait TaskInput: Send {
    /// Opens the chain.
    fn open(&mut self) -> LinkResult;
    /// Processes the next available input.
    fn poll(&mut self) -> Result<InputStatus, TaskError>;
    /// Processing time reached `now`.
    fn on_processing_time(&mut self, now: ProcessingTime) -> LinkResult;
    /// Sends on buffered output.
    fn flush(&mut self) -> LinkResult;
    /// Closes the chain after the input finished.
    fn close(&mut self) -> LinkResult;
    /// The coordinator triggers a checkpoint: a source snapshots its reader and chain and emits
    /// the barrier (and, with `end_after`, ends); other inputs wait for barriers from upstream
    /// and return `None`.
    fn trigger_checkpoint(
        &mut self,
        _barrier: Barrier,
        _end_after: bool,
    ) -> Result<Option<ChainSnapshot>, TaskError> {
        Ok(None)
    }
    /// Checkpoint `checkpoint_id` completed.
    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> LinkResult;
    /// How long the barrier of the last checkpoint this input reported took to align: from
    /// its arrival on the first channel to the snapshot (zero for sources).
    fn last_alignment(&self) -> Duration {
        Duration::ZERO
    }
}

/// The time since `start` (zero without one).
fn since(start: Option<Instant>) -> Duration {
    start.map_or(Duration::ZERO, |start| start.elapsed())
}

/// A task's snapshot at the first barrier of an unaligned checkpoint, waiting for the
/// in-flight data of each of its inputs.
struct PendingUnaligned {
    barrier: Barrier,
    snapshot: ChainSnapshot,
    inputs: Vec<Option<Vec<Vec<u8>>>>,
}

impl PendingUnaligned {
    fn new(barrier: Barrier, snapshot: ChainSnapshot, inputs: usize) -> Self {
        PendingUnaligned {
            barrier,
            snapshot,
            inputs: vec![None; inputs],
        }
    }

    /// Input `input`'s gate finished recording checkpoint `id`.
    fn input_done(&mut self, input: usize, (id, channels): (u64, Vec<Vec<u8>>)) {
        if id == self.barrier.checkpoint_id {
            self.inputs[input] = Some(channels);
        }
    }

    /// The checkpoint's barrier and the task's snapshot, the in-flight data stored with the
    /// head operator `head_uid` — once every input's data is in.
    fn complete(self, head_uid: &str) -> Result<(Barrier, ChainSnapshot), Self> {
        if self.inputs.iter().any(Option::is_none) {
            return Err(self);
        }
        let mut snapshot = self.snapshot;
        snapshot.entry(head_uid.to_string()).or_default().in_flight = InFlightData {
            inputs: self.inputs.into_iter().flatten().collect(),
        };
        Ok((self.barrier, snapshot))
    }
}

/// Completes `pending` if every input's in-flight data is in; otherwise keeps it.
fn complete_unaligned(
    pending: &mut Option<PendingUnaligned>,
    head_uid: &str,
) -> Option<InputStatus> {
    match pending.take()?.complete(head_uid) {
        Ok((barrier, snapshot)) => Some(InputStatus::Checkpointed(barrier, snapshot)),
        Err(waiting) => {
            *pending = Some(waiting);
            None
        }
    }
}

/// A one-input chain fed by one input gate.
pub struct OneInputProcessor<T> {
    gate: InputGate<T>,
    head: BoxedLink<T>,
    head_uid: String,
    unaligned: Option<PendingUnaligned>,
    /// How long the last barrier took to align.
    alignment: Duration,
}

impl<T> OneInputProcessor<T> {
    /// Feeds `head`, the chain headed by operator `head_uid`, from `gate`.
    pub fn new(gate: InputGate<T>, head: BoxedLink<T>, head_uid: String) -> Self {
        OneInputProcessor {
            gate,
            head,
            head_uid,
            unaligned: None,
            alignment: Duration::ZERO,
        }
    }

    /// The in-flight data of the gate, if the unaligned checkpoint it recorded is complete.
    fn finish_unaligned(&mut self) -> Option<InputStatus> {
        let pending = self.unaligned.as_mut()?;
        pending.input_done(0, self.gate.take_in_flight()?);
        complete_unaligned(&mut self.unaligned, &self.head_uid)
    }
}

impl<T: StreamData> TaskInput for OneInputProcessor<T> {
    fn open(&mut self) -> LinkResult {
        self.head.open()
    }

    fn poll(&mut self) -> Result<InputStatus, TaskError> {
        if let Some(checkpointed) = self.finish_unaligned() {
            return Ok(checkpointed);
        }
        match self.gate.poll()? {
            GateEvent::Records(mut batch) => self.head.on_batch(&mut batch)?,
            GateEvent::Watermark(watermark) => self.head.on_watermark(watermark)?,
            GateEvent::Status(active) => self.head.on_status(active)?,
            GateEvent::Barrier(barrier) => {
                self.alignment = since(self.gate.alignment_started());
                let mut snapshot = ChainSnapshot::new();
                self.head.on_barrier(barrier, &mut snapshot)?;
                if !barrier.unaligned {
                    return Ok(InputStatus::Checkpointed(barrier, snapshot));
                }
                self.unaligned = Some(PendingUnaligned::new(barrier, snapshot, 1));
                if let Some(checkpointed) = self.finish_unaligned() {
                    return Ok(checkpointed);
                }
            }
            GateEvent::Finished => {
                self.head.on_end_of_input()?;
                return Ok(InputStatus::Finished);
            }
            GateEvent::Nothing => return Ok(InputStatus::NothingAvailable(CANCEL_CHECK_INTERVAL)),
        }
        Ok(InputStatus::MoreAvailable)
    }

    fn on_processing_time(&mut self, now: ProcessingTime) -> LinkResult {
        self.head.on_processing_time(now)
    }

    fn flush(&mut self) -> LinkResult {
        self.head.flush()
    }

    fn close(&mut self) -> LinkResult {
        self.head.close()
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> LinkResult {
        self.head.notify_checkpoint_complete(checkpoint_id)
    }

    fn last_alignment(&self) -> Duration {
        self.alignment
    }
}

/// A two-input operator fed by two gates.
pub struct TwoInputProcessor<A, B, Out, Op> {
    gate1: InputGate<A>,
    gate2: InputGate<B>,
    driver: TwoInputDriver<A, B, Out, Op>,
    prefer_second: bool,
    /// The barrier being aligned across both inputs, and which delivered it.
    aligning: Option<(Barrier, [bool; 2])>,
    /// How long the last barrier took to align across both inputs.
    alignment: Duration,
    /// A barrier aligned on both inputs, with the chain's snapshot at it.
    checkpointed: Option<(Barrier, ChainSnapshot)>,
    head_uid: String,
    unaligned: Option<PendingUnaligned>,
}

impl<A, B, Out, Op> TwoInputProcessor<A, B, Out, Op> {
    /// Feeds `driver`, whose operator has uid `head_uid`, from two gates.
    pub fn new(
        gate1: InputGate<A>,
        gate2: InputGate<B>,
        driver: TwoInputDriver<A, B, Out, Op>,
        head_uid: String,
    ) -> Self {
        TwoInputProcessor {
            gate1,
            gate2,
            driver,
            prefer_second: false,
            aligning: None,
            alignment: Duration::ZERO,
            checkpointed: None,
            head_uid,
            unaligned: None,
        }
    }
}

impl<A, B, Out, Op> TwoInputProcessor<A, B, Out, Op>
where
    A: StreamData,
    B: StreamData,
    Out: Send + 'static,
    Op: TwoInputOperator<A, B, Out>,
{
    /// Handles one event of input `input` (1 or 2); returns whether anything happened.
    fn handle(&mut self, input: u8) -> Result<bool, TaskError> {
        if input == 1 {
            self.handle1()
        } else {
            self.handle2()
        }
    }

    /// Input `input` delivered `barrier`: hold it until the other input delivers it too (or
    /// ended), then snapshot. An unaligned checkpoint's first barrier is snapshotted at once,
    /// and both gates record their in-flight data for it.
    fn barrier_arrived(&mut self, input: u8, barrier: Barrier) -> LinkResult {
        if barrier.unaligned {
            return self.unaligned_barrier_arrived(barrier);
        }
        let index = usize::from(input - 1);
        let delivered = match &mut self.aligning {
            Some((current, delivered)) if current.checkpoint_id == barrier.checkpoint_id => {
                delivered
            }
            Some((current, _)) if current.checkpoint_id > barrier.checkpoint_id => return Ok(()),
            _ => &mut self.aligning.insert((barrier, [false; 2])).1,
        };
        delivered[index] = true;
        let done = [
            delivered[0] || self.gate1.is_finished(),
            delivered[1] || self.gate2.is_finished(),
        ];
        if done == [true, true] {
            // From the first channel of either input that delivered the barrier.
            let starts = [
                delivered[0].then(|| self.gate1.alignment_started()),
                delivered[1].then(|| self.gate2.alignment_started()),
            ];
            self.alignment = since(starts.into_iter().flatten().flatten().min());
            self.aligning = None;
            self.gate1.release();
            self.gate2.release();
            let mut snapshot = ChainSnapshot::new();
            self.driver.on_barrier(barrier, &mut snapshot)?;
            self.checkpointed = Some((barrier, snapshot));
        } else if input == 1 {
            self.gate1.hold();
        } else {
            self.gate2.hold();
        }
        Ok(())
    }

    fn unaligned_barrier_arrived(&mut self, barrier: Barrier) -> LinkResult {
        if self
            .unaligned
            .as_ref()
            .is_some_and(|p| p.barrier.checkpoint_id >= barrier.checkpoint_id)
        {
            return Ok(());
        }
        self.aligning = None;
        // Snapshotted at its first barrier: it does not align.
        self.alignment = Duration::ZERO;
        self.gate1.release();
        self.gate2.release();
        let mut snapshot = ChainSnapshot::new();
        self.driver.on_barrier(barrier, &mut snapshot)?;
        self.unaligned = Some(PendingUnaligned::new(barrier, snapshot, 2));
        self.gate1.begin_unaligned(barrier);
        self.gate2.begin_unaligned(barrier);
        Ok(())
    }

    /// The task's snapshot with both gates' in-flight data, once both finished recording.
    fn finish_unaligned(&mut self) -> Option<InputStatus> {
        let pending = self.unaligned.as_mut()?;
        if let Some(done) = self.gate1.take_in_flight() {
            pending.input_done(0, done);
        }
        if let Some(done) = self.gate2.take_in_flight() {
            pending.input_done(1, done);
        }
        complete_unaligned(&mut self.unaligned, &self.head_uid)
    }

    /// Handles one event of the first input; returns whether anything happened.
    fn handle1(&mut self) -> Result<bool, TaskError> {
        match self.gate1.poll()? {
            GateEvent::Records(mut batch) => self.driver.on_batch1(&mut batch)?,
            GateEvent::Watermark(watermark) => self.driver.on_watermark(1, watermark)?,
            GateEvent::Barrier(barrier) => self.barrier_arrived(1, barrier)?,
            GateEvent::Finished if !self.driver.input_ended(1) => self.driver.on_end_of_input(1)?,
            GateEvent::Status(_) | GateEvent::Finished | GateEvent::Nothing => return Ok(false),
        }
        Ok(true)
    }

    /// Handles one event of the second input; returns whether anything happened.
    fn handle2(&mut self) -> Result<bool, TaskError> {
        match self.gate2.poll()? {
            GateEvent::Records(mut batch) => self.driver.on_batch2(&mut batch)?,
            GateEvent::Watermark(watermark) => self.driver.on_watermark(2, watermark)?,
            GateEvent::Barrier(barrier) => self.barrier_arrived(2, barrier)?,
            GateEvent::Finished if !self.driver.input_ended(2) => self.driver.on_end_of_input(2)?,
            GateEvent::Status(_) | GateEvent::Finished | GateEvent::Nothing => return Ok(false),
        }
        Ok(true)
    }
}

impl<A, B, Out, Op> TaskInput for TwoInputProcessor<A, B, Out, Op>
where
    A: StreamData,
    B: StreamData,
    Out: Send + 'static,
    Op: TwoInputOperator<A, B, Out>,
{
    fn open(&mut self) -> LinkResult {
        self.driver.open()
    }

    fn poll(&mut self) -> Result<InputStatus, TaskError> {
        self.prefer_second = !self.prefer_second;
        let (first, second) = if self.prefer_second { (2, 1) } else { (1, 2) };
        let progressed = self.handle(first)? || self.handle(second)?;
        if let Some((barrier, snapshot)) = self.checkpointed.take() {
            return Ok(InputStatus::Checkpointed(barrier, snapshot));
        }
        if let Some(checkpointed) = self.finish_unaligned() {
            return Ok(checkpointed);
        }
        if self.aligning.is_some() && (self.gate1.is_finished() || self.gate2.is_finished()) {
            // The input still awaited ended: the barrier is complete.
            if let Some((barrier, delivered)) = self.aligning {
                let input = if delivered[0] { 1 } else { 2 };
                self.barrier_arrived(input, barrier)?;
                if let Some((barrier, snapshot)) = self.checkpointed.take() {
                    return Ok(InputStatus::Checkpointed(barrier, snapshot));
                }
            }
        }
        if self.driver.is_finished() {
            Ok(InputStatus::Finished)
        } else if progressed {
            Ok(InputStatus::MoreAvailable)
        } else {
            Ok(InputStatus::NothingAvailable(CANCEL_CHECK_INTERVAL))
        }
    }

    fn on_processing_time(&mut self, now: ProcessingTime) -> LinkResult {
        self.driver.on_processing_time(now)
    }

    fn flush(&mut self) -> LinkResult {
        self.driver.flush()
    }

    fn close(&mut self) -> LinkResult {
        self.driver.close()
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> LinkResult {
        self.driver.notify_checkpoint_complete(checkpoint_id)
    }

    fn last_alignment(&self) -> Duration {
        self.alignment
    }
}

/// One subtask ready to run.
pub struct Task {
    /// The task's (chain's) name.
    pub name: String,
    /// The zero-based subtask index.
    pub subtask: usize,
    /// The task's parallelism.
    pub parallelism: usize,
    /// Where the task's elements come from.
    pub input: Box<dyn TaskInput>,
    /// The waker its channels signal.
    pub waker: Arc<TaskWaker>,
    /// The job's cancel token.
    pub cancel: CancelToken,
    /// How long output may wait in a partly filled buffer; `None` waits until it is full.
    pub buffer_timeout: Option<Duration>,
    /// The task's clock and wake-up schedule, shared with its operators.
    pub processing_time: ProcessingTimeService,
    /// The task's line to the checkpoint coordinator, when the job checkpoints.
    pub checkpoints: Option<TaskCheckpoints>,
    /// The task's counters (the time it waits for input goes here).
    pub metrics: Arc<TaskMetrics>,
}

impl Task {
    /// Handles what the coordinator posted: triggers (sources) and completions.
    fn handle_checkpoint_messages(&mut self) -> LinkResult {
        let Some(checkpoints) = self.checkpoints.as_mut() else {
            return Ok(());
        };
        for message in checkpoints.take_messages() {
            match message {
                TaskMessage::Trigger { barrier, end_after } => {
                    if let Some(snapshot) = self.input.trigger_checkpoint(barrier, end_after)? {
                        checkpoints.acknowledge(barrier, snapshot);
                    }
                }
                TaskMessage::Complete(id) => {
                    self.input.notify_checkpoint_complete(id)?;
                    checkpoints.completed(id);
                }
            }
        }
        Ok(())
    }

    /// Waits for input (or its next timer) at most `wait`, counting the time as idle.
    fn idle(&self, wait: Duration) {
        let since = Instant::now();
        self.waker.wait(self.processing_time.sleep_bound(wait));
        self.metrics.add_idle(since.elapsed());
    }

    /// Runs the task to completion, failure or cancellation.
    pub fn run(mut self) -> Result<(), TaskError> {
        let result = self.run_to_end();
        // Only a task that ended well has no state left to checkpoint; a failed one fails the
        // job, and its checkpoints in flight never complete.
        if let (Ok(()), Some(checkpoints)) = (&result, &self.checkpoints) {
            checkpoints.report_finished();
        }
        result
    }

    fn run_to_end(&mut self) -> Result<(), TaskError> {
        self.input.open()?;
        let mut last_flush = Instant::now();
        loop {
            if self.cancel.is_cancelled() {
                return Err(TaskError::Cancelled);
            }
            self.handle_checkpoint_messages()?;
            if let Some(now) = self.processing_time.take_due() {
                self.input.on_processing_time(now)?;
            }
            let polled = Instant::now();
            match self.input.poll()? {
                InputStatus::Checkpointed(barrier, snapshot) => {
                    self.metrics.set_alignment(self.input.last_alignment());
                    if let Some(checkpoints) = self.checkpoints.as_mut() {
                        checkpoints.acknowledge(barrier, snapshot);
                    }
                }
                InputStatus::AwaitingFinalCheckpoint => {
                    if let Some(checkpoints) = self.checkpoints.as_mut() {
                        checkpoints.report_source_ended();
                    }
                    self.input.flush()?;
                    self.idle(CANCEL_CHECK_INTERVAL);
                }
                InputStatus::MoreAvailable => {
                    if let Some(timeout) = self.buffer_timeout
                        && last_flush.elapsed() >= timeout
                    {
                        self.input.flush()?;
                        last_flush = Instant::now();
                    }
                }
                InputStatus::NothingAvailable(wait) => {
                    // A poll that found nothing waited (a source's reader may block in it).
                    self.metrics.add_idle(polled.elapsed());
                    if self.buffer_timeout.is_some() {
                        self.input.flush()?;
                        last_flush = Instant::now();
                    }
                    self.idle(wait);
                }
                InputStatus::Finished => break,
            }
        }
        // The last checkpoint this task took part in covers its end: wait until it completes,
        // so two-phase-commit sinks commit everything before the task closes.
        while self
            .checkpoints
            .as_ref()
            .is_some_and(TaskCheckpoints::awaits_completion)
        {
            if self.cancel.is_cancelled() {
                return Err(TaskError::Cancelled);
            }
            self.handle_checkpoint_messages()?;
            self.waker.wait(CANCEL_CHECK_INTERVAL);
        }
        self.input.close()?;
        self.input.flush()
    }
}
