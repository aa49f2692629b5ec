//! The StreamGraph: one node per operator, as the API built it.

use std::sync::Arc;

use crate::exchange::partitioner::Partitioning;

use super::factory::OperatorFactory;
use super::stream_type::StreamType;

/// The id of a node: its position in the graph, assigned in build order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub usize);

/// Whether and how a node may be fused with its neighbours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChainingStrategy {
    /// Chain with the predecessor and successors where possible.
    #[default]
    Always,
    /// Start a new chain at this node, but let successors chain to it.
    Head,
    /// Never chain this node with anything (`disable_chaining`).
    Never,
}

/// One operator of the graph.
#[derive(Clone)]
pub struct StreamNode {
    /// The node's id.
    pub id: NodeId,
    /// The name shown in plans, metrics and errors.
    pub name: String,
    /// The operator's kind, as in Flink plans ("Map", "Filter", "Source: …").
    pub operator_type: &'static str,
    /// The stable uid set by the user, if any.
    pub uid: Option<String>,
    /// The parallelism set for this node; the job default otherwise.
    pub parallelism: Option<usize>,
    /// The largest parallelism the operator supports (1 for non-parallel sources).
    pub max_supported_parallelism: Option<usize>,
    /// The max parallelism (key groups) set for this node.
    pub max_parallelism: Option<usize>,
    /// Chaining with neighbours.
    pub chaining: ChainingStrategy,
    /// Builds the operator.
    pub factory: OperatorFactory,
    /// The type of the node's main output.
    pub output_type: Arc<dyn StreamType>,
    /// Whether the node is a sink (no output).
    pub is_sink: bool,
    /// Records per buffer on the edges into this node, if not the job's (operators whose
    /// records are large, such as SQL's row batches, want few per buffer).
    pub input_buffer_records: Option<usize>,
    /// The watermark alignment group this node's watermark generator belongs to, if any: its
    /// subtasks join the group when the job is deployed, before any task starts.
    pub watermark_alignment_group: Option<String>,
}

impl StreamNode {
    /// The node's uid: the user's, or one derived from its id and name, stable as long as the
    /// program builds the same graph.
    pub fn effective_uid(&self) -> String {
        self.uid.clone().unwrap_or_else(|| {
            let slug: String = self
                .name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .collect();
            format!("{}-{}", slug.trim_matches('-'), self.id.0)
        })
    }

    /// Flink's "pact" of the node in plans.
    pub fn pact(&self) -> &'static str {
        match self.factory {
            OperatorFactory::Source(_) => "Data Source",
            _ if self.is_sink => "Data Sink",
            _ => "Operator",
        }
    }
}

/// A connection between two nodes.
#[derive(Clone)]
pub struct StreamEdge {
    /// The producing node.
    pub source: NodeId,
    /// The consuming node.
    pub target: NodeId,
    /// How records are distributed.
    pub partitioning: Partitioning,
    /// Which input of the target (1 or 2).
    pub input: u8,
    /// The side output this edge carries, or `None` for the main output.
    pub side_output: Option<String>,
    /// The type of the records on the edge.
    pub data_type: Arc<dyn StreamType>,
}

/// The graph of operators a program built.
#[derive(Default, Clone)]
pub struct StreamGraph {
    /// The nodes, indexed by [`NodeId`].
    pub nodes: Vec<StreamNode>,
    /// The edges, in creation order.
    pub edges: Vec<StreamEdge>,
    /// Mistakes made while building (reported when the job is executed).
    pub errors: Vec<String>,
}

impl StreamGraph {
    /// Adds a node and returns its id.
    pub fn add_node(
        &mut self,
        name: impl Into<String>,
        operator_type: &'static str,
        factory: OperatorFactory,
        output_type: Arc<dyn StreamType>,
        is_sink: bool,
    ) -> NodeId {
        let id = NodeId(self.nodes.len());
        self.nodes.push(StreamNode {
            id,
            name: name.into(),
            operator_type,
            uid: None,
            parallelism: None,
            max_supported_parallelism: None,
            max_parallelism: None,
            chaining: ChainingStrategy::default(),
            factory,
            output_type,
            is_sink,
            input_buffer_records: None,
            watermark_alignment_group: None,
        });
        id
    }

    /// Adds an edge.
    pub fn add_edge(&mut self, edge: StreamEdge) {
        self.edges.push(edge);
    }

    /// The node with id `id`.
    pub fn node(&self, id: NodeId) -> &StreamNode {
        &self.nodes[id.0]
    }

    /// The node with id `id`, for changing its settings.
    pub fn node_mut(&mut self, id: NodeId) -> &mut StreamNode {
        &mut self.nodes[id.0]
    }

    /// The indices of the edges into `node`.
    pub fn in_edges(&self, node: NodeId) -> impl Iterator<Item = usize> + '_ {
        self.edges
            .iter()
            .enumerate()
            .filter(move |(_, e)| e.target == node)
            .map(|(i, _)| i)
    }

    /// The indices of the edges out of `node`.
    pub fn out_edges(&self, node: NodeId) -> impl Iterator<Item = usize> + '_ {
        self.edges
            .iter()
            .enumerate()
            .filter(move |(_, e)| e.source == node)
            .map(|(i, _)| i)
    }

    /// Records a mistake in building the graph, reported when the job executes.
    pub fn report(&mut self, error: impl Into<String>) {
        self.errors.push(error.into());
    }
}
