//! Operator test harnesses: drive one operator with records, watermarks and end of input, and
//! read what it emitted — on the calling thread, with no channels, threads or sleeps. Built
//! with the `testing` feature (`sluice = { features = ["testing"] }` in `[dev-dependencies]`).
//!
//! ```
//! use sluice_core::Record;
//! use sluice_runtime::harness::OneInputHarness;
//! use sluice_runtime::operators::MapOperator;
//!
//! let mut harness = OneInputHarness::new(MapOperator(|v: i32| v + 1));
//! harness.process(Record::new(1));
//! assert_eq!(harness.take_values(), vec![2]);
//! ```

use std::sync::{Arc, Mutex};

use sluice_core::{Record, Watermark};

use sluice_core::key_group::{KeyGroupRange, operator_index_for_key_group};
use sluice_state::OperatorSnapshot;

use crate::metrics::OperatorMetrics;
use crate::task::chain::{BoxedLink, ChainLink, ChainSnapshot, LinkResult};
use crate::task::operator::{
    OneInputOperator, OperatorContext, OperatorCore, OperatorLink, TwoInputOperator,
};
use crate::task::output::{Output, OutputTag, SideOutputSlot, SideOutputs, SideSlot};
use crate::task::two_input::TwoInputDriver;

/// The barrier the harnesses snapshot with.
const HARNESS_BARRIER: sluice_core::Barrier = sluice_core::Barrier {
    checkpoint_id: 1,
    timestamp: 0,
    savepoint: false,
    unaligned: false,
};

/// Operator `uid`'s part of a chain snapshot, complete (deferred entries materialized, as
/// the checkpoint coordinator does before writing).
fn operator_snapshot(mut chain: ChainSnapshot, uid: &str) -> OperatorSnapshot {
    let mut snapshot = chain.remove(uid).unwrap_or_default();
    snapshot.materialize().expect("operator failed to snapshot");
    snapshot
}

/// Everything a [`CollectingLink`] received.
#[derive(Debug)]
pub struct Collected<T> {
    /// The records, in order.
    pub records: Vec<Record<T>>,
    /// The watermarks, in order.
    pub watermarks: Vec<Watermark>,
    /// Status changes (`false`: idle), in order.
    pub statuses: Vec<bool>,
    /// Whether end of input arrived.
    pub ended: bool,
}

impl<T: Clone> Collected<T> {
    /// The values of the records, in order.
    pub fn values(&self) -> Vec<T> {
        self.records.iter().map(|r| r.value.clone()).collect()
    }
}

/// A chain link that records everything it receives, shared with the test.
pub struct CollectingLink<T> {
    collected: Arc<Mutex<Collected<T>>>,
}

impl<T> CollectingLink<T> {
    /// A link and a handle to what it collects.
    pub fn new() -> (Self, Arc<Mutex<Collected<T>>>) {
        let collected = Arc::new(Mutex::new(Collected {
            records: Vec::new(),
            watermarks: Vec::new(),
            statuses: Vec::new(),
            ended: false,
        }));
        (
            CollectingLink {
                collected: Arc::clone(&collected),
            },
            collected,
        )
    }
}

impl<T: Send> ChainLink<T> for CollectingLink<T> {
    fn open(&mut self) -> LinkResult {
        Ok(())
    }
    fn on_batch(&mut self, batch: &mut Vec<Record<T>>) -> LinkResult {
        self.collected
            .lock()
            .expect("collector lock")
            .records
            .append(batch);
        Ok(())
    }
    fn on_watermark(&mut self, watermark: Watermark) -> LinkResult {
        self.collected
            .lock()
            .expect("collector lock")
            .watermarks
            .push(watermark);
        Ok(())
    }
    fn on_status(&mut self, active: bool) -> LinkResult {
        self.collected
            .lock()
            .expect("collector lock")
            .statuses
            .push(active);
        Ok(())
    }
    fn on_end_of_input(&mut self) -> LinkResult {
        self.collected.lock().expect("collector lock").ended = true;
        Ok(())
    }
    fn on_processing_time(
        &mut self,
        _: crate::time::processing_time::ProcessingTime,
    ) -> LinkResult {
        Ok(())
    }
    fn flush(&mut self) -> LinkResult {
        Ok(())
    }
    fn close(&mut self) -> LinkResult {
        Ok(())
    }
}

/// Side outputs registered before the operator starts, and the main collector.
struct HarnessOutputs<Out> {
    ctx: OperatorContext,
    sides: Vec<(String, Box<dyn SideOutputSlot>)>,
    main: Arc<Mutex<Collected<Out>>>,
    metrics: Arc<OperatorMetrics>,
}

impl<Out: Clone + Send + 'static> HarnessOutputs<Out> {
    fn new(ctx: OperatorContext) -> Self {
        let (_, main) = CollectingLink::<Out>::new();
        HarnessOutputs {
            ctx,
            sides: Vec::new(),
            main,
            metrics: Arc::default(),
        }
    }

    fn side_output<S: Send + 'static>(&mut self, tag: &OutputTag<S>) -> Arc<Mutex<Collected<S>>> {
        let (link, collected) = CollectingLink::<S>::new();
        self.sides
            .push((tag.id().to_string(), SideSlot::boxed(Box::new(link))));
        collected
    }

    /// Gives the operator `restored` when it starts; an error once it started.
    fn restore_before_start(
        &mut self,
        started: bool,
        restored: &OperatorSnapshot,
    ) -> Result<(), crate::error::TaskError> {
        if started {
            return Err(crate::error::TaskError::Internal(
                "restore the operator before its first element".into(),
            ));
        }
        self.ctx.restored = Some(Arc::new(restored.clone()));
        Ok(())
    }

    fn core(&mut self) -> OperatorCore<Out> {
        let link = CollectingLink {
            collected: Arc::clone(&self.main),
        };
        OperatorCore::new(
            self.ctx.clone(),
            Output::new(SideOutputs::new(std::mem::take(&mut self.sides))),
            Box::new(link),
            Arc::clone(&self.metrics),
        )
    }

    fn take_records(&self) -> Vec<Record<Out>> {
        std::mem::take(&mut self.main.lock().expect("collector lock").records)
    }

    fn watermarks(&self) -> Vec<Watermark> {
        self.main.lock().expect("collector lock").watermarks.clone()
    }

    fn statuses(&self) -> Vec<bool> {
        self.main.lock().expect("collector lock").statuses.clone()
    }
}

/// Drives one [`OneInputOperator`].
pub struct OneInputHarness<In, Out, Op> {
    outputs: HarnessOutputs<Out>,
    operator: Option<Op>,
    link: Option<BoxedLink<In>>,
}

impl<In, Out, Op> OneInputHarness<In, Out, Op>
where
    In: Send + 'static,
    Out: Clone + Send + 'static,
    Op: OneInputOperator<In, Out> + 'static,
{
    /// A harness for `operator` running as the only subtask, in streaming mode.
    pub fn new(operator: Op) -> Self {
        Self::with_context(operator, OperatorContext::single("operator-under-test"))
    }

    /// A harness for `operator` with a given context (subtask, runtime mode, …).
    pub fn with_context(operator: Op, ctx: OperatorContext) -> Self {
        OneInputHarness {
            outputs: HarnessOutputs::new(ctx),
            operator: Some(operator),
            link: None,
        }
    }

    /// Collects the side output `tag`; call before the first element.
    pub fn side_output<S: Send + 'static>(
        &mut self,
        tag: &OutputTag<S>,
    ) -> Arc<Mutex<Collected<S>>> {
        self.outputs.side_output(tag)
    }

    fn link(&mut self) -> Result<&mut BoxedLink<In>, crate::error::TaskError> {
        if self.link.is_none() {
            let operator = self
                .operator
                .take()
                .expect("operator present until started");
            let mut link = OperatorLink::boxed(operator, self.outputs.core());
            link.open()?;
            self.link = Some(link);
        }
        Ok(self.link.as_mut().expect("link started"))
    }

    /// Feeds one record; returns the operator's error, if any.
    pub fn try_process(&mut self, record: Record<In>) -> LinkResult {
        self.link()?.on_batch(&mut vec![record])
    }

    /// Feeds one record; panics on an operator error (tests only).
    pub fn process(&mut self, record: Record<In>) {
        self.try_process(record).expect("operator failed");
    }

    /// The operator's counters and watermarks.
    pub fn metrics(&self) -> Arc<OperatorMetrics> {
        Arc::clone(&self.outputs.metrics)
    }

    /// Feeds a watermark.
    pub fn watermark(&mut self, watermark: Watermark) {
        self.link()
            .and_then(|link| link.on_watermark(watermark))
            .expect("operator failed");
    }

    /// Moves processing time to `now`, firing what is due.
    pub fn processing_time(&mut self, now: crate::time::processing_time::ProcessingTime) {
        self.link()
            .and_then(|link| link.on_processing_time(now))
            .expect("operator failed");
    }

    /// The operator's state now, as a checkpoint stores it.
    pub fn snapshot(&mut self) -> OperatorSnapshot {
        let mut chain = ChainSnapshot::new();
        self.link()
            .and_then(|link| link.on_barrier(HARNESS_BARRIER, &mut chain))
            .expect("operator failed to snapshot");
        operator_snapshot(chain, &self.outputs.ctx.uid)
    }

    /// Tells the operator that checkpoint `checkpoint_id` completed (the harness snapshots as
    /// checkpoint 1).
    pub fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) {
        self.link()
            .and_then(|link| link.notify_checkpoint_complete(checkpoint_id))
            .expect("operator failed on checkpoint completion");
    }

    /// Starts the operator from `restored` (already selected for this subtask); call before
    /// the first element.
    pub fn try_restore(&mut self, restored: &OperatorSnapshot) -> LinkResult {
        self.outputs
            .restore_before_start(self.link.is_some(), restored)?;
        self.link().map(|_| ())
    }

    /// Starts the operator from `restored`; panics on an operator error (tests only).
    pub fn restore(&mut self, restored: &OperatorSnapshot) {
        self.try_restore(restored)
            .expect("operator failed to restore");
    }

    /// Ends the input and closes the operator.
    pub fn end_input(&mut self) {
        let link = self.link().expect("operator failed");
        link.on_end_of_input().expect("operator failed");
        link.close().expect("operator failed");
    }

    /// Takes the records emitted so far.
    pub fn take_records(&mut self) -> Vec<Record<Out>> {
        self.outputs.take_records()
    }

    /// Takes the values emitted so far.
    pub fn take_values(&mut self) -> Vec<Out> {
        self.take_records().into_iter().map(|r| r.value).collect()
    }

    /// The watermarks forwarded so far.
    pub fn watermarks(&self) -> Vec<Watermark> {
        self.outputs.watermarks()
    }

    /// The status changes forwarded so far (`false`: idle).
    pub fn statuses(&self) -> Vec<bool> {
        self.outputs.statuses()
    }
}

/// Drives one [`TwoInputOperator`].
pub struct TwoInputHarness<A, B, Out, Op> {
    outputs: HarnessOutputs<Out>,
    operator: Option<Op>,
    driver: Option<TwoInputDriver<A, B, Out, Op>>,
}

impl<A, B, Out, Op> TwoInputHarness<A, B, Out, Op>
where
    A: Send + 'static,
    B: Send + 'static,
    Out: Clone + Send + 'static,
    Op: TwoInputOperator<A, B, Out> + 'static,
{
    /// A harness for `operator` running as the only subtask, in streaming mode.
    pub fn new(operator: Op) -> Self {
        Self::with_context(operator, OperatorContext::single("operator-under-test"))
    }

    /// A harness for `operator` with a given context (subtask, state backend, …).
    pub fn with_context(operator: Op, ctx: OperatorContext) -> Self {
        TwoInputHarness {
            outputs: HarnessOutputs::new(ctx),
            operator: Some(operator),
            driver: None,
        }
    }

    fn driver(&mut self) -> &mut TwoInputDriver<A, B, Out, Op> {
        if self.driver.is_none() {
            let operator = self
                .operator
                .take()
                .expect("operator present until started");
            let mut driver = TwoInputDriver::new(operator, self.outputs.core());
            driver.open().expect("operator failed to open");
            self.driver = Some(driver);
        }
        self.driver.as_mut().expect("driver started")
    }

    /// The operator's state now, as a checkpoint stores it.
    pub fn snapshot(&mut self) -> OperatorSnapshot {
        let mut chain = ChainSnapshot::new();
        self.driver()
            .on_barrier(HARNESS_BARRIER, &mut chain)
            .expect("operator failed to snapshot");
        operator_snapshot(chain, &self.outputs.ctx.uid)
    }

    /// Starts the operator from `restored` (already selected for this subtask); call before
    /// the first element.
    pub fn restore(&mut self, restored: &OperatorSnapshot) {
        self.outputs
            .restore_before_start(self.driver.is_some(), restored)
            .expect("restore before the first element");
        self.driver();
    }

    /// Feeds a record to the first input.
    pub fn process1(&mut self, record: Record<A>) {
        self.driver()
            .on_batch1(&mut vec![record])
            .expect("operator failed");
    }

    /// Feeds a record to the second input.
    pub fn process2(&mut self, record: Record<B>) {
        self.driver()
            .on_batch2(&mut vec![record])
            .expect("operator failed");
    }

    /// The operator's counters and watermarks.
    pub fn metrics(&self) -> Arc<OperatorMetrics> {
        Arc::clone(&self.outputs.metrics)
    }

    /// Feeds a watermark to input `input` (1 or 2).
    pub fn watermark(&mut self, input: u8, watermark: Watermark) {
        self.driver()
            .on_watermark(input, watermark)
            .expect("operator failed");
    }

    /// Takes the values emitted so far.
    pub fn take_values(&mut self) -> Vec<Out> {
        self.outputs
            .take_records()
            .into_iter()
            .map(|r| r.value)
            .collect()
    }

    /// The watermarks forwarded so far.
    pub fn watermarks(&self) -> Vec<Watermark> {
        self.outputs.watermarks()
    }
}

/// One input element for [`run_with_restore`].
#[derive(Debug, Clone)]
pub enum Input<T> {
    /// A record.
    Record(Record<T>),
    /// A watermark (every subtask receives it).
    Watermark(Watermark),
}

fn feed<In, Out, Op>(harness: &mut OneInputHarness<In, Out, Op>, input: &Input<In>)
where
    In: Clone + Send + 'static,
    Out: Clone + Send + 'static,
    Op: OneInputOperator<In, Out> + 'static,
{
    match input {
        Input::Record(record) => harness.process(record.clone()),
        Input::Watermark(watermark) => harness.watermark(*watermark),
    }
}

/// Checks an operator's snapshot and restore: feeds `before` to one subtask made by `make`,
/// snapshots it, restores the snapshot into `parallelism` new subtasks (each owning its key
/// groups; `key_group_of` tells which a record belongs to), feeds them `after` (records to their
/// owner, watermarks to all) and ends the input. Returns every value emitted, sorted — to
/// compare with one subtask fed everything without a restart.
///
/// As in Flink, a restored operator's watermark starts over (it is not state), so the new
/// subtasks first receive the last watermark of `before`, as a restarted source re-emits it.
pub fn run_with_restore<In, Out, Op>(
    make: impl Fn() -> Op,
    before: &[Input<In>],
    after: &[Input<In>],
    parallelism: usize,
    key_group_of: impl Fn(&In) -> usize,
) -> Vec<Out>
where
    Op: OneInputOperator<In, Out> + 'static,
    In: Clone + Send + 'static,
    Out: Clone + Ord + Send + 'static,
{
    let backend = Arc::new(sluice_state::HashMapStateBackendFactory);
    let mut emitted = run_with_restore_on(backend, make, before, after, parallelism, key_group_of);
    emitted.sort();
    emitted
}

/// [`run_with_restore`] with the subtasks' keyed state on `backend`, for outputs without an
/// order (such as batches of rows): the values emitted, the first subtask's first, then each
/// restored subtask's in subtask order.
pub fn run_with_restore_on<In, Out, Op>(
    backend: Arc<dyn sluice_state::StateBackendFactory>,
    make: impl Fn() -> Op,
    before: &[Input<In>],
    after: &[Input<In>],
    parallelism: usize,
    key_group: impl Fn(&In) -> usize,
) -> Vec<Out>
where
    In: Clone + Send + 'static,
    Out: Clone + Send + 'static,
    Op: OneInputOperator<In, Out> + 'static,
{
    let max_parallelism = sluice_core::DEFAULT_MAX_PARALLELISM;
    let mut ctx = OperatorContext::single("operator-under-test");
    ctx.state_backend = Arc::clone(&backend);
    let mut first = OneInputHarness::with_context(make(), ctx);
    before.iter().for_each(|input| feed(&mut first, input));
    let mut emitted = first.take_values();
    let snapshot = first.snapshot();
    let mut subtasks: Vec<OneInputHarness<In, Out, Op>> = (0..parallelism)
        .map(|index| {
            let mut ctx = OperatorContext::single("operator-under-test");
            ctx.subtask = index;
            ctx.parallelism = parallelism;
            ctx.state_backend = Arc::clone(&backend);
            let range = KeyGroupRange::for_subtask(max_parallelism, parallelism, index);
            let restored = OperatorSnapshot::for_subtask(
                std::slice::from_ref(&snapshot),
                range,
                index,
                parallelism,
            );
            let mut harness = OneInputHarness::with_context(make(), ctx);
            harness.restore(&restored);
            harness
        })
        .collect();
    let resumed = before
        .iter()
        .rev()
        .find(|input| matches!(input, Input::Watermark(_)));
    for input in resumed.into_iter().chain(after) {
        match input {
            Input::Record(record) => {
                let owner = operator_index_for_key_group(
                    max_parallelism,
                    parallelism,
                    key_group(&record.value),
                );
                subtasks[owner].process(record.clone());
            }
            Input::Watermark(_) => subtasks.iter_mut().for_each(|s| feed(s, input)),
        }
    }
    for subtask in &mut subtasks {
        subtask.end_input();
        emitted.extend(subtask.take_values());
    }
    emitted
}

/// Feeds every input to one subtask made by `make` and ends the input: every value emitted,
/// sorted (the reference for [`run_with_restore`]).
pub fn run_uninterrupted<In, Out, Op>(make: impl Fn() -> Op, inputs: &[Input<In>]) -> Vec<Out>
where
    In: Clone + Send + 'static,
    Out: Clone + Ord + Send + 'static,
    Op: OneInputOperator<In, Out> + 'static,
{
    let mut harness = OneInputHarness::new(make());
    inputs.iter().for_each(|input| feed(&mut harness, input));
    harness.end_input();
    let mut emitted = harness.take_values();
    emitted.sort();
    emitted
}
