//! Keyed event-time windows over `key,timestamp_ms,value` lines: counts and sums per key and
//! window, with Flink's event-time trigger and allowed-lateness rules.
//!
//! One source reads the file (parallelism 1) and a watermark follows every record: the highest
//! timestamp so far minus the out-of-orderness minus 1 ms. The window operator (parallelism P)
//! writes `key,window_start,window_end,count,sum` each time a window fires — again for every
//! late element inside the allowed lateness. Records too late for all their windows go to the
//! late output unchanged. Malformed lines are reported with their line number and skipped.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::prelude::*;

/// The window kinds of the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WindowKind {
    /// Fixed, non-overlapping windows of `--size-ms`.
    Tumbling,
    /// Windows of `--size-ms` starting every `--slide-ms`.
    Sliding,
    /// Sessions closing after `--gap-ms` without records.
    Session,
}

/// Command-line options of the event-time windows job.
#[derive(Debug, Clone, Args)]
pub struct EventTimeWindowsArgs {
    /// Input file of `key,timestamp_ms,value` lines.
    #[arg(long)]
    pub input: PathBuf,
    /// Where fired windows go, one `key,window_start,window_end,count,sum` line each.
    #[arg(long)]
    pub output: PathBuf,
    /// Where records too late for all their windows go, as they were read.
    #[arg(long)]
    pub late_output: PathBuf,
    /// The window kind.
    #[arg(long, value_enum)]
    pub window: WindowKind,
    /// Window size in ms (tumbling and sliding).
    #[arg(long, default_value_t = 0)]
    pub size_ms: u64,
    /// Window slide in ms (sliding).
    #[arg(long, default_value_t = 0)]
    pub slide_ms: u64,
    /// Session gap in ms (session).
    #[arg(long, default_value_t = 0)]
    pub gap_ms: u64,
    /// How far out of order records may be: watermark = max timestamp − this − 1.
    #[arg(long, default_value_t = 0)]
    pub out_of_orderness_ms: u64,
    /// How long after the watermark passed a window's end it still accepts records.
    #[arg(long, default_value_t = 0)]
    pub allowed_lateness_ms: u64,
    /// Parallelism of the window operator.
    #[arg(long, short = 'p', default_value_t = 1)]
    pub parallelism: usize,
    /// Serve the web dashboard while the job runs.
    #[command(flatten)]
    pub web: super::WebArgs,
}

/// A parsed record: key, timestamp, value, and the line it came from.
pub type Event = (String, i64, i64, String);

/// Parses `key,timestamp_ms,value`: exactly three fields, the last two optionally signed ASCII
/// digits that fit an i64.
pub fn parse_event(line: &str) -> Option<Event> {
    let mut fields = line.split(',');
    let (key, timestamp, value) = (fields.next()?, fields.next()?, fields.next()?);
    if fields.next().is_some() {
        return None;
    }
    Some((
        key.to_string(),
        timestamp.parse().ok()?,
        value.parse().ok()?,
        line.to_string(),
    ))
}

/// Bounded out-of-orderness with a watermark after every event (not periodically).
#[derive(Debug, Clone)]
pub struct PerEventBoundedOutOfOrderness {
    bound: i64,
    max_timestamp: i64,
}

impl PerEventBoundedOutOfOrderness {
    /// Watermarks trailing the highest timestamp by `bound` + 1 ms.
    pub fn new(bound: i64) -> Self {
        PerEventBoundedOutOfOrderness {
            bound,
            max_timestamp: i64::MIN.wrapping_add(bound).wrapping_add(1),
        }
    }
}

impl<T> WatermarkGenerator<T> for PerEventBoundedOutOfOrderness {
    fn on_event(&mut self, _: &T, timestamp: Timestamp, output: &mut WatermarkOutput) {
        self.max_timestamp = self.max_timestamp.max(timestamp);
        output.emit_watermark(Watermark(
            self.max_timestamp.wrapping_sub(self.bound).wrapping_sub(1),
        ));
    }

    fn on_periodic_emit(&mut self, _: &mut WatermarkOutput) {}
}

/// Counts and sums (wrapping, as Java's `long`) the values of a window.
#[derive(Debug, Clone, Copy)]
struct CountAndSum;

impl AggregateFunction<Event, (u64, i64), (u64, i64)> for CountAndSum {
    fn create_accumulator(&self) -> (u64, i64) {
        (0, 0)
    }

    fn add(&self, accumulator: &mut (u64, i64), event: Event) {
        accumulator.0 += 1;
        accumulator.1 = accumulator.1.wrapping_add(event.2);
    }

    fn get_result(&self, accumulator: &(u64, i64)) -> (u64, i64) {
        *accumulator
    }

    fn merge(&self, a: (u64, i64), b: (u64, i64)) -> (u64, i64) {
        (a.0 + b.0, a.1.wrapping_add(b.1))
    }
}

fn format_pane(
    key: &String,
    ctx: &mut WindowContext<'_, TimeWindow>,
    results: Elements<'_, (u64, i64)>,
    out: &mut Collector<'_, String>,
) -> UserResult {
    let window = ctx.window();
    for (count, sum) in results {
        out.collect(format!(
            "{key},{},{},{count},{sum}",
            window.start, window.end
        ));
    }
    Ok(())
}

fn millis(ms: u64) -> Result<Duration, String> {
    i64::try_from(ms)
        .map(|_| Duration::from_millis(ms))
        .map_err(|_| format!("{ms} ms does not fit a 64-bit timestamp"))
}

/// Runs the job; returns how many malformed lines were skipped.
pub fn run(args: &EventTimeWindowsArgs) -> Result<u64, String> {
    let (size, slide, gap) = (
        millis(args.size_ms)?,
        millis(args.slide_ms)?,
        millis(args.gap_ms)?,
    );
    let bound = i64::try_from(args.out_of_orderness_ms).map_err(|e| e.to_string())?;
    let env = StreamExecutionEnvironment::new();
    args.web.apply(&env);
    env.set_parallelism(args.parallelism)
        .set_auto_watermark_interval(Duration::ZERO)
        .set_runtime_mode(RuntimeMode::Streaming);

    let malformed = Arc::new(AtomicU64::new(0));
    let skipped = Arc::clone(&malformed);
    let mut line_number = 0u64;
    let events = env
        .read_text_file(&args.input)
        .set_parallelism(1)
        .flat_map(move |line: String, out: &mut Collector<'_, Event>| {
            line_number += 1;
            match parse_event(&line) {
                Some(event) => out.collect(event),
                None => {
                    skipped.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        "line {line_number}: malformed record {line:?} (want key,timestamp_ms,value with integer timestamp and value); skipped"
                    );
                }
            }
        })
        .name("Parse")
        .set_parallelism(1)
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_generator(move || PerEventBoundedOutOfOrderness::new(bound))
                .with_timestamp_assigner(|event: &Event, _| event.1),
        )
        .set_parallelism(1);

    let late = OutputTag::<Event>::new("late");
    let keyed = events.key_by(|event: &Event| event.0.clone());
    let windowed = match args.window {
        WindowKind::Tumbling => keyed.window(TumblingWindows::event_time(size)),
        WindowKind::Sliding => keyed.window(SlidingWindows::event_time(size, slide)),
        WindowKind::Session => keyed.window(SessionWindows::event_time_with_gap(gap)),
    };
    let panes = windowed
        .allowed_lateness(millis(args.allowed_lateness_ms)?)
        .side_output_late_data(&late)
        .aggregate_with_process(CountAndSum, format_pane)
        .name("Window");
    panes
        .get_side_output(&late)
        .map(|event: Event| event.3)
        .write_as_text(&args.late_output)
        .name("Sink: Late Records")
        .set_parallelism(1);
    panes
        .write_as_text(&args.output)
        .name("Sink: Windows")
        .set_parallelism(1);
    env.execute("EventTimeWindows").map_err(|e| e.to_string())?;
    Ok(malformed.load(Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exactly_three_fields_with_integers() {
        assert_eq!(
            parse_event("a,10,-3"),
            Some(("a".into(), 10, -3, "a,10,-3".into()))
        );
        assert_eq!(parse_event(",+5,0").map(|e| e.1), Some(5));
        for bad in [
            "",
            "a,1",
            "a,1,2,3",
            "a,1.5,2",
            "a, 1,2",
            "a,1,x",
            "a,99999999999999999999,1",
            "a,1,",
            "a,-,1",
        ] {
            assert_eq!(parse_event(bad), None, "{bad:?}");
        }
    }
}
