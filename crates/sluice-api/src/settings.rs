//! Per-operator settings shared by every handle on an operator (`DataStream`,
//! `DataStreamSink`): parallelism, max parallelism, name, uid and chaining.

use sluice_runtime::graph::{ChainingStrategy, NodeId, StreamNode};

use crate::environment::StreamExecutionEnvironment;

/// A handle on one operator of the graph whose settings can be changed.
pub trait OperatorSettings: Sized {
    /// The environment and the operator this handle stands for (`None` for a stream that is
    /// not one operator's output: a union or a repartitioned stream).
    fn operator_node(&self) -> (&StreamExecutionEnvironment, Option<NodeId>);

    /// Changes the operator's node, or reports that this handle has none.
    fn configure(self, setting: &str, f: impl FnOnce(&mut StreamNode)) -> Self {
        let (env, node) = self.operator_node();
        match node {
            Some(node) => env.node_settings(node, f),
            None => env.report(format!(
                "{setting}() must be called on an operator's output, not on a union or a repartitioned stream"
            )),
        }
        self
    }

    /// Sets the operator's parallelism.
    fn set_parallelism(self, parallelism: usize) -> Self {
        if parallelism == 0 {
            self.operator_node()
                .0
                .report("set_parallelism: parallelism must be at least 1");
        }
        self.configure("set_parallelism", |n| n.parallelism = Some(parallelism))
    }

    /// Sets the operator's max parallelism (its number of key groups).
    fn set_max_parallelism(self, max_parallelism: usize) -> Self {
        self.configure("set_max_parallelism", |n| {
            n.max_parallelism = Some(max_parallelism)
        })
    }

    /// Sends this operator's input in buffers of at most `records` records (the job's buffer
    /// size otherwise): for operators whose records are large, such as batches of rows.
    fn set_input_buffer_size(self, records: usize) -> Self {
        if records == 0 {
            self.operator_node()
                .0
                .report("set_input_buffer_size: a buffer must hold at least 1 record");
        }
        self.configure("set_input_buffer_size", |n| {
            n.input_buffer_records = Some(records.max(1))
        })
    }

    /// Names the operator in plans, metrics and errors.
    fn name(self, name: &str) -> Self {
        self.configure("name", |n| n.name = name.to_string())
    }

    /// Gives the operator a stable uid, which matches its state across job versions.
    fn uid(self, uid: &str) -> Self {
        self.configure("uid", |n| n.uid = Some(uid.to_string()))
    }

    /// Never chains this operator with its neighbours.
    fn disable_chaining(self) -> Self {
        self.configure("disable_chaining", |n| n.chaining = ChainingStrategy::Never)
    }

    /// Starts a new chain at this operator; operators after it may still chain to it.
    fn start_new_chain(self) -> Self {
        self.configure("start_new_chain", |n| n.chaining = ChainingStrategy::Head)
    }
}
