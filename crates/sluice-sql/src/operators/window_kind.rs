//! The windows of the window table functions: which windows a row's time falls in, for
//! `TUMBLE`, `HOP`, `CUMULATE` and `SESSION` (a session starts as the row's own window and
//! merges in the operator), and how plans show them.

use sluice_core::Timestamp;

/// How rows are assigned to windows (sizes in milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// `TUMBLE(.., size)`.
    Tumble {
        /// The window size.
        size: i64,
    },
    /// `HOP(.., slide, size)`.
    Hop {
        /// How far apart windows start.
        slide: i64,
        /// The window size.
        size: i64,
    },
    /// `CUMULATE(.., step, max size)`.
    Cumulate {
        /// How much each window of a cycle grows.
        step: i64,
        /// The size of the largest window of a cycle.
        size: i64,
    },
    /// `SESSION(.., gap)`: a key's rows closer than the gap form one window.
    Session {
        /// The inactivity gap.
        gap: i64,
    },
    /// The window a row already belongs to: its `window_start` (the time column) and
    /// `window_end` (the next column), for an aggregation over a window aggregation's output.
    Attached,
}

impl WindowKind {
    /// How plans show the windows: `TUMBLE(size=[10 s])`.
    pub fn describe(&self) -> String {
        match *self {
            WindowKind::Tumble { size } => format!("TUMBLE(size=[{}])", duration(size)),
            WindowKind::Hop { slide, size } => {
                format!(
                    "HOP(slide=[{}], size=[{}])",
                    duration(slide),
                    duration(size)
                )
            }
            WindowKind::Cumulate { step, size } => {
                format!(
                    "CUMULATE(step=[{}], max_size=[{}])",
                    duration(step),
                    duration(size)
                )
            }
            WindowKind::Session { gap } => format!("SESSION(gap=[{}])", duration(gap)),
            WindowKind::Attached => "the input's windows".into(),
        }
    }

    /// The slice holding time `ts`, as `(end, start)`: the stretch of time no window boundary
    /// cuts, so its rows are in the same windows (Flink's slicing) — a tumbling window, a
    /// `gcd(slide, size)` stretch of hopping windows, a step of cumulating ones. Sessions and a
    /// window aggregation's windows have none: the time itself then.
    pub fn slice(&self, ts: Timestamp) -> (Timestamp, Timestamp) {
        let length = match *self {
            WindowKind::Tumble { size } => size,
            WindowKind::Hop { slide, size } => gcd(slide, size),
            WindowKind::Cumulate { step, .. } => step,
            WindowKind::Session { .. } | WindowKind::Attached => return (ts, ts),
        };
        let start = ts - ts.rem_euclid(length);
        (start + length, start)
    }

    /// Whether each window is exactly one slice (see [`Self::slice`]).
    pub fn one_slice_per_window(&self) -> bool {
        match *self {
            WindowKind::Tumble { .. } | WindowKind::Attached => true,
            WindowKind::Hop { slide, size } => slide == size,
            WindowKind::Cumulate { .. } | WindowKind::Session { .. } => false,
        }
    }

    /// The `(start, end)` of every window holding time `ts`.
    pub fn windows(&self, ts: Timestamp, into: &mut Vec<(Timestamp, Timestamp)>) {
        into.clear();
        match *self {
            WindowKind::Tumble { size } => {
                let start = ts - ts.rem_euclid(size);
                into.push((start, start + size));
            }
            WindowKind::Hop { slide, size } => {
                let mut start = ts - ts.rem_euclid(slide);
                while start > ts - size {
                    into.push((start, start + size));
                    start -= slide;
                }
            }
            WindowKind::Session { gap } => into.push((ts, ts + gap)),
            // Given by the row's columns, not by a time (see `WindowAggOperator::add`).
            WindowKind::Attached => {}
            WindowKind::Cumulate { step, size } => {
                let start = ts - ts.rem_euclid(size);
                let mut end = start + step + (ts - start) / step * step;
                while end <= start + size {
                    into.push((start, end));
                    end += step;
                }
            }
        }
    }
}

/// Whether the window ending at `end` has fired by `watermark`: its last millisecond
/// (`end − 1`) is at or before the watermark, as Flink fires a window.
pub fn window_fired(end: Timestamp, watermark: Timestamp) -> bool {
    fires_at(end) <= watermark
}

/// The watermark at which the window ending at `end` fires: its last millisecond.
pub fn fires_at(end: Timestamp) -> Timestamp {
    end.saturating_sub(1)
}

/// The greatest common divisor of two positive lengths.
fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Milliseconds as plans show them: `10 s`, `1 min`, `250 ms`.
fn duration(millis: i64) -> String {
    if millis % 60_000 == 0 {
        format!("{} min", millis / 60_000)
    } else if millis % 1_000 == 0 {
        format!("{} s", millis / 1_000)
    } else {
        format!("{millis} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_are_the_stretches_no_window_boundary_cuts() {
        let hop = WindowKind::Hop {
            slide: 4_000,
            size: 10_000,
        };
        // gcd(4 s, 10 s) = 2 s: window boundaries fall on even seconds.
        assert_eq!(hop.slice(5_500), (6_000, 4_000));
        assert_eq!(hop.slice(-1), (0, -2_000));
        assert!(!hop.one_slice_per_window());
        let cumulate = WindowKind::Cumulate {
            step: 2_000,
            size: 6_000,
        };
        assert_eq!(cumulate.slice(7_000), (8_000, 6_000));
        let tumble = WindowKind::Tumble { size: 10_000 };
        assert_eq!(tumble.slice(12_000), (20_000, 10_000));
        assert!(tumble.one_slice_per_window());
        // Every window holding a time holds its whole slice.
        let mut windows = Vec::new();
        for ts in [-3_000, 5_500, 17_999] {
            let (end, start) = hop.slice(ts);
            hop.windows(ts, &mut windows);
            assert!(windows.iter().all(|&(s, e)| s <= start && end <= e));
        }
    }
}
