//! The broadcast state pattern: `stream.connect_broadcast(rules.broadcast_with(&descriptor))`
//! then `process(BroadcastProcessFunction)` — or the same on a keyed stream with a
//! `KeyedBroadcastProcessFunction`, which also has keyed state and timers.

use sluice_core::{KeyData, StreamData};
use sluice_runtime::operators::{
    BroadcastProcessFunction, BroadcastProcessOperator, BroadcastStateDescriptor,
    KeyedBroadcastProcessFunction, KeyedBroadcastProcessOperator,
};

use crate::datastream::DataStream;
use crate::keyed_stream::KeyedStream;

/// A stream whose every element reaches every parallel instance of the operator it is
/// connected to; Flink's `BroadcastStream`.
pub struct BroadcastStream<B> {
    stream: DataStream<B>,
}

impl<B: StreamData> DataStream<B> {
    /// Turns this stream into the broadcast side of the broadcast state pattern; the
    /// descriptors name the broadcast states its elements maintain.
    pub fn broadcast_with<K, V>(
        self,
        _descriptor: &BroadcastStateDescriptor<K, V>,
    ) -> BroadcastStream<B> {
        BroadcastStream {
            stream: self.broadcast(),
        }
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
        self.stream.connect(self.broadcast.stream).transform(
            "Broadcast Process",
            "Broadcast Process",
            move || BroadcastProcessOperator::new(function.clone()),
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
                    )
                },
            )
    }
}
