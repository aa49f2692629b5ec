//! Watermark alignment (Flink's `withWatermarkAlignment`): sources of one alignment group stop
//! reading while their watermark is more than `max_drift` ahead of the slowest member's, so a
//! fast source does not fill windows and buffers with data that cannot fire yet.
//!
//! Every watermark-generating instance reports its watermark to the job's registry; a member
//! that finished or went idle leaves the group and holds nobody back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use sluice_core::Timestamp;

/// The alignment groups of one job.
#[derive(Debug, Default)]
pub struct AlignmentRegistry {
    groups: Mutex<HashMap<String, HashMap<String, Timestamp>>>,
}

impl AlignmentRegistry {
    /// An empty registry.
    pub fn new() -> Arc<Self> {
        Arc::new(AlignmentRegistry::default())
    }

    /// Records `member`'s watermark in `group`.
    pub fn report(&self, group: &str, member: &str, watermark: Timestamp) {
        self.groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(group.to_string())
            .or_default()
            .insert(member.to_string(), watermark);
    }

    /// Removes `member` from `group` (it finished or went idle).
    pub fn leave(&self, group: &str, member: &str) {
        if let Some(members) = self
            .groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(group)
        {
            members.remove(member);
        }
    }

    /// The lowest watermark of `group`'s members, if it has any.
    pub fn group_minimum(&self, group: &str) -> Option<Timestamp> {
        self.groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(group)?
            .values()
            .min()
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_over_members_that_did_not_leave() {
        let registry = AlignmentRegistry::new();
        registry.report("g", "a", 10);
        registry.report("g", "b", 50);
        registry.report("other", "c", 1);
        assert_eq!(registry.group_minimum("g"), Some(10));
        registry.leave("g", "a");
        assert_eq!(registry.group_minimum("g"), Some(50));
        assert_eq!(registry.group_minimum("none"), None);
    }
}
