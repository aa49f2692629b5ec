//! What a checkpoint is made of, as storage writes and reads it: the metadata of a checkpoint
//! and of each operator in it, and the snapshots read back.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::snapshot::OperatorSnapshot;

/// The snapshots of one task's operators, by operator uid.
pub type TaskSnapshot = BTreeMap<String, OperatorSnapshot>;

/// Where one operator's state is in a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorMetadata {
    /// The operator's parallelism when the checkpoint was taken.
    pub parallelism: usize,
    /// Its max parallelism (number of key groups).
    pub max_parallelism: usize,
    /// Per subtask, the file holding its state.
    pub subtask_files: Vec<String>,
}

/// What `_metadata` records about a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointMetadata {
    /// The checkpoint's id.
    pub checkpoint_id: u64,
    /// When it was triggered (ms since the Unix epoch).
    pub timestamp: i64,
    /// The id of the job that wrote it (32 hex digits).
    pub job_id: String,
    /// The job's name.
    pub job_name: String,
    /// Every operator's state files, by uid.
    pub operators: BTreeMap<String, OperatorMetadata>,
    /// The files under `shared/` the checkpoint refers to (filled in when it is written).
    pub shared: BTreeSet<String>,
}

/// A checkpoint read back: every operator's snapshots, one per old subtask.
#[derive(Debug, Clone)]
pub struct RestoredCheckpoint {
    /// Its metadata.
    pub metadata: CheckpointMetadata,
    /// Per operator uid, the snapshot of each old subtask.
    pub operators: BTreeMap<String, Vec<OperatorSnapshot>>,
}

/// What writing a checkpoint stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenCheckpoint {
    /// The bytes written (new shared files, task files and metadata).
    pub bytes: u64,
    /// Of those, each task file's, with the new shared files its snapshot uploaded, in the
    /// order of the task files given.
    pub task_bytes: Vec<u64>,
    /// The shared files the checkpoint refers to, as its metadata lists them.
    pub shared: BTreeSet<String>,
}
