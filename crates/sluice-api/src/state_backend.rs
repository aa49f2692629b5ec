//! The job's state backend, chosen by Flink's keys (`state.backend.type`,
//! `state.backend.rocksdb.localdir`, `state.backend.rocksdb.writebuffer.size`,
//! `execution.checkpointing.incremental`) or set directly.

use std::path::PathBuf;
use std::sync::Arc;

use sluice_runtime::checkpoint::parse_memory_size;
use sluice_state::{HASHMAP_BACKEND, HashMapStateBackendFactory, StateBackendFactory};

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

/// Checks one state backend option (key and value) without choosing anything: an unknown key
/// or bad value is an error naming it.
pub fn check_state_option(key: &str, value: &str) -> Result<(), String> {
    StateBackendSettings::default().set(key, value)
}

/// What the environment was told about the state backend.
#[derive(Debug, Default)]
pub(crate) struct StateBackendSettings {
    kind: Option<String>,
    local_dir: Option<PathBuf>,
    write_buffer_bytes: Option<usize>,
    incremental: bool,
    chosen: Option<Arc<dyn StateBackendFactory>>,
}

impl StateBackendSettings {
    /// Uses `factory`, whatever the keys say.
    pub(crate) fn choose(&mut self, factory: Arc<dyn StateBackendFactory>) {
        self.chosen = Some(factory);
    }

    /// Applies one key; an unknown key or value is an error naming it.
    pub(crate) fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
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

    /// The factory the job's operators get their keyed state from.
    pub(crate) fn resolve(&self) -> Result<Arc<dyn StateBackendFactory>, String> {
        if let Some(chosen) = &self.chosen {
            return Ok(Arc::clone(chosen));
        }
        match self.kind.as_deref() {
            None | Some(HASHMAP_BACKEND) => Ok(Arc::new(HashMapStateBackendFactory)),
            Some(_) => self.rocksdb(),
        }
    }

    #[cfg(feature = "rocksdb")]
    fn rocksdb(&self) -> Result<Arc<dyn StateBackendFactory>, String> {
        use sluice_rocksdb::RocksDbStateBackendFactory;
        let factory = match &self.local_dir {
            Some(dir) => RocksDbStateBackendFactory::new(dir),
            None => RocksDbStateBackendFactory::in_temp_dir(),
        };
        let mut factory = factory
            .map_err(|e| e.to_string())?
            .with_incremental_checkpoints(self.incremental);
        if let Some(bytes) = self.write_buffer_bytes {
            factory = factory.with_write_buffer_size(bytes);
        }
        Ok(Arc::new(factory))
    }

    #[cfg(not(feature = "rocksdb"))]
    fn rocksdb(&self) -> Result<Arc<dyn StateBackendFactory>, String> {
        Err(format!(
            "{STATE_BACKEND_TYPE}: rocksdb: this build has no RocksDB backend; build the job with \
             the cargo feature `rocksdb` (`cargo build --features rocksdb`, or \
             `features = [\"rocksdb\"]` on the `sluice` dependency; it needs libclang, which \
             scripts/install-build-deps.sh installs)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_choose_the_backend_and_bad_ones_are_named() {
        let mut settings = StateBackendSettings::default();
        assert_eq!(settings.resolve().unwrap().name(), "hashmap");
        let error = settings.set(STATE_BACKEND_TYPE, "memory").unwrap_err();
        assert!(error.contains("unknown state backend 'memory'"), "{error}");
        let error = settings.set("state.backend.rocks", "x").unwrap_err();
        assert!(error.contains("'state.backend.rocks'"), "{error}");
        let error = settings.set(INCREMENTAL, "yes").unwrap_err();
        assert!(error.contains("expected true or false"), "{error}");
        settings.set(INCREMENTAL_LEGACY, "true").unwrap();
        settings.set(STATE_BACKEND_TYPE, " HashMap ").unwrap();
        assert_eq!(settings.resolve().unwrap().name(), "hashmap");
    }

    #[test]
    fn a_write_buffer_size_is_a_memory_size() {
        let mut settings = StateBackendSettings::default();
        let error = settings.set(ROCKSDB_WRITE_BUFFER_SIZE, "big").unwrap_err();
        assert!(error.contains(ROCKSDB_WRITE_BUFFER_SIZE), "{error}");
        settings.set(ROCKSDB_WRITE_BUFFER_SIZE, "8mb").unwrap();
        assert_eq!(settings.write_buffer_bytes, Some(8 << 20));
    }

    #[cfg(feature = "rocksdb")]
    #[test]
    fn rocksdb_is_chosen_by_its_key() {
        let mut settings = StateBackendSettings::default();
        settings.set(STATE_BACKEND_TYPE, "rocksdb").unwrap();
        let dir = std::env::temp_dir().join(format!("sluice-settings-{}", std::process::id()));
        settings
            .set(ROCKSDB_LOCAL_DIR, dir.to_str().unwrap())
            .unwrap();
        assert_eq!(settings.resolve().unwrap().name(), "rocksdb");
        assert!(dir.is_dir(), "the local directory is created");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(not(feature = "rocksdb"))]
    #[test]
    fn rocksdb_without_its_feature_names_the_feature() {
        let mut settings = StateBackendSettings::default();
        settings.set(STATE_BACKEND_TYPE, "rocksdb").unwrap();
        let Err(error) = settings.resolve() else {
            panic!("no rocksdb backend in this build");
        };
        assert!(error.contains(STATE_BACKEND_TYPE), "{error}");
        assert!(error.contains("--features rocksdb"), "{error}");
    }
}
