//! Translation of the StreamGraph into a JobGraph: parallelism resolved, edge partitioning
//! resolved, and operators fused into chains.
//!
//! An edge is chained (its two operators run in one task, passing batches by direct call) when
//! it is a forward edge between equal parallelisms, the target has no other input and is a
//! one-input operator, and neither side disabled chaining. Every node belongs to exactly one
//! [`JobVertex`]; a vertex × its parallelism is the set of subtasks.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::checkpoint::{CheckpointConfig, RestartStrategy};

use sluice_core::RuntimeMode;
use sluice_core::key_group::{UPPER_BOUND_MAX_PARALLELISM, default_max_parallelism};
use sluice_state::{HashMapStateBackendFactory, StateBackendFactory};

use crate::error::JobError;
use crate::exchange::partitioner::Partitioning;
use crate::source::Boundedness;

use super::factory::OperatorFactory;
use super::stream_graph::{ChainingStrategy, NodeId, StreamGraph};
use crate::job_id::JobId;

/// Job-wide settings from the execution environment.
#[derive(Debug, Clone)]
pub struct JobConfig {
    /// The job's name.
    pub name: String,
    /// The job's id: random for every environment unless the user fixes it. It names the
    /// job's checkpoint directory, `<checkpoint dir>/<job id>/`.
    pub job_id: JobId,
    /// The parallelism of operators that do not set their own.
    pub default_parallelism: usize,
    /// The max parallelism of operators that do not set their own (`None`: Flink's default).
    pub max_parallelism: Option<usize>,
    /// Streaming, batch, or decided by the sources.
    pub runtime_mode: RuntimeMode,
    /// How long output may wait in a partly filled buffer; `None` sends only full buffers.
    pub buffer_timeout: Option<Duration>,
    /// Records per buffer.
    pub batch_size: usize,
    /// Buffers per channel.
    pub channel_capacity: usize,
    /// How often periodic watermark generators emit (zero: never).
    pub auto_watermark_interval: Duration,
    /// Checkpointing, when enabled.
    pub checkpointing: Option<CheckpointConfig>,
    /// The checkpoint the job resumes from: a `chk-<id>` directory, or a checkpoint directory
    /// whose latest intact checkpoint is used (Flink's `--fromSavepoint` / `execution.savepoint.path`).
    pub restore_from: Option<String>,
    /// Whether restoring may skip state of operators the job no longer has (Flink's
    /// `--allowNonRestoredState`).
    pub allow_non_restored_state: bool,
    /// How failed attempts restart (`None`: Flink's default — exponential delay when the job
    /// checkpoints, no restart otherwise).
    pub restart_strategy: Option<RestartStrategy>,
    /// Where keyed state lives (Flink's `state.backend.type`; in memory by default).
    pub state_backend: Arc<dyn StateBackendFactory>,
}

impl JobConfig {
    /// Where the job's checkpoints go, when it checkpoints into a directory.
    pub fn checkpoint_directory(&self) -> Option<&str> {
        self.checkpointing.as_ref()?.directory.as_deref()
    }
}

impl Default for JobConfig {
    fn default() -> Self {
        JobConfig {
            name: "Sluice Job".to_string(),
            job_id: JobId::random(),
            default_parallelism: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_parallelism: None,
            runtime_mode: RuntimeMode::Streaming,
            buffer_timeout: Some(Duration::from_millis(100)),
            batch_size: 1024,
            channel_capacity: crate::exchange::channel::DEFAULT_CHANNEL_CAPACITY,
            auto_watermark_interval: crate::task::operator::DEFAULT_AUTO_WATERMARK_INTERVAL,
            checkpointing: None,
            restore_from: None,
            allow_non_restored_state: false,
            restart_strategy: None,
            state_backend: Arc::new(HashMapStateBackendFactory),
        }
    }
}

/// A chain of operators that runs as one task per parallel instance.
#[derive(Debug, Clone)]
pub struct JobVertex {
    /// The chain's nodes, head first.
    pub nodes: Vec<NodeId>,
    /// "Head -> Next -> …", as Flink names chains.
    pub name: String,
    /// The chain's parallelism.
    pub parallelism: usize,
}

/// A translated job, ready to deploy (again, on a restart).
#[derive(Clone)]
pub struct JobGraph {
    /// The operators and edges.
    pub graph: StreamGraph,
    /// The settings it was translated with.
    pub config: JobConfig,
    /// The runtime mode with `Automatic` resolved.
    pub runtime_mode: RuntimeMode,
    /// The resolved parallelism per node.
    pub parallelism: Vec<usize>,
    /// The resolved max parallelism per node.
    pub max_parallelism: Vec<usize>,
    /// The resolved partitioning per edge.
    pub partitioning: Vec<Partitioning>,
    /// Whether each edge is inside a chain.
    pub chained: Vec<bool>,
    /// The chains.
    pub vertices: Vec<JobVertex>,
    /// The vertex of each node.
    pub vertex_of: Vec<usize>,
}

impl JobGraph {
    /// Validates `graph` and fuses it into chains.
    pub fn translate(graph: StreamGraph, config: JobConfig) -> Result<JobGraph, JobError> {
        if let Some(error) = graph.errors.first() {
            return Err(JobError::InvalidGraph(error.clone()));
        }
        if graph.nodes.is_empty() {
            return Err(JobError::InvalidGraph(
                "the job has no operators: add a source and a sink before executing".into(),
            ));
        }
        if config.default_parallelism == 0 {
            return Err(JobError::InvalidGraph(
                "parallelism must be at least 1".into(),
            ));
        }
        let parallelism = resolve_parallelism(&graph, &config)?;
        let max_parallelism = resolve_max_parallelism(&graph, &config, &parallelism)?;
        let partitioning = resolve_partitioning(&graph, &parallelism)?;
        let runtime_mode = resolve_runtime_mode(&graph, config.runtime_mode)?;
        let chained: Vec<bool> = (0..graph.edges.len())
            .map(|e| is_chainable(&graph, e, &partitioning[e], &parallelism))
            .collect();
        let (vertices, vertex_of) = build_chains(&graph, &chained, &parallelism);
        Ok(JobGraph {
            graph,
            config,
            runtime_mode,
            parallelism,
            max_parallelism,
            partitioning,
            chained,
            vertices,
            vertex_of,
        })
    }
    /// Whether task `vertex` is headed by a source (checkpoints are triggered there).
    pub fn vertex_is_source(&self, vertex: usize) -> bool {
        matches!(
            self.graph.node(self.vertices[vertex].nodes[0]).factory,
            OperatorFactory::Source(_)
        )
    }

    /// Every operator's place in checkpoints: uid → (task index, parallelism, max
    /// parallelism).
    pub fn operator_layout(&self) -> BTreeMap<String, (usize, usize, usize)> {
        self.graph
            .nodes
            .iter()
            .map(|node| {
                let id = node.id.0;
                (
                    node.effective_uid(),
                    (
                        self.vertex_of[id],
                        self.parallelism[id],
                        self.max_parallelism[id],
                    ),
                )
            })
            .collect()
    }
}

fn resolve_parallelism(graph: &StreamGraph, config: &JobConfig) -> Result<Vec<usize>, JobError> {
    graph
        .nodes
        .iter()
        .map(|node| {
            let p = node.parallelism.unwrap_or(config.default_parallelism);
            if p == 0 {
                return Err(JobError::InvalidGraph(format!(
                    "operator '{}': parallelism must be at least 1",
                    node.name
                )));
            }
            match node.max_supported_parallelism {
                Some(max) if p > max && node.parallelism.is_some() => {
                    Err(JobError::InvalidGraph(format!(
                        "operator '{}' supports a parallelism of at most {max}, but {p} was set",
                        node.name
                    )))
                }
                Some(max) => Ok(p.min(max)),
                None => Ok(p),
            }
        })
        .collect()
}

fn resolve_max_parallelism(
    graph: &StreamGraph,
    config: &JobConfig,
    parallelism: &[usize],
) -> Result<Vec<usize>, JobError> {
    graph
        .nodes
        .iter()
        .map(|node| {
            let p = parallelism[node.id.0];
            let max = node
                .max_parallelism
                .or(config.max_parallelism)
                .unwrap_or_else(|| default_max_parallelism(p));
            if max == 0 || max > UPPER_BOUND_MAX_PARALLELISM {
                return Err(JobError::InvalidGraph(format!(
                    "operator '{}': max parallelism must be between 1 and {UPPER_BOUND_MAX_PARALLELISM}, got {max}",
                    node.name
                )));
            }
            if p > max {
                return Err(JobError::InvalidGraph(format!(
                    "operator '{}': parallelism {p} exceeds its max parallelism {max}",
                    node.name
                )));
            }
            Ok(max)
        })
        .collect()
}

fn resolve_partitioning(
    graph: &StreamGraph,
    parallelism: &[usize],
) -> Result<Vec<Partitioning>, JobError> {
    graph
        .edges
        .iter()
        .map(|edge| {
            let (ps, pt) = (parallelism[edge.source.0], parallelism[edge.target.0]);
            match &edge.partitioning {
                Partitioning::Default if ps == pt => Ok(Partitioning::Forward),
                Partitioning::Default => Ok(Partitioning::Rebalance),
                Partitioning::Forward if ps != pt => Err(JobError::InvalidGraph(format!(
                    "forward partitioning needs equal parallelism, but '{}' has {ps} and '{}' has {pt}; use rebalance() or rescale()",
                    graph.node(edge.source).name,
                    graph.node(edge.target).name
                ))),
                other => Ok(other.clone()),
            }
        })
        .collect()
}

fn resolve_runtime_mode(graph: &StreamGraph, mode: RuntimeMode) -> Result<RuntimeMode, JobError> {
    let unbounded: Vec<&str> = graph
        .nodes
        .iter()
        .filter_map(|node| match &node.factory {
            OperatorFactory::Source(s) if s.boundedness() == Boundedness::Unbounded => {
                Some(node.name.as_str())
            }
            _ => None,
        })
        .collect();
    if mode == RuntimeMode::Batch && !unbounded.is_empty() {
        return Err(JobError::InvalidGraph(format!(
            "batch mode needs bounded sources, but '{}' is unbounded",
            unbounded.join("', '")
        )));
    }
    Ok(mode.resolve(unbounded.is_empty()))
}

fn is_chainable(
    graph: &StreamGraph,
    edge: usize,
    partitioning: &Partitioning,
    parallelism: &[usize],
) -> bool {
    let e = &graph.edges[edge];
    let (source, target) = (graph.node(e.source), graph.node(e.target));
    matches!(partitioning, Partitioning::Forward)
        && parallelism[e.source.0] == parallelism[e.target.0]
        && matches!(target.factory, OperatorFactory::OneInput(_))
        && graph.in_edges(e.target).count() == 1
        && source.chaining != ChainingStrategy::Never
        && target.chaining == ChainingStrategy::Always
}

fn build_chains(
    graph: &StreamGraph,
    chained: &[bool],
    parallelism: &[usize],
) -> (Vec<JobVertex>, Vec<usize>) {
    let mut vertices = Vec::new();
    let mut vertex_of = vec![usize::MAX; graph.nodes.len()];
    for node in &graph.nodes {
        let is_head = !graph.in_edges(node.id).any(|e| chained[e]);
        if !is_head {
            continue;
        }
        let index = vertices.len();
        let mut members = vec![node.id];
        let mut cursor = 0;
        while cursor < members.len() {
            let current = members[cursor];
            vertex_of[current.0] = index;
            for e in graph.out_edges(current) {
                if chained[e] {
                    members.push(graph.edges[e].target);
                }
            }
            cursor += 1;
        }
        let name = members
            .iter()
            .map(|id| graph.node(*id).name.as_str())
            .collect::<Vec<_>>()
            .join(" -> ");
        vertices.push(JobVertex {
            nodes: members,
            name,
            parallelism: parallelism[node.id.0],
        });
    }
    (vertices, vertex_of)
}
