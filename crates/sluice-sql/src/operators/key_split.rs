//! Splits batches by key for a keyed exchange: each row goes to the subtask owning its key's
//! key group (Flink's key-group assignment), so a downstream subtask sees all rows of its keys.

use arrow_array::{RecordBatch, UInt32Array};
use serde::{Deserialize, Serialize};
use sluice_core::key_group::{key_group_for_hash, operator_index_for_key_group};
use sluice_core::{Record, UserResult};
use sluice_runtime::task::operator::{OneInputOperator, StreamOperator};
use sluice_runtime::task::output::Output;

use crate::batch::RowBatch;
use crate::key::stable_row_hash;
use crate::types::SqlType;

/// A batch whose rows all belong to the subtask `target`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoutedBatch {
    /// The downstream subtask.
    pub target: u32,
    /// The rows.
    pub batch: RowBatch,
}

/// Where rows go: key columns, downstream parallelism and max parallelism.
#[derive(Debug, Clone)]
pub struct KeyRouting {
    /// The key columns' indexes and types.
    pub keys: Vec<(usize, SqlType)>,
    /// The receiving operator's parallelism.
    pub parallelism: usize,
    /// Its number of key groups.
    pub max_parallelism: usize,
}

impl KeyRouting {
    /// The subtask of each row of `batch`.
    pub fn targets(&self, batch: &RecordBatch) -> Vec<u32> {
        if self.parallelism <= 1 || self.keys.is_empty() {
            return vec![0; batch.num_rows()];
        }
        let columns: Vec<_> = self
            .keys
            .iter()
            .map(|(index, ty)| (batch.column(*index).clone(), ty.clone()))
            .collect();
        (0..batch.num_rows())
            .map(|row| {
                let group =
                    key_group_for_hash(stable_row_hash(&columns, row), self.max_parallelism);
                operator_index_for_key_group(self.max_parallelism, self.parallelism, group) as u32
            })
            .collect()
    }
}

/// The operator emitting one [`RoutedBatch`] per target subtask of each batch.
pub struct KeySplitOperator(pub KeyRouting);

impl StreamOperator<RowBatch, RoutedBatch> for KeySplitOperator {}

impl OneInputOperator<RowBatch, RoutedBatch> for KeySplitOperator {
    fn process_batch(
        &mut self,
        batch: &mut Vec<Record<RowBatch>>,
        out: &mut Output<RoutedBatch>,
    ) -> UserResult {
        for record in batch.drain(..) {
            let rows = &record.value.0;
            let targets = self.0.targets(rows);
            let mut per_target: Vec<Vec<u32>> = vec![Vec::new(); self.0.parallelism.max(1)];
            for (row, target) in targets.iter().enumerate() {
                per_target[*target as usize].push(row as u32);
            }
            for (target, indices) in per_target.into_iter().enumerate() {
                if indices.is_empty() {
                    continue;
                }
                let part = if indices.len() == rows.num_rows() {
                    rows.clone()
                } else {
                    arrow_select::take::take_record_batch(rows, &UInt32Array::from(indices))?
                };
                let routed = RoutedBatch {
                    target: target as u32,
                    batch: RowBatch(part),
                };
                out.emit(routed, record.timestamp);
            }
        }
        Ok(())
    }
}

/// A record of test rows for an aggregation operator: the named columns, all for subtask 0.
#[cfg(test)]
pub(crate) fn routed_rows(columns: Vec<(&str, arrow_array::ArrayRef)>) -> Record<RoutedBatch> {
    let batch = RecordBatch::try_from_iter(columns).expect("test columns of one length");
    Record::new(RoutedBatch {
        target: 0,
        batch: RowBatch(batch),
    })
}
