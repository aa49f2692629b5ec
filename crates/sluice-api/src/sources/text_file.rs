//! A parallel, bounded source of the lines of text files.
//!
//! Each file is cut into byte ranges (splits). A split owns the lines that *start* inside its
//! range: its reader skips the partial line at the range's start (the previous split reads it)
//! and reads past the range's end to finish its last line. So every line is read exactly once,
//! whatever the number of splits. Lines are UTF-8 (invalid bytes are replaced); as in Java's
//! `readLine` (Flink's text formats), `\n`, `\r\n` and a lone `\r` end a line. A line longer
//! than the source's limit ([`super::DEFAULT_MAX_LINE_BYTES`] unless set) fails the job with an
//! error naming the file and the byte where the line starts.
//!
//! The source gives each line as a `String`, or as a [`FileLine`] that also names the file it
//! came from, with the file's size and modification time (the file metadata of Flink's
//! `filesystem` connector).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use sluice_core::UserResult;
use sluice_runtime::source::{Boundedness, ReaderStatus, Source, SourceOutput, SourceReader};
use sluice_runtime::task::operator::OperatorContext;

/// The smallest split worth a reader of its own.
const MIN_SPLIT_BYTES: u64 = 4 << 20;

/// Splits per reader, so fast readers can take more and the load balances.
const SPLITS_PER_READER: u64 = 4;

/// Reads the lines of a file, or of every visible file in a directory.
#[derive(Debug, Clone)]
pub struct TextFileSource {
    path: PathBuf,
    max_line_bytes: usize,
    whole_files: bool,
}

impl TextFileSource {
    /// A source over `path` (a file or a directory).
    pub fn new(path: PathBuf) -> Self {
        TextFileSource {
            path,
            max_line_bytes: super::DEFAULT_MAX_LINE_BYTES,
            whole_files: false,
        }
    }

    /// Reads each file from start to end as one split, in the order of its lines (as Flink
    /// reads a format that is not splittable, such as CSV), instead of cutting large files
    /// into byte ranges read in parallel.
    pub fn with_whole_files(mut self) -> Self {
        self.whole_files = true;
        self
    }

    /// Accepts lines of up to `bytes` bytes (64 MiB by default); a longer line fails the job.
    pub fn with_max_line_length(mut self, bytes: usize) -> Self {
        self.max_line_bytes = bytes.max(1);
        self
    }

    fn files(&self) -> UserResult<Vec<(PathBuf, u64)>> {
        let meta = std::fs::metadata(&self.path)
            .map_err(|e| format!("cannot read input {}: {e}", self.path.display()))?;
        if meta.is_file() {
            File::open(&self.path)
                .map_err(|e| format!("cannot read input file {}: {e}", self.path.display()))?;
            return Ok(vec![(self.path.clone(), meta.len())]);
        }
        let mut files = Vec::new();
        let entries = std::fs::read_dir(&self.path)
            .map_err(|e| format!("cannot list input directory {}: {e}", self.path.display()))?;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let hidden = name.to_string_lossy().starts_with(['.', '_']);
            let meta = entry.metadata()?;
            if meta.is_file() && !hidden {
                files.push((entry.path(), meta.len()));
            }
        }
        files.sort();
        Ok(files)
    }
}

/// A byte range of one file; checkpointed with `start` moved to the next unread line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileSplit {
    /// The file.
    pub path: PathBuf,
    /// The first byte of the range.
    pub start: u64,
    /// One past the last byte of the range.
    pub end: u64,
}

/// A file being read, as its lines' metadata.
#[derive(Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileInfo {
    /// The file's path, absolute.
    pub path: PathBuf,
    /// The file's length in bytes.
    pub size: u64,
    /// When the file was last modified, in milliseconds since the epoch.
    pub modified_millis: i64,
}

/// A line and the file it was read from. Lines of one file share its [`FileInfo`] (a line
/// sent to another process takes a copy of it).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FileLine {
    /// The file (shared by its lines).
    pub file: Arc<FileInfo>,
    /// The line, without its line ending.
    pub line: String,
}

/// What a [`TextFileSource`] makes of each line it reads: the line itself, or a [`FileLine`].
pub trait FromFileLine: Send + 'static {
    /// The record for `line`, read from `file`.
    fn from_file_line(line: String, file: &Arc<FileInfo>) -> Self;
}

impl FromFileLine for String {
    fn from_file_line(line: String, _: &Arc<FileInfo>) -> Self {
        line
    }
}

impl FromFileLine for FileLine {
    fn from_file_line(line: String, file: &Arc<FileInfo>) -> Self {
        FileLine {
            file: Arc::clone(file),
            line,
        }
    }
}

/// The reader of a [`TextFileSource`], making records of type `L` from lines.
pub struct TextFileReader<L = String> {
    current: Option<OpenSplit>,
    max_line_bytes: usize,
    lines: PhantomData<fn() -> L>,
}

struct OpenSplit {
    reader: BufReader<File>,
    /// The split's path, as the split names it.
    path: PathBuf,
    file: Arc<FileInfo>,
    position: u64,
    end: u64,
    line: Vec<u8>,
    max_line_bytes: usize,
}

impl OpenSplit {
    /// Reads the next line (with its `\n`) into `line`, at most the split's line limit;
    /// returns the bytes read.
    fn read_line(&mut self, line: &mut Vec<u8>) -> UserResult<usize> {
        read_line_within(&mut self.reader, line, self.max_line_bytes).map_err(|e| {
            format!(
                "cannot read {} at byte {}: {e}",
                self.file.path.display(),
                self.position
            )
            .into()
        })
    }
}

/// Reads up to and including the next `\n` into `line`; a line of more than `max` bytes is an
/// error (and never more than `max + 1` bytes are held).
fn read_line_within(input: &mut impl BufRead, line: &mut Vec<u8>, max: usize) -> io::Result<usize> {
    let read = input.take(max as u64 + 1).read_until(b'\n', line)?;
    if line.len() > max && line.last() != Some(&b'\n') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "a line is longer than {max} bytes (TextFileSource::with_max_line_length raises the limit)"
            ),
        ));
    }
    Ok(read)
}

impl<L: FromFileLine> Source<L> for TextFileSource {
    type Split = FileSplit;
    type Reader = TextFileReader<L>;

    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }

    fn create_splits(&self, parallelism: usize) -> UserResult<Vec<FileSplit>> {
        let files = self.files()?;
        let total: u64 = files.iter().map(|(_, len)| len).sum();
        let wanted = (parallelism as u64).max(1) * SPLITS_PER_READER;
        let split_size = if self.whole_files {
            u64::MAX
        } else {
            total.div_ceil(wanted).max(MIN_SPLIT_BYTES)
        };
        let mut splits = Vec::new();
        for (path, len) in files {
            let mut start = 0;
            while start < len {
                let end = start.saturating_add(split_size).min(len);
                splits.push(FileSplit {
                    path: path.clone(),
                    start,
                    end,
                });
                start = end;
            }
        }
        Ok(splits)
    }

    fn create_reader(&self, _ctx: &OperatorContext) -> UserResult<TextFileReader<L>> {
        Ok(TextFileReader {
            current: None,
            max_line_bytes: self.max_line_bytes,
            lines: PhantomData,
        })
    }
}

fn open_split(split: &FileSplit, max_line_bytes: usize) -> UserResult<OpenSplit> {
    let cannot_read =
        |e: io::Error| format!("cannot read input file {}: {e}", split.path.display());
    let file = File::open(&split.path).map_err(cannot_read)?;
    let meta = file.metadata().map_err(cannot_read)?;
    let modified = meta.modified().map_err(cannot_read)?;
    let modified_millis = match modified.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_millis() as i64,
        Err(before) => -(before.duration().as_millis() as i64),
    };
    let info = FileInfo {
        path: std::path::absolute(&split.path).map_err(cannot_read)?,
        size: meta.len(),
        modified_millis,
    };
    let mut open = OpenSplit {
        reader: BufReader::with_capacity(1 << 18, file),
        path: split.path.clone(),
        file: Arc::new(info),
        position: split.start,
        end: split.end,
        line: Vec::new(),
        max_line_bytes,
    };
    if split.start > 0 {
        // The partial line before the split's start belongs to the previous split.
        open.reader.seek(SeekFrom::Start(split.start - 1))?;
        open.position = split.start - 1;
        let mut skipped = Vec::new();
        open.position += open.read_line(&mut skipped)? as u64;
    }
    Ok(open)
}

/// Decodes a chunk read up to `\n` into its lines. As Java's `readLine` (which Flink's text
/// sources use), `\n`, `\r\n` and a lone `\r` each end a line.
fn emit_lines<L: FromFileLine>(
    mut chunk: Vec<u8>,
    file: &Arc<FileInfo>,
    output: &mut SourceOutput<'_, L>,
) {
    if chunk.last() == Some(&b'\n') {
        chunk.pop();
    }
    if chunk.last() == Some(&b'\r') {
        chunk.pop();
    }
    if !chunk.contains(&b'\r') {
        output.collect(L::from_file_line(decode(chunk, &file.path), file));
        return;
    }
    for line in chunk.split(|&b| b == b'\r') {
        output.collect(L::from_file_line(decode(line.to_vec(), &file.path), file));
    }
}

fn decode(line: Vec<u8>, path: &Path) -> String {
    String::from_utf8(line).unwrap_or_else(|e| {
        tracing::debug!("invalid UTF-8 in {}; replacing", path.display());
        String::from_utf8_lossy(e.as_bytes()).into_owned()
    })
}

impl<L: FromFileLine> SourceReader<L, FileSplit> for TextFileReader<L> {
    fn add_split(&mut self, split: FileSplit) -> UserResult {
        self.current = Some(open_split(&split, self.max_line_bytes)?);
        Ok(())
    }

    fn poll_next(&mut self, output: &mut SourceOutput<'_, L>) -> UserResult<ReaderStatus> {
        let Some(split) = self.current.as_mut() else {
            return Ok(ReaderStatus::SplitFinished);
        };
        while !output.is_full() {
            if split.position >= split.end {
                self.current = None;
                return Ok(ReaderStatus::SplitFinished);
            }
            let mut line = std::mem::take(&mut split.line);
            let read = split.read_line(&mut line)?;
            if read == 0 {
                self.current = None;
                return Ok(ReaderStatus::SplitFinished);
            }
            split.position += read as u64;
            emit_lines(line, &split.file, output);
        }
        Ok(ReaderStatus::MoreAvailable)
    }

    /// The unread rest of the current split: it starts at the next line (the byte before it
    /// is the `\n` just read, so reopening it skips nothing).
    fn snapshot_state(&mut self) -> UserResult<Vec<FileSplit>> {
        Ok(self
            .current
            .as_ref()
            .filter(|split| split.position < split.end)
            .map(|split| FileSplit {
                path: split.path.clone(),
                start: split.position,
                end: split.end,
            })
            .into_iter()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::Record;

    fn reader<L>(max_line_bytes: usize) -> TextFileReader<L> {
        TextFileReader {
            current: None,
            max_line_bytes,
            lines: PhantomData,
        }
    }

    fn try_read_split(split: &FileSplit, max_line_bytes: usize) -> UserResult<Vec<String>> {
        let mut reader = reader(max_line_bytes);
        reader.add_split(split.clone())?;
        let mut lines = Vec::new();
        loop {
            let mut batch: Vec<Record<String>> = Vec::new();
            let mut output = SourceOutput::new(&mut batch, 3);
            let status = reader.poll_next(&mut output)?;
            lines.extend(batch.into_iter().map(|r| r.value));
            if status == ReaderStatus::SplitFinished {
                return Ok(lines);
            }
        }
    }

    fn read_split(split: &FileSplit) -> Vec<String> {
        try_read_split(split, crate::sources::DEFAULT_MAX_LINE_BYTES).unwrap()
    }

    #[test]
    fn a_line_longer_than_the_limit_is_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("sluice-text-long-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("in.txt");
        std::fs::write(&path, "0123456789\nabc\n0123456789A\n").unwrap();
        let whole = |start| FileSplit {
            path: path.clone(),
            start,
            end: 27,
        };
        // Exactly at the limit is fine.
        let lines = try_read_split(&whole(0), 11).unwrap();
        assert_eq!(lines, ["0123456789", "abc", "0123456789A"]);
        let error = try_read_split(&whole(0), 10).unwrap_err().to_string();
        assert!(
            error.contains("in.txt at byte 15") && error.contains("longer than 10 bytes"),
            "{error}"
        );
        // Skipping the partial line at a split's start is bounded too.
        let error = try_read_split(&whole(17), 5).unwrap_err().to_string();
        assert!(error.contains("longer than 5 bytes"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_line_is_read_once_for_any_cut() {
        let dir = std::env::temp_dir().join(format!("sluice-text-source-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("in.txt");
        let text = "alpha\nbeta\r\n\ngamma delta\nx\ry\r\r\nlast-without-newline";
        std::fs::write(&path, text).unwrap();
        let expected: Vec<String> = vec![
            "alpha",
            "beta",
            "",
            "gamma delta",
            "x",
            "y",
            "",
            "last-without-newline",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        let len = text.len() as u64;
        for cut in 0..=len {
            let splits = [
                FileSplit {
                    path: path.clone(),
                    start: 0,
                    end: cut,
                },
                FileSplit {
                    path: path.clone(),
                    start: cut,
                    end: len,
                },
            ];
            let lines: Vec<String> = splits
                .iter()
                .filter(|s| s.start < s.end)
                .flat_map(read_split)
                .collect();
            assert_eq!(lines, expected, "cut at {cut}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn large_files_are_cut_into_ranges_unless_read_whole() {
        let dir = std::env::temp_dir().join(format!("sluice-text-whole-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let line = "x".repeat(1023) + "\n";
        std::fs::write(dir.join("a.txt"), line.repeat(9 * 1024)).unwrap();
        std::fs::write(dir.join("b.txt"), "small\n").unwrap();
        let splits = |source: &TextFileSource| Source::<String>::create_splits(source, 2).unwrap();
        let source = TextFileSource::new(dir.clone());
        let cut = splits(&source);
        assert!(cut.len() > 2, "a 9 MiB file is read in ranges: {cut:?}");
        let whole = splits(&source.with_whole_files());
        let ranges: Vec<(u64, u64)> = whole.iter().map(|s| (s.start, s.end)).collect();
        assert_eq!(ranges, [(0, 9 << 20), (0, 6)], "one split per file");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_split_resumed_from_its_snapshot_reads_the_rest_once() {
        let dir = std::env::temp_dir().join(format!("sluice-text-resume-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("in.txt");
        let text: String = (0..50).map(|i| format!("line {i}\r\n")).collect();
        std::fs::write(&path, &text).unwrap();
        let whole = FileSplit {
            path: path.clone(),
            start: 0,
            end: text.len() as u64,
        };
        let expected = read_split(&whole);
        let mut reader = reader(crate::sources::DEFAULT_MAX_LINE_BYTES);
        reader.add_split(whole).unwrap();
        let mut lines = Vec::new();
        let mut batch: Vec<Record<String>> = Vec::new();
        let mut output = SourceOutput::new(&mut batch, 7);
        reader.poll_next(&mut output).unwrap();
        lines.extend(batch.into_iter().map(|r| r.value));
        let rest = reader.snapshot_state().unwrap();
        assert_eq!(rest.len(), 1);
        lines.extend(read_split(&rest[0]));
        assert_eq!(lines, expected);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let source = TextFileSource::new(PathBuf::from("/nonexistent/input.txt"));
        let err = Source::<String>::create_splits(&source, 1).unwrap_err();
        assert!(
            err.to_string()
                .contains("cannot read input /nonexistent/input.txt"),
            "{err}"
        );
    }

    #[test]
    fn lines_can_name_their_file_its_size_and_modification_time() {
        let dir = std::env::temp_dir().join(format!("sluice-text-meta-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("part-a.csv");
        std::fs::write(&path, "1,a\n2,b\n").unwrap();
        let mut reader = reader::<FileLine>(crate::sources::DEFAULT_MAX_LINE_BYTES);
        reader
            .add_split(FileSplit {
                path: path.clone(),
                start: 0,
                end: 8,
            })
            .unwrap();
        let mut batch: Vec<Record<FileLine>> = Vec::new();
        let mut output = SourceOutput::new(&mut batch, 10);
        reader.poll_next(&mut output).unwrap();
        let lines: Vec<&str> = batch.iter().map(|r| r.value.line.as_str()).collect();
        assert_eq!(lines, ["1,a", "2,b"]);
        let file = &batch[0].value.file;
        assert!(
            Arc::ptr_eq(file, &batch[1].value.file),
            "one FileInfo per file"
        );
        assert_eq!(file.path, path);
        assert_eq!(file.size, 8);
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        let millis = modified.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
        assert_eq!(file.modified_millis, millis);
    }
}
