//! Checkpointing: the configuration, each task's line to the checkpoint coordinator, the
//! coordinator itself, and the source split assigner whose state makes sources replayable.
//!
//! The protocol is Flink's asynchronous barrier snapshotting. The coordinator triggers
//! checkpoint `n` at the sources; each source snapshots its reader's splits (with positions)
//! and emits barrier `n` into its outputs. Every task aligns the barrier over its inputs
//! (exactly-once) or counts it (at-least-once), snapshots its chain, acknowledges to the
//! coordinator with the snapshot and forwards the barrier. When every task acknowledged, the
//! coordinator writes the checkpoint, declares it complete and notifies every task, which is
//! when two-phase-commit sinks commit. When bounded sources end they wait for one final
//! checkpoint, so everything they produced is committed before the job finishes.

mod config;
mod coordinator;
mod counters;
mod restart;
mod shared_files;
mod split_assigner;
mod task_line;

pub use config::{CheckpointConfig, CheckpointingMode};
pub use coordinator::{
    CheckpointStats, CoordinatorHandle, CoordinatorRequest, CoordinatorSetup, CoordinatorTask,
    SavepointFailure, SavepointRequest, SubtaskCheckpointStats, request_savepoint,
};
pub use counters::CheckpointCounters;
pub use restart::{RestartStrategy, RestartTracker};
pub use split_assigner::{SOURCE_SPLITS_STATE, SplitAssigner};
pub use task_line::{Mailbox, TaskCheckpoints, TaskId, TaskMessage, TaskPost, TaskReport};

use sluice_state::storage::{checkpoint_id_of, job_location};
use sluice_state::{CheckpointMetadata, CheckpointStorage, RestoredCheckpoint};

use crate::job_id::JobId;

/// Where a job resumes from, as a path names it.
enum RestorePoint {
    /// One checkpoint or savepoint: in the storage's own directory (`None`: moved or renamed,
    /// holding `_metadata`), or its `chk-<id>`.
    Exact(CheckpointStorage, Option<u64>),
    /// The newest checkpoint of a job's checkpoint directory; with an id, it must have
    /// been written by that job.
    Latest(CheckpointStorage, Option<JobId>),
}

/// Reads what `path` names for job `job_id`: a checkpoint or savepoint directory (holding
/// `_metadata`, under any name: they are relocatable) or a `chk-<id>` directory (restored
/// whichever job wrote it: the user named it); a checkpoint directory shared by jobs (this
/// job's own latest checkpoint, in `<path>/<job id>/`); or one job's checkpoint directory
/// (its newest checkpoint). A corrupt newest checkpoint is an error, never skipped.
fn locate(path: &str, job_id: JobId) -> Result<RestorePoint, String> {
    let trimmed = path.trim_end_matches('/');
    let local = trimmed.strip_prefix("file://").unwrap_or(trimmed);
    let is_local = !local.contains("://");
    let open = |location: &str| CheckpointStorage::open(location).map_err(|e| e.to_string());
    if is_local && std::path::Path::new(local).join("_metadata").exists() {
        return Ok(RestorePoint::Exact(open(trimmed)?, None));
    }
    let (parent, name) = trimmed.rsplit_once('/').unwrap_or((".", trimmed));
    if let Some(id) = checkpoint_id_of(name) {
        return Ok(RestorePoint::Exact(open(parent)?, Some(id)));
    }
    let own = job_location(trimmed, &job_id.to_string());
    let has_own = if is_local {
        std::path::Path::new(&job_location(local, &job_id.to_string())).is_dir()
    } else {
        !open(&own)?
            .completed()
            .map_err(|e| e.to_string())?
            .is_empty()
    };
    if has_own {
        return Ok(RestorePoint::Latest(open(&own)?, Some(job_id)));
    }
    if is_local && !std::path::Path::new(local).is_dir() {
        return Err(format!(
            "{}: the directory does not exist",
            no_checkpoint(path)
        ));
    }
    Ok(RestorePoint::Latest(open(trimmed)?, None))
}

/// Refuses a checkpoint another job wrote where this job's own was looked for.
fn check_owner(metadata: &CheckpointMetadata, owner: Option<JobId>) -> Result<(), String> {
    match owner {
        Some(id) if metadata.job_id != id.to_string() => Err(format!(
            "checkpoint {} was written by job {}, not by this job ({id})",
            metadata.checkpoint_id, metadata.job_id
        )),
        _ => Ok(()),
    }
}

/// Says that `path` holds no checkpoint to restore, naming the jobs whose checkpoints it holds.
fn no_checkpoint(path: &str) -> String {
    let local = path.strip_prefix("file://").unwrap_or(path);
    let mut jobs: Vec<String> = std::fs::read_dir(local)
        .map(|dir| {
            dir.flatten()
                .filter_map(|entry| entry.file_name().into_string().ok())
                .filter(|name| name.parse::<JobId>().is_ok())
                .collect()
        })
        .unwrap_or_default();
    jobs.sort();
    if jobs.is_empty() {
        format!("no completed checkpoint in '{path}'")
    } else {
        format!(
            "no completed checkpoint of this job in '{path}'; it holds the checkpoints of jobs {}: to restore another job's, name its directory or one of its chk-<n>",
            jobs.join(", ")
        )
    }
}

/// Reads the checkpoint job `job_id` resumes from when told to restore from `path` (see
/// [`resolve_restore_point`] for what a path may name).
pub fn read_restore_point(path: &str, job_id: JobId) -> Result<RestoredCheckpoint, String> {
    match locate(path, job_id)? {
        RestorePoint::Exact(storage, None) => storage.read_here().map_err(|e| e.to_string()),
        RestorePoint::Exact(storage, Some(id)) => storage.read(id).map_err(|e| e.to_string()),
        RestorePoint::Latest(storage, owner) => {
            let checkpoint = storage
                .latest()
                .map_err(|e| e.to_string())?
                .ok_or_else(|| no_checkpoint(path))?;
            check_owner(&checkpoint.metadata, owner)?;
            Ok(checkpoint)
        }
    }
}

/// The exact checkpoint job `job_id` resumes from when told to restore from `path`, once, so
/// that every worker of an attempt restores the same one: a checkpoint or savepoint directory
/// (holding `_metadata`, under any name) or a `chk-<id>` directory as named; for a checkpoint
/// directory shared by jobs, this job's own newest checkpoint (`<path>/<job id>/chk-<n>`);
/// for one job's checkpoint directory, its newest checkpoint (verified: a corrupt one is an
/// error naming an older intact one, never skipped). Returns the path and the
/// checkpoint's metadata.
pub fn resolve_restore_point(
    path: &str,
    job_id: JobId,
) -> Result<(String, CheckpointMetadata), String> {
    match locate(path, job_id)? {
        RestorePoint::Exact(storage, None) => {
            let metadata = storage.read_metadata_here().map_err(|e| e.to_string())?;
            Ok((path.trim_end_matches('/').to_string(), metadata))
        }
        RestorePoint::Exact(storage, Some(id)) => {
            let metadata = storage.read_metadata(id).map_err(|e| e.to_string())?;
            Ok((path.trim_end_matches('/').to_string(), metadata))
        }
        RestorePoint::Latest(storage, owner) => {
            newest(&storage, owner)?.ok_or_else(|| no_checkpoint(path))
        }
    }
}

/// The newest checkpoint job `job_id` wrote under the checkpoint directory `base`, as
/// the exact path of its `chk-<n>` directory; `None` when it has none.
pub fn latest_checkpoint_of(base: &str, job_id: JobId) -> Result<Option<String>, String> {
    let own = job_location(base, &job_id.to_string());
    let local = own.strip_prefix("file://").unwrap_or(&own);
    if !local.contains("://") && !std::path::Path::new(local).is_dir() {
        return Ok(None);
    }
    let storage = CheckpointStorage::open(&own).map_err(|e| e.to_string())?;
    newest(&storage, Some(job_id)).map(|found| found.map(|(path, _)| path))
}

/// The newest checkpoint in `storage`, verified (written by `owner`, when given): its exact path
/// and metadata.
fn newest(
    storage: &CheckpointStorage,
    owner: Option<JobId>,
) -> Result<Option<(String, CheckpointMetadata)>, String> {
    let Some(metadata) = storage.latest_verified().map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    check_owner(&metadata, owner)?;
    let exact = format!(
        "{}/{}",
        storage.location().trim_end_matches('/'),
        sluice_state::storage::checkpoint_dir_name(metadata.checkpoint_id)
    );
    Ok(Some((exact, metadata)))
}
