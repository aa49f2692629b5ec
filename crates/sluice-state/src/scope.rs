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
