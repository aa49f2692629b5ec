//! Running per-key counts and sums written exactly once, surviving any number of crashes.
//!
//! One source reads `key,value` lines from a file (replayable: its position is checkpointed),
//! throttled to `--records-per-second` when given. Per key, a running count and sum are kept
//! in keyed state; every record produces one line `key,count,sum`, written through the
//! exactly-once file sink into the output directory. Checkpoints go to the checkpoint
//! directory every `--checkpoint-interval-ms`, under the job's id (`<dir>/<job id>/chk-<n>`);
//! the id is `--job-id`, or derived from the output directory, so a run with the same output
//! directory resumes from its own latest checkpoint there (never from another job's sharing the
//! directory), or from `--from-checkpoint`/`--from-savepoint PATH`. Killed at any moment and
//! started again until it finishes, the committed files hold exactly the lines of one
//! uninterrupted run. Malformed lines (not
//! `key,value` with an integer value) are reported on standard error and skipped. With
//! `--async-lookup-max-ms`, every record first goes through an asynchronous lookup (Flink's async
//! I/O) that answers after a delay of up to that many ms, as a call to a remote service would.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};

use crate::prelude::*;
use crate::sinks::{ExactlyOnceFileSink, TextEncoder};

/// Where keyed state lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StateBackendKind {
    /// In memory, snapshotted into the checkpoint (Flink's `hashmap`).
    Hashmap,
    /// Embedded RocksDB (Flink's `rocksdb`).
    Rocksdb,
}

/// Command-line options of the job.
#[derive(Debug, Clone, Args)]
pub struct ExactlyOnceCountsArgs {
    /// Input file of `key,value` lines.
    #[arg(long)]
    pub input: PathBuf,
    /// Directory of the committed output files (hidden `.`-files are not yet committed).
    #[arg(long)]
    pub output_dir: PathBuf,
    /// Directory of the checkpoints (shared with other jobs if need be); the job resumes from
    /// its own latest one there.
    #[arg(long)]
    pub checkpoint_dir: PathBuf,
    /// The job's id, 32 hex digits (Flink's fixed job id); by default derived from the output
    /// directory, so every run writing there is the same job.
    #[arg(long)]
    pub job_id: Option<String>,
    /// Time between checkpoints in ms.
    #[arg(long)]
    pub checkpoint_interval_ms: u64,
    /// Where keyed state lives.
    #[arg(long, value_enum, default_value_t = StateBackendKind::Hashmap)]
    pub state_backend: StateBackendKind,
    /// With `--state-backend rocksdb`: checkpoints store only the database files that are new
    /// since the last completed one.
    #[arg(long)]
    pub incremental_checkpoints: bool,
    /// Barriers overtake in-flight records, which go into the checkpoint, so checkpoints
    /// complete under backpressure (a checkpoint holding in-flight records resumes only at the
    /// same parallelism).
    #[arg(long)]
    pub unaligned_checkpoints: bool,
    /// Parallelism of the counting and the sink.
    #[arg(long, short = 'p', default_value_t = 1)]
    pub parallelism: usize,
    /// Read at most this many records per second.
    #[arg(long)]
    pub records_per_second: Option<u64>,
    /// Resume from this checkpoint or savepoint (its directory, or a checkpoint directory's
    /// latest) instead of the job's own latest in `--checkpoint-dir`.
    #[arg(long, alias = "from-savepoint")]
    pub from_checkpoint: Option<PathBuf>,
    /// Look every record up asynchronously (ordered async I/O, 100 calls in flight), each
    /// call answering after a delay of up to this many ms derived from the record.
    #[arg(long)]
    pub async_lookup_max_ms: Option<u64>,
    /// Serve the web dashboard while the job runs.
    #[command(flatten)]
    pub web: super::WebArgs,
}

/// A count as the job carries it: key, count, sum.
type Count = (String, u64, i128);

/// A stand-in for a remote lookup: answers with `count` unchanged after a delay of up to
/// `max_ms` ms that depends on the record.
async fn lookup(count: Count, max_ms: u64) -> UserResult<Count> {
    let spread = count.0.bytes().fold(count.2.unsigned_abs() as u64, |h, b| {
        h.wrapping_mul(31).wrapping_add(u64::from(b))
    });
    tokio::time::sleep(Duration::from_millis(spread % (max_ms + 1))).await;
    Ok(count)
}

/// A parsed line: key and value, or the reason it is malformed.
fn parse_line(line: &str) -> Result<(String, i64), &'static str> {
    let (key, value) = line
        .split_once(',')
        .ok_or("expected two comma-separated fields")?;
    if value.contains(',') {
        return Err("expected two comma-separated fields");
    }
    let value = value
        .trim()
        .parse::<i64>()
        .map_err(|_| "the value is not an integer")?;
    Ok((key.to_string(), value))
}

/// Holds a reader to `per_second` records per second, counted from its first record.
#[derive(Clone)]
struct Throttle {
    per_second: u64,
    started: Option<Instant>,
    seen: u64,
}

impl Throttle {
    fn pass(&mut self) {
        self.seen += 1;
        let due = Duration::from_secs_f64(self.seen as f64 / self.per_second as f64);
        let elapsed = self.started.get_or_insert_with(Instant::now).elapsed();
        if due > elapsed {
            std::thread::sleep(due - elapsed);
        }
    }
}

/// The job's id: `--job-id`, or derived from the output directory's absolute path.
fn job_id(args: &ExactlyOnceCountsArgs) -> Result<JobId, String> {
    if let Some(id) = &args.job_id {
        return id.parse().map_err(|e| format!("--job-id: {e}"));
    }
    let output = std::path::absolute(&args.output_dir)
        .map_err(|e| format!("output directory {}: {e}", args.output_dir.display()))?;
    let output = output
        .to_str()
        .ok_or("the output directory must be a UTF-8 path")?;
    Ok(JobId::derived_from(&format!(
        "exactly-once-counts {output}"
    )))
}

/// Runs the job; returns how many malformed lines were skipped.
pub fn run(args: &ExactlyOnceCountsArgs) -> Result<u64, String> {
    if args.checkpoint_interval_ms == 0 {
        return Err("--checkpoint-interval-ms must be at least 1".into());
    }
    if args.records_per_second == Some(0) {
        return Err("--records-per-second must be at least 1".into());
    }
    let checkpoints = args
        .checkpoint_dir
        .to_str()
        .ok_or("the checkpoint directory must be valid UTF-8")?;
    let job_id = job_id(args)?;
    let resume_from = match &args.from_checkpoint {
        Some(path) => Some(
            path.to_str()
                .ok_or("the checkpoint to resume from must be a UTF-8 path")?
                .to_string(),
        ),
        None => crate::runtime::checkpoint::latest_checkpoint_of(checkpoints, job_id)?,
    };

    let env = StreamExecutionEnvironment::new();
    args.web.apply(&env);
    env.set_job_id(job_id);
    env.set_parallelism(args.parallelism.max(1));
    env.enable_checkpointing(Duration::from_millis(args.checkpoint_interval_ms));
    env.set_checkpoint_storage(checkpoints);
    let backend = match args.state_backend {
        StateBackendKind::Hashmap => "hashmap",
        StateBackendKind::Rocksdb => "rocksdb",
    };
    env.set_state_option("state.backend.type", backend);
    if args.incremental_checkpoints {
        env.set_state_option("execution.checkpointing.incremental", "true");
    }
    if args.unaligned_checkpoints {
        env.set_checkpoint_option("execution.checkpointing.unaligned.enabled", "true");
    }
    if let Some(path) = &resume_from {
        env.restore_from(path);
    }
    let malformed = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&malformed);
    let per_second = args.records_per_second;
    let mut throttle = per_second.map(|per_second| Throttle {
        per_second,
        started: None,
        seen: 0,
    });
    let parsed = env
        .read_text_file(&args.input)
        .uid("lines")
        .set_parallelism(1)
        .flat_map(move |line: String, out: &mut Collector<'_, Count>| {
            if let Some(throttle) = throttle.as_mut() {
                throttle.pass();
            }
            match parse_line(&line) {
                Ok((key, value)) => out.collect((key, 1, i128::from(value))),
                Err(reason) => {
                    counter.fetch_add(1, Ordering::Relaxed);
                    eprintln!("skipping malformed line: {reason}: {line:?}");
                }
            }
        })
        .uid("parse")
        .set_parallelism(1);
    // Ordered, so each key's records keep their order (and its running counts their values).
    let looked_up = match args.async_lookup_max_ms {
        Some(max_ms) => parsed
            .async_map(
                move |count: Count| lookup(count, max_ms),
                AsyncOptions::ordered(Duration::from_millis(max_ms + 10_000), 100),
            )
            .uid("lookup")
            .set_parallelism(1),
        None => parsed,
    };
    looked_up
        .key_by(|(key, _, _): &Count| key.clone())
        .reduce(|a: Count, b: Count| (a.0, a.1 + b.1, a.2 + b.2))
        .uid("counts")
        .map(|(key, count, sum): Count| format!("{key},{count},{sum}"))
        .uid("format")
        .sink_to_committing(ExactlyOnceFileSink::new(&args.output_dir, TextEncoder))
        .uid("files");
    env.execute("Exactly-once counts")
        .map_err(|e| e.to_string())?;
    Ok(malformed.load(Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_as_key_and_integer_value() {
        assert_eq!(parse_line("a,5"), Ok(("a".to_string(), 5)));
        assert_eq!(parse_line("a b,-7"), Ok(("a b".to_string(), -7)));
        assert!(parse_line("a").is_err());
        assert!(parse_line("a,1,2").is_err());
        assert!(parse_line("a,x").is_err());
    }
}
