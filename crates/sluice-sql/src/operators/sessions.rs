//! The open session windows of a window aggregation: per key, its sessions in order of start,
//! each with its accumulators; a row's window `[ts, ts + gap)` merges with every session it
//! touches (Flink's `TimeWindow.intersects`). A time-ordered index of session ends finds the
//! sessions a watermark closes without scanning every key.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use sluice_core::Timestamp;

use crate::aggregate::{Accumulator, AggCall};
use crate::key::KeyValue;

/// One open session of a key.
#[derive(Debug, Clone)]
pub struct Session {
    /// Its first row's time.
    pub start: Timestamp,
    /// Its last row's time plus the gap.
    pub end: Timestamp,
    /// Its aggregates.
    pub accumulators: Vec<Accumulator>,
}

/// A closed session: its key, window and aggregates.
pub type Closed = (Vec<KeyValue>, Timestamp, Timestamp, Vec<Accumulator>);

/// Every key's open sessions.
#[derive(Debug, Default)]
pub struct Sessions {
    ids: FxHashMap<Vec<KeyValue>, u32>,
    keys: Vec<Vec<KeyValue>>,
    open: Vec<Vec<Session>>,
    /// Session end → keys that had a session ending then (entries may be stale: a session
    /// that grew is found again under its new end).
    by_end: BTreeMap<Timestamp, Vec<u32>>,
}

impl Sessions {
    fn id(&mut self, key: &[KeyValue]) -> u32 {
        if let Some(id) = self.ids.get(key) {
            return *id;
        }
        let id = self.keys.len() as u32;
        self.ids.insert(key.to_vec(), id);
        self.keys.push(key.to_vec());
        self.open.push(Vec::new());
        id
    }

    /// Merges `[start, end)` of `key` with the sessions it touches and returns the session's
    /// accumulators to add the row to — or `None` when `is_fired(end)` says the merged window
    /// was already emitted (the row is late; then it touched no open session).
    pub fn add(
        &mut self,
        key: &[KeyValue],
        (start, end): (Timestamp, Timestamp),
        calls: &[AggCall],
        is_fired: impl Fn(Timestamp) -> bool,
    ) -> Option<&mut Vec<Accumulator>> {
        let id = self.id(key);
        let sessions = &mut self.open[id as usize];
        let mut merged = Session {
            start,
            end,
            accumulators: Vec::new(),
        };
        let mut first = None;
        let mut index = 0;
        while index < sessions.len() {
            let session = &sessions[index];
            if session.start <= merged.end && merged.start <= session.end {
                let session = sessions.remove(index);
                merged.start = merged.start.min(session.start);
                merged.end = merged.end.max(session.end);
                if merged.accumulators.is_empty() {
                    merged.accumulators = session.accumulators;
                } else {
                    merged
                        .accumulators
                        .iter_mut()
                        .zip(&session.accumulators)
                        .for_each(|(a, b)| a.merge(b));
                }
                first.get_or_insert(index);
            } else {
                index += 1;
            }
        }
        if merged.accumulators.is_empty() {
            if is_fired(merged.end) {
                return None;
            }
            merged.accumulators = calls.iter().map(Accumulator::new).collect();
        }
        let at = first.unwrap_or_else(|| sessions.partition_point(|s| s.start < merged.start));
        self.by_end.entry(merged.end).or_default().push(id);
        sessions.insert(at, merged);
        Some(&mut sessions[at].accumulators)
    }

    /// Puts back a session from a snapshot.
    pub fn restore(&mut self, key: Vec<KeyValue>, session: Session) {
        let id = self.id(&key);
        self.by_end.entry(session.end).or_default().push(id);
        let sessions = &mut self.open[id as usize];
        let at = sessions.partition_point(|s| s.start < session.start);
        sessions.insert(at, session);
    }

    /// Removes and returns the sessions whose end − 1 is at or before `watermark`.
    pub fn close(&mut self, watermark: Timestamp) -> Vec<Closed> {
        let mut closed = Vec::new();
        while let Some(entry) = self.by_end.first_entry() {
            if *entry.key() - 1 > watermark {
                break;
            }
            for id in entry.remove() {
                let sessions = &mut self.open[id as usize];
                let mut index = 0;
                while index < sessions.len() {
                    if sessions[index].end - 1 <= watermark {
                        let session = sessions.remove(index);
                        closed.push((
                            self.keys[id as usize].clone(),
                            session.start,
                            session.end,
                            session.accumulators,
                        ));
                    } else {
                        index += 1;
                    }
                }
            }
        }
        closed
    }

    /// Every open session, for a snapshot.
    pub fn iter(&self) -> impl Iterator<Item = (&[KeyValue], &Session)> {
        self.keys
            .iter()
            .zip(&self.open)
            .flat_map(|(key, sessions)| sessions.iter().map(move |s| (key.as_slice(), s)))
    }
}
