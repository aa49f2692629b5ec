//! Shared pieces of the window operators' tests: random out-of-order inputs, and a runner that
//! collects what fired and what was late.

use proptest::prelude::*;
use sluice_core::{Record, Watermark};

use crate::harness::{Input, OneInputHarness};
use crate::task::operator::OneInputOperator;
use crate::task::output::OutputTag;
use crate::windowing::Lateness;

/// (key, value) events.
pub(crate) type Event = (u8, i64);

/// The late output of the tests.
pub(crate) fn late_tag() -> OutputTag<Event> {
    OutputTag::new("late")
}

/// `allowed` ms of lateness, with later elements sent to [`late_tag`].
pub(crate) fn late(allowed: i64) -> Lateness<Event> {
    Lateness {
        allowed,
        side_output: Some(late_tag()),
    }
}

/// Runs `operator` over `inputs`; returns what fired and what was late, each sorted.
pub(crate) fn run<Op: OneInputOperator<Event, String> + 'static>(
    operator: Op,
    inputs: &[Input<Event>],
) -> (Vec<String>, Vec<Event>) {
    let mut operator = Some(operator);
    run_restarted(
        || operator.take().expect("made once without a split"),
        inputs,
        None,
    )
}

/// Runs an operator from `make` over `inputs`; with `Some(split)`, it is snapshotted after
/// `split` inputs and a new one restored from the snapshot takes the rest — its watermark
/// starting over, as after a real restart. Returns what fired and what was late, each sorted.
pub(crate) fn run_restarted<Op: OneInputOperator<Event, String> + 'static>(
    mut make: impl FnMut() -> Op,
    inputs: &[Input<Event>],
    split: Option<usize>,
) -> (Vec<String>, Vec<Event>) {
    let (before, after) = inputs.split_at(split.unwrap_or(inputs.len()).min(inputs.len()));
    let mut fired = Vec::new();
    let mut late = Vec::new();
    let mut harness = OneInputHarness::new(make());
    let mut late_output = harness.side_output(&late_tag());
    for (part, inputs) in [before, after].into_iter().enumerate() {
        if part == 1 {
            if split.is_none() {
                break;
            }
            let snapshot = harness.snapshot();
            fired.extend(harness.take_values());
            late.extend(late_output.lock().expect("late").values());
            harness = OneInputHarness::new(make());
            late_output = harness.side_output(&late_tag());
            harness.restore(&snapshot);
        }
        for input in inputs {
            match input {
                Input::Record(record) => harness.process(record.clone()),
                Input::Watermark(watermark) => harness.watermark(*watermark),
            }
        }
    }
    harness.end_input();
    fired.extend(harness.take_values());
    late.extend(late_output.lock().expect("late").values());
    fired.sort();
    late.sort();
    (fired, late)
}

/// Events of four keys with timestamps out of order, and now and then a watermark 15 ms
/// behind the highest timestamp so far.
pub(crate) fn inputs() -> impl Strategy<Value = Vec<Input<Event>>> {
    prop::collection::vec((0u8..4, -40i64..200, 0u8..5), 1..120).prop_map(|events| {
        let mut max = i64::MIN;
        let mut inputs = Vec::new();
        for (i, (key, timestamp, watermark_every)) in events.into_iter().enumerate() {
            inputs.push(Input::Record(Record::with_timestamp(
                (key, i as i64),
                timestamp,
            )));
            max = max.max(timestamp);
            if watermark_every == 0 {
                inputs.push(Input::Watermark(Watermark(max - 15)));
            }
        }
        inputs
    })
}
