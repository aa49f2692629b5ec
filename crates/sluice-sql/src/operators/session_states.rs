//! Where the open sessions of a session window aggregation keep their accumulators. A
//! session holds one word of state: with a lone `COUNT` kept in memory the word is the count
//! itself (a session then costs its two bounds and the count, nothing else); with only
//! `COLLECT`s in memory (the SESSION table function) it chains the session's rows, kept as
//! the Arrow columns they came in (`kept_rows.rs`); otherwise it numbers a slot of accumulators
//! or says they are in the state backend.

use std::sync::Arc;

use arrow_array::ArrayRef;
use sluice_core::UserResult;

use super::kept_rows::{KeptRows, NO_ROWS};
use crate::aggregate::{Accumulator, AggCall, AggKind, accumulated_columns};
use crate::types::SqlType;

/// A session's accumulators, as they go into and come out of [`SessionStates`].
#[derive(Debug, Clone)]
pub enum SessionAccumulators {
    /// The one aggregate.
    One(Accumulator),
    /// Any other number of them.
    Many(Box<[Accumulator]>),
}

impl SessionAccumulators {
    /// The empty accumulators of `calls`.
    fn new(calls: &[AggCall]) -> Self {
        match calls {
            [one] => SessionAccumulators::One(Accumulator::new(one)),
            _ => SessionAccumulators::Many(calls.iter().map(Accumulator::new).collect()),
        }
    }

    /// The accumulators in order.
    pub fn as_slice(&self) -> &[Accumulator] {
        match self {
            SessionAccumulators::One(one) => std::slice::from_ref(one),
            SessionAccumulators::Many(many) => many,
        }
    }

    fn as_mut_slice(&mut self) -> &mut [Accumulator] {
        match self {
            SessionAccumulators::One(one) => std::slice::from_mut(one),
            SessionAccumulators::Many(many) => many,
        }
    }

    /// The accumulators as a vector.
    pub fn into_vec(self) -> Vec<Accumulator> {
        match self {
            SessionAccumulators::One(one) => vec![one],
            SessionAccumulators::Many(many) => many.into_vec(),
        }
    }
}

impl Default for SessionAccumulators {
    fn default() -> Self {
        SessionAccumulators::Many(Box::default())
    }
}

impl From<Vec<Accumulator>> for SessionAccumulators {
    fn from(mut accumulators: Vec<Accumulator>) -> Self {
        match (accumulators.pop(), accumulators.is_empty()) {
            (Some(one), true) => SessionAccumulators::One(one),
            (last, _) => {
                accumulators.extend(last);
                SessionAccumulators::Many(accumulators.into_boxed_slice())
            }
        }
    }
}

/// The word of a session whose accumulators are in the state backend.
pub const IN_BACKEND: u64 = u64::MAX;

/// A session's accumulators as a snapshot reads them: in their slot, its count made into one,
/// or its rows collected into values.
pub enum Snapshotted<'a> {
    /// The slot's accumulators.
    Slot(&'a [Accumulator]),
    /// The count of a session whose word is its count.
    Count([Accumulator; 1]),
    /// The rows of a session whose word chains its rows.
    Rows(Vec<Accumulator>),
}

impl AsRef<[Accumulator]> for Snapshotted<'_> {
    fn as_ref(&self) -> &[Accumulator] {
        match self {
            Snapshotted::Slot(slot) => slot,
            Snapshotted::Count(count) => count,
            Snapshotted::Rows(rows) => rows,
        }
    }
}

/// What a session's word is.
#[derive(Debug)]
enum Layout {
    /// A lone `COUNT` in memory: the count.
    Count,
    /// Only `COLLECT`s in memory (the SESSION table function): the chain of the session's
    /// rows in `KeptRows`.
    Rows(KeptRows),
    /// Its slot in `slots` (or [`IN_BACKEND`]); `free` lists the slots to use again.
    Slots {
        /// The accumulators of the sessions, by slot.
        slots: Vec<SessionAccumulators>,
        /// Slots no session holds.
        free: Vec<u32>,
    },
}

/// The accumulators of every open session of one operator.
#[derive(Debug)]
pub struct SessionStates {
    calls: Vec<AggCall>,
    layout: Layout,
}

impl SessionStates {
    /// The states of sessions aggregating `calls`, in memory or (`in_backend`) not.
    pub fn new(calls: &[AggCall], in_backend: bool) -> Self {
        let collected: Option<Vec<SqlType>> = (calls.iter())
            .map(|call| match (call.kind, &call.arg) {
                (AggKind::Collect, Some((_, ty))) => Some(ty.clone()),
                _ => None,
            })
            .collect();
        let layout = match (calls, collected) {
            _ if in_backend => Layout::Slots {
                slots: Vec::new(),
                free: Vec::new(),
            },
            ([call], _) if matches!(call.kind, AggKind::Count | AggKind::CountStar) => {
                Layout::Count
            }
            ([_, ..], Some(types)) => Layout::Rows(KeptRows::new(types)),
            _ => Layout::Slots {
                slots: Vec::new(),
                free: Vec::new(),
            },
        };
        SessionStates {
            calls: calls.to_vec(),
            layout,
        }
    }

    /// The word of a new session: the empty accumulators of the calls.
    pub fn new_session(&mut self) -> u64 {
        match &self.layout {
            Layout::Count => 0,
            Layout::Rows(_) => NO_ROWS,
            Layout::Slots { .. } => self.slot(SessionAccumulators::new(&self.calls)),
        }
    }

    /// The word of a session with `accumulators` (from a checkpoint or the state backend).
    pub fn put(&mut self, accumulators: SessionAccumulators) -> UserResult<u64> {
        match &mut self.layout {
            Layout::Count => match accumulators.as_slice() {
                [Accumulator::Count(count)] => Ok(*count as u64),
                other => Err(format!("a session of one COUNT restored with {other:?}").into()),
            },
            Layout::Rows(rows) => rows.put(accumulators.as_slice()),
            Layout::Slots { .. } => Ok(self.slot(accumulators)),
        }
    }

    fn slot(&mut self, accumulators: SessionAccumulators) -> u64 {
        let Layout::Slots { slots, free } = &mut self.layout else {
            unreachable!("slots only");
        };
        match free.pop() {
            Some(slot) => {
                slots[slot as usize] = accumulators;
                u64::from(slot)
            }
            None => {
                slots.push(accumulators);
                (slots.len() - 1) as u64
            }
        }
    }

    /// Keeps the calls' argument columns of the batch whose rows are added next, where
    /// sessions keep their rows (a no-op otherwise).
    pub fn keep_batch(&mut self, args: &[Option<(ArrayRef, SqlType)>]) -> UserResult {
        let Layout::Rows(rows) = &mut self.layout else {
            return Ok(());
        };
        let columns = args.iter().flatten().map(|(column, _)| Arc::clone(column));
        rows.keep_batch(columns.collect())
    }

    /// The rows of the batch kept last are all added.
    pub fn batch_done(&mut self) -> UserResult {
        match &mut self.layout {
            Layout::Rows(rows) => rows.batch_done(),
            _ => Ok(()),
        }
    }

    /// Adds row `row` of the batch being added to the session of `word`: keeps the row, or
    /// calls `add_row` with the session's accumulators.
    pub fn update(
        &mut self,
        word: &mut u64,
        row: usize,
        add_row: impl FnOnce(&mut [Accumulator]),
    ) -> UserResult {
        match &mut self.layout {
            Layout::Count => {
                let mut count = [Accumulator::Count(*word as i64)];
                add_row(&mut count);
                if let [Accumulator::Count(n)] = count {
                    *word = n as u64;
                }
            }
            Layout::Rows(rows) => rows.push(word, row)?,
            Layout::Slots { slots, .. } => add_row(slots[*word as usize].as_mut_slice()),
        }
        Ok(())
    }

    /// Merges the session of `from` into `into`'s; `from`'s word means nothing after.
    pub fn merge(&mut self, into: &mut u64, from: u64) {
        match &mut self.layout {
            Layout::Count => *into += from,
            Layout::Rows(rows) => rows.append(into, from),
            Layout::Slots { .. } => {
                let from = self.take(from);
                if let Layout::Slots { slots, .. } = &mut self.layout {
                    let into = slots[*into as usize].as_mut_slice();
                    for (a, b) in into.iter_mut().zip(from.as_slice()) {
                        a.merge(b);
                    }
                }
            }
        }
    }

    /// Whether the session of `word` aggregates nothing.
    pub fn is_empty(&self, word: u64) -> bool {
        match &self.layout {
            Layout::Count | Layout::Rows(_) => false,
            Layout::Slots { slots, .. } => slots[word as usize].as_slice().is_empty(),
        }
    }

    /// Takes the accumulators of the session of `word` out; the word means nothing after.
    pub fn take(&mut self, word: u64) -> SessionAccumulators {
        match &mut self.layout {
            Layout::Count => SessionAccumulators::One(Accumulator::Count(word as i64)),
            Layout::Rows(rows) => rows.take(word).into(),
            Layout::Slots { slots, free } => {
                free.push(word as u32);
                std::mem::take(&mut slots[word as usize])
            }
        }
    }

    /// Takes the sessions of `words` out as the calls' result columns, a session per row.
    pub fn take_columns(&mut self, words: &[u64]) -> UserResult<Vec<ArrayRef>> {
        if let Layout::Rows(rows) = &mut self.layout {
            return rows.take_lists(words);
        }
        let accumulators: Vec<SessionAccumulators> =
            words.iter().map(|&word| self.take(word)).collect();
        if let Some(short) = accumulators
            .iter()
            .find(|accs| accs.as_slice().len() != self.calls.len())
        {
            return Err(format!(
                "a session holds {} accumulators for {} aggregates",
                short.as_slice().len(),
                self.calls.len()
            )
            .into());
        }
        let rows: Vec<&[Accumulator]> = accumulators.iter().map(|a| a.as_slice()).collect();
        Ok(accumulated_columns(&self.calls, &rows))
    }

    /// The accumulators of the session of `word` for a snapshot (none when `word` is
    /// [`IN_BACKEND`]).
    pub fn snapshotted(&self, word: u64) -> Snapshotted<'_> {
        match &self.layout {
            Layout::Count => Snapshotted::Count([Accumulator::Count(word as i64)]),
            Layout::Rows(rows) => Snapshotted::Rows(rows.collected(word)),
            Layout::Slots { .. } if word == IN_BACKEND => Snapshotted::Slot(&[]),
            Layout::Slots { slots, .. } => Snapshotted::Slot(slots[word as usize].as_slice()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::KeyValue;
    use crate::types::SqlType;

    #[test]
    fn a_lone_count_is_the_sessions_word() {
        let calls = [AggCall::new(AggKind::CountStar, None).unwrap()];
        let mut states = SessionStates::new(&calls, false);
        assert!(matches!(states.layout, Layout::Count));
        let mut a = states.new_session();
        states
            .update(&mut a, 0, |accs| accs[0].add(None, 0))
            .unwrap();
        states
            .update(&mut a, 0, |accs| accs[0].add(None, 0))
            .unwrap();
        assert_eq!(a, 2);
        let b = states.put(vec![Accumulator::Count(5)].into()).unwrap();
        states.merge(&mut a, b);
        assert_eq!(a, 7);
        assert_eq!(
            states.snapshotted(a).as_ref()[0].value(&calls[0]),
            KeyValue::Int(7)
        );
        assert!(
            states
                .put(vec![Accumulator::Count(1), Accumulator::Count(2)].into())
                .is_err()
        );
        // Kept in a backend, a count has a slot like any aggregate.
        assert!(matches!(
            SessionStates::new(&calls, true).layout,
            Layout::Slots { .. }
        ));
    }

    #[test]
    fn other_aggregates_take_slots_used_again_once_free() {
        let calls = [
            AggCall::new(AggKind::Max, Some((0, SqlType::BigInt))).unwrap(),
            AggCall::new(AggKind::CountStar, None).unwrap(),
        ];
        let mut states = SessionStates::new(&calls, false);
        let values = arrow_array::Int64Array::from(vec![3, 9]);
        let add = |row: usize| {
            let values = &values;
            move |accs: &mut [Accumulator]| {
                accs[0].add(Some((values, &SqlType::BigInt)), row);
                accs[1].add(None, 0);
            }
        };
        let mut a = states.new_session();
        states.update(&mut a, 0, add(0)).unwrap();
        let mut b = states.new_session();
        states.update(&mut b, 1, add(1)).unwrap();
        assert_eq!((a, b), (0, 1));
        states.merge(&mut a, b);
        let values: Vec<KeyValue> = (states.snapshotted(a).as_ref().iter())
            .zip(&calls)
            .map(|(acc, call)| acc.value(call))
            .collect();
        assert_eq!(values, [KeyValue::Int(9), KeyValue::Int(2)]);
        assert_eq!(states.new_session(), 1, "the merged session's slot");
        assert_eq!(states.take(a).as_slice().len(), 2);
        assert_eq!(states.new_session(), 0);
        assert!(states.snapshotted(IN_BACKEND).as_ref().is_empty());
    }

    #[test]
    fn collecting_sessions_keep_their_rows_and_give_them_as_lists() {
        use arrow_array::cast::AsArray;
        let calls = [AggCall::new(AggKind::Collect, Some((0, SqlType::BigInt))).unwrap()];
        let mut states = SessionStates::new(&calls, false);
        assert!(matches!(states.layout, Layout::Rows(_)));
        let values: ArrayRef = Arc::new(arrow_array::Int64Array::from(vec![3, 9, 4]));
        states
            .keep_batch(&[Some((values, SqlType::BigInt))])
            .unwrap();
        let (mut a, mut b) = (states.new_session(), states.new_session());
        let kept = |row: usize| move |_: &mut [Accumulator]| panic!("row {row} is kept");
        states.update(&mut a, 0, kept(0)).unwrap();
        states.update(&mut b, 1, kept(1)).unwrap();
        states.update(&mut a, 2, kept(2)).unwrap();
        states.batch_done().unwrap();
        let collected = |values: &[i64]| {
            let values = values.iter().map(|&v| KeyValue::Int(v)).collect();
            format!("{:?}", [Accumulator::Collect(values)])
        };
        assert_eq!(
            format!("{:?}", states.snapshotted(b).as_ref()),
            collected(&[9])
        );
        let restored = states.put(vec![Accumulator::Collect(vec![KeyValue::Int(5)])].into());
        states.merge(&mut a, restored.unwrap());
        states.merge(&mut a, b);
        let lists = states.take_columns(&[a]).unwrap();
        let list = lists[0].as_list::<i32>().value(0);
        let rows = list
            .as_primitive::<arrow_array::types::Int64Type>()
            .values();
        assert_eq!(rows.to_vec(), [3, 4, 5, 9]);
        // In a backend, collected values are accumulators in a slot.
        assert!(matches!(
            SessionStates::new(&calls, true).layout,
            Layout::Slots { .. }
        ));
    }
}
