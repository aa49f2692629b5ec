//! Keyed state kept as a backend's own files — RocksDB's immutable SST files — for incremental
//! checkpoints: a checkpoint lists the files of the database at its barrier; files already
//! uploaded by an earlier completed checkpoint are referenced, not copied again.
//!
//! Files live in the checkpoint directory's `shared/` folder under unique names and are deleted
//! once no retained checkpoint refers to them. The small files that describe the database
//! (manifest, options, `CURRENT`) are stored inline in the subtask's state file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sluice_core::key_group::KeyGroupRange;

/// One database's files at a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NativeKeyedState {
    /// The backend that wrote the files (`rocksdb`).
    pub backend: String,
    /// The key groups the database held.
    pub key_groups: KeyGroupRange,
    /// The states the database held.
    pub states: Vec<String>,
    /// Immutable files shared between checkpoints.
    pub shared: Vec<SharedFile>,
    /// Small files owned by this checkpoint: (file name, contents).
    pub private: Vec<(String, serde_bytes::ByteBuf)>,
    /// Where the shared files of a restored checkpoint are read from (the checkpoint
    /// directory); set when the checkpoint is read.
    #[serde(skip)]
    pub shared_root: Option<String>,
}

/// A file shared between checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedFile {
    /// The file's name in the database directory (`000042.sst`).
    pub local_name: String,
    /// Its unique name under `shared/`.
    pub stored_name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Where to copy it from when it is new in this checkpoint (not serialized: a file
    /// referenced from an earlier checkpoint has none).
    #[serde(skip)]
    pub upload: Option<LocalFile>,
}

/// A file on the local disk waiting to be copied into checkpoint storage. The directory
/// holding it is removed when the last file referring to it is dropped (after the upload, or
/// when the checkpoint is abandoned).
#[derive(Debug, Clone)]
pub struct LocalFile {
    path: PathBuf,
    _dir: Arc<ScratchDir>,
}

impl LocalFile {
    /// `name` in the scratch directory `dir`.
    pub fn new(dir: &Arc<ScratchDir>, name: &str) -> Self {
        LocalFile {
            path: dir.path().join(name),
            _dir: Arc::clone(dir),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl PartialEq for LocalFile {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path
    }
}

impl Eq for LocalFile {}

/// A directory that is removed when dropped.
#[derive(Debug)]
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// Takes ownership of `path`.
    pub fn new(path: PathBuf) -> Self {
        ScratchDir(path)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl NativeKeyedState {
    /// Checks that every file name it holds (read from a checkpoint) is a plain name, so that
    /// joined to a directory it stays inside it.
    pub fn check_file_names(&self) -> Result<(), String> {
        let shared = self
            .shared
            .iter()
            .flat_map(|file| [&file.local_name, &file.stored_name]);
        shared
            .chain(self.private.iter().map(|(name, _)| name))
            .try_for_each(|name| crate::storage::check_file_name(name))
    }

    /// Whether the database held key groups of `range`.
    pub fn overlaps(&self, range: KeyGroupRange) -> bool {
        self.key_groups.start <= range.end
            && range.start <= self.key_groups.end
            && !range.is_empty()
            && !self.key_groups.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_directories_go_with_their_last_file() {
        let path = std::env::temp_dir().join(format!("sluice-scratch-{}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        std::fs::write(path.join("a.sst"), b"x").unwrap();
        let dir = Arc::new(ScratchDir::new(path.clone()));
        let file = LocalFile::new(&dir, "a.sst");
        drop(dir);
        assert_eq!(std::fs::read(file.path()).unwrap(), b"x");
        let copy = file.clone();
        drop(file);
        assert!(path.exists());
        drop(copy);
        assert!(!path.exists());
    }

    #[test]
    fn overlap_is_by_key_group_range() {
        let state = NativeKeyedState {
            backend: "rocksdb".into(),
            key_groups: KeyGroupRange { start: 10, end: 19 },
            states: vec![],
            shared: vec![],
            private: vec![],
            shared_root: None,
        };
        assert!(state.overlaps(KeyGroupRange { start: 19, end: 30 }));
        assert!(state.overlaps(KeyGroupRange { start: 0, end: 10 }));
        assert!(!state.overlaps(KeyGroupRange { start: 20, end: 30 }));
        assert!(!state.overlaps(KeyGroupRange { start: 0, end: 9 }));
    }
}
