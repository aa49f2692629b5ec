//! `connect(..).process(..)` (and co-map / co-flat-map): runs a [`CoProcessFunction`] over two
//! inputs.

use sluice_core::{Record, UserResult};

use crate::functions::CoProcessFunction;
use crate::task::operator::{OperatorContext, StreamOperator, TwoInputOperator};
use crate::task::output::Output;

/// Runs a co-process function on the elements of two inputs.
pub struct CoProcessOperator<P>(pub P);

impl<A, B, Out, P> TwoInputOperator<A, B, Out> for CoProcessOperator<P>
where
    P: CoProcessFunction<A, B, Out>,
{
    fn process_batch1(&mut self, batch: &mut Vec<Record<A>>, out: &mut Output<Out>) -> UserResult {
        out.process_each(batch, |value, ctx, collector| {
            self.0.process_element1(value, ctx, collector)
        })
    }

    fn process_batch2(&mut self, batch: &mut Vec<Record<B>>, out: &mut Output<Out>) -> UserResult {
        out.process_each(batch, |value, ctx, collector| {
            self.0.process_element2(value, ctx, collector)
        })
    }
}

impl<A, B, Out, P> StreamOperator<(A, B), Out> for CoProcessOperator<P>
where
    P: CoProcessFunction<A, B, Out>,
{
    fn open(&mut self, ctx: &OperatorContext) -> UserResult {
        self.0.open(ctx)
    }

    fn close(&mut self) -> UserResult {
        self.0.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::CoFlatMap;
    use crate::harness::TwoInputHarness;
    use crate::task::output::Collector;

    #[test]
    fn both_inputs_reach_one_output() {
        let function = CoFlatMap {
            first: |v: i32, out: &mut Collector<'_, String>| out.collect(format!("a{v}")),
            second: |v: String, out: &mut Collector<'_, String>| out.collect(format!("b{v}")),
        };
        let mut harness = TwoInputHarness::new(CoProcessOperator(function));
        harness.process1(Record::new(1));
        harness.process2(Record::new("x".to_string()));
        harness.process1(Record::new(2));
        assert_eq!(harness.take_values(), vec!["a1", "bx", "a2"]);
    }
}
