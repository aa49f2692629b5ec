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
//!
//! Unaligned checkpoints' barriers come on the channels' priority lane and block nothing: the
//! first one is reported at once (the task snapshots then), and the gate records the in-flight
//! elements (see [`crate::exchange::in_flight`]) until every channel delivered it; the task takes them
//! with [`InputGate::take_in_flight`]. A restored gate first replays the in-flight elements a
//! checkpoint stored for each channel.

use std::collections::VecDeque;
use std::time::Instant;

use serde::Serialize;
use sluice_core::{Barrier, Record, StreamElement, Watermark};

use crate::error::TaskError;
use crate::exchange::channel::{ChannelReceiver, TryRecv};
use crate::exchange::in_flight::Capture;
use crate::time::watermark_valve::{ValveOutput, WatermarkValve};

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
    /// When the barrier being aligned arrived on its first channel.
    aligning_since: Option<Instant>,
    /// When the last completed alignment began.
    aligned_since: Option<Instant>,
    /// A barrier reported, not yet released by the task (two-input tasks hold one gate while
    /// the other aligns).
    held: bool,
    /// The unaligned checkpoint whose in-flight elements are being recorded.
    capture: Option<Capture>,
    /// A recording complete, not yet taken by the task.
    completed: Option<(u64, Vec<Vec<u8>>)>,
    /// Per channel, restored in-flight elements to deliver before anything it receives.
    replay: Vec<VecDeque<StreamElement<T>>>,
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
            aligning_since: None,
            aligned_since: None,
            held: false,
            capture: None,
            completed: None,
            replay: (0..n).map(|_| VecDeque::new()).collect(),
            channels,
        }
    }

    /// Delivers `elements` on channel `index` before anything the channel receives (a
    /// checkpoint's in-flight data, restored).
    pub fn replay(&mut self, index: usize, elements: Vec<StreamElement<T>>) {
        self.replay[index].extend(elements);
    }

    /// The number of channels.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// The other input of a two-input task delivered the first barrier of unaligned checkpoint
    /// `barrier`: record this gate's in-flight elements for it too.
    pub fn begin_unaligned(&mut self, barrier: Barrier) {
        if self
            .capture
            .as_ref()
            .is_some_and(|c| c.checkpoint_id() >= barrier.checkpoint_id)
        {
            return;
        }
        self.aligning = None;
        self.delivered.iter_mut().for_each(|d| *d = false);
        let open = self.ended.iter().map(|ended| !ended).collect();
        self.capture = Some(Capture::new(barrier.checkpoint_id, open));
        self.finish_capture();
    }

    /// The in-flight elements of an unaligned checkpoint once every channel delivered its
    /// barrier: the checkpoint id and, per channel, the encoded elements.
    pub fn take_in_flight(&mut self) -> Option<(u64, Vec<Vec<u8>>)> {
        self.completed.take()
    }

    /// Moves a complete recording to `completed`.
    fn finish_capture(&mut self) {
        if self.capture.as_ref().is_some_and(Capture::is_complete)
            && let Some(capture) = self.capture.take()
        {
            self.completed = Some((capture.checkpoint_id(), capture.into_channels()));
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
        match &self.capture {
            Some(capture) if capture.checkpoint_id() >= barrier.checkpoint_id => return None,
            // A newer aligned barrier (a savepoint) abandons the unaligned recording.
            Some(_) => self.capture = None,
            None => {}
        }
        match self.aligning {
            Some(current) if barrier.checkpoint_id < current.checkpoint_id => return None,
            Some(current) if barrier.checkpoint_id == current.checkpoint_id => {}
            // A newer barrier supersedes one still aligning (that checkpoint was abandoned).
            _ => {
                self.aligning = Some(barrier);
                self.aligning_since = Some(Instant::now());
                self.delivered.iter_mut().for_each(|d| *d = false);
            }
        }
        self.delivered[index] = true;
        self.alignment_complete()
    }

    /// When the alignment of the last barrier released began: its arrival on the first channel
    /// (the alignment lasts until the barrier is released to the task; an unaligned barrier's
    /// is its arrival).
    pub fn alignment_started(&self) -> Option<Instant> {
        self.aligned_since
    }

    /// The aligning barrier, if every open channel delivered it (the alignment then ends).
    fn alignment_complete(&mut self) -> Option<Barrier> {
        let barrier = self.aligning?;
        let complete = (0..self.channels.len()).all(|i| self.ended[i] || self.delivered[i]);
        if !complete {
            return None;
        }
        self.aligning = None;
        self.aligned_since = self.aligning_since.take();
        self.delivered.iter_mut().for_each(|d| *d = false);
        Some(barrier)
    }

    /// Channel `index` delivered unaligned `barrier`, which overtook its next `overtaken`
    /// elements; returns the barrier if it is the checkpoint's first (the task snapshots now).
    fn priority_barrier_arrived(
        &mut self,
        index: usize,
        barrier: Barrier,
        overtaken: usize,
    ) -> Result<Option<Barrier>, TaskError>
    where
        T: Serialize,
    {
        let id = barrier.checkpoint_id;
        if self.aligning.is_some_and(|a| a.checkpoint_id >= id) {
            return Ok(None);
        }
        let first = match &self.capture {
            Some(capture) if capture.checkpoint_id() > id => return Ok(None),
            Some(capture) if capture.checkpoint_id() == id => false,
            _ => {
                self.begin_unaligned(barrier);
                // An unaligned barrier is released as it arrives: it does not align.
                self.aligned_since = Some(Instant::now());
                true
            }
        };
        if let Some(capture) = self.capture.as_mut()
            && capture.is_open(index)
        {
            let mut visited = 0;
            self.channels[index].visit_queued(overtaken, |element| {
                visited += 1;
                capture.record(index, element)
            })?;
            // Over the network the barrier may have overtaken elements still on their way.
            capture.expect(index, visited, overtaken - visited);
            self.finish_capture();
        }
        Ok(first.then_some(barrier))
    }

    /// Takes the next element of channel `index`: restored in-flight elements first.
    fn take(&mut self, index: usize) -> TryRecv<T> {
        match self.replay[index].pop_front() {
            Some(element) => TryRecv::Element(element),
            None => self.channels[index].try_recv(),
        }
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

    /// Takes the next event without blocking: channels are visited in turn, skipping ended
    /// ones and those held back by barrier alignment.
    pub fn poll(&mut self) -> Result<GateEvent<T>, TaskError>
    where
        T: Serialize,
    {
        if let Some(event) = self.pending_event() {
            return Ok(event);
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
            match self.take(index) {
                TryRecv::Element(element) => {
                    if let Some(event) = self.element_arrived(index, element)? {
                        return Ok(event);
                    }
                }
                TryRecv::Priority { barrier, overtaken } => {
                    if let Some(first) = self.priority_barrier_arrived(index, barrier, overtaken)? {
                        return Ok(GateEvent::Barrier(first));
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

    /// An event decided earlier and not yet taken (a status after a watermark, a barrier after
    /// an end of input), or nothing while the gate is held.
    fn pending_event(&mut self) -> Option<GateEvent<T>> {
        if let Some(active) = self.pending_status.take() {
            return Some(GateEvent::Status(active));
        }
        if let Some(aligned) = self.pending_barrier.take() {
            return Some(GateEvent::Barrier(aligned));
        }
        self.held.then_some(GateEvent::Nothing)
    }

    /// An element of channel `index` arrived (captured first while an unaligned checkpoint
    /// records in-flight data); returns the event it makes, if any.
    fn element_arrived(
        &mut self,
        index: usize,
        element: StreamElement<T>,
    ) -> Result<Option<GateEvent<T>>, TaskError>
    where
        T: Serialize,
    {
        if let Some(capture) = self.capture.as_mut() {
            capture.record(index, &element)?;
            self.finish_capture();
        }
        Ok(match element {
            StreamElement::Records(batch) => {
                self.next = (index + 1) % self.channels.len();
                Some(GateEvent::Records(batch))
            }
            StreamElement::Watermark(watermark) => {
                let out = self.valve.input_watermark(index, watermark);
                self.valve_event(out)
            }
            StreamElement::Status { active } => {
                let out = self.valve.input_status(index, active);
                self.valve_event(out)
            }
            StreamElement::Barrier(barrier) => {
                self.barrier_arrived(index, barrier).map(GateEvent::Barrier)
            }
            StreamElement::EndOfInput => self.input_ended(index),
        })
    }

    /// Channel `index` ended: the end came before the barrier on this channel, so its effect
    /// on the watermark goes first, then the barrier it completes.
    fn input_ended(&mut self, index: usize) -> Option<GateEvent<T>> {
        self.ended[index] = true;
        self.open_channels -= 1;
        if let Some(capture) = self.capture.as_mut() {
            capture.close(index);
            self.finish_capture();
        }
        let out = self.valve.input_ended(index);
        self.pending_barrier = self.alignment_complete();
        self.valve_event(out)
            .or_else(|| self.pending_barrier.take().map(GateEvent::Barrier))
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
    use crate::exchange::channel::channel;
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
            unaligned: false,
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
        assert_eq!(gate.alignment_started(), None, "still aligning");
        std::thread::sleep(std::time::Duration::from_millis(20));
        tx1.send(StreamElement::Barrier(barrier(1))).unwrap();
        assert_eq!(gate.poll().unwrap(), GateEvent::Barrier(barrier(1)));
        let aligned = gate.alignment_started().unwrap().elapsed();
        assert!(
            aligned >= std::time::Duration::from_millis(20),
            "{aligned:?}"
        );
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

    fn unaligned(id: u64) -> Barrier {
        Barrier {
            unaligned: true,
            ..barrier(id)
        }
    }

    fn records(values: &[i32]) -> StreamElement<i32> {
        StreamElement::Records(values.iter().map(|v| Record::new(*v)).collect())
    }

    fn decoded(bytes: &[u8]) -> Vec<StreamElement<i32>> {
        crate::exchange::in_flight::decode_channel(bytes, "test").unwrap()
    }

    #[test]
    fn unaligned_barriers_record_in_flight_elements_without_blocking() {
        let waker = TaskWaker::new();
        let (tx0, rx0) = channel::<i32>(2, waker.clone(), CancelToken::new());
        let (tx1, rx1) = channel::<i32>(8, waker, CancelToken::new());
        let mut gate = InputGate::new(vec![rx0, rx1]);
        tx0.send(records(&[1])).unwrap();
        tx0.send(records(&[2])).unwrap();
        // The full channel takes the barrier ahead of its elements, plus one more buffer.
        tx0.send_priority(unaligned(1), Some(records(&[3])))
            .unwrap();
        assert_eq!(gate.alignment_started(), None);
        assert_eq!(gate.poll().unwrap(), GateEvent::Barrier(unaligned(1)));
        let aligned = gate.alignment_started().expect("released as it arrived");
        assert!(aligned.elapsed() < std::time::Duration::from_secs(5));
        assert_eq!(gate.take_in_flight(), None, "channel 1 still records");
        tx1.send(records(&[10])).unwrap();
        tx1.send(StreamElement::Watermark(Watermark(7))).unwrap();
        let mut taken = Vec::new();
        for _ in 0..5 {
            match gate.poll().unwrap() {
                GateEvent::Records(batch) => taken.extend(batch.into_iter().map(|r| r.value)),
                GateEvent::Nothing | GateEvent::Watermark(_) => {}
                other => panic!("{other:?}"),
            }
        }
        taken.sort_unstable();
        assert_eq!(taken, vec![1, 2, 3, 10], "nothing is held back");
        tx1.send(records(&[11])).unwrap();
        tx1.send_priority(unaligned(1), None).unwrap();
        assert_eq!(
            gate.poll().unwrap(),
            GateEvent::Records(vec![Record::new(11)]),
            "the barrier completed the recording; 11 is processed after it"
        );
        let (id, channels) = gate.take_in_flight().expect("complete");
        assert_eq!(id, 1);
        assert_eq!(
            decoded(&channels[0]),
            vec![records(&[1]), records(&[2]), records(&[3])],
            "what the barrier overtook"
        );
        assert_eq!(
            decoded(&channels[1]),
            vec![
                records(&[10]),
                StreamElement::Watermark(Watermark(7)),
                records(&[11])
            ],
            "what came before the barrier, after the snapshot"
        );
    }

    #[test]
    fn replayed_elements_come_first_and_a_started_recording_completes_on_ended_channels() {
        let waker = TaskWaker::new();
        let (tx0, rx0) = channel::<i32>(8, waker.clone(), CancelToken::new());
        let (tx1, rx1) = channel::<i32>(8, waker, CancelToken::new());
        let mut gate = InputGate::new(vec![rx0, rx1]);
        gate.replay(
            0,
            vec![records(&[1]), StreamElement::Watermark(Watermark(2))],
        );
        tx0.send(records(&[5])).unwrap();
        assert_eq!(
            gate.poll().unwrap(),
            GateEvent::Records(vec![Record::new(1)])
        );
        assert_eq!(
            gate.poll().unwrap(),
            GateEvent::Records(vec![Record::new(5)]),
            "the replayed watermark is held back by channel 1"
        );
        // The other input of a two-input task saw the barrier first.
        gate.begin_unaligned(unaligned(3));
        tx1.send(records(&[6])).unwrap();
        tx1.send(StreamElement::EndOfInput).unwrap();
        tx0.send_priority(unaligned(3), None).unwrap();
        for _ in 0..4 {
            if let GateEvent::Barrier(b) = gate.poll().unwrap() {
                panic!("the recording was started by the task, not by {b:?}");
            }
        }
        let (id, channels) = gate.take_in_flight().expect("complete");
        assert_eq!(id, 3);
        assert!(channels[0].is_empty());
        assert_eq!(decoded(&channels[1]), vec![records(&[6])]);
    }
}
