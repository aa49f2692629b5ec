//! The record writer: sends a producing task's records to the tasks that consume them (a task
//! chain ends in one per outgoing edge; `task::writer_link` makes it the chain's last link).
//!
//! It keeps one buffer per output channel, sends a buffer when it holds `batch_size` records,
//! on flush (buffer timeout or idle task) and before every control element, so control elements
//! stay in order with the records around them. Time spent blocked on a full channel is the
//! subtask's backpressure time. An unaligned checkpoint's barrier skips the queue instead (see
//! [`crate::exchange::channel`]).

use std::sync::Arc;

use sluice_core::{Barrier, Record, StreamElement};

use crate::error::TaskError;
use crate::exchange::channel::{ChannelSender, SendError};
use crate::exchange::partitioner::ChannelSelector;
use crate::metrics::TaskMetrics;

/// The most records a fresh buffer reserves room for; larger buffers grow as they fill.
pub const PREALLOCATED_RECORDS: usize = 1024;

/// Sends the records of one edge of one producing subtask.
pub struct RecordWriter<T> {
    senders: Vec<ChannelSender<T>>,
    buffers: Vec<Vec<Record<T>>>,
    selector: ChannelSelector<T>,
    batch_size: usize,
    metrics: Arc<TaskMetrics>,
    edge: String,
}

impl<T> RecordWriter<T> {
    /// A writer over `senders` (one per channel, in consumer order).
    pub fn new(
        senders: Vec<ChannelSender<T>>,
        selector: ChannelSelector<T>,
        batch_size: usize,
        metrics: Arc<TaskMetrics>,
        edge: String,
    ) -> Self {
        RecordWriter {
            buffers: senders.iter().map(|_| Vec::new()).collect(),
            senders,
            selector,
            batch_size: batch_size.max(1),
            metrics,
            edge,
        }
    }

    fn send(&mut self, channel: usize, element: StreamElement<T>) -> Result<(), TaskError> {
        match self.senders[channel].send(element) {
            Ok(blocked) => {
                self.metrics.add_backpressure(blocked);
                Ok(())
            }
            Err(SendError::Cancelled) => Err(TaskError::Cancelled),
            Err(SendError::Disconnected | SendError::Full) => Err(self.disconnected(channel)),
        }
    }

    fn send_buffer(&mut self, channel: usize) -> Result<(), TaskError> {
        if self.buffers[channel].is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(
            &mut self.buffers[channel],
            Vec::with_capacity(self.batch_size.min(PREALLOCATED_RECORDS)),
        );
        self.send(channel, StreamElement::Records(batch))
    }

    fn send_all_buffers(&mut self) -> Result<(), TaskError> {
        (0..self.senders.len()).try_for_each(|channel| self.send_buffer(channel))
    }

    /// Sends an unaligned checkpoint's barrier on every channel's priority lane, with the
    /// channel's partly filled buffer queued behind everything else: nothing waits for room.
    fn send_priority_barrier(&mut self, barrier: Barrier) -> Result<(), TaskError> {
        for channel in 0..self.senders.len() {
            let buffer = std::mem::take(&mut self.buffers[channel]);
            let last = (!buffer.is_empty()).then_some(StreamElement::Records(buffer));
            self.senders[channel]
                .send_priority(barrier, last)
                .map_err(|_| self.disconnected(channel))?;
        }
        Ok(())
    }

    fn disconnected(&self, channel: usize) -> TaskError {
        TaskError::Disconnected(format!("consumer {channel} of edge {} is gone", self.edge))
    }

    fn broadcast_control(&mut self, element: StreamElement<T>) -> Result<(), TaskError>
    where
        T: Clone,
    {
        self.send_all_buffers()?;
        for channel in 0..self.senders.len() {
            self.send(channel, element.clone())?;
        }
        Ok(())
    }
}

impl<T: Clone + 'static> RecordWriter<T> {
    /// Takes every record out of `batch` into the buffers of the channels its partitioner
    /// chooses, sending each buffer that fills.
    pub fn write(&mut self, batch: &mut Vec<Record<T>>) -> Result<(), TaskError> {
        let channels = self.senders.len();
        for record in batch.drain(..) {
            let choice = self
                .selector
                .select(&record.value, channels)
                .map_err(|message| TaskError::operator(&self.edge, message))?;
            match choice {
                Some(channel) => {
                    self.buffers[channel].push(record);
                    if self.buffers[channel].len() >= self.batch_size {
                        self.send_buffer(channel)?;
                    }
                }
                None => {
                    for channel in 0..channels {
                        self.buffers[channel].push(record.clone());
                        if self.buffers[channel].len() >= self.batch_size {
                            self.send_buffer(channel)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Sends the buffered records, then `element` (a watermark, a status, end of input) on
    /// every channel.
    pub fn broadcast(&mut self, element: StreamElement<T>) -> Result<(), TaskError> {
        self.broadcast_control(element)
    }

    /// Sends the buffered records, then the barrier on every channel; an unaligned barrier
    /// goes on the priority lanes instead, ahead of what is queued.
    pub fn send_barrier(&mut self, barrier: Barrier) -> Result<(), TaskError> {
        if barrier.unaligned {
            self.send_priority_barrier(barrier)
        } else {
            self.broadcast_control(StreamElement::Barrier(barrier))
        }
    }

    /// Sends every partly filled buffer.
    pub fn flush(&mut self) -> Result<(), TaskError> {
        self.send_all_buffers()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::channel::{TryRecv, channel};
    use crate::exchange::partitioner::Partitioning;
    use crate::signal::{CancelToken, TaskWaker};
    use sluice_core::Watermark;

    #[test]
    fn batches_and_keeps_control_in_order() {
        let (tx, rx) = channel::<i32>(16, TaskWaker::new(), CancelToken::new());
        let selector = ChannelSelector::new(&Partitioning::Forward, 0, 128).unwrap();
        let mut writer = RecordWriter::new(vec![tx], selector, 2, Arc::default(), "e".into());
        writer
            .write(&mut (1..=3).map(Record::new).collect())
            .unwrap();
        writer
            .broadcast(StreamElement::Watermark(Watermark(9)))
            .unwrap();
        let expect = [
            StreamElement::Records(vec![Record::new(1), Record::new(2)]),
            StreamElement::Records(vec![Record::new(3)]),
            StreamElement::Watermark(Watermark(9)),
        ];
        for element in expect {
            assert_eq!(rx.try_recv(), TryRecv::Element(element));
        }
    }

    #[test]
    fn broadcast_reaches_every_channel() {
        let waker = TaskWaker::new();
        let (tx0, rx0) = channel::<i32>(4, waker.clone(), CancelToken::new());
        let (tx1, rx1) = channel::<i32>(4, waker, CancelToken::new());
        let selector = ChannelSelector::new(&Partitioning::Broadcast, 0, 128).unwrap();
        let mut writer = RecordWriter::new(vec![tx0, tx1], selector, 8, Arc::default(), "e".into());
        writer.write(&mut vec![Record::new(7)]).unwrap();
        writer.flush().unwrap();
        for rx in [rx0, rx1] {
            assert_eq!(
                rx.try_recv(),
                TryRecv::Element(StreamElement::Records(vec![Record::new(7)]))
            );
        }
    }
}
