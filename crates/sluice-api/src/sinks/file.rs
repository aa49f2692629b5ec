//! Text and CSV file sinks.
//!
//! With parallelism 1 the path is the output file; above 1 it is a directory holding one file
//! per subtask, named `1`, `2`, … as in Flink. Each subtask writes to a hidden
//! `.NAME.inprogress` file beside its target and renames it into place only when its input
//! ended, so a failed or cancelled job leaves no partial output behind; an existing file of
//! the same name is replaced.

use std::fmt::Display;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sluice_core::durable;
use sluice_core::{Record, Timestamp, UserResult};
use sluice_runtime::sink::{Sink, SinkWriter};
use sluice_runtime::task::operator::OperatorContext;

/// Turns records into lines of bytes (each with its newline).
pub trait RecordEncoder<T>: Clone + Send + Sync + 'static {
    /// Appends the encoding of every record of `batch` to `out`, draining the batch.
    fn encode_batch(&self, batch: &mut Vec<Record<T>>, out: &mut Vec<u8>) -> UserResult;
}

/// One `Display`-formatted line per record.
#[derive(Debug, Clone, Copy)]
pub struct TextEncoder;

impl<T: Display> RecordEncoder<T> for TextEncoder {
    fn encode_batch(&self, batch: &mut Vec<Record<T>>, out: &mut Vec<u8>) -> UserResult {
        for record in batch.drain(..) {
            writeln!(out, "{}", record.value)?;
        }
        Ok(())
    }
}

/// One CSV row per record (no header), quoting fields where needed.
#[derive(Debug, Clone, Copy)]
pub struct CsvEncoder;

impl<T: Serialize> RecordEncoder<T> for CsvEncoder {
    fn encode_batch(&self, batch: &mut Vec<Record<T>>, out: &mut Vec<u8>) -> UserResult {
        let mut writer = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(out);
        for record in batch.drain(..) {
            writer.serialize(&record.value)?;
        }
        writer.flush()?;
        Ok(())
    }
}

/// Writes encoded records to files.
#[derive(Debug, Clone)]
pub struct FileSink<E> {
    path: PathBuf,
    encoder: E,
}

impl<E> FileSink<E> {
    /// A sink writing to `path` with `encoder`.
    pub fn new(path: PathBuf, encoder: E) -> Self {
        FileSink { path, encoder }
    }
}

/// The writer of one file-sink subtask.
pub struct FileWriter<E> {
    target: PathBuf,
    in_progress: PathBuf,
    file: Option<BufWriter<File>>,
    encoder: E,
    buffer: Vec<u8>,
}

fn in_progress_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "part".to_string());
    target.with_file_name(format!(".{name}.inprogress"))
}

impl<T: Send + 'static, E: RecordEncoder<T>> Sink<T> for FileSink<E> {
    type Writer = FileWriter<E>;

    fn create_writer(&self, ctx: &OperatorContext) -> UserResult<FileWriter<E>> {
        let target = if ctx.parallelism > 1 {
            std::fs::create_dir_all(&self.path).map_err(|e| {
                format!(
                    "cannot create output directory {}: {e}",
                    self.path.display()
                )
            })?;
            self.path.join((ctx.subtask + 1).to_string())
        } else {
            if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| {
                    format!("cannot create output directory {}: {e}", parent.display())
                })?;
            }
            self.path.clone()
        };
        let in_progress = in_progress_path(&target);
        let file = File::create(&in_progress)
            .map_err(|e| format!("cannot create {}: {e}", in_progress.display()))?;
        Ok(FileWriter {
            target,
            in_progress,
            file: Some(BufWriter::with_capacity(1 << 16, file)),
            encoder: self.encoder.clone(),
            buffer: Vec::new(),
        })
    }
}

impl<E> FileWriter<E> {
    fn file(&mut self) -> UserResult<&mut BufWriter<File>> {
        self.file
            .as_mut()
            .ok_or_else(|| format!("{} was already finished", self.target.display()).into())
    }
}

impl<T: Send + 'static, E: RecordEncoder<T>> SinkWriter<T> for FileWriter<E> {
    fn write(&mut self, value: T, _timestamp: Option<Timestamp>) -> UserResult {
        self.write_batch(&mut vec![Record::new(value)])
    }

    fn write_batch(&mut self, batch: &mut Vec<Record<T>>) -> UserResult {
        self.encoder.encode_batch(batch, &mut self.buffer)?;
        let mut buffer = std::mem::take(&mut self.buffer);
        let written = self.file()?.write_all(&buffer);
        buffer.clear();
        self.buffer = buffer;
        written.map_err(|e| format!("cannot write {}: {e}", self.in_progress.display()).into())
    }

    fn finish(&mut self) -> UserResult {
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        let file = file
            .into_inner()
            .map_err(|e| format!("cannot write {}: {}", self.in_progress.display(), e.error()))?;
        file.sync_all()?;
        durable::rename(&self.in_progress, &self.target).map_err(|e| {
            format!(
                "cannot move output into place at {}: {e}",
                self.target.display()
            )
        })?;
        Ok(())
    }
}

impl<E> Drop for FileWriter<E> {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.in_progress);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_only_when_needed() {
        let mut out = Vec::new();
        let mut batch = vec![
            Record::new(("word".to_string(), 3u64)),
            Record::new(("a,b".to_string(), 1u64)),
        ];
        CsvEncoder.encode_batch(&mut batch, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "word,3\n\"a,b\",1\n");
    }

    #[test]
    fn unfinished_output_is_removed() {
        let dir = std::env::temp_dir().join(format!("sluice-file-sink-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("out.txt");
        let sink = FileSink::new(target.clone(), TextEncoder);
        let mut writer =
            Sink::<i32>::create_writer(&sink, &OperatorContext::single("sink")).unwrap();
        SinkWriter::<i32>::write(&mut writer, 1, None).unwrap();
        let in_progress = in_progress_path(&target);
        assert!(in_progress.exists());
        drop(writer);
        assert!(!in_progress.exists());
        assert!(!target.exists());
        let mut writer =
            Sink::<i32>::create_writer(&sink, &OperatorContext::single("sink")).unwrap();
        SinkWriter::<i32>::write(&mut writer, 7, None).unwrap();
        SinkWriter::<i32>::finish(&mut writer).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "7\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
