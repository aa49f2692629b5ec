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
mod restart;
mod shared_files;
mod split_assigner;
mod task_line;

pub use config::{CheckpointConfig, CheckpointingMode, parse_duration, parse_memory_size};
pub use coordinator::{
    CheckpointStats, Coordinator, CoordinatorRequest, CoordinatorTask, SavepointFailure,
    SavepointRequest, request_savepoint,
};
pub use restart::{RestartStrategy, RestartTracker};
pub use split_assigner::{SOURCE_SPLITS_STATE, SplitAssigner};
pub use task_line::{Mailbox, TaskCheckpoints, TaskId, TaskMessage, TaskPost, TaskReport};

use sluice_state::{CheckpointStorage, RestoredCheckpoint};

/// Reads the checkpoint a job resumes from: `path` is a checkpoint or savepoint directory
/// (holding `_metadata`, under any name: they are relocatable), a `chk-<id>` directory, or a
/// checkpoint directory (its latest intact checkpoint; corrupt ones are skipped with a
/// warning).
pub fn read_restore_point(path: &str) -> Result<RestoredCheckpoint, String> {
    let trimmed = path.trim_end_matches('/');
    if std::path::Path::new(trimmed.strip_prefix("file://").unwrap_or(trimmed))
        .join("_metadata")
        .exists()
    {
        let storage = CheckpointStorage::open(trimmed).map_err(|e| e.to_string())?;
        return storage.read_here().map_err(|e| e.to_string());
    }
    let (parent, name) = trimmed.rsplit_once('/').unwrap_or((".", trimmed));
    if let Some(id) = sluice_state::storage::checkpoint_id_of(name) {
        let storage = CheckpointStorage::open(parent).map_err(|e| e.to_string())?;
        return storage.read(id).map_err(|e| e.to_string());
    }
    let storage = CheckpointStorage::open(trimmed).map_err(|e| e.to_string())?;
    storage
        .latest()
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no completed checkpoint in '{path}'"))
}
