//! The input gate: a task's view of all channels of one logical input.
//!
//! It polls its channels round-robin so no channel starves, passes watermarks and status
//! through the [`WatermarkValve`], and reports the input finished once every channel delivered
//! end of input. A channel that disconnects without end of input means its producer died: that
//! is an error, never a silently shortened input.
//!
//! Checkpoint barriers are aligned here. Exactly-once: a channel that delivered barrier `n`
//! is not read again until every open channel delivered it, so nothing after the barrier on
//! one channel is processed before the snapshot; then the gate reports the barrier once.
//! At-least-once: channels keep flowing and the barrier is reported when the last channel
//! delivers it. An ended channel counts as having delivered every barrier.

use sluice_core::{Barrier, Record, StreamElement, Watermark};

use crate::channel::{ChannelReceiver, TryRecv};
use crate::error::TaskError;
use crate::watermark_valve::{ValveOutput, WatermarkValve};

/// The next thing a gate has for its task.
#[derive(Debug, PartialEq)]
pub enum GateEvent<T> {
    /// A batch of records.
    Records(Vec<Record<T>>),
    /// The combined watermark advanced.
    Watermark(Watermark),
    /// The combined status changed (`false`: all channels idle).
    Status(bool),
    /// Every open channel delivered this barrier.
    Barrier(Barrier),
    /// Every channel ended.
    Finished,
    /// Nothing is queued right now.
    Nothing,
}

/// How a gate aligns checkpoint barriers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarrierAlignment {
    /// Block channels that delivered the barrier until all did (exactly-once).
    Aligned,
    /// Keep reading; report the barrier when the last channel delivers it (at-least-once).
    Unblocked,
}

/// All channels of one input of a task.
pub struct InputGate<T> {
    channels: Vec<ChannelReceiver<T>>,
    ended: Vec<bool>,
    open_channels: usize,
    next: usize,
    valve: WatermarkValve,
    pending_status: Option<bool>,
    pending_barrier: Option<Barrier>,
    alignment: BarrierAlignment,
    /// The barrier being aligned, and which channels delivered it.
    aligning: Option<Barrier>,
    delivered: Vec<bool>,
    /// A barrier reported, not yet released by the task (two-input tasks hold one gate while
    /// the other aligns).
    held: bool,
}

impl<T> InputGate<T> {
    /// A gate over `channels` that aligns barriers for exactly-once.
    pub fn new(channels: Vec<ChannelReceiver<T>>) -> Self {
        Self::with_alignment(channels, BarrierAlignment::Aligned)
    }

    /// A gate over `channels` with the given barrier alignment.
    pub fn with_alignment(channels: Vec<ChannelReceiver<T>>, alignment: BarrierAlignment) -> Self {
        let n = channels.len();
        InputGate {
            ended: vec![false; n],
            open_channels: n,
            next: 0,
            valve: WatermarkValve::new(n),
            pending_status: None,
            pending_barrier: None,
            alignment,
            aligning: None,
            delivered: vec![false; n],
            held: false,
            channels,
        }
    }

    /// Stops reading until [`InputGate::release`] (aligned gates only): the other input of a
    /// two-input task is still aligning the barrier this gate reported.
    pub fn hold(&mut self) {
        self.held = self.alignment == BarrierAlignment::Aligned;
    }

    /// Reads again after [`InputGate::hold`].
    pub fn release(&mut self) {
        self.held = false;
    }

    /// Whether every channel ended.
    pub fn is_finished(&self) -> bool {
        self.open_channels == 0
    }

    /// Notes that channel `index` delivered `barrier`; returns the barrier once every open
    /// channel has.
    fn barrier_arrived(&mut self, index: usize, barrier: Barrier) -> Option<Barrier> {
        match self.aligning {
            Some(current) if barrier.checkpoint_id < current.checkpoint_id => return None,
            Some(current) if barrier.checkpoint_id == current.checkpoint_id => {}
            // A newer barrier supersedes one still aligning (that checkpoint was abandoned).
            _ => {
                self.aligning = Some(barrier);
                self.delivered.iter_mut().for_each(|d| *d = false);
            }
        }
        self.delivered[index] = true;
        self.alignment_complete()
    }

    /// The aligning barrier, if every open channel delivered it (the alignment then ends).
    fn alignment_complete(&mut self) -> Option<Barrier> {
        let barrier = self.aligning?;
        let complete = (0..self.channels.len()).all(|i| self.ended[i] || self.delivered[i]);
        if !complete {
            return None;
        }
        self.aligning = None;
        self.delivered.iter_mut().for_each(|d| *d = false);
        Some(barrier)
    }

    /// Whether channel `index` waits for the other channels to deliver the aligning barrier.
    fn blocked(&self, index: usize) -> bool {
        self.alignment == BarrierAlignment::Aligned && self.delivered[index]
    }

    /// The most elements any channel of this gate has held at once.
    pub fn high_water_mark(&self) -> usize {
        self.channels
            .iter()
            .map(ChannelReceiver::high_water_mark)
            .max()
            .unwrap_or(0)
    }

    /// Takes the next event without blocking.
    pub fn poll(&mut self) -> Result<GateEvent<T>, TaskError> {
        if let Some(active) = self.pending_status.take() {
            return Ok(GateEvent::Status(active));
        }
        if let Some(aligned) = self.pending_barrier.take() {
            return Ok(GateEvent::Barrier(aligned));
        }
        if self.held {
            return Ok(GateEvent::Nothing);
        }
        let n = self.channels.len();
        let mut tried = 0;
        while tried < n {
            let index = self.next;
            if self.ended[index] || self.blocked(index) {
                self.next = (index + 1) % n;
                tried += 1;
                continue;
            }
            match self.channels[index].try_recv() {
                TryRecv::Element(StreamElement::Records(batch)) => {
                    self.next = (index + 1) % n;
                    return Ok(GateEvent::Records(batch));
                }
                TryRecv::Element(StreamElement::Watermark(watermark)) => {
                    let out = self.valve.input_watermark(index, watermark);
                    if let Some(event) = self.valve_event(out) {
                        return Ok(event);
                    }
                }
                TryRecv::Element(StreamElement::Status { active }) => {
                    let out = self.valve.input_status(index, active);
                    if let Some(event) = self.valve_event(out) {
                        return Ok(event);
                    }
                }
                TryRecv::Element(StreamElement::Barrier(barrier)) => {
                    if let Some(aligned) = self.barrier_arrived(index, barrier) {
                        return Ok(GateEvent::Barrier(aligned));
                    }
                }
                TryRecv::Element(StreamElement::EndOfInput) => {
                    self.ended[index] = true;
                    self.open_channels -= 1;
                    let out = self.valve.input_ended(index);
                    // The end came before the barrier on this channel: its effect on the
                    // watermark goes first, then the barrier it completes.
                    self.pending_barrier = self.alignment_complete();
                    if let Some(event) = self.valve_event(out) {
                        return Ok(event);
                    }
                    if let Some(aligned) = self.pending_barrier.take() {
                        return Ok(GateEvent::Barrier(aligned));
                    }
                }
                TryRecv::Empty => {
                    self.next = (index + 1) % n;
                    tried += 1;
                }
                TryRecv::Disconnected => {
                    return Err(TaskError::Disconnected(format!(
                        "input channel {index} closed before its end of input"
                    )));
                }
            }
        }
        if self.open_channels == 0 {
            Ok(GateEvent::Finished)
        } else {
            Ok(GateEvent::Nothing)
        }
    }

    fn valve_event(&mut self, out: ValveOutput) -> Option<GateEvent<T>> {
        match (out.watermark, out.status) {
            (Some(watermark), status) => {
                self.pending_status = status;
                Some(GateEvent::Watermark(watermark))
            }
            (None, Some(active)) => Some(GateEvent::Status(active)),
            (None, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::channel;
    use crate::signal::{CancelToken, TaskWaker};

    #[test]
    fn finishes_after_every_channel_ended() {
        let waker = TaskWaker::new();
        let (tx0, rx0) = channel::<i32>(4, waker.clone(), CancelToken::new());
        let (tx1, rx1) = channel::<i32>(4, waker, CancelToken::new());
        let mut gate = InputGate::new(vec![rx0, rx1]);
        tx0.send(StreamElement::Records(vec![Record::new(1)]))
            .unwrap();
        tx0.send(StreamElement::Watermark(Watermark(5))).unwrap();
        tx0.send(StreamElement::EndOfInput).unwrap();
        assert_eq!(
            gate.poll().unwrap(),
            GateEvent::Records(vec![Record::new(1)])
        );
        assert_eq!(gate.poll().unwrap(), GateEvent::Nothing);
        tx1.send(StreamElement::Watermark(Watermark(3))).unwrap();
        assert_eq!(gate.poll().unwrap(), GateEvent::Watermark(Watermark(3)));
        tx1.send(StreamElement::EndOfInput).unwrap();
        assert_eq!(gate.poll().unwrap(), GateEvent::Watermark(Watermark::MAX));
        assert_eq!(gate.poll().unwrap(), GateEvent::Finished);
    }

    #[test]
    fn producer_dying_is_an_error() {
        let (tx, rx) = channel::<i32>(4, TaskWaker::new(), CancelToken::new());
        let mut gate = InputGate::new(vec![rx]);
        drop(tx);
        assert!(matches!(gate.poll(), Err(TaskError::Disconnected(_))));
    }

    fn barrier(id: u64) -> Barrier {
        Barrier {
            checkpoint_id: id,
            timestamp: 0,
            savepoint: false,
        }
    }

    #[test]
    fn aligned_gates_hold_back_channels_past_the_barrier() {
        let waker = TaskWaker::new();
        let (tx0, rx0) = channel::<i32>(8, waker.clone(), CancelToken::new());
        let (tx1, rx1) = channel::<i32>(8, waker, CancelToken::new());
        let mut gate = InputGate::new(vec![rx0, rx1]);
        tx0.send(StreamElement::Barrier(barrier(1))).unwrap();
        tx0.send(StreamElement::Records(vec![Record::new(10)]))
            .unwrap();
        tx1.send(StreamElement::Records(vec![Record::new(1)]))
            .unwrap();
        assert_eq!(
            gate.poll().unwrap(),
            GateEvent::Records(vec![Record::new(1)])
        );
        assert_eq!(gate.poll().unwrap(), GateEvent::Nothing, "channel 0 waits");
        tx1.send(StreamElement::Barrier(barrier(1))).unwrap();
        assert_eq!(gate.poll().unwrap(), GateEvent::Barrier(barrier(1)));
        assert_eq!(
            gate.poll().unwrap(),
            GateEvent::Records(vec![Record::new(10)])
        );
    }

    #[test]
    fn unblocked_gates_report_the_barrier_when_the_last_channel_delivers_it() {
        let waker = TaskWaker::new();
        let (tx0, rx0) = channel::<i32>(8, waker.clone(), CancelToken::new());
        let (tx1, rx1) = channel::<i32>(8, waker, CancelToken::new());
        let mut gate = InputGate::with_alignment(vec![rx0, rx1], BarrierAlignment::Unblocked);
        tx0.send(StreamElement::Barrier(barrier(1))).unwrap();
        tx0.send(StreamElement::Records(vec![Record::new(10)]))
            .unwrap();
        assert_eq!(
            gate.poll().unwrap(),
            GateEvent::Records(vec![Record::new(10)])
        );
        tx1.send(StreamElement::Barrier(barrier(1))).unwrap();
        assert_eq!(gate.poll().unwrap(), GateEvent::Barrier(barrier(1)));
    }

    #[test]
    fn ended_channels_count_as_delivered_and_newer_barriers_supersede() {
        let waker = TaskWaker::new();
        let (tx0, rx0) = channel::<i32>(8, waker.clone(), CancelToken::new());
        let (tx1, rx1) = channel::<i32>(8, waker, CancelToken::new());
        let mut gate = InputGate::new(vec![rx0, rx1]);
        tx0.send(StreamElement::Barrier(barrier(1))).unwrap();
        assert_eq!(gate.poll().unwrap(), GateEvent::Nothing);
        tx1.send(StreamElement::Barrier(barrier(2))).unwrap();
        assert_eq!(gate.poll().unwrap(), GateEvent::Nothing, "2 supersedes 1");
        tx1.send(StreamElement::EndOfInput).unwrap();
        tx0.send(StreamElement::Barrier(barrier(2))).unwrap();
        assert_eq!(gate.poll().unwrap(), GateEvent::Barrier(barrier(2)));
        tx0.send(StreamElement::Barrier(barrier(3))).unwrap();
        assert_eq!(
            gate.poll().unwrap(),
            GateEvent::Barrier(barrier(3)),
            "only one channel open"
        );
    }
}
