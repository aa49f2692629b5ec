//! The last link of a chain whose records go to other tasks: the exchange's record writer, as
//! a chain sees it, alone or behind a pre-aggregation (batch mode, keyed reduce behind the
//! exchange: see [`crate::exchange::pre_aggregate`]).

use sluice_core::{Barrier, Record, StreamElement, Watermark};

use super::chain::{ChainLink, ChainSnapshot, LinkResult};
use crate::error::guard;
use crate::exchange::pre_aggregate::{MAX_PARTIAL_KEYS, PreAggregate};
use crate::exchange::record_writer::RecordWriter;
use crate::time::processing_time::ProcessingTime;

impl<T: Clone + Send + 'static> ChainLink<T> for RecordWriter<T> {
    fn open(&mut self) -> LinkResult {
        Ok(())
    }

    fn on_batch(&mut self, batch: &mut Vec<Record<T>>) -> LinkResult {
        self.write(batch)
    }

    fn on_watermark(&mut self, watermark: Watermark) -> LinkResult {
        self.broadcast(StreamElement::Watermark(watermark))
    }

    fn on_status(&mut self, active: bool) -> LinkResult {
        self.broadcast(StreamElement::Status { active })
    }

    fn on_end_of_input(&mut self) -> LinkResult {
        self.broadcast(StreamElement::EndOfInput)
    }

    /// Sends the buffered records, then the barrier on every channel (it has no state).
    fn on_barrier(&mut self, barrier: Barrier, _into: &mut ChainSnapshot) -> LinkResult {
        self.send_barrier(barrier)
    }

    fn on_processing_time(&mut self, _now: ProcessingTime) -> LinkResult {
        Ok(())
    }

    fn flush(&mut self) -> LinkResult {
        RecordWriter::flush(self)
    }

    fn close(&mut self) -> LinkResult {
        RecordWriter::flush(self)
    }
}

/// A record writer behind a pre-aggregation: the last link of a producer's chain on a keyed
/// edge in batch mode.
pub struct PreAggregatingWriter<T> {
    partials: Box<dyn PreAggregate<T>>,
    writer: RecordWriter<T>,
    drained: Vec<Record<T>>,
    /// What errors call the folding (it runs the user's reduce function).
    name: String,
}

impl<T> PreAggregatingWriter<T> {
    /// Folds records with `partials` before `writer` sends them; a failing reduce function is
    /// reported as the operator `name`.
    pub fn new(partials: Box<dyn PreAggregate<T>>, writer: RecordWriter<T>, name: String) -> Self {
        PreAggregatingWriter {
            partials,
            writer,
            drained: Vec::new(),
            name,
        }
    }
}

impl<T: Clone + 'static> PreAggregatingWriter<T> {
    /// Sends every partial value on.
    fn send_partials(&mut self) -> LinkResult {
        self.partials.drain_into(&mut self.drained);
        self.writer.write(&mut self.drained)?;
        Ok(())
    }
}

impl<T: Clone + Send + 'static> ChainLink<T> for PreAggregatingWriter<T> {
    fn open(&mut self) -> LinkResult {
        Ok(())
    }

    fn on_batch(&mut self, batch: &mut Vec<Record<T>>) -> LinkResult {
        let partials = &mut self.partials;
        guard(&self.name, || {
            partials.add(batch);
            Ok(())
        })?;
        if self.partials.keys() >= MAX_PARTIAL_KEYS {
            self.send_partials()?;
        }
        Ok(())
    }

    fn on_watermark(&mut self, watermark: Watermark) -> LinkResult {
        self.send_partials()?;
        self.writer.on_watermark(watermark)
    }

    fn on_status(&mut self, active: bool) -> LinkResult {
        self.send_partials()?;
        self.writer.on_status(active)
    }

    fn on_end_of_input(&mut self) -> LinkResult {
        self.send_partials()?;
        self.writer.on_end_of_input()
    }

    fn on_barrier(&mut self, barrier: Barrier, into: &mut ChainSnapshot) -> LinkResult {
        self.send_partials()?;
        self.writer.on_barrier(barrier, into)
    }

    fn on_processing_time(&mut self, _now: ProcessingTime) -> LinkResult {
        Ok(())
    }

    /// Sends what the writer buffered; partial values wait for more records of their keys.
    fn flush(&mut self) -> LinkResult {
        RecordWriter::flush(&mut self.writer)
    }

    fn close(&mut self) -> LinkResult {
        self.send_partials()?;
        RecordWriter::flush(&mut self.writer)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::exchange::channel::{ChannelReceiver, TryRecv, channel};
    use crate::exchange::partitioner::{ChannelSelector, Partitioning};
    use crate::exchange::pre_aggregate::tests::{records, sums};
    use crate::signal::{CancelToken, TaskWaker};

    type Pair = (u32, u64);

    /// A pre-aggregating writer into one channel, and that channel's receiving end.
    fn writer() -> (PreAggregatingWriter<Pair>, ChannelReceiver<Pair>) {
        let (tx, rx) = channel::<Pair>(1 << 20, TaskWaker::new(), CancelToken::new());
        let selector = ChannelSelector::new(&Partitioning::Forward, 0, 128).unwrap();
        let writer = RecordWriter::new(vec![tx], selector, 1 << 20, Arc::default(), "e".into());
        (PreAggregatingWriter::new(sums(), writer, "e".into()), rx)
    }

    fn received(rx: &ChannelReceiver<Pair>) -> Vec<StreamElement<Pair>> {
        let mut out = Vec::new();
        while let TryRecv::Element(element) = rx.try_recv() {
            out.push(element);
        }
        out
    }

    fn sorted_values(element: &StreamElement<Pair>) -> Vec<Pair> {
        let StreamElement::Records(records) = element else {
            panic!("expected records, got {element:?}");
        };
        let mut values: Vec<Pair> = records.iter().map(|r| r.value).collect();
        values.sort();
        values
    }

    #[test]
    fn partial_values_go_out_before_control_elements_and_not_on_flush() {
        let (mut writer, rx) = writer();
        writer
            .on_batch(&mut records([(1, 1), (1, 1), (2, 1)]))
            .unwrap();
        writer.flush().unwrap();
        assert!(received(&rx).is_empty(), "a flush sent partial values");
        writer.on_watermark(Watermark(5)).unwrap();
        writer.on_batch(&mut records([(1, 4)])).unwrap();
        writer.on_end_of_input().unwrap();
        let got = received(&rx);
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(sorted_values(&got[0]), [(1, 2), (2, 1)]);
        assert_eq!(got[1], StreamElement::Watermark(Watermark(5)));
        assert_eq!(sorted_values(&got[2]), [(1, 4)]);
        assert_eq!(got[3], StreamElement::EndOfInput);
    }

    #[test]
    fn sends_partial_values_on_when_it_holds_too_many_keys() {
        let (mut writer, rx) = writer();
        let keys = MAX_PARTIAL_KEYS as u32;
        writer
            .on_batch(&mut records((0..keys - 1).map(|k| (k, 1))))
            .unwrap();
        writer.flush().unwrap();
        assert!(received(&rx).is_empty());
        writer.on_batch(&mut records([(keys - 1, 1)])).unwrap();
        writer.flush().unwrap();
        let got = received(&rx);
        assert_eq!(got.len(), 1);
        assert_eq!(sorted_values(&got[0]).len(), MAX_PARTIAL_KEYS);
    }
}
