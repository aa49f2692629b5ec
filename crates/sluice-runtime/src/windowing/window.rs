//! Window types: time windows `[start, end)` and the single global window.

use std::fmt::Debug;
use std::hash::Hash;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sluice_core::Timestamp;

/// A window: a bucket of elements with a latest timestamp.
pub trait Window:
    Clone + Eq + Hash + Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// The largest timestamp that belongs to the window.
    fn max_timestamp(&self) -> Timestamp;

    /// The window `[start, end)`, for window types that are time ranges.
    fn from_bounds(_start: Timestamp, _end: Timestamp) -> Option<Self> {
        None
    }
}

/// Flink's cleanup time of an event-time window ending at `max_timestamp`: when its state is
/// dropped, `allowed_lateness` after its end — or never, when that overflows.
pub(crate) fn cleanup_time(max_timestamp: Timestamp, allowed_lateness: i64) -> Timestamp {
    let cleanup = max_timestamp.wrapping_add(allowed_lateness);
    if cleanup >= max_timestamp {
        cleanup
    } else {
        Timestamp::MAX
    }
}

/// `window` as the window type `W` of a window function; an error for window types that are
/// not time ranges.
pub(crate) fn typed<W: Window>(window: &TimeWindow) -> Result<W, String> {
    W::from_bounds(window.start, window.end)
        .ok_or_else(|| format!("{window:?}: these windows need a time window type"))
}

/// The time window `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TimeWindow {
    /// The first timestamp in the window.
    pub start: Timestamp,
    /// One past the last timestamp in the window.
    pub end: Timestamp,
}

impl TimeWindow {
    /// The window `[start, end)`.
    pub fn new(start: Timestamp, end: Timestamp) -> Self {
        TimeWindow { start, end }
    }

    /// Whether the two windows overlap or touch (Flink: `start <= other.end && end >=
    /// other.start`), so session windows that meet are merged.
    pub fn intersects(&self, other: &TimeWindow) -> bool {
        self.start <= other.end && self.end >= other.start
    }

    /// The smallest window covering both.
    pub fn cover(&self, other: &TimeWindow) -> TimeWindow {
        TimeWindow::new(self.start.min(other.start), self.end.max(other.end))
    }

    /// The start of the window of size `size` with offset `offset` that holds `timestamp`, as
    /// Flink's `TimeWindow.getWindowStartWithOffset` computes it (wrapping 64-bit arithmetic; a
    /// negative remainder is moved into range, so negative timestamps land in their window).
    pub fn start_with_offset(timestamp: Timestamp, offset: i64, size: i64) -> Timestamp {
        let remainder = timestamp.wrapping_sub(offset).wrapping_rem(size);
        if remainder < 0 {
            timestamp.wrapping_sub(remainder.wrapping_add(size))
        } else {
            timestamp.wrapping_sub(remainder)
        }
    }
}

impl Window for TimeWindow {
    fn max_timestamp(&self) -> Timestamp {
        self.end.wrapping_sub(1)
    }

    fn from_bounds(start: Timestamp, end: Timestamp) -> Option<Self> {
        Some(TimeWindow::new(start, end))
    }
}

/// The one window of [`super::GlobalWindows`]: everything of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct GlobalWindow;

impl Window for GlobalWindow {
    fn max_timestamp(&self) -> Timestamp {
        Timestamp::MAX
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_starts_follow_flink() {
        assert_eq!(TimeWindow::start_with_offset(12, 0, 5), 10);
        assert_eq!(TimeWindow::start_with_offset(10, 0, 5), 10);
        assert_eq!(TimeWindow::start_with_offset(-1, 0, 5), -5);
        assert_eq!(TimeWindow::start_with_offset(12, 3, 5), 8);
        // Negative timestamps land in the window that holds them.
        assert_eq!(TimeWindow::start_with_offset(-12, 0, 5), -15);
        assert_eq!(TimeWindow::start_with_offset(-2025, 0, 50), -2050);
        assert_eq!(TimeWindow::start_with_offset(-5, 0, 5), -5);
    }

    #[test]
    fn touching_windows_intersect() {
        let a = TimeWindow::new(0, 5);
        assert!(a.intersects(&TimeWindow::new(5, 10)));
        assert!(!a.intersects(&TimeWindow::new(6, 10)));
        assert_eq!(a.cover(&TimeWindow::new(3, 9)), TimeWindow::new(0, 9));
        assert_eq!(a.max_timestamp(), 4);
    }
}
