//! Operator chains: how elements pass from one operator to the next inside a task.
//!
//! A chain is a tree of [`ChainLink`]s. Each link takes a batch of records (and the control
//! elements between batches) and hands its own output to the links after it by a direct call:
//! no channel, no serialisation, one virtual call per batch rather than per record. The leaves
//! are record writers (to other tasks), sinks, or [`Discard`].

use std::any::Any;

use sluice_core::{Barrier, Record, Watermark};

use crate::error::TaskError;
use crate::time::processing_time::ProcessingTime;

/// The result of handing an element to a link.
pub type LinkResult = Result<(), TaskError>;

/// One step of an operator chain, receiving elements of type `T`.
pub trait ChainLink<T>: Send {
    /// Prepares the link (and everything after it) to receive elements.
    fn open(&mut self) -> LinkResult;
    /// Takes every record out of `batch` (leaving it empty, its allocation reusable).
    fn on_batch(&mut self, batch: &mut Vec<Record<T>>) -> LinkResult;
    /// Event time advanced.
    fn on_watermark(&mut self, watermark: Watermark) -> LinkResult;
    /// The input became idle (`false`) or active (`true`).
    fn on_status(&mut self, active: bool) -> LinkResult;
    /// No more elements will come.
    fn on_end_of_input(&mut self) -> LinkResult;
    /// Processing time reached `now`: operators fire what is due (timers, periodic work).
    fn on_processing_time(&mut self, now: ProcessingTime) -> LinkResult;
    /// Sends on any buffered output now (buffer timeout or an idle task).
    fn flush(&mut self) -> LinkResult;
    /// Releases resources after the input ended.
    fn close(&mut self) -> LinkResult;
    /// A checkpoint barrier: adds the state of this link's operator to `into`, then hands the
    /// barrier on (operators after it in the chain snapshot too; record writers send it to
    /// the next tasks).
    fn on_barrier(&mut self, _barrier: Barrier, _into: &mut ChainSnapshot) -> LinkResult {
        Ok(())
    }
    /// Checkpoint `checkpoint_id` completed: operators may publish what it covers (a
    /// two-phase-commit sink commits).
    fn notify_checkpoint_complete(&mut self, _checkpoint_id: u64) -> LinkResult {
        Ok(())
    }
}

/// The state of the operators of a chain, by operator uid.
pub type ChainSnapshot = sluice_state::TaskSnapshot;

/// A boxed chain link.
pub type BoxedLink<T> = Box<dyn ChainLink<T>>;

/// A chain link whose element type is known only at runtime: holds a `BoxedLink<T>`.
pub type AnyLink = Box<dyn Any + Send>;

/// Erases the element type of a link, for the type-erased job builder.
pub fn erase_link<T: 'static>(link: BoxedLink<T>) -> AnyLink {
    Box::new(link)
}

/// Recovers a typed link; fails when the graph wired mismatched types (a Sluice bug).
pub fn unerase_link<T: 'static>(link: AnyLink) -> Result<BoxedLink<T>, TaskError> {
    link.downcast::<BoxedLink<T>>()
        .map(|boxed| *boxed)
        .map_err(|_| {
            TaskError::Internal(format!(
                "chain link type mismatch: expected {}",
                std::any::type_name::<T>()
            ))
        })
}

/// Sends every element to several links: records are cloned for all but the last.
pub struct Fanout<T> {
    links: Vec<BoxedLink<T>>,
    scratch: Vec<Record<T>>,
}

impl<T: Clone + Send + 'static> Fanout<T> {
    /// Combines `links` into one: no link discards, one link is returned as is.
    pub fn combine(mut links: Vec<BoxedLink<T>>) -> BoxedLink<T> {
        match links.len() {
            0 => Box::new(Discard),
            1 => links.pop().expect("one link"),
            _ => Box::new(Fanout {
                links,
                scratch: Vec::new(),
            }),
        }
    }
}

impl<T: Clone + Send> ChainLink<T> for Fanout<T> {
    fn open(&mut self) -> LinkResult {
        self.links.iter_mut().try_for_each(|link| link.open())
    }

    fn on_batch(&mut self, batch: &mut Vec<Record<T>>) -> LinkResult {
        let (last, rest) = self.links.split_last_mut().expect("fanout has links");
        for link in rest {
            self.scratch.extend(batch.iter().cloned());
            link.on_batch(&mut self.scratch)?;
            self.scratch.clear();
        }
        last.on_batch(batch)
    }

    fn on_watermark(&mut self, watermark: Watermark) -> LinkResult {
        self.links
            .iter_mut()
            .try_for_each(|link| link.on_watermark(watermark))
    }

    fn on_status(&mut self, active: bool) -> LinkResult {
        self.links
            .iter_mut()
            .try_for_each(|link| link.on_status(active))
    }

    fn on_end_of_input(&mut self) -> LinkResult {
        self.links
            .iter_mut()
            .try_for_each(|link| link.on_end_of_input())
    }

    fn on_processing_time(&mut self, now: ProcessingTime) -> LinkResult {
        self.links
            .iter_mut()
            .try_for_each(|link| link.on_processing_time(now))
    }

    fn flush(&mut self) -> LinkResult {
        self.links.iter_mut().try_for_each(|link| link.flush())
    }

    fn close(&mut self) -> LinkResult {
        self.links.iter_mut().try_for_each(|link| link.close())
    }

    fn on_barrier(&mut self, barrier: Barrier, into: &mut ChainSnapshot) -> LinkResult {
        self.links
            .iter_mut()
            .try_for_each(|link| link.on_barrier(barrier, into))
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> LinkResult {
        self.links
            .iter_mut()
            .try_for_each(|link| link.notify_checkpoint_complete(checkpoint_id))
    }
}

/// A link that drops everything: the output of an operator nobody consumes.
pub struct Discard;

impl<T> ChainLink<T> for Discard {
    fn open(&mut self) -> LinkResult {
        Ok(())
    }
    fn on_batch(&mut self, batch: &mut Vec<Record<T>>) -> LinkResult {
        batch.clear();
        Ok(())
    }
    fn on_watermark(&mut self, _: Watermark) -> LinkResult {
        Ok(())
    }
    fn on_status(&mut self, _: bool) -> LinkResult {
        Ok(())
    }
    fn on_end_of_input(&mut self) -> LinkResult {
        Ok(())
    }
    fn on_processing_time(&mut self, _: ProcessingTime) -> LinkResult {
        Ok(())
    }
    fn flush(&mut self) -> LinkResult {
        Ok(())
    }
    fn close(&mut self) -> LinkResult {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::CollectingLink;

    #[test]
    fn fanout_copies_to_every_link() {
        let (a, seen_a) = CollectingLink::<i32>::new();
        let (b, seen_b) = CollectingLink::<i32>::new();
        let mut fanout = Fanout::combine(vec![Box::new(a), Box::new(b)]);
        let mut batch = vec![Record::new(1), Record::new(2)];
        fanout.on_batch(&mut batch).unwrap();
        fanout.on_watermark(Watermark(7)).unwrap();
        assert!(batch.is_empty());
        for seen in [seen_a, seen_b] {
            let seen = seen.lock().unwrap();
            assert_eq!(seen.values(), vec![1, 2]);
            assert_eq!(seen.watermarks, vec![Watermark(7)]);
        }
    }

    #[test]
    fn erasure_round_trips_and_detects_mismatch() {
        let link: BoxedLink<i32> = Box::new(Discard);
        assert!(unerase_link::<i32>(erase_link(link)).is_ok());
        let link: BoxedLink<i32> = Box::new(Discard);
        assert!(unerase_link::<String>(erase_link(link)).is_err());
    }
}
