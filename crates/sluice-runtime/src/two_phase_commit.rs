//! Two-phase-commit sinks: output that becomes visible only when the checkpoint covering it
//! completes, so a restarted job never shows a record twice or loses one (Flink's
//! `TwoPhaseCommittingSink`: a writer and a committer).
//!
//! Phase one happens at every checkpoint barrier: the writer closes what it wrote since the
//! last one and hands back *committables* (a file to rename, a transaction id), which go into
//! the checkpoint. Phase two happens when the checkpoint completes: the sink commits them. A
//! restored job commits the committables of the checkpoint it resumes from again — commits
//! must therefore be idempotent. Without checkpointing, everything is committed when the
//! input ends.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sluice_core::{Record, UserResult, Watermark};
use sluice_state::{OperatorSnapshot, OperatorStateStore};

use crate::task::operator::{OneInputOperator, OperatorContext, StreamOperator, WatermarkOut};
use crate::task::output::Output;

/// A sink whose writes are committed by checkpoints.
pub trait TwoPhaseCommitSink<T>: Send + Sync + 'static {
    /// What a writer hands over for one checkpoint; stored in the checkpoint.
    type Committable: Clone + Send + Serialize + DeserializeOwned + 'static;
    /// The writer of one subtask.
    type Writer: TransactionalWriter<T, Self::Committable>;

    /// Creates the writer of the subtask described by `ctx`.
    fn create_writer(&self, ctx: &OperatorContext) -> UserResult<Self::Writer>;

    /// Makes `committable` visible. Called again for the same committable after a restore, so
    /// it must succeed (and change nothing) when it was committed before.
    fn commit(&self, committable: &Self::Committable) -> UserResult;
}

/// Writes one subtask's records inside a transaction that a checkpoint closes.
pub trait TransactionalWriter<T, C>: Send + 'static {
    /// Writes (and drains) a batch into the open transaction.
    fn write_batch(&mut self, batch: &mut Vec<Record<T>>) -> UserResult;

    /// A checkpoint barrier: makes everything written so far durable but still invisible, and
    /// returns what committing it takes.
    fn prepare_commit(&mut self) -> UserResult<Vec<C>>;

    /// Event time reached `watermark` (`Watermark::MAX` when the input ends).
    fn on_watermark(&mut self, _watermark: Watermark) -> UserResult {
        Ok(())
    }
}

/// The list state the committables waiting for their checkpoint are kept in.
const PENDING_STATE: &str = "pending-committables";

/// Runs a two-phase-commit sink.
pub struct TwoPhaseCommitSinkOperator<T, S: TwoPhaseCommitSink<T>> {
    sink: Arc<S>,
    writer: Option<S::Writer>,
    /// Committables by the checkpoint they belong to, until it completes.
    pending: BTreeMap<u64, Vec<S::Committable>>,
    checkpointing: bool,
}

impl<T, S: TwoPhaseCommitSink<T>> TwoPhaseCommitSinkOperator<T, S> {
    /// An operator for `sink`.
    pub fn new(sink: Arc<S>) -> Self {
        TwoPhaseCommitSinkOperator {
            sink,
            writer: None,
            pending: BTreeMap::new(),
            checkpointing: false,
        }
    }

    fn writer(&mut self) -> UserResult<&mut S::Writer> {
        self.writer
            .as_mut()
            .ok_or_else(|| "sink used before open".into())
    }

    /// Commits the committables of every checkpoint up to `checkpoint_id`.
    fn commit_through(&mut self, checkpoint_id: u64) -> UserResult {
        let later = match checkpoint_id.checked_add(1) {
            Some(next) => self.pending.split_off(&next),
            None => BTreeMap::new(),
        };
        for committable in std::mem::replace(&mut self.pending, later)
            .into_values()
            .flatten()
        {
            self.sink.commit(&committable)?;
        }
        Ok(())
    }
}

impl<T: Send + 'static, S: TwoPhaseCommitSink<T>> OneInputOperator<T, ()>
    for TwoPhaseCommitSinkOperator<T, S>
{
    fn process_batch(&mut self, batch: &mut Vec<Record<T>>, _out: &mut Output<()>) -> UserResult {
        self.writer()?.write_batch(batch)
    }

    fn prepare_snapshot(&mut self, checkpoint_id: u64, _out: &mut Output<()>) -> UserResult {
        let committables = self.writer()?.prepare_commit()?;
        self.pending
            .entry(checkpoint_id)
            .or_default()
            .extend(committables);
        Ok(())
    }

    /// Without checkpoints nothing else would commit: commit everything at the end.
    fn end_input(&mut self, _out: &mut Output<()>) -> UserResult {
        if !self.checkpointing {
            let committables = self.writer()?.prepare_commit()?;
            self.pending
                .entry(u64::MAX)
                .or_default()
                .extend(committables);
            self.commit_through(u64::MAX)?;
        }
        Ok(())
    }
}

impl<T: Send + 'static, S: TwoPhaseCommitSink<T>> StreamOperator<T, ()>
    for TwoPhaseCommitSinkOperator<T, S>
{
    fn open(&mut self, ctx: &OperatorContext) -> UserResult {
        self.checkpointing = ctx.checkpointing.is_some();
        self.writer = Some(self.sink.create_writer(ctx)?);
        Ok(())
    }

    /// Every committable not committed yet, so a restored job can finish committing them.
    fn snapshot_state(&mut self, snapshot: &mut OperatorSnapshot) -> UserResult {
        let mut store = OperatorStateStore::new();
        let waiting: Vec<(u64, S::Committable)> = self
            .pending
            .iter()
            .flat_map(|(id, list)| list.iter().map(|c| (*id, c.clone())))
            .collect();
        store.list_state(PENDING_STATE)?.update(&waiting)?;
        snapshot.operator = store.snapshot();
        Ok(())
    }

    /// The restored checkpoint completed, so its committables are committed now (again, if
    /// the failure came after they were).
    fn restore_state(&mut self, restored: &OperatorSnapshot) -> UserResult {
        let mut store = OperatorStateStore::restored(restored.operator.clone());
        let waiting: Vec<(u64, S::Committable)> = store.list_state(PENDING_STATE)?.get()?;
        for (_, committable) in waiting {
            self.sink.commit(&committable)?;
        }
        Ok(())
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> UserResult {
        self.commit_through(checkpoint_id)
    }

    fn process_watermark(&mut self, watermark: Watermark, _out: &mut Output<()>) -> WatermarkOut {
        self.writer()?.on_watermark(watermark)?;
        Ok(Some(watermark))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::harness::OneInputHarness;

    /// Keeps written values in memory; committing a batch publishes it (once).
    #[derive(Default)]
    struct Memory {
        committed: Mutex<Vec<Vec<i32>>>,
    }

    struct MemoryWriter {
        open: Vec<i32>,
        next: usize,
        staged: Arc<Mutex<BTreeMap<usize, Vec<i32>>>>,
    }

    #[derive(Default)]
    struct Shared {
        memory: Memory,
        staged: Arc<Mutex<BTreeMap<usize, Vec<i32>>>>,
    }

    impl TwoPhaseCommitSink<i32> for Shared {
        type Committable = usize;
        type Writer = MemoryWriter;

        fn create_writer(&self, _: &OperatorContext) -> UserResult<MemoryWriter> {
            Ok(MemoryWriter {
                open: Vec::new(),
                next: 0,
                staged: Arc::clone(&self.staged),
            })
        }

        fn commit(&self, id: &usize) -> UserResult {
            if let Some(values) = self.staged.lock().unwrap().remove(id) {
                self.memory.committed.lock().unwrap().push(values);
            }
            Ok(())
        }
    }

    impl TransactionalWriter<i32, usize> for MemoryWriter {
        fn write_batch(&mut self, batch: &mut Vec<Record<i32>>) -> UserResult {
            self.open.extend(batch.drain(..).map(|r| r.value));
            Ok(())
        }

        fn prepare_commit(&mut self) -> UserResult<Vec<usize>> {
            self.next += 1;
            let values = std::mem::take(&mut self.open);
            self.staged.lock().unwrap().insert(self.next, values);
            Ok(vec![self.next])
        }
    }

    fn checkpointing_context() -> OperatorContext {
        let mut ctx = OperatorContext::single("sink");
        ctx.checkpointing = Some(crate::checkpoint::CheckpointingMode::ExactlyOnce);
        ctx
    }

    #[test]
    fn output_is_visible_only_after_its_checkpoint_completes() {
        let sink = Arc::new(Shared::default());
        let operator = TwoPhaseCommitSinkOperator::new(Arc::clone(&sink));
        let mut harness = OneInputHarness::with_context(operator, checkpointing_context());
        harness.process(Record::new(1));
        harness.process(Record::new(2));
        let snapshot = harness.snapshot();
        harness.process(Record::new(3));
        assert!(sink.memory.committed.lock().unwrap().is_empty(), "not yet");
        harness.notify_checkpoint_complete(1);
        assert_eq!(*sink.memory.committed.lock().unwrap(), vec![vec![1, 2]]);

        // A restart from the snapshot commits its committables again: idempotent.
        let mut restored = OneInputHarness::with_context(
            TwoPhaseCommitSinkOperator::new(Arc::clone(&sink)),
            checkpointing_context(),
        );
        restored.restore(&snapshot);
        assert_eq!(*sink.memory.committed.lock().unwrap(), vec![vec![1, 2]]);
    }

    #[test]
    fn without_checkpoints_the_end_of_input_commits() {
        let sink = Arc::new(Shared::default());
        let mut harness = OneInputHarness::new(TwoPhaseCommitSinkOperator::new(Arc::clone(&sink)));
        harness.process(Record::new(7));
        harness.end_input();
        assert_eq!(*sink.memory.committed.lock().unwrap(), vec![vec![7]]);
    }
}
