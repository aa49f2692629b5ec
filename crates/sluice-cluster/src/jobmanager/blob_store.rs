//! The JobManager's blob store: job binaries by their SHA-256, on local disk.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use sluice_core::durable;
use sluice_runtime::worker::hex;

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
        let key = hex(&Sha256::digest(bytes));
        let path = self.path(&key);
        if !path.exists() {
            let partial = self.directory.join(format!("{key}.partial"));
            durable::write(&path, &partial, bytes)
                .map_err(|e| format!("cannot store a job binary in {}: {e}", path.display()))?;
        }
        Ok(key)
    }

    /// Whether a blob with `key` is stored.
    pub fn contains(&self, key: &str) -> bool {
        is_key(key) && self.path(key).is_file()
    }

    /// Opens the blob `key`.
    pub fn open_blob(&self, key: &str) -> Result<impl Read, String> {
        if !is_key(key) {
            return Err(format!("'{key}' is not a blob key (64 hex digits)"));
        }
        std::fs::File::open(self.path(key)).map_err(|e| format!("blob {key}: {e}"))
    }

    fn path(&self, key: &str) -> PathBuf {
        self.directory.join(key)
    }
}

/// Whether `key` looks like a SHA-256 in hex (and so is safe as a file name).
pub fn is_key(key: &str) -> bool {
    key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_by_checksum_and_refuses_odd_keys() {
        let dir = std::env::temp_dir().join(format!("sluice-blobs-test-{}", std::process::id()));
        let store = BlobStore::open(&dir).unwrap();
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
        assert!(store.open_blob("../x").is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
