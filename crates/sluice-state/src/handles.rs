//! Typed state handles, as Flink's `ValueState`, `ListState`, `MapState`, `ReducingState` and
//! `AggregatingState`.
//!
//! A handle is declared once per operator instance (usually in `open`) with a unique name and
//! an optional time-to-live; every call takes the [`KeyedStateScope`] of the current key and
//! namespace. Handles are cheap to clone.

use std::marker::PhantomData;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sluice_core::AggregateFunction;

use crate::backend::StateId;
use crate::codec::{decode, encode};
use crate::error::StateError;
use crate::scope::KeyedStateScope;
use crate::ttl::{StateTtlConfig, TtlUpdate, unwrap_expiry, wrap_expiry};

/// What every handle shares: a name and a time-to-live.
#[derive(Debug, Clone)]
struct Cell0 {
    name: Arc<str>,
    ttl: Option<StateTtlConfig>,
}

impl Cell0 {
    fn new(name: &str) -> Self {
        Cell0 {
            name: Arc::from(name),
            ttl: None,
        }
    }

    /// The state's id in the scope's backend. Looked up on every access, not cached: one
    /// handle may serve several backends (a restored one registers states in another order).
    fn id(&self, scope: &mut KeyedStateScope<'_>) -> Result<StateId, StateError> {
        scope.register(&self.name)
    }

    /// The live payload stored under `key`; expired values are removed.
    fn read(
        &self,
        scope: &mut KeyedStateScope<'_>,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, StateError> {
        let id = self.id(scope)?;
        let Some(stored) = scope.get(id, key)? else {
            return Ok(None);
        };
        let stored = stored.into_owned();
        let Some(ttl) = self.ttl else {
            return Ok(Some(stored));
        };
        let Some((expiry, payload)) = unwrap_expiry(&stored) else {
            return Ok(None);
        };
        if expiry <= scope.now() {
            scope.delete(id, key)?;
            return Ok(None);
        }
        if ttl.update == TtlUpdate::OnReadAndWrite {
            let refreshed = wrap_expiry(ttl.expiry(scope.now()), payload);
            scope.put(id, key.to_vec(), refreshed)?;
        }
        Ok(Some(payload.to_vec()))
    }

    fn write(
        &self,
        scope: &mut KeyedStateScope<'_>,
        key: Vec<u8>,
        payload: Vec<u8>,
    ) -> Result<(), StateError> {
        let id = self.id(scope)?;
        let stored = match self.ttl {
            Some(ttl) => wrap_expiry(ttl.expiry(scope.now()), &payload),
            None => payload,
        };
        scope.put(id, key, stored)
    }

    fn live_payload<'b>(&self, stored: &'b [u8], now: i64) -> Option<&'b [u8]> {
        match self.ttl {
            None => Some(stored),
            Some(_) => unwrap_expiry(stored)
                .filter(|(expiry, _)| *expiry > now)
                .map(|(_, payload)| payload),
        }
    }
}

/// One value per key and namespace.
#[derive(Debug)]
pub struct ValueState<T> {
    cell: Cell0,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for ValueState<T> {
    fn clone(&self) -> Self {
        ValueState {
            cell: self.cell.clone(),
            _type: PhantomData,
        }
    }
}

impl<T: Serialize + DeserializeOwned> ValueState<T> {
    /// A value state named `name` (unique within the operator).
    pub fn new(name: &str) -> Self {
        ValueState {
            cell: Cell0::new(name),
            _type: PhantomData,
        }
    }

    /// Lets values expire.
    pub fn with_ttl(mut self, ttl: StateTtlConfig) -> Self {
        self.cell.ttl = Some(ttl);
        self
    }

    /// The current value, if any.
    pub fn value(&self, scope: &mut KeyedStateScope<'_>) -> Result<Option<T>, StateError> {
        let key = scope.prefix().to_vec();
        self.cell
            .read(scope, &key)?
            .map(|bytes| decode(&self.cell.name, &bytes))
            .transpose()
    }

    /// Replaces the value.
    pub fn update(&self, scope: &mut KeyedStateScope<'_>, value: &T) -> Result<(), StateError> {
        let payload = encode(&self.cell.name, value)?;
        let key = scope.prefix().to_vec();
        self.cell.write(scope, key, payload)
    }

    /// Removes the value.
    pub fn clear(&self, scope: &mut KeyedStateScope<'_>) -> Result<(), StateError> {
        let id = self.cell.id(scope)?;
        let key = scope.prefix().to_vec();
        scope.delete(id, &key)
    }
}

/// A list of values per key and namespace.
#[derive(Debug)]
pub struct ListState<T> {
    inner: ValueState<Vec<T>>,
}

impl<T> Clone for ListState<T> {
    fn clone(&self) -> Self {
        ListState {
            inner: self.inner.clone(),
        }
    }
}

impl<T: Serialize + DeserializeOwned> ListState<T> {
    /// A list state named `name`.
    pub fn new(name: &str) -> Self {
        ListState {
            inner: ValueState::new(name),
        }
    }

    /// Lets lists expire.
    pub fn with_ttl(mut self, ttl: StateTtlConfig) -> Self {
        self.inner = self.inner.with_ttl(ttl);
        self
    }

    /// The list (empty when none).
    pub fn get(&self, scope: &mut KeyedStateScope<'_>) -> Result<Vec<T>, StateError> {
        Ok(self.inner.value(scope)?.unwrap_or_default())
    }

    /// Appends a value.
    pub fn add(&self, scope: &mut KeyedStateScope<'_>, value: T) -> Result<(), StateError> {
        let mut list = self.get(scope)?;
        list.push(value);
        self.inner.update(scope, &list)
    }

    /// Appends values.
    pub fn add_all(
        &self,
        scope: &mut KeyedStateScope<'_>,
        values: impl IntoIterator<Item = T>,
    ) -> Result<(), StateError> {
        let mut list = self.get(scope)?;
        list.extend(values);
        self.inner.update(scope, &list)
    }

    /// Replaces the list.
    pub fn update(
        &self,
        scope: &mut KeyedStateScope<'_>,
        values: Vec<T>,
    ) -> Result<(), StateError> {
        self.inner.update(scope, &values)
    }

    /// Removes the list.
    pub fn clear(&self, scope: &mut KeyedStateScope<'_>) -> Result<(), StateError> {
        self.inner.clear(scope)
    }
}

/// A map per key and namespace.
#[derive(Debug)]
pub struct MapState<K, V> {
    cell: Cell0,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for MapState<K, V> {
    fn clone(&self) -> Self {
        MapState {
            cell: self.cell.clone(),
            _types: PhantomData,
        }
    }
}

impl<K: Serialize + DeserializeOwned, V: Serialize + DeserializeOwned> MapState<K, V> {
    /// A map state named `name`.
    pub fn new(name: &str) -> Self {
        MapState {
            cell: Cell0::new(name),
            _types: PhantomData,
        }
    }

    /// Lets entries expire, each on its own.
    pub fn with_ttl(mut self, ttl: StateTtlConfig) -> Self {
        self.cell.ttl = Some(ttl);
        self
    }

    fn entry_key(&self, scope: &KeyedStateScope<'_>, key: &K) -> Result<Vec<u8>, StateError> {
        Ok(scope.key_with(&encode(&self.cell.name, key)?))
    }

    /// The value of `key`.
    pub fn get(&self, scope: &mut KeyedStateScope<'_>, key: &K) -> Result<Option<V>, StateError> {
        let entry = self.entry_key(scope, key)?;
        self.cell
            .read(scope, &entry)?
            .map(|bytes| decode(&self.cell.name, &bytes))
            .transpose()
    }

    /// Sets the value of `key`.
    pub fn put(
        &self,
        scope: &mut KeyedStateScope<'_>,
        key: &K,
        value: &V,
    ) -> Result<(), StateError> {
        let entry = self.entry_key(scope, key)?;
        let payload = encode(&self.cell.name, value)?;
        self.cell.write(scope, entry, payload)
    }

    /// Removes `key`.
    pub fn remove(&self, scope: &mut KeyedStateScope<'_>, key: &K) -> Result<(), StateError> {
        let entry = self.entry_key(scope, key)?;
        let id = self.cell.id(scope)?;
        scope.delete(id, &entry)
    }

    /// Whether `key` has a live value.
    pub fn contains(&self, scope: &mut KeyedStateScope<'_>, key: &K) -> Result<bool, StateError> {
        Ok(self.get(scope, key)?.is_some())
    }

    /// Every live entry, ordered by the encoded key.
    pub fn entries(&self, scope: &mut KeyedStateScope<'_>) -> Result<Vec<(K, V)>, StateError> {
        let id = self.cell.id(scope)?;
        let prefix_len = scope.prefix().len() + 4;
        let now = scope.now();
        scope
            .scan(id)?
            .iter()
            .filter_map(|(k, v)| {
                let payload = self.cell.live_payload(v, now)?;
                Some((k.get(prefix_len..)?.to_vec(), payload.to_vec()))
            })
            .map(|(k, v)| Ok((decode(&self.cell.name, &k)?, decode(&self.cell.name, &v)?)))
            .collect()
    }

    /// Whether the map has no live entry.
    pub fn is_empty(&self, scope: &mut KeyedStateScope<'_>) -> Result<bool, StateError> {
        Ok(self.entries(scope)?.is_empty())
    }

    /// Removes every entry.
    pub fn clear(&self, scope: &mut KeyedStateScope<'_>) -> Result<(), StateError> {
        let id = self.cell.id(scope)?;
        scope.delete_all(id)
    }
}

/// A value per key and namespace that new values are reduced into.
pub struct ReducingState<T> {
    inner: ValueState<T>,
    reduce: Arc<dyn Fn(T, T) -> T + Send + Sync>,
}

impl<T> Clone for ReducingState<T> {
    fn clone(&self) -> Self {
        ReducingState {
            inner: self.inner.clone(),
            reduce: Arc::clone(&self.reduce),
        }
    }
}

impl<T: Serialize + DeserializeOwned> ReducingState<T> {
    /// A reducing state named `name` combining values with `reduce(accumulated, new)`.
    pub fn new(name: &str, reduce: impl Fn(T, T) -> T + Send + Sync + 'static) -> Self {
        ReducingState {
            inner: ValueState::new(name),
            reduce: Arc::new(reduce),
        }
    }

    /// Lets the value expire.
    pub fn with_ttl(mut self, ttl: StateTtlConfig) -> Self {
        self.inner = self.inner.with_ttl(ttl);
        self
    }

    /// The reduced value, if any.
    pub fn get(&self, scope: &mut KeyedStateScope<'_>) -> Result<Option<T>, StateError> {
        self.inner.value(scope)
    }

    /// Reduces `value` into the state.
    pub fn add(&self, scope: &mut KeyedStateScope<'_>, value: T) -> Result<(), StateError> {
        let reduced = match self.inner.value(scope)? {
            Some(accumulated) => (self.reduce)(accumulated, value),
            None => value,
        };
        self.inner.update(scope, &reduced)
    }

    /// Removes the value.
    pub fn clear(&self, scope: &mut KeyedStateScope<'_>) -> Result<(), StateError> {
        self.inner.clear(scope)
    }
}

/// An accumulator per key and namespace that values are aggregated into.
pub struct AggregatingState<IN, ACC, OUT> {
    inner: ValueState<ACC>,
    aggregate: Arc<dyn AggregateFunction<IN, ACC, OUT>>,
}

impl<IN, ACC, OUT> Clone for AggregatingState<IN, ACC, OUT> {
    fn clone(&self) -> Self {
        AggregatingState {
            inner: self.inner.clone(),
            aggregate: Arc::clone(&self.aggregate),
        }
    }
}

impl<IN: 'static, ACC: Serialize + DeserializeOwned + 'static, OUT: 'static>
    AggregatingState<IN, ACC, OUT>
{
    /// An aggregating state named `name`.
    pub fn new(name: &str, aggregate: impl AggregateFunction<IN, ACC, OUT>) -> Self {
        AggregatingState {
            inner: ValueState::new(name),
            aggregate: Arc::new(aggregate),
        }
    }

    /// Lets the accumulator expire.
    pub fn with_ttl(mut self, ttl: StateTtlConfig) -> Self {
        self.inner = self.inner.with_ttl(ttl);
        self
    }

    /// The aggregate's result, if anything was added.
    pub fn get(&self, scope: &mut KeyedStateScope<'_>) -> Result<Option<OUT>, StateError> {
        Ok(self
            .inner
            .value(scope)?
            .map(|accumulator| self.aggregate.get_result(&accumulator)))
    }

    /// Adds `value`.
    pub fn add(&self, scope: &mut KeyedStateScope<'_>, value: IN) -> Result<(), StateError> {
        let mut accumulator = self
            .inner
            .value(scope)?
            .unwrap_or_else(|| self.aggregate.create_accumulator());
        self.aggregate.add(&mut accumulator, value);
        self.inner.update(scope, &accumulator)
    }

    /// Removes the accumulator.
    pub fn clear(&self, scope: &mut KeyedStateScope<'_>) -> Result<(), StateError> {
        self.inner.clear(scope)
    }
}
