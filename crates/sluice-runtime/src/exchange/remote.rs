//! The typed ends of a channel that crosses processes: the producer's local channel drained
//! and encoded for the connection ([`EncodingQueue`]), and the consumer's local channel filled
//! with what the connection decodes ([`DecodingQueue`]). The connection sees only the byte
//! queues of `net::remote_channel`.

use std::sync::{Arc, Mutex, PoisonError};

use sluice_core::{Barrier, StreamData, StreamElement};
use sluice_state::codec::{decode, encode_append};

use super::channel::{ChannelReceiver, ChannelSender, SendError, TryRecv};
use crate::metrics::TaskMetrics;
pub use crate::net::remote_channel::{InboundQueue, Outbound, OutboundQueue};

const WHAT: &str = "network buffer";

/// The producing side over the receiver of a local channel; the bytes it encodes count as
/// the producing task's bytes out.
pub struct EncodingQueue<T> {
    receiver: ChannelReceiver<T>,
    producer: Arc<TaskMetrics>,
}

impl<T> EncodingQueue<T> {
    /// Sends what `receiver` receives, from the task whose counters are `producer`.
    pub fn new(receiver: ChannelReceiver<T>, producer: Arc<TaskMetrics>) -> Self {
        EncodingQueue { receiver, producer }
    }
}

impl<T: StreamData> OutboundQueue for EncodingQueue<T> {
    fn next(&mut self, out: &mut Vec<u8>) -> Result<Outbound, String> {
        match self.receiver.try_recv() {
            TryRecv::Element(element) => {
                let before = out.len();
                let bytes = encode_append(WHAT, std::mem::take(out), &element)
                    .map_err(|e| e.to_string())?;
                self.producer.add_bytes_out(bytes.len() - before);
                *out = bytes;
                Ok(Outbound::Element {
                    last: matches!(element, StreamElement::EndOfInput),
                })
            }
            TryRecv::Empty => Ok(Outbound::Empty),
            TryRecv::Disconnected => Ok(Outbound::Finished),
            TryRecv::Priority { barrier, overtaken } => Ok(Outbound::Priority {
                barrier,
                pushed_before: self.receiver.taken() + overtaken as u64,
            }),
        }
    }

    fn next_priority(&mut self) -> Option<(Barrier, u64)> {
        self.receiver.try_recv_priority()
    }
}

/// The consuming side over the sender of a local channel; the bytes it decodes count as the
/// consuming task's bytes in.
pub struct DecodingQueue<T> {
    sender: Mutex<Option<ChannelSender<T>>>,
    capacity: usize,
    ended: Mutex<bool>,
    consumer: Arc<TaskMetrics>,
}

impl<T> DecodingQueue<T> {
    /// Delivers into `sender`, to the task whose counters are `consumer`.
    pub fn new(sender: ChannelSender<T>, consumer: Arc<TaskMetrics>) -> Self {
        DecodingQueue {
            capacity: sender.capacity(),
            sender: Mutex::new(Some(sender)),
            ended: Mutex::new(false),
            consumer,
        }
    }
}

impl<T: StreamData> InboundQueue for DecodingQueue<T> {
    fn push(&self, bytes: &[u8]) -> Result<(), String> {
        let element: StreamElement<T> = decode(WHAT, bytes).map_err(|e| e.to_string())?;
        let is_end = matches!(element, StreamElement::EndOfInput);
        let sender = self.sender.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(sender) = sender.as_ref() else {
            return Err("an element arrived on a closed channel".into());
        };
        match sender.try_send(element) {
            Ok(()) => self.consumer.add_bytes_in(bytes.len()),
            Err(SendError::Full) => {
                return Err("the peer sent past its credits".into());
            }
            // The consumer is gone (its task ended or failed); its own outcome reports why.
            Err(SendError::Disconnected | SendError::Cancelled) => {}
        }
        if is_end {
            *self.ended.lock().unwrap_or_else(PoisonError::into_inner) = true;
        }
        Ok(())
    }

    fn push_priority(&self, barrier: Barrier, pushed_before: u64) {
        if let Some(sender) = self
            .sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            // A consumer that is gone has its own outcome to report.
            let _ = sender.send_priority_counted(barrier, pushed_before);
        }
    }

    fn taken(&self) -> u64 {
        self.sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map_or(0, ChannelSender::taken)
    }

    fn capacity(&self) -> usize {
        self.capacity
    }

    fn ended(&self) -> bool {
        *self.ended.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn close(&self) {
        self.sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::channel::channel;
    use crate::signal::{CancelToken, TaskWaker};
    use sluice_core::Record;
    use std::sync::atomic::Ordering;

    #[test]
    fn elements_cross_encoded_and_a_full_channel_refuses_more() {
        let (tx, rx) = channel::<String>(4, TaskWaker::new(), CancelToken::new());
        let (producer, consumer) = (Arc::new(TaskMetrics::default()), Arc::default());
        let mut outbound = EncodingQueue::new(rx, Arc::clone(&producer));
        let (tx2, rx2) = channel::<String>(1, TaskWaker::new(), CancelToken::new());
        let inbound = DecodingQueue::new(tx2, Arc::clone(&consumer));
        tx.send(StreamElement::Records(vec![Record::new("a".to_string())]))
            .unwrap();
        tx.send(StreamElement::EndOfInput).unwrap();
        drop(tx);
        let mut bytes = Vec::new();
        assert_eq!(
            outbound.next(&mut bytes),
            Ok(Outbound::Element { last: false })
        );
        inbound.push(&bytes).unwrap();
        let first = bytes.len();
        bytes.clear();
        assert_eq!(
            outbound.next(&mut bytes),
            Ok(Outbound::Element { last: true })
        );
        let byte_counts = |m: &TaskMetrics| {
            (
                m.bytes_in.load(Ordering::Relaxed),
                m.bytes_out.load(Ordering::Relaxed),
            )
        };
        assert_eq!(byte_counts(&producer), (0, (first + bytes.len()) as u64));
        assert!(inbound.push(&bytes).unwrap_err().contains("credits"));
        assert_eq!(inbound.taken(), 0);
        assert_eq!(
            rx2.try_recv(),
            TryRecv::Element(StreamElement::Records(vec![Record::new("a".to_string())]))
        );
        assert_eq!(inbound.taken(), 1);
        inbound.push(&bytes).unwrap();
        assert!(inbound.ended());
        let consumer: &TaskMetrics = &consumer;
        assert_eq!(
            byte_counts(consumer),
            ((first + bytes.len()) as u64, 0),
            "what was delivered (not the refused push)"
        );
        assert_eq!(outbound.next(&mut bytes), Ok(Outbound::Finished));
        assert!(inbound.push(&[0xff, 0xff, 0xff]).is_err(), "garbage");
        inbound.close();
        assert_eq!(rx2.try_recv(), TryRecv::Element(StreamElement::EndOfInput));
        assert_eq!(rx2.try_recv(), TryRecv::Disconnected);
    }
}
