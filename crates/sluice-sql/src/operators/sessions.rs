//! The open session windows of a window aggregation: per key, its sessions in order of start,
//! each its bounds and a word for its accumulators ([`SessionStates`]: a lone `COUNT` is the
//! word itself, other aggregates a slot); a row's window `[ts, ts + gap)` merges with every
//! session it touches (Flink's `TimeWindow.intersects`). A time-ordered index of session ends
//! finds the sessions a watermark closes without scanning every key, and keys without open
//! sessions are forgotten in bulk once they outnumber the others, so memory follows the open
//! sessions, not every key ever seen.
//!
//! With the `hashmap` state backend the accumulators are in memory; with any other
//! (RocksDB) they are encoded in it under `((end, start), key)`, as open windows are, and
//! memory holds each key's session bounds only — but for the sessions a batch of rows touched,
//! whose accumulators stay in memory until the batch is done ([`Sessions::flush`]): a session
//! is read and written once per batch, not once per row (which, for a session collecting its
//! rows, would cost the square of its rows).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use arrow_array::ArrayRef;
use sluice_core::{Timestamp, UserResult};
use sluice_runtime::task::operator::OperatorContext;
use sluice_state::OperatorSnapshot;

use super::key_ids::KeyIds;
use super::keyed_state::{KeyedValues, StateStore, WindowKey};
use super::open_windows::{decode_window_entry, snapshot_windows};
use super::session_states::{IN_BACKEND, SessionStates};
use super::window_kind::window_fired;
use crate::aggregate::{Accumulator, AggCall};
use crate::key::KeyValue;
use crate::types::SqlType;

/// One open session of a key: its bounds and a word of [`SessionStates`] for its accumulators.
#[derive(Debug, Clone, Copy)]
struct Session {
    /// Its first row's time.
    start: Timestamp,
    /// Its last row's time plus the gap.
    end: Timestamp,
    /// Its accumulators' word.
    state: u64,
}

/// How many keys without open sessions are kept at least (with their ids), however few keys
/// have sessions.
const IDLE_KEYS_KEPT: usize = 4096;

/// Sessions a watermark closed: each one's key (shared by the key's sessions) and window, and
/// the aggregates' result columns, a session per row.
#[derive(Debug, Default)]
pub struct Closed {
    /// Key, start and end of each session.
    pub sessions: Vec<(Arc<[KeyValue]>, Timestamp, Timestamp)>,
    /// A column per aggregate.
    pub aggregates: Vec<ArrayRef>,
}

/// Every key's open sessions.
pub struct Sessions {
    name: &'static str,
    ids: KeyIds,
    keys: Vec<Arc<[KeyValue]>>,
    open: Vec<Vec<Session>>,
    /// Ids of forgotten keys, to use again.
    free: Vec<u32>,
    /// Keys that had no open session when listed (each listed once, as `listed` marks),
    /// forgotten in bulk when they are many: a key that comes back soon keeps its id.
    idle: Vec<u32>,
    listed: Vec<bool>,
    /// Keys to look at by a session end, earliest first (a heap of `(end, key id)`, no
    /// allocation per end): each key with open sessions is under one end at or before its
    /// earliest session's (a session that grew is found under its old end and put under its
    /// new one then), so a row that extends a session costs no entry.
    by_end: BinaryHeap<Reverse<(Timestamp, u32)>>,
    /// The end each key is under in `by_end` (`Timestamp::MAX`: none); entries elsewhere are
    /// stale.
    registered: Vec<Timestamp>,
    /// The open sessions' accumulators in memory.
    states: SessionStates,
    /// The accumulators, when they are kept in a state backend.
    in_backend: KeyedValues<WindowKey, Vec<Accumulator>>,
    /// With a state backend: keys whose sessions may hold their accumulators in memory (a
    /// session holds them there, and not in the backend, when they are not empty).
    unflushed: Vec<u32>,
    store: StateStore,
}

impl Sessions {
    /// No open session of `calls`; `name` is the state's name in checkpoints.
    pub fn new(name: &'static str, calls: &[AggCall]) -> Self {
        Sessions {
            states: SessionStates::new(calls, false),
            name,
            ids: KeyIds::default(),
            keys: Vec::new(),
            open: Vec::new(),
            free: Vec::new(),
            idle: Vec::new(),
            listed: Vec::new(),
            by_end: BinaryHeap::new(),
            registered: Vec::new(),
            in_backend: KeyedValues::new(name),
            unflushed: Vec::new(),
            store: StateStore::default(),
        }
    }

    /// Takes the job's state backend for the operator instance of `ctx`.
    pub fn open(&mut self, ctx: &OperatorContext, calls: &[AggCall]) -> UserResult {
        self.store.open(ctx, &mut [&mut self.in_backend])?;
        self.states = SessionStates::new(calls, self.store.in_backend());
        Ok(())
    }

    /// Whether a session's word says its accumulators are in the state backend.
    fn in_backend(&self, state: u64) -> bool {
        self.store.in_backend() && state == IN_BACKEND
    }

    fn id(&mut self, key: &[KeyValue]) -> u32 {
        if let Some(id) = self.ids.get(key) {
            return id;
        }
        let id = match self.free.pop() {
            Some(id) => {
                self.keys[id as usize] = Arc::from(key);
                self.registered[id as usize] = Timestamp::MAX;
                id
            }
            None => {
                self.keys.push(Arc::from(key));
                self.open.push(Vec::new());
                self.registered.push(Timestamp::MAX);
                self.listed.push(false);
                (self.keys.len() - 1) as u32
            }
        };
        self.ids.insert(key, id);
        id
    }

    /// Keeps what sessions keep of the rows of the batch added next (its calls' argument
    /// columns), when they keep rows.
    pub fn keep_batch(&mut self, args: &[Option<(ArrayRef, SqlType)>]) -> UserResult {
        self.states.keep_batch(args)
    }

    /// Merges `[start, end)` of `key` with the sessions it touches and adds row `row` of the
    /// batch being added to the merged session (calling `add_row` with its accumulators,
    /// unless it keeps its rows) — unless `is_fired(end)` says the merged window was already
    /// emitted (the row is late; then it touched no open session): `false` then.
    pub fn add(
        &mut self,
        key: &[KeyValue],
        (start, end): (Timestamp, Timestamp),
        is_fired: impl Fn(Timestamp) -> bool,
        row: usize,
        add_row: impl FnOnce(&mut [Accumulator]),
    ) -> UserResult<bool> {
        let id = self.id(key);
        let sessions = &mut self.open[id as usize];
        let (mut merged_start, mut merged_end) = (start, end);
        // A key's open sessions never touch each other (touching ones merged), so in order of
        // starts they are in order of ends too: the ones `[start, end)` touches are a run. A
        // row in order lies after the last one: looked at first, before a binary search
        // through sessions long out of the cache.
        let last = sessions.last();
        let first = match last {
            Some(last) if last.end >= start => sessions.partition_point(|s| s.end < start),
            _ => sessions.len(),
        };
        let past = match last {
            Some(last) if last.start > end => sessions.partition_point(|s| s.start <= end),
            _ => sessions.len(),
        };
        let touched = first..past.max(first);
        let mut merged: Option<u64> = None;
        for i in touched.clone() {
            let session = self.open[id as usize][i];
            let state = if self.in_backend(session.state) {
                let window = ((session.end, session.start), key.to_vec());
                let stored = self.in_backend.take(&mut self.store, &window)?;
                self.states.put(stored.unwrap_or_default().into())?
            } else {
                session.state
            };
            merged_start = merged_start.min(session.start);
            merged_end = merged_end.max(session.end);
            match merged.as_mut() {
                None => merged = Some(state),
                Some(into) => self.states.merge(into, state),
            }
        }
        self.open[id as usize].drain(touched);
        let mut state = match merged {
            Some(state) => state,
            None if is_fired(merged_end) => {
                if self.open[id as usize].is_empty() {
                    self.rest(id);
                }
                return Ok(false);
            }
            None => self.states.new_session(),
        };
        self.states.update(&mut state, row, add_row)?;
        if self.store.in_backend() {
            if self.states.is_empty(state) {
                // No aggregate: nothing to keep in memory until the batch is done.
                let window = ((merged_end, merged_start), key.to_vec());
                let accumulators = self.states.take(state).into_vec();
                self.in_backend.put(&mut self.store, window, accumulators)?;
                state = IN_BACKEND;
            } else {
                self.unflushed.push(id);
            }
        }
        let merged = Session {
            start: merged_start,
            end: merged_end,
            state,
        };
        let sessions = &mut self.open[id as usize];
        // Every key's sessions grow alike while a watermark is awaited: by half, not double,
        // so at most a third of the room they take is empty.
        if sessions.len() == sessions.capacity() {
            sessions.reserve_exact((sessions.len() / 2).max(4));
        }
        sessions.insert(first, merged);
        self.look_at(id, merged_end);
        Ok(true)
    }

    /// The rows of a batch are added: with a state backend, writes the accumulators they
    /// left in memory to it; sessions keeping rows let go of what no session holds.
    pub fn flush(&mut self) -> UserResult {
        self.states.batch_done()?;
        for id in self.unflushed.drain(..) {
            let key = &self.keys[id as usize];
            for session in &mut self.open[id as usize] {
                if session.state == IN_BACKEND {
                    continue;
                }
                let window = ((session.end, session.start), key.to_vec());
                let accumulators = self.states.take(session.state).into_vec();
                session.state = IN_BACKEND;
                self.in_backend.put(&mut self.store, window, accumulators)?;
            }
        }
        Ok(())
    }

    /// Has `close` look at the key of `id` by `end`, unless it does by then already.
    fn look_at(&mut self, id: u32, end: Timestamp) {
        let registered = &mut self.registered[id as usize];
        if end < *registered {
            *registered = end;
            self.by_end.push(Reverse((end, id)));
        }
    }

    /// Lists the key of `id`, which has no open session, to be forgotten; forgets the listed
    /// keys still without sessions once there are more of them than [`IDLE_KEYS_KEPT`] and
    /// than keys with sessions.
    fn rest(&mut self, id: u32) {
        if !std::mem::replace(&mut self.listed[id as usize], true) {
            self.idle.push(id);
        }
        if self.idle.len() <= IDLE_KEYS_KEPT.max(self.ids.len() - self.idle.len()) {
            return;
        }
        for id in std::mem::take(&mut self.idle) {
            self.listed[id as usize] = false;
            if self.open[id as usize].is_empty() {
                self.forget(id);
            }
        }
    }

    /// Forgets the key of `id`, which has no open session.
    fn forget(&mut self, id: u32) {
        self.registered[id as usize] = Timestamp::MAX;
        let key = std::mem::replace(&mut self.keys[id as usize], Arc::new([]));
        self.ids.remove(&key);
        self.free.push(id);
    }

    /// Puts back an open session of `key`.
    fn insert(&mut self, key: &[KeyValue], session: Session) {
        let id = self.id(key);
        let end = session.end;
        let sessions = &mut self.open[id as usize];
        let at = sessions.partition_point(|s| s.start < session.start);
        sessions.insert(at, session);
        self.look_at(id, end);
    }

    /// Removes and returns the sessions whose end − 1 is at or before `watermark`, in parts:
    /// once `limit` sessions are closed, it stops and returns too the earliest end a session
    /// left open can have (the rest are closed by the next call).
    pub fn close(
        &mut self,
        watermark: Timestamp,
        limit: usize,
    ) -> UserResult<(Closed, Option<Timestamp>)> {
        let mut closed = Vec::new();
        let mut words = Vec::new();
        let mut left = None;
        while let Some(&Reverse((due, id))) = self.by_end.peek() {
            if !window_fired(due, watermark) {
                break;
            }
            if closed.len() >= limit {
                // Every key is under an end at or before its sessions' ends, the first `due`.
                left = Some(due);
                break;
            }
            self.by_end.pop();
            if self.registered[id as usize] != due {
                continue;
            }
            self.registered[id as usize] = Timestamp::MAX;
            let Sessions {
                open,
                keys,
                states,
                in_backend,
                store,
                ..
            } = self;
            let sessions = &mut open[id as usize];
            let before = sessions.len();
            let key = &keys[id as usize];
            // In order of start, the sessions are in order of end too: those that end by
            // the watermark come first.
            let fired = sessions.partition_point(|s| window_fired(s.end, watermark));
            for session in sessions.drain(..fired) {
                words.push(if store.in_backend() && session.state == IN_BACKEND {
                    let window = ((session.end, session.start), key.to_vec());
                    let stored = in_backend.take(store, &window)?.unwrap_or_default();
                    states.put(stored.into())?
                } else {
                    session.state
                });
                closed.push((Arc::clone(key), session.start, session.end));
            }
            match sessions.iter().map(|s| s.end).min() {
                Some(next) => self.look_at(id, next),
                None if before > 0 => self.rest(id),
                None => {}
            }
        }
        let aggregates = self.states.take_columns(&words)?;
        let closed = Closed {
            sessions: closed,
            aggregates,
        };
        Ok((closed, left))
    }

    /// Adds the open sessions to `snapshot` under this state's name, as open windows are
    /// stored: `((end, start), key)` → accumulators, by the key group of the key.
    pub fn snapshot(
        &mut self,
        snapshot: &mut OperatorSnapshot,
        key_group: impl Fn(&[KeyValue]) -> usize,
    ) -> UserResult {
        self.flush()?;
        let states = &self.states;
        let entries = self
            .keys
            .iter()
            .zip(&self.open)
            .flat_map(|(key, sessions)| {
                sessions
                    .iter()
                    .map(|s| ((s.end, s.start), &**key, states.snapshotted(s.state)))
            });
        snapshot_windows(&self.store, self.name, snapshot, key_group, entries)
    }

    /// Checkpoint `checkpoint_id` completed: the backend may refer to what it stored.
    pub fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) {
        self.store.notify_checkpoint_complete(checkpoint_id);
    }

    /// Loads the open sessions of `restored`.
    pub fn restore(&mut self, restored: &OperatorSnapshot) -> UserResult {
        let mut sessions: Vec<(WindowKey, Vec<Accumulator>)> = Vec::new();
        if self.store.in_backend() {
            self.in_backend.restore(&mut self.store, restored)?;
            self.in_backend.for_each(&self.store, |window, _| {
                sessions.push((window.clone(), Vec::new()));
                Ok(())
            })?;
        } else {
            restored
                .keyed
                .require_canonical(&|state| state == self.name)?;
            for (_, entry, values) in restored.keyed.entries(self.name) {
                sessions.push(decode_window_entry(self.name, entry, values)?);
            }
        }
        for (((end, start), key), accumulators) in sessions {
            let state = if self.store.in_backend() {
                IN_BACKEND
            } else {
                self.states.put(accumulators.into())?
            };
            self.insert(&key, Session { start, end, state });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::AggKind;

    /// Counts a row of `key` at `t` (its window `[t, t + 10)`) with `calls` (`COUNT(*)`).
    fn count_row(sessions: &mut Sessions, key: i64, t: Timestamp) {
        let key = [KeyValue::Int(key)];
        let added = sessions.add(&key, (t, t + 10), |_| false, 0, |accs| accs[0].add(None, 0));
        assert!(added.unwrap());
    }

    /// The start, end and count of each closed session.
    fn counts(closed: &Closed) -> Vec<(Timestamp, Timestamp, i64)> {
        use arrow_array::cast::AsArray;
        let counts = closed.aggregates[0].as_primitive::<arrow_array::types::Int64Type>();
        (closed.sessions.iter().zip(counts.values()))
            .map(|((_, start, end), count)| (*start, *end, *count))
            .collect()
    }

    #[test]
    fn a_session_of_one_count_is_its_bounds_and_the_count() {
        assert_eq!(size_of::<Session>(), 24);
        let calls = [AggCall::new(AggKind::CountStar, None).unwrap()];
        let mut sessions = Sessions::new("sessions", &calls);
        count_row(&mut sessions, 7, 0);
        count_row(&mut sessions, 7, 5);
        assert_eq!(sessions.open[0][0].state, 2);
    }

    #[test]
    fn a_keys_sessions_grow_by_half() {
        let calls = [AggCall::new(AggKind::CountStar, None).unwrap()];
        let mut sessions = Sessions::new("sessions", &calls);
        let mut capacities = Vec::new();
        for n in 0..30 {
            count_row(&mut sessions, 7, n * 100);
            capacities.push(sessions.open[0].capacity());
        }
        capacities.dedup();
        assert_eq!(capacities, [4, 8, 12, 18, 27, 40]);
    }

    #[test]
    fn a_growing_session_is_looked_at_once_and_closes_at_its_last_end() {
        let calls = [AggCall::new(AggKind::CountStar, None).unwrap()];
        let mut sessions = Sessions::new("sessions", &calls);
        let other = [KeyValue::Int(8)];
        for t in 0..1000 {
            count_row(&mut sessions, 7, t);
        }
        sessions
            .add(&other, (500, 510), |_| false, 0, |_| {})
            .unwrap();
        assert_eq!(
            sessions.by_end.len(),
            2,
            "one entry per session, not per row"
        );
        let (closed, _) = sessions.close(1007, usize::MAX).unwrap();
        assert_eq!(counts(&closed), [(500, 510, 0)]);
        assert_eq!(*closed.sessions[0].0, other);
        let (closed, _) = sessions.close(1008, usize::MAX).unwrap();
        assert_eq!(counts(&closed), [(0, 1009, 1000)]);
        assert!(sessions.by_end.is_empty() && sessions.open.iter().all(Vec::is_empty));
    }

    #[test]
    fn in_a_backend_a_batchs_sessions_are_written_once_it_is_done_and_restore() {
        let calls = [AggCall::new(AggKind::CountStar, None).unwrap()];
        let count = |sessions: &mut Sessions, key: i64, t: Timestamp| count_row(sessions, key, t);
        let context = crate::operators::keyed_state::tests::context(true, 0, 1);
        let mut sessions = Sessions::new("sessions", &calls);
        sessions.open(&context, &calls).unwrap();
        for t in 0..5 {
            count(&mut sessions, 7, t);
        }
        let window = ((14, 0), vec![KeyValue::Int(7)]);
        let stored = |s: &Sessions| s.in_backend.get(&s.store, &window).unwrap().is_some();
        assert!(!stored(&sessions), "in memory until the batch is done");
        sessions.flush().unwrap();
        assert!(stored(&sessions));
        // The next batch reads it back, grows it and a new session of another key.
        count(&mut sessions, 7, 5);
        count(&mut sessions, 8, 100);
        let mut snapshot = OperatorSnapshot::default();
        sessions.snapshot(&mut snapshot, |key| key.len()).unwrap();
        let mut restored = Sessions::new("sessions", &calls);
        restored.open(&context, &calls).unwrap();
        restored.restore(&snapshot).unwrap();
        let (closed, _) = restored.close(i64::MAX, usize::MAX).unwrap();
        assert_eq!(counts(&closed), [(0, 15, 6), (100, 110, 1)]);
    }

    #[test]
    fn a_row_between_two_sessions_merges_them_and_only_them() {
        let calls = [AggCall::new(AggKind::CountStar, None).unwrap()];
        let mut sessions = Sessions::new("sessions", &calls);
        let key = [KeyValue::Int(1)];
        for t in [0, 20, 50] {
            let added = sessions.add(&key, (t, t + 10), |_| false, 0, |a| a[0].add(None, 0));
            assert!(added.unwrap());
        }
        // [10, 20) touches [0, 10) and [20, 30), not [50, 60).
        let added = sessions.add(&key, (10, 20), |_| false, 0, |a| a[0].add(None, 0));
        assert!(added.unwrap());
        let (closed, _) = sessions.close(100, usize::MAX).unwrap();
        assert_eq!(counts(&closed), [(0, 30, 3), (50, 60, 1)]);
    }

    #[test]
    fn sessions_close_in_parts_each_through_a_time() {
        let calls = [AggCall::new(AggKind::CountStar, None).unwrap()];
        let mut sessions = Sessions::new("sessions", &calls);
        for key in 0..5 {
            let t = key * 100;
            let added = sessions.add(&[KeyValue::Int(key)], (t, t + 10), |_| false, 0, |_| {});
            assert!(added.unwrap());
        }
        let (first, through) = sessions.close(1000, 2).unwrap();
        let ends: Vec<Timestamp> = first.sessions.iter().map(|c| c.2).collect();
        assert_eq!((ends, through), (vec![10, 110], Some(210)));
        let (second, through) = sessions.close(1000, 2).unwrap();
        assert_eq!((second.sessions.len(), through), (2, Some(410)));
        let (last, through) = sessions.close(1000, 2).unwrap();
        assert_eq!((last.sessions.len(), through), (1, None));
    }

    #[test]
    fn keys_without_open_sessions_are_forgotten_in_bulk() {
        let calls = [AggCall::new(AggKind::CountStar, None).unwrap()];
        let mut sessions = Sessions::new("sessions", &calls);
        let rounds = 3 * IDLE_KEYS_KEPT as i64;
        for round in 0..rounds {
            let key = vec![KeyValue::Int(round)];
            let t = round * 100;
            let added = sessions.add(&key, (t, t + 10), |_| false, 0, |_| {});
            assert!(added.unwrap());
            assert_eq!(
                sessions.close(t + 9, usize::MAX).unwrap().0.sessions.len(),
                1
            );
            assert!(sessions.ids.len() <= IDLE_KEYS_KEPT + 1, "round {round}");
        }
        assert!(
            sessions.keys.len() <= IDLE_KEYS_KEPT + 1,
            "the ids of forgotten keys are used again"
        );
        // A key that comes back while kept keeps its id.
        let last = [KeyValue::Int(rounds - 1)];
        let id = sessions.ids.get(&last);
        let t = rounds * 100;
        assert!(
            sessions
                .add(&last, (t, t + 10), |_| false, 0, |_| {})
                .unwrap()
        );
        assert_eq!(sessions.ids.get(&last), id);
        // A late row of a new key leaves no open session.
        let late = sessions.add(&[KeyValue::Int(-1)], (0, 10), |_| true, 0, |_| {});
        assert!(!late.unwrap());
        assert_eq!(sessions.open.iter().filter(|s| !s.is_empty()).count(), 1);
    }
}
