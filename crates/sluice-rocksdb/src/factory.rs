//! [`RocksDbStateBackendFactory`]: makes one RocksDB database per keyed operator instance, in
//! a per-process directory under the configured local directory (Flink's
//! `state.backend.rocksdb.localdir`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sluice_state::{BackendScope, StateBackend, StateBackendFactory, StateError};

use crate::backend::{RocksDbOptions, RocksDbStateBackend};

/// The name of this backend in configuration.
pub const ROCKSDB_BACKEND: &str = "rocksdb";

/// The prefix of the per-process directories under the local directory.
const PROCESS_DIR_PREFIX: &str = "sluice-rocksdb-";

/// Makes [`RocksDbStateBackend`]s for a job's keyed operators.
#[derive(Debug)]
pub struct RocksDbStateBackendFactory {
    process_dir: PathBuf,
    instances: AtomicU64,
    incremental: bool,
    write_buffer_bytes: usize,
}

impl RocksDbStateBackendFactory {
    /// Databases under `local_dir` (created if missing). Directories left behind by processes
    /// that no longer run (killed before they could clean up) are removed.
    pub fn new(local_dir: &Path) -> Result<Self, StateError> {
        std::fs::create_dir_all(local_dir).map_err(|e| {
            crate::backend::backend_error(
                &format!("cannot create the local directory {}", local_dir.display()),
                e,
            )
        })?;
        remove_stale_process_dirs(local_dir);
        Ok(RocksDbStateBackendFactory {
            process_dir: local_dir.join(format!("{PROCESS_DIR_PREFIX}{}", std::process::id())),
            instances: AtomicU64::new(0),
            incremental: false,
            write_buffer_bytes: crate::backend::DEFAULT_WRITE_BUFFER_BYTES,
        })
    }

    /// The memtable size of each state, in bytes (Flink's
    /// `state.backend.rocksdb.writebuffer.size`; default 4 MB, at least 64 KB).
    pub fn with_write_buffer_size(mut self, bytes: usize) -> Self {
        self.write_buffer_bytes = bytes;
        self
    }

    /// Whether checkpoints store only the files that are new since the last completed one
    /// (Flink's `execution.checkpointing.incremental`; off by default, as in Flink).
    pub fn with_incremental_checkpoints(mut self, incremental: bool) -> Self {
        self.incremental = incremental;
        self
    }

    /// Databases under the system's temporary directory (Flink's default `io.tmp.dirs`).
    pub fn in_temp_dir() -> Result<Self, StateError> {
        Self::new(&std::env::temp_dir())
    }
}

impl StateBackendFactory for RocksDbStateBackendFactory {
    fn name(&self) -> &'static str {
        ROCKSDB_BACKEND
    }

    fn create(&self, scope: BackendScope<'_>) -> Result<Box<dyn StateBackend>, StateError> {
        let instance = self.instances.fetch_add(1, Ordering::Relaxed);
        let operator: String = scope
            .operator_uid
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(40)
            .collect();
        let dir = self
            .process_dir
            .join(format!("{operator}-{}-{instance}", scope.subtask));
        let options = RocksDbOptions {
            key_groups: scope.key_groups,
            incremental: self.incremental,
            write_buffer_bytes: self.write_buffer_bytes,
        };
        Ok(Box::new(RocksDbStateBackend::open_with(&dir, options)?))
    }
}

impl Drop for RocksDbStateBackendFactory {
    /// Removes the process directory once its databases are gone (it is kept while any is
    /// left: `remove_dir` only removes an empty directory).
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.process_dir);
    }
}

/// Removes `sluice-rocksdb-<pid>` directories of processes that are gone (where the system
/// tells which processes run: Linux's `/proc`).
fn remove_stale_process_dirs(local_dir: &Path) {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(local_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.strip_prefix(PROCESS_DIR_PREFIX))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !proc.join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_get_their_own_databases_and_stale_directories_go() {
        let local = std::env::temp_dir().join(format!("sluice-factory-{}", std::process::id()));
        // Process ids never reach u32::MAX, so this directory's process is gone.
        let stale = local.join(format!("{PROCESS_DIR_PREFIX}{}", u32::MAX));
        std::fs::create_dir_all(&stale).unwrap();
        let factory = RocksDbStateBackendFactory::new(&local).unwrap();
        assert!(!stale.exists(), "a dead process's directory is removed");
        let scope = BackendScope {
            operator_uid: "counts/by key",
            subtask: 1,
            max_parallelism: 128,
            key_groups: sluice_core::key_group::KeyGroupRange::for_subtask(128, 2, 1),
        };
        let mut a = factory.create(scope).unwrap();
        let mut b = factory.create(scope).unwrap();
        let sa = a.register("s").unwrap();
        let sb = b.register("s").unwrap();
        a.put(sa.in_group(0), b"k".to_vec(), b"a".to_vec()).unwrap();
        b.put(sb.in_group(0), b"k".to_vec(), b"b".to_vec()).unwrap();
        assert_eq!(
            a.get(sa.in_group(0), b"k").unwrap().as_deref(),
            Some(&b"a"[..])
        );
        assert_eq!(
            b.get(sb.in_group(0), b"k").unwrap().as_deref(),
            Some(&b"b"[..])
        );
        drop((a, b));
        std::fs::remove_dir_all(&local).unwrap();
    }
}
