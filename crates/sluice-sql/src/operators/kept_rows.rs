//! The rows of open sessions that collect their rows (the SESSION window table function, whose
//! aggregates are each a `COLLECT` of a column), kept as the Arrow columns they came in rather
//! than as values. A session's word is a chain of row handles (its first and last): a handle
//! names a kept batch, a row of it and the next handle, so keeping a row costs 12 bytes and no
//! allocation, and sessions merge by linking their chains. Closed sessions' lists are gathered
//! from the batches at once (`interleave`). A batch is let go once no session holds a row of
//! it; when a few long sessions hold many batches (the batches' rows more than twice the live
//! ones), the live rows are copied into one batch.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, ListArray, new_empty_array};
use arrow_buffer::OffsetBuffer;
use arrow_select::interleave::interleave;
use sluice_core::UserResult;

use crate::aggregate::Accumulator;
use crate::key::{KeyValue, key_column, key_value};
use crate::types::{SqlType, array_element_field};

/// No handle: the end of a chain.
const NONE: u32 = u32::MAX;

/// The word of a session without rows.
pub const NO_ROWS: u64 = u64::MAX;

/// How many rows more than twice the live ones the kept batches may hold before the live rows
/// are copied out of them.
const COMPACT_SLACK: usize = 64 * 1024;

/// A kept row: its batch, its index there and the next row of its session ([`NONE`]: the
/// last). A free handle has batch [`NONE`]; its `next` is the next free handle.
#[derive(Debug, Clone, Copy)]
struct Handle {
    batch: u32,
    row: u32,
    next: u32,
}

/// A batch of rows that sessions hold: one array per collected column, and how many of its
/// rows are held.
#[derive(Debug)]
struct Batch {
    columns: Vec<ArrayRef>,
    live: usize,
}

impl Batch {
    /// How many rows the batch has.
    fn rows(&self) -> usize {
        self.columns.first().map_or(0, |column| column.len())
    }
}

/// The first and last handle of a session's chain.
fn ends(word: u64) -> (u32, u32) {
    (word as u32, (word >> 32) as u32)
}

fn word(first: u32, last: u32) -> u64 {
    u64::from(first) | u64::from(last) << 32
}

/// Every open session's rows.
#[derive(Debug)]
pub struct KeptRows {
    /// The collected columns' types.
    types: Vec<SqlType>,
    /// An empty array of each column, standing for batches let go.
    empty: Vec<ArrayRef>,
    batches: Vec<Option<Batch>>,
    free_batches: Vec<u32>,
    handles: Vec<Handle>,
    /// The first free handle.
    free_handles: u32,
    /// The batch rows being added come from ([`NONE`]: none).
    current: u32,
    /// Rows sessions hold, and rows of the kept batches.
    live: usize,
    kept: usize,
}

impl KeptRows {
    /// No rows of columns of `types`.
    pub fn new(types: Vec<SqlType>) -> Self {
        KeptRows {
            empty: types
                .iter()
                .map(|ty| new_empty_array(&ty.arrow_type()))
                .collect(),
            types,
            batches: Vec::new(),
            free_batches: Vec::new(),
            handles: Vec::new(),
            free_handles: NONE,
            current: NONE,
            live: 0,
            kept: 0,
        }
    }

    /// Keeps `columns` (one per collected column) as the batch the next rows pushed are of.
    pub fn keep_batch(&mut self, columns: Vec<ArrayRef>) -> UserResult {
        self.batch_done()?;
        self.current = self.add_batch(columns)?;
        Ok(())
    }

    /// The rows of the current batch are all pushed: lets it go if no session holds one, and
    /// compacts the batches if they hold too few live rows.
    pub fn batch_done(&mut self) -> UserResult {
        let current = std::mem::replace(&mut self.current, NONE);
        if current != NONE {
            self.let_go_if_unheld(current);
        }
        self.compact_if_sparse()
    }

    fn add_batch(&mut self, columns: Vec<ArrayRef>) -> UserResult<u32> {
        if columns.len() != self.types.len() {
            return Err(format!(
                "a session keeps {} columns of each row, not {}",
                self.types.len(),
                columns.len()
            )
            .into());
        }
        for (column, empty) in columns.iter().zip(&self.empty) {
            if column.data_type() != empty.data_type() {
                return Err(format!(
                    "a session's collected column is {}, not {}",
                    column.data_type(),
                    empty.data_type()
                )
                .into());
            }
        }
        let batch = Batch { columns, live: 0 };
        self.kept += batch.rows();
        let batch = Some(batch);
        Ok(match self.free_batches.pop() {
            Some(id) => {
                self.batches[id as usize] = batch;
                id
            }
            None => {
                self.batches.push(batch);
                (self.batches.len() - 1) as u32
            }
        })
    }

    fn let_go_if_unheld(&mut self, id: u32) {
        let slot = &mut self.batches[id as usize];
        if let Some(batch) = slot.as_ref().filter(|b| b.live == 0 && id != self.current) {
            self.kept -= batch.rows();
            *slot = None;
            self.free_batches.push(id);
        }
    }

    /// Adds row `row` of the current batch to the session of `word`.
    pub fn push(&mut self, word: &mut u64, row: usize) -> UserResult {
        if self.current == NONE {
            return Err("a session row pushed with no batch kept".into());
        }
        self.push_row(word, self.current, row as u32);
        Ok(())
    }

    fn push_row(&mut self, session: &mut u64, batch: u32, row: u32) {
        let handle = Handle {
            batch,
            row,
            next: NONE,
        };
        let h = match self.free_handles {
            NONE => {
                self.handles.push(handle);
                (self.handles.len() - 1) as u32
            }
            free => {
                self.free_handles = self.handles[free as usize].next;
                self.handles[free as usize] = handle;
                free
            }
        };
        if let Some(batch) = self.batches[batch as usize].as_mut() {
            batch.live += 1;
        }
        self.live += 1;
        *session = match ends(*session) {
            (NONE, _) => word(h, h),
            (first, last) => {
                self.handles[last as usize].next = h;
                word(first, h)
            }
        };
    }

    /// Appends the rows of the session of `from` to those of `into`'s.
    pub fn append(&mut self, into: &mut u64, from: u64) {
        *into = match (ends(*into), ends(from)) {
            ((NONE, _), _) => from,
            (_, (NONE, _)) => *into,
            ((first, last), (next, end)) => {
                self.handles[last as usize].next = next;
                word(first, end)
            }
        };
    }

    /// The batch and row of each row of the session of `word`, in order.
    fn chain(&self, word: u64) -> impl Iterator<Item = (usize, usize)> + '_ {
        let mut at = ends(word).0;
        std::iter::from_fn(move || {
            let handle = self.handles.get(at as usize)?;
            at = handle.next;
            Some((handle.batch as usize, handle.row as usize))
        })
    }

    /// Each column's arrays by batch (the empty array for a batch let go).
    fn arrays(&self, column: usize) -> Vec<&dyn Array> {
        (self.batches.iter())
            .map(|batch| match batch {
                Some(batch) => batch.columns[column].as_ref(),
                None => self.empty[column].as_ref(),
            })
            .collect()
    }

    /// Gathers the rows at `indices` (batch, row) of each column.
    fn gather(&self, indices: &[(usize, usize)]) -> UserResult<Vec<ArrayRef>> {
        (0..self.types.len())
            .map(|column| match indices {
                [] => Ok(Arc::clone(&self.empty[column])),
                _ => Ok(interleave(&self.arrays(column), indices)?),
            })
            .collect()
    }

    /// Takes the rows of the sessions of `words` out: a list column per collected column, a
    /// session per row.
    pub fn take_lists(&mut self, words: &[u64]) -> UserResult<Vec<ArrayRef>> {
        let mut lengths = Vec::with_capacity(words.len());
        let mut indices = Vec::new();
        for &word in words {
            let before = indices.len();
            indices.extend(self.chain(word));
            lengths.push(indices.len() - before);
        }
        let values = self.gather(&indices)?;
        for &word in words {
            self.release(word);
        }
        self.compact_if_sparse()?;
        let offsets = OffsetBuffer::<i32>::from_lengths(lengths);
        (values.into_iter().zip(&self.types))
            .map(|(values, ty)| {
                let field = Arc::new(array_element_field(ty));
                let list = ListArray::try_new(field, offsets.clone(), values, None)?;
                Ok(Arc::new(list) as ArrayRef)
            })
            .collect()
    }

    /// Frees the handles of the session of `word`, and the batches no session holds then.
    fn release(&mut self, word: u64) {
        let mut at = ends(word).0;
        while at != NONE {
            let handle = self.handles[at as usize];
            self.handles[at as usize] = Handle {
                batch: NONE,
                row: 0,
                next: self.free_handles,
            };
            self.free_handles = at;
            self.live -= 1;
            if let Some(batch) = self.batches[handle.batch as usize].as_mut() {
                batch.live -= 1;
                if batch.live == 0 {
                    self.let_go_if_unheld(handle.batch);
                }
            }
            at = handle.next;
        }
    }

    /// Takes the rows of the session of `word` out as one `COLLECT` accumulator per column.
    pub fn take(&mut self, word: u64) -> Vec<Accumulator> {
        let accumulators = self.collected(word);
        self.release(word);
        accumulators
    }

    /// The rows of the session of `word` as one `COLLECT` accumulator per column (as a
    /// checkpoint holds them).
    pub fn collected(&self, word: u64) -> Vec<Accumulator> {
        (0..self.types.len())
            .map(|column| {
                let values = self
                    .chain(word)
                    .map(|(batch, row)| match &self.batches[batch] {
                        Some(batch) => key_value(&batch.columns[column], row, &self.types[column]),
                        None => KeyValue::Null,
                    });
                Accumulator::Collect(values.collect())
            })
            .collect()
    }

    /// The word of a session with the rows of `accumulators` (one `COLLECT` per column, as
    /// [`KeptRows::collected`] gives them).
    pub fn put(&mut self, accumulators: &[Accumulator]) -> UserResult<u64> {
        let mut columns = Vec::with_capacity(self.types.len());
        let mut rows = None;
        for (accumulator, ty) in accumulators.iter().zip(&self.types) {
            let Accumulator::Collect(values) = accumulator else {
                return Err(format!("a session's rows restored from {accumulator:?}").into());
            };
            if rows.is_some_and(|rows| rows != values.len()) {
                return Err("a session's collected columns restored with unequal lengths".into());
            }
            rows = Some(values.len());
            columns.push(key_column(values.iter(), ty));
        }
        let batch = self.add_batch(columns)?;
        let mut session = NO_ROWS;
        for row in 0..rows.unwrap_or(0) {
            self.push_row(&mut session, batch, row as u32);
        }
        self.let_go_if_unheld(batch);
        Ok(session)
    }

    /// Copies the live rows into one batch when the kept batches hold more than twice as many
    /// rows (and [`COMPACT_SLACK`] more), between batches of rows added.
    fn compact_if_sparse(&mut self) -> UserResult {
        if self.current != NONE || self.kept <= 2 * self.live + COMPACT_SLACK {
            return Ok(());
        }
        let held: Vec<usize> = (0..self.handles.len())
            .filter(|&h| self.handles[h].batch != NONE)
            .collect();
        let indices: Vec<(usize, usize)> = (held.iter())
            .map(|&h| {
                let handle = self.handles[h];
                (handle.batch as usize, handle.row as usize)
            })
            .collect();
        let columns = self.gather(&indices)?;
        for id in 0..self.batches.len() as u32 {
            if let Some(batch) = self.batches[id as usize].as_mut() {
                batch.live = 0;
                self.let_go_if_unheld(id);
            }
        }
        let compacted = self.add_batch(columns)?;
        for (row, h) in held.into_iter().enumerate() {
            self.handles[h].batch = compacted;
            self.handles[h].row = row as u32;
        }
        if let Some(batch) = self.batches[compacted as usize].as_mut() {
            batch.live = self.live;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Int64Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;

    fn longs(values: impl IntoIterator<Item = i64>) -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(values))
    }

    fn lists(rows: &mut KeptRows, words: &[u64]) -> Vec<Vec<i64>> {
        let columns = rows.take_lists(words).unwrap();
        let list = columns[0].as_list::<i32>();
        (0..list.len())
            .map(|i| {
                let values = list.value(i);
                values.as_primitive::<Int64Type>().values().to_vec()
            })
            .collect()
    }

    #[test]
    fn sessions_gather_their_rows_from_the_batches_in_order() {
        let mut rows = KeptRows::new(vec![SqlType::BigInt]);
        let (mut a, mut b) = (NO_ROWS, NO_ROWS);
        rows.keep_batch(vec![longs([10, 11, 12])]).unwrap();
        rows.push(&mut a, 0).unwrap();
        rows.push(&mut b, 1).unwrap();
        rows.push(&mut a, 2).unwrap();
        rows.keep_batch(vec![longs([20, 21])]).unwrap();
        rows.push(&mut b, 0).unwrap();
        rows.batch_done().unwrap();
        // The second batch's other row is held by no session.
        let mut merged = a;
        rows.append(&mut merged, b);
        assert_eq!(lists(&mut rows, &[merged]), [vec![10, 12, 11, 20]]);
        assert_eq!((rows.live, rows.kept), (0, 0), "every batch let go");
        assert!(rows.batches.iter().all(Option::is_none));
        // Handles and batches are used again.
        let mut c = NO_ROWS;
        rows.keep_batch(vec![longs([30])]).unwrap();
        rows.push(&mut c, 0).unwrap();
        rows.batch_done().unwrap();
        assert_eq!((rows.handles.len(), rows.batches.len()), (4, 2));
        assert_eq!(lists(&mut rows, &[c, NO_ROWS]), [vec![30], vec![]]);
    }

    #[test]
    fn a_batch_without_held_rows_is_let_go_when_done() {
        let mut rows = KeptRows::new(vec![SqlType::BigInt]);
        rows.keep_batch(vec![longs([1, 2])]).unwrap();
        rows.batch_done().unwrap();
        assert_eq!(rows.kept, 0);
        assert!(rows.push(&mut NO_ROWS.clone(), 0).is_err(), "no batch kept");
        let wrong = Arc::new(arrow_array::StringArray::from(vec!["x"])) as ArrayRef;
        assert!(rows.keep_batch(vec![wrong]).is_err());
    }

    #[test]
    fn few_rows_held_in_many_batches_are_compacted_into_one() {
        let mut rows = KeptRows::new(vec![SqlType::BigInt]);
        let mut long = NO_ROWS;
        let batch_rows = 1024;
        for n in 0..(3 * COMPACT_SLACK / batch_rows) as i64 {
            let first = n * batch_rows as i64;
            rows.keep_batch(vec![longs(first..first + batch_rows as i64)])
                .unwrap();
            rows.push(&mut long, 0).unwrap();
        }
        rows.batch_done().unwrap();
        assert!(rows.kept <= 2 * rows.live + COMPACT_SLACK, "{}", rows.kept);
        let batches = rows.batches.iter().flatten().count();
        assert!(
            batches <= COMPACT_SLACK / batch_rows + 2,
            "{batches} batches kept"
        );
        let expected: Vec<i64> = (0..rows.live as i64).map(|n| n * 1024).collect();
        assert_eq!(lists(&mut rows, &[long]), [expected]);
    }

    #[test]
    fn rows_restore_from_their_collected_values() {
        let mut rows = KeptRows::new(vec![SqlType::BigInt, SqlType::BigInt]);
        let mut a = NO_ROWS;
        rows.keep_batch(vec![longs([1, 2]), longs([3, 4])]).unwrap();
        rows.push(&mut a, 1).unwrap();
        rows.push(&mut a, 0).unwrap();
        rows.batch_done().unwrap();
        let collected = rows.collected(a);
        let collect =
            |v: &[i64]| Accumulator::Collect(v.iter().map(|&i| KeyValue::Int(i)).collect());
        assert_eq!(
            format!("{collected:?}"),
            format!("{:?}", [collect(&[2, 1]), collect(&[4, 3])])
        );
        let mut restored = KeptRows::new(vec![SqlType::BigInt, SqlType::BigInt]);
        let mut b = restored.put(&collected).unwrap();
        // New rows join a restored session.
        restored.keep_batch(vec![longs([5]), longs([6])]).unwrap();
        restored.push(&mut b, 0).unwrap();
        restored.batch_done().unwrap();
        assert_eq!(lists(&mut restored, &[b]), [vec![2, 1, 5]]);
        assert!(restored.put(&[collect(&[1]), collect(&[1, 2])]).is_err());
        assert!(
            restored
                .put(&[Accumulator::Count(1), collect(&[1])])
                .is_err()
        );
    }
}
