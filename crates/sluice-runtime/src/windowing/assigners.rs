//! Window assigners: which windows an element belongs to.
//!
//! Each time-based assigner works in event time (the element's timestamp) or processing time
//! (the wall clock when the element arrives), with an optional offset, exactly as Flink's
//! `Tumbling…Windows`, `Sliding…Windows` and `…SessionWindows` do.

use std::sync::Arc;
use std::time::Duration;

use sluice_core::Timestamp;

use super::triggers::{EventTimeTrigger, NeverTrigger, ProcessingTimeTrigger, Trigger};
use super::window::{GlobalWindow, TimeWindow, Window};
use crate::time::processing_time::ProcessingTime;

/// Puts elements into windows.
pub trait WindowAssigner<T, W: Window>: Send + Sync + 'static {
    /// The windows `element` (with `timestamp`, arriving at processing time `now`) belongs to.
    fn assign_windows(
        &self,
        element: &T,
        timestamp: Timestamp,
        now: ProcessingTime,
    ) -> Result<Vec<W>, String>;

    /// Whether windows follow event time (and so can be late).
    fn is_event_time(&self) -> bool;

    /// The trigger used when the user sets none.
    fn default_trigger(&self) -> Arc<dyn Trigger<T, W>>;

    /// Whether windows of a key merge (session windows).
    fn is_merging(&self) -> bool {
        false
    }

    /// Groups of windows that merge, each with the window covering it (groups of two or
    /// more only).
    fn merge_windows(&self, _windows: &[W]) -> Vec<(W, Vec<W>)> {
        Vec::new()
    }

    /// The size, slide and offset of event-time tumbling or sliding windows, which can be
    /// aggregated by slices; `None` for every other assigner.
    fn sliding_shape(&self) -> Option<super::slicing::SlidingShape> {
        None
    }

    /// The gap of event-time session windows with a static gap, which have a dedicated
    /// operator; `None` for every other assigner.
    fn session_gap(&self) -> Option<i64> {
        None
    }

    /// Rejects invalid parameters (non-positive sizes, offsets out of range).
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn default_time_trigger<T: 'static>(event_time: bool) -> Arc<dyn Trigger<T, TimeWindow>> {
    if event_time {
        Arc::new(EventTimeTrigger)
    } else {
        Arc::new(ProcessingTimeTrigger)
    }
}

fn time_of(
    event_time: bool,
    timestamp: Timestamp,
    now: ProcessingTime,
    kind: &str,
) -> Result<Timestamp, String> {
    if !event_time {
        return Ok(now);
    }
    if timestamp == Timestamp::MIN {
        return Err(format!(
            "record has no timestamp (Long.MIN_VALUE) but {kind} event-time windows need one: assign timestamps and watermarks first"
        ));
    }
    Ok(timestamp)
}

/// Fixed-size, non-overlapping windows: sliding windows whose slide is their size (an
/// element belongs to exactly one).
#[derive(Debug, Clone, Copy)]
pub enum TumblingWindows {}

impl TumblingWindows {
    /// Event-time tumbling windows of `size`.
    pub fn event_time(size: Duration) -> SlidingWindows {
        SlidingWindows::event_time(size, size)
    }

    /// Processing-time tumbling windows of `size`.
    pub fn processing_time(size: Duration) -> SlidingWindows {
        SlidingWindows::processing_time(size, size)
    }
}

/// Fixed-size windows starting every `slide`; an element belongs to `size / slide` windows.
#[derive(Debug, Clone, Copy)]
pub struct SlidingWindows {
    size: i64,
    slide: i64,
    offset: i64,
    event_time: bool,
}

impl SlidingWindows {
    /// Event-time sliding windows of `size` every `slide`.
    pub fn event_time(size: Duration, slide: Duration) -> Self {
        SlidingWindows {
            size: millis(size),
            slide: millis(slide),
            offset: 0,
            event_time: true,
        }
    }

    /// Processing-time sliding windows of `size` every `slide`.
    pub fn processing_time(size: Duration, slide: Duration) -> Self {
        SlidingWindows {
            event_time: false,
            ..Self::event_time(size, slide)
        }
    }

    /// Shifts window starts by `offset` ms (e.g. for time zones); may be negative.
    pub fn with_offset(mut self, offset: i64) -> Self {
        self.offset = offset;
        self
    }

    /// What the windows are called in errors.
    fn kind(&self) -> &'static str {
        if self.size == self.slide {
            "tumbling"
        } else {
            "sliding"
        }
    }
}

impl<T: 'static> WindowAssigner<T, TimeWindow> for SlidingWindows {
    fn assign_windows(
        &self,
        _: &T,
        timestamp: Timestamp,
        now: ProcessingTime,
    ) -> Result<Vec<TimeWindow>, String> {
        let t = time_of(self.event_time, timestamp, now, self.kind())?;
        let last_start = TimeWindow::start_with_offset(t, self.offset, self.slide);
        let lower = t.wrapping_sub(self.size);
        let mut windows = Vec::with_capacity((self.size / self.slide).max(1) as usize);
        let mut start = last_start;
        // Bounded by size / slide (+1), also where Flink's wrapping arithmetic would not stop.
        while start > lower && windows.len() as i64 <= self.size / self.slide {
            windows.push(TimeWindow::new(start, start.wrapping_add(self.size)));
            start = start.wrapping_sub(self.slide);
        }
        Ok(windows)
    }

    fn is_event_time(&self) -> bool {
        self.event_time
    }

    fn default_trigger(&self) -> Arc<dyn Trigger<T, TimeWindow>> {
        default_time_trigger(self.event_time)
    }

    fn sliding_shape(&self) -> Option<super::slicing::SlidingShape> {
        self.event_time.then_some(super::slicing::SlidingShape {
            size: self.size,
            slide: self.slide,
            offset: self.offset,
        })
    }

    fn validate(&self) -> Result<(), String> {
        if self.size <= 0
            || self.slide <= 0
            || self.offset.unsigned_abs() >= self.slide.unsigned_abs()
        {
            return Err(format!(
                "{} windows need 0 < size, 0 < slide and |offset| < slide (size {} ms, slide {} ms, offset {} ms)",
                self.kind(),
                self.size,
                self.slide,
                self.offset
            ));
        }
        Ok(())
    }
}

/// Merges time windows that overlap or touch, as Flink's `TimeWindow.mergeWindows`.
fn merge_time_windows(windows: &[TimeWindow]) -> Vec<(TimeWindow, Vec<TimeWindow>)> {
    let mut sorted = windows.to_vec();
    sorted.sort_by_key(|w| w.start);
    let mut merged: Vec<(TimeWindow, Vec<TimeWindow>)> = Vec::new();
    for candidate in sorted {
        match merged.last_mut() {
            Some((cover, members)) if cover.intersects(&candidate) => {
                *cover = cover.cover(&candidate);
                if !members.contains(&candidate) {
                    members.push(candidate);
                }
            }
            _ => merged.push((candidate, vec![candidate])),
        }
    }
    merged.retain(|(_, members)| members.len() > 1);
    merged
}

/// Session windows: a key's elements closer than their gap to each other share a window. The
/// gap is fixed ([`SessionWindows`]) or chosen by each element ([`DynamicSessionWindows`]).
#[derive(Debug, Clone, Copy)]
pub struct Sessions<G> {
    gap: G,
    event_time: bool,
}

/// Where a session's gap comes from.
pub trait SessionGap<T>: Send + Sync + 'static {
    /// The gap (ms) that `element` opens.
    fn gap_of(&self, element: &T) -> Result<i64, String>;

    /// The gap when it is the same for every element (sessions with a dedicated operator).
    fn fixed(&self) -> Option<i64>;
}

/// A gap the same for every element, in ms.
#[derive(Debug, Clone, Copy)]
pub struct FixedGap(i64);

impl<T> SessionGap<T> for FixedGap {
    fn gap_of(&self, _: &T) -> Result<i64, String> {
        Ok(self.0)
    }

    fn fixed(&self) -> Option<i64> {
        Some(self.0)
    }
}

/// A gap each element chooses.
pub struct ElementGap<T>(Arc<dyn Fn(&T) -> Duration + Send + Sync>);

impl<T: 'static> SessionGap<T> for ElementGap<T> {
    fn gap_of(&self, element: &T) -> Result<i64, String> {
        let gap = millis((self.0)(element));
        if gap <= 0 {
            return Err(format!(
                "a dynamic session gap must be positive, got {gap} ms"
            ));
        }
        Ok(gap)
    }

    fn fixed(&self) -> Option<i64> {
        None
    }
}

/// Sessions closing after a fixed gap without elements.
pub type SessionWindows = Sessions<FixedGap>;

impl SessionWindows {
    /// Event-time sessions closing after `gap` without elements.
    pub fn event_time_with_gap(gap: Duration) -> Self {
        Sessions {
            gap: FixedGap(millis(gap)),
            event_time: true,
        }
    }

    /// Processing-time sessions closing after `gap` without elements.
    pub fn processing_time_with_gap(gap: Duration) -> Self {
        Sessions {
            event_time: false,
            ..Self::event_time_with_gap(gap)
        }
    }
}

/// Session windows whose gap each element chooses.
pub type DynamicSessionWindows<T> = Sessions<ElementGap<T>>;

impl<T> DynamicSessionWindows<T> {
    /// Event-time sessions with a per-element gap.
    pub fn event_time(gap: impl Fn(&T) -> Duration + Send + Sync + 'static) -> Self {
        Sessions {
            gap: ElementGap(Arc::new(gap)),
            event_time: true,
        }
    }

    /// Processing-time sessions with a per-element gap.
    pub fn processing_time(gap: impl Fn(&T) -> Duration + Send + Sync + 'static) -> Self {
        Sessions {
            event_time: false,
            ..Self::event_time(gap)
        }
    }
}

impl<T: 'static, G: SessionGap<T>> WindowAssigner<T, TimeWindow> for Sessions<G> {
    fn assign_windows(
        &self,
        element: &T,
        timestamp: Timestamp,
        now: ProcessingTime,
    ) -> Result<Vec<TimeWindow>, String> {
        let gap = self.gap.gap_of(element)?;
        let t = if self.event_time { timestamp } else { now };
        Ok(vec![TimeWindow::new(t, t.wrapping_add(gap))])
    }

    fn is_event_time(&self) -> bool {
        self.event_time
    }

    fn default_trigger(&self) -> Arc<dyn Trigger<T, TimeWindow>> {
        default_time_trigger(self.event_time)
    }

    fn is_merging(&self) -> bool {
        true
    }

    fn merge_windows(&self, windows: &[TimeWindow]) -> Vec<(TimeWindow, Vec<TimeWindow>)> {
        merge_time_windows(windows)
    }

    fn session_gap(&self) -> Option<i64> {
        self.gap.fixed().filter(|_| self.event_time)
    }

    fn validate(&self) -> Result<(), String> {
        match self.gap.fixed() {
            Some(gap) if gap <= 0 => Err(format!("session windows need 0 < gap (gap {gap} ms)")),
            _ => Ok(()),
        }
    }
}

/// One window per key holding all its elements; it fires only through a custom trigger.
#[derive(Debug, Clone, Copy, Default)]
pub struct GlobalWindows;

impl<T: 'static> WindowAssigner<T, GlobalWindow> for GlobalWindows {
    fn assign_windows(
        &self,
        _: &T,
        _: Timestamp,
        _: ProcessingTime,
    ) -> Result<Vec<GlobalWindow>, String> {
        Ok(vec![GlobalWindow])
    }

    fn is_event_time(&self) -> bool {
        false
    }

    fn default_trigger(&self) -> Arc<dyn Trigger<T, GlobalWindow>> {
        Arc::new(NeverTrigger)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assign<A: WindowAssigner<(), TimeWindow>>(assigner: &A, ts: i64) -> Vec<(i64, i64)> {
        assigner
            .assign_windows(&(), ts, 0)
            .unwrap()
            .into_iter()
            .map(|w| (w.start, w.end))
            .collect()
    }

    #[test]
    fn tumbling_windows_align_to_size_and_offset() {
        let tumbling = TumblingWindows::event_time(Duration::from_millis(10));
        assert_eq!(assign(&tumbling, 0), vec![(0, 10)]);
        assert_eq!(assign(&tumbling, 19), vec![(10, 20)]);
        assert_eq!(assign(&tumbling, -1), vec![(-10, 0)]);
        assert_eq!(assign(&tumbling.with_offset(3), 12), vec![(3, 13)]);
        assert!(WindowAssigner::<(), TimeWindow>::validate(&tumbling.with_offset(10)).is_err());
        assert!(
            WindowAssigner::<(), TimeWindow>::assign_windows(&tumbling, &(), i64::MIN, 0).is_err()
        );
    }

    #[test]
    fn sliding_windows_from_latest_start_down() {
        let sliding =
            SlidingWindows::event_time(Duration::from_millis(10), Duration::from_millis(5));
        assert_eq!(assign(&sliding, 12), vec![(10, 20), (5, 15)]);
        assert_eq!(assign(&sliding, 10), vec![(10, 20), (5, 15)]);
        let uneven =
            SlidingWindows::event_time(Duration::from_millis(10), Duration::from_millis(3));
        assert_eq!(assign(&uneven, 9), vec![(9, 19), (6, 16), (3, 13), (0, 10)]);
    }

    #[test]
    fn sessions_merge_overlapping_and_touching_windows() {
        let windows = [
            TimeWindow::new(0, 5),
            TimeWindow::new(5, 8),
            TimeWindow::new(20, 25),
            TimeWindow::new(3, 4),
            TimeWindow::new(30, 31),
            TimeWindow::new(24, 29),
        ];
        let merged = merge_time_windows(&windows);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].0, TimeWindow::new(0, 8));
        assert_eq!(merged[0].1.len(), 3);
        assert_eq!(merged[1].0, TimeWindow::new(20, 29));
    }
}
