//! The exchange: everything that moves records between tasks. A producing task's record writer
//! picks a channel per record with its edge's partitioner and sends buffers into local
//! channels (bounded queues: backpressure); a consuming task's input gate reads its channels
//! round-robin, combines their watermarks and aligns barriers, recording in-flight data for
//! unaligned checkpoints. A channel whose ends are in different processes is a local channel on
//! each side, drained and filled by the typed remote ends here over the wire of `net`.

pub mod channel;
pub mod in_flight;
pub mod input_gate;
pub mod partitioner;
pub mod pre_aggregate;
pub mod record_writer;
pub mod remote;
