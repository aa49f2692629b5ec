//! `process`: runs a [`ProcessFunction`] on every record.

use sluice_core::{Record, UserResult};
use sluice_state::{OperatorSnapshot, OperatorStateStore};

use crate::functions::ProcessFunction;
use crate::task::operator::{OneInputOperator, OperatorContext, StreamOperator};
use crate::task::output::Output;

/// Runs a process function, giving it each element's context and a collector.
pub struct ProcessOperator<P>(pub P);

impl<In, Out, P> OneInputOperator<In, Out> for ProcessOperator<P>
where
    P: ProcessFunction<In, Out>,
{
    fn process_batch(&mut self, batch: &mut Vec<Record<In>>, out: &mut Output<Out>) -> UserResult {
        out.process_each(batch, |value, ctx, collector| {
            self.0.process_element(value, ctx, collector)
        })
    }
}

impl<In, Out, P> StreamOperator<In, Out> for ProcessOperator<P>
where
    P: ProcessFunction<In, Out>,
{
    fn open(&mut self, ctx: &OperatorContext) -> UserResult {
        self.0.open(ctx)
    }

    fn close(&mut self) -> UserResult {
        self.0.close()
    }

    fn snapshot_state(&mut self, snapshot: &mut OperatorSnapshot) -> UserResult {
        let mut store = OperatorStateStore::new();
        self.0.snapshot_state(&mut store)?;
        snapshot.operator = store.snapshot();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::OneInputHarness;
    use crate::task::output::{Collector, Context, OutputTag};

    #[test]
    fn routes_to_main_and_side_outputs() {
        let odd = OutputTag::<i32>::new("odd");
        let tag = odd.clone();
        let function = move |v: i32, ctx: &mut Context<'_>, out: &mut Collector<'_, i32>| {
            if v % 2 == 0 {
                out.collect(v);
            } else {
                ctx.output(&tag, v);
            }
            Ok(())
        };
        let mut harness = OneInputHarness::new(ProcessOperator(function));
        let side = harness.side_output(&odd);
        for v in 1..=5 {
            harness.process(Record::new(v));
        }
        assert_eq!(harness.take_values(), vec![2, 4]);
        assert_eq!(side.lock().unwrap().values(), vec![1, 3, 5]);
    }

    #[test]
    fn user_errors_name_the_operator() {
        let function = |v: i32, _: &mut Context<'_>, _: &mut Collector<'_, i32>| {
            if v > 1 { Err("too big".into()) } else { Ok(()) }
        };
        let mut harness = OneInputHarness::new(ProcessOperator(function));
        assert!(harness.try_process(Record::new(1)).is_ok());
        let err = harness.try_process(Record::new(2)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "operator 'operator-under-test' failed: too big"
        );
    }

    /// Sums values in groups of three, keeping the incomplete group in operator state (Flink's
    /// buffering example).
    #[derive(Default)]
    struct GroupsOfThree {
        pending: Vec<i64>,
    }

    impl ProcessFunction<i64, i64> for GroupsOfThree {
        fn open(&mut self, ctx: &OperatorContext) -> UserResult {
            self.pending = ctx.operator_state().list_state("pending")?.get()?;
            Ok(())
        }

        fn process_element(
            &mut self,
            value: i64,
            _: &mut Context<'_>,
            out: &mut Collector<'_, i64>,
        ) -> UserResult {
            self.pending.push(value);
            if self.pending.len() == 3 {
                out.collect(self.pending.drain(..).sum());
            }
            Ok(())
        }

        fn snapshot_state(&mut self, state: &mut OperatorStateStore) -> UserResult {
            state.list_state("pending")?.update(&self.pending)?;
            Ok(())
        }
    }

    #[test]
    fn operator_state_is_split_among_the_subtasks_of_a_restart() {
        let mut first = OneInputHarness::new(ProcessOperator(GroupsOfThree::default()));
        for v in [1, 2, 3, 10, 20] {
            first.process(Record::new(v));
        }
        assert_eq!(first.take_values(), vec![6]);
        let snapshot = first.snapshot();
        let old = [snapshot.operator.clone()];
        let mut emitted_and_pending = 6;
        for index in 0..2 {
            let mut ctx = OperatorContext::single("groups");
            ctx.subtask = index;
            ctx.parallelism = 2;
            let restored = sluice_state::OperatorSnapshot {
                operator: sluice_state::OperatorStateSnapshot::redistribute(&old, index, 2),
                ..Default::default()
            };
            let mut harness =
                OneInputHarness::with_context(ProcessOperator(GroupsOfThree::default()), ctx);
            harness.restore(&restored);
            harness.process(Record::new(100));
            harness.process(Record::new(200));
            let sums: i64 = harness.take_values().iter().sum();
            let left: i64 = harness.snapshot().operator.lists["pending"]
                .elements
                .iter()
                .map(|e| postcard_i64(e))
                .sum();
            emitted_and_pending += sums + left;
            assert_eq!(
                sums,
                [10 + 100 + 200, 20 + 100 + 200][index],
                "each subtask got one pending value"
            );
        }
        assert_eq!(
            emitted_and_pending,
            6 + 10 + 20 + 2 * 300,
            "nothing lost or doubled"
        );
    }

    fn postcard_i64(bytes: &[u8]) -> i64 {
        sluice_state::codec::decode("pending", bytes).expect("an i64")
    }
}
