//! [`RocksDbStateBackend`]: the state backend trait over one embedded RocksDB database.

use std::borrow::Cow;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, DB, DBCompressionType, Direction, IteratorMode,
    Options, WriteBatch, WriteOptions,
};
use sluice_core::key_group::KeyGroupRange;
use sluice_state::backend::Entries;
use sluice_state::{KeyedSnapshot, StateBackend, StateError, StateId, TableId};

use crate::incremental::Uploads;
use crate::keys::{prefix_end, split_stored, stored_key};

/// Writes through a batch of this many entries when restoring.
pub(crate) const RESTORE_BATCH: usize = 4096;

/// The memtable size of each state when nothing else is configured. Smaller than RocksDB's
/// (and Flink's) 64 MB: memtables fill and are flushed in the background between checkpoints,
/// so the flush a checkpoint must wait for at its barrier is short (1 M keys, 1 s
/// checkpoints: 54 ms instead of 100 ms, with no loss of throughput; see BENCHMARKS.md).
pub const DEFAULT_WRITE_BUFFER_BYTES: usize = 4 << 20;

/// How a backend instance works.
#[derive(Debug, Clone, Copy)]
pub struct RocksDbOptions {
    /// The key groups the instance owns (restores import only these).
    pub key_groups: KeyGroupRange,
    /// Whether checkpoints store the database's files incrementally instead of its entries.
    pub incremental: bool,
    /// The memtable size of each state (Flink's `state.backend.rocksdb.writebuffer.size`).
    pub write_buffer_bytes: usize,
}

impl Default for RocksDbOptions {
    /// Every key group; full snapshots (Flink's default); 4 MB memtables.
    fn default() -> Self {
        RocksDbOptions {
            key_groups: KeyGroupRange {
                start: 0,
                end: usize::from(u16::MAX),
            },
            incremental: false,
            write_buffer_bytes: DEFAULT_WRITE_BUFFER_BYTES,
        }
    }
}

impl RocksDbOptions {
    /// The options of the databases and column families an instance writes to.
    pub(crate) fn writable(&self) -> Options {
        let mut options = database_options();
        options.set_write_buffer_size(self.write_buffer_bytes.max(64 << 10));
        options
    }
}

/// Keyed state in an embedded RocksDB database owned by one operator instance. Its directory
/// (the database in `db/`, checkpoint file sets in `chk-<id>/`) is scratch space: it is deleted
/// when the backend is dropped.
pub struct RocksDbStateBackend {
    db: Option<DB>,
    dir: PathBuf,
    /// Column family names, indexed by [`StateId`].
    names: Vec<String>,
    writes: WriteOptions,
    pub(crate) options: RocksDbOptions,
    /// The files stored by incremental checkpoints, to refer to instead of storing again.
    pub(crate) uploads: RefCell<Uploads>,
}

impl std::fmt::Debug for RocksDbStateBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksDbStateBackend")
            .field("dir", &self.dir)
            .field("states", &self.names)
            .finish()
    }
}

/// The error of a failed database operation.
pub(crate) fn backend_error(action: &str, error: impl std::fmt::Display) -> StateError {
    StateError::Backend {
        backend: crate::ROCKSDB_BACKEND,
        message: format!("{action}: {error}"),
    }
}

/// The prefix of column family names (`default` is RocksDB's own).
const STATE_FAMILY_PREFIX: &str = "state/";

/// The column family of a state.
pub(crate) fn column_family_name(state: &str) -> String {
    format!("{STATE_FAMILY_PREFIX}{state}")
}

/// The block cache all databases of the process share.
const BLOCK_CACHE_BYTES: usize = 128 << 20;

/// The database options every instance uses: lz4 blocks, a bloom filter per table (a lookup of
/// a key that is not in a file does not read it; keyed state mostly looks up single keys) and
/// one block cache for the whole process.
pub(crate) fn database_options() -> Options {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Cache::new_lru_cache(BLOCK_CACHE_BYTES));
    let mut tables = BlockBasedOptions::default();
    tables.set_bloom_filter(10.0, false);
    tables.set_block_cache(cache);
    let mut options = Options::default();
    options.create_if_missing(true);
    options.create_missing_column_families(true);
    options.set_compression_type(DBCompressionType::Lz4);
    options.set_max_background_jobs(2);
    options.set_block_based_table_factory(&tables);
    options
}

impl RocksDbStateBackend {
    /// Opens a new, empty database under `dir` (created; it must not hold one already), for
    /// every key group, with full snapshots.
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        Self::open_with(dir, RocksDbOptions::default())
    }

    /// Opens a new, empty database under `dir` working as `options` say.
    pub fn open_with(dir: &Path, options: RocksDbOptions) -> Result<Self, StateError> {
        let db_dir = dir.join("db");
        std::fs::create_dir_all(&db_dir).map_err(|e| {
            backend_error(
                &format!("cannot create the directory {}", db_dir.display()),
                e,
            )
        })?;
        let db = DB::open(&options.writable(), &db_dir)
            .map_err(|e| backend_error(&format!("cannot open {}", db_dir.display()), e))?;
        let mut writes = WriteOptions::default();
        writes.disable_wal(true);
        Ok(RocksDbStateBackend {
            db: Some(db),
            dir: dir.to_path_buf(),
            names: Vec::new(),
            writes,
            options,
            uploads: RefCell::new(Uploads::new(dir)),
        })
    }

    /// The backend's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn db(&self) -> &DB {
        self.db.as_ref().expect("the database is open until drop")
    }

    /// Uses `db` from now on (its directory is under the backend's); the previous database
    /// is closed and its files removed.
    pub(crate) fn replace_db(&mut self, db: DB) {
        if let Some(previous) = self.db.replace(db) {
            let path = previous.path().to_path_buf();
            drop(previous);
            let _ = std::fs::remove_dir_all(path);
        }
    }

    /// The names of the states, in [`StateId`] order.
    pub(crate) fn state_names(&self) -> impl Iterator<Item = &str> {
        self.names
            .iter()
            .map(|family| &family[STATE_FAMILY_PREFIX.len()..])
    }

    /// The column family of every state.
    pub(crate) fn column_families(&self) -> Result<Vec<&ColumnFamily>, StateError> {
        (0..self.names.len())
            .map(|index| self.column_family(StateId(index as u32)))
            .collect()
    }

    /// Writes `batch` (without the write-ahead log).
    pub(crate) fn write(&self, batch: WriteBatch, action: &str) -> Result<(), StateError> {
        self.db()
            .write_opt(batch, &self.writes)
            .map_err(|e| backend_error(action, e))
    }

    pub(crate) fn column_family(&self, state: StateId) -> Result<&ColumnFamily, StateError> {
        let name = self
            .names
            .get(state.0 as usize)
            .ok_or_else(|| backend_error("unknown state id", state.0))?;
        self.db()
            .cf_handle(name)
            .ok_or_else(|| backend_error("missing column family", name))
    }

    /// Every entry of `state` whose stored key lies in `[from, to)` (`to = None`: to the end),
    /// passed to `visit` in key order.
    fn scan_range(
        &self,
        state: StateId,
        from: &[u8],
        to: Option<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<(), StateError> {
        let cf = self.column_family(state)?;
        let iterator = self
            .db()
            .iterator_cf(cf, IteratorMode::From(from, Direction::Forward));
        for entry in iterator {
            let (key, value) = entry.map_err(|e| backend_error("cannot read", e))?;
            if to.is_some_and(|to| &*key >= to) {
                break;
            }
            visit(&key, &value);
        }
        Ok(())
    }
}

impl StateBackend for RocksDbStateBackend {
    fn register(&mut self, name: &str) -> Result<StateId, StateError> {
        let family = column_family_name(name);
        if let Some(index) = self.names.iter().position(|n| *n == family) {
            return Ok(StateId(index as u32));
        }
        let db = self.db.as_mut().expect("the database is open until drop");
        if db.cf_handle(&family).is_none() {
            db.create_cf(&family, &self.options.writable())
                .map_err(|e| backend_error(&format!("cannot create state '{name}'"), e))?;
        }
        self.names.push(family);
        Ok(StateId((self.names.len() - 1) as u32))
    }

    fn get(&self, table: TableId, key: &[u8]) -> Result<Option<Cow<'_, [u8]>>, StateError> {
        let cf = self.column_family(table.state)?;
        let value = self
            .db()
            .get_pinned_cf(cf, stored_key(table.key_group, key))
            .map_err(|e| backend_error("cannot read", e))?;
        Ok(value.map(|value| Cow::Owned(value.to_vec())))
    }

    fn put(&mut self, table: TableId, key: Vec<u8>, value: Vec<u8>) -> Result<(), StateError> {
        let cf = self.column_family(table.state)?;
        self.db()
            .put_cf_opt(cf, stored_key(table.key_group, &key), value, &self.writes)
            .map_err(|e| backend_error("cannot write", e))
    }

    fn delete(&mut self, table: TableId, key: &[u8]) -> Result<(), StateError> {
        let cf = self.column_family(table.state)?;
        self.db()
            .delete_cf_opt(cf, stored_key(table.key_group, key), &self.writes)
            .map_err(|e| backend_error("cannot delete", e))
    }

    fn scan_prefix(&self, table: TableId, prefix: &[u8]) -> Result<Entries, StateError> {
        let from = stored_key(table.key_group, prefix);
        let to = prefix_end(&from);
        let mut entries = Vec::new();
        self.scan_range(table.state, &from, to.as_deref(), &mut |key, value| {
            entries.push((key[2..].to_vec(), value.to_vec()));
        })?;
        Ok(entries)
    }

    fn delete_prefix(&mut self, table: TableId, prefix: &[u8]) -> Result<(), StateError> {
        let from = stored_key(table.key_group, prefix);
        let to = prefix_end(&from);
        let mut batch = WriteBatch::default();
        let cf = self.column_family(table.state)?;
        self.scan_range(table.state, &from, to.as_deref(), &mut |key, _| {
            batch.delete_cf(cf, key);
        })?;
        self.write(batch, "cannot delete")
    }

    fn len(&self, state: StateId) -> Result<usize, StateError> {
        let mut count = 0;
        self.scan_range(state, &[], None, &mut |_, _| count += 1)?;
        Ok(count)
    }

    /// Checkpoints of an incremental backend add the database's files; savepoints and full
    /// checkpoints copy the entries into the canonical format.
    fn snapshot(&self, into: &mut KeyedSnapshot) -> Result<(), StateError> {
        let request = into.request();
        if self.options.incremental && !request.savepoint && request.checkpoint_id > 0 {
            return self.snapshot_files(request.checkpoint_id, into);
        }
        if request.checkpoint_id > 0 {
            // A checkpoint's or savepoint's full snapshot: read off the task thread.
            return self.snapshot_deferred(request.checkpoint_id, into);
        }
        let names: Vec<&str> = self.state_names().collect();
        for (index, name) in names.into_iter().enumerate() {
            self.scan_range(StateId(index as u32), &[], None, &mut |key, value| {
                if let Some((key_group, key)) = split_stored(key) {
                    into.push(key_group, name, key, value);
                }
            })?;
        }
        Ok(())
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) {
        self.uploads.borrow_mut().completed(checkpoint_id);
    }

    fn restore_where(
        &mut self,
        from: &KeyedSnapshot,
        keep: &dyn Fn(&str) -> bool,
    ) -> Result<(), StateError> {
        for name in from.state_names().into_iter().filter(|name| keep(name)) {
            let state = self.register(name)?;
            let cf = self.column_family(state)?;
            let mut batch = WriteBatch::default();
            for (key_group, key, value) in from.entries(name) {
                batch.put_cf(cf, stored_key(key_group, key), value);
                if batch.len() >= RESTORE_BATCH {
                    self.write(std::mem::take(&mut batch), "cannot restore")?;
                }
            }
            self.write(batch, "cannot restore")?;
        }
        for native in from.native() {
            self.restore_files(native, keep)?;
        }
        Ok(())
    }
}

impl Drop for RocksDbStateBackend {
    fn drop(&mut self) {
        // Close the database before removing its files.
        self.db.take();
        if let Err(error) = std::fs::remove_dir_all(&self.dir) {
            tracing::warn!(
                "cannot remove the RocksDB working directory {}: {error}",
                self.dir.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("sluice-rocksdb-test-{}-{name}", std::process::id()))
    }

    #[test]
    fn passes_the_backend_suite() {
        let counter = std::sync::atomic::AtomicUsize::new(0);
        sluice_state::testing::backend_suite(|| {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            RocksDbStateBackend::open(&scratch(&format!("suite-{n}"))).unwrap()
        });
    }

    #[test]
    fn passes_the_backend_suite_with_incremental_checkpoints() {
        let counter = std::sync::atomic::AtomicUsize::new(0);
        sluice_state::testing::backend_suite(|| {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let options = RocksDbOptions {
                incremental: true,
                ..RocksDbOptions::default()
            };
            RocksDbStateBackend::open_with(&scratch(&format!("suite-incr-{n}")), options).unwrap()
        });
    }

    #[test]
    fn the_working_directory_is_removed_on_drop() {
        let dir = scratch("drop");
        let mut backend = RocksDbStateBackend::open(&dir).unwrap();
        let state = backend.register("s").unwrap();
        backend
            .put(state.in_group(1), b"k".to_vec(), b"v".to_vec())
            .unwrap();
        assert!(dir.exists());
        drop(backend);
        assert!(!dir.exists());
    }

    #[test]
    fn an_unusable_directory_is_a_clear_error() {
        let file = scratch("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        let error = RocksDbStateBackend::open(&file).unwrap_err().to_string();
        std::fs::remove_file(&file).unwrap();
        assert!(error.contains("state backend rocksdb"), "{error}");
        assert!(error.contains("not-a-dir"), "{error}");
    }
}
