//! When a join side's kept rows are looked over for those that can join no more (the rows of
//! windows that fired, rows past the expiry of the `ON` condition): counting the rows kept by
//! the second they go in, a pass over the side's rows is taken once a quarter of them are gone,
//! with either state backend.

use std::collections::BTreeMap;

use sluice_core::{Timestamp, UserResult};

use super::join::SideRows;
use super::keyed_state::StateStore;

/// When a side's kept rows are looked over for those that go: a look is a pass over all of
/// them, taken once the rows that went by the watermark are a quarter of those kept, so each
/// pass is paid for by the rows it drops (and those take at most a third more room).
#[derive(Debug, Default)]
pub(super) struct ExpiryScan {
    /// Rows kept that go, by the last millisecond of the second they go in.
    going: BTreeMap<Timestamp, usize>,
    /// Rows kept since the last look, not yet counted in `going`: (second, rows).
    staged: Option<(Timestamp, usize)>,
    /// Rows kept that went by the watermark.
    gone: usize,
    /// Rows kept (retracted ones counted until the next look).
    rows: usize,
    /// Whether the rows came from a restore, their times not counted yet.
    restored: bool,
}

/// How finely [`ExpiryScan`] counts rows by when they go, in milliseconds.
const EXPIRY_STEP: Timestamp = 1_000;

impl ExpiryScan {
    /// The rows were restored: when they go is counted at the next look, which is due.
    pub(super) fn restored(&mut self) {
        self.restored = true;
    }

    /// A row going at `expires` (`Timestamp::MAX`: never) was kept.
    pub(super) fn kept(&mut self, expires: Timestamp) {
        self.rows += 1;
        if expires == Timestamp::MAX {
            return;
        }
        // The last millisecond of its second: at or after `expires`.
        let second = expires
            .saturating_sub(expires.rem_euclid(EXPIRY_STEP))
            .saturating_add(EXPIRY_STEP - 1);
        match &mut self.staged {
            Some((staged, count)) if *staged == second => *count += 1,
            staged => {
                if let Some((second, count)) = staged.replace((second, 1)) {
                    *self.going.entry(second).or_default() += count;
                }
            }
        }
    }

    /// Drops the kept `rows` that go at or before `watermark` (the rows of windows that fired,
    /// rows past their expiry) when a look is due.
    pub(super) fn drop_expired(
        &mut self,
        rows: &mut SideRows,
        store: &mut StateStore,
        watermark: Timestamp,
    ) -> UserResult {
        if let Some((second, count)) = self.staged.take() {
            *self.going.entry(second).or_default() += count;
        }
        while let Some(entry) = self.going.first_entry() {
            if *entry.key() > watermark {
                break;
            }
            self.gone += entry.remove();
        }
        if !self.restored && (self.gone == 0 || self.gone * 4 < self.rows) {
            return Ok(());
        }
        let restored = std::mem::take(&mut self.restored);
        let mut left = ExpiryScan::default();
        rows.retain(store, |_, kept| {
            kept.retain(|k| k.expires > watermark);
            if restored {
                kept.iter().for_each(|k| left.kept(k.expires));
            } else {
                left.rows += kept.len();
            }
            !kept.is_empty()
        })?;
        if !restored {
            left.going = std::mem::take(&mut self.going);
        }
        *self = left;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::KeyValue;
    use crate::operators::join::{JoinKey, Kept, KeptRows};

    /// Rows of keys 0..100, the row of key `k` going at `k` seconds.
    fn kept_rows(scan: &mut ExpiryScan, store: &mut StateStore) -> SideRows {
        let mut rows = SideRows::new("rows");
        for k in 0..100 {
            let expires = k * 1_000;
            scan.kept(expires);
            let row = Kept {
                row: Box::from([k as u8]),
                count: 1,
                expires,
            };
            let key = JoinKey::from_elem(KeyValue::Int(k), 1);
            rows.put(store, key, KeptRows::from_elem(row, 1)).unwrap();
        }
        rows
    }

    fn count(rows: &SideRows, store: &StateStore) -> usize {
        let mut n = 0;
        rows.for_each(store, |_, kept| {
            n += kept.len();
            Ok(())
        })
        .unwrap();
        n
    }

    #[test]
    fn a_pass_is_taken_once_a_quarter_of_the_rows_are_gone() {
        let (mut scan, mut store) = (ExpiryScan::default(), StateStore::default());
        let mut rows = kept_rows(&mut scan, &mut store);
        // Rows going at 0..=23 s are gone by 23.999 s: 24 of 100, no pass yet.
        scan.drop_expired(&mut rows, &mut store, 23_999).unwrap();
        assert_eq!(count(&rows, &store), 100);
        // 25 of 100: a pass drops every row gone (at or before the watermark).
        scan.drop_expired(&mut rows, &mut store, 24_999).unwrap();
        assert_eq!(count(&rows, &store), 75);
        // The next pass waits for a quarter of the 75 left.
        scan.drop_expired(&mut rows, &mut store, 42_000).unwrap();
        assert_eq!(count(&rows, &store), 75);
        scan.drop_expired(&mut rows, &mut store, 43_999).unwrap();
        assert_eq!(count(&rows, &store), 56);
        // Restored rows are looked over at the next watermark.
        scan.restored();
        scan.drop_expired(&mut rows, &mut store, 44_000).unwrap();
        assert_eq!(count(&rows, &store), 55);
    }
}
