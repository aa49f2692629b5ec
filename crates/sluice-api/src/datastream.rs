//! `DataStream`: a stream of records of one type, and the transformations that build new
//! streams from it.
//!
//! A `DataStream` is a handle on the graph being built; nothing runs until the environment
//! executes. User functions are cloned once per parallel subtask, so a function may keep state
//! in its own fields, as a Flink function object may.

use std::fmt::{Debug, Display};
use std::future::Future;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use sluice_core::key_group::stable_hash;
use sluice_core::{KeyData, KeySelector, StreamData, UserResult};
use sluice_runtime::JobError;
use sluice_runtime::exchange::partitioner::{CustomPartitionFn, KeyHashFn, Partitioning};
use sluice_runtime::exchange::pre_aggregate::PreAggregateFactory;
use sluice_runtime::functions::ProcessFunction;
use sluice_runtime::graph::{NodeId, OneInputNode, OperatorFactory, StreamEdge, stream_type};
use sluice_runtime::operators::{
    AsyncOptions, AsyncWaitOperator, FilterOperator, FlatMapOperator, MapOperator, ProcessOperator,
    SinkOperator, TimestampsAndWatermarksOperator,
};
use sluice_runtime::sink::Sink;
use sluice_runtime::task::operator::OneInputOperator;
use sluice_runtime::task::output::{Collector, OutputTag};
use sluice_runtime::time::watermarks::WatermarkStrategy;
use sluice_runtime::two_phase_commit::{TwoPhaseCommitSink, TwoPhaseCommitSinkOperator};

use crate::connected::ConnectedStreams;
use crate::environment::StreamExecutionEnvironment;
use crate::keyed_stream::KeyedStream;
use crate::settings::OperatorSettings;
use crate::sinks::{CollectSink, CollectedValues, CsvEncoder, FileSink, PrintSink, TextEncoder};

/// One upstream of a stream: a node's output (main or side), with the partitioning the next
/// edge from it will use.
#[derive(Clone)]
pub(crate) struct StreamRef {
    pub(crate) node: NodeId,
    pub(crate) partitioning: Partitioning,
    pub(crate) side_output: Option<String>,
}

/// A stream of records of type `T`; Flink's `DataStream`.
pub struct DataStream<T> {
    pub(crate) env: StreamExecutionEnvironment,
    pub(crate) inputs: Vec<StreamRef>,
    pub(crate) node: Option<NodeId>,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for DataStream<T> {
    fn clone(&self) -> Self {
        DataStream {
            env: self.env.clone(),
            inputs: self.inputs.clone(),
            node: self.node,
            _type: PhantomData,
        }
    }
}

impl<T> OperatorSettings for DataStream<T> {
    fn operator_node(&self) -> (&StreamExecutionEnvironment, Option<NodeId>) {
        (&self.env, self.node)
    }
}

/// The end of a stream: a sink, whose settings can still be changed.
pub struct DataStreamSink {
    env: StreamExecutionEnvironment,
    node: NodeId,
}

impl OperatorSettings for DataStreamSink {
    fn operator_node(&self) -> (&StreamExecutionEnvironment, Option<NodeId>) {
        (&self.env, Some(self.node))
    }
}

impl<T: StreamData> DataStream<T> {
    pub(crate) fn from_node(env: StreamExecutionEnvironment, node: NodeId) -> Self {
        Self::from_refs(
            env,
            vec![StreamRef {
                node,
                partitioning: Partitioning::Default,
                side_output: None,
            }],
            Some(node),
        )
    }

    pub(crate) fn from_refs(
        env: StreamExecutionEnvironment,
        inputs: Vec<StreamRef>,
        node: Option<NodeId>,
    ) -> Self {
        DataStream {
            env,
            inputs,
            node,
            _type: PhantomData,
        }
    }

    /// The environment this stream belongs to.
    pub fn environment(&self) -> &StreamExecutionEnvironment {
        &self.env
    }

    /// Adds edges from every upstream of this stream into `target`'s input `input`.
    pub(crate) fn connect_to(&self, target: NodeId, input: u8) {
        let data_type = stream_type::<T>();
        self.env.with_graph(|graph| {
            for r in &self.inputs {
                graph.add_edge(StreamEdge {
                    source: r.node,
                    target,
                    partitioning: r.partitioning.clone(),
                    input,
                    side_output: r.side_output.clone(),
                    data_type: Arc::clone(&data_type),
                });
            }
        });
    }

    /// Adds a one-input operator after this stream; `make` builds one instance per subtask.
    pub fn transform<U, Op, F>(
        self,
        name: &str,
        operator_type: &'static str,
        make: F,
    ) -> DataStream<U>
    where
        U: StreamData,
        Op: OneInputOperator<T, U> + 'static,
        F: Fn() -> Op + Send + Sync + 'static,
    {
        let factory = OperatorFactory::OneInput(Arc::new(OneInputNode::<T, U, Op, F>::new(make)));
        let node = self
            .env
            .with_graph(|g| g.add_node(name, operator_type, factory, stream_type::<U>(), false));
        self.connect_to(node, 1);
        DataStream::from_node(self.env.clone(), node)
    }

    /// Applies `f` to every value.
    pub fn map<U, F>(self, f: F) -> DataStream<U>
    where
        U: StreamData,
        F: FnMut(T) -> U + Clone + Send + Sync + 'static,
    {
        self.transform("Map", "Map", move || MapOperator(f.clone()))
    }

    /// Calls `f` with every value and a collector that takes any number of results.
    pub fn flat_map<U, F>(self, f: F) -> DataStream<U>
    where
        U: StreamData,
        F: FnMut(T, &mut Collector<'_, U>) + Clone + Send + Sync + 'static,
    {
        self.transform("Flat Map", "Flat Map", move || FlatMapOperator(f.clone()))
    }

    /// Keeps the values for which `f` returns true.
    pub fn filter<F>(self, f: F) -> DataStream<T>
    where
        F: FnMut(&T) -> bool + Clone + Send + Sync + 'static,
    {
        self.transform("Filter", "Filter", move || FilterOperator(f.clone()))
    }

    /// Runs a [`ProcessFunction`]: each value with its context (timestamp, side outputs) and a
    /// collector.
    pub fn process<U, P>(self, function: P) -> DataStream<U>
    where
        U: StreamData,
        P: ProcessFunction<T, U> + Clone + Sync,
    {
        self.transform("Process", "Process", move || {
            ProcessOperator(function.clone())
        })
    }

    /// Assigns event-time timestamps and generates watermarks with `strategy`.
    pub fn assign_timestamps_and_watermarks(self, strategy: WatermarkStrategy<T>) -> DataStream<T> {
        let group = strategy.alignment.as_ref().map(|a| a.group.clone());
        let stream = self.transform(
            "Timestamps/Watermarks",
            "Timestamps/Watermarks",
            move || TimestampsAndWatermarksOperator::new(strategy.clone()),
        );
        if let (Some(group), Some(node)) = (group, stream.node) {
            stream
                .env
                .node_settings(node, |n| n.watermark_alignment_group = Some(group));
        }
        stream
    }

    /// Calls an asynchronous function per record (lookups in external systems) with at most
    /// `options.capacity` calls in flight, each bounded by `options.timeout`; results come in
    /// input order or as they complete. The futures run on Tokio.
    pub fn async_map<U, F, Fut>(self, function: F, options: AsyncOptions) -> DataStream<U>
    where
        U: StreamData,
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = UserResult<U>> + Send + 'static,
    {
        self.async_flat_map(
            move |value: T| {
                let call = function(value);
                async move { call.await.map(|result| vec![result]) }
            },
            options,
        )
    }

    /// Like [`DataStream::async_map`], with any number of results per record.
    pub fn async_flat_map<U, F, Fut>(self, function: F, options: AsyncOptions) -> DataStream<U>
    where
        U: StreamData,
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = UserResult<Vec<U>>> + Send + 'static,
    {
        let function = Arc::new(function);
        self.transform("Async Wait", "Async Wait", move || {
            AsyncWaitOperator::new(Arc::clone(&function), options)
        })
    }

    /// The side output `tag` of the operator that produced this stream.
    pub fn get_side_output<S: StreamData>(&self, tag: &OutputTag<S>) -> DataStream<S> {
        let Some(node) = self.node else {
            self.env.report(format!(
                "get_side_output('{}') must be called on an operator's output",
                tag.id()
            ));
            return DataStream::from_refs(self.env.clone(), Vec::new(), None);
        };
        let type_id = std::any::TypeId::of::<S>();
        let conflict = self.env.with_graph(|g| {
            g.edges.iter().any(|e| {
                e.source == node
                    && e.side_output.as_deref() == Some(tag.id())
                    && e.data_type.record_type_id() != type_id
            })
        });
        if conflict {
            self.env.report(format!(
                "side output '{}' is used with two different types",
                tag.id()
            ));
        }
        DataStream::from_refs(
            self.env.clone(),
            vec![StreamRef {
                node,
                partitioning: Partitioning::Default,
                side_output: Some(tag.id().to_string()),
            }],
            None,
        )
    }

    /// Partitions by key: every record of a key goes to the same subtask, whose keyed
    /// operators then see all of them.
    pub fn key_by<K, KS>(self, key_selector: KS) -> KeyedStream<T, K>
    where
        K: KeyData,
        KS: Fn(&T) -> K + Send + Sync + 'static,
    {
        let key_selector = Arc::new(key_selector);
        let hashed = Arc::clone(&key_selector);
        let hash: KeyHashFn<T> = Arc::new(move |value: &T| stable_hash(&hashed(value)));
        KeyedStream::new(self, KeySelector::Owned(key_selector), hash)
    }

    /// Partitions by a key borrowed from each record, as `key_by` does: `key_by_ref(|t| &t.0)`
    /// where `key_by` would write `|t| t.0.clone()`. The exchange hashes the borrowed key, and
    /// `reduce` and the aggregations built on it look their state up by it, copying it only for
    /// a new key; windows, process functions and joins still take a copy per record.
    pub fn key_by_ref<K, KS>(self, key_selector: KS) -> KeyedStream<T, K>
    where
        K: KeyData,
        KS: for<'a> Fn(&'a T) -> &'a K + Send + Sync + 'static,
    {
        let key_selector = Arc::new(key_selector);
        let hashed = Arc::clone(&key_selector);
        let hash: KeyHashFn<T> = Arc::new(move |value: &T| stable_hash(hashed(value)));
        KeyedStream::new(self, KeySelector::Borrowed(key_selector), hash)
    }

    /// Partitions by the key groups of the keys `hash` hashes (a key selector's hash, made
    /// where its type is known so that the call inlines).
    pub(crate) fn hash_partitioned(self, hash: KeyHashFn<T>) -> Self {
        self.partitioned(Partitioning::hash(hash))
    }

    /// This keyed stream with its producers folding their records with `pre_aggregate` before
    /// the exchange in batch mode.
    pub(crate) fn pre_aggregated(mut self, pre_aggregate: PreAggregateFactory<T>) -> Self {
        for input in &mut self.inputs {
            input.partitioning = input
                .partitioning
                .with_pre_aggregate(Arc::clone(&pre_aggregate));
        }
        self
    }

    fn partitioned(self, partitioning: Partitioning) -> Self {
        let inputs = self
            .inputs
            .into_iter()
            .map(|r| StreamRef {
                partitioning: partitioning.clone(),
                ..r
            })
            .collect();
        DataStream::from_refs(self.env, inputs, None)
    }

    /// Merges streams of the same type into one.
    pub fn union(self, others: impl IntoIterator<Item = DataStream<T>>) -> DataStream<T> {
        let mut inputs = self.inputs;
        for other in others {
            if !std::rc::Rc::ptr_eq(&self.env.state, &other.env.state) {
                self.env
                    .report("union: every stream must come from the same environment");
            }
            inputs.extend(other.inputs);
        }
        DataStream::from_refs(self.env, inputs, None)
    }

    /// Connects with a stream of another type, for a co-map, co-flat-map or co-process.
    pub fn connect<B: StreamData>(self, other: DataStream<B>) -> ConnectedStreams<T, B> {
        ConnectedStreams::new(self, other)
    }

    /// Sends each record to a uniformly random subtask.
    pub fn shuffle(self) -> Self {
        self.partitioned(Partitioning::Shuffle)
    }

    /// Distributes records round-robin over all downstream subtasks.
    pub fn rebalance(self) -> Self {
        self.partitioned(Partitioning::Rebalance)
    }

    /// Distributes records round-robin over a local group of downstream subtasks.
    pub fn rescale(self) -> Self {
        self.partitioned(Partitioning::Rescale)
    }

    /// Sends every record to every downstream subtask.
    pub fn broadcast(self) -> Self {
        self.partitioned(Partitioning::Broadcast)
    }

    /// Sends every record to the first downstream subtask.
    pub fn global(self) -> Self {
        self.partitioned(Partitioning::Global)
    }

    /// Sends each record to the subtask of the same index (parallelisms must match).
    pub fn forward(self) -> Self {
        self.partitioned(Partitioning::Forward)
    }

    /// Sends each record to the subtask `partitioner(key, number_of_subtasks)` chooses.
    pub fn partition_custom<K, P, KS>(self, partitioner: P, key_selector: KS) -> Self
    where
        P: Fn(&K, usize) -> usize + Send + Sync + 'static,
        KS: Fn(&T) -> K + Send + Sync + 'static,
    {
        let choose: CustomPartitionFn<T> =
            Arc::new(move |value: &T, channels: usize| partitioner(&key_selector(value), channels));
        self.partitioned(Partitioning::Custom(Arc::new(choose)))
    }

    /// Writes records through `sink`.
    pub fn sink_to<S: Sink<T>>(self, sink: S) -> DataStreamSink {
        self.add_sink("Sink: Unnamed", sink)
    }

    /// Writes the stream through a two-phase-commit sink: its output becomes visible when the
    /// checkpoint covering it completes (exactly-once; without checkpointing, at the end).
    pub fn sink_to_committing<S: TwoPhaseCommitSink<T>>(self, sink: S) -> DataStreamSink {
        let sink = Arc::new(sink);
        let make = move || TwoPhaseCommitSinkOperator::new(Arc::clone(&sink));
        self.add_sink_operator("Sink: Committing", make)
    }

    fn add_sink<S: Sink<T>>(self, name: &str, sink: S) -> DataStreamSink {
        let sink = Arc::new(sink);
        self.add_sink_operator(name, move || SinkOperator::new(Arc::clone(&sink)))
    }

    fn add_sink_operator<Op: OneInputOperator<T, ()> + 'static>(
        self,
        name: &str,
        make: impl Fn() -> Op + Send + Sync + 'static,
    ) -> DataStreamSink {
        let factory = OperatorFactory::OneInput(Arc::new(OneInputNode::<T, (), _, _>::new(make)));
        let node = self
            .env
            .with_graph(|g| g.add_node(name, "Sink", factory, stream_type::<()>(), true));
        self.connect_to(node, 1);
        DataStreamSink {
            env: self.env.clone(),
            node,
        }
    }

    /// Prints every record to standard output (strings as they are, other values in `Debug`
    /// format), prefixed with `N> ` (the
    /// 1-based subtask) when the sink runs with a parallelism above 1, as Flink does.
    pub fn print(self) -> DataStreamSink
    where
        T: Debug,
    {
        self.add_sink("Sink: Print to Std. Out", PrintSink::new())
    }

    /// Writes each record as one line (`Display` format). With parallelism 1 `path` is a file;
    /// above 1 it is a directory with one file per subtask, named `1`, `2`, …. Files appear
    /// complete when the input ends (they are written under a hidden name and renamed).
    pub fn write_as_text(self, path: impl Into<PathBuf>) -> DataStreamSink
    where
        T: Display,
    {
        self.add_sink("Sink: Text File", FileSink::new(path.into(), TextEncoder))
    }

    /// Writes each record as one CSV row (fields of tuples and structs become columns), laid
    /// out like [`DataStream::write_as_text`].
    pub fn write_as_csv(self, path: impl Into<PathBuf>) -> DataStreamSink
    where
        T: Serialize,
    {
        self.add_sink("Sink: CSV File", FileSink::new(path.into(), CsvEncoder))
    }

    /// Collects every record in memory; read them from the handle after `execute`.
    pub fn collect(self) -> CollectedValues<T> {
        let sink = CollectSink::new();
        let values = sink.values();
        self.add_sink("Sink: Collect", sink);
        values
    }

    /// Executes the job and returns every record of this stream (for tests and small jobs).
    pub fn execute_and_collect(self, job_name: &str) -> Result<Vec<T>, JobError> {
        let env = self.env.clone();
        let values = self.collect();
        env.execute(job_name)?;
        Ok(values.take())
    }
}
