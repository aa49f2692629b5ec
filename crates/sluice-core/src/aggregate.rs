//! The aggregate function interface shared by aggregating state and window aggregations.

/// Flink's `AggregateFunction`: folds values into an accumulator incrementally.
pub trait AggregateFunction<IN, ACC, OUT>: Send + Sync + 'static {
    /// A fresh accumulator.
    fn create_accumulator(&self) -> ACC;
    /// Adds one value.
    fn add(&self, accumulator: &mut ACC, value: IN);
    /// The result for an accumulator.
    fn get_result(&self, accumulator: &ACC) -> OUT;
    /// Combines two accumulators (merging windows or namespaces).
    fn merge(&self, a: ACC, b: ACC) -> ACC;
}
