//! Shared pieces of the window operators' tests: random out-of-order inputs, and a runner that
//! collects what fired and what was late.

use proptest::prelude::*;
use sluice_core::{Record, Watermark};

use crate::harness::{Input, OneInputHarness};
use crate::operator::OneInputOperator;
use crate::output::OutputTag;

/// (key, value) events.
pub(crate) type Event = (u8, i64);

/// The late output of the tests.
pub(crate) fn late_tag() -> OutputTag<Event> {
    OutputTag::new("late")
}

/// Runs `operator` over `inputs`; returns what fired and what was late, each sorted.
pub(crate) fn run<Op: OneInputOperator<Event, String> + 'static>(
    operator: Op,
    inputs: &[Input<Event>],
) -> (Vec<String>, Vec<Event>) {
    let mut harness = OneInputHarness::new(operator);
    let late = harness.side_output(&late_tag());
    for input in inputs {
        match input {
            Input::Record(record) => harness.process(record.clone()),
            Input::Watermark(watermark) => harness.watermark(*watermark),
        }
    }
    harness.end_input();
    let mut fired = harness.take_values();
    fired.sort();
    let mut late = late.lock().expect("late").values();
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
