//! The broadcast state pattern: `stream.connect_broadcast(rules.broadcast_with(&descriptor))`
//! then `process(BroadcastProcessFunction)` — or the same on a keyed stream with a
//! `KeyedBroadcastProcessFunction`, which also has keyed state and timers.

use sluice_core::{KeyData, StreamData};
use sluice_runtime::operators::{
    BroadcastProcessFunction, BroadcastProcessOperator, BroadcastStateCodec,
    BroadcastStateDescriptor, KeyedBroadcastProcessFunction, KeyedBroadcastProcessOperator,
};

use crate::datastream::DataStream;
use crate::keyed_stream::KeyedStream;

/// A stream whose every element reaches every parallel instance of the operator it is
/// connected to; Flink's `BroadcastStream`.
pub struct BroadcastStream<B> {
    stream: DataStream<B>,
    codecs: Vec<BroadcastStateCodec>,
}

impl<B: StreamData> DataStream<B> {
    /// Turns this stream into the broadcast side of the broadcast state pattern; the
    /// descriptor names the broadcast state its elements maintain (checkpointed with the
    /// operator; add more with [`BroadcastStream::and_state`]).
    pub fn broadcast_with<K: KeyData, V: StreamData>(
        self,
        descriptor: &BroadcastStateDescriptor<K, V>,
    ) -> BroadcastStream<B> {
        BroadcastStream {
            stream: self.broadcast(),
            codecs: vec![descriptor.codec()],
        }
    }
}

impl<B> BroadcastStream<B> {
    /// Names one more broadcast state the broadcast elements maintain.
    pub fn and_state<K: KeyData, V: StreamData>(
        mut self,
        descriptor: &BroadcastStateDescriptor<K, V>,
    ) -> Self {
        self.codecs.push(descriptor.codec());
        self
    }
}

/// A non-keyed stream connected with a broadcast stream.
pub struct BroadcastConnectedStream<A, B> {
    stream: DataStream<A>,
    broadcast: BroadcastStream<B>,
}

/// A keyed stream connected with a broadcast stream.
pub struct KeyedBroadcastConnectedStream<A, K, B> {
    keyed: KeyedStream<A, K>,
    broadcast: BroadcastStream<B>,
}

impl<A: StreamData> DataStream<A> {
    /// Connects with a broadcast stream.
    pub fn connect_broadcast<B: StreamData>(
        self,
        broadcast: BroadcastStream<B>,
    ) -> BroadcastConnectedStream<A, B> {
        BroadcastConnectedStream {
            stream: self,
            broadcast,
        }
    }
}

impl<A: StreamData, K: KeyData> KeyedStream<A, K> {
    /// Connects with a broadcast stream.
    pub fn connect_broadcast<B: StreamData>(
        self,
        broadcast: BroadcastStream<B>,
    ) -> KeyedBroadcastConnectedStream<A, K, B> {
        KeyedBroadcastConnectedStream {
            keyed: self,
            broadcast,
        }
    }
}

impl<A: StreamData, B: StreamData> BroadcastConnectedStream<A, B> {
    /// Runs a [`BroadcastProcessFunction`].
    pub fn process<O, P>(self, function: P) -> DataStream<O>
    where
        O: StreamData,
        P: BroadcastProcessFunction<A, B, O> + Clone + Sync,
    {
        let codecs = self.broadcast.codecs;
        self.stream.connect(self.broadcast.stream).transform(
            "Broadcast Process",
            "Broadcast Process",
            move || BroadcastProcessOperator::new(function.clone(), codecs.clone()),
        )
    }
}

impl<A: StreamData, K: KeyData, B: StreamData> KeyedBroadcastConnectedStream<A, K, B> {
    /// Runs a [`KeyedBroadcastProcessFunction`].
    pub fn process<O, P>(self, function: P) -> DataStream<O>
    where
        O: StreamData,
        P: KeyedBroadcastProcessFunction<K, A, B, O> + Clone + Sync,
    {
        let key_selector = self.keyed.key_selector();
        let codecs = self.broadcast.codecs;
        self.keyed
            .as_stream()
            .connect(self.broadcast.stream)
            .transform(
                "Keyed Broadcast Process",
                "Keyed Broadcast Process",
                move || {
                    KeyedBroadcastProcessOperator::new(
                        std::sync::Arc::clone(&key_selector),
                        function.clone(),
                        codecs.clone(),
                    )
                },
            )
    }
}
