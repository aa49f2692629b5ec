//! The merging window set of one key: which windows exist, and which "state window" holds
//! each one's contents, so merging windows need not move their contents (Flink's
//! `MergingWindowSet`, followed step by step).

use serde::{Deserialize, Serialize};

use super::window::Window;

/// The windows of one key of a merging assigner: (window, state window) pairs. A key has few
/// live sessions, so a small vector beats a hash map here.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MergingWindowSet<W> {
    mapping: Vec<(W, W)>,
}

impl<W> Default for MergingWindowSet<W> {
    fn default() -> Self {
        MergingWindowSet {
            mapping: Vec::new(),
        }
    }
}

/// One merge performed while adding a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merge<W> {
    /// The window covering the merged ones.
    pub result: W,
    /// The windows that were merged into `result` (without the newly added window).
    pub merged: Vec<W>,
    /// The state window holding `result`'s contents.
    pub state_window: W,
    /// The state windows whose contents must move into `state_window`.
    pub merged_state_windows: Vec<W>,
}

impl<W: Window> MergingWindowSet<W> {
    /// The state window of `window`, if the window exists.
    pub fn state_window(&self, window: &W) -> Option<&W> {
        self.mapping
            .iter()
            .find(|(w, _)| w == window)
            .map(|(_, state)| state)
    }

    /// Forgets `window` (it was cleaned up or is late).
    pub fn retire_window(&mut self, window: &W) {
        self.remove(window);
    }

    fn remove(&mut self, window: &W) -> Option<W> {
        let position = self.mapping.iter().position(|(w, _)| w == window)?;
        Some(self.mapping.swap_remove(position).1)
    }

    fn insert(&mut self, window: W, state_window: W) {
        match self.mapping.iter_mut().find(|(w, _)| *w == window) {
            Some(entry) => entry.1 = state_window,
            None => self.mapping.push((window, state_window)),
        }
    }

    /// Whether the key has no windows left.
    pub fn is_empty(&self) -> bool {
        self.mapping.is_empty()
    }

    /// Adds `new_window`, merging it with existing windows as `merge_windows` groups them.
    /// Returns the window the new one ended up in and the merges performed.
    pub fn add_window(
        &mut self,
        new_window: W,
        merge_windows: impl FnOnce(&[W]) -> Vec<(W, Vec<W>)>,
    ) -> (W, Vec<Merge<W>>) {
        let mut windows: Vec<W> = self.mapping.iter().map(|(w, _)| w.clone()).collect();
        windows.push(new_window.clone());
        let merge_results = merge_windows(&windows);
        let no_merges = merge_results.is_empty();
        let mut result_window = new_window.clone();
        let mut merged_new_window = false;
        let mut merges = Vec::new();
        for (merge_result, mut merged_windows) in merge_results {
            if let Some(position) = merged_windows.iter().position(|w| *w == new_window) {
                merged_windows.remove(position);
                merged_new_window = true;
                result_window = merge_result.clone();
            }
            let Some(merged_state_window) = merged_windows
                .first()
                .and_then(|w| self.state_window(w))
                .cloned()
            else {
                continue;
            };
            let mut merged_state_windows: Vec<W> = merged_windows
                .iter()
                .filter_map(|w| self.remove(w))
                .collect();
            self.insert(merge_result.clone(), merged_state_window.clone());
            merged_state_windows.retain(|w| *w != merged_state_window);
            if !(merged_windows.contains(&merge_result) && merged_windows.len() == 1) {
                merges.push(Merge {
                    result: merge_result,
                    merged: merged_windows,
                    state_window: merged_state_window,
                    merged_state_windows,
                });
            }
        }
        if no_merges || (result_window == new_window && !merged_new_window) {
            self.insert(result_window.clone(), result_window.clone());
        }
        (result_window, merges)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::windowing::{SessionWindows, TimeWindow, WindowAssigner};

    fn add(
        set: &mut MergingWindowSet<TimeWindow>,
        start: i64,
        end: i64,
    ) -> (TimeWindow, Vec<Merge<TimeWindow>>) {
        let sessions = SessionWindows::event_time_with_gap(std::time::Duration::from_millis(1));
        set.add_window(TimeWindow::new(start, end), |w| {
            WindowAssigner::<(), TimeWindow>::merge_windows(&sessions, w)
        })
    }

    #[test]
    fn new_windows_stand_alone_until_they_overlap() {
        let mut set = MergingWindowSet::default();
        let (w, merges) = add(&mut set, 0, 5);
        assert_eq!(w, TimeWindow::new(0, 5));
        assert!(merges.is_empty());
        let (w, _) = add(&mut set, 10, 15);
        assert_eq!(w, TimeWindow::new(10, 15));
        assert_eq!(set.state_window(&w), Some(&w));
    }

    #[test]
    fn a_bridging_window_merges_both_neighbours_into_one_state_window() {
        let mut set = MergingWindowSet::default();
        add(&mut set, 0, 5);
        add(&mut set, 10, 15);
        let (w, merges) = add(&mut set, 4, 11);
        assert_eq!(w, TimeWindow::new(0, 15));
        assert_eq!(merges.len(), 1);
        let merge = &merges[0];
        assert_eq!(merge.result, w);
        assert_eq!(merge.merged.len(), 2);
        assert_eq!(merge.merged_state_windows.len(), 1);
        assert_eq!(set.state_window(&w), Some(&merge.state_window));
        assert!(set.state_window(&TimeWindow::new(0, 5)).is_none());
    }

    #[test]
    fn a_window_inside_an_existing_one_adds_nothing_new() {
        let mut set = MergingWindowSet::default();
        add(&mut set, 0, 10);
        let (w, merges) = add(&mut set, 2, 4);
        assert_eq!(w, TimeWindow::new(0, 10));
        assert!(
            merges.is_empty(),
            "merging into itself needs no state merge"
        );
        assert_eq!(set.state_window(&w), Some(&TimeWindow::new(0, 10)));
    }
}
