//! Sluice's DataStream API: build a dataflow from sources, transformations and sinks on a
//! [`StreamExecutionEnvironment`], then execute it.
//!
//! ```
//! use sluice_api::prelude::*;
//!
//! let env = StreamExecutionEnvironment::new();
//! env.set_parallelism(2);
//! let counts = env
//!     .from_collection(vec!["a b".to_string(), "b c".into(), "b".into()])
//!     .flat_map(|line: String, out: &mut Collector<'_, (String, u64)>| {
//!         for word in line.split_whitespace() {
//!             out.collect((word.to_string(), 1));
//!         }
//!     })
//!     .key_by(|(word, _): &(String, u64)| word.clone())
//!     .sum(|(_, count): &mut (String, u64)| count);
//! env.set_runtime_mode(RuntimeMode::Batch);
//! let mut result = counts.execute_and_collect("word count").unwrap();
//! result.sort();
//! assert_eq!(result, vec![("a".into(), 1), ("b".into(), 3), ("c".into(), 1)]);
//! ```

pub mod broadcast;
pub mod connected;
pub mod datastream;
pub mod environment;
mod interrupt;
pub mod joins;
pub mod keyed_stream;
pub mod settings;
pub mod sinks;
pub mod sources;
pub mod state_backend;
pub mod windowed_stream;

pub use broadcast::BroadcastStream;
pub use connected::ConnectedStreams;
pub use datastream::{DataStream, DataStreamSink};
pub use environment::StreamExecutionEnvironment;
pub use joins::{CoGroup, CoGroupedStreams, Join, JoinedStreams, TaggedUnion};
pub use keyed_stream::KeyedStream;
pub use settings::OperatorSettings;
pub use sluice_cluster::local_web::LocalWebOptions;
#[cfg(feature = "rocksdb")]
pub use sluice_rocksdb::RocksDbStateBackendFactory;
pub use sluice_state::HashMapStateBackendFactory;
pub use windowed_stream::WindowedStream;

/// Everything a job usually needs, in one import.
pub mod prelude {
    pub use crate::{
        ConnectedStreams, DataStream, DataStreamSink, KeyedStream, OperatorSettings,
        StreamExecutionEnvironment, WindowedStream,
    };
    pub use sluice_core::{
        Record, RuntimeMode, StreamData, Timestamp, UserError, UserResult, Watermark,
    };
    pub use sluice_runtime::functions::{CoProcessFunction, ProcessFunction};
    pub use sluice_runtime::job_id::JobId;
    pub use sluice_runtime::operators::{
        AsyncOptions, BroadcastContext, BroadcastProcessFunction, BroadcastStateDescriptor,
        BroadcastStates, KeyedBroadcastContext, KeyedBroadcastProcessFunction, KeyedContext,
        KeyedProcessFunction, TimeDomain,
    };
    pub use sluice_runtime::sink::{Sink, SinkWriter};
    pub use sluice_runtime::source::{
        Boundedness, ReaderStatus, Source, SourceOutput, SourceReader,
    };
    pub use sluice_runtime::task::operator::OperatorContext;
    pub use sluice_runtime::task::output::{Collector, Context, OutputTag};
    pub use sluice_runtime::time::watermarks::{
        WatermarkGenerator, WatermarkOutput, WatermarkStrategy,
    };
    pub use sluice_runtime::windowing::{
        AggregateFunction, Elements, EventTimeTrigger, GlobalWindow, GlobalWindows,
        ProcessWindowFunction, SessionWindows, SlidingWindows, TimeWindow, TumblingWindows,
        WindowContext,
    };
    pub use sluice_runtime::{JobClient, JobError, JobExecutionResult};
    pub use sluice_state::{
        AggregatingState, ListState, MapState, OperatorStateStore, ReducingState, StateError,
        StateTtlConfig, ValueState,
    };
}
