//! Key groups: the unit in which keyed state is partitioned, snapshotted and rescaled.
//!
//! As in Flink, a key belongs to key group `murmur(hash(key)) % max_parallelism`, and each
//! parallel subtask owns one contiguous range of key groups. Rescaling a job moves whole key
//! groups between subtasks, so the key → key group mapping must never change for a given
//! `max_parallelism`: the key hash is a fixed, seedless function (FxHash), not Rust's randomly
//! seeded default hasher.

use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

/// The max parallelism (number of key groups) used when the job does not set one.
pub const DEFAULT_MAX_PARALLELISM: usize = 128;

/// The largest max parallelism allowed, as in Flink (2^15).
pub const UPPER_BOUND_MAX_PARALLELISM: usize = 1 << 15;

/// Flink's default max parallelism for an operator of parallelism `parallelism`:
/// `1.5 × parallelism` rounded up to a power of two, within `[128, 32768]`.
pub fn default_max_parallelism(parallelism: usize) -> usize {
    let wanted = (parallelism + parallelism / 2).next_power_of_two();
    wanted.clamp(DEFAULT_MAX_PARALLELISM, UPPER_BOUND_MAX_PARALLELISM)
}

/// A stable 64-bit hash of a key: the same on every run, thread and process.
pub fn stable_hash<K: Hash + ?Sized>(key: &K) -> u64 {
    let mut hasher = rustc_hash::FxHasher::default();
    key.hash(&mut hasher);
    hasher.finish()
}

/// A hash of a specified algorithm, 64-bit FNV-1a, over bytes its caller lays out: its values
/// are the same on every platform and in every version of Sluice and of Rust (which does not
/// specify the bytes a `Hash` implementation feeds a hasher). Keys whose key groups must
/// survive an upgrade — SQL keys, in checkpoints and savepoints — hash with it.
#[derive(Debug, Clone, Copy)]
pub struct Fnv1a64(u64);

impl Fnv1a64 {
    /// A hasher that has seen no bytes.
    pub fn new() -> Self {
        Fnv1a64(0xcbf2_9ce4_8422_2325)
    }

    /// Feeds `bytes`.
    pub fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// The hash of the bytes fed so far.
    pub fn finish(self) -> u64 {
        self.0
    }
}

impl Default for Fnv1a64 {
    fn default() -> Self {
        Fnv1a64::new()
    }
}

/// Flink's `MathUtils.murmurHash`: scrambles a 32-bit hash into a non-negative one.
pub fn murmur_hash(code: i32) -> i32 {
    let mut h = code.wrapping_mul(0xcc9e2d51_u32 as i32);
    h = h.rotate_left(15);
    h = h.wrapping_mul(0x1b873593);
    h = h.rotate_left(13);
    h = h.wrapping_mul(5).wrapping_add(0xe6546b64_u32 as i32);
    h ^= 4;
    let mut m = h as u32;
    m ^= m >> 16;
    m = m.wrapping_mul(0x85ebca6b);
    m ^= m >> 13;
    m = m.wrapping_mul(0xc2b2ae35);
    m ^= m >> 16;
    let h = m as i32;
    if h >= 0 {
        h
    } else if h != i32::MIN {
        -h
    } else {
        0
    }
}

/// The key group of a key hash (from [`stable_hash`]) for a given max parallelism.
pub fn key_group_for_hash(hash: u64, max_parallelism: usize) -> usize {
    let folded = (hash ^ (hash >> 32)) as u32 as i32;
    murmur_hash(folded) as usize % max_parallelism
}

/// The key group a key belongs to.
pub fn assign_to_key_group<K: Hash + ?Sized>(key: &K, max_parallelism: usize) -> usize {
    key_group_for_hash(stable_hash(key), max_parallelism)
}

/// The index of the subtask (of `parallelism`) that owns `key_group`.
pub fn operator_index_for_key_group(
    max_parallelism: usize,
    parallelism: usize,
    key_group: usize,
) -> usize {
    key_group * parallelism / max_parallelism
}

/// A contiguous, inclusive range of key groups owned by one subtask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyGroupRange {
    /// The first key group in the range.
    pub start: usize,
    /// The last key group in the range (inclusive); `end < start` means empty.
    pub end: usize,
}

impl KeyGroupRange {
    /// The key groups owned by subtask `index` of `parallelism` under `max_parallelism`.
    pub fn for_subtask(max_parallelism: usize, parallelism: usize, index: usize) -> Self {
        let start = (index * max_parallelism).div_ceil(parallelism);
        let end = ((index + 1) * max_parallelism).div_ceil(parallelism);
        KeyGroupRange {
            start,
            end: end.wrapping_sub(1),
        }
    }

    /// Whether `key_group` lies in the range.
    pub fn contains(&self, key_group: usize) -> bool {
        key_group >= self.start && key_group <= self.end
    }

    /// How many key groups the range holds.
    pub fn len(&self) -> usize {
        if self.end < self.start {
            0
        } else {
            self.end - self.start + 1
        }
    }

    /// Whether the range holds no key group.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key groups of the range, in order.
    pub fn iter(&self) -> std::ops::Range<usize> {
        self.start..self.start + self.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fnv1a_gives_its_published_test_vectors() {
        let hash = |text: &str| {
            let mut hasher = Fnv1a64::new();
            hasher.write(text.as_bytes());
            hasher.finish()
        };
        assert_eq!(hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash("foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn murmur_matches_flink() {
        // Values printed by Flink 2.3's MathUtils.murmurHash.
        let expected = [
            (0, 593689054),
            (1, 68075478),
            (-1, 1982413648),
            (42, 1134849565),
            (i32::MIN, 1718298732),
            (123456789, 1088346449),
        ];
        for (code, hash) in expected {
            assert_eq!(murmur_hash(code), hash, "murmur_hash({code})");
        }
    }

    #[test]
    fn default_max_parallelism_follows_flink() {
        assert_eq!(default_max_parallelism(1), 128);
        assert_eq!(default_max_parallelism(100), 256);
        assert_eq!(
            default_max_parallelism(100_000),
            UPPER_BOUND_MAX_PARALLELISM
        );
    }

    #[test]
    fn stable_hash_is_stable() {
        assert_eq!(stable_hash("word"), stable_hash(&"word".to_string()));
        assert_eq!(stable_hash(&42u64), stable_hash(&42u64));
    }

    proptest! {
        #[test]
        fn ranges_partition_all_key_groups(max_p in 1usize..512, p in 1usize..64) {
            prop_assume!(p <= max_p);
            let mut next = 0;
            for i in 0..p {
                let range = KeyGroupRange::for_subtask(max_p, p, i);
                prop_assert_eq!(range.start, next);
                for kg in range.start..=range.end {
                    prop_assert_eq!(operator_index_for_key_group(max_p, p, kg), i);
                }
                next = range.end.wrapping_add(1);
            }
            prop_assert_eq!(next, max_p);
        }

        #[test]
        fn key_groups_are_in_range(key in any::<u64>(), max_p in 1usize..4096) {
            prop_assert!(assign_to_key_group(&key, max_p) < max_p);
        }
    }
}
