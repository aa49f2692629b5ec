//! Prints records to standard output, one per line, as Flink's `print()`: strings as they are,
//! everything else in its `Debug` format.

use std::any::Any;
use std::fmt::Debug;
use std::io::Write;

use sluice_core::{Record, Timestamp, UserResult};
use sluice_runtime::sink::{Sink, SinkWriter};
use sluice_runtime::task::operator::OperatorContext;

/// Writes records to stdout (strings verbatim, other values `Debug`-formatted), prefixed with
/// `N> ` when parallel.
#[derive(Debug, Default)]
pub struct PrintSink;

impl PrintSink {
    /// A print sink.
    pub fn new() -> Self {
        PrintSink
    }
}

/// The writer of one print subtask.
pub struct PrintWriter {
    prefix: String,
    buffer: Vec<u8>,
}

impl<T: Debug + Send + 'static> Sink<T> for PrintSink {
    type Writer = PrintWriter;

    fn create_writer(&self, ctx: &OperatorContext) -> UserResult<PrintWriter> {
        let prefix = if ctx.parallelism > 1 {
            format!("{}> ", ctx.subtask + 1)
        } else {
            String::new()
        };
        Ok(PrintWriter {
            prefix,
            buffer: Vec::new(),
        })
    }
}

impl<T: Debug + Send + 'static> SinkWriter<T> for PrintWriter {
    fn write(&mut self, value: T, _timestamp: Option<Timestamp>) -> UserResult {
        self.write_batch(&mut vec![Record::new(value)])
    }

    fn write_batch(&mut self, batch: &mut Vec<Record<T>>) -> UserResult {
        for record in batch.drain(..) {
            let value: &dyn Any = &record.value;
            match value.downcast_ref::<String>() {
                Some(text) => writeln!(self.buffer, "{}{text}", self.prefix)?,
                None => writeln!(self.buffer, "{}{:?}", self.prefix, record.value)?,
            }
        }
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(&self.buffer)?;
        stdout.flush()?;
        self.buffer.clear();
        Ok(())
    }
}
