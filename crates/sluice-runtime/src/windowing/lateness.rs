//! Lateness: how long event-time windows stay open after the watermark passes their end, and
//! where elements too late for every window go (Flink's `allowedLateness` and
//! `sideOutputLateData`).

use sluice_core::{Record, Timestamp};

use super::window::cleanup_time;
use crate::task::output::{Output, OutputTag};

/// The allowed lateness of a window operator and its side output for late elements.
pub struct Lateness<T> {
    /// How long (ms) a window is kept after the watermark passed its end.
    pub allowed: i64,
    /// Receives elements too late for all their windows; without it they are dropped.
    pub side_output: Option<OutputTag<T>>,
}

impl<T> Clone for Lateness<T> {
    fn clone(&self) -> Self {
        Lateness {
            allowed: self.allowed,
            side_output: self.side_output.clone(),
        }
    }
}

impl<T> Default for Lateness<T> {
    fn default() -> Self {
        Lateness {
            allowed: 0,
            side_output: None,
        }
    }
}

impl<T: 'static> Lateness<T> {
    /// When a window whose last timestamp is `max_timestamp` is dropped (never when that
    /// overflows).
    pub fn cleanup_time(&self, max_timestamp: Timestamp) -> Timestamp {
        cleanup_time(max_timestamp, self.allowed)
    }

    /// Whether an element at `timestamp` is later than the allowed lateness at `watermark`.
    pub fn is_late(&self, timestamp: Timestamp, watermark: Timestamp) -> bool {
        timestamp.wrapping_add(self.allowed) <= watermark
    }

    /// Hands an element too late for all its windows to the side output, if there is one.
    pub fn drop_late<O>(&self, record: Record<T>, out: &mut Output<O>) {
        if let Some(tag) = &self.side_output {
            out.sides.emit(tag, record);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_element_is_late_once_the_watermark_passes_it_by_the_allowed_lateness() {
        let lateness = Lateness::<()> {
            allowed: 5,
            side_output: None,
        };
        assert!(!lateness.is_late(10, 14));
        assert!(lateness.is_late(10, 15));
        assert_eq!(lateness.cleanup_time(19), 24);
        assert_eq!(lateness.cleanup_time(Timestamp::MAX - 1), Timestamp::MAX);
    }
}
