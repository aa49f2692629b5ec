//! `assign_timestamps_and_watermarks`: sets each record's timestamp and runs the watermark
//! generator, emitting watermarks between records as the generator produces them.
//!
//! As in Flink, watermarks arriving from upstream are dropped (this operator defines event
//! time from here on), except the final `Watermark::MAX` of a bounded input.

use std::sync::Arc;

use sluice_core::{Record, UserResult, Watermark};

use crate::signal::CancelToken;
use crate::task::operator::{OneInputOperator, OperatorContext, StreamOperator, WatermarkOut};
use crate::task::output::Output;
use crate::time::alignment::AlignmentRegistry;
use crate::time::processing_time::{ProcessingTime, ProcessingTimeService};
use crate::time::watermarks::{
    WatermarkAlignment, WatermarkGenerator, WatermarkOutput, WatermarkStrategy,
};

/// Assigns timestamps and generates watermarks.
pub struct TimestampsAndWatermarksOperator<T> {
    strategy: WatermarkStrategy<T>,
    generator: Option<Box<dyn WatermarkGenerator<T>>>,
    output: WatermarkOutput,
    emitted: Watermark,
    interval: i64,
    next_periodic: ProcessingTime,
    idle_after: Option<i64>,
    last_event: ProcessingTime,
    idle: bool,
    time: ProcessingTimeService,
    alignment: Option<Aligned>,
}

/// This instance's membership in a watermark alignment group.
struct Aligned {
    config: WatermarkAlignment,
    member: String,
    registry: Arc<AlignmentRegistry>,
    cancel: CancelToken,
}

impl Aligned {
    /// Blocks while `watermark` is more than the allowed drift ahead of the group.
    fn wait(&self, watermark: Watermark) -> UserResult {
        let drift = i64::try_from(self.config.max_drift.as_millis()).unwrap_or(i64::MAX);
        loop {
            let slowest = self
                .registry
                .group_minimum(&self.config.group)
                .unwrap_or(i64::MAX);
            if watermark.0 <= slowest.saturating_add(drift) {
                return Ok(());
            }
            if self.cancel.is_cancelled() {
                return Err("cancelled while paused for watermark alignment".into());
            }
            std::thread::sleep(
                self.config
                    .update_interval
                    .max(std::time::Duration::from_millis(1)),
            );
        }
    }

    fn report(&self, watermark: Watermark) {
        self.registry
            .report(&self.config.group, &self.member, watermark.0);
    }

    fn leave(&self) {
        self.registry.leave(&self.config.group, &self.member);
    }
}

impl<T> TimestampsAndWatermarksOperator<T> {
    /// An operator applying `strategy`.
    pub fn new(strategy: WatermarkStrategy<T>) -> Self {
        TimestampsAndWatermarksOperator {
            strategy,
            generator: None,
            output: WatermarkOutput::default(),
            emitted: Watermark::MIN,
            interval: 0,
            next_periodic: 0,
            idle_after: None,
            last_event: 0,
            idle: false,
            time: ProcessingTimeService::default(),
            alignment: None,
        }
    }

    /// Emits what the generator produced: a higher watermark, or idleness.
    fn flush_generated<O>(&mut self, out: &mut Output<O>) {
        let (watermark, idle) = self.output.take();
        if let Some(watermark) = watermark.filter(|w| *w > self.emitted) {
            self.emitted = watermark;
            out.emit_watermark(watermark);
        }
        if idle && !self.idle {
            self.idle = true;
            out.emit_status(false);
            if let Some(aligned) = &self.alignment {
                aligned.leave();
            }
        }
    }

    fn schedule(&self) {
        if self.interval > 0 {
            self.time.wake_at(self.next_periodic);
        }
        if let Some(idle_after) = self.idle_after.filter(|_| !self.idle) {
            self.time
                .wake_at(self.last_event.saturating_add(idle_after));
        }
    }
}

impl<T: Send + 'static> OneInputOperator<T, T> for TimestampsAndWatermarksOperator<T> {
    fn process_batch(&mut self, batch: &mut Vec<Record<T>>, out: &mut Output<T>) -> UserResult {
        let Some(generator) = self.generator.as_mut() else {
            return Err("watermark generator used before open".into());
        };
        if self.idle_after.is_some() {
            self.last_event = self.time.now();
        }
        if let Some(aligned) = &self.alignment {
            aligned.wait(self.emitted)?;
        }
        if self.idle && !batch.is_empty() {
            self.idle = false;
            out.emit_status(true);
            if let Some(aligned) = &self.alignment {
                aligned.report(self.emitted);
            }
        }
        for record in batch.drain(..) {
            let timestamp = match &self.strategy.timestamp_assigner {
                Some(assign) => assign(&record.value, record.timestamp),
                None => record.timestamp.unwrap_or(i64::MIN),
            };
            generator.on_event(&record.value, timestamp, &mut self.output);
            out.push(Record::with_timestamp(record.value, timestamp));
            let (watermark, _) = self.output.take();
            if let Some(watermark) = watermark.filter(|w| *w > self.emitted) {
                self.emitted = watermark;
                out.emit_watermark(watermark);
            }
        }
        if let Some(aligned) = self.alignment.as_ref().filter(|_| !self.idle) {
            aligned.report(self.emitted);
        }
        Ok(())
    }
}

impl<T: Send + 'static> StreamOperator<T, T> for TimestampsAndWatermarksOperator<T> {
    fn process_watermark(&mut self, watermark: Watermark, _out: &mut Output<T>) -> WatermarkOut {
        if watermark != Watermark::MAX {
            return Ok(None);
        }
        if let Some(aligned) = &self.alignment {
            aligned.leave();
        }
        Ok(Some(Watermark::MAX))
    }

    fn on_processing_time(&mut self, now: ProcessingTime, out: &mut Output<T>) -> UserResult {
        if self.interval > 0 && now >= self.next_periodic {
            if let Some(generator) = self.generator.as_mut() {
                generator.on_periodic_emit(&mut self.output);
            }
            self.next_periodic = now + self.interval;
        }
        if let Some(idle_after) = self.idle_after
            && now - self.last_event >= idle_after
        {
            self.output.mark_idle();
        }
        self.flush_generated(out);
        self.schedule();
        Ok(())
    }

    fn open(&mut self, ctx: &OperatorContext) -> UserResult {
        self.generator = Some((self.strategy.generator)());
        self.time = ctx.processing_time.clone();
        self.interval = ctx.auto_watermark_interval.as_millis() as i64;
        self.idle_after = self.strategy.idleness.map(|d| d.as_millis() as i64);
        let now = self.time.now();
        self.next_periodic = now + self.interval;
        self.last_event = now;
        if let Some(config) = self.strategy.alignment.clone() {
            let member = AlignmentRegistry::member(&ctx.uid, ctx.subtask);
            ctx.alignment.join(&config.group, &member)?;
            self.alignment = Some(Aligned {
                config,
                member,
                registry: Arc::clone(&ctx.alignment),
                cancel: ctx.cancel.clone(),
            });
        }
        self.schedule();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::harness::OneInputHarness;
    use crate::time::processing_time::ManualClock;

    /// Emits a watermark equal to each event's timestamp.
    struct Punctuated;

    impl WatermarkGenerator<i64> for Punctuated {
        fn on_event(&mut self, _: &i64, timestamp: i64, output: &mut WatermarkOutput) {
            output.emit_watermark(Watermark(timestamp));
        }
        fn on_periodic_emit(&mut self, _: &mut WatermarkOutput) {}
    }

    #[test]
    fn punctuated_watermarks_follow_their_records_and_never_go_back() {
        let strategy = WatermarkStrategy::for_generator(|| Punctuated)
            .with_timestamp_assigner(|v: &i64, _| *v);
        let mut harness = OneInputHarness::new(TimestampsAndWatermarksOperator::new(strategy));
        harness.process(Record::new(5));
        harness.process(Record::new(3));
        harness.process(Record::new(9));
        harness.watermark(Watermark(100));
        assert_eq!(harness.watermarks(), vec![Watermark(5), Watermark(9)]);
        assert_eq!(
            harness.take_records(),
            vec![
                Record::with_timestamp(5, 5),
                Record::with_timestamp(3, 3),
                Record::with_timestamp(9, 9)
            ]
        );
        harness.watermark(Watermark::MAX);
        assert_eq!(harness.watermarks().last(), Some(&Watermark::MAX));
    }

    #[test]
    fn periodic_emission_and_idleness_follow_processing_time() {
        let clock = ManualClock::new(1_000);
        let mut ctx = OperatorContext::single("watermarks");
        ctx.processing_time = ProcessingTimeService::new(clock.clone());
        ctx.auto_watermark_interval = Duration::from_millis(200);
        let strategy = WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_millis(10))
            .with_timestamp_assigner(|v: &i64, _| *v)
            .with_idleness(Duration::from_millis(500));
        let mut harness = OneInputHarness::with_context(
            TimestampsAndWatermarksOperator::new(strategy),
            ctx.clone(),
        );
        harness.process(Record::new(100));
        assert!(harness.watermarks().is_empty());
        clock.set(1_200);
        harness.processing_time(1_200);
        assert_eq!(harness.watermarks(), vec![Watermark(89)]);
        clock.set(1_400);
        harness.processing_time(1_400);
        assert!(harness.statuses().is_empty(), "not idle yet");
        clock.set(1_500);
        harness.processing_time(1_500);
        assert_eq!(harness.statuses(), vec![false]);
        harness.process(Record::new(200));
        assert_eq!(harness.statuses(), vec![false, true]);
    }

    #[test]
    fn alignment_is_refused_when_the_attempt_spans_several_processes() {
        let strategy = WatermarkStrategy::<i64>::for_monotonous_timestamps()
            .with_timestamp_assigner(|value: &i64, _| *value)
            .with_watermark_alignment("g", Duration::from_secs(1), Duration::from_millis(10));
        let mut ctx = OperatorContext::single("aligned");
        ctx.alignment = AlignmentRegistry::spanning_workers(2);
        let mut harness =
            OneInputHarness::with_context(TimestampsAndWatermarksOperator::new(strategy), ctx);
        let error = harness.try_process(Record::new(1)).unwrap_err().to_string();
        assert!(error.contains("works within one process only"), "{error}");
    }
}
