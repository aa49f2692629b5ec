//! `ConnectedStreams`: two streams of possibly different types processed by one operator that
//! sees both (co-map, co-flat-map, co-process), e.g. to apply control messages to data.

use std::sync::Arc;

use sluice_core::{KeyData, StreamData};
use sluice_runtime::functions::{CoFlatMap, CoProcessFunction};
use sluice_runtime::graph::{OperatorFactory, TwoInputNode, stream_type};
use sluice_runtime::operators::CoProcessOperator;
use sluice_runtime::task::operator::TwoInputOperator;
use sluice_runtime::task::output::Collector;

use crate::datastream::DataStream;

/// Two connected streams; Flink's `ConnectedStreams`.
pub struct ConnectedStreams<A, B> {
    first: DataStream<A>,
    second: DataStream<B>,
}

impl<A: StreamData, B: StreamData> ConnectedStreams<A, B> {
    pub(crate) fn new(first: DataStream<A>, second: DataStream<B>) -> Self {
        if !std::rc::Rc::ptr_eq(&first.env.state, &second.env.state) {
            first
                .env
                .report("connect: both streams must come from the same environment");
        }
        ConnectedStreams { first, second }
    }

    /// Partitions both inputs by key, so matching keys of both streams meet in one subtask.
    pub fn key_by<K, KS1, KS2>(self, key1: KS1, key2: KS2) -> Self
    where
        K: KeyData,
        KS1: Fn(&A) -> K + Send + Sync + 'static,
        KS2: Fn(&B) -> K + Send + Sync + 'static,
    {
        ConnectedStreams {
            first: self.first.key_by(key1).as_stream(),
            second: self.second.key_by(key2).as_stream(),
        }
    }

    /// Runs a [`CoProcessFunction`] over both inputs.
    pub fn process<O, P>(self, function: P) -> DataStream<O>
    where
        O: StreamData,
        P: CoProcessFunction<A, B, O> + Clone + Sync,
    {
        self.add_operator("Co-Process", function)
    }

    /// One result per element of either input.
    pub fn map<O, F1, F2>(self, map1: F1, map2: F2) -> DataStream<O>
    where
        O: StreamData,
        F1: FnMut(A) -> O + Clone + Send + Sync + 'static,
        F2: FnMut(B) -> O + Clone + Send + Sync + 'static,
    {
        let mut map1 = map1;
        let mut map2 = map2;
        let function = CoFlatMap {
            first: move |value: A, out: &mut Collector<'_, O>| out.collect(map1(value)),
            second: move |value: B, out: &mut Collector<'_, O>| out.collect(map2(value)),
        };
        self.add_operator("Co-Map", function)
    }

    /// Any number of results per element of either input.
    pub fn flat_map<O, F1, F2>(self, flat_map1: F1, flat_map2: F2) -> DataStream<O>
    where
        O: StreamData,
        F1: FnMut(A, &mut Collector<'_, O>) + Clone + Send + Sync + 'static,
        F2: FnMut(B, &mut Collector<'_, O>) + Clone + Send + Sync + 'static,
    {
        let function = CoFlatMap {
            first: flat_map1,
            second: flat_map2,
        };
        self.add_operator("Co-Flat Map", function)
    }

    fn add_operator<O, P>(self, name: &'static str, function: P) -> DataStream<O>
    where
        O: StreamData,
        P: CoProcessFunction<A, B, O> + Clone + Sync,
    {
        self.transform(name, name, move || CoProcessOperator(function.clone()))
    }

    /// Adds a two-input operator over both streams; `make` builds one instance per subtask.
    pub fn transform<O, Op, F>(
        self,
        name: &str,
        operator_type: &'static str,
        make: F,
    ) -> DataStream<O>
    where
        O: StreamData,
        Op: TwoInputOperator<A, B, O> + 'static,
        F: Fn() -> Op + Send + Sync + 'static,
    {
        let factory =
            OperatorFactory::TwoInput(Arc::new(TwoInputNode::<A, B, O, Op, F>::new(make)));
        let env = self.first.env.clone();
        let node =
            env.with_graph(|g| g.add_node(name, operator_type, factory, stream_type::<O>(), false));
        self.first.connect_to(node, 1);
        self.second.connect_to(node, 2);
        DataStream::from_node(env, node)
    }
}
