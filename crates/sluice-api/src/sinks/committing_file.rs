//! The exactly-once file sink (Flink's `FileSink` with checkpoints): each subtask writes part
//! files into one directory, and a part becomes visible only when the checkpoint covering it
//! completes.
//!
//! A part is written as a hidden `.part-<run>-<subtask>-<n>.inprogress` file; at a checkpoint
//! barrier it is flushed, synced and renamed to `.part-<run>-<subtask>-<n>.pending`; when the checkpoint
//! completes it is renamed to `part-<run>-<subtask>-<n>`. Every file whose name does not start
//! with `.` is committed and never changed afterwards. A part also rolls (becomes pending) when
//! it reaches the size limit. `<run>` is new for every start of the job, so a restarted job
//! never reuses a name.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sluice_core::durable;
use sluice_core::{Record, UserResult};
use sluice_runtime::task::operator::OperatorContext;
use sluice_runtime::two_phase_commit::{TransactionalWriter, TwoPhaseCommitSink};

use super::file::RecordEncoder;

/// The default size at which a part rolls.
pub const DEFAULT_MAX_PART_BYTES: u64 = 128 << 20;

/// Writes encoded records into part files committed by checkpoints.
#[derive(Debug, Clone)]
pub struct ExactlyOnceFileSink<E> {
    dir: PathBuf,
    encoder: E,
    max_part_bytes: u64,
}

impl<E> ExactlyOnceFileSink<E> {
    /// A sink writing into the directory `dir` (created if missing).
    pub fn new(dir: impl Into<PathBuf>, encoder: E) -> Self {
        ExactlyOnceFileSink {
            dir: dir.into(),
            encoder,
            max_part_bytes: DEFAULT_MAX_PART_BYTES,
        }
    }

    /// Rolls a part once it holds `bytes` bytes (besides at every checkpoint).
    pub fn with_max_part_size(mut self, bytes: u64) -> Self {
        self.max_part_bytes = bytes.max(1);
        self
    }
}

/// A closed part waiting for its checkpoint: where it is, and its committed name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingPart {
    /// The hidden pending file.
    pub pending: PathBuf,
    /// The visible name it gets when committed.
    pub committed: PathBuf,
}

/// How many bytes an open part gathers before writing them to its file: a batch's encoded
/// rows larger than this go straight through, and a partitioned sink may keep hundreds of
/// parts open.
const PART_BUFFER_BYTES: usize = 1 << 14;

/// The part being written.
struct OpenPart {
    file: BufWriter<File>,
    in_progress: PathBuf,
    name: String,
    bytes: u64,
}

/// The writer of one subtask.
pub struct PartWriter<E> {
    dir: PathBuf,
    encoder: E,
    max_part_bytes: u64,
    prefix: String,
    counter: u64,
    open: Option<OpenPart>,
    closed: Vec<PendingPart>,
    buffer: Vec<u8>,
}

fn io_error(action: &str, path: &Path, error: std::io::Error) -> String {
    format!("cannot {action} {}: {error}", path.display())
}

impl<E> PartWriter<E> {
    fn open_part(&mut self) -> UserResult<&mut OpenPart> {
        if self.open.is_none() {
            let name = format!("{}-{}", self.prefix, self.counter);
            self.counter += 1;
            let in_progress = self.dir.join(format!(".{name}.inprogress"));
            let file = File::create(&in_progress)
                .map_err(|e| io_error("create part file", &in_progress, e))?;
            self.open = Some(OpenPart {
                file: BufWriter::with_capacity(PART_BUFFER_BYTES, file),
                in_progress,
                name,
                bytes: 0,
            });
        }
        Ok(self.open.as_mut().expect("opened just above"))
    }

    /// Writes records already encoded (as this writer's encoder encodes them) to the open
    /// part, closing it when it is full: for a caller that encodes for many writers into one
    /// buffer.
    pub fn write_encoded(&mut self, bytes: &[u8]) -> UserResult {
        let max = self.max_part_bytes;
        let part = self.open_part()?;
        part.file
            .write_all(bytes)
            .map_err(|e| io_error("write part file", &part.in_progress, e))?;
        part.bytes += bytes.len() as u64;
        if part.bytes >= max {
            self.close_part()?;
        }
        Ok(())
    }

    /// Flushes, syncs and hides the open part as pending.
    fn close_part(&mut self) -> UserResult {
        let Some(mut part) = self.open.take() else {
            return Ok(());
        };
        part.file
            .flush()
            .map_err(|e| io_error("write part file", &part.in_progress, e))?;
        part.file
            .get_ref()
            .sync_all()
            .map_err(|e| io_error("sync part file", &part.in_progress, e))?;
        let pending = self.dir.join(format!(".{}.pending", part.name));
        durable::rename(&part.in_progress, &pending)
            .map_err(|e| io_error("close part file", &part.in_progress, e))?;
        self.closed.push(PendingPart {
            pending,
            committed: self.dir.join(&part.name),
        });
        Ok(())
    }
}

impl<T, E: RecordEncoder<T>> TwoPhaseCommitSink<T> for ExactlyOnceFileSink<E> {
    type Committable = PendingPart;
    type Writer = PartWriter<E>;

    fn create_writer(&self, ctx: &OperatorContext) -> UserResult<PartWriter<E>> {
        std::fs::create_dir_all(&self.dir)
            .and_then(|()| durable::sync_parent(&self.dir))
            .map_err(|e| io_error("create output directory", &self.dir, e))?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let run = (nanos as u64) ^ (u64::from(std::process::id()) << 32);
        Ok(PartWriter {
            dir: self.dir.clone(),
            encoder: self.encoder.clone(),
            max_part_bytes: self.max_part_bytes,
            prefix: format!("part-{run:016x}-{}", ctx.subtask),
            counter: 0,
            open: None,
            closed: Vec::new(),
            buffer: Vec::new(),
        })
    }

    /// Renames the pending part into place, durably (the directory is synced); a part already
    /// in place was committed before.
    fn commit(&self, part: &PendingPart) -> UserResult {
        match durable::rename(&part.pending, &part.committed) {
            Ok(()) => Ok(()),
            Err(_) if part.committed.exists() => Ok(()),
            Err(error) => Err(format!(
                "cannot commit part {}: {error} (and {} does not exist)",
                part.pending.display(),
                part.committed.display()
            )
            .into()),
        }
    }
}

impl<T, E: RecordEncoder<T>> TransactionalWriter<T, PendingPart> for PartWriter<E> {
    fn write_batch(&mut self, batch: &mut Vec<Record<T>>) -> UserResult {
        if batch.is_empty() {
            return Ok(());
        }
        let mut buffer = std::mem::take(&mut self.buffer);
        buffer.clear();
        self.encoder.encode_batch(batch, &mut buffer)?;
        let written = self.write_encoded(&buffer);
        self.buffer = buffer;
        written
    }

    fn prepare_commit(&mut self) -> UserResult<Vec<PendingPart>> {
        self.close_part()?;
        Ok(std::mem::take(&mut self.closed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::TextEncoder;

    fn visible(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn parts_appear_when_committed_and_commits_repeat_harmlessly() {
        let dir = std::env::temp_dir().join(format!("sluice-parts-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let sink = ExactlyOnceFileSink::new(&dir, TextEncoder).with_max_part_size(8);
        let ctx = OperatorContext::single("files");
        let mut writer: PartWriter<TextEncoder> =
            TwoPhaseCommitSink::<i32>::create_writer(&sink, &ctx).unwrap();
        let mut batch = vec![Record::new(1), Record::new(22), Record::new(4444)];
        writer.write_batch(&mut batch).unwrap();
        let mut batch = vec![Record::new(333_333_333)];
        writer.write_batch(&mut batch).unwrap();
        assert!(
            visible(&dir).is_empty(),
            "nothing visible before the commit"
        );
        let parts = TransactionalWriter::<i32, _>::prepare_commit(&mut writer).unwrap();
        assert_eq!(parts.len(), 2, "each write filled a part past 8 bytes");
        for part in &parts {
            let syncs = sluice_core::durable::syncs_on_this_thread();
            TwoPhaseCommitSink::<i32>::commit(&sink, part).unwrap();
            assert_eq!(
                sluice_core::durable::syncs_on_this_thread() - syncs,
                1,
                "the rename into place is made durable"
            );
            TwoPhaseCommitSink::<i32>::commit(&sink, part).unwrap();
        }
        let names = visible(&dir);
        assert_eq!(names.len(), 2);
        let text: String = names
            .iter()
            .map(|n| std::fs::read_to_string(dir.join(n)).unwrap())
            .collect();
        assert_eq!(text, "1\n22\n4444\n333333333\n");
        let lost = PendingPart {
            pending: dir.join(".gone.pending"),
            committed: dir.join("gone"),
        };
        let error = TwoPhaseCommitSink::<i32>::commit(&sink, &lost)
            .unwrap_err()
            .to_string();
        assert!(error.contains("gone"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
