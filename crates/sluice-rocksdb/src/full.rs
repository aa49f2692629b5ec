//! Full (canonical) snapshots taken asynchronously: at the barrier the task thread only
//! flushes the memtables and makes a RocksDB checkpoint (hard links to the immutable files);
//! reading every entry of that frozen copy into the canonical snapshot format is deferred to
//! the checkpoint coordinator, so processing goes on meanwhile (as Flink's asynchronous full
//! RocksDB snapshots do).

use std::path::Path;

use rocksdb::{DB, IteratorMode};
use sluice_state::{KeyedSnapshot, ScratchDir, StateError};

use crate::backend::{RocksDbStateBackend, backend_error, column_family_name, database_options};
use crate::keys::split_stored;

impl RocksDbStateBackend {
    /// Freezes the database for snapshot `checkpoint_id` and leaves reading it to `into`'s
    /// deferred work.
    pub(crate) fn snapshot_deferred(
        &self,
        checkpoint_id: u64,
        into: &mut KeyedSnapshot,
    ) -> Result<(), StateError> {
        let frozen = ScratchDir::new(self.local_checkpoint(&format!("full-{checkpoint_id}"))?);
        let states: Vec<String> = self.state_names().map(str::to_string).collect();
        into.defer(Box::new(move |snapshot| {
            read_entries(frozen.path(), &states, snapshot)
            // `frozen` is dropped here: the copy is removed once read (or when abandoned).
        }));
        Ok(())
    }
}

/// Adds every entry of `states` in the frozen database at `dir` to `into`.
fn read_entries(dir: &Path, states: &[String], into: &mut KeyedSnapshot) -> Result<(), StateError> {
    let mut families = vec!["default".to_string()];
    families.extend(states.iter().map(|s| column_family_name(s)));
    let db = DB::open_cf_for_read_only(&database_options(), dir, &families, false)
        .map_err(|e| backend_error("cannot open the frozen database", e))?;
    for state in states {
        let family = column_family_name(state);
        let cf = db
            .cf_handle(&family)
            .ok_or_else(|| backend_error("the frozen database lacks", &family))?;
        for entry in db.iterator_cf(cf, IteratorMode::Start) {
            let (key, value) = entry.map_err(|e| backend_error("cannot read", e))?;
            if let Some((key_group, key)) = split_stored(&key) {
                into.push(key_group, state, key, &value);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use sluice_state::{SnapshotRequest, StateBackend};

    use super::*;

    #[test]
    fn a_full_snapshot_holds_the_state_at_the_barrier_and_is_read_later() {
        let dir = std::env::temp_dir().join(format!("sluice-rocksdb-full-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut backend = RocksDbStateBackend::open(&dir).unwrap();
        let state = backend.register("s").unwrap();
        backend
            .put(state.in_group(3), b"k".to_vec(), b"before".to_vec())
            .unwrap();
        let mut snapshot = KeyedSnapshot::for_request(SnapshotRequest {
            checkpoint_id: 4,
            savepoint: false,
        });
        backend.snapshot(&mut snapshot).unwrap();
        assert!(snapshot.is_deferred(), "nothing read on the task thread");
        assert!(dir.join("full-4").exists());
        // Processing goes on after the barrier.
        backend
            .put(state.in_group(3), b"k".to_vec(), b"after".to_vec())
            .unwrap();
        backend
            .put(state.in_group(5), b"j".to_vec(), b"new".to_vec())
            .unwrap();
        snapshot.materialize().unwrap();
        assert!(!snapshot.is_deferred());
        assert!(
            !dir.join("full-4").exists(),
            "the frozen copy is removed once read"
        );
        let entries: Vec<_> = snapshot
            .entries("s")
            .map(|(group, key, value)| (group, key.to_vec(), value.to_vec()))
            .collect();
        assert_eq!(entries, vec![(3, b"k".to_vec(), b"before".to_vec())]);
        drop(backend);
        let _ = std::fs::remove_dir_all(dir);
    }
}
