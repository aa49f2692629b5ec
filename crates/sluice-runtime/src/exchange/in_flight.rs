//! In-flight data of unaligned checkpoints: what an input gate records between a checkpoint's
//! first barrier and each channel's own barrier, and how it is encoded and read back.
//!
//! A task snapshots its operators when the first barrier of an unaligned checkpoint reaches
//! it. Every element that was sent before the barrier on some channel but is processed after
//! that snapshot is in neither the sender's state nor the task's: it is recorded here. On a
//! channel whose barrier has not arrived yet that is everything the task takes from it; when
//! the barrier arrives (overtaking what was queued), the elements it overtook are added and
//! the channel is complete. A barrier that crossed the network may have overtaken elements not
//! queued here yet (still in the sender's queue or on the wire): the channel then stays open
//! for exactly those, recorded as they are taken. The checkpoint's data for the task is complete once every channel
//! of every input is.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sluice_core::StreamElement;
use sluice_state::codec::{decode_prefix, encode_append};

use crate::error::TaskError;

const WHAT: &str = "in-flight data";

/// The in-flight elements of one gate's channels for one unaligned checkpoint.
#[derive(Debug)]
pub struct Capture {
    checkpoint_id: u64,
    /// Per channel, the elements recorded so far, encoded back to back.
    channels: Vec<Vec<u8>>,
    /// Per channel, whether its barrier (or its end) has not arrived yet.
    open: Vec<bool>,
    /// Per channel whose barrier arrived ahead of elements it overtook: how many taken
    /// elements to pass over (recorded when the barrier arrived), then how many to record.
    owed: Vec<(usize, usize)>,
}

impl Capture {
    /// Starts recording for `checkpoint_id`; `open[i]` says whether channel `i` still awaits
    /// its barrier (ended channels never deliver one).
    pub fn new(checkpoint_id: u64, open: Vec<bool>) -> Self {
        Capture {
            checkpoint_id,
            channels: vec![Vec::new(); open.len()],
            owed: vec![(0, 0); open.len()],
            open,
        }
    }

    /// The checkpoint being recorded.
    pub fn checkpoint_id(&self) -> u64 {
        self.checkpoint_id
    }

    /// Whether channel `index` still awaits its barrier.
    pub fn is_open(&self, index: usize) -> bool {
        self.open[index]
    }

    /// Records `element`, taken from channel `index`, if that channel is still open (barriers
    /// and ends are not data: they are never replayed).
    pub fn record<T: Serialize>(
        &mut self,
        index: usize,
        element: &StreamElement<T>,
    ) -> Result<(), TaskError> {
        let control = matches!(
            element,
            StreamElement::EndOfInput | StreamElement::Barrier(_)
        );
        if !self.open[index] {
            return Ok(());
        }
        let (pass, record) = &mut self.owed[index];
        if *pass > 0 {
            *pass -= 1;
            return Ok(());
        }
        if *record > 0 {
            *record -= 1;
            if *record == 0 {
                self.open[index] = false;
            }
        }
        if control {
            return Ok(());
        }
        let bytes = std::mem::take(&mut self.channels[index]);
        self.channels[index] = encode_append(WHAT, bytes, element).map_err(|e| {
            TaskError::Internal(format!(
                "checkpoint {}: cannot store an in-flight element: {e}",
                self.checkpoint_id
            ))
        })?;
        Ok(())
    }

    /// Channel `index` delivered its barrier (after any overtaken elements were recorded) or
    /// ended.
    pub fn close(&mut self, index: usize) {
        self.open[index] = false;
        self.owed[index] = (0, 0);
    }

    /// Channel `index` delivered its barrier, which overtook `visited` queued elements (just
    /// recorded) and `more` that have not arrived: the next `visited` elements taken are passed
    /// over, the `more` after them recorded, and then the channel is complete.
    pub fn expect(&mut self, index: usize, visited: usize, more: usize) {
        if more == 0 {
            self.close(index);
        } else {
            self.owed[index] = (visited, more);
        }
    }

    /// Whether every channel is closed.
    pub fn is_complete(&self) -> bool {
        !self.open.contains(&true)
    }

    /// The recorded elements, per channel.
    pub fn into_channels(self) -> Vec<Vec<u8>> {
        self.channels
    }
}

/// Decodes one channel's recorded elements; `place` names the channel in the error.
pub fn decode_channel<T: DeserializeOwned>(
    bytes: &[u8],
    place: &str,
) -> Result<Vec<StreamElement<T>>, TaskError> {
    let mut elements = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (element, after) = decode_prefix(WHAT, rest).map_err(|e| {
            TaskError::Internal(format!("cannot restore the in-flight data of {place}: {e}"))
        })?;
        elements.push(element);
        rest = after;
    }
    Ok(elements)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::{Record, Watermark};

    #[test]
    fn a_barrier_ahead_of_elements_on_their_way_records_them_when_taken() {
        let batch = |v: u32| StreamElement::Records(vec![Record::new(v)]);
        let mut capture = Capture::new(3, vec![true]);
        // The barrier overtook 3 elements: 1 queued (recorded at once), 2 still on the wire.
        capture.record(0, &batch(1)).unwrap();
        capture.expect(0, 1, 2);
        assert!(!capture.is_complete());
        capture.record(0, &batch(1)).unwrap(); // the queued one, taken: not again
        capture.record(0, &batch(2)).unwrap();
        assert!(!capture.is_complete());
        capture.record(0, &batch(3)).unwrap();
        assert!(capture.is_complete());
        capture.record(0, &batch(4)).unwrap(); // after the barrier: not in-flight
        let decoded: Vec<StreamElement<u32>> =
            decode_channel(&capture.into_channels()[0], "channel 0").unwrap();
        assert_eq!(decoded, vec![batch(1), batch(2), batch(3)]);
    }

    #[test]
    fn records_open_channels_until_closed_and_round_trips() {
        let mut capture = Capture::new(7, vec![true, false, true]);
        let batch = StreamElement::Records(vec![Record::with_timestamp(1u32, 5)]);
        capture.record(0, &batch).unwrap();
        capture.record(1, &batch).unwrap();
        capture
            .record(0, &StreamElement::<u32>::Watermark(Watermark(4)))
            .unwrap();
        assert!(!capture.is_complete());
        capture.close(0);
        capture.record(0, &batch).unwrap();
        capture
            .record(2, &StreamElement::<u32>::EndOfInput)
            .unwrap();
        capture.close(2);
        assert!(capture.is_complete());
        assert_eq!(capture.checkpoint_id(), 7);
        let channels = capture.into_channels();
        assert!(channels[1].is_empty() && channels[2].is_empty());
        let decoded: Vec<StreamElement<u32>> = decode_channel(&channels[0], "channel 0").unwrap();
        assert_eq!(decoded, vec![batch, StreamElement::Watermark(Watermark(4))]);
        let error = decode_channel::<u32>(&channels[0][..2], "channel 0").unwrap_err();
        assert!(error.to_string().contains("channel 0"), "{error}");
    }
}
