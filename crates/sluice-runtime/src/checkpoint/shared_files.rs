//! Garbage collection of the files incremental checkpoints share: a shared file lives while a
//! retained checkpoint or a checkpoint in flight refers to it, and is deleted one completed
//! checkpoint after the last reference went (the delay covers a snapshot taken before its task
//! heard that an older checkpoint was subsumed).

use std::collections::{BTreeMap, BTreeSet};

use sluice_state::CheckpointStorage;
use sluice_state::storage::TaskSnapshot;

/// The shared files of the retained checkpoints.
#[derive(Debug, Default)]
pub(crate) struct SharedFiles {
    by_checkpoint: BTreeMap<u64, BTreeSet<String>>,
    doomed: BTreeSet<String>,
}

impl SharedFiles {
    /// The files of the checkpoints already retained in `storage` (from an earlier run).
    pub(crate) fn load(storage: &CheckpointStorage, retained: &[u64]) -> Self {
        let mut files = SharedFiles::default();
        for id in retained {
            match storage.read_metadata(*id) {
                Ok(metadata) => files.completed(*id, metadata.shared),
                Err(error) => {
                    tracing::warn!("cannot read checkpoint {id}'s shared files: {error}");
                }
            }
        }
        files
    }

    /// Checkpoint `id` completed, referring to `shared`.
    pub(crate) fn completed(&mut self, id: u64, shared: BTreeSet<String>) {
        self.by_checkpoint.insert(id, shared);
    }

    /// Checkpoint `id` was discarded: its references go.
    pub(crate) fn discarded(&mut self, id: u64) {
        self.by_checkpoint.remove(&id);
    }

    /// Deletes the files no retained checkpoint and no snapshot in `in_flight` refers to any
    /// more (since the previous call).
    pub(crate) fn collect<'a>(
        &mut self,
        storage: &CheckpointStorage,
        in_flight: impl Iterator<Item = &'a TaskSnapshot>,
    ) {
        let mut referenced: BTreeSet<String> =
            self.by_checkpoint.values().flatten().cloned().collect();
        if referenced.is_empty() && self.doomed.is_empty() {
            return;
        }
        referenced.extend(
            in_flight
                .flat_map(|task| task.values())
                .flat_map(|operator| operator.keyed.native())
                .flat_map(|native| &native.shared)
                .map(|file| file.stored_name.clone()),
        );
        match storage.collect_garbage(&referenced, &mut self.doomed) {
            Ok(0) => {}
            Ok(deleted) => tracing::debug!("deleted {deleted} unreferenced shared files"),
            Err(error) => tracing::warn!("cannot delete unreferenced shared files: {error}"),
        }
    }
}
