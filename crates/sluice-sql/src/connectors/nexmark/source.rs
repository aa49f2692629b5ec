//! The `nexmark` table's parallel source: subtask `k` of `p` makes events `k, k + p, ...`, so
//! the stream's content does not depend on the parallelism, and each subtask's event times
//! rise. A checkpoint stores each stripe's next event; a restored job goes on from there.

use std::sync::Arc;
use std::time::Instant;

use arrow_array::builder::{
    Int32Builder, Int64Builder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch, StructArray};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, Fields, SchemaRef};
use sluice_core::UserResult;
use sluice_runtime::source::{Boundedness, ReaderStatus, Source, SourceOutput, SourceReader};
use sluice_runtime::task::operator::OperatorContext;

use super::generator::{Event, GeneratorConfig};
use crate::batch::RowBatch;
use crate::types::{RowField, SqlType};

/// Events per batch a reader emits.
const BATCH_EVENTS: u64 = 1024;

/// The source of a `nexmark` table.
#[derive(Debug, Clone)]
pub struct NexmarkSource {
    pub(super) generator: GeneratorConfig,
    /// How many events there are (`None`: unbounded).
    pub(super) events: Option<u64>,
    /// Whether events are emitted when their event time is due on the wall clock.
    pub(super) paced: bool,
    pub(super) schema: SchemaRef,
}

/// The events `next, next + stride, ...` below the table's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NexmarkSplit {
    /// The next event to make.
    pub next: u64,
    /// The distance between this split's events.
    pub stride: u64,
}

/// Makes the events of one split at a time.
pub struct NexmarkReader {
    source: NexmarkSource,
    split: Option<NexmarkSplit>,
    started: Instant,
}

impl Source<RowBatch> for NexmarkSource {
    type Split = NexmarkSplit;
    type Reader = NexmarkReader;

    fn boundedness(&self) -> Boundedness {
        if self.events.is_some() {
            Boundedness::Bounded
        } else {
            Boundedness::Unbounded
        }
    }

    fn create_splits(&self, parallelism: usize) -> UserResult<Vec<NexmarkSplit>> {
        let stride = parallelism.max(1) as u64;
        Ok((0..stride)
            .map(|next| NexmarkSplit { next, stride })
            .filter(|split| self.events.is_none_or(|end| split.next < end))
            .collect())
    }

    fn create_reader(&self, _ctx: &OperatorContext) -> UserResult<NexmarkReader> {
        Ok(NexmarkReader {
            source: self.clone(),
            split: None,
            started: Instant::now(),
        })
    }
}

impl SourceReader<RowBatch, NexmarkSplit> for NexmarkReader {
    fn add_split(&mut self, split: NexmarkSplit) -> UserResult {
        self.split = Some(split);
        Ok(())
    }

    fn poll_next(&mut self, output: &mut SourceOutput<'_, RowBatch>) -> UserResult<ReaderStatus> {
        let Some(split) = &mut self.split else {
            return Ok(ReaderStatus::SplitFinished);
        };
        let end = self.source.events.unwrap_or(u64::MAX);
        let mut last = split
            .next
            .saturating_add(split.stride.saturating_mul(BATCH_EVENTS))
            .min(end);
        if self.source.paced {
            // Only the events whose event time has come on the wall clock since the start.
            let generator = &self.source.generator;
            let elapsed_us = self.started.elapsed().as_micros() as f64;
            let due = (elapsed_us / generator.inter_event_delay_us) as u64;
            last = last.min(due.saturating_add(1));
        }
        let numbers: Vec<u64> = (split.next..last).step_by(split.stride as usize).collect();
        if numbers.is_empty() {
            return Ok(if split.next >= end {
                self.split = None;
                ReaderStatus::SplitFinished
            } else {
                ReaderStatus::NothingAvailable
            });
        }
        split.next = numbers[numbers.len() - 1] + split.stride;
        let batch = self.source.batch(&numbers)?;
        output.collect(RowBatch(batch));
        Ok(if split.next >= end {
            self.split = None;
            ReaderStatus::SplitFinished
        } else {
            ReaderStatus::MoreAvailable
        })
    }

    fn snapshot_state(&mut self) -> UserResult<Vec<NexmarkSplit>> {
        Ok(self.split.iter().copied().collect())
    }
}

impl NexmarkSource {
    /// The events numbered `numbers` as a batch of the table's physical columns.
    pub fn batch(&self, numbers: &[u64]) -> UserResult<RecordBatch> {
        let mut event_type = Int32Builder::with_capacity(numbers.len());
        let rows = numbers.len();
        // The ROW columns' fields, from the schema (checked to be the connector's at creation).
        let column = |index: usize| match self.schema.field(index).data_type() {
            DataType::Struct(fields) => Ok(RowColumn::new(fields, rows)),
            other => Err(format!("nexmark column {index} is {other}, not a ROW")),
        };
        let (mut person, mut auction, mut bid) = (column(1)?, column(2)?, column(3)?);
        for &n in numbers {
            let event = self.generator.event(n);
            let (kind, values): (i32, &[Value<'_>]) = match &event {
                Event::Person(p) => (0, &person_values(p)),
                Event::Auction(a) => (1, &auction_values(a)),
                Event::Bid(b) => (2, &bid_values(b)),
            };
            event_type.append_value(kind);
            for (column, index) in [(&mut person, 0), (&mut auction, 1), (&mut bid, 2)] {
                column.push((index == kind).then_some(values));
            }
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(event_type.finish()),
            person.finish(),
            auction.finish(),
            bid.finish(),
        ];
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }
}

/// A field value of an event.
enum Value<'a> {
    Long(i64),
    Text(&'a str),
    Time(i64),
}

fn person_values(p: &super::generator::Person) -> [Value<'_>; 8] {
    use Value::*;
    [
        Long(p.id),
        Text(&p.name),
        Text(&p.email_address),
        Text(&p.credit_card),
        Text(p.city),
        Text(p.state),
        Time(p.date_time),
        Text(&p.extra),
    ]
}

fn auction_values(a: &super::generator::Auction) -> [Value<'_>; 10] {
    use Value::*;
    [
        Long(a.id),
        Text(&a.item_name),
        Text(&a.description),
        Long(a.initial_bid),
        Long(a.reserve),
        Time(a.date_time),
        Time(a.expires),
        Long(a.seller),
        Long(a.category),
        Text(&a.extra),
    ]
}

fn bid_values(b: &super::generator::Bid) -> [Value<'_>; 7] {
    use Value::*;
    [
        Long(b.auction),
        Long(b.bidder),
        Long(b.price),
        Text(b.channel),
        Text(b.url),
        Time(b.date_time),
        Text(&b.extra),
    ]
}

/// The builder of one field of a `ROW` column.
enum FieldBuilder {
    Long(Int64Builder),
    Text(StringBuilder),
    Time(TimestampMillisecondBuilder),
}

/// Builds a `ROW` column: NULL for events of another type.
struct RowColumn {
    fields: Fields,
    builders: Vec<FieldBuilder>,
    present: Vec<bool>,
}

impl RowColumn {
    /// A column of `rows` rows of the struct `fields` (64-bit integers, timestamps, strings).
    fn new(fields: &Fields, rows: usize) -> Self {
        let builders = fields
            .iter()
            .map(|f| match f.data_type() {
                DataType::Int64 => FieldBuilder::Long(Int64Builder::with_capacity(rows)),
                DataType::Timestamp(..) => {
                    FieldBuilder::Time(TimestampMillisecondBuilder::with_capacity(rows))
                }
                _ => FieldBuilder::Text(StringBuilder::with_capacity(rows, rows * 32)),
            })
            .collect();
        RowColumn {
            fields: fields.clone(),
            builders,
            present: Vec::with_capacity(rows),
        }
    }

    /// Appends a row: `values`, or NULL (its fields hold placeholders the struct's NULL
    /// hides, cheaper to append than NULLs).
    fn push(&mut self, values: Option<&[Value<'_>]>) {
        self.present.push(values.is_some());
        for (i, builder) in self.builders.iter_mut().enumerate() {
            match (builder, values.map(|v| &v[i])) {
                (FieldBuilder::Long(b), Some(Value::Long(v))) => b.append_value(*v),
                (FieldBuilder::Text(b), Some(Value::Text(v))) => b.append_value(v),
                (FieldBuilder::Time(b), Some(Value::Time(v))) => b.append_value(*v),
                (FieldBuilder::Long(b), _) => b.append_value(0),
                (FieldBuilder::Time(b), _) => b.append_value(0),
                (FieldBuilder::Text(b), _) => b.append_value(""),
            }
        }
    }

    fn finish(&mut self) -> ArrayRef {
        let children = self
            .builders
            .iter_mut()
            .map(|b| -> ArrayRef {
                match b {
                    FieldBuilder::Long(b) => Arc::new(b.finish()),
                    FieldBuilder::Text(b) => Arc::new(b.finish()),
                    FieldBuilder::Time(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        let present = std::mem::take(&mut self.present);
        Arc::new(StructArray::new(
            self.fields.clone(),
            children,
            Some(NullBuffer::from(present)),
        ))
    }
}

/// `ROW<..>` fields of the named types, in order.
fn row(fields: &[(&str, SqlType)]) -> Vec<RowField> {
    fields
        .iter()
        .map(|(name, ty)| RowField {
            name: name.to_string(),
            ty: ty.clone(),
        })
        .collect()
}

const STRING: SqlType = SqlType::Varchar(None);
const LONG: SqlType = SqlType::BigInt;
const TIME: SqlType = SqlType::Timestamp(3);

/// The `person` column's fields.
pub fn person_fields() -> Vec<RowField> {
    row(&[
        ("id", LONG),
        ("name", STRING),
        ("emailAddress", STRING),
        ("creditCard", STRING),
        ("city", STRING),
        ("state", STRING),
        ("dateTime", TIME),
        ("extra", STRING),
    ])
}

/// The `auction` column's fields.
pub fn auction_fields() -> Vec<RowField> {
    row(&[
        ("id", LONG),
        ("itemName", STRING),
        ("description", STRING),
        ("initialBid", LONG),
        ("reserve", LONG),
        ("dateTime", TIME),
        ("expires", TIME),
        ("seller", LONG),
        ("category", LONG),
        ("extra", STRING),
    ])
}

/// The `bid` column's fields.
pub fn bid_fields() -> Vec<RowField> {
    row(&[
        ("auction", LONG),
        ("bidder", LONG),
        ("price", LONG),
        ("channel", STRING),
        ("url", STRING),
        ("dateTime", TIME),
        ("extra", STRING),
    ])
}
