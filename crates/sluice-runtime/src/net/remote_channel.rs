//! The two ends of a channel whose producer and consumer run in different processes.
//!
//! The producing task writes into an ordinary local channel; its connection's writer takes the
//! elements out ([`OutboundQueue`]), encodes them and sends them while it holds credits. On the
//! consuming side the connection's reader decodes each element into the consumer's local
//! channel ([`InboundQueue`]), which always has room for it: the reader's side granted exactly
//! as many credits as the channel has free slots. So a slow consumer stops its producer across
//! the network just as it does locally, and the typed code stays out of the connection.
//!
//! An unaligned checkpoint's barrier jumps the queue here too: the connection takes it from
//! the front of the producer's channel without a credit and sends it with the number of
//! elements sent before it in all; the consumer's channel gets it in front of everything, so
//! the consumer learns how many elements it overtook, queued or still on their way.

use std::sync::{Mutex, PoisonError};

use sluice_core::{Barrier, StreamData, StreamElement};
use sluice_state::codec::{decode, encode_append};

use crate::channel::{ChannelReceiver, ChannelSender, SendError, TryRecv};

const WHAT: &str = "network buffer";

/// What the producing side of a remote channel has next.
#[derive(Debug, PartialEq, Eq)]
pub enum Outbound {
    /// An element, now appended (encoded) to the output buffer; `last` when it is the end of
    /// input, after which nothing follows.
    Element {
        /// Whether the element ends the channel.
        last: bool,
    },
    /// Nothing queued right now.
    Empty,
    /// The producer is gone and everything it sent was taken.
    Finished,
    /// An unaligned checkpoint's barrier, sent after `pushed_before` elements in all (it needs
    /// no credit).
    Priority {
        /// The barrier.
        barrier: Barrier,
        /// Elements the producer sent before it.
        pushed_before: u64,
    },
}

/// The producing side of a remote channel: elements to send, encoded.
pub trait OutboundQueue: Send {
    /// Takes the next element and appends its encoding to `out`.
    fn next(&mut self, out: &mut Vec<u8>) -> Result<Outbound, String>;
    /// Takes an unaligned checkpoint's barrier waiting at the front (it needs no credit): the
    /// barrier and how many elements the producer sent before it.
    fn next_priority(&mut self) -> Option<(Barrier, u64)>;
}

/// The consuming side of a remote channel: where received elements go.
pub trait InboundQueue: Send + Sync {
    /// Decodes one element and queues it for the consumer; fails if it is malformed or the
    /// channel has no room (the peer sent past its credits).
    fn push(&self, bytes: &[u8]) -> Result<(), String>;
    /// Queues an unaligned checkpoint's barrier in front of every element: the producer had
    /// sent `pushed_before` elements before it.
    fn push_priority(&self, barrier: Barrier, pushed_before: u64);
    /// How many elements the consumer has taken.
    fn taken(&self) -> u64;
    /// How many elements the channel holds: the credits it grants ahead of the consumer.
    fn capacity(&self) -> usize;
    /// Whether end of input arrived (nothing more will come).
    fn ended(&self) -> bool;
    /// The producer's side is gone: the consumer sees the channel disconnect.
    fn close(&self);
}

/// The producing side over the receiver of a local channel.
pub struct EncodingQueue<T> {
    receiver: ChannelReceiver<T>,
}

impl<T> EncodingQueue<T> {
    /// Sends what `receiver` receives.
    pub fn new(receiver: ChannelReceiver<T>) -> Self {
        EncodingQueue { receiver }
    }
}

impl<T: StreamData> OutboundQueue for EncodingQueue<T> {
    fn next(&mut self, out: &mut Vec<u8>) -> Result<Outbound, String> {
        match self.receiver.try_recv() {
            TryRecv::Element(element) => {
                let bytes = encode_append(WHAT, std::mem::take(out), &element)
                    .map_err(|e| e.to_string())?;
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

/// The consuming side over the sender of a local channel.
pub struct DecodingQueue<T> {
    sender: Mutex<Option<ChannelSender<T>>>,
    capacity: usize,
    ended: Mutex<bool>,
}

impl<T> DecodingQueue<T> {
    /// Delivers into `sender`.
    pub fn new(sender: ChannelSender<T>) -> Self {
        DecodingQueue {
            capacity: sender.capacity(),
            sender: Mutex::new(Some(sender)),
            ended: Mutex::new(false),
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
            Ok(()) => {}
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
    use crate::channel::channel;
    use crate::signal::{CancelToken, TaskWaker};
    use sluice_core::Record;

    #[test]
    fn elements_cross_encoded_and_a_full_channel_refuses_more() {
        let (tx, rx) = channel::<String>(4, TaskWaker::new(), CancelToken::new());
        let mut outbound = EncodingQueue::new(rx);
        let (tx2, rx2) = channel::<String>(1, TaskWaker::new(), CancelToken::new());
        let inbound = DecodingQueue::new(tx2);
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
        bytes.clear();
        assert_eq!(
            outbound.next(&mut bytes),
            Ok(Outbound::Element { last: true })
        );
        assert!(inbound.push(&bytes).unwrap_err().contains("credits"));
        assert_eq!(inbound.taken(), 0);
        assert_eq!(
            rx2.try_recv(),
            TryRecv::Element(StreamElement::Records(vec![Record::new("a".to_string())]))
        );
        assert_eq!(inbound.taken(), 1);
        inbound.push(&bytes).unwrap();
        assert!(inbound.ended());
        assert_eq!(outbound.next(&mut bytes), Ok(Outbound::Finished));
        assert!(inbound.push(&[0xff, 0xff, 0xff]).is_err(), "garbage");
        inbound.close();
        assert_eq!(rx2.try_recv(), TryRecv::Element(StreamElement::EndOfInput));
        assert_eq!(rx2.try_recv(), TryRecv::Disconnected);
    }
}
