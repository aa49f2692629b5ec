//! Runtime modes: one runtime runs bounded and unbounded jobs; batch is a special case.

use serde::{Deserialize, Serialize};

/// How a job executes, as Flink's `RuntimeExecutionMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RuntimeMode {
    /// Continuous processing: keyed aggregations emit every update.
    #[default]
    Streaming,
    /// Bounded processing: keyed aggregations emit one final result per key at end of input.
    /// Every source must be bounded.
    Batch,
    /// `Batch` when every source is bounded, `Streaming` otherwise.
    Automatic,
}

impl RuntimeMode {
    /// Resolves `Automatic` against whether every source of the job is bounded.
    pub fn resolve(self, all_sources_bounded: bool) -> RuntimeMode {
        match self {
            RuntimeMode::Automatic if all_sources_bounded => RuntimeMode::Batch,
            RuntimeMode::Automatic => RuntimeMode::Streaming,
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_follows_boundedness() {
        assert_eq!(RuntimeMode::Automatic.resolve(true), RuntimeMode::Batch);
        assert_eq!(
            RuntimeMode::Automatic.resolve(false),
            RuntimeMode::Streaming
        );
        assert_eq!(RuntimeMode::Streaming.resolve(true), RuntimeMode::Streaming);
        assert_eq!(RuntimeMode::Batch.resolve(false), RuntimeMode::Batch);
    }
}
