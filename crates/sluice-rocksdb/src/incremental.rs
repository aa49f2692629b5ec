//! Incremental checkpoints: a checkpoint stores the database's SST files, referring to the
//! ones an earlier completed checkpoint already stored, and restores by reading them back.
//!
//! At a barrier the memtables are flushed and a RocksDB checkpoint (hard links to the live
//! files, no copying) is made in `chk-<id>/`; the checkpoint coordinator copies the files that
//! are new into the checkpoint storage's `shared/` folder and the hard links go when it is
//! done. SST files never change, so a file stored once is referred to by name until no
//! retained checkpoint needs it. Restoring downloads each old database's files; when they hold
//! exactly this instance's key groups and it has no entries yet (a restart at the same
//! parallelism), the downloaded database becomes the instance's own; otherwise it is opened
//! read only and the entries of the key groups this instance owns are copied out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rocksdb::checkpoint::Checkpoint;
use rocksdb::{DB, Direction, IteratorMode, WriteBatch};
use serde_bytes::ByteBuf;
use sluice_state::{
    CheckpointStorage, KeyedSnapshot, LocalFile, NativeKeyedState, ScratchDir, SharedFile,
    StateBackend, StateError,
};

use crate::ROCKSDB_BACKEND;
use crate::backend::{
    RESTORE_BATCH, RocksDbStateBackend, backend_error, column_family_name, database_options,
};
use crate::keys::group_prefix;

/// A stored file: its unique name under `shared/` and its size.
type Stored = (String, u64);

/// What the backend's incremental checkpoints stored.
#[derive(Debug)]
pub(crate) struct Uploads {
    /// Prefix of this instance's stored names, unique across processes and instances.
    instance: String,
    /// Per checkpoint in flight, its files by local name.
    pending: BTreeMap<u64, BTreeMap<String, Stored>>,
    /// The files of the latest completed checkpoint, by local name.
    confirmed: BTreeMap<String, Stored>,
    /// Restores so far (names their scratch directories).
    restores: u64,
}

impl Uploads {
    pub(crate) fn new(dir: &Path) -> Self {
        static INSTANCES: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let seed = format!(
            "{}-{}-{nanos}-{}",
            dir.display(),
            std::process::id(),
            INSTANCES.fetch_add(1, Ordering::Relaxed)
        );
        Uploads {
            instance: format!("{:016x}", sluice_core::key_group::stable_hash(&seed)),
            pending: BTreeMap::new(),
            confirmed: BTreeMap::new(),
            restores: 0,
        }
    }

    /// Checkpoint `id` completed: its files are the ones to refer to from now on.
    pub(crate) fn completed(&mut self, id: u64) {
        if let Some(files) = self.pending.remove(&id) {
            self.confirmed = files;
        }
        self.pending.retain(|pending, _| *pending > id);
    }
}

fn io_error(action: &str, path: &Path, error: impl std::fmt::Display) -> StateError {
    backend_error(&format!("{action} {}", path.display()), error)
}

impl RocksDbStateBackend {
    /// Flushes the memtables and makes a RocksDB checkpoint (hard links to the immutable
    /// files) of the database as it is now in directory `name` of the backend's directory.
    pub(crate) fn local_checkpoint(&self, name: &str) -> Result<PathBuf, StateError> {
        let db = self.db();
        for cf in self.column_families()? {
            db.flush_cf(cf)
                .map_err(|e| backend_error("cannot flush", e))?;
        }
        let local = self.dir().join(name);
        if local.exists() {
            std::fs::remove_dir_all(&local).map_err(|e| io_error("cannot clear", &local, e))?;
        }
        Checkpoint::new(db)
            .and_then(|checkpoint| checkpoint.create_checkpoint(&local))
            .map_err(|e| backend_error("cannot make a checkpoint of the database", e))?;
        Ok(local)
    }

    /// Adds the database's files at checkpoint `checkpoint_id` to `into`.
    pub(crate) fn snapshot_files(
        &self,
        checkpoint_id: u64,
        into: &mut KeyedSnapshot,
    ) -> Result<(), StateError> {
        let local = self.local_checkpoint(&format!("chk-{checkpoint_id}"))?;
        let scratch = Arc::new(ScratchDir::new(local.clone()));
        let mut uploads = self.uploads.borrow_mut();
        let mut files = BTreeMap::new();
        let mut shared = Vec::new();
        let mut private = Vec::new();
        let entries = std::fs::read_dir(&local).map_err(|e| io_error("cannot list", &local, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_error("cannot list", &local, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if !name.ends_with(".sst") {
                let contents =
                    std::fs::read(&path).map_err(|e| io_error("cannot read", &path, e))?;
                private.push((name, ByteBuf::from(contents)));
                continue;
            }
            let size = entry
                .metadata()
                .map_err(|e| io_error("cannot read", &path, e))?
                .len();
            let (stored_name, upload) = match uploads.confirmed.get(&name) {
                Some((stored, stored_size)) if *stored_size == size => (stored.clone(), None),
                _ => (
                    format!("{}-{name}", uploads.instance),
                    Some(LocalFile::new(&scratch, &name)),
                ),
            };
            files.insert(name.clone(), (stored_name.clone(), size));
            shared.push(SharedFile {
                local_name: name,
                stored_name,
                size,
                upload,
            });
        }
        uploads.pending.insert(checkpoint_id, files);
        into.push_native(NativeKeyedState {
            backend: ROCKSDB_BACKEND.to_string(),
            key_groups: self.options.key_groups,
            states: self.state_names().map(str::to_string).collect(),
            shared,
            private,
            shared_root: None,
        });
        Ok(())
    }

    /// Copies the entries of the states `keep` accepts, in this instance's key groups, out of
    /// an old database's files.
    pub(crate) fn restore_files(
        &mut self,
        native: &NativeKeyedState,
        keep: &dyn Fn(&str) -> bool,
    ) -> Result<(), StateError> {
        let states: Vec<&String> = native.states.iter().filter(|s| keep(s)).collect();
        if states.is_empty() || !native.overlaps(self.options.key_groups) {
            return Ok(());
        }
        if native.backend != ROCKSDB_BACKEND {
            return Err(backend_error(
                "cannot restore",
                format!("the files were written by the {} backend", native.backend),
            ));
        }
        let root = native.shared_root.as_deref().ok_or_else(|| {
            backend_error("cannot restore", "the checkpoint's location is unknown")
        })?;
        let storage =
            CheckpointStorage::open(root).map_err(|e| backend_error("cannot restore", e))?;
        let restore = {
            let mut uploads = self.uploads.borrow_mut();
            uploads.restores += 1;
            self.dir().join(format!("restore-{}", uploads.restores))
        };
        let adopt = native.key_groups == self.options.key_groups && self.is_empty()?;
        // Left-overs of a failed download go with the backend's directory.
        download(&storage, native, &restore)?;
        let mut families = vec!["default".to_string()];
        families.extend(native.states.iter().map(|s| column_family_name(s)));
        if adopt {
            // The same key groups into an empty database: the files become the database.
            return self.adopt(&restore, families, &states);
        }
        let scratch = ScratchDir::new(restore.clone());
        let old = DB::open_cf_for_read_only(&database_options(), &restore, &families, false)
            .map_err(|e| backend_error("cannot open the checkpoint's database", e))?;
        for state in states {
            self.copy_state(&old, state)?;
        }
        drop(old);
        drop(scratch);
        Ok(())
    }

    /// Whether no state holds an entry.
    fn is_empty(&self) -> Result<bool, StateError> {
        for cf in self.column_families()? {
            if let Some(first) = self.db().iterator_cf(cf, IteratorMode::Start).next() {
                first.map_err(|e| backend_error("cannot read", e))?;
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Makes the database downloaded into `dir` (with column `families`) this backend's.
    fn adopt(
        &mut self,
        dir: &Path,
        mut families: Vec<String>,
        states: &[&String],
    ) -> Result<(), StateError> {
        for registered in self.state_names().map(column_family_name) {
            if !families.contains(&registered) {
                families.push(registered);
            }
        }
        let db = DB::open_cf(&self.options.writable(), dir, &families)
            .map_err(|e| backend_error("cannot open the checkpoint's database", e))?;
        self.replace_db(db);
        for state in states {
            self.register(state)?;
        }
        Ok(())
    }

    /// Copies `state`'s entries in this instance's key groups from `old`.
    fn copy_state(&mut self, old: &DB, state: &str) -> Result<(), StateError> {
        let id = self.register(state)?;
        let family = column_family_name(state);
        let old_cf = old
            .cf_handle(&family)
            .ok_or_else(|| backend_error("the checkpoint's database lacks", &family))?;
        let range = self.options.key_groups;
        let from = group_prefix(range.start);
        let to = (range.end < usize::from(u16::MAX)).then(|| group_prefix(range.end + 1));
        let cf = self.column_family(id)?;
        let mut batch = WriteBatch::default();
        for entry in old.iterator_cf(old_cf, IteratorMode::From(&from, Direction::Forward)) {
            let (key, value) = entry.map_err(|e| backend_error("cannot read the checkpoint", e))?;
            if to.is_some_and(|to| key[..] >= to[..]) {
                break;
            }
            batch.put_cf(cf, &key, &value);
            if batch.len() >= RESTORE_BATCH {
                self.write(std::mem::take(&mut batch), "cannot restore")?;
            }
        }
        self.write(batch, "cannot restore")
    }
}

/// Writes the files of `native` into `dir`.
fn download(
    storage: &CheckpointStorage,
    native: &NativeKeyedState,
    dir: &Path,
) -> Result<(), StateError> {
    std::fs::create_dir_all(dir).map_err(|e| io_error("cannot create", dir, e))?;
    // The names come from the checkpoint: each must stay inside `dir` and `shared/`.
    native
        .check_file_names()
        .map_err(|e| backend_error("cannot restore", e))?;
    let write = |name: &str, contents: &[u8]| -> Result<(), StateError> {
        let path: PathBuf = dir.join(name);
        std::fs::write(&path, contents).map_err(|e| io_error("cannot write", &path, e))
    };
    for file in &native.shared {
        let wrong_size = |size: u64| {
            backend_error(
                "cannot restore",
                format!(
                    "shared file {} has {size} bytes, the checkpoint says {}",
                    file.stored_name, file.size
                ),
            )
        };
        let target = dir.join(&file.local_name);
        // A local checkpoint's files are linked (SST files are never changed in place, and
        // the database only ever removes its own link) or copied across file systems.
        if let Some(source) = storage.local_shared_path(&file.stored_name) {
            let size = std::fs::metadata(&source)
                .map_err(|e| io_error("cannot read", &source, e))?
                .len();
            if size != file.size {
                return Err(wrong_size(size));
            }
            if std::fs::hard_link(&source, &target).is_err() {
                std::fs::copy(&source, &target).map_err(|e| io_error("cannot copy", &source, e))?;
            }
            continue;
        }
        let contents = storage
            .read_shared(&file.stored_name)
            .map_err(|e| backend_error("cannot restore", e))?;
        if contents.len() as u64 != file.size {
            return Err(wrong_size(contents.len() as u64));
        }
        write(&file.local_name, &contents)?;
    }
    for (name, contents) in &native.private {
        write(name, contents)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use sluice_core::key_group::KeyGroupRange;
    use sluice_state::storage::{CheckpointMetadata, OperatorMetadata, TaskSnapshot};
    use sluice_state::{
        HeapStateBackend, OperatorSnapshot, SnapshotRequest, StateBackend, StateId,
    };

    use super::*;
    use crate::backend::RocksDbOptions;

    fn scratch(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("sluice-incremental-{}-{name}", std::process::id()))
    }

    fn backend(name: &str, key_groups: KeyGroupRange) -> RocksDbStateBackend {
        let options = RocksDbOptions {
            key_groups,
            incremental: true,
            ..RocksDbOptions::default()
        };
        RocksDbStateBackend::open_with(&scratch(name), options).unwrap()
    }

    /// Takes checkpoint `id` of `backend` and writes it into `storage`.
    fn checkpoint(
        storage: &CheckpointStorage,
        backend: &RocksDbStateBackend,
        id: u64,
    ) -> KeyedSnapshot {
        let mut keyed = KeyedSnapshot::for_request(SnapshotRequest {
            checkpoint_id: id,
            savepoint: false,
        });
        backend.snapshot(&mut keyed).unwrap();
        let snapshot = OperatorSnapshot {
            keyed: keyed.clone(),
            ..OperatorSnapshot::default()
        };
        let metadata = CheckpointMetadata {
            checkpoint_id: id,
            timestamp: 0,
            job_id: "0123456789abcdef0123456789abcdef".into(),
            job_name: "job".into(),
            operators: BTreeMap::from([(
                "op".to_string(),
                OperatorMetadata {
                    parallelism: 1,
                    max_parallelism: 128,
                    subtask_files: vec!["task-0-0.state".into()],
                },
            )]),
            shared: BTreeSet::new(),
        };
        let files = vec![(
            "task-0-0.state".to_string(),
            TaskSnapshot::from([("op".to_string(), snapshot)]),
        )];
        storage.write(&metadata, &files).unwrap();
        keyed
    }

    fn contents(
        backend: &RocksDbStateBackend,
        state: StateId,
    ) -> BTreeMap<(usize, Vec<u8>), Vec<u8>> {
        let mut all = BTreeMap::new();
        for group in 0..128 {
            for (key, value) in backend.scan_prefix(state.in_group(group), &[]).unwrap() {
                all.insert((group, key), value);
            }
        }
        all
    }

    #[test]
    fn checkpoints_store_new_files_only_and_restore_at_any_parallelism() {
        let location = scratch("storage");
        let storage = CheckpointStorage::open(location.to_str().unwrap()).unwrap();
        let all = KeyGroupRange::for_subtask(128, 1, 0);
        let mut original = backend("original", all);
        let state = original.register("counts").unwrap();
        for i in 0..2_000u32 {
            let key = i.to_be_bytes().to_vec();
            original
                .put(state.in_group((i % 128) as usize), key, vec![1; 20])
                .unwrap();
        }
        let first = checkpoint(&storage, &original, 1);
        let first_files: Vec<_> = first.native()[0].shared.iter().collect();
        assert!(!first_files.is_empty());
        assert!(
            first_files.iter().all(|f| f.upload.is_some()),
            "everything is new"
        );
        original.notify_checkpoint_complete(1);

        for i in 0..500u32 {
            let key = i.to_be_bytes().to_vec();
            original
                .put(state.in_group((i % 128) as usize), key, vec![2; 20])
                .unwrap();
        }
        original
            .delete(state.in_group(7), &7u32.to_be_bytes())
            .unwrap();
        let second = checkpoint(&storage, &original, 2);
        let shared = &second.native()[0].shared;
        assert!(
            shared.iter().any(|f| f.upload.is_none()),
            "old files are referred to"
        );
        assert!(
            shared.iter().any(|f| f.upload.is_some()),
            "new files are stored"
        );
        drop((first, second));
        assert!(
            !original.dir().join("chk-1").exists(),
            "the local file set goes once stored"
        );
        let expected = contents(&original, state);

        // Checkpoint 1 is discarded: its files only it needed go two collections later.
        storage.discard(1).unwrap();
        let referenced = storage.read_metadata(2).unwrap().shared;
        let mut doomed = BTreeSet::new();
        assert_eq!(
            storage.collect_garbage(&referenced, &mut doomed).unwrap(),
            0
        );
        storage.collect_garbage(&referenced, &mut doomed).unwrap();

        let restored = storage.read(2).unwrap();
        let keyed = &restored.operators["op"][0].keyed;
        let mut seen = BTreeMap::new();
        for index in 0..3 {
            let range = KeyGroupRange::for_subtask(128, 3, index);
            let mut part = backend(&format!("part-{index}"), range);
            part.restore(&KeyedSnapshot::select([keyed], range))
                .unwrap();
            let state = part.register("counts").unwrap();
            for ((group, key), value) in contents(&part, state) {
                assert!(range.contains(group), "only owned key groups are restored");
                seen.insert((group, key), value);
            }
        }
        assert_eq!(seen, expected, "every entry restored exactly once");

        // At the same key groups the downloaded database is adopted, and checkpoints go on.
        let mut same = backend("same", all);
        let registered = same.register("counts").unwrap();
        same.restore(keyed).unwrap();
        assert_eq!(contents(&same, registered), expected);
        same.put(registered.in_group(1), b"new".to_vec(), b"v".to_vec())
            .unwrap();
        let third = checkpoint(&storage, &same, 3);
        assert!(third.native()[0].shared.iter().all(|f| f.upload.is_some()));
        drop(third);
        let mut again = backend("again", all);
        again
            .restore(&storage.read(3).unwrap().operators["op"][0].keyed)
            .unwrap();
        let state_again = again.register("counts").unwrap();
        assert_eq!(contents(&again, state_again).len(), expected.len() + 1);

        let error = HeapStateBackend::new(128).restore(keyed).unwrap_err();
        assert!(error.to_string().contains("rocksdb"), "{error}");
        drop(original);
        std::fs::remove_dir_all(location).unwrap();
    }

    #[test]
    fn savepoints_stay_in_the_canonical_format() {
        let mut backend = backend("savepoint", KeyGroupRange::for_subtask(128, 1, 0));
        let state = backend.register("s").unwrap();
        backend
            .put(state.in_group(3), b"k".to_vec(), b"v".to_vec())
            .unwrap();
        let mut keyed = KeyedSnapshot::for_request(SnapshotRequest {
            checkpoint_id: 5,
            savepoint: true,
        });
        backend.snapshot(&mut keyed).unwrap();
        keyed.materialize().unwrap();
        assert!(keyed.native().is_empty());
        let mut heap = HeapStateBackend::new(128);
        heap.restore(&keyed).unwrap();
        let state = heap.register("s").unwrap();
        assert_eq!(
            heap.get(state.in_group(3), b"k").unwrap().as_deref(),
            Some(&b"v"[..])
        );
    }
}
