//! User function traits with context: process functions over one input and over two
//! connected inputs. Plain closures implement them, and so can structs that keep their own
//! fields between calls (one instance per parallel subtask, as in Flink).

use sluice_core::UserResult;
use sluice_state::OperatorStateStore;

use crate::task::operator::OperatorContext;
use crate::task::output::{Collector, Context};

/// Flink's `ProcessFunction`: sees each element with its context, emits any number of results
/// and side outputs.
pub trait ProcessFunction<I, O>: Send + 'static {
    /// Called once per subtask before the first element.
    fn open(&mut self, _ctx: &OperatorContext) -> UserResult {
        Ok(())
    }

    /// Processes one element.
    fn process_element(
        &mut self,
        value: I,
        ctx: &mut Context<'_>,
        out: &mut Collector<'_, O>,
    ) -> UserResult;

    /// Called once per subtask after the last element.
    fn close(&mut self) -> UserResult {
        Ok(())
    }

    /// Writes what must survive a failure into operator list states (Flink's
    /// `CheckpointedFunction::snapshotState`). After a restart, `open` reads them back from
    /// `ctx.operator_state()` — split among the new subtasks, or whole for union lists.
    fn snapshot_state(&mut self, _state: &mut OperatorStateStore) -> UserResult {
        Ok(())
    }
}

impl<I, O, F> ProcessFunction<I, O> for F
where
    F: FnMut(I, &mut Context<'_>, &mut Collector<'_, O>) -> UserResult + Send + 'static,
{
    fn process_element(
        &mut self,
        value: I,
        ctx: &mut Context<'_>,
        out: &mut Collector<'_, O>,
    ) -> UserResult {
        self(value, ctx, out)
    }
}

/// Flink's `CoProcessFunction`: processes the elements of two connected streams.
pub trait CoProcessFunction<A, B, O>: Send + 'static {
    /// Called once per subtask before the first element.
    fn open(&mut self, _ctx: &OperatorContext) -> UserResult {
        Ok(())
    }

    /// Processes one element of the first input.
    fn process_element1(
        &mut self,
        value: A,
        ctx: &mut Context<'_>,
        out: &mut Collector<'_, O>,
    ) -> UserResult;

    /// Processes one element of the second input.
    fn process_element2(
        &mut self,
        value: B,
        ctx: &mut Context<'_>,
        out: &mut Collector<'_, O>,
    ) -> UserResult;

    /// Called once per subtask after both inputs ended.
    fn close(&mut self) -> UserResult {
        Ok(())
    }
}

/// `co_flat_map` as a co-process function: one closure per input.
#[derive(Clone)]
pub struct CoFlatMap<F1, F2> {
    /// Applied to elements of the first input.
    pub first: F1,
    /// Applied to elements of the second input.
    pub second: F2,
}

impl<A, B, O, F1, F2> CoProcessFunction<A, B, O> for CoFlatMap<F1, F2>
where
    F1: FnMut(A, &mut Collector<'_, O>) + Send + 'static,
    F2: FnMut(B, &mut Collector<'_, O>) + Send + 'static,
{
    fn process_element1(
        &mut self,
        value: A,
        _ctx: &mut Context<'_>,
        out: &mut Collector<'_, O>,
    ) -> UserResult {
        (self.first)(value, out);
        Ok(())
    }

    fn process_element2(
        &mut self,
        value: B,
        _ctx: &mut Context<'_>,
        out: &mut Collector<'_, O>,
    ) -> UserResult {
        (self.second)(value, out);
        Ok(())
    }
}
