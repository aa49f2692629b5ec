//! The operator traits and the link that runs a one-input operator inside a chain.
//!
//! An operator is a small struct implementing [`OneInputOperator`] or [`TwoInputOperator`]:
//! process a batch, and optionally react to watermarks and the end of input. Everything else
//! — catching panics, naming the operator in errors, counting records, handing output on — is
//! done once here by [`OperatorCore`], so operators never reimplement it.

use std::sync::Arc;
use std::time::Duration;

use sluice_core::{Barrier, Record, RuntimeMode, UserResult, Watermark};

use crate::time::alignment::AlignmentRegistry;
use sluice_state::{
    BackendScope, HashMapStateBackendFactory, KeyedStore, OperatorSnapshot, OperatorStateStore,
    SnapshotRequest, StateBackendFactory, StateError,
};

use crate::checkpoint::CheckpointingMode;
use crate::error::{TaskError, guard};
use crate::exchange::input_gate::BarrierAlignment;
use crate::metrics::OperatorMetrics;
use crate::signal::{CancelToken, TaskWaker};
use crate::task::chain::{BoxedLink, ChainLink, ChainSnapshot, LinkResult};
use crate::task::output::{Mark, Output};
use crate::time::processing_time::{ProcessingTime, ProcessingTimeService};

/// Flink's default `pipeline.auto-watermark-interval`.
pub const DEFAULT_AUTO_WATERMARK_INTERVAL: Duration = Duration::from_millis(200);

/// What an operator knows about where it runs.
#[derive(Debug, Clone)]
pub struct OperatorContext {
    /// The operator's name.
    pub name: String,
    /// The operator's stable uid.
    pub uid: String,
    /// The zero-based index of this parallel instance.
    pub subtask: usize,
    /// How many parallel instances the operator has.
    pub parallelism: usize,
    /// The operator's max parallelism (number of key groups).
    pub max_parallelism: usize,
    /// The job's resolved runtime mode (`Streaming` or `Batch`).
    pub runtime_mode: RuntimeMode,
    /// How often periodic watermark generators emit (zero: never).
    pub auto_watermark_interval: Duration,
    /// The task's processing-time clock and wake-up schedule.
    pub processing_time: ProcessingTimeService,
    /// Wakes the task from other threads (asynchronous results).
    pub task_waker: Arc<TaskWaker>,
    /// The job's cancel token, for operators that wait.
    pub cancel: CancelToken,
    /// The job's watermark alignment groups.
    pub alignment: Arc<AlignmentRegistry>,
    /// This subtask's share of the operator's state when it restarts from a snapshot.
    pub restored: Option<Arc<OperatorSnapshot>>,
    /// Whether and how the job takes checkpoints (bounded sources then end with a final one;
    /// input gates align barriers for exactly-once).
    pub checkpointing: Option<CheckpointingMode>,
    /// Where keyed state lives (Flink's `state.backend.type`).
    pub state_backend: Arc<dyn StateBackendFactory>,
}

impl OperatorContext {
    /// A context for tests and single-instance use.
    pub fn single(name: &str) -> Self {
        OperatorContext {
            name: name.to_string(),
            uid: name.to_string(),
            subtask: 0,
            parallelism: 1,
            max_parallelism: sluice_core::DEFAULT_MAX_PARALLELISM,
            runtime_mode: RuntimeMode::Streaming,
            auto_watermark_interval: DEFAULT_AUTO_WATERMARK_INTERVAL,
            processing_time: ProcessingTimeService::default(),
            task_waker: TaskWaker::new(),
            cancel: CancelToken::new(),
            alignment: AlignmentRegistry::new(),
            restored: None,
            checkpointing: None,
            state_backend: Arc::new(HashMapStateBackendFactory),
        }
    }

    /// This operator instance's keyed table `name`, on its state backend.
    pub fn keyed_store<K, V>(&self, name: &str) -> Result<KeyedStore<K, V>, StateError> {
        KeyedStore::new(name, &*self.state_backend, self.backend_scope())
    }

    /// Names this operator instance to the state backend.
    pub fn backend_scope(&self) -> BackendScope<'_> {
        BackendScope {
            operator_uid: &self.uid,
            subtask: self.subtask,
            max_parallelism: self.max_parallelism,
            key_groups: self.key_groups(),
        }
    }

    /// The key groups this operator instance owns.
    pub fn key_groups(&self) -> sluice_core::key_group::KeyGroupRange {
        sluice_core::key_group::KeyGroupRange::for_subtask(
            self.max_parallelism,
            self.parallelism,
            self.subtask,
        )
    }

    /// How this operator's input gates align checkpoint barriers.
    pub fn barrier_alignment(&self) -> BarrierAlignment {
        match self.checkpointing {
            Some(CheckpointingMode::AtLeastOnce) => BarrierAlignment::Unblocked,
            _ => BarrierAlignment::Aligned,
        }
    }

    /// Whether the subtask restarts from a snapshot (Flink's `isRestored`).
    pub fn is_restored(&self) -> bool {
        self.restored.is_some()
    }

    /// The operator list states restored for this subtask (empty on a fresh start), for
    /// functions to read in `open`.
    pub fn operator_state(&self) -> OperatorStateStore {
        self.restored
            .as_ref()
            .map(|r| OperatorStateStore::restored(r.operator.clone()))
            .unwrap_or_default()
    }
}

/// What an operator does with a watermark: the watermark to forward (`None` holds it back),
/// or its error.
pub type WatermarkOut = UserResult<Option<Watermark>>;

/// What every operator has, whatever its inputs (Flink's `StreamOperator`): its life cycle and
/// its part in checkpoints. `In` and `Out` are its record types (for two inputs, the pair of
/// input types), which lets one generic operator serve several.
pub trait StreamOperator<In, Out>: Send {
    /// Called once before the first element.
    fn open(&mut self, _ctx: &OperatorContext) -> UserResult {
        Ok(())
    }

    /// Called once after the input (every input) ended and everything was emitted.
    fn close(&mut self) -> UserResult {
        Ok(())
    }

    /// Event time advanced (for two inputs: the minimum of both); returns the watermark to
    /// forward, or `None` to hold it back.
    fn process_watermark(&mut self, watermark: Watermark, _out: &mut Output<Out>) -> WatermarkOut {
        Ok(Some(watermark))
    }

    /// More output for the watermark or the end of input just processed, a part per call:
    /// called after `process_watermark` and `end_input` until it returns `false`, each part
    /// handed on before the next is asked for (and before the watermark is forwarded), so an
    /// operator firing many windows at once never holds all their rows.
    fn emit_pending(&mut self, _out: &mut Output<Out>) -> UserResult<bool> {
        Ok(false)
    }

    /// Processing time reached `now` (after a wake-up the operator asked for).
    fn on_processing_time(&mut self, _now: ProcessingTime, _out: &mut Output<Out>) -> UserResult {
        Ok(())
    }

    /// Writes the operator's state (keyed state by key group, operator lists) into `snapshot`:
    /// this subtask's part of a checkpoint.
    fn snapshot_state(&mut self, _snapshot: &mut OperatorSnapshot) -> UserResult {
        Ok(())
    }

    /// Checkpoint `checkpoint_id` completed (every task's snapshot is stored): publish what it
    /// covers — a two-phase-commit sink commits here.
    fn notify_checkpoint_complete(&mut self, _checkpoint_id: u64) -> UserResult {
        Ok(())
    }

    /// Loads what [`Self::snapshot_state`] wrote, already selected for this subtask (its key
    /// groups, its share of operator lists) — possibly written at another parallelism. Called
    /// right after `open` when the subtask restarts from a snapshot (`ctx.restored`).
    fn restore_state(&mut self, _restored: &OperatorSnapshot) -> UserResult {
        Ok(())
    }
}

/// An operator with one input.
pub trait OneInputOperator<In, Out>: StreamOperator<In, Out> {
    /// Processes (and drains) a batch of records, writing results to `out`.
    fn process_batch(&mut self, batch: &mut Vec<Record<In>>, out: &mut Output<Out>) -> UserResult;

    /// The input ended; emit anything still held (batch-mode results, buffered data).
    fn end_input(&mut self, _out: &mut Output<Out>) -> UserResult {
        Ok(())
    }

    /// A checkpoint barrier reached the operator: emit what must precede it (Flink's
    /// `prepareSnapshotPreBarrier`); a two-phase-commit sink closes its open transaction here.
    fn prepare_snapshot(&mut self, _checkpoint_id: u64, _out: &mut Output<Out>) -> UserResult {
        Ok(())
    }
}

/// An operator with two inputs of possibly different types (`connect`).
pub trait TwoInputOperator<A, B, Out>: StreamOperator<(A, B), Out> {
    /// Processes a batch from the first input.
    fn process_batch1(&mut self, batch: &mut Vec<Record<A>>, out: &mut Output<Out>) -> UserResult;

    /// Processes a batch from the second input.
    fn process_batch2(&mut self, batch: &mut Vec<Record<B>>, out: &mut Output<Out>) -> UserResult;

    /// Input `input` (1 or 2) ended.
    fn end_input(&mut self, _input: u8, _out: &mut Output<Out>) -> UserResult {
        Ok(())
    }
}

/// Runs user code of one operator safely and hands its output on.
pub struct OperatorCore<Out> {
    /// Where the operator runs.
    pub ctx: OperatorContext,
    out: Output<Out>,
    next: BoxedLink<Out>,
    metrics: Arc<OperatorMetrics>,
}

impl<Out: Send + 'static> OperatorCore<Out> {
    /// A core writing to `out`'s side outputs and to `next`.
    pub fn new(
        ctx: OperatorContext,
        out: Output<Out>,
        next: BoxedLink<Out>,
        metrics: Arc<OperatorMetrics>,
    ) -> Self {
        OperatorCore {
            ctx,
            out,
            next,
            metrics,
        }
    }

    /// Counts `n` records received.
    pub fn count_in(&self, n: usize) {
        self.metrics.add_in(n);
    }

    /// The operator's input advanced to `watermark`.
    pub fn note_input_watermark(&self, watermark: Watermark) {
        self.metrics.set_watermark_in(watermark.0);
    }

    /// Calls user code with the output buffer, turning errors and panics into a [`TaskError`]
    /// that names the operator, then hands the output on.
    pub fn call<R>(
        &mut self,
        f: impl FnOnce(&mut Output<Out>) -> UserResult<R>,
    ) -> Result<R, TaskError> {
        let out = &mut self.out;
        let result = guard(&self.ctx.name, || f(out))?;
        self.forward()?;
        Ok(result)
    }

    /// Calls `f` until it returns `false`, handing on each call's output.
    pub fn drain(&mut self, mut f: impl FnMut(&mut Output<Out>) -> UserResult<bool>) -> LinkResult {
        while self.call(&mut f)? {}
        Ok(())
    }

    fn forward(&mut self) -> LinkResult {
        if self.out.marks.is_empty() {
            return self.forward_records();
        }
        let marks = std::mem::take(&mut self.out.marks);
        let mut records = std::mem::take(&mut self.out.records);
        let mut sent = 0;
        for (position, mark) in marks {
            self.out.records.extend(records.drain(..position - sent));
            sent = position;
            self.forward_records()?;
            match mark {
                Mark::Watermark(watermark) => self.emit_watermark(watermark)?,
                Mark::Status(active) => self.emit_status(active)?,
            }
        }
        self.out.records.append(&mut records);
        self.forward_records()
    }

    fn forward_records(&mut self) -> LinkResult {
        if !self.out.records.is_empty() {
            self.metrics.add_out(self.out.records.len());
            self.next.on_batch(&mut self.out.records)?;
        }
        self.out.sides.forward(&self.ctx.name)
    }

    /// Opens the operator (`step(None, ctx)`), restores it (`step(Some(snapshot), ctx)`) when
    /// the subtask restarts from a snapshot, then opens the links after it.
    pub fn open_operator(
        &mut self,
        mut step: impl FnMut(Option<&OperatorSnapshot>, &OperatorContext) -> UserResult,
    ) -> LinkResult {
        let ctx = self.ctx.clone();
        self.call(|_| step(None, &ctx))?;
        if let Some(restored) = &ctx.restored {
            self.call(|_| step(Some(restored), &ctx))?;
        }
        self.open_next()
    }

    /// Opens the links after this operator.
    pub fn open_next(&mut self) -> LinkResult {
        self.next.open()?;
        self.out.sides.control(|link| link.open())
    }

    /// Forwards a watermark to the main and side outputs.
    pub fn emit_watermark(&mut self, watermark: Watermark) -> LinkResult {
        self.metrics.set_watermark_out(watermark.0);
        self.next.on_watermark(watermark)?;
        self.out.sides.control(|link| link.on_watermark(watermark))
    }

    /// Forwards an idle/active status change.
    pub fn emit_status(&mut self, active: bool) -> LinkResult {
        self.next.on_status(active)?;
        self.out.sides.control(|link| link.on_status(active))
    }

    /// Forwards the end of input.
    pub fn emit_end_of_input(&mut self) -> LinkResult {
        self.next.on_end_of_input()?;
        self.out.sides.control(|link| link.on_end_of_input())
    }

    /// Forwards processing time to the links after this operator.
    pub fn emit_processing_time(&mut self, now: ProcessingTime) -> LinkResult {
        self.next.on_processing_time(now)?;
        self.out.sides.control(|link| link.on_processing_time(now))
    }

    /// Flushes the links after this operator.
    pub fn flush_next(&mut self) -> LinkResult {
        self.next.flush()?;
        self.out.sides.control(|link| link.flush())
    }

    /// Closes the links after this operator.
    pub fn close_next(&mut self) -> LinkResult {
        self.next.close()?;
        self.out.sides.control(|link| link.close())
    }

    /// A barrier: lets the operator prepare and snapshot (through `snapshot`, given the
    /// checkpoint id and the output for records that must precede the barrier), stores the
    /// snapshot under its uid, then hands the barrier to the links after it.
    pub fn on_barrier(
        &mut self,
        barrier: Barrier,
        into: &mut ChainSnapshot,
        snapshot: impl FnOnce(u64, &mut Output<Out>, &mut OperatorSnapshot) -> UserResult,
    ) -> LinkResult {
        let mut state = OperatorSnapshot::for_request(SnapshotRequest {
            checkpoint_id: barrier.checkpoint_id,
            savepoint: barrier.savepoint,
        });
        self.call(|out| snapshot(barrier.checkpoint_id, out, &mut state))?;
        into.insert(self.ctx.uid.clone(), state);
        self.next.on_barrier(barrier, into)?;
        self.out
            .sides
            .control(|link| link.on_barrier(barrier, into))
    }

    /// A completed checkpoint: tells the operator (through `notify`), then the links after it.
    pub fn notify_checkpoint_complete(
        &mut self,
        checkpoint_id: u64,
        notify: impl FnOnce(u64) -> UserResult,
    ) -> LinkResult {
        self.call(|_| notify(checkpoint_id))?;
        self.next.notify_checkpoint_complete(checkpoint_id)?;
        self.out
            .sides
            .control(|link| link.notify_checkpoint_complete(checkpoint_id))
    }
}

/// A one-input operator as a link of a chain.
pub struct OperatorLink<In, Out, Op> {
    op: Op,
    core: OperatorCore<Out>,
    _input: std::marker::PhantomData<fn(In)>,
}

impl<In, Out, Op> OperatorLink<In, Out, Op>
where
    In: Send + 'static,
    Out: Send + 'static,
    Op: OneInputOperator<In, Out> + 'static,
{
    /// Wraps `op` so it can run in a chain.
    pub fn boxed(op: Op, core: OperatorCore<Out>) -> BoxedLink<In> {
        Box::new(OperatorLink {
            op,
            core,
            _input: std::marker::PhantomData,
        })
    }
}

impl<In, Out, Op> ChainLink<In> for OperatorLink<In, Out, Op>
where
    In: Send + 'static,
    Out: Send + 'static,
    Op: OneInputOperator<In, Out>,
{
    fn open(&mut self) -> LinkResult {
        let op = &mut self.op;
        self.core.open_operator(|restored, ctx| match restored {
            None => op.open(ctx),
            Some(restored) => op.restore_state(restored),
        })
    }

    fn on_batch(&mut self, batch: &mut Vec<Record<In>>) -> LinkResult {
        self.core.count_in(batch.len());
        self.core.call(|out| self.op.process_batch(batch, out))
    }

    fn on_watermark(&mut self, watermark: Watermark) -> LinkResult {
        self.core.note_input_watermark(watermark);
        let forward = self
            .core
            .call(|out| self.op.process_watermark(watermark, out))?;
        let op = &mut self.op;
        self.core.drain(|out| op.emit_pending(out))?;
        match forward {
            Some(forward) => self.core.emit_watermark(forward),
            None => Ok(()),
        }
    }

    fn on_status(&mut self, active: bool) -> LinkResult {
        self.core.emit_status(active)
    }

    fn on_end_of_input(&mut self) -> LinkResult {
        self.core.call(|out| self.op.end_input(out))?;
        let op = &mut self.op;
        self.core.drain(|out| op.emit_pending(out))?;
        self.core.emit_end_of_input()
    }

    fn on_processing_time(&mut self, now: ProcessingTime) -> LinkResult {
        self.core.call(|out| self.op.on_processing_time(now, out))?;
        self.core.emit_processing_time(now)
    }

    fn flush(&mut self) -> LinkResult {
        self.core.flush_next()
    }

    fn close(&mut self) -> LinkResult {
        self.core.call(|_| self.op.close())?;
        self.core.close_next()
    }

    fn on_barrier(&mut self, barrier: Barrier, into: &mut ChainSnapshot) -> LinkResult {
        let op = &mut self.op;
        self.core.on_barrier(barrier, into, |id, out, state| {
            op.prepare_snapshot(id, out)?;
            op.snapshot_state(state)
        })
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> LinkResult {
        let op = &mut self.op;
        self.core
            .notify_checkpoint_complete(checkpoint_id, |id| op.notify_checkpoint_complete(id))
    }
}
