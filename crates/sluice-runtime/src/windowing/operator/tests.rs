//! Tests of the window operator: triggers and evictors, event- and processing-time windows, sessions, lateness, and restoring at any parallelism.

use std::time::Duration;

use super::*;
use crate::harness::OneInputHarness;
use crate::task::output::{Collector, OutputTag};
use crate::time::processing_time::ManualClock;
use crate::windowing::WindowContext;
use crate::windowing::{
    BufferedWindowFunction, ContinuousEventTimeTrigger, ContinuousProcessingTimeTrigger,
    CountEvictor, CountTrigger, DynamicSessionWindows, Elements, EventTimeTrigger, Evictor,
    GlobalWindow, GlobalWindows, PurgingTrigger, SessionWindows, SlidingWindows, TimeEvictor,
    TimeWindow, TumblingWindows,
};
use sluice_core::key_group::assign_to_key_group;

type Event = (char, i64);

/// Emits "key@start..end:[values]" for a time window.
fn describe_time(
    key: &char,
    ctx: &mut WindowContext<'_, TimeWindow>,
    elements: Elements<'_, Event>,
    out: &mut Collector<'_, String>,
) -> UserResult {
    let values: Vec<i64> = elements.map(|e| e.1).collect();
    let w = ctx.window();
    out.collect(format!("{key}@{}..{}:{values:?}", w.start, w.end));
    Ok(())
}

/// Emits "key:[values]" for a global window.
fn describe_global(
    key: &char,
    _: &mut WindowContext<'_, GlobalWindow>,
    elements: Elements<'_, Event>,
    out: &mut Collector<'_, String>,
) -> UserResult {
    let values: Vec<i64> = elements.map(|e| e.1).collect();
    out.collect(format!("{key}:{values:?}"));
    Ok(())
}

type DescribeTime = fn(
    &char,
    &mut WindowContext<'_, TimeWindow>,
    Elements<'_, Event>,
    &mut Collector<'_, String>,
) -> UserResult;
type DescribeGlobal = fn(
    &char,
    &mut WindowContext<'_, GlobalWindow>,
    Elements<'_, Event>,
    &mut Collector<'_, String>,
) -> UserResult;

fn global_operator(
    trigger: Arc<dyn Trigger<Event, GlobalWindow>>,
    evictor: Option<Arc<dyn Evictor<Event, GlobalWindow>>>,
) -> WindowOperator<BufferedWindowFunction<Event, char, GlobalWindow, String, DescribeGlobal>> {
    WindowOperator::new(
        Arc::new(|e: &Event| e.0),
        Arc::new(GlobalWindows),
        trigger,
        Lateness::default(),
        BufferedWindowFunction::new(describe_global as DescribeGlobal, evictor),
    )
}

fn time_operator(
    assigner: Arc<dyn WindowAssigner<Event, TimeWindow>>,
    trigger: Arc<dyn Trigger<Event, TimeWindow>>,
) -> WindowOperator<BufferedWindowFunction<Event, char, TimeWindow, String, DescribeTime>> {
    WindowOperator::new(
        Arc::new(|e: &Event| e.0),
        assigner,
        trigger,
        Lateness::default(),
        BufferedWindowFunction::new(describe_time as DescribeTime, None),
    )
}

#[test]
fn purging_count_trigger_makes_count_windows() {
    let operator = global_operator(Arc::new(PurgingTrigger::of(CountTrigger::of(3))), None);
    let mut harness = OneInputHarness::new(operator);
    for v in 1..=7 {
        harness.process(Record::new(('a', v)));
        harness.process(Record::new(('b', v * 10)));
    }
    harness.end_input();
    let mut out = harness.take_values();
    out.sort();
    assert_eq!(
        out,
        vec![
            "a:[1, 2, 3]",
            "a:[4, 5, 6]",
            "b:[10, 20, 30]",
            "b:[40, 50, 60]"
        ]
    );
}

#[test]
fn count_evictor_keeps_the_last_elements_of_a_sliding_count_window() {
    let operator = global_operator(
        Arc::new(CountTrigger::of(2)),
        Some(Arc::new(CountEvictor::of(3))),
    );
    let mut harness = OneInputHarness::new(operator);
    for v in 1..=6 {
        harness.process(Record::new(('a', v)));
    }
    assert_eq!(
        harness.take_values(),
        vec!["a:[1, 2]", "a:[2, 3, 4]", "a:[4, 5, 6]"]
    );
}

#[test]
fn continuous_event_time_trigger_fires_every_interval_and_at_the_end() {
    let operator = time_operator(
        Arc::new(TumblingWindows::event_time(Duration::from_millis(100))),
        Arc::new(ContinuousEventTimeTrigger::of(Duration::from_millis(30))),
    );
    let mut harness = OneInputHarness::new(operator);
    harness.process(Record::with_timestamp(('a', 1), 5));
    harness.process(Record::with_timestamp(('a', 2), 10));
    harness.watermark(Watermark(35));
    assert_eq!(harness.take_values(), vec!["a@0..100:[1, 2]"]);
    harness.process(Record::with_timestamp(('a', 3), 40));
    harness.watermark(Watermark(99));
    assert_eq!(
        harness.take_values(),
        vec![
            "a@0..100:[1, 2, 3]",
            "a@0..100:[1, 2, 3]",
            "a@0..100:[1, 2, 3]"
        ]
    );
    harness.watermark(Watermark(1_000));
    assert!(
        harness.take_values().is_empty(),
        "the window was cleaned up at its end"
    );
}

#[test]
fn event_time_windows_fire_when_the_watermark_passes_their_end() {
    let operator = time_operator(
        Arc::new(TumblingWindows::event_time(Duration::from_millis(10))),
        Arc::new(crate::windowing::EventTimeTrigger),
    );
    let mut harness = OneInputHarness::new(operator);
    harness.process(Record::with_timestamp(('a', 1), 3));
    harness.process(Record::with_timestamp(('a', 2), 12));
    harness.watermark(Watermark(8));
    assert!(harness.take_values().is_empty());
    harness.watermark(Watermark(9));
    let fired = harness.take_records();
    assert_eq!(
        fired,
        vec![Record::with_timestamp("a@0..10:[1]".to_string(), 9)],
        "results carry the window's max timestamp"
    );
    // Without allowed lateness a record for a finished window is dropped (no late tag).
    harness.process(Record::with_timestamp(('a', 3), 4));
    harness.watermark(Watermark::MAX);
    assert_eq!(harness.take_values(), vec!["a@10..20:[2]"]);
}

#[test]
fn processing_time_windows_fire_by_the_clock() {
    let clock = ManualClock::new(1_005);
    let mut ctx = OperatorContext::single("window");
    ctx.processing_time = ProcessingTimeService::new(clock.clone());
    let operator = time_operator(
        Arc::new(TumblingWindows::processing_time(Duration::from_millis(10))),
        Arc::new(crate::windowing::ProcessingTimeTrigger),
    );
    let mut harness = OneInputHarness::with_context(operator, ctx.clone());
    harness.process(Record::new(('a', 1)));
    clock.set(1_008);
    harness.process(Record::new(('a', 2)));
    assert_eq!(ctx.processing_time.earliest(), Some(1_009));
    harness.processing_time(1_009);
    assert_eq!(harness.take_values(), vec!["a@1000..1010:[1, 2]"]);
    clock.set(1_012);
    harness.process(Record::new(('a', 3)));
    harness.processing_time(1_015);
    assert!(harness.take_values().is_empty());
    harness.processing_time(1_019);
    assert_eq!(harness.take_values(), vec!["a@1010..1020:[3]"]);
}

/// A harness over `time_operator(assigner, trigger)` whose wall clock starts at `now` and
/// moves only when the test sets it.
fn on_manual_clock(
    now: i64,
    assigner: impl WindowAssigner<Event, TimeWindow>,
    trigger: impl Trigger<Event, TimeWindow> + 'static,
) -> (
    Arc<ManualClock>,
    OneInputHarness<Event, String, impl OneInputOperator<Event, String>>,
) {
    let clock = ManualClock::new(now);
    let mut ctx = OperatorContext::single("window");
    ctx.processing_time = ProcessingTimeService::new(clock.clone());
    let operator = time_operator(Arc::new(assigner), Arc::new(trigger));
    (clock, OneInputHarness::with_context(operator, ctx))
}

#[test]
fn dynamic_session_gaps_come_from_each_element() {
    // The value is the gap: a large value keeps the session open longer.
    let assigner = DynamicSessionWindows::event_time(|e: &Event| Duration::from_millis(e.1 as u64));
    let mut harness = OneInputHarness::new(time_operator(
        Arc::new(assigner),
        Arc::new(EventTimeTrigger),
    ));
    harness.process(Record::with_timestamp(('a', 5), 0));
    harness.process(Record::with_timestamp(('a', 20), 3));
    harness.process(Record::with_timestamp(('a', 1), 40));
    harness.watermark(Watermark::MAX);
    let mut out = harness.take_values();
    out.sort();
    // [0,5) and [3,23) overlap and merge; [40,41) stands alone.
    assert_eq!(out, vec!["a@0..23:[5, 20]", "a@40..41:[1]"]);
}

#[test]
fn processing_time_sessions_close_after_a_quiet_gap() {
    let (clock, mut harness) = on_manual_clock(
        1_000,
        SessionWindows::processing_time_with_gap(Duration::from_millis(50)),
        crate::windowing::ProcessingTimeTrigger,
    );
    harness.process(Record::new(('a', 1)));
    clock.set(1_030);
    harness.process(Record::new(('a', 2)));
    harness.processing_time(1_060);
    assert!(
        harness.take_values().is_empty(),
        "the second element extended the session"
    );
    harness.processing_time(1_079);
    assert_eq!(harness.take_values(), vec!["a@1000..1080:[1, 2]"]);
}

#[test]
fn sliding_processing_time_windows_take_each_element_into_every_window() {
    let (_clock, mut harness) = on_manual_clock(
        1_012,
        SlidingWindows::processing_time(Duration::from_millis(20), Duration::from_millis(10)),
        crate::windowing::ProcessingTimeTrigger,
    );
    harness.process(Record::new(('a', 1)));
    harness.processing_time(1_019);
    assert_eq!(harness.take_values(), vec!["a@1000..1020:[1]"]);
    harness.processing_time(1_029);
    assert_eq!(harness.take_values(), vec!["a@1010..1030:[1]"]);
}

#[test]
fn continuous_processing_time_trigger_fires_every_interval() {
    let (clock, mut harness) = on_manual_clock(
        1_000,
        TumblingWindows::event_time(Duration::from_secs(3_600)),
        ContinuousProcessingTimeTrigger::of(Duration::from_millis(100)),
    );
    harness.process(Record::with_timestamp(('a', 1), 5));
    harness.processing_time(1_099);
    assert!(harness.take_values().is_empty());
    harness.processing_time(1_100);
    assert_eq!(harness.take_values(), vec!["a@0..3600000:[1]"]);
    clock.set(1_150);
    harness.process(Record::with_timestamp(('a', 2), 6));
    harness.processing_time(1_200);
    assert_eq!(harness.take_values(), vec!["a@0..3600000:[1, 2]"]);
}

#[test]
fn time_evictor_keeps_the_recent_elements_of_a_firing_window() {
    let operator = WindowOperator::new(
        Arc::new(|e: &Event| e.0),
        Arc::new(GlobalWindows),
        Arc::new(CountTrigger::of(4)),
        Lateness::default(),
        BufferedWindowFunction::new(
            describe_global as DescribeGlobal,
            Some(Arc::new(TimeEvictor::of(Duration::from_millis(10)))
                as Arc<dyn Evictor<Event, GlobalWindow>>),
        ),
    );
    let mut harness = OneInputHarness::new(operator);
    for (v, t) in [(1, 0), (2, 8), (3, 15), (4, 20)] {
        harness.process(Record::with_timestamp(('a', v), t));
    }
    assert_eq!(harness.take_values(), vec!["a:[3, 4]"]);
}

#[test]
fn allowed_lateness_refires_and_late_records_go_to_the_side_output() {
    let late = OutputTag::<Event>::new("late");
    let operator = WindowOperator::new(
        Arc::new(|e: &Event| e.0),
        Arc::new(TumblingWindows::event_time(Duration::from_millis(10))),
        Arc::new(EventTimeTrigger),
        Lateness {
            allowed: 5,
            side_output: Some(late.clone()),
        },
        BufferedWindowFunction::new(describe_time as DescribeTime, None),
    );
    let mut harness = OneInputHarness::new(operator);
    let side = harness.side_output(&late);
    harness.process(Record::with_timestamp(('a', 1), 3));
    harness.watermark(Watermark(9));
    assert_eq!(
        harness.take_values(),
        vec!["a@0..10:[1]"],
        "fires when the watermark passes the end"
    );
    harness.process(Record::with_timestamp(('a', 2), 4));
    assert_eq!(
        harness.take_values(),
        vec!["a@0..10:[1, 2]"],
        "a late record within the lateness fires again"
    );
    harness.watermark(Watermark(14));
    harness.process(Record::with_timestamp(('a', 3), 5));
    assert!(
        harness.take_values().is_empty(),
        "the window was dropped at 9 + 5"
    );
    assert_eq!(side.lock().unwrap().values(), vec![('a', 3)]);
    harness.process(Record::with_timestamp(('a', 4), 12));
    harness.watermark(Watermark::MAX);
    assert_eq!(harness.take_values(), vec!["a@10..20:[4]"]);
}

/// Out-of-order events of five keys with watermarks 20 ms behind, for restore tests.
fn restore_inputs(seed: u64) -> Vec<crate::harness::Input<Event>> {
    use crate::harness::Input;
    let mut state = seed;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        state >> 33
    };
    let mut inputs = Vec::new();
    for i in 0..300i64 {
        let key = (b'a' + (next() % 5) as u8) as char;
        let timestamp = i * 3 - (next() % 25) as i64;
        inputs.push(Input::Record(Record::with_timestamp((key, i), timestamp)));
        if i % 7 == 0 {
            inputs.push(Input::Watermark(Watermark(i * 3 - 20)));
        }
    }
    inputs
}

fn restore_matches_uninterrupted<Op: OneInputOperator<Event, String> + 'static>(
    make: impl Fn() -> Op,
) {
    let key_group = |e: &Event| assign_to_key_group(&e.0, sluice_core::DEFAULT_MAX_PARALLELISM);
    for seed in 1..4 {
        let inputs = restore_inputs(seed);
        let expected = crate::harness::run_uninterrupted(&make, &inputs);
        assert!(!expected.is_empty());
        for split in [0, 50, 211, inputs.len()] {
            for parallelism in 1..=3 {
                let (before, after) = inputs.split_at(split);
                let restored =
                    crate::harness::run_with_restore(&make, before, after, parallelism, key_group);
                assert_eq!(
                    restored, expected,
                    "seed {seed}, split {split}, p={parallelism}"
                );
            }
        }
    }
}

#[test]
fn windows_restore_at_any_parallelism_with_the_same_results() {
    restore_matches_uninterrupted(|| {
        time_operator(
            Arc::new(SessionWindows::event_time_with_gap(Duration::from_millis(
                8,
            ))),
            Arc::new(crate::windowing::EventTimeTrigger),
        )
    });
    restore_matches_uninterrupted(|| {
        let mut operator = time_operator(
            Arc::new(SlidingWindows::event_time(
                Duration::from_millis(30),
                Duration::from_millis(10),
            )),
            Arc::new(crate::windowing::EventTimeTrigger),
        );
        operator.lateness.allowed = 15;
        operator
    });
    restore_matches_uninterrupted(|| {
        global_operator(Arc::new(PurgingTrigger::of(CountTrigger::of(3))), None)
    });
}
