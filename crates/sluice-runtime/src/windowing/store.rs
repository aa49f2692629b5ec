//! What the window operator keeps per key: every window's slot (contents, trigger values,
//! timers) and, for merging assigners, the merging set — one value in a keyed table, taken out
//! once per element or timer and put back after. The timer queues are derived from the slots'
//! timer lists and rebuilt from them on restore.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sluice_core::Timestamp;

use super::merging_window_set::MergingWindowSet;
use super::triggers::TriggerBackend;
use super::window::Window;
use crate::time::processing_time::ProcessingTime;

/// Everything kept for one window of a key: its contents (when it is a state window), its
/// trigger values and the timers registered for it.
#[derive(Serialize, Deserialize)]
pub(crate) struct WindowSlot<C> {
    pub(crate) contents: Option<C>,
    values: Vec<(Cow<'static, str>, i64)>,
    timers: TimerList,
}

impl<C> Default for WindowSlot<C> {
    fn default() -> Self {
        WindowSlot {
            contents: None,
            values: Vec::new(),
            timers: TimerList::default(),
        }
    }
}

impl<C> WindowSlot<C> {
    fn is_empty(&self) -> bool {
        self.contents.is_none() && self.values.is_empty() && self.timers.is_empty()
    }
}

/// A timer: (event time?, time).
type Timer = (bool, Timestamp);

/// The timers of one window: usually one or two (its end and its cleanup), kept inline so
/// checking them costs no pointer chase; more spill to the heap.
#[derive(Default, Serialize, Deserialize)]
struct TimerList {
    inline: [Option<Timer>; 2],
    spilled: Vec<Timer>,
}

impl TimerList {
    fn contains(&self, timer: &Timer) -> bool {
        self.inline.contains(&Some(*timer)) || self.spilled.contains(timer)
    }

    fn push(&mut self, timer: Timer) {
        match self.inline.iter_mut().find(|t| t.is_none()) {
            Some(free) => *free = Some(timer),
            None => self.spilled.push(timer),
        }
    }

    /// Removes `timer`; returns whether it was there.
    fn remove(&mut self, timer: &Timer) -> bool {
        if let Some(slot) = self.inline.iter_mut().find(|t| t.as_ref() == Some(timer)) {
            *slot = None;
            return true;
        }
        match self.spilled.iter().position(|t| t == timer) {
            Some(position) => {
                self.spilled.swap_remove(position);
                true
            }
            None => false,
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Timer> {
        self.inline.iter().flatten().chain(&self.spilled)
    }

    fn is_empty(&self) -> bool {
        self.inline.iter().all(Option::is_none) && self.spilled.is_empty()
    }
}

/// Everything of one key: its windows' slots and, for merging assigners, its merging set.
/// A key has few live windows, so small vectors beat maps here; the windows sit apart from
/// their slots so finding one scans a cache line or two.
#[derive(Serialize, Deserialize)]
pub(crate) struct KeyWindows<W, C> {
    windows: Vec<W>,
    slots: Vec<WindowSlot<C>>,
    pub(crate) merging: MergingWindowSet<W>,
}

impl<W, C> Default for KeyWindows<W, C> {
    fn default() -> Self {
        KeyWindows {
            windows: Vec::new(),
            slots: Vec::new(),
            merging: MergingWindowSet::default(),
        }
    }
}

impl<W: Window, C> KeyWindows<W, C> {
    /// Whether nothing is kept for the key (it can leave the table).
    pub(crate) fn is_empty(&self) -> bool {
        self.windows.is_empty() && self.merging.is_empty()
    }

    fn position(&self, window: &W) -> Option<usize> {
        self.windows.iter().position(|w| w == window)
    }

    /// The slot of `window`, created if needed.
    pub(crate) fn slot(&mut self, window: &W) -> &mut WindowSlot<C> {
        let position = match self.position(window) {
            Some(position) => position,
            None => {
                self.windows.push(window.clone());
                self.slots.push(WindowSlot::default());
                self.slots.len() - 1
            }
        };
        &mut self.slots[position]
    }

    fn get(&self, window: &W) -> Option<&WindowSlot<C>> {
        self.position(window).map(|position| &self.slots[position])
    }

    /// The slot of `window`, if it exists.
    pub(crate) fn get_mut(&mut self, window: &W) -> Option<&mut WindowSlot<C>> {
        self.position(window)
            .map(|position| &mut self.slots[position])
    }

    /// Applies `change` to an existing slot and drops the slot if it became empty.
    fn update<R>(&mut self, window: &W, change: impl FnOnce(&mut WindowSlot<C>) -> R) -> Option<R> {
        let position = self.position(window)?;
        let result = change(&mut self.slots[position]);
        if self.slots[position].is_empty() {
            self.windows.swap_remove(position);
            self.slots.swap_remove(position);
        }
        Some(result)
    }

    /// Takes the contents of `window` out.
    pub(crate) fn take_contents(&mut self, window: &W) -> Option<C> {
        self.update(window, |slot| slot.contents.take()).flatten()
    }

    /// Removes a timer of `window`; returns whether it was registered.
    pub(crate) fn remove_timer(&mut self, window: &W, timer: Timer) -> bool {
        self.update(window, |slot| slot.timers.remove(&timer)) == Some(true)
    }

    /// Every registered timer: (window, event time?, time).
    pub(crate) fn timers(&self) -> impl Iterator<Item = (&W, bool, Timestamp)> {
        self.windows
            .iter()
            .zip(&self.slots)
            .flat_map(|(window, slot)| {
                slot.timers
                    .iter()
                    .map(move |(event_time, time)| (window, *event_time, *time))
            })
    }
}

/// Due times of registered timers, by domain: (key, window) per time. A slot's timer list
/// decides which entries are live: registering checks it, deleting only removes it there, and
/// stale entries are skipped when due.
pub(crate) struct TimerQueues<K, W> {
    event: BTreeMap<Timestamp, Vec<(K, W)>>,
    processing: BTreeMap<Timestamp, Vec<(K, W)>>,
}

impl<K, W> Default for TimerQueues<K, W> {
    fn default() -> Self {
        TimerQueues {
            event: BTreeMap::new(),
            processing: BTreeMap::new(),
        }
    }
}

impl<K: Clone, W: Clone> TimerQueues<K, W> {
    fn queue(&mut self, event_time: bool) -> &mut BTreeMap<Timestamp, Vec<(K, W)>> {
        if event_time {
            &mut self.event
        } else {
            &mut self.processing
        }
    }

    /// Queues a timer (its slot already lists it).
    pub(crate) fn push(&mut self, event_time: bool, time: Timestamp, key: &K, window: &W) {
        self.queue(event_time)
            .entry(time)
            .or_default()
            .push((key.clone(), window.clone()));
    }

    /// Takes the earliest queued timer of one domain due by `limit`, live or stale.
    pub(crate) fn pop_due(
        &mut self,
        event_time: bool,
        limit: Timestamp,
    ) -> Option<(Timestamp, K, W)> {
        loop {
            let mut entry = self.queue(event_time).first_entry()?;
            let time = *entry.key();
            if time > limit {
                return None;
            }
            match entry.get_mut().pop() {
                Some((key, window)) => {
                    if entry.get().is_empty() {
                        entry.remove();
                    }
                    return Some((time, key, window));
                }
                None => {
                    entry.remove();
                }
            }
        }
    }

    /// The earliest queued processing-time timer (possibly stale: waking for it is harmless).
    pub(crate) fn earliest_processing_time(&self) -> Option<Timestamp> {
        self.processing.keys().next().copied()
    }
}

/// The trigger backend for one key: its windows, and the queues its timers go to.
pub(crate) struct KeyScope<'a, K, W, C> {
    pub(crate) key: &'a K,
    pub(crate) windows: &'a mut KeyWindows<W, C>,
    pub(crate) timers: &'a mut TimerQueues<K, W>,
}

impl<K: Clone, W: Window, C> KeyScope<'_, K, W, C> {
    /// Registers a timer unless the window already has it.
    pub(crate) fn register(&mut self, window: &W, event_time: bool, time: Timestamp) {
        let slot = self.windows.slot(window);
        if slot.timers.contains(&(event_time, time)) {
            return;
        }
        slot.timers.push((event_time, time));
        self.timers.push(event_time, time, self.key, window);
    }

    /// Deletes a timer from its slot; its queue entry goes stale.
    pub(crate) fn delete(&mut self, window: &W, event_time: bool, time: Timestamp) {
        self.windows.remove_timer(window, (event_time, time));
    }
}

impl<K: Clone, W: Window, C> TriggerBackend<W> for KeyScope<'_, K, W, C> {
    fn register_event_time_timer(&mut self, window: &W, time: Timestamp) {
        self.register(window, true, time);
    }

    fn delete_event_time_timer(&mut self, window: &W, time: Timestamp) {
        self.delete(window, true, time);
    }

    fn register_processing_time_timer(&mut self, window: &W, time: ProcessingTime) {
        self.register(window, false, time);
    }

    fn delete_processing_time_timer(&mut self, window: &W, time: ProcessingTime) {
        self.delete(window, false, time);
    }

    fn state(&self, window: &W, name: &'static str) -> Option<i64> {
        self.windows
            .get(window)
            .and_then(|slot| slot.values.iter().find(|(n, _)| n == name))
            .map(|(_, v)| *v)
    }

    fn set_state(&mut self, window: &W, name: &'static str, value: Option<i64>) {
        match value {
            Some(value) => {
                let values = &mut self.windows.slot(window).values;
                match values.iter_mut().find(|(n, _)| n == name) {
                    Some(entry) => entry.1 = value,
                    None => values.push((Cow::Borrowed(name), value)),
                }
            }
            None => {
                self.windows
                    .update(window, |slot| slot.values.retain(|(n, _)| n != name));
            }
        }
    }
}
