//! `process`: runs a [`ProcessFunction`] on every record.

use sluice_core::{Record, UserResult};

use crate::functions::ProcessFunction;
use crate::operator::{OneInputOperator, OperatorContext};
use crate::output::Output;

/// Runs a process function, giving it each element's context and a collector.
pub struct ProcessOperator<P>(pub P);

impl<In, Out, P> OneInputOperator<In, Out> for ProcessOperator<P>
where
    P: ProcessFunction<In, Out>,
{
    fn open(&mut self, ctx: &OperatorContext) -> UserResult {
        self.0.open(ctx)
    }

    fn process_batch(&mut self, batch: &mut Vec<Record<In>>, out: &mut Output<Out>) -> UserResult {
        out.process_each(batch, |value, ctx, collector| {
            self.0.process_element(value, ctx, collector)
        })
    }

    fn close(&mut self) -> UserResult {
        self.0.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::OneInputHarness;
    use crate::output::{Collector, Context, OutputTag};

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
}
