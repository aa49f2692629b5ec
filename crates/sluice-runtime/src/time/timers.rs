//! The timer service of keyed operators: event-time and processing-time timers per key and
//! namespace (a window, or `()`), at most one per (time, key, namespace), as in Flink.
//!
//! Timers fire in time order. Firing a timer may register new ones; those that are already due
//! fire in the same advance. Deleting a timer that was never registered does nothing.

use std::collections::BTreeMap;

use rustc_hash::FxHashSet;
use std::hash::Hash;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sluice_core::Timestamp;
use sluice_core::key_group::assign_to_key_group;
use sluice_state::codec::{decode, encode};
use sluice_state::{KeyedSnapshot, StateError};

use super::TimeDomain;

/// The timers of one time domain.
#[derive(Debug)]
pub struct TimerQueue<K, N> {
    by_time: BTreeMap<Timestamp, Vec<(K, N)>>,
    registered: FxHashSet<(Timestamp, K, N)>,
}

impl<K, N> Default for TimerQueue<K, N> {
    fn default() -> Self {
        TimerQueue {
            by_time: BTreeMap::new(),
            registered: FxHashSet::default(),
        }
    }
}

impl<K: Hash + Eq + Clone, N: Hash + Eq + Clone> TimerQueue<K, N> {
    /// Registers a timer; a second registration of the same timer is ignored.
    pub fn register(&mut self, time: Timestamp, key: &K, namespace: &N) {
        if self
            .registered
            .insert((time, key.clone(), namespace.clone()))
        {
            self.by_time
                .entry(time)
                .or_default()
                .push((key.clone(), namespace.clone()));
        }
    }

    /// Deletes a timer.
    pub fn delete(&mut self, time: Timestamp, key: &K, namespace: &N) {
        self.registered
            .remove(&(time, key.clone(), namespace.clone()));
    }

    /// Takes the earliest timer at or before `limit`.
    pub fn pop_due(&mut self, limit: Timestamp) -> Option<(Timestamp, K, N)> {
        loop {
            let mut entry = self.by_time.first_entry()?;
            let time = *entry.key();
            if time > limit {
                return None;
            }
            let (key, namespace) = match entry.get_mut().pop() {
                Some(timer) => timer,
                None => {
                    entry.remove();
                    continue;
                }
            };
            if entry.get().is_empty() {
                entry.remove();
            }
            if self
                .registered
                .remove(&(time, key.clone(), namespace.clone()))
            {
                return Some((time, key, namespace));
            }
        }
    }

    /// The earliest registered timer's time.
    pub fn earliest(&mut self) -> Option<Timestamp> {
        while let Some(mut entry) = self.by_time.first_entry() {
            let time = *entry.key();
            entry
                .get_mut()
                .retain(|(k, n)| self.registered.contains(&(time, k.clone(), n.clone())));
            if entry.get().is_empty() {
                entry.remove();
            } else {
                return Some(time);
            }
        }
        None
    }

    /// How many timers are registered.
    pub fn len(&self) -> usize {
        self.registered.len()
    }

    /// Whether no timer is registered.
    pub fn is_empty(&self) -> bool {
        self.registered.is_empty()
    }
}

/// What a timer's key and namespace must be: hashable, comparable and written in snapshots.
pub trait TimerPart: Hash + Eq + Clone + Serialize + DeserializeOwned {}

impl<T: Hash + Eq + Clone + Serialize + DeserializeOwned> TimerPart for T {}

impl<K: TimerPart, N: TimerPart> TimerQueue<K, N> {
    /// Writes every registered timer under `state`, in its key's key group (timers are keyed
    /// state: they move with their key when rescaling).
    pub fn snapshot(
        &self,
        into: &mut KeyedSnapshot,
        state: &str,
        max_parallelism: usize,
    ) -> Result<(), StateError> {
        for timer in &self.registered {
            let key_group = assign_to_key_group(&timer.1, max_parallelism);
            into.push(key_group, state, encode(state, timer)?, Vec::new());
        }
        Ok(())
    }

    /// Registers the timers written under `state`.
    pub fn restore(&mut self, from: &KeyedSnapshot, state: &str) -> Result<(), StateError> {
        for (_, bytes, _) in from.entries(state) {
            let (time, key, namespace): (Timestamp, K, N) = decode(state, bytes)?;
            self.register(time, &key, &namespace);
        }
        Ok(())
    }
}

/// The state names the timers of a [`TimerService`] are snapshotted under.
pub const TIMER_STATES: [&str; 2] = ["timers-event-time", "timers-processing-time"];

/// Event-time and processing-time timers of one keyed operator.
#[derive(Debug)]
pub struct TimerService<K, N> {
    /// Timers that fire when the watermark reaches them.
    pub event_time: TimerQueue<K, N>,
    /// Timers that fire when the wall clock reaches them.
    pub processing_time: TimerQueue<K, N>,
}

impl<K, N> Default for TimerService<K, N> {
    fn default() -> Self {
        TimerService {
            event_time: TimerQueue::default(),
            processing_time: TimerQueue::default(),
        }
    }
}

impl<K, N> TimerService<K, N> {
    /// The timers of `domain`.
    pub fn queue(&mut self, domain: TimeDomain) -> &mut TimerQueue<K, N> {
        match domain {
            TimeDomain::EventTime => &mut self.event_time,
            TimeDomain::ProcessingTime => &mut self.processing_time,
        }
    }
}

impl<K: TimerPart, N: TimerPart> TimerService<K, N> {
    /// Writes both domains' timers into `into`.
    pub fn snapshot(
        &self,
        into: &mut KeyedSnapshot,
        max_parallelism: usize,
    ) -> Result<(), StateError> {
        self.event_time
            .snapshot(into, TIMER_STATES[0], max_parallelism)?;
        self.processing_time
            .snapshot(into, TIMER_STATES[1], max_parallelism)
    }

    /// Registers the timers of both domains written by [`TimerService::snapshot`].
    pub fn restore(&mut self, from: &KeyedSnapshot) -> Result<(), StateError> {
        self.event_time.restore(from, TIMER_STATES[0])?;
        self.processing_time.restore(from, TIMER_STATES[1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_in_time_order_once_per_timer() {
        let mut queue = TimerQueue::<&str, u8>::default();
        queue.register(20, &"a", &0);
        queue.register(10, &"b", &0);
        queue.register(10, &"b", &0);
        queue.register(15, &"a", &1);
        queue.delete(15, &"a", &1);
        assert_eq!(queue.len(), 2);
        assert_eq!(queue.earliest(), Some(10));
        assert_eq!(queue.pop_due(12), Some((10, "b", 0)));
        assert_eq!(queue.pop_due(12), None);
        assert_eq!(queue.pop_due(25), Some((20, "a", 0)));
        assert!(queue.is_empty());
        assert_eq!(queue.earliest(), None);
    }
}
