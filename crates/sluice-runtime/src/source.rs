//! The source API and the task input that drives a source reader.
//!
//! As in Flink's FLIP-27 sources, a [`Source`] splits its input into splits once per job, and
//! each parallel subtask runs a [`SourceReader`] that is handed splits one at a time, on demand,
//! from a queue shared by all readers — so fast readers take more splits and the load balances.
//! A bounded source ends (with a final `Watermark::MAX`) when the queue is empty and its reader
//! finished its last split; an unbounded source never ends.
//!
//! Sources are where checkpoints start: on a trigger, a reader snapshots the splits it reads
//! with their positions (the [`SplitAssigner`] adds the splits no reader holds), and the barrier
//! follows the records emitted so far. A restored job hands every saved split out again. When
//! the job checkpoints, a bounded source that read everything emits `Watermark::MAX`, waits for
//! the final checkpoint, and ends after its barrier.

use std::any::Any;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sluice_core::{Barrier, Record, Timestamp, UserResult, Watermark};
use sluice_state::{OperatorSnapshot, OperatorStateStore};

use crate::checkpoint::{SOURCE_SPLITS_STATE, SplitAssigner};
use crate::error::{TaskError, guard};
use crate::metrics::OperatorMetrics;
use crate::task::chain::{BoxedLink, ChainSnapshot, LinkResult};
use crate::task::operator::OperatorContext;
use crate::task::{InputStatus, TaskInput};
use crate::time::split_watermarks::{SplitEvent, SplitWatermarks};
use crate::time::watermarks::WatermarkStrategy;

/// Whether a source ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boundedness {
    /// The source ends after its last split.
    Bounded,
    /// The source runs until the job is cancelled.
    Unbounded,
}

/// A parallel source of records of type `T`.
pub trait Source<T>: Send + Sync + 'static {
    /// A unit of work a reader can take (a file range, a partition, a number range); with its
    /// position inside it, it is what a checkpoint stores.
    type Split: Clone + Send + Serialize + DeserializeOwned + 'static;
    /// The reader of one subtask.
    type Reader: SourceReader<T, Self::Split>;

    /// Whether the source ends.
    fn boundedness(&self) -> Boundedness;

    /// Whether its readers can snapshot their positions, so a job reading it can checkpoint;
    /// a job with checkpointing refuses to start on a source that cannot.
    fn supports_checkpoints(&self) -> bool {
        true
    }

    /// Splits the input for `parallelism` readers; called once per job, before any reader
    /// starts, so a bad input (a missing file) fails the job before it runs.
    fn create_splits(&self, parallelism: usize) -> UserResult<Vec<Self::Split>>;

    /// Creates the reader of the subtask described by `ctx`.
    fn create_reader(&self, ctx: &OperatorContext) -> UserResult<Self::Reader>;
}

/// Reads the splits assigned to one subtask.
pub trait SourceReader<T, S>: Send + 'static {
    /// Starts reading `split`; called when the reader has no split in progress.
    fn add_split(&mut self, split: S) -> UserResult;

    /// Emits what is available (up to a batch) into `output`. Must not block for long: return
    /// `NothingAvailable` and be polled again.
    fn poll_next(&mut self, output: &mut SourceOutput<'_, T>) -> UserResult<ReaderStatus>;

    /// How many splits the reader works on at once (it is given more while it has fewer);
    /// readers of partitioned systems read several at once.
    fn max_concurrent_splits(&self) -> usize {
        1
    }

    /// The splits the reader has not finished, each with its current position, for a
    /// checkpoint: a restored job reads on from there. Readers that cannot replay (a socket)
    /// return what they can and document it; the default refuses checkpoints.
    fn snapshot_state(&mut self) -> UserResult<Vec<S>> {
        Err("this source cannot be checkpointed (its reader does not snapshot its splits)".into())
    }
}

/// What a reader's poll found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderStatus {
    /// More records are ready.
    MoreAvailable,
    /// Nothing right now (an unbounded source waiting for data).
    NothingAvailable,
    /// The current split is done; the reader wants another.
    SplitFinished,
}

/// Where a reader puts records.
pub struct SourceOutput<'a, T> {
    records: &'a mut Vec<Record<T>>,
    batch_size: usize,
    split_events: Vec<(usize, SplitEvent)>,
}

impl<'a, T> SourceOutput<'a, T> {
    /// An output appending to `records`, reporting full at `batch_size` records.
    pub fn new(records: &'a mut Vec<Record<T>>, batch_size: usize) -> Self {
        SourceOutput {
            records,
            batch_size,
            split_events: Vec::new(),
        }
    }

    /// The records emitted from now on belong to split `id` (for per-split watermarks; a
    /// reader working on one split at a time need not call it).
    pub fn set_split(&mut self, id: u64) {
        self.split_events
            .push((self.records.len(), SplitEvent::Switch(id)));
    }

    /// Split `id` has no more records: it stops holding back the watermark.
    pub fn finish_split(&mut self, id: u64) {
        self.split_events
            .push((self.records.len(), SplitEvent::Finished(id)));
    }

    /// Emits a value without a timestamp.
    pub fn collect(&mut self, value: T) {
        self.records.push(Record::new(value));
    }

    /// Emits a value with an event-time timestamp.
    pub fn collect_with_timestamp(&mut self, value: T, timestamp: Timestamp) {
        self.records.push(Record::with_timestamp(value, timestamp));
    }

    /// Whether a batch is full: the reader should return and be polled again.
    pub fn is_full(&self) -> bool {
        self.records.len() >= self.batch_size
    }
}

/// The splits of one source, shared by its readers.
pub type SplitQueue<S> = Arc<Mutex<SplitAssigner<S>>>;

/// How long a source task sleeps when its reader has nothing.
const SOURCE_IDLE_WAIT: Duration = Duration::from_millis(1);

/// Drives one reader of a source as the head of a task.
pub struct SourceProcessor<T, Src: Source<T>> {
    source: Arc<Src>,
    ctx: OperatorContext,
    splits: SplitQueue<Src::Split>,
    reader: Option<Src::Reader>,
    active_splits: usize,
    current_split: u64,
    watermarks: Option<SplitWatermarks<T>>,
    strategy: Option<WatermarkStrategy<T>>,
    head: BoxedLink<T>,
    buffer: Vec<Record<T>>,
    batch_size: usize,
    metrics: Arc<OperatorMetrics>,
    /// Read everything and emitted `Watermark::MAX`; waits for the final checkpoint.
    read_all: bool,
    /// The final checkpoint's barrier and the end of input went out.
    ended: bool,
}

impl<T: Send + 'static, Src: Source<T>> SourceProcessor<T, Src> {
    /// A processor reading splits from `splits` (made by [`prepare_splits`]).
    pub fn new(
        source: Arc<Src>,
        ctx: OperatorContext,
        splits: &Arc<dyn Any + Send + Sync>,
        head: BoxedLink<T>,
        batch_size: usize,
        metrics: Arc<OperatorMetrics>,
        strategy: Option<WatermarkStrategy<T>>,
    ) -> Result<Self, TaskError> {
        let splits = splits
            .downcast_ref::<SplitQueue<Src::Split>>()
            .cloned()
            .ok_or_else(|| TaskError::Internal("source splits of the wrong type".into()))?;
        Ok(SourceProcessor {
            source,
            ctx,
            splits,
            reader: None,
            active_splits: 0,
            current_split: 0,
            watermarks: None,
            strategy,
            head,
            buffer: Vec::with_capacity(
                batch_size.min(crate::exchange::record_writer::PREALLOCATED_RECORDS),
            ),
            batch_size,
            metrics,
            read_all: false,
            ended: false,
        })
    }

    /// Hands the batch to the chain; with per-split watermarks, stamps each record and emits
    /// watermarks between the records as the splits' minimum rises.
    fn emit(&mut self, events: Vec<(usize, SplitEvent)>) -> LinkResult {
        if self.buffer.is_empty() && events.is_empty() {
            return Ok(());
        }
        self.metrics.add_out(self.buffer.len());
        if self.watermarks.is_none() {
            return self.head.on_batch(&mut self.buffer);
        }
        let mut records = std::mem::take(&mut self.buffer);
        let mut pending = Vec::with_capacity(records.len());
        let mut events = events.into_iter().peekable();
        for (index, mut record) in records.drain(..).enumerate() {
            while let Some((_, event)) = events.next_if(|(at, _)| *at <= index) {
                self.apply_split_event(event, &mut pending)?;
            }
            let split = self.current_split;
            let risen = self
                .watermarks
                .as_mut()
                .and_then(|w| w.on_record(split, &mut record));
            pending.push(record);
            if let Some(watermark) = risen {
                self.forward_watermark(&mut pending, watermark)?;
            }
        }
        for (_, event) in events {
            self.apply_split_event(event, &mut pending)?;
        }
        if !pending.is_empty() {
            self.head.on_batch(&mut pending)?;
        }
        self.buffer = records;
        Ok(())
    }

    fn apply_split_event(&mut self, event: SplitEvent, pending: &mut Vec<Record<T>>) -> LinkResult {
        let risen = match event {
            SplitEvent::Switch(id) => {
                self.current_split = id;
                None
            }
            SplitEvent::Finished(id) => self
                .watermarks
                .as_mut()
                .and_then(|w| w.on_split_finished(id)),
        };
        match risen {
            Some(watermark) => self.forward_watermark(pending, watermark),
            None => Ok(()),
        }
    }

    /// Sends the records before a watermark, then the watermark.
    fn forward_watermark(
        &mut self,
        pending: &mut Vec<Record<T>>,
        watermark: Watermark,
    ) -> LinkResult {
        if !pending.is_empty() {
            self.head.on_batch(pending)?;
        }
        self.head.on_watermark(watermark)
    }

    fn finish(&mut self) -> Result<InputStatus, TaskError> {
        self.head.on_watermark(Watermark::MAX)?;
        self.head.on_end_of_input()?;
        Ok(InputStatus::Finished)
    }
}

/// What a source's splits are prepared for, once per job (once per process on a cluster).
#[derive(Clone, Copy)]
pub struct SplitRequest<'a> {
    /// The number of readers.
    pub parallelism: usize,
    /// On restore, what the old subtasks saved.
    pub restored: Option<&'a [OperatorSnapshot]>,
    /// Whether the job checkpoints: the queue then remembers hand-outs for checkpoints.
    pub checkpointing: bool,
    /// Each reader takes only its own share (readers in other processes share no assigner).
    pub fixed: bool,
}

/// Creates the queue a source's readers share: the source's splits, or on restore the splits
/// its old subtasks saved (every one of them, for any new parallelism).
pub fn prepare_splits<T, Src: Source<T>>(
    source: &Src,
    request: SplitRequest<'_>,
) -> UserResult<Arc<dyn Any + Send + Sync>> {
    let SplitRequest {
        parallelism,
        restored,
        checkpointing,
        fixed,
    } = request;
    let splits = match restored {
        None => source.create_splits(parallelism)?,
        Some(subtasks) => {
            let mut splits = Vec::new();
            for snapshot in subtasks {
                let mut store = OperatorStateStore::restored(snapshot.operator.clone());
                splits.extend(store.list_state::<Src::Split>(SOURCE_SPLITS_STATE)?.get()?);
            }
            splits
        }
    };
    let assigner = SplitAssigner::new(splits, parallelism, checkpointing);
    let assigner = if fixed { assigner.fixed() } else { assigner };
    let queue: SplitQueue<Src::Split> = Arc::new(Mutex::new(assigner));
    Ok(Arc::new(queue))
}

impl<T: Send + 'static, Src: Source<T>> TaskInput for SourceProcessor<T, Src> {
    fn open(&mut self) -> LinkResult {
        let source = &self.source;
        let ctx = &self.ctx;
        self.reader = Some(guard(&self.ctx.name, || source.create_reader(ctx))?);
        if let Some(strategy) = self.strategy.take() {
            let interval = self.ctx.auto_watermark_interval.as_millis() as i64;
            let watermarks =
                SplitWatermarks::new(strategy, interval, self.ctx.processing_time.now());
            if let Some(at) = watermarks.next_periodic() {
                self.ctx.processing_time.wake_at(at);
            }
            self.watermarks = Some(watermarks);
        }
        self.head.open()
    }

    fn poll(&mut self) -> Result<InputStatus, TaskError> {
        if self.ended {
            // Its last barrier went out (final checkpoint or stop-with-savepoint).
            return Ok(InputStatus::Finished);
        }
        let Some(reader) = self.reader.as_mut() else {
            return Err(TaskError::Internal("source polled before open".into()));
        };
        let wanted = reader.max_concurrent_splits().max(1);
        while self.active_splits < wanted {
            let next = self
                .splits
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .next_split(self.ctx.subtask);
            let Some(split) = next else {
                break;
            };
            guard(&self.ctx.name, || reader.add_split(split))?;
            self.active_splits += 1;
        }
        if self.active_splits == 0 {
            return if self.source.boundedness() == Boundedness::Bounded {
                if self.ctx.checkpointing.is_none() {
                    return self.finish();
                }
                if !self.read_all {
                    self.read_all = true;
                    self.head.on_watermark(Watermark::MAX)?;
                }
                Ok(InputStatus::AwaitingFinalCheckpoint)
            } else {
                Ok(InputStatus::NothingAvailable(
                    crate::signal::CANCEL_CHECK_INTERVAL,
                ))
            };
        }
        let mut output = SourceOutput::new(&mut self.buffer, self.batch_size);
        let status = guard(&self.ctx.name, || reader.poll_next(&mut output))?;
        let events = std::mem::take(&mut output.split_events);
        self.emit(events)?;
        Ok(match status {
            ReaderStatus::MoreAvailable => InputStatus::MoreAvailable,
            ReaderStatus::NothingAvailable => InputStatus::NothingAvailable(SOURCE_IDLE_WAIT),
            ReaderStatus::SplitFinished => {
                self.active_splits = self.active_splits.saturating_sub(1);
                InputStatus::MoreAvailable
            }
        })
    }

    fn on_processing_time(
        &mut self,
        now: crate::time::processing_time::ProcessingTime,
    ) -> LinkResult {
        if let Some(watermarks) = self.watermarks.as_mut() {
            if let Some(watermark) = watermarks.on_processing_time(now) {
                self.head.on_watermark(watermark)?;
            }
            if let Some(at) = watermarks.next_periodic() {
                self.ctx.processing_time.wake_at(at);
            }
        }
        self.head.on_processing_time(now)
    }

    fn flush(&mut self) -> LinkResult {
        self.head.flush()
    }

    fn close(&mut self) -> LinkResult {
        self.head.close()
    }

    /// Snapshots the reader's splits (and, for the last reader, the splits no reader holds),
    /// then sends the barrier after the records emitted so far; after the job's final
    /// checkpoint (every source read everything) or a stop-with-savepoint, the end of input
    /// follows.
    fn trigger_checkpoint(
        &mut self,
        barrier: Barrier,
        end_after: bool,
    ) -> Result<Option<ChainSnapshot>, TaskError> {
        if self.ended {
            return Ok(None);
        }
        let Some(reader) = self.reader.as_mut() else {
            return Err(TaskError::Internal("source triggered before open".into()));
        };
        let mut splits = guard(&self.ctx.name, || reader.snapshot_state())?;
        let unassigned = self
            .splits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .snapshotted(self.ctx.subtask, barrier.checkpoint_id);
        splits.extend(unassigned.into_iter().flatten());
        let mut store = OperatorStateStore::new();
        guard(&self.ctx.name, || {
            Ok(store.list_state(SOURCE_SPLITS_STATE)?.update(&splits)?)
        })?;
        let mut snapshot = ChainSnapshot::new();
        snapshot.insert(
            self.ctx.uid.clone(),
            OperatorSnapshot {
                operator: store.snapshot(),
                ..Default::default()
            },
        );
        self.head.on_barrier(barrier, &mut snapshot)?;
        if end_after {
            self.head.on_end_of_input()?;
            self.ended = true;
        }
        Ok(Some(snapshot))
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> LinkResult {
        self.head.notify_checkpoint_complete(checkpoint_id)
    }
}
