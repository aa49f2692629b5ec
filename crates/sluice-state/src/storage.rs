//! Checkpoint storage: completed checkpoints written through `object_store`, one directory per
//! job and one per checkpoint, laid out as Flink lays them out.
//!
//! Layout under the checkpoint directory (Flink's `execution.checkpointing.dir`):
//!
//! ```text
//! <job id>/chk-<n>/task-<vertex>-<subtask>.state   one task's snapshot: every operator of its chain
//! <job id>/chk-<n>/_metadata                       written last: the checkpoint exists once it does
//! <job id>/shared/<name>                           files of incremental checkpoints (RocksDB's SST
//!                                                  files), shared between checkpoints
//! <job id>/taskowned/                              Flink's place for state tasks own (none yet)
//! ```
//!
//! and under a savepoint directory, `savepoint-<job id prefix>-<random>/` holding `_metadata` and
//! the task files. Jobs sharing a checkpoint directory never see each other's checkpoints, and
//! `_metadata` names the job that wrote it.
//!
//! Every file is `magic (4 bytes) | format version (u32 LE) | postcard payload | CRC-32 of all
//! before it (u32 LE)`, so a truncated or corrupt file is detected before anything in it is
//! used. `_metadata` names, for every operator uid, its parallelism, max parallelism and the
//! file holding each subtask's state; restoring at another parallelism reads all of them.
//! It also lists the shared files the checkpoint refers to: a shared file is deleted once no
//! retained checkpoint lists it (see [`CheckpointStorage::collect_garbage`]). File names read
//! from a checkpoint are plain names (no separators, no `..`): a crafted `_metadata` cannot
//! reach files outside its checkpoint.
//!
//! In a local directory every file is fsynced, and so is the directory that holds it, before
//! the checkpoint counts as written: a completed checkpoint survives a power loss.
//!
//! Versions: 2 added shared files; 3 added the in-flight data of unaligned checkpoints to
//! every operator snapshot; 4 added the job id. A file of another version is refused with
//! both versions named.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use sluice_core::durable::sync_path;

use crate::native::NativeKeyedState;
use crate::snapshot::OperatorSnapshot;

/// The snapshots of one task's operators, by operator uid.
pub type TaskSnapshot = BTreeMap<String, OperatorSnapshot>;

/// The version of the file format this build writes and reads.
pub const FORMAT_VERSION: u32 = 4;

const STATE_MAGIC: &[u8; 4] = b"SLCS";
const METADATA_MAGIC: &[u8; 4] = b"SLCM";
const METADATA_FILE: &str = "_metadata";
const SHARED_DIR: &str = "shared";
const TASK_OWNED_DIR: &str = "taskowned";

/// Why checkpoint storage failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The checkpoint directory is not usable.
    #[error("checkpoint storage '{location}': {message}")]
    Location {
        /// The directory or URL.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("checkpoint file '{file}': {message}")]
    Io {
        /// The file.
        file: String,
        /// The store's message.
        message: String,
    },
    /// A file is truncated, corrupt or of another format.
    #[error("checkpoint file '{file}' is corrupt: {message}")]
    Corrupt {
        /// The file.
        file: String,
        /// What the check found.
        message: String,
    },
    /// The newest completed checkpoint cannot be restored; recovery does not fall back on its
    /// own (see [`CheckpointStorage::latest`]).
    #[error(
        "the newest checkpoint, {location}/chk-{id}, cannot be restored: {cause}. Recovery does \
         not go back to an older checkpoint by itself: sinks may have committed output after \
         it, which restoring an older one writes again. {older}"
    )]
    NewestUnusable {
        /// The job's checkpoint directory.
        location: String,
        /// The checkpoint's id.
        id: u64,
        /// Why it cannot be restored.
        cause: Box<StorageError>,
        /// What the user can do instead.
        older: String,
    },
}

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
    /// The shared files the checkpoint refers to, as its metadata lists them.
    pub shared: BTreeSet<String>,
}

/// Completed checkpoints under one directory.
pub struct CheckpointStorage {
    store: Arc<dyn ObjectStore>,
    location: String,
    /// The directory, for a local store (emptied checkpoint directories are removed).
    local_root: Option<std::path::PathBuf>,
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for CheckpointStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CheckpointStorage({})", self.location)
    }
}

/// The directory of checkpoint `id`.
pub fn checkpoint_dir_name(id: u64) -> String {
    format!("chk-{id}")
}

/// The checkpoint id a directory named `name` holds, if it is a `chk-<id>` directory.
pub fn checkpoint_id_of(name: &str) -> Option<u64> {
    name.strip_prefix("chk-")?.parse().ok()
}

/// The directory of job `job_id`'s checkpoints under the checkpoint directory `base` (a path
/// or URL).
pub fn job_location(base: &str, job_id: &str) -> String {
    format!("{}/{job_id}", base.trim_end_matches('/'))
}

/// Checks that `name`, read from a checkpoint, is a plain file name: not empty, no path
/// separator, not `.` or `..`, no NUL. Joined to a directory, it stays inside it.
pub fn check_file_name(name: &str) -> Result<(), String> {
    let plain =
        !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0']);
    if plain {
        Ok(())
    } else {
        Err(format!(
            "'{}' is not a plain file name",
            name.escape_debug()
        ))
    }
}

impl CheckpointStorage {
    /// Storage under `location`: a directory path or a `file://` URL (created if missing), or
    /// an `s3://bucket/prefix` URL (credentials, region and endpoint from the standard `AWS_*`
    /// environment variables, e.g. `AWS_ENDPOINT` and `AWS_ALLOW_HTTP=true` for a local
    /// S3-compatible server).
    pub fn open(location: &str) -> Result<Self, StorageError> {
        let fail = |message: String| StorageError::Location {
            location: location.to_string(),
            message,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| fail(format!("cannot start the I/O runtime: {e}")))?;
        let path = match location.split_once("://") {
            None => location,
            Some(("file", path)) => path,
            Some(("s3", rest)) => {
                return Ok(CheckpointStorage {
                    store: s3_store(rest).map_err(fail)?,
                    location: location.to_string(),
                    local_root: None,
                    runtime,
                });
            }
            Some((scheme, _)) => {
                return Err(fail(format!(
                    "the '{scheme}://' scheme is not supported (use a directory, file:// or s3://)"
                )));
            }
        };
        std::fs::create_dir_all(path).map_err(|e| fail(e.to_string()))?;
        let store = LocalFileSystem::new_with_prefix(path).map_err(|e| fail(e.to_string()))?;
        Ok(CheckpointStorage {
            store: Arc::new(store),
            location: location.to_string(),
            local_root: Some(std::path::PathBuf::from(path)),
            runtime,
        })
    }

    /// The checkpoints of job `job_id` under the checkpoint directory `base`
    /// (`<base>/<job id>/`); in a local directory, its `shared/` and `taskowned/` folders are
    /// created as Flink creates them.
    pub fn open_job(base: &str, job_id: &str) -> Result<Self, StorageError> {
        check_file_name(job_id).map_err(|message| StorageError::Location {
            location: base.to_string(),
            message: format!("job id: {message}"),
        })?;
        let storage = Self::open(&job_location(base, job_id))?;
        if let Some(root) = &storage.local_root {
            for dir in [SHARED_DIR, TASK_OWNED_DIR] {
                std::fs::create_dir_all(root.join(dir)).map_err(|e| StorageError::Location {
                    location: storage.location.clone(),
                    message: format!("cannot create {dir}/: {e}"),
                })?;
            }
            // The job's directory entry itself must survive a power loss.
            if let Some(parent) = root.parent() {
                sync_path(parent).map_err(|e| Self::io(&Path::from(job_id), e))?;
            }
            sync_path(root).map_err(|e| Self::io(&Path::from(job_id), e))?;
        }
        Ok(storage)
    }

    /// The directory or URL this storage was opened on.
    pub fn location(&self) -> &str {
        &self.location
    }

    fn io(file: &Path, error: impl std::fmt::Display) -> StorageError {
        StorageError::Io {
            file: file.to_string(),
            message: error.to_string(),
        }
    }

    /// Stores `bytes` as `path`; in a local directory the file is fsynced (its directory is
    /// synced by [`CheckpointStorage::sync_dir`]).
    fn put(&self, path: &Path, bytes: Vec<u8>) -> Result<(), StorageError> {
        self.runtime
            .block_on(self.store.put(path, PutPayload::from(bytes)))
            .map_err(|e| Self::io(path, e))?;
        self.sync(path)
    }

    /// Fsyncs file or directory `path` (`""`: the root) of a local store; a no-op elsewhere
    /// (object stores make a completed upload durable themselves).
    fn sync(&self, path: &Path) -> Result<(), StorageError> {
        match &self.local_root {
            Some(root) => sync_path(&root.join(path.as_ref())).map_err(|e| Self::io(path, e)),
            None => Ok(()),
        }
    }

    /// Fsyncs directory `dir` (`""`: the root) of a local store, so the entries made in it
    /// (new files, renames, links) survive a power loss.
    fn sync_dir(&self, dir: &str) -> Result<(), StorageError> {
        self.sync(&Path::from(dir))
    }

    fn get(&self, path: &Path) -> Result<Vec<u8>, StorageError> {
        self.runtime
            .block_on(async { self.store.get(path).await?.bytes().await })
            .map(|bytes| bytes.to_vec())
            .map_err(|e| Self::io(path, e))
    }

    /// Stores local `file` as shared file `name`; returns its size. Into a local directory on
    /// the same file system it is hard-linked (shared files are immutable, and so are the
    /// database files they come from), elsewhere copied. A worker on a cluster stores its new
    /// shared files itself, before its snapshot travels to the JobManager.
    pub fn upload_shared(&self, name: &str, file: &std::path::Path) -> Result<u64, StorageError> {
        let path = Path::from(format!("{SHARED_DIR}/{name}"));
        check_file_name(name).map_err(|e| Self::io(&path, e))?;
        if let Some(target) = self.local_shared_path(name) {
            let linked = target
                .parent()
                .is_some_and(|dir| std::fs::create_dir_all(dir).is_ok())
                && std::fs::hard_link(file, &target).is_ok();
            if linked {
                self.sync(&path)?;
                return std::fs::metadata(&target)
                    .map(|m| m.len())
                    .map_err(|e| Self::io(&path, e));
            }
        }
        let contents = std::fs::read(file).map_err(|e| Self::io(&path, e))?;
        let size = contents.len() as u64;
        self.put(&path, contents)?;
        Ok(size)
    }

    /// Writes checkpoint `metadata.checkpoint_id` into `chk-<id>/`: the new shared files,
    /// every task's file, then `_metadata` (so a checkpoint interrupted while written is never
    /// taken for a complete one). Shared files it refers to from earlier checkpoints must still
    /// exist.
    pub fn write(
        &self,
        metadata: &CheckpointMetadata,
        task_files: &[(String, TaskSnapshot)],
    ) -> Result<WrittenCheckpoint, StorageError> {
        self.write_in(
            &checkpoint_dir_name(metadata.checkpoint_id),
            metadata,
            task_files,
        )
    }

    /// Writes a savepoint into directory `name` of this storage (a savepoint directory), as
    /// [`CheckpointStorage::write`] writes a checkpoint.
    pub fn write_savepoint(
        &self,
        name: &str,
        metadata: &CheckpointMetadata,
        task_files: &[(String, TaskSnapshot)],
    ) -> Result<WrittenCheckpoint, StorageError> {
        check_file_name(name).map_err(|e| Self::io(&Path::from(name), e))?;
        self.write_in(name, metadata, task_files)
    }

    fn write_in(
        &self,
        dir: &str,
        metadata: &CheckpointMetadata,
        task_files: &[(String, TaskSnapshot)],
    ) -> Result<WrittenCheckpoint, StorageError> {
        let mut bytes = 0;
        let mut metadata = metadata.clone();
        let shared_files = task_files
            .iter()
            .flat_map(|(_, task)| task.values())
            .flat_map(|operator| operator.keyed.native())
            .flat_map(|native| &native.shared);
        for shared in shared_files {
            let path = Path::from(format!("{SHARED_DIR}/{}", shared.stored_name));
            match &shared.upload {
                Some(local) => bytes += self.upload_shared(&shared.stored_name, local.path())?,
                None => {
                    self.runtime.block_on(self.store.head(&path)).map_err(|e| {
                        Self::io(&path, format!("an earlier checkpoint's file: {e}"))
                    })?;
                }
            }
            metadata.shared.insert(shared.stored_name.clone());
        }
        for (file, snapshot) in task_files {
            let path = Path::from(format!("{dir}/{file}"));
            if snapshot
                .values()
                .any(|operator| operator.keyed.is_deferred())
            {
                return Err(StorageError::Io {
                    file: path.to_string(),
                    message: "a snapshot's deferred entries were not materialized".into(),
                });
            }
            let encoded = encode_file(STATE_MAGIC, snapshot, &path)?;
            bytes += encoded.len() as u64;
            self.put(&path, encoded)?;
        }
        // Everything `_metadata` refers to is durable before it is written.
        if !metadata.shared.is_empty() {
            self.sync_dir(SHARED_DIR)?;
        }
        self.sync_dir(dir)?;
        self.sync_dir("")?;
        let path = Path::from(format!("{dir}/{METADATA_FILE}"));
        let encoded = encode_file(METADATA_MAGIC, &metadata, &path)?;
        bytes += encoded.len() as u64;
        self.put(&path, encoded)?;
        self.sync_dir(dir)?;
        Ok(WrittenCheckpoint {
            bytes,
            shared: metadata.shared,
        })
    }

    /// The ids of the checkpoints with a `_metadata` file, in increasing order.
    pub fn completed(&self) -> Result<Vec<u64>, StorageError> {
        let listing = self
            .runtime
            .block_on(self.store.list_with_delimiter(None))
            .map_err(|e| StorageError::Location {
                location: self.location.clone(),
                message: e.to_string(),
            })?;
        let mut ids = Vec::new();
        for dir in listing.common_prefixes {
            let name = dir.filename().unwrap_or_default().to_string();
            let Some(id) = checkpoint_id_of(&name) else {
                continue;
            };
            let metadata = Path::from(format!("{name}/{METADATA_FILE}"));
            if self.runtime.block_on(self.store.head(&metadata)).is_ok() {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        Ok(ids)
    }

    /// Reads checkpoint `id`, checking every file.
    pub fn read(&self, id: u64) -> Result<RestoredCheckpoint, StorageError> {
        self.read_in(&format!("{}/", checkpoint_dir_name(id)), &self.location)
    }

    /// Reads the checkpoint whose files are at the top of this storage's directory — a
    /// checkpoint or savepoint directory moved or renamed (savepoints are relocatable;
    /// incremental checkpoints read their shared files from the parent directory).
    pub fn read_here(&self) -> Result<RestoredCheckpoint, StorageError> {
        let trimmed = self.location.trim_end_matches('/');
        let parent = match trimmed.rsplit_once('/') {
            Some(("", _)) => "/",
            Some((parent, _)) => parent,
            None => ".",
        };
        self.read_in("", parent)
    }

    /// The metadata of the checkpoint at the top of this storage's directory (see
    /// [`CheckpointStorage::read_here`]).
    pub fn read_metadata_here(&self) -> Result<CheckpointMetadata, StorageError> {
        self.read_metadata_in("")
    }

    /// The metadata of checkpoint `id`.
    pub fn read_metadata(&self, id: u64) -> Result<CheckpointMetadata, StorageError> {
        self.read_metadata_in(&format!("{}/", checkpoint_dir_name(id)))
    }

    /// The metadata in `dir` (`""` or ending in `/`), its file names checked.
    fn read_metadata_in(&self, dir: &str) -> Result<CheckpointMetadata, StorageError> {
        let path = Path::from(format!("{dir}{METADATA_FILE}"));
        let metadata: CheckpointMetadata = decode_file(METADATA_MAGIC, &self.get(&path)?, &path)?;
        let names = metadata
            .operators
            .values()
            .flat_map(|operator| &operator.subtask_files)
            .chain(&metadata.shared);
        for name in names {
            check_file_name(name).map_err(|message| StorageError::Corrupt {
                file: path.to_string(),
                message,
            })?;
        }
        Ok(metadata)
    }

    /// Checks checkpoint `id` without decoding its state: its metadata, the envelope and
    /// checksum of every task file, and that every shared file it refers to exists. Returns
    /// its metadata. Reads one file at a time.
    pub fn verify(&self, id: u64) -> Result<CheckpointMetadata, StorageError> {
        let dir = checkpoint_dir_name(id);
        let metadata = self.read_metadata(id)?;
        let files: BTreeSet<&String> = metadata
            .operators
            .values()
            .flat_map(|operator| &operator.subtask_files)
            .collect();
        for file in files {
            let path = Path::from(format!("{dir}/{file}"));
            check_envelope(STATE_MAGIC, &self.get(&path)?, &path)?;
        }
        for name in &metadata.shared {
            let path = Path::from(format!("{SHARED_DIR}/{name}"));
            self.runtime
                .block_on(self.store.head(&path))
                .map_err(|e| Self::io(&path, e))?;
        }
        Ok(metadata)
    }

    /// The metadata of the newest completed checkpoint, once it
    /// [verifies](CheckpointStorage::verify); `None` when there is none; an error when it does
    /// not verify, as for [`CheckpointStorage::latest`].
    pub fn latest_verified(&self) -> Result<Option<CheckpointMetadata>, StorageError> {
        self.newest(|id| self.verify(id))
    }

    /// Where shared file `name` is on the local disk, for storage in a local directory (a
    /// restore can link or copy it instead of reading it through the store).
    pub fn local_shared_path(&self, name: &str) -> Option<std::path::PathBuf> {
        Some(self.local_root.as_ref()?.join(SHARED_DIR).join(name))
    }

    /// The contents of shared file `name`.
    pub fn read_shared(&self, name: &str) -> Result<Vec<u8>, StorageError> {
        let path = Path::from(format!("{SHARED_DIR}/{name}"));
        check_file_name(name).map_err(|e| Self::io(&path, e))?;
        self.get(&path)
    }

    /// Deletes the shared files that were already unreferenced at the previous call
    /// (`doomed`) and still are (not in `referenced`: the files of every retained checkpoint
    /// and of checkpoints in flight); then marks the now unreferenced ones for the next call.
    /// The delay keeps files a checkpoint in flight may still refer to. Returns how many files
    /// were deleted.
    pub fn collect_garbage(
        &self,
        referenced: &BTreeSet<String>,
        doomed: &mut BTreeSet<String>,
    ) -> Result<usize, StorageError> {
        let dir = Path::from(SHARED_DIR);
        let listed: Vec<_> = self
            .runtime
            .block_on(self.store.list(Some(&dir)).try_collect::<Vec<_>>())
            .map_err(|e| Self::io(&dir, e))?;
        let mut deleted = 0;
        let mut unreferenced = BTreeSet::new();
        for file in listed {
            let Some(name) = file.location.filename().map(str::to_string) else {
                continue;
            };
            if referenced.contains(&name) {
                continue;
            }
            if doomed.contains(&name) {
                self.runtime
                    .block_on(self.store.delete(&file.location))
                    .map_err(|e| Self::io(&file.location, e))?;
                deleted += 1;
            } else {
                unreferenced.insert(name);
            }
        }
        *doomed = unreferenced;
        Ok(deleted)
    }

    /// Reads the checkpoint whose files are under `dir` (`""` or ending in `/`), its shared
    /// files under `shared_root`.
    fn read_in(&self, dir: &str, shared_root: &str) -> Result<RestoredCheckpoint, StorageError> {
        let metadata = self.read_metadata_in(dir)?;
        let mut files: BTreeMap<String, TaskSnapshot> = BTreeMap::new();
        let mut operators = BTreeMap::new();
        for (uid, operator) in &metadata.operators {
            let mut subtasks = Vec::with_capacity(operator.subtask_files.len());
            for file in &operator.subtask_files {
                if !files.contains_key(file) {
                    let path = Path::from(format!("{dir}{file}"));
                    let snapshot: TaskSnapshot =
                        decode_file(STATE_MAGIC, &self.get(&path)?, &path)?;
                    check_native_names(&snapshot).map_err(|message| StorageError::Corrupt {
                        file: path.to_string(),
                        message,
                    })?;
                    files.insert(file.clone(), snapshot);
                }
                let mut snapshot = files
                    .get(file)
                    .and_then(|task| task.get(uid))
                    .cloned()
                    .unwrap_or_default();
                for native in snapshot.keyed.native_mut() {
                    native.shared_root = Some(shared_root.to_string());
                }
                subtasks.push(snapshot);
            }
            operators.insert(uid.clone(), subtasks);
        }
        Ok(RestoredCheckpoint {
            metadata,
            operators,
        })
    }

    /// The newest completed checkpoint, read back and checked; `None` when there is none. When
    /// it is corrupt this is an error (see [`StorageError::NewestUnusable`]): falling back to an
    /// older checkpoint would make exactly-once sinks write again what they committed since.
    pub fn latest(&self) -> Result<Option<RestoredCheckpoint>, StorageError> {
        self.newest(|id| self.read(id))
    }

    /// What `read` gives for the newest completed checkpoint; `None` when there is none. A
    /// newest checkpoint that fails is an error, never skipped: it names the newest older
    /// checkpoint that verifies, for the user to restore explicitly if they accept that output
    /// committed after it is written again.
    fn newest<T>(
        &self,
        read: impl Fn(u64) -> Result<T, StorageError>,
    ) -> Result<Option<T>, StorageError> {
        let completed = self.completed()?;
        let Some(&id) = completed.last() else {
            return Ok(None);
        };
        read(id).map(Some).map_err(|cause| {
            let location = self.location.trim_end_matches('/').to_string();
            let older = completed
                .iter()
                .rev()
                .skip(1)
                .find(|older| self.verify(**older).is_ok());
            let older = match older {
                Some(older) => format!(
                    "The older retained checkpoint {location}/chk-{older} is intact: to accept \
                     the repeated output, restore it explicitly (sluice run -s PATH, or \
                     restore_from)."
                ),
                None => "No older intact checkpoint is retained \
                         (state.checkpoints.num-retained)."
                    .to_string(),
            };
            StorageError::NewestUnusable {
                location,
                id,
                cause: Box::new(cause),
                older,
            }
        })
    }

    /// Deletes checkpoint `id` (metadata first, so it is never half-present as complete).
    pub fn discard(&self, id: u64) -> Result<(), StorageError> {
        let dir = Path::from(checkpoint_dir_name(id));
        let metadata = Path::from(format!("{}/{METADATA_FILE}", checkpoint_dir_name(id)));
        let _ = self.runtime.block_on(self.store.delete(&metadata));
        let files: Vec<_> = self
            .runtime
            .block_on(self.store.list(Some(&dir)).try_collect::<Vec<_>>())
            .map_err(|e| Self::io(&dir, e))?;
        for file in files {
            self.runtime
                .block_on(self.store.delete(&file.location))
                .map_err(|e| Self::io(&file.location, e))?;
        }
        if let Some(root) = &self.local_root {
            let _ = std::fs::remove_dir(root.join(checkpoint_dir_name(id)));
        }
        Ok(())
    }
}

/// The store of `bucket/prefix` in S3, configured from the environment.
fn s3_store(bucket_and_prefix: &str) -> Result<Arc<dyn ObjectStore>, String> {
    let (bucket, prefix) = bucket_and_prefix
        .split_once('/')
        .unwrap_or((bucket_and_prefix, ""));
    if bucket.is_empty() {
        return Err("an s3:// location needs a bucket: s3://bucket/prefix".into());
    }
    let store = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .build()
        .map_err(|e| e.to_string())?;
    let prefix = prefix.trim_matches('/');
    Ok(if prefix.is_empty() {
        Arc::new(store)
    } else {
        Arc::new(PrefixStore::new(store, prefix))
    })
}

fn encode_file<T: Serialize>(
    magic: &[u8; 4],
    value: &T,
    path: &Path,
) -> Result<Vec<u8>, StorageError> {
    let mut bytes = magic.to_vec();
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    let payload = postcard::to_stdvec(value).map_err(|e| StorageError::Io {
        file: path.to_string(),
        message: format!("cannot encode: {e}"),
    })?;
    bytes.extend_from_slice(&payload);
    let checksum = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&checksum.to_le_bytes());
    Ok(bytes)
}

/// Checks the names of the files the natively snapshotted states of `task` refer to.
fn check_native_names(task: &TaskSnapshot) -> Result<(), String> {
    task.values()
        .flat_map(|operator| operator.keyed.native())
        .try_for_each(NativeKeyedState::check_file_names)
}

fn decode_file<T: DeserializeOwned>(
    magic: &[u8; 4],
    bytes: &[u8],
    path: &Path,
) -> Result<T, StorageError> {
    let payload = check_envelope(magic, bytes, path)?;
    postcard::from_bytes(payload).map_err(|e| StorageError::Corrupt {
        file: path.to_string(),
        message: format!("cannot decode: {e}"),
    })
}

/// Checks the length, checksum, magic and version of a file; returns its payload.
fn check_envelope<'a>(
    magic: &[u8; 4],
    bytes: &'a [u8],
    path: &Path,
) -> Result<&'a [u8], StorageError> {
    let corrupt = |message: String| StorageError::Corrupt {
        file: path.to_string(),
        message,
    };
    if bytes.len() < 12 {
        return Err(corrupt(format!("{} bytes is too short", bytes.len())));
    }
    let (body, tail) = bytes.split_at(bytes.len() - 4);
    let stored = u32::from_le_bytes(tail.try_into().expect("4 bytes"));
    let actual = crc32fast::hash(body);
    if stored != actual {
        return Err(corrupt(format!(
            "checksum mismatch (stored {stored:08x}, computed {actual:08x}): truncated or damaged"
        )));
    }
    if &body[..4] != magic {
        return Err(corrupt("not a Sluice checkpoint file of this kind".into()));
    }
    let version = u32::from_le_bytes(body[4..8].try_into().expect("4 bytes"));
    if version != FORMAT_VERSION {
        return Err(corrupt(format!(
            "format version {version}; this build reads version {FORMAT_VERSION}"
        )));
    }
    Ok(&body[8..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::KeyedSnapshot;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("sluice-storage-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn checkpoint(id: u64, value: u8) -> (CheckpointMetadata, Vec<(String, TaskSnapshot)>) {
        let mut keyed = KeyedSnapshot::default();
        keyed.push(3, "count", vec![1], vec![value]);
        let snapshot = OperatorSnapshot {
            keyed,
            ..Default::default()
        };
        let files = vec![
            (
                "task-0-0.state".to_string(),
                TaskSnapshot::from([("op".to_string(), snapshot)]),
            ),
            ("task-0-1.state".to_string(), TaskSnapshot::new()),
        ];
        let metadata = CheckpointMetadata {
            checkpoint_id: id,
            timestamp: 1,
            job_id: "0123456789abcdef0123456789abcdef".into(),
            job_name: "job".into(),
            operators: BTreeMap::from([(
                "op".to_string(),
                OperatorMetadata {
                    parallelism: 2,
                    max_parallelism: 128,
                    subtask_files: vec!["task-0-0.state".into(), "task-0-1.state".into()],
                },
            )]),
            shared: BTreeSet::new(),
        };
        (metadata, files)
    }

    #[test]
    fn checkpoints_round_trip_and_a_corrupt_latest_one_is_an_error() {
        let dir = temp_dir("round-trip");
        let storage = CheckpointStorage::open(&format!("file://{}", dir.display())).unwrap();
        for (id, value) in [(1, 10), (2, 20)] {
            let (metadata, files) = checkpoint(id, value);
            storage.write(&metadata, &files).unwrap();
        }
        assert_eq!(storage.completed().unwrap(), vec![1, 2]);
        let latest = storage.latest().unwrap().unwrap();
        assert_eq!(latest.metadata.checkpoint_id, 2);
        let ops = &latest.operators["op"];
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].keyed.entries("count").next().unwrap().2, &[20]);
        assert!(ops[1].is_empty());

        // Truncate a state file of checkpoint 2: it is detected.
        let file = dir.join("chk-2/task-0-0.state");
        let bytes = std::fs::read(&file).unwrap();
        std::fs::write(&file, &bytes[..bytes.len() - 3]).unwrap();
        let error = storage.read(2).unwrap_err().to_string();
        assert!(
            error.contains("chk-2/task-0-0.state") && error.contains("corrupt"),
            "{error}"
        );
        // No silent fallback: the error names the intact older checkpoint.
        let error = storage.latest().unwrap_err().to_string();
        assert!(
            error.contains("chk-2, cannot be restored")
                && error.contains("task-0-0.state")
                && error.contains(&format!("{}/chk-1 is intact", dir.display())),
            "{error}"
        );

        storage.discard(1).unwrap();
        assert_eq!(storage.completed().unwrap(), vec![2]);
        assert!(!dir.join("chk-1").exists(), "the emptied directory is gone");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn new_shared_files_are_linked_into_a_local_directory_and_survive_their_source() {
        use std::os::unix::fs::MetadataExt;
        let dir = temp_dir("linked");
        let scratch = Arc::new(crate::native::ScratchDir::new(dir.join("scratch")));
        std::fs::create_dir_all(scratch.path()).unwrap();
        std::fs::write(scratch.path().join("000007.sst"), b"sst bytes").unwrap();
        let (metadata, mut files) = checkpoint(1, 9);
        let mut keyed = KeyedSnapshot::default();
        keyed.push_native(crate::native::NativeKeyedState {
            backend: "test".into(),
            key_groups: sluice_core::key_group::KeyGroupRange::for_subtask(128, 1, 0),
            states: vec![],
            shared: vec![crate::native::SharedFile {
                local_name: "000007.sst".into(),
                stored_name: "a-000007.sst".into(),
                size: 9,
                upload: Some(crate::native::LocalFile::new(&scratch, "000007.sst")),
            }],
            private: vec![],
            shared_root: None,
        });
        files[1].1.insert(
            "native".into(),
            OperatorSnapshot {
                keyed,
                ..Default::default()
            },
        );
        let storage = CheckpointStorage::open(dir.join("ckpt").to_str().unwrap()).unwrap();
        let written = storage.write(&metadata, &files).unwrap();
        assert_eq!(written.shared, BTreeSet::from(["a-000007.sst".to_string()]));
        let stored = storage.local_shared_path("a-000007.sst").unwrap();
        let source = scratch.path().join("000007.sst");
        assert_eq!(
            std::fs::metadata(&stored).unwrap().ino(),
            std::fs::metadata(&source).unwrap().ino(),
            "a hard link, not a copy"
        );
        drop(files);
        drop(scratch);
        assert!(!source.exists(), "the scratch directory is gone");
        assert_eq!(storage.read_shared("a-000007.sst").unwrap(), b"sst bytes");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_checkpoint_without_metadata_is_not_complete() {
        let dir = temp_dir("incomplete");
        let storage = CheckpointStorage::open(dir.to_str().unwrap()).unwrap();
        let (metadata, files) = checkpoint(7, 1);
        storage.write(&metadata, &files).unwrap();
        std::fs::remove_file(dir.join("chk-7/_metadata")).unwrap();
        assert!(storage.completed().unwrap().is_empty());
        assert!(storage.latest().unwrap().is_none());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn jobs_get_their_own_directory_laid_out_as_flinks() {
        let dir = temp_dir("job-layout");
        let base = dir.to_str().unwrap();
        let job = "0123456789abcdef0123456789abcdef";
        let storage = CheckpointStorage::open_job(base, job).unwrap();
        assert_eq!(storage.location(), format!("{base}/{job}"));
        let (metadata, files) = checkpoint(3, 1);
        let syncs = sluice_core::durable::syncs_on_this_thread();
        storage.write(&metadata, &files).unwrap();
        // Two task files, their directory and the job's, then `_metadata` and its directory.
        assert_eq!(sluice_core::durable::syncs_on_this_thread() - syncs, 6);
        for path in [
            "shared",
            "taskowned",
            "chk-3/_metadata",
            "chk-3/task-0-0.state",
        ] {
            assert!(dir.join(job).join(path).exists(), "{path}");
        }
        let other = CheckpointStorage::open_job(base, "fedcba9876543210fedcba9876543210").unwrap();
        assert!(
            other.completed().unwrap().is_empty(),
            "another job sees none of them"
        );
        assert!(CheckpointStorage::open_job(base, "../escape").is_err());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn savepoints_are_written_into_their_own_named_directory() {
        let dir = temp_dir("savepoint");
        let storage = CheckpointStorage::open(dir.to_str().unwrap()).unwrap();
        let (metadata, files) = checkpoint(4, 7);
        for name in [
            "savepoint-012345-aaaaaaaaaaaa",
            "savepoint-012345-bbbbbbbbbbbb",
        ] {
            storage.write_savepoint(name, &metadata, &files).unwrap();
        }
        let first = dir.join("savepoint-012345-aaaaaaaaaaaa");
        let read = CheckpointStorage::open(first.to_str().unwrap())
            .unwrap()
            .read_here()
            .unwrap();
        assert_eq!(read.metadata, metadata);
        assert!(dir.join("savepoint-012345-bbbbbbbbbbbb/_metadata").exists());
        assert!(
            storage.completed().unwrap().is_empty(),
            "savepoints are not checkpoints"
        );
        assert!(storage.write_savepoint("../up", &metadata, &files).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn verification_checks_every_file_without_decoding_and_never_falls_back() {
        let dir = temp_dir("verify");
        let storage = CheckpointStorage::open(dir.to_str().unwrap()).unwrap();
        for (id, value) in [(1, 10), (2, 20)] {
            let (metadata, files) = checkpoint(id, value);
            storage.write(&metadata, &files).unwrap();
        }
        assert_eq!(storage.verify(2).unwrap().checkpoint_id, 2);
        let file = dir.join("chk-2/task-0-1.state");
        let mut bytes = std::fs::read(&file).unwrap();
        bytes[5] ^= 1;
        std::fs::write(&file, bytes).unwrap();
        let error = storage.verify(2).unwrap_err().to_string();
        assert!(error.contains("chk-2/task-0-1.state"), "{error}");
        let error = storage.latest_verified().unwrap_err().to_string();
        assert!(error.contains("chk-1 is intact"), "{error}");
        storage.discard(1).unwrap();
        let error = storage.latest_verified().unwrap_err().to_string();
        assert!(error.contains("No older intact checkpoint"), "{error}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_crafted_metadata_cannot_name_files_outside_its_checkpoint() {
        let dir = temp_dir("crafted");
        let storage = CheckpointStorage::open(dir.join("ckpt").to_str().unwrap()).unwrap();
        std::fs::write(dir.join("secret"), b"not checkpoint data").unwrap();
        let (mut metadata, files) = checkpoint(5, 1);
        storage.write(&metadata, &files).unwrap();
        for bad in ["../../secret", "/etc/passwd", ".."] {
            metadata.operators.get_mut("op").unwrap().subtask_files[0] = bad.to_string();
            let path = Path::from("chk-5/_metadata");
            let crafted = encode_file(METADATA_MAGIC, &metadata, &path).unwrap();
            std::fs::write(dir.join("ckpt/chk-5/_metadata"), crafted).unwrap();
            for error in [
                storage.read(5).unwrap_err().to_string(),
                storage.verify(5).unwrap_err().to_string(),
            ] {
                assert!(error.contains("not a plain file name"), "{bad}: {error}");
            }
        }
        metadata.operators.get_mut("op").unwrap().subtask_files[0] = "task-0-0.state".into();
        metadata.shared.insert("../secret".into());
        let crafted = encode_file(METADATA_MAGIC, &metadata, &Path::from("m")).unwrap();
        std::fs::write(dir.join("ckpt/chk-5/_metadata"), crafted).unwrap();
        let error = storage.read(5).unwrap_err().to_string();
        assert!(error.contains("not a plain file name"), "{error}");
        assert!(storage.read_shared("../secret").is_err());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn only_plain_names_are_file_names() {
        for good in [
            "task-0-1.state",
            "a-000007.sst",
            "MANIFEST-000005",
            ".hidden",
        ] {
            assert!(check_file_name(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "../x", "/abs", "a\\b", "nul\0"] {
            assert!(check_file_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn unsupported_schemes_are_a_clear_error() {
        let error = CheckpointStorage::open("ftp://host/path")
            .unwrap_err()
            .to_string();
        assert!(error.contains("'ftp://' scheme"), "{error}");
    }

    #[test]
    fn s3_locations_open_without_contacting_the_bucket_and_need_one() {
        let storage = CheckpointStorage::open("s3://checkpoints/jobs/counts").unwrap();
        assert_eq!(storage.location(), "s3://checkpoints/jobs/counts");
        let error = CheckpointStorage::open("s3:///prefix")
            .unwrap_err()
            .to_string();
        assert!(error.contains("needs a bucket"), "{error}");
    }
}
