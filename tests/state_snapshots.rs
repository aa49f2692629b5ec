//! Operator state snapshots as a user tests them with the operator harness: windows and keyed
//! state restored at another parallelism continue with the same results, operator list state
//! is split or united, and corrupt state is a clear error.

use std::sync::Arc;
use std::time::Duration;

use sluice::core::key_group::assign_to_key_group;
use sluice::core::{AggregateFunction, DEFAULT_MAX_PARALLELISM, Record, UserResult, Watermark};
use sluice::runtime::functions::ProcessFunction;
use sluice::runtime::harness::{Input, OneInputHarness, run_uninterrupted, run_with_restore};
use sluice::runtime::operators::ProcessOperator;
use sluice::runtime::task::operator::OperatorContext;
use sluice::runtime::task::output::{Collector, Context};
use sluice::runtime::windowing::{
    AggregatingWindowFunction, Elements, EventTimeTrigger, Lateness, SessionWindowOperator,
    SessionWindows, TimeWindow, TumblingWindows, WindowContext, WindowOperator,
};
use sluice::state::{KeyedSnapshot, OperatorSnapshot, OperatorStateSnapshot, OperatorStateStore};

type Click = (String, i64);

/// Counts clicks and sums their values.
#[derive(Clone)]
struct CountAndSum;

impl AggregateFunction<Click, (u64, i64), (u64, i64)> for CountAndSum {
    fn create_accumulator(&self) -> (u64, i64) {
        (0, 0)
    }
    fn add(&self, acc: &mut (u64, i64), click: Click) {
        acc.0 += 1;
        acc.1 += click.1;
    }
    fn get_result(&self, acc: &(u64, i64)) -> (u64, i64) {
        *acc
    }
    fn merge(&self, a: (u64, i64), b: (u64, i64)) -> (u64, i64) {
        (a.0 + b.0, a.1 + b.1)
    }
}

type Describe = fn(
    &String,
    &mut WindowContext<'_, TimeWindow>,
    Elements<'_, (u64, i64)>,
    &mut Collector<'_, String>,
) -> UserResult;

fn describe(
    user: &String,
    ctx: &mut WindowContext<'_, TimeWindow>,
    mut results: Elements<'_, (u64, i64)>,
    out: &mut Collector<'_, String>,
) -> UserResult {
    let (count, sum) = results.next().copied().unwrap_or_default();
    let w = ctx.window();
    out.collect(format!("{user},{},{},{count},{sum}", w.start, w.end));
    Ok(())
}

/// Clicks of 20 users, out of order by up to 300 ms, with a watermark every 5 clicks.
fn clicks() -> Vec<Input<Click>> {
    let mut inputs = Vec::new();
    for i in 0..2_000i64 {
        let user = format!("user-{}", (i * 37) % 20);
        let timestamp = i * 40 - (i * 7919 % 300);
        inputs.push(Input::Record(Record::with_timestamp((user, i), timestamp)));
        if i % 5 == 4 {
            inputs.push(Input::Watermark(Watermark(i * 40 - 300)));
        }
    }
    inputs.push(Input::Watermark(Watermark::MAX));
    inputs
}

/// 200 ms of allowed lateness; later clicks are dropped.
fn lateness() -> Lateness<Click> {
    Lateness {
        allowed: 200,
        side_output: None,
    }
}

fn key_group(click: &Click) -> usize {
    assign_to_key_group(&click.0, DEFAULT_MAX_PARALLELISM)
}

#[test]
fn windows_restored_at_another_parallelism_give_the_uninterrupted_results() {
    let sessions = || {
        SessionWindowOperator::new(
            Arc::new(|c: &Click| c.0.clone()),
            500,
            lateness(),
            AggregatingWindowFunction::new(CountAndSum, describe as Describe),
        )
    };
    let tumbling = || {
        WindowOperator::new(
            Arc::new(|c: &Click| c.0.clone()),
            Arc::new(TumblingWindows::event_time(Duration::from_secs(2))),
            Arc::new(EventTimeTrigger),
            lateness(),
            AggregatingWindowFunction::new(CountAndSum, describe as Describe),
        )
    };
    let general_sessions = || {
        WindowOperator::new(
            Arc::new(|c: &Click| c.0.clone()),
            Arc::new(SessionWindows::event_time_with_gap(Duration::from_millis(
                500,
            ))),
            Arc::new(EventTimeTrigger),
            lateness(),
            AggregatingWindowFunction::new(CountAndSum, describe as Describe),
        )
    };
    let inputs = clicks();
    let expected_sessions = run_uninterrupted(sessions, &inputs);
    assert_eq!(
        run_uninterrupted(general_sessions, &inputs),
        expected_sessions,
        "both session operators agree"
    );
    let expected_tumbling = run_uninterrupted(tumbling, &inputs);
    for split in [1_000, 1_777] {
        let (before, after) = inputs.split_at(split);
        for parallelism in [1, 3, 4] {
            assert_eq!(
                run_with_restore(sessions, before, after, parallelism, key_group),
                expected_sessions,
                "sessions, split {split}, p={parallelism}"
            );
            assert_eq!(
                run_with_restore(general_sessions, before, after, parallelism, key_group),
                expected_sessions,
                "general sessions, split {split}, p={parallelism}"
            );
            assert_eq!(
                run_with_restore(tumbling, before, after, parallelism, key_group),
                expected_tumbling,
                "tumbling, split {split}, p={parallelism}"
            );
        }
    }
}

/// Remembers the last values it saw (split list) and every source it ever saw (union list).
#[derive(Default)]
struct Remember {
    recent: Vec<i64>,
    sources: Vec<String>,
}

impl ProcessFunction<i64, String> for Remember {
    fn open(&mut self, ctx: &OperatorContext) -> UserResult {
        let mut state = ctx.operator_state();
        self.recent = state.list_state("recent")?.get()?;
        self.sources = state.union_list_state("sources")?.get()?;
        self.sources.push(format!("subtask-{}", ctx.subtask));
        Ok(())
    }

    fn process_element(
        &mut self,
        value: i64,
        _: &mut Context<'_>,
        out: &mut Collector<'_, String>,
    ) -> UserResult {
        self.recent.push(value);
        out.collect(format!("{value} after {:?}", self.recent.len()));
        Ok(())
    }

    fn snapshot_state(&mut self, state: &mut OperatorStateStore) -> UserResult {
        state.list_state("recent")?.update(&self.recent)?;
        state.union_list_state("sources")?.update(&self.sources)?;
        Ok(())
    }
}

fn subtask(index: usize, parallelism: usize) -> OperatorContext {
    let mut ctx = OperatorContext::single("remember");
    ctx.subtask = index;
    ctx.parallelism = parallelism;
    ctx
}

#[test]
fn operator_lists_are_split_and_union_lists_shared_on_rescale() {
    let mut old = Vec::new();
    for index in 0..2 {
        let mut harness =
            OneInputHarness::with_context(ProcessOperator(Remember::default()), subtask(index, 2));
        for v in 0..5 {
            harness.process(Record::new(index as i64 * 100 + v));
        }
        old.push(harness.snapshot().operator);
    }
    let mut recent = Vec::new();
    for index in 0..3 {
        let restored = OperatorSnapshot {
            operator: OperatorStateSnapshot::redistribute(&old, index, 3),
            ..Default::default()
        };
        let mut harness =
            OneInputHarness::with_context(ProcessOperator(Remember::default()), subtask(index, 3));
        harness.restore(&restored);
        let snapshot = harness.snapshot();
        let mut store = OperatorStateStore::restored(snapshot.operator);
        recent.extend(store.list_state::<i64>("recent").unwrap().get().unwrap());
        let sources = store
            .union_list_state::<String>("sources")
            .unwrap()
            .get()
            .unwrap();
        assert_eq!(
            sources,
            vec![
                "subtask-0".to_string(),
                "subtask-1".to_string(),
                format!("subtask-{index}")
            ],
            "every new subtask sees every old one's union list"
        );
    }
    recent.sort_unstable();
    assert_eq!(
        recent,
        vec![0, 1, 2, 3, 4, 100, 101, 102, 103, 104],
        "each element of the split list went to exactly one new subtask"
    );
}

#[test]
fn corrupt_window_state_is_a_clear_error() {
    let mut keyed = KeyedSnapshot::default();
    keyed.push(0, "session-windows", vec![1, 2, 3], vec![0xff; 4]);
    let snapshot = OperatorSnapshot {
        keyed,
        ..Default::default()
    };
    let operator = SessionWindowOperator::new(
        Arc::new(|c: &Click| c.0.clone()),
        500,
        Lateness::default(),
        AggregatingWindowFunction::new(CountAndSum, describe as Describe),
    );
    let mut harness = OneInputHarness::new(operator);
    let error = harness.try_restore(&snapshot).unwrap_err().to_string();
    assert!(
        error.contains("session-windows") && error.contains("operator-under-test"),
        "{error}"
    );
}
