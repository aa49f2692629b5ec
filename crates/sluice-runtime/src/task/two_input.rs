//! Runs a two-input operator: one batch entry point per input, the combined watermark (the
//! minimum of both inputs, never moving back) and end of input once both inputs ended.

use sluice_core::{Barrier, Record, Watermark};

use crate::task::chain::{ChainSnapshot, LinkResult};
use crate::task::operator::{OperatorCore, TwoInputOperator};

/// Drives a [`TwoInputOperator`] and hands its output down the chain.
pub struct TwoInputDriver<A, B, Out, Op> {
    op: Op,
    core: OperatorCore<Out>,
    input_watermarks: [Watermark; 2],
    combined: Watermark,
    ended: [bool; 2],
    _inputs: std::marker::PhantomData<fn(A, B)>,
}

impl<A, B, Out, Op> TwoInputDriver<A, B, Out, Op>
where
    A: Send + 'static,
    B: Send + 'static,
    Out: Send + 'static,
    Op: TwoInputOperator<A, B, Out>,
{
    /// A driver for `op` writing through `core`.
    pub fn new(op: Op, core: OperatorCore<Out>) -> Self {
        TwoInputDriver {
            op,
            core,
            input_watermarks: [Watermark::MIN; 2],
            combined: Watermark::MIN,
            ended: [false; 2],
            _inputs: std::marker::PhantomData,
        }
    }

    /// Opens the operator and the links after it.
    pub fn open(&mut self) -> LinkResult {
        let op = &mut self.op;
        self.core.open_operator(|restored, ctx| match restored {
            None => op.open(ctx),
            Some(restored) => op.restore_state(restored),
        })
    }

    /// A barrier aligned on both inputs: snapshots the operator and the operators after it
    /// into `into` and hands the barrier on.
    pub fn on_barrier(&mut self, barrier: Barrier, into: &mut ChainSnapshot) -> LinkResult {
        let op = &mut self.op;
        self.core
            .on_barrier(barrier, into, |_, _, state| op.snapshot_state(state))
    }

    /// A checkpoint completed.
    pub fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> LinkResult {
        let op = &mut self.op;
        self.core
            .notify_checkpoint_complete(checkpoint_id, |id| op.notify_checkpoint_complete(id))
    }

    /// Processes a batch of the first input.
    pub fn on_batch1(&mut self, batch: &mut Vec<Record<A>>) -> LinkResult {
        self.core.count_in(batch.len());
        self.core.call(|out| self.op.process_batch1(batch, out))
    }

    /// Processes a batch of the second input.
    pub fn on_batch2(&mut self, batch: &mut Vec<Record<B>>) -> LinkResult {
        self.core.count_in(batch.len());
        self.core.call(|out| self.op.process_batch2(batch, out))
    }

    /// Input `input` (1 or 2) advanced its watermark.
    pub fn on_watermark(&mut self, input: u8, watermark: Watermark) -> LinkResult {
        let slot = &mut self.input_watermarks[usize::from(input - 1)];
        *slot = (*slot).max(watermark);
        let combined = self.input_watermarks[0].min(self.input_watermarks[1]);
        if combined <= self.combined {
            return Ok(());
        }
        self.combined = combined;
        self.core.note_input_watermark(combined);
        let forward = self
            .core
            .call(|out| self.op.process_watermark(combined, out))?;
        let op = &mut self.op;
        self.core.drain(|out| op.emit_pending(out))?;
        match forward {
            Some(forward) => self.core.emit_watermark(forward),
            None => Ok(()),
        }
    }

    /// Input `input` (1 or 2) ended; the operator ends once both did.
    pub fn on_end_of_input(&mut self, input: u8) -> LinkResult {
        let index = usize::from(input - 1);
        if self.ended[index] {
            return Ok(());
        }
        self.ended[index] = true;
        self.on_watermark(input, Watermark::MAX)?;
        self.core.call(|out| self.op.end_input(input, out))?;
        let op = &mut self.op;
        self.core.drain(|out| op.emit_pending(out))?;
        if self.ended == [true, true] {
            self.core.emit_end_of_input()?;
        }
        Ok(())
    }

    /// Whether input `input` (1 or 2) ended.
    pub fn input_ended(&self, input: u8) -> bool {
        self.ended[usize::from(input - 1)]
    }

    /// Whether both inputs ended.
    pub fn is_finished(&self) -> bool {
        self.ended == [true, true]
    }

    /// Processing time reached `now`.
    pub fn on_processing_time(
        &mut self,
        now: crate::time::processing_time::ProcessingTime,
    ) -> LinkResult {
        self.core.call(|out| self.op.on_processing_time(now, out))?;
        self.core.emit_processing_time(now)
    }

    /// Flushes the links after the operator.
    pub fn flush(&mut self) -> LinkResult {
        self.core.flush_next()
    }

    /// Closes the operator and the links after it.
    pub fn close(&mut self) -> LinkResult {
        self.core.call(|_| self.op.close())?;
        self.core.close_next()
    }
}

#[cfg(test)]
mod tests {
    use crate::functions::CoFlatMap;
    use crate::harness::TwoInputHarness;
    use crate::operators::CoProcessOperator;
    use crate::task::output::Collector;
    use sluice_core::Watermark;

    #[test]
    fn combined_watermark_is_the_minimum_and_never_moves_back() {
        let function = CoFlatMap {
            first: |_: i32, _: &mut Collector<'_, i32>| {},
            second: |_: i32, _: &mut Collector<'_, i32>| {},
        };
        let mut harness = TwoInputHarness::new(CoProcessOperator(function));
        harness.watermark(1, Watermark(10));
        assert!(harness.watermarks().is_empty());
        harness.watermark(2, Watermark(5));
        harness.watermark(2, Watermark(20));
        harness.watermark(1, Watermark(8));
        harness.watermark(1, Watermark(30));
        assert_eq!(
            harness.watermarks(),
            vec![Watermark(5), Watermark(10), Watermark(20)]
        );
        // Its metrics show the combined input watermark.
        assert_eq!(harness.metrics().watermark_in(), 20);
    }
}
