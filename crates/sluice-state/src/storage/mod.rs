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
use sluice_core::durable::sync_path;

pub use error::StorageError;
use format::{check_envelope, decode_file, encode_file};
pub use metadata::{
    CheckpointMetadata, OperatorMetadata, RestoredCheckpoint, TaskSnapshot, WrittenCheckpoint,
};
use names::check_native_names;
pub use names::{check_file_name, checkpoint_dir_name, checkpoint_id_of, job_location};

mod error;
mod format;
mod metadata;
mod names;

/// The version of the file format this build writes and reads.
pub const FORMAT_VERSION: u32 = 4;

const STATE_MAGIC: &[u8; 4] = b"SLCS";
const METADATA_MAGIC: &[u8; 4] = b"SLCM";
const METADATA_FILE: &str = "_metadata";
const SHARED_DIR: &str = "shared";
const TASK_OWNED_DIR: &str = "taskowned";

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
        let mut task_bytes = Vec::with_capacity(task_files.len());
        let mut metadata = metadata.clone();
        for (file, snapshot) in task_files {
            let mut written = 0;
            let shared_files = snapshot
                .values()
                .flat_map(|operator| operator.keyed.native())
                .flat_map(|native| &native.shared);
            for shared in shared_files {
                let path = Path::from(format!("{SHARED_DIR}/{}", shared.stored_name));
                match &shared.upload {
                    Some(local) => {
                        written += self.upload_shared(&shared.stored_name, local.path())?
                    }
                    None => {
                        self.runtime.block_on(self.store.head(&path)).map_err(|e| {
                            Self::io(&path, format!("an earlier checkpoint's file: {e}"))
                        })?;
                    }
                }
                metadata.shared.insert(shared.stored_name.clone());
            }
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
            written += encoded.len() as u64;
            self.put(&path, encoded)?;
            bytes += written;
            task_bytes.push(written);
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
            task_bytes,
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

#[cfg(test)]
mod tests;
