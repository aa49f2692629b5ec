//! The JobManager's blob store: job binaries by their SHA-256, on local disk. A binary is
//! streamed into a partial file while its checksum is computed (never held whole in memory),
//! then renamed to its key durably.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};
use sluice_core::durable;
use sluice_runtime::deploy::worker::hex;

/// Job binaries stored under their SHA-256 in hex.
#[derive(Debug)]
pub struct BlobStore {
    directory: PathBuf,
}

impl BlobStore {
    /// A store in `directory`, created if needed.
    pub fn open(directory: &Path) -> Result<Self, String> {
        std::fs::create_dir_all(directory).map_err(|e| {
            format!(
                "cannot create the blob directory {}: {e}",
                directory.display()
            )
        })?;
        Ok(BlobStore {
            directory: directory.to_path_buf(),
        })
    }

    /// Stores `bytes`; returns their key.
    pub fn put(&self, bytes: &[u8]) -> Result<String, String> {
        let mut upload = self.begin()?;
        upload.write(bytes)?;
        upload.finish()
    }

    /// Starts storing a binary that arrives in chunks.
    pub fn begin(&self) -> Result<BlobUpload, String> {
        static UPLOADS: AtomicU64 = AtomicU64::new(0);
        let n = UPLOADS.fetch_add(1, Ordering::Relaxed);
        let partial = self
            .directory
            .join(format!("upload-{}-{n}.partial", std::process::id()));
        let file = File::create(&partial)
            .map_err(|e| format!("cannot store a job binary in {}: {e}", partial.display()))?;
        Ok(BlobUpload {
            directory: self.directory.clone(),
            partial,
            file: Some(file),
            hasher: Sha256::new(),
            bytes: 0,
        })
    }

    /// Deletes the blobs not in `keep` (and abandoned partial uploads) last modified more than
    /// `older_than` ago; returns how many blobs it deleted.
    pub fn sweep(
        &self,
        keep: &std::collections::BTreeSet<String>,
        older_than: Duration,
    ) -> Result<usize, String> {
        let entries = std::fs::read_dir(&self.directory)
            .map_err(|e| format!("{}: {e}", self.directory.display()))?;
        let mut deleted = 0;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let blob = is_key(&name);
            if (!blob && !name.ends_with(".partial")) || keep.contains(&name) {
                continue;
            }
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|modified| modified.elapsed().is_ok_and(|age| age >= older_than));
            if old && durable::remove(&entry.path()).is_ok() {
                deleted += usize::from(blob);
            }
        }
        Ok(deleted)
    }

    /// Whether a blob with `key` is stored.
    pub fn contains(&self, key: &str) -> bool {
        is_key(key) && self.path(key).is_file()
    }

    /// Opens the blob `key`.
    pub fn open_blob(&self, key: &str) -> Result<std::fs::File, String> {
        if !is_key(key) {
            return Err(format!("'{key}' is not a blob key (64 hex digits)"));
        }
        std::fs::File::open(self.path(key)).map_err(|e| format!("blob {key}: {e}"))
    }

    fn path(&self, key: &str) -> PathBuf {
        self.directory.join(key)
    }
}

/// A binary being stored: its partial file and checksum so far. Dropped unfinished, the partial
/// file is removed.
#[derive(Debug)]
pub struct BlobUpload {
    directory: PathBuf,
    partial: PathBuf,
    file: Option<File>,
    hasher: Sha256,
    bytes: u64,
}

impl BlobUpload {
    /// Appends `chunk`.
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), String> {
        let file = self.file.as_mut().ok_or("the upload is finished")?;
        file.write_all(chunk)
            .map_err(|e| format!("cannot store a job binary: {e}"))?;
        self.hasher.update(chunk);
        self.bytes += chunk.len() as u64;
        Ok(())
    }

    /// The bytes received so far.
    pub fn len(&self) -> u64 {
        self.bytes
    }

    /// Whether nothing was received.
    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }

    /// Makes the binary durable under its key (a binary already stored is kept); returns the
    /// key.
    pub fn finish(mut self) -> Result<String, String> {
        let file = self.file.take().ok_or("the upload is finished")?;
        let fail = |e: std::io::Error| format!("cannot store a job binary: {e}");
        drop(file);
        durable::sync_path(&self.partial).map_err(fail)?;
        let key = hex(&std::mem::take(&mut self.hasher).finalize());
        let path = self.directory.join(&key);
        if path.exists() {
            let _ = std::fs::remove_file(&self.partial);
        } else {
            durable::rename(&self.partial, &path).map_err(fail)?;
        }
        Ok(key)
    }
}

impl Drop for BlobUpload {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

/// Whether `key` looks like a SHA-256 in hex (and so is safe as a file name).
pub fn is_key(key: &str) -> bool {
    key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn stores_by_checksum_and_refuses_odd_keys() {
        let dir = std::env::temp_dir().join(format!("sluice-blobs-test-{}", std::process::id()));
        let store = BlobStore::open(&dir).unwrap();
        let unfinished = store.begin().unwrap();
        drop(unfinished);
        let syncs = durable::syncs_on_this_thread();
        let key = store.put(b"binary").unwrap();
        assert_eq!(
            durable::syncs_on_this_thread() - syncs,
            2,
            "the file and its directory"
        );
        assert!(store.contains(&key));
        let mut back = Vec::new();
        store
            .open_blob(&key)
            .unwrap()
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, b"binary");
        assert!(!store.contains("../etc/passwd"));
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left.len(), 1, "only the blob, no partial files: {left:?}");
        // Sweeping keeps what is used and what is young, deletes the rest.
        let other = store.put(b"another binary").unwrap();
        let abandoned = store.begin().unwrap();
        std::mem::forget(abandoned);
        let keep = std::collections::BTreeSet::from([key.clone()]);
        assert_eq!(store.sweep(&keep, Duration::from_secs(3600)).unwrap(), 0);
        assert_eq!(store.sweep(&keep, Duration::ZERO).unwrap(), 1);
        assert!(store.contains(&key) && !store.contains(&other));
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        assert_eq!(left.len(), 1, "the abandoned upload is gone too");
        assert!(store.open_blob("../x").is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
