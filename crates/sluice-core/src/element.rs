//! The elements that flow through a stream: records and the control elements that travel in-band
//! with them (watermarks, checkpoint barriers, end of input).
//!
//! Channels move *batches* of records, never one record per channel operation, so the data
//! variant holds a `Vec`. Control elements are ordered with the records around them: everything
//! sent before a watermark or barrier is delivered before it.

use serde::{Deserialize, Serialize};

/// Event time in milliseconds since the Unix epoch, as in Flink.
pub type Timestamp = i64;

/// One record: a value and its optional event-time timestamp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record<T> {
    /// The user's value.
    pub value: T,
    /// The event-time timestamp, if one was assigned.
    pub timestamp: Option<Timestamp>,
}

impl<T> Record<T> {
    /// A record without a timestamp.
    pub fn new(value: T) -> Self {
        Record {
            value,
            timestamp: None,
        }
    }

    /// A record with an event-time timestamp.
    pub fn with_timestamp(value: T, timestamp: Timestamp) -> Self {
        Record {
            value,
            timestamp: Some(timestamp),
        }
    }

    /// A record with the timestamp `timestamp`, if any (as an element's results carry it).
    pub fn at(value: T, timestamp: Option<Timestamp>) -> Self {
        Record { value, timestamp }
    }
}

/// A watermark: the assertion that no more records with a timestamp at or below it will come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Watermark(pub Timestamp);

impl Watermark {
    /// The watermark a bounded stream emits when it ends: every window may fire.
    pub const MAX: Watermark = Watermark(Timestamp::MAX);
    /// The watermark before any has been seen.
    pub const MIN: Watermark = Watermark(Timestamp::MIN);
}

/// A checkpoint barrier: everything before it on a channel belongs to checkpoint
/// `checkpoint_id`, everything after it to the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Barrier {
    /// The checkpoint's id (increasing within a job).
    pub checkpoint_id: u64,
    /// When the coordinator triggered it (ms since the Unix epoch).
    pub timestamp: i64,
    /// A savepoint's barrier: state is written in the canonical, self-contained format.
    pub savepoint: bool,
    /// An unaligned checkpoint's barrier: it overtakes in-flight elements, which are stored in
    /// the checkpoint instead of waiting for alignment (never set for savepoints).
    pub unaligned: bool,
}

/// Everything a channel carries, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StreamElement<T> {
    /// A batch of records.
    Records(Vec<Record<T>>),
    /// Event time has advanced on this channel.
    Watermark(Watermark),
    /// The channel became idle (`false`) or active again (`true`); idle channels do not hold
    /// back the watermark.
    Status {
        /// Whether the channel is active.
        active: bool,
    },
    /// A checkpoint barrier.
    Barrier(Barrier),
    /// The channel's producer has finished; nothing follows.
    EndOfInput,
}

impl<T> StreamElement<T> {
    /// How many records the element holds (0 for control elements).
    pub fn record_count(&self) -> usize {
        match self {
            StreamElement::Records(batch) => batch.len(),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_count_counts_only_records() {
        let batch = StreamElement::Records(vec![Record::new(1), Record::with_timestamp(2, 5)]);
        assert_eq!(batch.record_count(), 2);
        assert_eq!(
            StreamElement::<i32>::Watermark(Watermark(3)).record_count(),
            0
        );
        assert_eq!(StreamElement::<i32>::EndOfInput.record_count(), 0);
    }

    #[test]
    fn watermarks_order_by_time() {
        assert!(Watermark::MIN < Watermark(0));
        assert!(Watermark(0) < Watermark::MAX);
    }
}
