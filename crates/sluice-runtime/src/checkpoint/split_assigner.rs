//! The split assigner of a source: the splits not yet read, handed to readers on demand, and
//! what a checkpoint must remember of them.
//!
//! Each reader snapshots the splits it is reading, with their positions. The assigner adds the
//! splits no reader had at its snapshot: those never handed out, and those a reader took after
//! it had already snapshotted (their records come after the barrier). Once the last reader
//! snapshotted checkpoint `n`, [`SplitAssigner::snapshotted`] returns that set, so the
//! checkpoint holds every unfinished split exactly once. On restore, all of them go back to
//! the assigner and readers take them again, at any parallelism.
//!
//! Readers in different processes (a job on a cluster) share no assigner: each process has its
//! own, made [`SplitAssigner::fixed`], which hands split `i` only to reader `i mod readers`.

use std::collections::VecDeque;

/// The operator list state a source's splits are kept in.
pub const SOURCE_SPLITS_STATE: &str = "source-splits";

/// The splits of one source, shared by its readers.
#[derive(Debug)]
pub struct SplitAssigner<S> {
    /// Splits not handed out, with their position in the original order.
    pending: VecDeque<(usize, S)>,
    /// Whether each split belongs to reader `position mod readers` only.
    fixed: bool,
    /// Splits handed out: (reader, the last checkpoint that reader had snapshotted, split).
    handed_out: Vec<(usize, u64, S)>,
    /// Per reader, the last checkpoint it snapshotted.
    snapshotted: Vec<u64>,
    /// Whether hand-outs are remembered (only when the job checkpoints).
    tracking: bool,
}

impl<S: Clone> SplitAssigner<S> {
    /// An assigner handing out `splits` to `readers` readers; `tracking` when checkpointing.
    pub fn new(splits: impl IntoIterator<Item = S>, readers: usize, tracking: bool) -> Self {
        SplitAssigner {
            pending: splits.into_iter().enumerate().collect(),
            fixed: false,
            handed_out: Vec::new(),
            snapshotted: vec![0; readers],
            tracking,
        }
    }

    /// Hands split `i` only to reader `i mod readers` (readers spread over processes, each
    /// with its own assigner, then read every split exactly once).
    pub fn fixed(mut self) -> Self {
        self.fixed = true;
        self
    }

    /// The next split for `reader`, if any is left.
    pub fn next_split(&mut self, reader: usize) -> Option<S> {
        let readers = self.snapshotted.len().max(1);
        let position = if self.fixed {
            self.pending
                .iter()
                .position(|(index, _)| index % readers == reader)?
        } else {
            0
        };
        let (_, split) = self.pending.remove(position)?;
        if self.tracking {
            let epoch = self.snapshotted.get(reader).copied().unwrap_or(0);
            self.handed_out.push((reader, epoch, split.clone()));
        }
        Some(split)
    }

    /// `reader` snapshotted checkpoint `checkpoint_id`. When it is the last reader to do so,
    /// returns the splits the checkpoint must add to the readers' own: those never handed out
    /// and those handed out after their reader's snapshot (in their initial state).
    pub fn snapshotted(&mut self, reader: usize, checkpoint_id: u64) -> Option<Vec<S>> {
        if let Some(slot) = self.snapshotted.get_mut(reader) {
            *slot = (*slot).max(checkpoint_id);
        }
        if self.snapshotted.iter().any(|id| *id < checkpoint_id) {
            return None;
        }
        // Hand-outs before their reader's snapshot are in that snapshot (or finished).
        self.handed_out
            .retain(|(_, epoch, _)| *epoch >= checkpoint_id);
        let mut unread: Vec<S> = self.pending.iter().map(|(_, s)| s.clone()).collect();
        unread.extend(self.handed_out.iter().map(|(_, _, split)| split.clone()));
        Some(unread)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unfinished_split_is_in_the_checkpoint_exactly_once() {
        let mut assigner = SplitAssigner::new(["a", "b", "c", "d"], 2, true);
        assert_eq!(assigner.next_split(0), Some("a"));
        assert_eq!(assigner.next_split(1), Some("b"));
        // Reader 0 snapshots checkpoint 1 (it holds "a"), then takes "c" and reads on.
        assert_eq!(
            assigner.snapshotted(0, 1),
            None,
            "reader 1 has not snapshotted yet"
        );
        assert_eq!(assigner.next_split(0), Some("c"));
        // Reader 1 snapshots (it holds "b"): "c" came after reader 0's snapshot, "d" was never
        // handed out.
        assert_eq!(assigner.snapshotted(1, 1), Some(vec!["d", "c"]));
        // Checkpoint 2: reader 1 took "d" before snapshotting; "c" is reader 0's now.
        assert_eq!(assigner.next_split(1), Some("d"));
        assert_eq!(assigner.snapshotted(1, 2), None);
        assert_eq!(assigner.snapshotted(0, 2), Some(vec![]));
    }

    #[test]
    fn fixed_assigners_hand_each_reader_only_its_own_splits() {
        let mut assigner = SplitAssigner::new(["a", "b", "c", "d", "e"], 2, false).fixed();
        assert_eq!(assigner.next_split(1), Some("b"));
        assert_eq!(assigner.next_split(1), Some("d"));
        assert_eq!(assigner.next_split(1), None);
        assert_eq!(assigner.next_split(0), Some("a"));
        assert_eq!(assigner.next_split(0), Some("c"));
        assert_eq!(assigner.next_split(0), Some("e"));
        assert_eq!(assigner.next_split(0), None);
    }

    #[test]
    fn without_checkpoints_nothing_is_remembered() {
        let mut assigner = SplitAssigner::new([1, 2], 1, false);
        assert_eq!(assigner.next_split(0), Some(1));
        assert!(assigner.handed_out.is_empty());
    }
}
