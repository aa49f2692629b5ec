//! Watermark strategies: how a stream's records get event-time timestamps and how watermarks
//! are generated from them, as Flink's `WatermarkStrategy`.
//!
//! A [`WatermarkGenerator`] sees every event (`on_event`, where punctuated generators emit) and
//! is asked periodically (`on_periodic_emit`, every `auto_watermark_interval`, default 200 ms).
//! Emitted watermarks only move forward. The built-in bounded-out-of-orderness generator
//! emits `max timestamp − bound − 1 ms`, as Flink's does.

use std::sync::Arc;
use std::time::Duration;

use sluice_core::{Timestamp, Watermark};

/// Where a generator emits watermarks.
#[derive(Debug, Default)]
pub struct WatermarkOutput {
    watermark: Option<Watermark>,
    idle: bool,
}

impl WatermarkOutput {
    /// Emits a watermark (only a watermark above the last one has an effect).
    pub fn emit_watermark(&mut self, watermark: Watermark) {
        self.watermark = Some(self.watermark.map_or(watermark, |w| w.max(watermark)));
        self.idle = false;
    }

    /// Declares the stream idle: it stops holding back downstream watermarks until its next
    /// event.
    pub fn mark_idle(&mut self) {
        self.idle = true;
    }

    /// Takes what was emitted: the highest watermark and whether the stream went idle.
    pub fn take(&mut self) -> (Option<Watermark>, bool) {
        let taken = (self.watermark.take(), self.idle);
        self.idle = false;
        taken
    }
}

/// Generates watermarks from events and/or periodically; Flink's `WatermarkGenerator`.
pub trait WatermarkGenerator<T>: Send {
    /// Called for every event with its timestamp; punctuated generators emit here.
    fn on_event(&mut self, event: &T, timestamp: Timestamp, output: &mut WatermarkOutput);

    /// Called every auto-watermark interval; periodic generators emit here.
    fn on_periodic_emit(&mut self, output: &mut WatermarkOutput);
}

/// Watermarks that trail the highest timestamp seen by a fixed bound, emitted periodically.
#[derive(Debug, Clone)]
pub struct BoundedOutOfOrderness {
    bound: i64,
    max_timestamp: i64,
}

impl BoundedOutOfOrderness {
    /// A generator tolerating events up to `bound` out of order.
    pub fn new(bound: Duration) -> Self {
        let bound = bound.as_millis() as i64;
        BoundedOutOfOrderness {
            bound,
            max_timestamp: i64::MIN.wrapping_add(bound).wrapping_add(1),
        }
    }

    /// The watermark for the events seen so far: `max timestamp − bound − 1`.
    pub fn current_watermark(&self) -> Watermark {
        Watermark(self.max_timestamp.wrapping_sub(self.bound).wrapping_sub(1))
    }
}

impl<T> WatermarkGenerator<T> for BoundedOutOfOrderness {
    fn on_event(&mut self, _event: &T, timestamp: Timestamp, _output: &mut WatermarkOutput) {
        self.max_timestamp = self.max_timestamp.max(timestamp);
    }

    fn on_periodic_emit(&mut self, output: &mut WatermarkOutput) {
        output.emit_watermark(self.current_watermark());
    }
}

/// A generator that never emits (streams without event time, or watermarks from upstream).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoWatermarks;

impl<T> WatermarkGenerator<T> for NoWatermarks {
    fn on_event(&mut self, _: &T, _: Timestamp, _: &mut WatermarkOutput) {}
    fn on_periodic_emit(&mut self, _: &mut WatermarkOutput) {}
}

/// Extracts an event's timestamp, given the timestamp it already carries (if any).
pub type TimestampAssigner<T> = Arc<dyn Fn(&T, Option<Timestamp>) -> Timestamp + Send + Sync>;

/// Creates one generator per parallel instance.
pub type GeneratorFactory<T> = Arc<dyn Fn() -> Box<dyn WatermarkGenerator<T>> + Send + Sync>;

/// How a stream gets timestamps and watermarks; Flink's `WatermarkStrategy`.
pub struct WatermarkStrategy<T> {
    /// Creates the generator of each parallel instance.
    pub generator: GeneratorFactory<T>,
    /// Extracts timestamps; `None` keeps the timestamps records already carry.
    pub timestamp_assigner: Option<TimestampAssigner<T>>,
    /// After this long without events the stream is marked idle.
    pub idleness: Option<Duration>,
    /// Watermark alignment with other sources of the same group.
    pub alignment: Option<WatermarkAlignment>,
}

/// Keeps sources of one group within `max_drift` of each other's watermarks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatermarkAlignment {
    /// The alignment group.
    pub group: String,
    /// How far ahead of the group's slowest member a member may run.
    pub max_drift: Duration,
    /// How often a paused member checks the group again.
    pub update_interval: Duration,
}

impl<T> Clone for WatermarkStrategy<T> {
    fn clone(&self) -> Self {
        WatermarkStrategy {
            generator: Arc::clone(&self.generator),
            timestamp_assigner: self.timestamp_assigner.clone(),
            idleness: self.idleness,
            alignment: self.alignment.clone(),
        }
    }
}

impl<T: 'static> WatermarkStrategy<T> {
    /// Watermarks trailing the highest timestamp by `bound` (− 1 ms), emitted periodically.
    pub fn for_bounded_out_of_orderness(bound: Duration) -> Self {
        Self::for_generator(move || BoundedOutOfOrderness::new(bound))
    }

    /// For timestamps that only ascend: bounded out-of-orderness with a zero bound.
    pub fn for_monotonous_timestamps() -> Self {
        Self::for_bounded_out_of_orderness(Duration::ZERO)
    }

    /// No watermarks at all.
    pub fn no_watermarks() -> Self {
        Self::for_generator(|| NoWatermarks)
    }

    /// Watermarks from a custom generator, one created per parallel instance.
    pub fn for_generator<G, F>(create: F) -> Self
    where
        G: WatermarkGenerator<T> + 'static,
        F: Fn() -> G + Send + Sync + 'static,
    {
        WatermarkStrategy {
            generator: Arc::new(move || Box::new(create())),
            timestamp_assigner: None,
            idleness: None,
            alignment: None,
        }
    }

    /// Takes each event's timestamp from `assigner(event, timestamp it carries)`.
    pub fn with_timestamp_assigner(
        mut self,
        assigner: impl Fn(&T, Option<Timestamp>) -> Timestamp + Send + Sync + 'static,
    ) -> Self {
        self.timestamp_assigner = Some(Arc::new(assigner));
        self
    }

    /// Pauses this stream while its watermark is more than `max_drift` ahead of the slowest
    /// stream of `group` (checked every `update_interval`).
    pub fn with_watermark_alignment(
        mut self,
        group: &str,
        max_drift: Duration,
        update_interval: Duration,
    ) -> Self {
        self.alignment = Some(WatermarkAlignment {
            group: group.to_string(),
            max_drift,
            update_interval,
        });
        self
    }

    /// Marks the stream idle after `timeout` without events, so it stops holding back
    /// downstream watermarks.
    pub fn with_idleness(mut self, timeout: Duration) -> Self {
        self.idleness = Some(timeout);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_out_of_orderness_trails_by_bound_plus_one() {
        let mut generator = BoundedOutOfOrderness::new(Duration::from_millis(100));
        let mut output = WatermarkOutput::default();
        WatermarkGenerator::<()>::on_periodic_emit(&mut generator, &mut output);
        assert_eq!(output.take().0, Some(Watermark(i64::MIN)));
        WatermarkGenerator::<()>::on_event(&mut generator, &(), 1000, &mut output);
        WatermarkGenerator::<()>::on_event(&mut generator, &(), 900, &mut output);
        assert_eq!(output.take().0, None, "emits only periodically");
        WatermarkGenerator::<()>::on_periodic_emit(&mut generator, &mut output);
        assert_eq!(output.take().0, Some(Watermark(899)));
    }
}
