//! The filesystem sink of a `PARTITIONED BY` table, as Flink's: each row goes to the directory
//! of its partition values, `<path>/k1=v1/k2=v2/` (values escaped as Hive escapes path names:
//! `:` as `%3A`; NULL or empty as `__DEFAULT_PARTITION__`), and the files hold the other columns.
//! Part files are committed by checkpoints as in the exactly-once file sink. With
//! `'sink.partition-commit.policy.kind' = 'success-file'` a partition is committed — an empty
//! `_SUCCESS` file written into it, after its part files — once its trigger fires:
//! `partition-time` when the watermark passes the time in its values
//! (`partition.time-extractor.timestamp-pattern`, e.g. `$dt $hm:00`) plus
//! `sink.partition-commit.delay`; `process-time` (the default) when that delay has passed since
//! the partition was created; every partition when the input ends. Rows of one partition are
//! all written by one subtask (the planner routes them so), which therefore knows when the
//! partition is complete.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, UInt32Array};
use serde::{Deserialize, Serialize};
use sluice_api::sinks::{ExactlyOnceFileSink, PartWriter, PendingPart, RecordEncoder};
use sluice_core::{Record, UserResult, Watermark, durable};
use sluice_runtime::task::operator::OperatorContext;
use sluice_runtime::time::processing_time::{Clock, SystemClock};
use sluice_runtime::two_phase_commit::{TransactionalWriter, TwoPhaseCommitSink};

use crate::batch::RowBatch;
use crate::error::{SqlError, SqlResult};
use crate::expr::format::{TextStyle, parse_timestamp_millis, write_value};
use crate::options::parse_duration;
use crate::types::SqlType;

/// Flink's `partition.default-name`.
const DEFAULT_PARTITION: &str = "__DEFAULT_PARTITION__";

/// When a partition is committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitTrigger {
    /// `process-time`: the delay after the partition was created.
    ProcessTime,
    /// `partition-time`: the watermark passed the time extracted from the partition's values
    /// by the pattern (`$dt $hm:00`) plus the delay.
    PartitionTime {
        /// The timestamp pattern over `$key` placeholders.
        pattern: String,
    },
}

/// How partitions are committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionCommit {
    /// When.
    pub trigger: CommitTrigger,
    /// `sink.partition-commit.delay`, in milliseconds.
    pub delay: i64,
    /// The success file's name (`sink.partition-commit.success-file.name`).
    pub success_file: String,
}

impl PartitionCommit {
    /// The partition commit of a table's `options` (`None` without a commit policy), its
    /// partition columns `keys`.
    pub fn from_options(
        table: &str,
        options: &BTreeMap<String, String>,
        keys: &[String],
    ) -> SqlResult<Option<PartitionCommit>> {
        let option = |key: &str| options.get(key).map(String::as_str);
        match option("sink.partition-commit.policy.kind") {
            None => return Ok(None),
            Some("success-file") => {}
            Some(other) => {
                return Err(SqlError::new(format!(
                    "table '{table}': partition commit policy '{other}' is not supported (supported: success-file)"
                )));
            }
        }
        let trigger = match option("sink.partition-commit.trigger").unwrap_or("process-time") {
            "process-time" => CommitTrigger::ProcessTime,
            "partition-time" => {
                if let Some(kind) = option("partition.time-extractor.kind")
                    && kind != "default"
                {
                    return Err(SqlError::new(format!(
                        "table '{table}': partition time extractor '{kind}' is not supported (supported: default)"
                    )));
                }
                let first = keys.first().map(|k| format!("${k}")).unwrap_or_default();
                let pattern = option("partition.time-extractor.timestamp-pattern")
                    .map_or(first, String::from);
                CommitTrigger::PartitionTime { pattern }
            }
            other => {
                return Err(SqlError::new(format!(
                    "table '{table}': 'sink.partition-commit.trigger' must be process-time or partition-time, not '{other}'"
                )));
            }
        };
        let delay = match option("sink.partition-commit.delay") {
            Some(text) => parse_duration("sink.partition-commit.delay", text)?.as_millis() as i64,
            None => 0,
        };
        let success_file = option("sink.partition-commit.success-file.name")
            .unwrap_or("_SUCCESS")
            .to_string();
        Ok(Some(PartitionCommit {
            trigger,
            delay,
            success_file,
        }))
    }
}

/// Where rows go: the partition columns and the columns written into the files.
#[derive(Debug, Clone)]
pub struct Partitioning {
    /// The partition columns: index in the row and name.
    pub keys: Vec<(usize, String, SqlType)>,
    /// The columns the files hold.
    pub data: Vec<usize>,
    /// The schema of the files' batches.
    pub data_schema: arrow_schema::SchemaRef,
}

impl Partitioning {
    /// The partition directory of `row` of `batch`: `k1=v1/k2=v2`.
    fn directory(&self, batch: &RecordBatch, row: usize, text: &mut String) -> String {
        let mut dir = String::new();
        for (i, (column, name, ty)) in self.keys.iter().enumerate() {
            if i > 0 {
                dir.push('/');
            }
            text.clear();
            let array = batch.column(*column);
            if array.is_valid(row) {
                write_value(array.as_ref(), row, ty, TextStyle::Cast, text);
            }
            let value = if text.is_empty() {
                DEFAULT_PARTITION
            } else {
                text.as_str()
            };
            dir.push_str(&escape_path_name(name));
            dir.push('=');
            dir.push_str(&escape_path_name(value));
        }
        dir
    }
}

/// `name` with the characters Hive escapes in path names as `%XX`.
pub fn escape_path_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let escaped = matches!(
            c,
            '\u{1}'
                ..='\u{1F}'
                    | '"'
                    | '#'
                    | '%'
                    | '\''
                    | '*'
                    | '/'
                    | ':'
                    | '='
                    | '?'
                    | '\\'
                    | '\u{7F}'
                    | '{'
                    | '['
                    | ']'
                    | '^'
        );
        if escaped {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// The time of a partition: `pattern` with each `$key` replaced by its value, read as
/// `yyyy-MM-dd HH:mm:ss[.fff]` or `yyyy-MM-dd`.
pub fn partition_time(pattern: &str, values: &[(String, String)]) -> SqlResult<i64> {
    let mut text = pattern.to_string();
    // Longer names first, so `$dt` does not take the start of `$dth`.
    let mut sorted: Vec<&(String, String)> = values.iter().collect();
    sorted.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
    for (name, value) in sorted {
        text = text.replace(&format!("${name}"), value);
    }
    parse_timestamp_millis(&text)
        .or_else(|| parse_timestamp_millis(&format!("{text} 00:00:00")))
        .ok_or_else(|| {
            SqlError::new(format!(
                "the partition time '{text}' (from the pattern '{pattern}') is not a timestamp 'yyyy-MM-dd HH:mm:ss'"
            ))
        })
}

/// What a checkpoint commits: a part file, or a partition's success file (after its parts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PartitionCommittable {
    /// A part file to make visible.
    Part(PendingPart),
    /// A partition's success file to write.
    Success(PathBuf),
}

/// The sink.
#[derive(Debug, Clone)]
pub struct PartitionedFileSink<E> {
    dir: PathBuf,
    encoder: E,
    partitioning: Arc<Partitioning>,
    commit: Option<PartitionCommit>,
}

impl<E> PartitionedFileSink<E> {
    /// A sink writing the partitions of `partitioning` under `dir` with `encoder`, committing
    /// them by `commit` (if set).
    pub fn new(
        dir: impl Into<PathBuf>,
        encoder: E,
        partitioning: Partitioning,
        commit: Option<PartitionCommit>,
    ) -> Self {
        PartitionedFileSink {
            dir: dir.into(),
            encoder,
            partitioning: Arc::new(partitioning),
            commit,
        }
    }
}

/// One partition a writer has written to and not committed yet.
struct OpenPartition<E> {
    writer: PartWriter<E>,
    /// Processing time it was created (milliseconds).
    created: i64,
    /// Its values, `(key, value)`, for its time.
    values: Vec<(String, String)>,
}

/// The writer of one subtask.
pub struct PartitionedWriter<E> {
    sink: PartitionedFileSink<E>,
    ctx: OperatorContext,
    partitions: BTreeMap<String, OpenPartition<E>>,
    watermark: i64,
    /// The rows of one partition encoded, for all of them (a buffer each, as large as the
    /// largest batch it wrote, held 45 MB over the 334 minutes q10 keeps open).
    buffer: Vec<u8>,
}

impl<E: RecordEncoder<RowBatch>> TwoPhaseCommitSink<RowBatch> for PartitionedFileSink<E> {
    type Committable = PartitionCommittable;
    type Writer = PartitionedWriter<E>;

    fn create_writer(&self, ctx: &OperatorContext) -> UserResult<PartitionedWriter<E>> {
        Ok(PartitionedWriter {
            sink: self.clone(),
            ctx: ctx.clone(),
            partitions: BTreeMap::new(),
            watermark: i64::MIN,
            buffer: Vec::new(),
        })
    }

    fn commit(&self, committable: &PartitionCommittable) -> UserResult {
        match committable {
            PartitionCommittable::Part(part) => {
                ExactlyOnceFileSink::new(&self.dir, self.encoder.clone()).commit(part)
            }
            PartitionCommittable::Success(path) => write_success_file(path),
        }
    }
}

/// Writes the empty file `path`, durably (idempotent).
fn write_success_file(path: &Path) -> UserResult {
    std::fs::write(path, b"")
        .and_then(|()| std::fs::File::open(path)?.sync_all())
        .and_then(|()| durable::sync_parent(path))
        .map_err(|e| format!("cannot write the success file {}: {e}", path.display()).into())
}

impl<E: RecordEncoder<RowBatch>> PartitionedWriter<E> {
    /// The open partition in `dir`, created if new.
    fn partition(
        &mut self,
        dir: &str,
        batch: &RecordBatch,
        row: usize,
    ) -> UserResult<&mut OpenPartition<E>> {
        if !self.partitions.contains_key(dir) {
            let path = self.sink.dir.join(dir);
            let writer = ExactlyOnceFileSink::new(&path, self.sink.encoder.clone())
                .create_writer(&self.ctx)?;
            let mut text = String::new();
            let values = self
                .sink
                .partitioning
                .keys
                .iter()
                .map(|(column, name, ty)| {
                    text.clear();
                    let array = batch.column(*column);
                    if array.is_valid(row) {
                        write_value(array.as_ref(), row, ty, TextStyle::Cast, &mut text);
                    }
                    (name.clone(), text.clone())
                })
                .collect();
            let partition = OpenPartition {
                writer,
                created: SystemClock.now(),
                values,
            };
            self.partitions.insert(dir.to_string(), partition);
        }
        Ok(self.partitions.get_mut(dir).expect("inserted above"))
    }

    /// Whether the partition's commit trigger has fired.
    fn complete(&self, partition: &OpenPartition<E>, commit: &PartitionCommit) -> UserResult<bool> {
        if self.watermark == Watermark::MAX.0 {
            return Ok(true);
        }
        Ok(match &commit.trigger {
            CommitTrigger::ProcessTime => {
                SystemClock.now() >= partition.created.saturating_add(commit.delay)
            }
            CommitTrigger::PartitionTime { pattern } => {
                let time = partition_time(pattern, &partition.values).map_err(|e| e.to_string())?;
                self.watermark > time.saturating_add(commit.delay)
            }
        })
    }
}

impl<E: RecordEncoder<RowBatch>> TransactionalWriter<RowBatch, PartitionCommittable>
    for PartitionedWriter<E>
{
    fn write_batch(&mut self, batch: &mut Vec<Record<RowBatch>>) -> UserResult {
        let partitioning = Arc::clone(&self.sink.partitioning);
        let mut text = String::new();
        for record in batch.drain(..) {
            let data = &record.value.0;
            let mut rows: BTreeMap<String, (usize, Vec<u32>)> = BTreeMap::new();
            // Rows come in runs of one partition (a time-ordered log's minute): its directory
            // is computed once per run.
            let key_columns: Vec<ArrayRef> = partitioning
                .keys
                .iter()
                .map(|(column, _, _)| Arc::clone(data.column(*column)))
                .collect();
            let runs = if key_columns.is_empty() {
                std::iter::once(0..data.num_rows()).collect()
            } else {
                arrow_ord::partition::partition(&key_columns)?.ranges()
            };
            for run in runs {
                let dir = partitioning.directory(data, run.start, &mut text);
                rows.entry(dir)
                    .or_insert_with(|| (run.start, Vec::new()))
                    .1
                    .extend(run.map(|row| row as u32));
            }
            for (dir, (first, indices)) in rows {
                let indices = UInt32Array::from(indices);
                let columns = partitioning
                    .data
                    .iter()
                    .map(|&c| arrow_select::take::take(data.column(c), &indices, None))
                    .collect::<Result<Vec<_>, _>>()?;
                let part = RecordBatch::try_new(Arc::clone(&partitioning.data_schema), columns)?;
                let mut buffer = std::mem::take(&mut self.buffer);
                buffer.clear();
                self.sink
                    .encoder
                    .encode_batch(&mut vec![Record::new(RowBatch(part))], &mut buffer)?;
                let written = self
                    .partition(&dir, data, first)?
                    .writer
                    .write_encoded(&buffer);
                self.buffer = buffer;
                written?;
            }
        }
        Ok(())
    }

    fn prepare_commit(&mut self) -> UserResult<Vec<PartitionCommittable>> {
        let mut committables = Vec::new();
        let mut committed = Vec::new();
        for (dir, partition) in &mut self.partitions {
            committables.extend(
                partition
                    .writer
                    .prepare_commit()?
                    .into_iter()
                    .map(PartitionCommittable::Part),
            );
            committed.push(dir.clone());
        }
        let Some(commit) = self.sink.commit.clone() else {
            // Nothing tracks partitions: writers start over with the next rows.
            self.partitions.clear();
            return Ok(committables);
        };
        for dir in committed {
            if self.complete(&self.partitions[&dir], &commit)? {
                self.partitions.remove(&dir);
                let path = self.sink.dir.join(&dir).join(&commit.success_file);
                committables.push(PartitionCommittable::Success(path));
            }
        }
        Ok(committables)
    }

    fn on_watermark(&mut self, watermark: Watermark) -> UserResult {
        self.watermark = self.watermark.max(watermark.0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::csv::CsvEncoder;
    use crate::expr::bind::{Scope, ScopeColumn};
    use arrow_array::{ArrayRef, Int64Array, StringArray};
    use sluice_runtime::harness::OneInputHarness;
    use sluice_runtime::two_phase_commit::TwoPhaseCommitSinkOperator;

    /// Rows' first column as CSV.
    #[derive(Clone)]
    struct Values;

    impl RecordEncoder<RowBatch> for Values {
        fn encode_batch(&self, batch: &mut Vec<Record<RowBatch>>, out: &mut Vec<u8>) -> UserResult {
            for record in batch.drain(..) {
                CsvEncoder::new(vec![SqlType::BigInt]).encode(&record.value.0, out);
            }
            Ok(())
        }
    }

    fn rows(rows: &[(i64, &str, &str)]) -> Record<RowBatch> {
        let scope = scope();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            )),
        ];
        Record::new(RowBatch(
            RecordBatch::try_new(scope.arrow_schema(), columns).unwrap(),
        ))
    }

    fn scope() -> Scope {
        Scope {
            columns: vec![
                ScopeColumn::new("v", SqlType::BigInt, false),
                ScopeColumn::new("dt", SqlType::Varchar(None), false),
                ScopeColumn::new("hm", SqlType::Varchar(None), false),
            ],
        }
    }

    #[test]
    fn partitions_commit_when_the_watermark_passes_their_time_and_delay() {
        let dir = std::env::temp_dir().join(format!("sluice-partitions-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let schema = scope().arrow_schema();
        let partitioning = Partitioning {
            keys: vec![
                (1, "dt".into(), SqlType::Varchar(None)),
                (2, "hm".into(), SqlType::Varchar(None)),
            ],
            data: vec![0],
            data_schema: Arc::new(schema.project(&[0]).unwrap()),
        };
        let commit = PartitionCommit {
            trigger: CommitTrigger::PartitionTime {
                pattern: "$dt $hm:00".into(),
            },
            delay: 60_000,
            success_file: "_SUCCESS".into(),
        };
        let sink = PartitionedFileSink::new(&dir, Values, partitioning, Some(commit));
        let mut ctx = OperatorContext::single("sink");
        ctx.checkpointing = Some(sluice_runtime::checkpoint::CheckpointingMode::ExactlyOnce);
        let operator = TwoPhaseCommitSinkOperator::new(Arc::new(sink));
        let mut harness = OneInputHarness::with_context(operator, ctx);
        harness.process(rows(&[
            (1, "2024-01-01", "00:00"),
            (2, "2024-01-01", "00:01"),
        ]));
        harness.process(rows(&[(3, "2024-01-01", "00:00")]));
        // 00:01:30: the 00:00 partition's time and delay (00:01:00) have passed, 00:01's not.
        harness.watermark(Watermark(1_704_067_290_000));
        harness.snapshot();
        harness.notify_checkpoint_complete(1);
        let first = dir.join("dt=2024-01-01/hm=00%3A00");
        let second = dir.join("dt=2024-01-01/hm=00%3A01");
        assert!(first.join("_SUCCESS").exists(), "00:00 committed");
        assert!(!second.join("_SUCCESS").exists(), "00:01 not yet");
        let lines = |dir: &Path| {
            let mut lines: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .flatten()
                .filter(|e| !e.file_name().to_string_lossy().starts_with(['.', '_']))
                .flat_map(|e| {
                    let text = std::fs::read_to_string(e.path()).unwrap();
                    text.lines().map(String::from).collect::<Vec<_>>()
                })
                .collect();
            lines.sort();
            lines
        };
        assert_eq!(lines(&first), ["1", "3"]);
        assert_eq!(lines(&second), ["2"]);
        // The end of the input commits every partition.
        harness.watermark(Watermark::MAX);
        harness.snapshot();
        harness.notify_checkpoint_complete(1);
        assert!(
            second.join("_SUCCESS").exists(),
            "00:01 committed at the end"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn partition_names_are_escaped_as_hive_escapes_them() {
        assert_eq!(escape_path_name("22:13"), "22%3A13");
        assert_eq!(escape_path_name("a/b=c d"), "a%2Fb%3Dc d");
        assert_eq!(escape_path_name("2024-01-01"), "2024-01-01");
    }

    #[test]
    fn commit_options_are_read_as_flink_names_them() {
        let options = crate::connectors::options(&[
            ("sink.partition-commit.trigger", "partition-time"),
            ("sink.partition-commit.delay", "1 min"),
            ("sink.partition-commit.policy.kind", "success-file"),
            ("partition.time-extractor.timestamp-pattern", "$dt $hm:00"),
        ]);
        let keys = ["dt".to_string(), "hm".to_string()];
        let commit = PartitionCommit::from_options("t", &options, &keys)
            .unwrap()
            .unwrap();
        assert_eq!(
            commit,
            PartitionCommit {
                trigger: CommitTrigger::PartitionTime {
                    pattern: "$dt $hm:00".into()
                },
                delay: 60_000,
                success_file: "_SUCCESS".into(),
            }
        );
        let none = crate::connectors::options(&[]);
        assert_eq!(
            PartitionCommit::from_options("t", &none, &keys).unwrap(),
            None
        );
        let metastore =
            crate::connectors::options(&[("sink.partition-commit.policy.kind", "metastore")]);
        let error = PartitionCommit::from_options("t", &metastore, &keys).unwrap_err();
        assert!(
            error.message.contains("'metastore' is not supported"),
            "{error}"
        );
    }

    #[test]
    fn partition_times_come_from_the_pattern() {
        let values = vec![
            ("dt".to_string(), "2024-01-01".to_string()),
            ("hm".to_string(), "22:13".to_string()),
        ];
        let time = partition_time("$dt $hm:00", &values).unwrap();
        assert_eq!(time, 1_704_147_180_000);
        assert_eq!(partition_time("$dt", &values).unwrap(), 1_704_067_200_000);
        let error = partition_time("$hm", &values).unwrap_err();
        assert!(error.message.contains("'22:13'"), "{error}");
    }
}
