//! `filter`: keeps the records a predicate accepts.

use sluice_core::{Record, UserResult};

use crate::task::operator::{OneInputOperator, StreamOperator};
use crate::task::output::Output;

/// Keeps records whose value satisfies the predicate.
pub struct FilterOperator<F>(pub F);

impl<T, F> OneInputOperator<T, T> for FilterOperator<F>
where
    F: FnMut(&T) -> bool + Send,
{
    fn process_batch(&mut self, batch: &mut Vec<Record<T>>, out: &mut Output<T>) -> UserResult {
        let f = &mut self.0;
        out.records
            .extend(batch.drain(..).filter(|record| f(&record.value)));
        Ok(())
    }
}

impl<T, F> StreamOperator<T, T> for FilterOperator<F> where F: FnMut(&T) -> bool + Send {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::OneInputHarness;
    use sluice_core::Watermark;

    #[test]
    fn keeps_matching_records() {
        let mut harness = OneInputHarness::new(FilterOperator(|v: &i32| v % 2 == 0));
        for v in 1..=6 {
            harness.process(Record::new(v));
        }
        assert_eq!(harness.take_values(), vec![2, 4, 6]);
    }

    #[test]
    fn its_metrics_count_records_and_follow_watermarks() {
        let mut harness = OneInputHarness::new(FilterOperator(|v: &i32| v % 2 == 0));
        let metrics = harness.metrics();
        assert_eq!(
            metrics.watermark_in(),
            i64::MIN,
            "none yet, as Flink reports it"
        );
        harness.process(Record::new(1));
        harness.process(Record::new(2));
        harness.watermark(Watermark(7));
        assert_eq!((metrics.records_in(), metrics.records_out()), (2, 1));
        assert_eq!((metrics.watermark_in(), metrics.watermark_out()), (7, 7));
    }
}
