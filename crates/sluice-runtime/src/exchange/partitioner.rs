//! Partitioners: which downstream channel each record of an edge goes to.
//!
//! A partitioner is a value on an edge ([`Partitioning`], part of the job graph) that becomes a
//! [`ChannelSelector`] in each producing subtask. Each has one invariant:
//! - `Forward`: subtask *i* sends only to subtask *i* (equal parallelism).
//! - `Rebalance`: round-robin over all consumers.
//! - `Rescale`: round-robin over the consumers in this producer's local group.
//! - `Shuffle`: uniformly random consumer.
//! - `Broadcast`: every record to every consumer.
//! - `Global`: every record to consumer 0.
//! - `Hash`: the consumer that owns the record's key group — every record of a key reaches the
//!   same subtask.
//! - `Custom`: the user's function picks the consumer.

use std::any::Any;
use std::sync::Arc;

use sluice_core::key_group::{key_group_for_hash, operator_index_for_key_group};

use crate::error::TaskError;
use crate::exchange::pre_aggregate::PreAggregateFactory;

/// A key hash function over records of type `T` (key selector, then a stable hash).
pub type KeyHashFn<T> = Arc<dyn Fn(&T) -> u64 + Send + Sync>;

/// What a keyed edge holds for its record type: the key hash and, when the consumer is a keyed
/// reduce, the pre-aggregation its producers run in batch mode.
pub struct KeyedPartitioning<T> {
    /// The key hash function.
    pub hash: KeyHashFn<T>,
    /// Folds each producer's records per key before the exchange, in batch mode.
    pub pre_aggregate: Option<PreAggregateFactory<T>>,
}

impl<T> Clone for KeyedPartitioning<T> {
    fn clone(&self) -> Self {
        KeyedPartitioning {
            hash: Arc::clone(&self.hash),
            pre_aggregate: self.pre_aggregate.clone(),
        }
    }
}

/// A user partitioner over records of type `T`: given a record and the number of channels,
/// the channel index.
pub type CustomPartitionFn<T> = Arc<dyn Fn(&T, usize) -> usize + Send + Sync>;

/// How an edge distributes records, as stored in the job graph.
#[derive(Clone)]
pub enum Partitioning {
    /// Not chosen by the user: `Forward` when parallelisms match, `Rebalance` otherwise.
    Default,
    /// One-to-one.
    Forward,
    /// Round-robin over all consumers.
    Rebalance,
    /// Round-robin within a local group of consumers.
    Rescale,
    /// Random.
    Shuffle,
    /// To every consumer.
    Broadcast,
    /// To consumer 0.
    Global,
    /// By key group; holds a [`KeyedPartitioning`] for the edge's type.
    Hash(Arc<dyn Any + Send + Sync>),
    /// By user function; holds a [`CustomPartitionFn`] for the edge's type.
    Custom(Arc<dyn Any + Send + Sync>),
}

impl Partitioning {
    /// By key group, with the key hash `hash`.
    pub fn hash<T: 'static>(hash: KeyHashFn<T>) -> Self {
        Partitioning::Hash(Arc::new(KeyedPartitioning {
            hash,
            pre_aggregate: None,
        }))
    }

    /// This partitioning with `pre_aggregate` folding each producer's records in batch mode,
    /// when it is by key group (other partitionings are returned as they are).
    pub fn with_pre_aggregate<T: 'static>(&self, pre_aggregate: PreAggregateFactory<T>) -> Self {
        match self {
            Partitioning::Hash(keyed) => match keyed.downcast_ref::<KeyedPartitioning<T>>() {
                Some(keyed) => Partitioning::Hash(Arc::new(KeyedPartitioning {
                    hash: Arc::clone(&keyed.hash),
                    pre_aggregate: Some(pre_aggregate),
                })),
                None => self.clone(),
            },
            other => other.clone(),
        }
    }

    /// The pre-aggregation producers of this edge run in batch mode, if any.
    pub fn pre_aggregate<T: 'static>(&self) -> Option<PreAggregateFactory<T>> {
        match self {
            Partitioning::Hash(keyed) => keyed
                .downcast_ref::<KeyedPartitioning<T>>()
                .and_then(|keyed| keyed.pre_aggregate.clone()),
            _ => None,
        }
    }

    /// The ship strategy name used in execution plans (Flink's names).
    pub fn ship_strategy(&self) -> &'static str {
        match self {
            Partitioning::Default => "UNDEFINED",
            Partitioning::Forward => "FORWARD",
            Partitioning::Rebalance => "REBALANCE",
            Partitioning::Rescale => "RESCALE",
            Partitioning::Shuffle => "SHUFFLE",
            Partitioning::Broadcast => "BROADCAST",
            Partitioning::Global => "GLOBAL",
            Partitioning::Hash(_) => "HASH",
            Partitioning::Custom(_) => "CUSTOM",
        }
    }

    /// Whether each producer talks to a subset of consumers (`Forward`, `Rescale`) rather than
    /// to all of them.
    pub fn is_pointwise(&self) -> bool {
        matches!(self, Partitioning::Forward | Partitioning::Rescale)
    }
}

impl std::fmt::Debug for Partitioning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.ship_strategy())
    }
}

/// The consumers producer `producer` (of `producers`) sends to on a pointwise edge with
/// `consumers` consumers. Every consumer is reached by at least one producer.
pub fn pointwise_targets(producer: usize, producers: usize, consumers: usize) -> Vec<usize> {
    if producers >= consumers {
        vec![producer * consumers / producers]
    } else {
        (0..consumers)
            .filter(|&c| c * producers / consumers == producer)
            .collect()
    }
}

/// Picks output channels for the records of one producing subtask.
pub enum ChannelSelector<T> {
    /// Round-robin (rebalance, rescale, forward with one channel).
    RoundRobin {
        /// The next channel.
        next: usize,
    },
    /// Random (shuffle), with a xorshift state.
    Random {
        /// The generator state (never zero).
        state: u64,
    },
    /// Every channel.
    Broadcast,
    /// Channel 0.
    Global,
    /// By key group.
    KeyGroup {
        /// The key hash function.
        hash: KeyHashFn<T>,
        /// The consumer's max parallelism.
        max_parallelism: usize,
        /// The channel of each key group when there are `routed_channels` channels.
        routes: Vec<usize>,
        /// The channel count `routes` was computed for (0 before the first record).
        routed_channels: usize,
    },
    /// By user function.
    Custom(CustomPartitionFn<T>),
}

impl<T: 'static> ChannelSelector<T> {
    /// The selector for `partitioning` in producer `producer`, for a consumer of max parallelism
    /// `max_parallelism`.
    pub fn new(
        partitioning: &Partitioning,
        producer: usize,
        max_parallelism: usize,
    ) -> Result<Self, TaskError> {
        Ok(match partitioning {
            Partitioning::Default
            | Partitioning::Forward
            | Partitioning::Rebalance
            | Partitioning::Rescale => ChannelSelector::RoundRobin { next: producer },
            Partitioning::Shuffle => ChannelSelector::Random {
                state: 0x9e37_79b9_7f4a_7c15 ^ (producer as u64 + 1),
            },
            Partitioning::Broadcast => ChannelSelector::Broadcast,
            Partitioning::Global => ChannelSelector::Global,
            Partitioning::Hash(keyed) => ChannelSelector::KeyGroup {
                hash: downcast::<KeyedPartitioning<T>>(keyed, "key hash")?.hash,
                max_parallelism,
                routes: Vec::new(),
                routed_channels: 0,
            },
            Partitioning::Custom(f) => {
                ChannelSelector::Custom(downcast::<CustomPartitionFn<T>>(f, "custom partitioner")?)
            }
        })
    }

    /// The channel (of `channels`) for `value`; `None` for broadcast.
    pub fn select(&mut self, value: &T, channels: usize) -> Result<Option<usize>, String> {
        Ok(Some(match self {
            ChannelSelector::RoundRobin { next } => {
                let channel = *next % channels;
                *next = channel + 1;
                channel
            }
            ChannelSelector::Random { state } => {
                *state ^= *state << 13;
                *state ^= *state >> 7;
                *state ^= *state << 17;
                (*state % channels as u64) as usize
            }
            ChannelSelector::Broadcast => return Ok(None),
            ChannelSelector::Global => 0,
            ChannelSelector::KeyGroup {
                hash,
                max_parallelism,
                routes,
                routed_channels,
            } => {
                if channels == 1 {
                    0
                } else {
                    if *routed_channels != channels {
                        *routes = (0..*max_parallelism)
                            .map(|group| {
                                operator_index_for_key_group(*max_parallelism, channels, group)
                            })
                            .collect();
                        *routed_channels = channels;
                    }
                    routes[key_group_for_hash(hash(value), *max_parallelism)]
                }
            }
            ChannelSelector::Custom(f) => {
                let channel = f(value, channels);
                if channel >= channels {
                    return Err(format!(
                        "custom partitioner chose channel {channel}, but there are only {channels}"
                    ));
                }
                channel
            }
        }))
    }
}

fn downcast<F: Clone + 'static>(
    value: &Arc<dyn Any + Send + Sync>,
    what: &str,
) -> Result<F, TaskError> {
    value.downcast_ref::<F>().cloned().ok_or_else(|| {
        TaskError::Internal(format!("{what} has the wrong record type for this edge"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::key_group::{assign_to_key_group, stable_hash};

    #[test]
    fn pointwise_covers_every_consumer_once_per_producer_group() {
        for producers in 1..6 {
            for consumers in 1..6 {
                let mut reached = vec![0; consumers];
                for p in 0..producers {
                    for c in pointwise_targets(p, producers, consumers) {
                        reached[c] += 1;
                    }
                }
                assert!(
                    reached.iter().all(|&n| n >= 1),
                    "{producers}->{consumers}: {reached:?}"
                );
            }
        }
    }

    #[test]
    fn round_robin_cycles() {
        let mut s = ChannelSelector::<i32>::new(&Partitioning::Rebalance, 0, 128).unwrap();
        let picks: Vec<_> = (0..5).map(|v| s.select(&v, 3).unwrap().unwrap()).collect();
        assert_eq!(picks, vec![0, 1, 2, 0, 1]);
    }

    #[test]
    fn hash_follows_key_groups() {
        let hash: KeyHashFn<String> = Arc::new(|v: &String| stable_hash(v));
        let part = Partitioning::hash(hash);
        let mut s = ChannelSelector::<String>::new(&part, 0, 128).unwrap();
        for channels in [4, 3, 4] {
            for word in ["a", "b", "flink", "sluice"] {
                let group = assign_to_key_group(word, 128);
                let expected = operator_index_for_key_group(128, channels, group);
                assert_eq!(
                    s.select(&word.to_string(), channels).unwrap(),
                    Some(expected)
                );
            }
        }
    }

    #[test]
    fn custom_out_of_range_is_an_error() {
        let f: CustomPartitionFn<i32> = Arc::new(|_, _| 9);
        let mut s = ChannelSelector::new(&Partitioning::Custom(Arc::new(f)), 0, 128).unwrap();
        assert!(s.select(&1, 2).unwrap_err().contains("channel 9"));
    }

    #[test]
    fn wrong_type_is_reported() {
        let hash: KeyHashFn<String> = Arc::new(|v: &String| stable_hash(v));
        assert!(ChannelSelector::<i32>::new(&Partitioning::hash(hash), 0, 128).is_err());
    }
}
