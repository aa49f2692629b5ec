//! The input gate: a task's view of all channels of one logical input.
//!
//! It polls its channels round-robin so no channel starves, passes watermarks and status
//! through the [`WatermarkValve`], and reports the input finished once every channel delivered
//! end of input. A channel that disconnects without end of input means its producer died: that
//! is an error, never a silently shortened input.

use sluice_core::{Record, StreamElement, Watermark};

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
    /// Every channel ended.
    Finished,
    /// Nothing is queued right now.
    Nothing,
}

/// All channels of one input of a task.
pub struct InputGate<T> {
    channels: Vec<ChannelReceiver<T>>,
    ended: Vec<bool>,
    open_channels: usize,
    next: usize,
    valve: WatermarkValve,
    pending_status: Option<bool>,
}

impl<T> InputGate<T> {
    /// A gate over `channels`.
    pub fn new(channels: Vec<ChannelReceiver<T>>) -> Self {
        let n = channels.len();
        InputGate {
            ended: vec![false; n],
            open_channels: n,
            next: 0,
            valve: WatermarkValve::new(n),
            pending_status: None,
            channels,
        }
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
        let n = self.channels.len();
        let mut tried = 0;
        while tried < n {
            let index = self.next;
            if self.ended[index] {
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
                TryRecv::Element(StreamElement::EndOfInput) => {
                    self.ended[index] = true;
                    self.open_channels -= 1;
                    let out = self.valve.input_ended(index);
                    if let Some(event) = self.valve_event(out) {
                        return Ok(event);
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
}
