//! The bounds every record and every key must meet.
//!
//! Records cross thread boundaries today and process boundaries once the network data plane
//! exists, so they are `Send`, cloneable (broadcast and fan-out copy them) and serde-serialisable.

use std::hash::Hash;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A value that can flow through a stream: sendable, cloneable and serialisable.
///
/// Implemented for every type that meets the bounds; users never implement it by hand.
pub trait StreamData: Clone + Send + Serialize + DeserializeOwned + 'static {}

impl<T> StreamData for T where T: Clone + Send + Serialize + DeserializeOwned + 'static {}

/// A value that can key a stream: stream data that is also hashable and comparable.
pub trait KeyData: StreamData + Hash + Eq {}

impl<T> KeyData for T where T: StreamData + Hash + Eq {}
