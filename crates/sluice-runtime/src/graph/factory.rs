//! Operator factories: how each node of the graph builds its operator for one subtask.
//!
//! A factory is generic over the operator's types when the API creates it and type-erased
//! afterwards, so deployment code handles every node the same way.

use std::any::Any;
use std::marker::PhantomData;
use std::sync::Arc;

use sluice_core::{StreamData, UserResult};

use crate::error::TaskError;
use crate::exchange::channel::ChannelReceiver;
use crate::exchange::in_flight::decode_channel;
use crate::exchange::input_gate::InputGate;
use crate::metrics::OperatorMetrics;
use crate::source::{Boundedness, Source, SourceProcessor, SplitRequest, prepare_splits};
use crate::task::chain::{AnyLink, erase_link, unerase_link};
use crate::task::operator::{
    OneInputOperator, OperatorContext, OperatorCore, OperatorLink, TwoInputOperator,
};
use crate::task::output::{Output, SideOutputSlot, SideOutputs};
use crate::task::two_input::TwoInputDriver;
use crate::task::{OneInputProcessor, TaskInput, TwoInputProcessor};
use crate::time::watermarks::WatermarkStrategy;

/// A channel sender whose record type is known only at runtime.
pub type AnySender = Box<dyn Any + Send>;
/// A channel receiver whose record type is known only at runtime.
pub type AnyReceiver = Box<dyn Any + Send>;

/// Where an operator's output goes: the main link and side-output slots by tag.
pub struct OperatorOutputs {
    /// The main output's link (a `BoxedLink<Out>`).
    pub main: AnyLink,
    /// Side outputs, by tag id.
    pub sides: Vec<(String, Box<dyn SideOutputSlot>)>,
}

/// What one subtask's operator is built from: where it runs, its metrics and its outputs.
pub struct OperatorSetup {
    /// Where the operator runs.
    pub ctx: OperatorContext,
    /// The operator's metrics.
    pub metrics: Arc<OperatorMetrics>,
    /// Where its output goes.
    pub output: OperatorOutputs,
}

impl OperatorSetup {
    fn into_core<Out: Send + 'static>(self) -> Result<OperatorCore<Out>, TaskError> {
        let next = unerase_link::<Out>(self.output.main)?;
        let sides = Output::new(SideOutputs::new(self.output.sides));
        Ok(OperatorCore::new(self.ctx, sides, next, self.metrics))
    }
}

/// What kind of operator a node holds, with its factory.
#[derive(Clone)]
pub enum OperatorFactory {
    /// A source: no inputs.
    Source(Arc<dyn SourceFactory>),
    /// One input; can be chained after its predecessor.
    OneInput(Arc<dyn OneInputFactory>),
    /// Two inputs; always the head of its task.
    TwoInput(Arc<dyn TwoInputFactory>),
}

/// Builds a source's task input.
pub trait SourceFactory: Send + Sync {
    /// Whether the source ends.
    fn boundedness(&self) -> Boundedness;
    /// Whether the source can be checkpointed.
    fn supports_checkpoints(&self) -> bool;
    /// Creates the source's splits for the request's readers, once per job (once per process
    /// on a cluster) — or, restoring, takes back the splits its old subtasks saved.
    fn prepare(&self, request: SplitRequest<'_>) -> UserResult<Arc<dyn Any + Send + Sync>>;
    /// Builds the task input of one reader subtask, reading `batch_size` records at a time.
    fn create_task_input(
        &self,
        splits: &Arc<dyn Any + Send + Sync>,
        setup: OperatorSetup,
        batch_size: usize,
    ) -> Result<Box<dyn TaskInput>, TaskError>;
}

/// Builds a one-input operator, chained or as a task head.
pub trait OneInputFactory: Send + Sync {
    /// The operator as a chain link.
    fn create_link(&self, setup: OperatorSetup) -> Result<AnyLink, TaskError>;
    /// The operator as the head of a task, fed by `receivers`.
    fn create_head(
        &self,
        setup: OperatorSetup,
        receivers: Vec<AnyReceiver>,
    ) -> Result<Box<dyn TaskInput>, TaskError>;
}

/// Builds a two-input operator as the head of a task.
pub trait TwoInputFactory: Send + Sync {
    /// The operator fed by the receivers of each input.
    fn create_head(
        &self,
        setup: OperatorSetup,
        input1: Vec<AnyReceiver>,
        input2: Vec<AnyReceiver>,
    ) -> Result<Box<dyn TaskInput>, TaskError>;
}

/// The gate of input `input` (0 or 1) of a task headed by the operator of `ctx`, replaying the
/// in-flight data a restored unaligned checkpoint stored for it.
fn typed_gate<T: StreamData>(
    receivers: Vec<AnyReceiver>,
    ctx: &OperatorContext,
    input: usize,
) -> Result<InputGate<T>, TaskError> {
    let channels = receivers
        .into_iter()
        .map(|r| {
            r.downcast::<ChannelReceiver<T>>()
                .map(|b| *b)
                .map_err(|_| TaskError::Internal("input channel of the wrong type".into()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut gate = InputGate::with_alignment(channels, ctx.barrier_alignment());
    let stored = ctx
        .restored
        .as_ref()
        .and_then(|r| r.in_flight.inputs.get(input));
    if let Some(stored) = stored {
        if stored.len() != gate.channel_count() {
            return Err(TaskError::operator(
                &ctx.name,
                format!(
                    "the checkpoint holds in-flight data of {} channels of input {}, but the input now has {} (an upstream parallelism changed); rescale from a savepoint, which holds no in-flight data",
                    stored.len(),
                    input + 1,
                    gate.channel_count()
                ),
            ));
        }
        for (index, bytes) in stored.iter().enumerate() {
            let place = format!("{} input {} channel {index}", ctx.name, input + 1);
            gate.replay(index, decode_channel(bytes, &place)?);
        }
    }
    Ok(gate)
}

/// The factory of a source node.
pub struct SourceNode<T, Src> {
    source: Arc<Src>,
    watermarks: Option<WatermarkStrategy<T>>,
}

impl<T, Src> SourceNode<T, Src> {
    /// A factory for `source`.
    pub fn new(source: Src) -> Self {
        SourceNode {
            source: Arc::new(source),
            watermarks: None,
        }
    }

    /// A factory for `source` generating watermarks per split with `strategy`.
    pub fn with_watermarks(source: Src, strategy: WatermarkStrategy<T>) -> Self {
        SourceNode {
            source: Arc::new(source),
            watermarks: Some(strategy),
        }
    }
}

impl<T: Send + 'static, Src: Source<T>> SourceFactory for SourceNode<T, Src> {
    fn boundedness(&self) -> Boundedness {
        self.source.boundedness()
    }

    fn supports_checkpoints(&self) -> bool {
        self.source.supports_checkpoints()
    }

    fn prepare(&self, request: SplitRequest<'_>) -> UserResult<Arc<dyn Any + Send + Sync>> {
        prepare_splits(self.source.as_ref(), request)
    }

    fn create_task_input(
        &self,
        splits: &Arc<dyn Any + Send + Sync>,
        setup: OperatorSetup,
        batch_size: usize,
    ) -> Result<Box<dyn TaskInput>, TaskError> {
        let head = unerase_link::<T>(setup.output.main)?;
        Ok(Box::new(SourceProcessor::new(
            Arc::clone(&self.source),
            setup.ctx,
            splits,
            head,
            batch_size,
            setup.metrics,
            self.watermarks.clone(),
        )?))
    }
}

/// The factory of a one-input node: `make` builds a fresh operator per subtask.
pub struct OneInputNode<In, Out, Op, F> {
    make: F,
    _types: PhantomData<fn(In) -> (Out, Op)>,
}

impl<In, Out, Op, F> OneInputNode<In, Out, Op, F> {
    /// A factory calling `make` once per subtask.
    pub fn new(make: F) -> Self {
        OneInputNode {
            make,
            _types: PhantomData,
        }
    }
}

impl<In, Out, Op, F> OneInputFactory for OneInputNode<In, Out, Op, F>
where
    In: StreamData,
    Out: Send + 'static,
    Op: OneInputOperator<In, Out> + 'static,
    F: Fn() -> Op + Send + Sync,
{
    fn create_link(&self, setup: OperatorSetup) -> Result<AnyLink, TaskError> {
        let core = setup.into_core::<Out>()?;
        Ok(erase_link(OperatorLink::boxed((self.make)(), core)))
    }

    fn create_head(
        &self,
        setup: OperatorSetup,
        receivers: Vec<AnyReceiver>,
    ) -> Result<Box<dyn TaskInput>, TaskError> {
        let gate = typed_gate::<In>(receivers, &setup.ctx, 0)?;
        let uid = setup.ctx.uid.clone();
        let link = unerase_link::<In>(self.create_link(setup)?)?;
        Ok(Box::new(OneInputProcessor::new(gate, link, uid)))
    }
}

/// The types a two-input node's factory is generic over, as a function signature.
type TwoInputSignature<A, B, Out, Op> = fn(A, B) -> (Out, Op);

/// The factory of a two-input node: `make` builds a fresh operator per subtask.
pub struct TwoInputNode<A, B, Out, Op, F> {
    make: F,
    _types: PhantomData<TwoInputSignature<A, B, Out, Op>>,
}

impl<A, B, Out, Op, F> TwoInputNode<A, B, Out, Op, F> {
    /// A factory calling `make` once per subtask.
    pub fn new(make: F) -> Self {
        TwoInputNode {
            make,
            _types: PhantomData,
        }
    }
}

impl<A, B, Out, Op, F> TwoInputFactory for TwoInputNode<A, B, Out, Op, F>
where
    A: StreamData,
    B: StreamData,
    Out: Send + 'static,
    Op: TwoInputOperator<A, B, Out> + 'static,
    F: Fn() -> Op + Send + Sync,
{
    fn create_head(
        &self,
        setup: OperatorSetup,
        input1: Vec<AnyReceiver>,
        input2: Vec<AnyReceiver>,
    ) -> Result<Box<dyn TaskInput>, TaskError> {
        let gate1 = typed_gate::<A>(input1, &setup.ctx, 0)?;
        let gate2 = typed_gate::<B>(input2, &setup.ctx, 1)?;
        let uid = setup.ctx.uid.clone();
        let core = setup.into_core::<Out>()?;
        let driver = TwoInputDriver::new((self.make)(), core);
        Ok(Box::new(TwoInputProcessor::new(gate1, gate2, driver, uid)))
    }
}
