//! The two ends of a channel whose producer and consumer run in different processes, as the
//! connection sees them: queues of encoded elements (the typed ends are the exchange's, see
//! `exchange::remote`).
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

use sluice_core::Barrier;

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
