//! The keyed state scope: the backend seen through the current key and namespace.

use serde::Serialize;

use crate::backend::Entries;
use crate::backend::{StateBackend, StateId};
use crate::codec::{encode, push_framed};
use crate::error::StateError;

/// Encodes a key and namespace into the prefix of every state entry they own.
pub fn encode_key<K: Serialize + ?Sized, N: Serialize + ?Sized>(
    key: &K,
    namespace: &N,
) -> Result<Vec<u8>, StateError> {
    let mut prefix = Vec::new();
    push_framed(&mut prefix, &encode("current key", key)?);
    push_framed(&mut prefix, &encode("namespace", namespace)?);
    Ok(prefix)
}

/// The key and namespace prefix at the front of a state entry's key (see [`encode_key`]).
#[derive(Debug, PartialEq, Eq)]
pub struct KeyPrefix<'a> {
    /// The encoded key.
    pub key: &'a [u8],
    /// The encoded namespace.
    pub namespace: &'a [u8],
    /// The whole prefix, frames included.
    pub prefix: &'a [u8],
}

/// Splits the key-and-namespace prefix off a state entry's key; `None` when the entry's key is
/// not framed so.
pub fn split_key_prefix(entry: &[u8]) -> Option<KeyPrefix<'_>> {
    // One frame at `at`: its body and where it ends.
    let frame = |at: usize| -> Option<(&[u8], usize)> {
        let length = entry.get(at..at.checked_add(4)?)?;
        let length = u32::from_be_bytes(length.try_into().ok()?) as usize;
        let end = at.checked_add(4)?.checked_add(length)?;
        Some((entry.get(at + 4..end)?, end))
    };
    let (key, key_end) = frame(0)?;
    let (namespace, prefix_end) = frame(key_end)?;
    Some(KeyPrefix {
        key,
        namespace,
        prefix: &entry[..prefix_end],
    })
}

/// Keyed state access for one key and namespace, at one processing time.
pub struct KeyedStateScope<'a> {
    backend: &'a mut dyn StateBackend,
    key_group: usize,
    prefix: Vec<u8>,
    now: i64,
}

impl<'a> KeyedStateScope<'a> {
    /// A scope over `backend` for `key` (in `key_group`) and `namespace`, at time `now` (ms;
    /// used for time-to-live).
    pub fn new<K: Serialize + ?Sized, N: Serialize + ?Sized>(
        backend: &'a mut dyn StateBackend,
        key_group: usize,
        key: &K,
        namespace: &N,
        now: i64,
    ) -> Result<Self, StateError> {
        Ok(Self::from_encoded(
            backend,
            key_group,
            encode_key(key, namespace)?,
            now,
        ))
    }

    /// A scope for an already encoded key and namespace (see [`encode_key`]).
    pub fn from_encoded(
        backend: &'a mut dyn StateBackend,
        key_group: usize,
        prefix: Vec<u8>,
        now: i64,
    ) -> Self {
        KeyedStateScope {
            backend,
            key_group,
            prefix,
            now,
        }
    }

    /// The processing time of this access.
    pub fn now(&self) -> i64 {
        self.now
    }

    pub(crate) fn register(&mut self, name: &str) -> Result<StateId, StateError> {
        self.backend.register(name)
    }

    pub(crate) fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    pub(crate) fn key_with(&self, suffix: &[u8]) -> Vec<u8> {
        let mut key = self.prefix.clone();
        push_framed(&mut key, suffix);
        key
    }

    pub(crate) fn get(
        &self,
        state: StateId,
        key: &[u8],
    ) -> Result<Option<std::borrow::Cow<'_, [u8]>>, StateError> {
        self.backend.get(state.in_group(self.key_group), key)
    }

    pub(crate) fn put(
        &mut self,
        state: StateId,
        key: Vec<u8>,
        value: Vec<u8>,
    ) -> Result<(), StateError> {
        self.backend.put(state.in_group(self.key_group), key, value)
    }

    pub(crate) fn delete(&mut self, state: StateId, key: &[u8]) -> Result<(), StateError> {
        self.backend.delete(state.in_group(self.key_group), key)
    }

    pub(crate) fn scan(&self, state: StateId) -> Result<Entries, StateError> {
        self.backend
            .scan_prefix(state.in_group(self.key_group), &self.prefix)
    }

    pub(crate) fn delete_all(&mut self, state: StateId) -> Result<(), StateError> {
        let prefix = self.prefix.clone();
        self.backend
            .delete_prefix(state.in_group(self.key_group), &prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_key_splits_into_its_encoded_key_and_prefix() {
        let prefix = encode_key("user-7", &()).unwrap();
        let mut entry = prefix.clone();
        entry.extend_from_slice(b"map key");
        let split = split_key_prefix(&entry).unwrap();
        assert_eq!(split.prefix, &prefix[..]);
        assert_eq!(
            crate::codec::decode::<String>("k", split.key).unwrap(),
            "user-7"
        );
        assert_eq!(split.namespace, &encode("namespace", &()).unwrap()[..]);
        assert_eq!(split_key_prefix(&entry[..3]), None);
        assert_eq!(split_key_prefix(&[0, 0, 0, 9, 1]), None);
    }
}
