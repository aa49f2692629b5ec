//! The built-in operators, one per file.

mod async_wait;
mod broadcast_process;
mod broadcast_state;
mod co_process;
mod filter;
mod flat_map;
mod interval_join;
mod keyed_process;
mod keyed_reduce;
mod map;
mod process;
mod sink;
mod timestamps_watermarks;

pub use crate::time::TimeDomain;
pub use async_wait::{AsyncOptions, AsyncWaitOperator};
pub use broadcast_process::{
    BroadcastContext, BroadcastProcessFunction, BroadcastProcessOperator, KeyedBroadcastContext,
    KeyedBroadcastProcessFunction, KeyedBroadcastProcessOperator, KeyedStates,
};
pub use broadcast_state::{BroadcastStateCodec, BroadcastStateDescriptor, BroadcastStates};
pub use co_process::CoProcessOperator;
pub use filter::FilterOperator;
pub use flat_map::FlatMapOperator;
pub use interval_join::IntervalJoinOperator;
pub use keyed_process::{KeyedContext, KeyedProcessFunction, KeyedProcessOperator};
pub use keyed_reduce::KeyedReduceOperator;
pub use map::MapOperator;
pub use process::ProcessOperator;
pub use sink::SinkOperator;
pub use timestamps_watermarks::TimestampsAndWatermarksOperator;
