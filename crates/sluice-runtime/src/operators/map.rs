//! `map`: one output per input.

use sluice_core::{Record, UserResult};

use crate::task::operator::{OneInputOperator, StreamOperator};
use crate::task::output::Output;

/// Applies a function to every record's value; timestamps are kept.
pub struct MapOperator<F>(pub F);

impl<In, Out, F> OneInputOperator<In, Out> for MapOperator<F>
where
    F: FnMut(In) -> Out + Send,
{
    fn process_batch(&mut self, batch: &mut Vec<Record<In>>, out: &mut Output<Out>) -> UserResult {
        let f = &mut self.0;
        out.records.extend(batch.drain(..).map(|record| Record {
            value: f(record.value),
            timestamp: record.timestamp,
        }));
        Ok(())
    }
}

impl<In, Out, F> StreamOperator<In, Out> for MapOperator<F> where F: FnMut(In) -> Out + Send {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::OneInputHarness;

    #[test]
    fn maps_values_and_keeps_timestamps() {
        let mut harness = OneInputHarness::new(MapOperator(|v: i32| v * 10));
        harness.process(Record::with_timestamp(1, 5));
        harness.process(Record::new(2));
        assert_eq!(
            harness.take_records(),
            vec![Record::with_timestamp(10, 5), Record::new(20)]
        );
    }
}
