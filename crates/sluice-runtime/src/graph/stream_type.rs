//! Type-erased operations on the records of one stream type.

use std::any::TypeId;
use std::sync::Arc;

use crate::task::chain::{AnyLink, Fanout, erase_link, unerase_link};
use sluice_core::StreamData;

use crate::error::TaskError;
use crate::exchange::channel::{ChannelSender, channel, channel_with_take_waker};
use crate::exchange::partitioner::{ChannelSelector, Partitioning};
use crate::exchange::record_writer::RecordWriter;
use crate::exchange::remote::{DecodingQueue, EncodingQueue, InboundQueue, OutboundQueue};
use crate::metrics::TaskMetrics;
use crate::signal::{CancelToken, TaskWaker};
use crate::task::output::{SideOutputSlot, SideSlot};
use crate::task::writer_link::PreAggregatingWriter;

use super::factory::{AnyReceiver, AnySender};

/// What the deployment needs to know to move records of one type.
pub trait StreamType: Send + Sync {
    /// The record type's name, for plans and errors.
    fn type_name(&self) -> &'static str;
    /// The record type's id, to check that connected operators agree.
    fn record_type_id(&self) -> TypeId;
    /// A bounded channel waking `consumer`.
    fn channel(&self, spec: ChannelSpec, consumer: Arc<TaskWaker>) -> (AnySender, AnyReceiver);
    /// A channel whose consumer is in another process: the producer's sender, and the queue
    /// the connection sends from (its pushes wake `connection`).
    fn remote_outbound(
        &self,
        spec: ChannelSpec,
        connection: Arc<TaskWaker>,
        producer: Arc<TaskMetrics>,
    ) -> (AnySender, Box<dyn OutboundQueue>);
    /// A channel whose producer is in another process: the queue the connection delivers
    /// into, and the consumer's receiver (whose takes wake `connection`).
    fn remote_inbound(
        &self,
        spec: ChannelSpec,
        consumer: Arc<TaskWaker>,
        connection: Arc<TaskWaker>,
        consumer_metrics: Arc<TaskMetrics>,
    ) -> (Arc<dyn InboundQueue>, AnyReceiver);
    /// A record writer over `senders`, behind the edge's pre-aggregation in batch mode.
    fn record_writer(
        &self,
        senders: Vec<AnySender>,
        setup: WriterSetup<'_>,
    ) -> Result<AnyLink, TaskError>;
    /// One link feeding all of `links`.
    fn fanout(&self, links: Vec<AnyLink>) -> Result<AnyLink, TaskError>;
    /// A side-output slot feeding `link`.
    fn side_slot(&self, link: AnyLink) -> Result<Box<dyn SideOutputSlot>, TaskError>;
}

/// What every channel of a job is made with.
#[derive(Clone)]
pub struct ChannelSpec {
    /// How many buffers the channel holds.
    pub capacity: usize,
    /// The job's cancel token: a blocked sender or receiver gives up when it fires.
    pub cancel: CancelToken,
}

/// What the record writer of one edge in one producing subtask is built from.
pub struct WriterSetup<'a> {
    /// The edge's partitioning.
    pub partitioning: &'a Partitioning,
    /// The producing subtask's index.
    pub producer: usize,
    /// The consumer's max parallelism (its number of key groups).
    pub max_parallelism: usize,
    /// Records per buffer.
    pub batch_size: usize,
    /// Whether the job runs in batch mode (the edge's pre-aggregation, if any, runs).
    pub batch_mode: bool,
    /// The producing task's metrics.
    pub metrics: Arc<TaskMetrics>,
    /// The edge's name, for errors.
    pub edge: String,
}

struct TypeOps<T>(std::marker::PhantomData<fn() -> T>);

/// The [`StreamType`] of `T`.
pub fn stream_type<T: StreamData>() -> Arc<dyn StreamType> {
    Arc::new(TypeOps::<T>(std::marker::PhantomData))
}

impl<T: StreamData> StreamType for TypeOps<T> {
    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }

    fn record_type_id(&self) -> TypeId {
        TypeId::of::<T>()
    }

    fn channel(&self, spec: ChannelSpec, consumer: Arc<TaskWaker>) -> (AnySender, AnyReceiver) {
        let (tx, rx) = channel::<T>(spec.capacity, consumer, spec.cancel);
        (Box::new(tx), Box::new(rx))
    }

    fn remote_outbound(
        &self,
        spec: ChannelSpec,
        connection: Arc<TaskWaker>,
        producer: Arc<TaskMetrics>,
    ) -> (AnySender, Box<dyn OutboundQueue>) {
        let (tx, rx) = channel::<T>(spec.capacity, connection, spec.cancel);
        (Box::new(tx), Box::new(EncodingQueue::new(rx, producer)))
    }

    fn remote_inbound(
        &self,
        spec: ChannelSpec,
        consumer: Arc<TaskWaker>,
        connection: Arc<TaskWaker>,
        consumer_metrics: Arc<TaskMetrics>,
    ) -> (Arc<dyn InboundQueue>, AnyReceiver) {
        let (tx, rx) =
            channel_with_take_waker::<T>(spec.capacity, consumer, spec.cancel, Some(connection));
        (
            Arc::new(DecodingQueue::new(tx, consumer_metrics)),
            Box::new(rx),
        )
    }

    fn record_writer(
        &self,
        senders: Vec<AnySender>,
        setup: WriterSetup<'_>,
    ) -> Result<AnyLink, TaskError> {
        let edge = setup.edge;
        let senders = senders
            .into_iter()
            .map(|s| {
                s.downcast::<ChannelSender<T>>().map(|b| *b).map_err(|_| {
                    TaskError::Internal(format!("channel type mismatch on edge {edge}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let selector =
            ChannelSelector::new(setup.partitioning, setup.producer, setup.max_parallelism)?;
        let pre_aggregate = setup
            .partitioning
            .pre_aggregate::<T>()
            .filter(|_| setup.batch_mode);
        let folding = format!("{edge} (folding before the exchange)");
        let writer = RecordWriter::new(senders, selector, setup.batch_size, setup.metrics, edge);
        Ok(erase_link::<T>(match pre_aggregate {
            Some(partials) => Box::new(PreAggregatingWriter::new(partials(), writer, folding)),
            None => Box::new(writer),
        }))
    }

    fn fanout(&self, links: Vec<AnyLink>) -> Result<AnyLink, TaskError> {
        let links = links
            .into_iter()
            .map(unerase_link::<T>)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(erase_link(Fanout::combine(links)))
    }

    fn side_slot(&self, link: AnyLink) -> Result<Box<dyn SideOutputSlot>, TaskError> {
        Ok(SideSlot::boxed(unerase_link::<T>(link)?))
    }
}
