//! Job graphs: the StreamGraph the API builds (one node per operator), its translation into a
//! JobGraph (operators fused into chains), and the execution plan shown to users.
//!
//! The graph is type-erased so that deployment code is not generic: each node carries a factory
//! that builds its operator for a subtask, and each edge a [`StreamType`] that builds channels,
//! record writers and fan-outs for the records it carries.

mod factory;
mod job_graph;
mod plan;
mod stream_graph;
mod stream_type;

pub use factory::{
    AnyReceiver, AnySender, OneInputFactory, OneInputNode, OperatorFactory, OperatorOutputs,
    OperatorSetup, SourceFactory, SourceNode, TwoInputFactory, TwoInputNode,
};
pub use job_graph::{JobConfig, JobGraph, JobVertex};
pub use stream_graph::{ChainingStrategy, NodeId, StreamEdge, StreamGraph, StreamNode};
pub use stream_type::{ChannelSpec, StreamType, WriterSetup, stream_type};
