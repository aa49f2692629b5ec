//! Where operators put their results: the main output, side outputs and the collector handed to
//! user functions.
//!
//! An operator writes into an [`Output`] buffer while it processes a batch; the chain then hands
//! the whole buffer to the next link. Side outputs ([`OutputTag`]) have buffers of their own,
//! each feeding the links that consume that tag; values for a tag nobody consumes are dropped,
//! as in Flink.

use std::any::Any;
use std::marker::PhantomData;
use std::sync::Arc;

use sluice_core::{Record, Timestamp};

use crate::error::TaskError;
use crate::task::chain::{BoxedLink, LinkResult};

/// Names a side output of type `T`.
pub struct OutputTag<T> {
    id: Arc<str>,
    _type: PhantomData<fn() -> T>,
}

impl<T> OutputTag<T> {
    /// A tag with the given id; tags with equal ids name the same side output.
    pub fn new(id: impl Into<String>) -> Self {
        OutputTag {
            id: Arc::from(id.into()),
            _type: PhantomData,
        }
    }

    /// The tag's id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl<T> Clone for OutputTag<T> {
    fn clone(&self) -> Self {
        OutputTag {
            id: Arc::clone(&self.id),
            _type: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for OutputTag<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OutputTag({})", self.id)
    }
}

/// A side output's buffer and the links that consume it, with its type erased.
pub trait SideOutputSlot: Send {
    /// The typed slot, for downcasting.
    fn as_any_mut(&mut self) -> &mut dyn Any;
    /// Hands buffered records to the consuming links.
    fn forward(&mut self) -> LinkResult;
    /// The consuming links, for control elements.
    fn control(&mut self, f: &mut dyn FnMut(&mut dyn ControlLink) -> LinkResult) -> LinkResult;
}

/// The type-independent part of a chain link: everything but records.
pub trait ControlLink {
    /// See [`crate::task::chain::ChainLink::open`].
    fn open(&mut self) -> LinkResult;
    /// See [`crate::task::chain::ChainLink::on_watermark`].
    fn on_watermark(&mut self, watermark: sluice_core::Watermark) -> LinkResult;
    /// See [`crate::task::chain::ChainLink::on_status`].
    fn on_status(&mut self, active: bool) -> LinkResult;
    /// See [`crate::task::chain::ChainLink::on_end_of_input`].
    fn on_end_of_input(&mut self) -> LinkResult;
    /// See [`crate::task::chain::ChainLink::on_processing_time`].
    fn on_processing_time(
        &mut self,
        now: crate::time::processing_time::ProcessingTime,
    ) -> LinkResult;
    /// See [`crate::task::chain::ChainLink::flush`].
    fn flush(&mut self) -> LinkResult;
    /// See [`crate::task::chain::ChainLink::close`].
    fn close(&mut self) -> LinkResult;
    /// See [`crate::task::chain::ChainLink::on_barrier`].
    fn on_barrier(
        &mut self,
        barrier: sluice_core::Barrier,
        into: &mut crate::task::chain::ChainSnapshot,
    ) -> LinkResult;
    /// See [`crate::task::chain::ChainLink::notify_checkpoint_complete`].
    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> LinkResult;
}

impl<T> ControlLink for BoxedLink<T> {
    fn open(&mut self) -> LinkResult {
        (**self).open()
    }
    fn on_watermark(&mut self, watermark: sluice_core::Watermark) -> LinkResult {
        (**self).on_watermark(watermark)
    }
    fn on_status(&mut self, active: bool) -> LinkResult {
        (**self).on_status(active)
    }
    fn on_end_of_input(&mut self) -> LinkResult {
        (**self).on_end_of_input()
    }
    fn on_processing_time(
        &mut self,
        now: crate::time::processing_time::ProcessingTime,
    ) -> LinkResult {
        (**self).on_processing_time(now)
    }
    fn flush(&mut self) -> LinkResult {
        (**self).flush()
    }
    fn close(&mut self) -> LinkResult {
        (**self).close()
    }
    fn on_barrier(
        &mut self,
        barrier: sluice_core::Barrier,
        into: &mut crate::task::chain::ChainSnapshot,
    ) -> LinkResult {
        (**self).on_barrier(barrier, into)
    }
    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> LinkResult {
        (**self).notify_checkpoint_complete(checkpoint_id)
    }
}

/// The typed side-output slot.
pub struct SideSlot<S> {
    buffer: Vec<Record<S>>,
    link: BoxedLink<S>,
}

impl<S: Send + 'static> SideSlot<S> {
    /// A slot feeding `link`.
    pub fn boxed(link: BoxedLink<S>) -> Box<dyn SideOutputSlot> {
        Box::new(SideSlot {
            buffer: Vec::new(),
            link,
        })
    }
}

impl<S: Send + 'static> SideOutputSlot for SideSlot<S> {
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn forward(&mut self) -> LinkResult {
        if self.buffer.is_empty() {
            Ok(())
        } else {
            self.link.on_batch(&mut self.buffer)
        }
    }

    fn control(&mut self, f: &mut dyn FnMut(&mut dyn ControlLink) -> LinkResult) -> LinkResult {
        f(&mut self.link)
    }
}

/// The side outputs of one operator.
#[derive(Default)]
pub struct SideOutputs {
    slots: Vec<(String, Box<dyn SideOutputSlot>)>,
    type_error: Option<String>,
}

impl SideOutputs {
    /// Side outputs feeding the given slots, by tag id.
    pub fn new(slots: Vec<(String, Box<dyn SideOutputSlot>)>) -> Self {
        SideOutputs {
            slots,
            type_error: None,
        }
    }

    /// Emits `record` to the side output `tag`; dropped when nobody consumes the tag.
    pub fn emit<S: 'static>(&mut self, tag: &OutputTag<S>, record: Record<S>) {
        let Some((_, slot)) = self.slots.iter_mut().find(|(id, _)| id == tag.id()) else {
            return;
        };
        match slot.as_any_mut().downcast_mut::<SideSlot<S>>() {
            Some(typed) => typed.buffer.push(record),
            None => {
                self.type_error.get_or_insert_with(|| {
                    format!(
                        "side output '{}' is consumed with another type than {}",
                        tag.id(),
                        std::any::type_name::<S>()
                    )
                });
            }
        }
    }

    /// Hands every buffered side record to its consumers; reports a tag-type mismatch.
    pub fn forward(&mut self, operator: &str) -> LinkResult {
        if let Some(message) = self.type_error.take() {
            return Err(TaskError::operator(operator, message));
        }
        self.slots
            .iter_mut()
            .try_for_each(|(_, slot)| slot.forward())
    }

    /// Applies a control action to every side output's consumers.
    pub fn control(&mut self, mut f: impl FnMut(&mut dyn ControlLink) -> LinkResult) -> LinkResult {
        self.slots
            .iter_mut()
            .try_for_each(|(_, slot)| slot.control(&mut f))
    }
}

/// A control element an operator emits between its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Event time advanced.
    Watermark(sluice_core::Watermark),
    /// The output became idle (`false`) or active (`true`).
    Status(bool),
}

/// An operator's output buffers: main records and side outputs.
pub struct Output<T> {
    /// Records for the main output, handed on after each call into the operator.
    pub records: Vec<Record<T>>,
    /// Control elements, each placed after the first `n` records of `records`.
    pub marks: Vec<(usize, Mark)>,
    /// The side outputs.
    pub sides: SideOutputs,
}

impl<T> Output<T> {
    /// An output with the given side outputs.
    pub fn new(sides: SideOutputs) -> Self {
        Output {
            records: Vec::new(),
            marks: Vec::new(),
            sides,
        }
    }

    /// Emits a watermark after the records emitted so far (to the main and side outputs).
    pub fn emit_watermark(&mut self, watermark: sluice_core::Watermark) {
        self.marks
            .push((self.records.len(), Mark::Watermark(watermark)));
    }

    /// Marks the output idle (`false`) or active (`true`) after the records emitted so far.
    pub fn emit_status(&mut self, active: bool) {
        self.marks.push((self.records.len(), Mark::Status(active)));
    }

    /// Emits a record on the main output.
    pub fn push(&mut self, record: Record<T>) {
        self.records.push(record);
    }

    /// Emits a value with a timestamp (or none) on the main output.
    pub fn emit(&mut self, value: T, timestamp: Option<Timestamp>) {
        self.records.push(Record { value, timestamp });
    }

    /// A collector over the main output and a context over the side outputs, for a user
    /// function processing an element with `timestamp`.
    pub fn split(&mut self, timestamp: Option<Timestamp>) -> (Context<'_>, Collector<'_, T>) {
        (
            Context {
                sides: &mut self.sides,
                timestamp,
            },
            Collector {
                records: &mut self.records,
                timestamp,
            },
        )
    }

    /// Calls `f` with each record of `batch` (draining it), its context and a collector: the
    /// loop of every operator that runs a function with a context.
    pub fn process_each<I>(
        &mut self,
        batch: &mut Vec<Record<I>>,
        mut f: impl FnMut(I, &mut Context<'_>, &mut Collector<'_, T>) -> sluice_core::UserResult,
    ) -> sluice_core::UserResult {
        for record in batch.drain(..) {
            let (mut ctx, mut collector) = self.split(record.timestamp);
            f(record.value, &mut ctx, &mut collector)?;
        }
        Ok(())
    }

    /// A collector over the main output for an element with `timestamp`.
    pub fn collector(&mut self, timestamp: Option<Timestamp>) -> Collector<'_, T> {
        Collector {
            records: &mut self.records,
            timestamp,
        }
    }
}

/// Collects a user function's results; they inherit the input element's timestamp.
pub struct Collector<'a, T> {
    records: &'a mut Vec<Record<T>>,
    timestamp: Option<Timestamp>,
}

impl<'a, T> Collector<'a, T> {
    /// A collector appending to `records` with `timestamp`.
    pub fn new(records: &'a mut Vec<Record<T>>, timestamp: Option<Timestamp>) -> Self {
        Collector { records, timestamp }
    }

    /// Emits a value.
    pub fn collect(&mut self, value: T) {
        self.records.push(Record {
            value,
            timestamp: self.timestamp,
        });
    }

    /// Emits a value with an explicit timestamp.
    pub fn collect_with_timestamp(&mut self, value: T, timestamp: Timestamp) {
        self.records.push(Record::with_timestamp(value, timestamp));
    }
}

/// What a process function knows about the element it processes, and where side outputs go.
pub struct Context<'a> {
    sides: &'a mut SideOutputs,
    timestamp: Option<Timestamp>,
}

impl Context<'_> {
    /// The element's event-time timestamp, if it has one.
    pub fn timestamp(&self) -> Option<Timestamp> {
        self.timestamp
    }

    /// Emits `value` to the side output `tag`, with the element's timestamp.
    pub fn output<S: 'static>(&mut self, tag: &OutputTag<S>, value: S) {
        self.sides.emit(tag, Record::at(value, self.timestamp));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::CollectingLink;

    #[test]
    fn side_output_reaches_its_consumer_only() {
        let (link, seen) = CollectingLink::<String>::new();
        let mut sides =
            SideOutputs::new(vec![("odd".to_string(), SideSlot::boxed(Box::new(link)))]);
        let odd = OutputTag::<String>::new("odd");
        let unused = OutputTag::<String>::new("unused");
        sides.emit(&odd, Record::new("1".to_string()));
        sides.emit(&unused, Record::new("dropped".to_string()));
        sides.forward("Process").unwrap();
        assert_eq!(seen.lock().unwrap().values(), vec!["1".to_string()]);
    }

    #[test]
    fn side_output_type_mismatch_is_an_error() {
        let (link, _seen) = CollectingLink::<String>::new();
        let mut sides = SideOutputs::new(vec![("t".to_string(), SideSlot::boxed(Box::new(link)))]);
        sides.emit(&OutputTag::<i64>::new("t"), Record::new(5));
        let err = sides.forward("Process").unwrap_err();
        assert!(err.to_string().contains("side output 't'"), "{err}");
    }

    #[test]
    fn collector_keeps_the_input_timestamp() {
        let mut output = Output::<i32>::new(SideOutputs::default());
        let (ctx, mut out) = output.split(Some(42));
        assert_eq!(ctx.timestamp(), Some(42));
        out.collect(1);
        out.collect_with_timestamp(2, 7);
        assert_eq!(
            output.records,
            vec![Record::with_timestamp(1, 42), Record::with_timestamp(2, 7)]
        );
    }
}
