//! Where the open sessions of a session window aggregation keep their accumulators. A
//! session holds one word of state: with a lone `COUNT` kept in memory the word is the count
//! itself (a session then costs its two bounds and the count, nothing else), otherwise it
//! numbers a slot of accumulators or says they are in the state backend.

use sluice_core::UserResult;

use crate::aggregate::{Accumulator, AggCall, AggKind};

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

/// A session's accumulators as a snapshot reads them: in their slot, or its count made into one.
pub enum Snapshotted<'a> {
    /// The slot's accumulators.
    Slot(&'a [Accumulator]),
    /// The count of a session whose word is its count.
    Count([Accumulator; 1]),
}

impl AsRef<[Accumulator]> for Snapshotted<'_> {
    fn as_ref(&self) -> &[Accumulator] {
        match self {
            Snapshotted::Slot(slot) => slot,
            Snapshotted::Count(count) => count,
        }
    }
}

/// The accumulators of every open session of one operator.
#[derive(Debug)]
pub enum SessionStates {
    /// A lone `COUNT` in memory: a session's word is its count.
    Count,
    /// A session's word numbers its slot in `slots` (or is [`IN_BACKEND`]); `free` lists the
    /// slots to use again.
    Slots {
        /// The accumulators of the sessions, by slot.
        slots: Vec<SessionAccumulators>,
        /// Slots no session holds.
        free: Vec<u32>,
    },
}

impl SessionStates {
    /// The states of sessions aggregating `calls`, in memory or (`in_backend`) not.
    pub fn new(calls: &[AggCall], in_backend: bool) -> Self {
        match calls {
            [call] if !in_backend && matches!(call.kind, AggKind::Count | AggKind::CountStar) => {
                SessionStates::Count
            }
            _ => SessionStates::Slots {
                slots: Vec::new(),
                free: Vec::new(),
            },
        }
    }

    /// The word of a new session: the empty accumulators of `calls`.
    pub fn new_session(&mut self, calls: &[AggCall]) -> u64 {
        match self {
            SessionStates::Count => 0,
            SessionStates::Slots { .. } => self.slot(SessionAccumulators::new(calls)),
        }
    }

    /// The word of a session with `accumulators` (from a checkpoint or the state backend).
    pub fn put(&mut self, accumulators: SessionAccumulators) -> UserResult<u64> {
        match self {
            SessionStates::Count => match accumulators.as_slice() {
                [Accumulator::Count(count)] => Ok(*count as u64),
                other => Err(format!("a session of one COUNT restored with {other:?}").into()),
            },
            SessionStates::Slots { .. } => Ok(self.slot(accumulators)),
        }
    }

    fn slot(&mut self, accumulators: SessionAccumulators) -> u64 {
        let SessionStates::Slots { slots, free } = self else {
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

    /// Calls `f` with the accumulators of the session of `word`.
    pub fn update(&mut self, word: &mut u64, f: impl FnOnce(&mut [Accumulator])) {
        match self {
            SessionStates::Count => {
                let mut count = [Accumulator::Count(*word as i64)];
                f(&mut count);
                if let [Accumulator::Count(n)] = count {
                    *word = n as u64;
                }
            }
            SessionStates::Slots { slots, .. } => f(slots[*word as usize].as_mut_slice()),
        }
    }

    /// Merges the accumulators of the session of `from` into those of `into`'s; `from`'s are
    /// gone.
    pub fn merge(&mut self, into: &mut u64, from: u64) {
        let from = self.take(from);
        self.update(into, |accumulators| {
            for (a, b) in accumulators.iter_mut().zip(from.as_slice()) {
                a.merge(b);
            }
        });
    }

    /// Whether the session of `word` aggregates nothing.
    pub fn is_empty(&self, word: u64) -> bool {
        match self {
            SessionStates::Count => false,
            SessionStates::Slots { slots, .. } => slots[word as usize].as_slice().is_empty(),
        }
    }

    /// Takes the accumulators of the session of `word` out; the word means nothing after.
    pub fn take(&mut self, word: u64) -> SessionAccumulators {
        match self {
            SessionStates::Count => SessionAccumulators::One(Accumulator::Count(word as i64)),
            SessionStates::Slots { slots, free } => {
                free.push(word as u32);
                std::mem::take(&mut slots[word as usize])
            }
        }
    }

    /// The accumulators of the session of `word` for a snapshot (none when `word` is
    /// [`IN_BACKEND`]).
    pub fn snapshotted(&self, word: u64) -> Snapshotted<'_> {
        match self {
            SessionStates::Count => Snapshotted::Count([Accumulator::Count(word as i64)]),
            SessionStates::Slots { .. } if word == IN_BACKEND => Snapshotted::Slot(&[]),
            SessionStates::Slots { slots, .. } => {
                Snapshotted::Slot(slots[word as usize].as_slice())
            }
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
        assert!(matches!(states, SessionStates::Count));
        let mut a = states.new_session(&calls);
        states.update(&mut a, |accs| accs[0].add(None, 0));
        states.update(&mut a, |accs| accs[0].add(None, 0));
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
            SessionStates::new(&calls, true),
            SessionStates::Slots { .. }
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
        let mut a = states.new_session(&calls);
        states.update(&mut a, add(0));
        let mut b = states.new_session(&calls);
        states.update(&mut b, add(1));
        assert_eq!((a, b), (0, 1));
        states.merge(&mut a, b);
        let values: Vec<KeyValue> = (states.snapshotted(a).as_ref().iter())
            .zip(&calls)
            .map(|(acc, call)| acc.value(call))
            .collect();
        assert_eq!(values, [KeyValue::Int(9), KeyValue::Int(2)]);
        assert_eq!(states.new_session(&calls), 1, "the merged session's slot");
        assert_eq!(states.take(a).as_slice().len(), 2);
        assert_eq!(states.new_session(&calls), 0);
        assert!(states.snapshotted(IN_BACKEND).as_ref().is_empty());
    }
}
