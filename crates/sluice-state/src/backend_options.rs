//! The state backend options, by Flink's keys: `state.backend.type`,
//! `state.backend.rocksdb.localdir`, `state.backend.rocksdb.writebuffer.size`,
//! `execution.checkpointing.incremental`. Parsed here, where the backends live, so that
//! whoever only checks options (a cluster's configuration) links no backend.

use std::path::PathBuf;

use sluice_core::config_value::parse_memory_size;

use crate::backend_factory::HASHMAP_BACKEND;

/// Flink's key naming the backend.
pub const STATE_BACKEND_TYPE: &str = "state.backend.type";
/// Flink's key for where RocksDB keeps its working files.
pub const ROCKSDB_LOCAL_DIR: &str = "state.backend.rocksdb.localdir";
/// Flink's key for the memtable size of each RocksDB state.
pub const ROCKSDB_WRITE_BUFFER_SIZE: &str = "state.backend.rocksdb.writebuffer.size";
/// Flink's key for incremental checkpoints (RocksDB only).
pub const INCREMENTAL: &str = "execution.checkpointing.incremental";
/// Flink 1.x's name for [`INCREMENTAL`].
pub const INCREMENTAL_LEGACY: &str = "state.backend.incremental";

/// The state backend options given so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateBackendOptions {
    /// The backend's name (`hashmap` or `rocksdb`), lowercased.
    pub kind: Option<String>,
    /// RocksDB's working directory.
    pub local_dir: Option<PathBuf>,
    /// RocksDB's memtable size per state.
    pub write_buffer_bytes: Option<usize>,
    /// Whether checkpoints store only new files (RocksDB).
    pub incremental: bool,
}

/// Checks one state backend option (key and value) without choosing anything: an unknown key
/// or bad value is an error naming it.
pub fn check_state_option(key: &str, value: &str) -> Result<(), String> {
    StateBackendOptions::default().set(key, value)
}

impl StateBackendOptions {
    /// Applies one key; an unknown key or value is an error naming it.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        match key {
            STATE_BACKEND_TYPE => {
                let kind = value.trim().to_ascii_lowercase();
                if !matches!(kind.as_str(), HASHMAP_BACKEND | "rocksdb") {
                    return Err(format!(
                        "{STATE_BACKEND_TYPE}: unknown state backend '{value}' (expected \
                         hashmap or rocksdb)"
                    ));
                }
                self.kind = Some(kind);
            }
            ROCKSDB_LOCAL_DIR => self.local_dir = Some(PathBuf::from(value.trim())),
            ROCKSDB_WRITE_BUFFER_SIZE => {
                self.write_buffer_bytes =
                    Some(parse_memory_size(value).map_err(|e| format!("{key}: {e}"))?)
            }
            INCREMENTAL | INCREMENTAL_LEGACY => {
                self.incremental = match value.trim().to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(format!("{key}: expected true or false, not '{value}'")),
                }
            }
            _ => {
                return Err(format!(
                    "unknown state backend option '{key}' (known: {STATE_BACKEND_TYPE}, \
                     {ROCKSDB_LOCAL_DIR}, {ROCKSDB_WRITE_BUFFER_SIZE}, {INCREMENTAL})"
                ));
            }
        }
        Ok(())
    }
}
