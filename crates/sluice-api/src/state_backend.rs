//! The job's state backend, chosen by Flink's keys (parsed by `sluice_state::backend_options`)
//! or set directly.

use std::sync::Arc;

use sluice_state::backend_options::StateBackendOptions;
use sluice_state::{HASHMAP_BACKEND, HashMapStateBackendFactory, StateBackendFactory};

/// What the environment was told about the state backend.
#[derive(Debug, Default)]
pub(crate) struct StateBackendSettings {
    options: StateBackendOptions,
    chosen: Option<Arc<dyn StateBackendFactory>>,
}

impl StateBackendSettings {
    /// Uses `factory`, whatever the keys say.
    pub(crate) fn choose(&mut self, factory: Arc<dyn StateBackendFactory>) {
        self.chosen = Some(factory);
    }

    /// Applies one key; an unknown key or value is an error naming it.
    pub(crate) fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        self.options.set(key, value)
    }

    /// The factory the job's operators get their keyed state from.
    pub(crate) fn resolve(&self) -> Result<Arc<dyn StateBackendFactory>, String> {
        if let Some(chosen) = &self.chosen {
            return Ok(Arc::clone(chosen));
        }
        match self.options.kind.as_deref() {
            None | Some(HASHMAP_BACKEND) => Ok(Arc::new(HashMapStateBackendFactory)),
            Some(_) => self.rocksdb(),
        }
    }

    #[cfg(feature = "rocksdb")]
    fn rocksdb(&self) -> Result<Arc<dyn StateBackendFactory>, String> {
        use sluice_rocksdb::RocksDbStateBackendFactory;
        let options = &self.options;
        let factory = match &options.local_dir {
            Some(dir) => RocksDbStateBackendFactory::new(dir),
            None => RocksDbStateBackendFactory::in_temp_dir(),
        };
        let mut factory = factory
            .map_err(|e| e.to_string())?
            .with_incremental_checkpoints(options.incremental);
        if let Some(bytes) = options.write_buffer_bytes {
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
             scripts/install-build-deps.sh installs)",
            STATE_BACKEND_TYPE = sluice_state::backend_options::STATE_BACKEND_TYPE
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_state::backend_options::{
        INCREMENTAL, INCREMENTAL_LEGACY, ROCKSDB_WRITE_BUFFER_SIZE, STATE_BACKEND_TYPE,
    };

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
        assert_eq!(settings.options.write_buffer_bytes, Some(8 << 20));
    }

    #[cfg(feature = "rocksdb")]
    #[test]
    fn rocksdb_is_chosen_by_its_key() {
        let mut settings = StateBackendSettings::default();
        settings.set(STATE_BACKEND_TYPE, "rocksdb").unwrap();
        let dir = std::env::temp_dir().join(format!("sluice-settings-{}", std::process::id()));
        settings
            .set(
                sluice_state::backend_options::ROCKSDB_LOCAL_DIR,
                dir.to_str().unwrap(),
            )
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
