//! The byte layout of keys in the database: `key group (u16, big-endian) | key`.

/// The stored key of `key` in `key_group`.
pub(crate) fn stored_key(key_group: usize, key: &[u8]) -> Vec<u8> {
    let mut stored = Vec::with_capacity(2 + key.len());
    stored.extend_from_slice(&group_prefix(key_group));
    stored.extend_from_slice(key);
    stored
}

/// The two-byte prefix of every key in `key_group` (max parallelism is at most 2^15).
pub(crate) fn group_prefix(key_group: usize) -> [u8; 2] {
    (key_group as u16).to_be_bytes()
}

/// Splits a stored key into its key group and the key.
pub(crate) fn split_stored(stored: &[u8]) -> Option<(usize, &[u8])> {
    let (group, key) = stored.split_at_checked(2)?;
    Some((usize::from(u16::from_be_bytes([group[0], group[1]])), key))
}

/// The smallest key greater than every key starting with `prefix`, or `None` when no such
/// key exists (the prefix is all `0xff`).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_keys_sort_by_key_group_then_key() {
        let mut keys = [
            stored_key(300, b"a"),
            stored_key(2, b"zz"),
            stored_key(2, b"a"),
            stored_key(1, b"\xff"),
        ];
        keys.sort();
        let split: Vec<_> = keys.iter().map(|k| split_stored(k).unwrap()).collect();
        assert_eq!(
            split,
            vec![(1, &b"\xff"[..]), (2, b"a"), (2, b"zz"), (300, b"a")]
        );
        assert_eq!(split_stored(b"x"), None, "too short to hold a key group");
    }

    #[test]
    fn prefix_end_bounds_exactly_the_keys_with_the_prefix() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }
}
