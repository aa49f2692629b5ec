//! `flat_map`: any number of outputs per input.

use sluice_core::{Record, UserResult};

use crate::task::operator::{OneInputOperator, StreamOperator};
use crate::task::output::{Collector, Output};

/// Calls a function with every value and a collector for its results.
pub struct FlatMapOperator<F>(pub F);

impl<In, Out, F> OneInputOperator<In, Out> for FlatMapOperator<F>
where
    F: FnMut(In, &mut Collector<'_, Out>) + Send,
{
    fn process_batch(&mut self, batch: &mut Vec<Record<In>>, out: &mut Output<Out>) -> UserResult {
        for record in batch.drain(..) {
            (self.0)(record.value, &mut out.collector(record.timestamp));
        }
        Ok(())
    }
}

impl<In, Out, F> StreamOperator<In, Out> for FlatMapOperator<F> where
    F: FnMut(In, &mut Collector<'_, Out>) + Send
{
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::OneInputHarness;

    #[test]
    fn splits_lines_into_words() {
        let mut harness = OneInputHarness::new(FlatMapOperator(
            |line: String, out: &mut Collector<'_, String>| {
                for word in line.split_whitespace() {
                    out.collect(word.to_string());
                }
            },
        ));
        harness.process(Record::with_timestamp("a b".to_string(), 3));
        harness.process(Record::new(String::new()));
        harness.process(Record::new("c".to_string()));
        assert_eq!(
            harness.take_records(),
            vec![
                Record::with_timestamp("a".to_string(), 3),
                Record::with_timestamp("b".to_string(), 3),
                Record::new("c".to_string()),
            ]
        );
    }
}
