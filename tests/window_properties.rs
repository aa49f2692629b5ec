//! Property test: tumbling, sliding and session event-time windows (with allowed lateness and a
//! late output) equal a brute-force reference of Flink's rules, for random out-of-order
//! streams, window shapes and parallelism.

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;
use sluice::jobs::event_time_windows::PerEventBoundedOutOfOrderness;
use sluice::prelude::*;

type Event = (u8, i64, i64);

/// What fired and what was late, sorted.
type Outcome = (Vec<String>, Vec<Event>);

/// The starts of the windows holding `ts`, latest first.
fn window_starts(ts: i64, size: i64, slide: i64) -> Vec<i64> {
    let mut starts = Vec::new();
    let mut start = ts - ts.rem_euclid(slide);
    while start > ts - size {
        starts.push(start);
        start -= slide;
    }
    starts
}

/// The brute-force reference: every rule applied directly, one event at a time.
fn reference(events: &[Event], size: i64, slide: i64, ooo: i64, lateness: i64) -> Outcome {
    let mut windows: BTreeMap<(u8, i64), Vec<i64>> = BTreeMap::new();
    let mut fired = Vec::new();
    let mut late = Vec::new();
    let mut watermark = i64::MIN;
    let mut max_ts = i64::MIN + ooo + 1;
    let describe = |key: u8, start: i64, values: &[i64]| {
        format!(
            "{key},{start},{},{},{}",
            start + size,
            values.len(),
            values.iter().sum::<i64>()
        )
    };
    let advance = |to: i64,
                   windows: &mut BTreeMap<(u8, i64), Vec<i64>>,
                   fired: &mut Vec<String>,
                   from: i64| {
        windows.retain(|(key, start), values| {
            let max = start + size - 1;
            if max > from && max <= to {
                fired.push(describe(*key, *start, values));
            }
            max + lateness > to
        });
    };
    for &(key, ts, value) in events {
        let mut skipped = true;
        for start in window_starts(ts, size, slide) {
            let max = start + size - 1;
            if max + lateness <= watermark {
                continue;
            }
            skipped = false;
            let values = windows.entry((key, start)).or_default();
            values.push(value);
            if max <= watermark {
                fired.push(describe(key, start, values));
            }
        }
        if skipped && ts + lateness <= watermark {
            late.push((key, ts, value));
        }
        max_ts = max_ts.max(ts);
        let next = max_ts - ooo - 1;
        if next > watermark {
            advance(next, &mut windows, &mut fired, watermark);
            watermark = next;
        }
    }
    advance(i64::MAX, &mut windows, &mut fired, watermark);
    fired.sort();
    late.sort();
    (fired, late)
}

/// Per key, the live sessions of the reference: (start, end, values).
type Sessions = BTreeMap<u8, Vec<(i64, i64, Vec<i64>)>>;

/// The brute-force reference for session windows of `gap`: each event's window `[t, t + gap)`
/// merges with every session of its key it touches; a session fires when the watermark passes
/// its end (or at once, when it already has) and is dropped at end + lateness.
fn session_reference(events: &[Event], gap: i64, ooo: i64, lateness: i64) -> Outcome {
    let mut sessions: Sessions = BTreeMap::new();
    let mut fired = Vec::new();
    let mut late = Vec::new();
    let mut watermark = i64::MIN;
    let mut max_ts = i64::MIN + ooo + 1;
    let describe = |key: u8, start: i64, end: i64, values: &[i64]| {
        format!(
            "{key},{start},{end},{},{}",
            values.len(),
            values.iter().sum::<i64>()
        )
    };
    let advance = |to: i64, sessions: &mut Sessions, fired: &mut Vec<String>, from: i64| {
        for (key, list) in sessions.iter_mut() {
            list.retain(|(start, end, values)| {
                let max = end - 1;
                if max > from && max <= to {
                    fired.push(describe(*key, *start, *end, values));
                }
                max + lateness > to
            });
        }
    };
    for &(key, ts, value) in events {
        let list = sessions.entry(key).or_default();
        let (mut start, mut end) = (ts, ts + gap);
        let touching: Vec<usize> = (0..list.len())
            .filter(|&i| list[i].0 <= end && list[i].1 >= start)
            .collect();
        if touching.is_empty() && end - 1 + lateness <= watermark {
            if ts + lateness <= watermark {
                late.push((key, ts, value));
            }
        } else {
            let mut values = vec![value];
            for &i in touching.iter().rev() {
                let (s, e, v) = list.remove(i);
                start = start.min(s);
                end = end.max(e);
                values.extend(v);
            }
            if end - 1 <= watermark {
                fired.push(describe(key, start, end, &values));
            }
            list.push((start, end, values));
        }
        max_ts = max_ts.max(ts);
        let next = max_ts - ooo - 1;
        if next > watermark {
            advance(next, &mut sessions, &mut fired, watermark);
            watermark = next;
        }
    }
    advance(i64::MAX, &mut sessions, &mut fired, watermark);
    fired.sort();
    late.sort();
    (fired, late)
}

/// The windows a run uses.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Sliding { size: i64, slide: i64 },
    Session { gap: i64 },
}

fn run_sluice(
    events: &[Event],
    shape: Shape,
    ooo: i64,
    lateness: i64,
    p: usize,
    incremental: bool,
) -> Outcome {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(p)
        .set_auto_watermark_interval(Duration::ZERO);
    let late_tag = OutputTag::<Event>::new("late");
    let windowed = env
        .from_collection(events.to_vec())
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_generator(move || PerEventBoundedOutOfOrderness::new(ooo))
                .with_timestamp_assigner(|e: &Event, _| e.1),
        )
        // One watermark generator sees every event, so the input order defines lateness.
        .set_parallelism(1)
        .key_by(|e: &Event| e.0);
    let windowed = match shape {
        Shape::Sliding { size, slide } => windowed.window(SlidingWindows::event_time(
            Duration::from_millis(size as u64),
            Duration::from_millis(slide as u64),
        )),
        Shape::Session { gap } => windowed.window(SessionWindows::event_time_with_gap(
            Duration::from_millis(gap as u64),
        )),
    };
    let windowed = windowed
        .allowed_lateness(Duration::from_millis(lateness as u64))
        .side_output_late_data(&late_tag);
    let windowed = if incremental {
        // Incremental aggregation: sliding windows take the slicing path.
        windowed.aggregate_with_process(
            CountSum,
            |key: &u8,
             ctx: &mut WindowContext<'_, TimeWindow>,
             results: Elements<'_, (usize, i64)>,
             out: &mut Collector<'_, String>| {
                let w = ctx.window();
                for (count, sum) in results {
                    out.collect(format!("{key},{},{},{count},{sum}", w.start, w.end));
                }
                Ok(())
            },
        )
    } else {
        windowed.process(
            move |key: &u8,
                  ctx: &mut WindowContext<'_, TimeWindow>,
                  elements: Elements<'_, Event>,
                  out: &mut Collector<'_, String>| {
                let values: Vec<i64> = elements.map(|e| e.2).collect();
                let w = ctx.window();
                out.collect(format!(
                    "{key},{},{},{},{}",
                    w.start,
                    w.end,
                    values.len(),
                    values.iter().sum::<i64>()
                ));
                Ok(())
            },
        )
    };
    let late = windowed.get_side_output(&late_tag).collect();
    let fired = windowed.collect();
    env.execute("window property").unwrap();
    let mut fired = fired.take();
    fired.sort();
    let mut late = late.take();
    late.sort();
    (fired, late)
}

/// Counts and sums the values of a window.
#[derive(Clone, Copy)]
struct CountSum;

impl AggregateFunction<Event, (usize, i64), (usize, i64)> for CountSum {
    fn create_accumulator(&self) -> (usize, i64) {
        (0, 0)
    }
    fn add(&self, accumulator: &mut (usize, i64), event: Event) {
        accumulator.0 += 1;
        accumulator.1 += event.2;
    }
    fn get_result(&self, accumulator: &(usize, i64)) -> (usize, i64) {
        *accumulator
    }
    fn merge(&self, a: (usize, i64), b: (usize, i64)) -> (usize, i64) {
        (a.0 + b.0, a.1 + b.1)
    }
}

fn events() -> impl Strategy<Value = Vec<Event>> {
    prop::collection::vec((0u8..6, 0i64..40, 0i64..120, -20i64..50), 1..120).prop_map(|raw| {
        let mut now = 0;
        raw.into_iter()
            .map(|(key, step, back, value)| {
                now += step;
                // Event times start below zero: negative timestamps have windows too.
                (key, now - back - 500, value)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sliding_and_tumbling_windows_match_the_reference(
        events in events(),
        size in 10i64..100,
        slides in 1i64..4,
        ooo in 0i64..60,
        lateness in prop_oneof![Just(0i64), 1i64..150],
        p in 1usize..=4,
    ) {
        // slides == 1 gives tumbling windows; otherwise the slide divides the size unevenly too.
        let slide = (size / slides).max(1);
        let expected = reference(&events, size, slide, ooo, lateness);
        let shape = Shape::Sliding { size, slide };
        let actual = run_sluice(&events, shape, ooo, lateness, p, false);
        prop_assert_eq!(actual, expected.clone());
        let incremental = run_sluice(&events, shape, ooo, lateness, p, true);
        prop_assert_eq!(incremental, expected);
    }

    #[test]
    fn session_windows_match_the_reference(
        events in events(),
        gap in 1i64..60,
        ooo in 0i64..60,
        lateness in prop_oneof![Just(0i64), 1i64..150],
        p in 1usize..=4,
    ) {
        let expected = session_reference(&events, gap, ooo, lateness);
        let shape = Shape::Session { gap };
        prop_assert_eq!(run_sluice(&events, shape, ooo, lateness, p, false), expected.clone());
        prop_assert_eq!(run_sluice(&events, shape, ooo, lateness, p, true), expected);
    }
}
