//! Tests of sliced window aggregation.

use super::*;

#[test]
fn slices_are_the_gcd_of_size_and_slide() {
    assert_eq!(gcd(10_000, 2_000), 2_000);
    assert_eq!(gcd(10, 3), 1);
    assert_eq!(gcd(300, 200), 100);
}

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use sluice_core::key_group::assign_to_key_group;

use super::super::test_support::{Event, inputs, late, run, run_restarted};
use crate::harness::{run_uninterrupted, run_with_restore};
use crate::task::output::Collector;
use crate::windowing::{
    AggregateFunction, AggregatingWindowFunction, Elements, EventTimeTrigger, SlidingWindows,
    WindowContext, WindowOperator,
};

/// Collects the values of a window as a sorted list.
#[derive(Clone)]
struct Values;

impl AggregateFunction<Event, Vec<i64>, Vec<i64>> for Values {
    fn create_accumulator(&self) -> Vec<i64> {
        Vec::new()
    }
    fn add(&self, accumulator: &mut Vec<i64>, value: Event) {
        accumulator.push(value.1);
    }
    fn get_result(&self, accumulator: &Vec<i64>) -> Vec<i64> {
        let mut values = accumulator.clone();
        values.sort_unstable();
        values
    }
    fn merge(&self, mut a: Vec<i64>, b: Vec<i64>) -> Vec<i64> {
        a.extend(b);
        a
    }
}

type Describe = fn(
    &u8,
    &mut WindowContext<'_, TimeWindow>,
    Elements<'_, Vec<i64>>,
    &mut Collector<'_, String>,
) -> UserResult;

fn describe(
    key: &u8,
    ctx: &mut WindowContext<'_, TimeWindow>,
    mut elements: Elements<'_, Vec<i64>>,
    out: &mut Collector<'_, String>,
) -> UserResult {
    let w = ctx.window();
    let values = elements.next().cloned().unwrap_or_default();
    out.collect(format!("{key}@{}..{}:{values:?}", w.start, w.end));
    Ok(())
}

/// Window shapes (size, slide, offset): overlapping, tumbling, partly overlapping with an
/// offset, and with gaps between windows.
const SHAPES: [(i64, i64, i64); 4] = [(30, 10, 0), (10, 10, 0), (20, 15, 4), (10, 15, 0)];

/// The window function of every operator here: `Values`, then `describe`.
type Function =
    AggregatingWindowFunction<Event, u8, TimeWindow, String, Values, Vec<i64>, Vec<i64>, Describe>;

fn sliced(lateness: i64) -> SlicingWindowOperator<Function> {
    sliced_shape(lateness, SHAPES[0])
}

fn sliced_shape(
    lateness: i64,
    (size, slide, offset): (i64, i64, i64),
) -> SlicingWindowOperator<Function> {
    let shape = SlidingShape {
        size,
        slide,
        offset,
    };
    SlicingWindowOperator::new(
        Arc::new(|e: &Event| e.0),
        shape,
        late(lateness),
        AggregatingWindowFunction::new(Values, describe as Describe),
    )
}

proptest! {
    /// Slicing behaves exactly as the general window operator with sliding windows and the
    /// event-time trigger: same firings, same late elements.
    #[test]
    fn equals_the_general_window_operator(
        inputs in inputs(),
        lateness in prop::sample::select(vec![0i64, 5, 40]),
        shape in prop::sample::select(SHAPES.to_vec()),
    ) {
        let (size, slide, offset) = shape;
        let general = WindowOperator::new(
            Arc::new(|e: &Event| e.0),
            Arc::new(
                SlidingWindows::event_time(
                    Duration::from_millis(size as u64),
                    Duration::from_millis(slide as u64),
                )
                .with_offset(offset),
            ),
            Arc::new(EventTimeTrigger),
            late(lateness),
            AggregatingWindowFunction::new(Values, describe as Describe),
        );
        let expected = run(general, &inputs);
        prop_assert_eq!(run(sliced_shape(lateness, shape), &inputs), expected);
    }

    /// Restarted from a snapshot without the old watermark (it starts over), slicing gives
    /// the results of an uninterrupted run: windows fire once, late elements stay late.
    #[test]
    fn restarts_give_the_uninterrupted_results(
        inputs in inputs(),
        split in 0usize..100,
        lateness in prop::sample::select(vec![0i64, 5, 40]),
        shape in prop::sample::select(SHAPES.to_vec()),
    ) {
        let expected = run(sliced_shape(lateness, shape), &inputs);
        let restarted = run_restarted(|| sliced_shape(lateness, shape), &inputs, Some(split));
        prop_assert_eq!(restarted, expected);
    }

    /// A snapshot restored at any parallelism continues with the same results.
    #[test]
    fn restores_at_any_parallelism_with_the_same_results(
        inputs in inputs(),
        split in 0usize..100,
        parallelism in 1usize..4,
    ) {
        let key_group = |e: &Event| assign_to_key_group(&e.0, sluice_core::DEFAULT_MAX_PARALLELISM);
        let make = || sliced(20);
        let expected = run_uninterrupted(make, &inputs);
        let (before, after) = inputs.split_at(split.min(inputs.len()));
        prop_assert_eq!(run_with_restore(make, before, after, parallelism, key_group), expected);
    }
}
