//! Broadcast state: named, typed maps that every parallel instance keeps identical, written by
//! the broadcast side. They are operator state of the union kind: each subtask snapshots its
//! copy, and a restored subtask (at any parallelism) takes the first copy of each map, decoded
//! with the codec its descriptor provides.

use std::any::Any;
use std::collections::HashMap;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sluice_core::UserResult;
use sluice_state::codec::{decode, encode};
use sluice_state::{OperatorStateSnapshot, OperatorStateStore, StateError};

/// The union list state the broadcast maps are snapshotted in: (name, encoded map) elements.
const BROADCAST_STATE: &str = "broadcast-state";

/// A broadcast map with its types erased, able to encode itself.
trait BroadcastMap: Send {
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn encode(&self, name: &str) -> Result<Vec<u8>, StateError>;
}

impl<K, V> BroadcastMap for HashMap<K, V>
where
    K: Hash + Eq + Serialize + Send + 'static,
    V: Serialize + Send + 'static,
{
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn encode(&self, name: &str) -> Result<Vec<u8>, StateError> {
        encode(name, &self.iter().collect::<Vec<_>>())
    }
}

type Decoder = dyn Fn(&[u8]) -> Result<Box<dyn BroadcastMap>, StateError> + Send + Sync;

/// Decodes a restored broadcast map of one descriptor's types.
#[derive(Clone)]
pub struct BroadcastStateCodec {
    name: Arc<str>,
    decode: Arc<Decoder>,
}

/// Names one broadcast map state of keys `K` and values `V`.
pub struct BroadcastStateDescriptor<K, V> {
    name: Arc<str>,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for BroadcastStateDescriptor<K, V> {
    fn clone(&self) -> Self {
        BroadcastStateDescriptor {
            name: Arc::clone(&self.name),
            _types: PhantomData,
        }
    }
}

impl<K, V> BroadcastStateDescriptor<K, V> {
    /// A descriptor named `name`.
    pub fn new(name: &str) -> Self {
        BroadcastStateDescriptor {
            name: Arc::from(name),
            _types: PhantomData,
        }
    }

    /// The state's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl<K, V> BroadcastStateDescriptor<K, V>
where
    K: Hash + Eq + Serialize + DeserializeOwned + Send + 'static,
    V: Serialize + DeserializeOwned + Send + 'static,
{
    /// How a restored copy of this state is decoded.
    pub fn codec(&self) -> BroadcastStateCodec {
        let name = Arc::clone(&self.name);
        BroadcastStateCodec {
            name: Arc::clone(&self.name),
            decode: Arc::new(move |bytes| {
                let entries: Vec<(K, V)> = decode(&name, bytes)?;
                Ok(Box::new(entries.into_iter().collect::<HashMap<K, V>>()))
            }),
        }
    }
}

/// The broadcast states of one operator instance.
#[derive(Default)]
pub struct BroadcastStates {
    maps: HashMap<Arc<str>, Box<dyn BroadcastMap>>,
    codecs: Vec<BroadcastStateCodec>,
}

impl BroadcastStates {
    /// States that can be restored with `codecs` (one per descriptor of the broadcast stream).
    pub fn with_codecs(codecs: Vec<BroadcastStateCodec>) -> Self {
        BroadcastStates {
            maps: HashMap::new(),
            codecs,
        }
    }

    /// The map named by `descriptor` (empty until the broadcast side writes it).
    pub fn get<K: 'static, V: 'static>(
        &self,
        descriptor: &BroadcastStateDescriptor<K, V>,
    ) -> Option<&HashMap<K, V>> {
        self.maps.get(&descriptor.name)?.as_any().downcast_ref()
    }

    /// The map named by `descriptor`, for writing; an error if the name is used with other types.
    pub fn get_mut<K, V>(
        &mut self,
        descriptor: &BroadcastStateDescriptor<K, V>,
    ) -> UserResult<&mut HashMap<K, V>>
    where
        K: Hash + Eq + Serialize + Send + 'static,
        V: Serialize + Send + 'static,
    {
        self.maps
            .entry(Arc::clone(&descriptor.name))
            .or_insert_with(|| Box::new(HashMap::<K, V>::new()))
            .as_any_mut()
            .downcast_mut()
            .ok_or_else(|| {
                format!(
                    "broadcast state '{}' is used with two different types",
                    descriptor.name
                )
                .into()
            })
    }

    /// Every map, encoded, as union list state.
    pub fn snapshot(&self) -> Result<OperatorStateSnapshot, StateError> {
        let mut encoded = Vec::with_capacity(self.maps.len());
        for (name, map) in &self.maps {
            encoded.push((name.to_string(), map.encode(name)?));
        }
        encoded.sort();
        let mut store = OperatorStateStore::new();
        store.union_list_state(BROADCAST_STATE)?.update(&encoded)?;
        Ok(store.snapshot())
    }

    /// Loads the first restored copy of each map whose descriptor this operator knows; maps
    /// of descriptors it no longer has are dropped.
    pub fn restore(&mut self, restored: &OperatorStateSnapshot) -> Result<(), StateError> {
        let mut store = OperatorStateStore::restored(restored.clone());
        let copies: Vec<(String, Vec<u8>)> = store.union_list_state(BROADCAST_STATE)?.get()?;
        for (name, bytes) in copies {
            if self.maps.contains_key(name.as_str()) {
                continue;
            }
            match self.codecs.iter().find(|c| *c.name == *name) {
                Some(codec) => {
                    let map = (codec.decode)(&bytes)?;
                    self.maps.insert(Arc::from(name.as_str()), map);
                }
                None => tracing::warn!(
                    "dropping restored broadcast state '{name}': no descriptor names it"
                ),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_state::OperatorStateSnapshot;

    #[test]
    fn maps_restore_from_any_old_subtask_at_any_parallelism() {
        let limits = BroadcastStateDescriptor::<String, u32>::new("limits");
        let mut old = Vec::new();
        for _ in 0..2 {
            let mut states = BroadcastStates::with_codecs(vec![limits.codec()]);
            states.get_mut(&limits).unwrap().insert("alice".into(), 10);
            old.push(states.snapshot().unwrap());
        }
        for index in 0..3 {
            let share = OperatorStateSnapshot::redistribute(&old, index, 3);
            let mut restored = BroadcastStates::with_codecs(vec![limits.codec()]);
            restored.restore(&share).unwrap();
            assert_eq!(restored.get(&limits).unwrap()["alice"], 10);
        }
        let mut unknown = BroadcastStates::default();
        unknown.restore(&old[0]).unwrap();
        assert!(unknown.get(&limits).is_none(), "no descriptor, no state");
    }
}
