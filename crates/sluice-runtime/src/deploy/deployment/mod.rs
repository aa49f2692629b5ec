//! Building one deployment's tasks: the sources' splits, the channels of every non-chained
//! edge (local, or one end of a remote channel in a worker), and each subtask's chain from its
//! tail to its head.

mod checkpoints;
mod restore;

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, mpsc};

use sluice_core::RuntimeMode;
use sluice_core::key_group::KeyGroupRange;
use sluice_state::{CheckpointStorage, OperatorSnapshot, RestoredCheckpoint};

use crate::checkpoint::{
    CheckpointConfig, CoordinatorHandle, CoordinatorSetup, CoordinatorTask, Mailbox,
    TaskCheckpoints, TaskId,
};
use crate::deploy::mini_cluster::CheckpointLines;
use crate::deploy::wiring::RemoteWiring;
use crate::error::{JobError, TaskError, panic_message};
use crate::exchange::partitioner::pointwise_targets;
use crate::graph::{
    AnyReceiver, AnySender, ChannelSpec, JobGraph, NodeId, OperatorFactory, OperatorOutputs,
    OperatorSetup, WriterSetup,
};
use crate::metrics::{MetricRegistry, TaskMetrics};
use crate::net::connection::PeerChannels;
use crate::signal::{CancelToken, TaskWaker};
use crate::source::SplitRequest;
use crate::task::chain::AnyLink;
use crate::task::operator::OperatorContext;
use crate::task::{Task, TaskInput};
use crate::time::alignment::AlignmentRegistry;
use crate::time::processing_time::ProcessingTimeService;

/// The state of one deployment while its tasks are built.
pub(crate) struct Deployment<'a> {
    job: &'a JobGraph,
    cancel: CancelToken,
    metrics: Arc<MetricRegistry>,
    /// Per vertex, per subtask: the waker of that task.
    wakers: Vec<Vec<Arc<TaskWaker>>>,
    /// Per edge, per producer subtask: its senders in consumer order.
    senders: BTreeMap<(usize, usize), Vec<AnySender>>,
    /// Per (vertex, subtask): the receivers of input 1 and input 2.
    receivers: BTreeMap<(usize, usize), [Vec<AnyReceiver>; 2]>,
    /// Per source node: its prepared splits.
    splits: BTreeMap<usize, Arc<dyn Any + Send + Sync>>,
    /// The processing-time service of the task being built.
    task_time: ProcessingTimeService,
    /// The waker of the task being built.
    task_waker: Arc<TaskWaker>,
    /// The job's watermark alignment groups.
    alignment: Arc<AlignmentRegistry>,
    /// The checkpoint the job resumes from.
    restored: Option<&'a RestoredCheckpoint>,
    /// Per (vertex, subtask): the task's line to the checkpoint coordinator.
    checkpoint_lines: BTreeMap<(usize, usize), TaskCheckpoints>,
    /// In a worker process: which subtasks run here and the channels to other workers.
    pub(crate) remote: Option<RemoteWiring>,
}

impl<'a> Deployment<'a> {
    pub(crate) fn new(
        job: &'a JobGraph,
        cancel: CancelToken,
        metrics: Arc<MetricRegistry>,
        restored: Option<&'a RestoredCheckpoint>,
        remote: Option<RemoteWiring>,
    ) -> Result<Self, JobError> {
        let wakers = job
            .vertices
            .iter()
            .map(|v| (0..v.parallelism).map(|_| TaskWaker::new()).collect())
            .collect();
        let mut deployment = Deployment {
            job,
            cancel,
            metrics,
            wakers,
            senders: BTreeMap::new(),
            receivers: BTreeMap::new(),
            splits: BTreeMap::new(),
            task_time: ProcessingTimeService::default(),
            task_waker: TaskWaker::new(),
            alignment: match &remote {
                Some(wiring) => AlignmentRegistry::spanning_workers(wiring.placement.workers()),
                None => AlignmentRegistry::new(),
            },
            restored,
            checkpoint_lines: BTreeMap::new(),
            remote,
        };
        deployment.check_restored()?;
        deployment.admit_alignment_members()?;
        deployment.prepare_sources()?;
        deployment.wire_channels();
        Ok(deployment)
    }

    /// Admits every subtask of every watermark generator with an alignment group to its group
    /// before any task starts: a source whose task opens late must still hold the others back.
    fn admit_alignment_members(&self) -> Result<(), JobError> {
        for node in &self.job.graph.nodes {
            if let Some(group) = &node.watermark_alignment_group {
                let uid = node.effective_uid();
                for subtask in 0..self.job.parallelism[node.id.0] {
                    self.alignment
                        .join(group, &AlignmentRegistry::member(&uid, subtask))
                        .map_err(JobError::InvalidGraph)?;
                }
            }
        }
        Ok(())
    }

    fn prepare_sources(&mut self) -> Result<(), JobError> {
        let checkpointing = self.job.config.checkpointing.is_some();
        for node in &self.job.graph.nodes {
            if let OperatorFactory::Source(factory) = &node.factory {
                if checkpointing && !factory.supports_checkpoints() {
                    return Err(JobError::InvalidGraph(format!(
                        "source '{}' cannot be replayed, so a job reading it cannot checkpoint (use a replayable source such as from_collection, or disable checkpointing)",
                        node.name
                    )));
                }
                let request = SplitRequest {
                    parallelism: self.job.parallelism[node.id.0],
                    restored: self.restored_operator(&node.effective_uid()),
                    checkpointing,
                    fixed: self.remote.is_some(),
                };
                let splits = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    factory.prepare(request)
                }))
                .unwrap_or_else(|payload| Err(panic_message(payload.as_ref()).into()))
                .map_err(|error| JobError::SourceSetup {
                    source_name: node.name.clone(),
                    message: error.to_string(),
                })?;
                self.splits.insert(node.id.0, splits);
            }
        }
        Ok(())
    }

    fn wire_channels(&mut self) {
        let job = self.job;
        for (e, edge) in job.graph.edges.iter().enumerate() {
            if job.chained[e] {
                continue;
            }
            let producers = job.parallelism[edge.source.0];
            let consumers = job.parallelism[edge.target.0];
            for producer in 0..producers {
                let targets = if job.partitioning[e].is_pointwise() {
                    pointwise_targets(producer, producers, consumers)
                } else {
                    (0..consumers).collect()
                };
                for consumer in targets {
                    self.wire_channel(e, producer, consumer);
                }
            }
        }
    }

    /// Whether `subtask` of every operator runs in this process.
    fn is_local(&self, subtask: usize) -> bool {
        self.remote.as_ref().is_none_or(|r| r.is_local(subtask))
    }

    /// Creates the channel of edge `e` from `producer` to `consumer`: local when both run
    /// here, one end of a remote channel when one does, nothing when neither does.
    fn wire_channel(&mut self, e: usize, producer: usize, consumer: usize) {
        let job = self.job;
        let edge = &job.graph.edges[e];
        let target_vertex = job.vertex_of[edge.target.0];
        let spec = ChannelSpec {
            capacity: job.config.channel_capacity,
            cancel: self.cancel.clone(),
        };
        let consumer_waker = Arc::clone(&self.wakers[target_vertex][consumer]);
        let input = usize::from(edge.input - 1);
        let (producer_here, consumer_here) = (self.is_local(producer), self.is_local(consumer));
        let (sender, receiver) = match &mut self.remote {
            Some(remote) if producer_here != consumer_here => {
                let id = remote.next_channel_id();
                if producer_here {
                    let source_vertex = job.vertex_of[edge.source.0];
                    let name = &job.vertices[source_vertex].name;
                    let producer_metrics = self.metrics.task(source_vertex, name, producer);
                    let peer = remote.placement.worker_of(consumer);
                    let channels = remote.peer(peer);
                    let (tx, queue) = edge.data_type.remote_outbound(
                        spec,
                        Arc::clone(&channels.waker),
                        producer_metrics,
                    );
                    channels.outbound.push((id, queue));
                    (Some(tx), None)
                } else {
                    let name = &job.vertices[target_vertex].name;
                    let consumer_metrics = self.metrics.task(target_vertex, name, consumer);
                    let peer = remote.placement.worker_of(producer);
                    let channels = remote.peer(peer);
                    let (queue, rx) = edge.data_type.remote_inbound(
                        spec,
                        consumer_waker,
                        Arc::clone(&channels.waker),
                        consumer_metrics,
                    );
                    channels.inbound.push((id, queue));
                    (None, Some(rx))
                }
            }
            remote => {
                if let Some(remote) = remote {
                    remote.next_channel_id();
                    if !producer_here {
                        return;
                    }
                }
                let (tx, rx) = edge.data_type.channel(spec, consumer_waker);
                (Some(tx), Some(rx))
            }
        };
        if let Some(tx) = sender {
            self.senders.entry((e, producer)).or_default().push(tx);
        }
        if let Some(rx) = receiver {
            self.receivers.entry((target_vertex, consumer)).or_default()[input].push(rx);
        }
    }

    pub(crate) fn build_tasks(
        mut self,
    ) -> Result<(Vec<Task>, BTreeMap<usize, PeerChannels>), JobError> {
        let job = self.job;
        let mut tasks = Vec::new();
        for (v, vertex) in job.vertices.iter().enumerate() {
            let local: Vec<usize> = (0..vertex.parallelism)
                .filter(|s| self.is_local(*s))
                .collect();
            for subtask in local {
                let task_metrics = self.metrics.task(v, &vertex.name, subtask);
                self.task_time = ProcessingTimeService::default();
                self.task_waker = Arc::clone(&self.wakers[v][subtask]);
                let input = self
                    .build_head(vertex.nodes[0], subtask, &task_metrics)
                    .map_err(|cause| JobError::Task {
                        task: vertex.name.clone(),
                        subtask,
                        parallelism: vertex.parallelism,
                        cause,
                    })?;
                tasks.push(Task {
                    name: vertex.name.clone(),
                    subtask,
                    parallelism: vertex.parallelism,
                    input,
                    waker: Arc::clone(&self.wakers[v][subtask]),
                    cancel: self.cancel.clone(),
                    buffer_timeout: job.config.buffer_timeout,
                    processing_time: self.task_time.clone(),
                    checkpoints: self.checkpoint_lines.remove(&(v, subtask)),
                    metrics: task_metrics,
                });
            }
        }
        let peers = self.remote.take().map(|r| r.peers).unwrap_or_default();
        Ok((tasks, peers))
    }

    fn context(&self, node: NodeId, subtask: usize) -> OperatorContext {
        let n = self.job.graph.node(node);
        OperatorContext {
            name: n.name.clone(),
            uid: n.effective_uid(),
            subtask,
            parallelism: self.job.parallelism[node.0],
            max_parallelism: self.job.max_parallelism[node.0],
            runtime_mode: self.job.runtime_mode,
            auto_watermark_interval: self.job.config.auto_watermark_interval,
            processing_time: self.task_time.clone(),
            task_waker: Arc::clone(&self.task_waker),
            cancel: self.cancel.clone(),
            alignment: Arc::clone(&self.alignment),
            restored: self.restored_operator(&n.effective_uid()).map(|old| {
                let max_parallelism = self.job.max_parallelism[node.0];
                let parallelism = self.job.parallelism[node.0];
                let range = KeyGroupRange::for_subtask(max_parallelism, parallelism, subtask);
                Arc::new(OperatorSnapshot::for_subtask(
                    old,
                    range,
                    subtask,
                    parallelism,
                ))
            }),
            checkpointing: self.job.config.checkpointing.as_ref().map(|c| c.mode),
            state_backend: Arc::clone(&self.job.config.state_backend),
        }
    }

    fn build_head(
        &mut self,
        node: NodeId,
        subtask: usize,
        task_metrics: &Arc<TaskMetrics>,
    ) -> Result<Box<dyn TaskInput>, TaskError> {
        let setup = self.operator_setup(node, subtask, task_metrics)?;
        let vertex = self.job.vertex_of[node.0];
        let [input1, input2] = self
            .receivers
            .remove(&(vertex, subtask))
            .unwrap_or_default();
        let job = self.job;
        match &job.graph.node(node).factory {
            OperatorFactory::Source(factory) => {
                let splits = self
                    .splits
                    .get(&node.0)
                    .ok_or_else(|| TaskError::Internal("source was not prepared".into()))?;
                factory.create_task_input(splits, setup, job.config.batch_size)
            }
            OperatorFactory::OneInput(factory) => factory.create_head(setup, input1),
            OperatorFactory::TwoInput(factory) => factory.create_head(setup, input1, input2),
        }
    }

    fn build_chained(
        &mut self,
        node: NodeId,
        subtask: usize,
        task_metrics: &Arc<TaskMetrics>,
    ) -> Result<AnyLink, TaskError> {
        let setup = self.operator_setup(node, subtask, task_metrics)?;
        match &self.job.graph.node(node).factory {
            OperatorFactory::OneInput(factory) => factory.create_link(setup),
            _ => Err(TaskError::Internal(format!(
                "operator '{}' cannot be chained",
                setup.ctx.name
            ))),
        }
    }

    /// What the operator of `node` in `subtask` is built from.
    fn operator_setup(
        &mut self,
        node: NodeId,
        subtask: usize,
        task_metrics: &Arc<TaskMetrics>,
    ) -> Result<OperatorSetup, TaskError> {
        let ctx = self.context(node, subtask);
        let metrics = self.metrics.operator(&ctx.name, &ctx.uid, subtask);
        let output = self.build_outputs(node, subtask, task_metrics)?;
        Ok(OperatorSetup {
            ctx,
            metrics,
            output,
        })
    }

    fn build_outputs(
        &mut self,
        node: NodeId,
        subtask: usize,
        task_metrics: &Arc<TaskMetrics>,
    ) -> Result<OperatorOutputs, TaskError> {
        let job = self.job;
        let mut main = Vec::new();
        let mut sides: Vec<(String, usize, Vec<AnyLink>)> = Vec::new();
        for e in job.graph.out_edges(node).collect::<Vec<_>>() {
            let edge = &job.graph.edges[e];
            let link = if job.chained[e] {
                self.build_chained(edge.target, subtask, task_metrics)?
            } else {
                let senders = self.senders.remove(&(e, subtask)).unwrap_or_default();
                let name = format!(
                    "{} -> {}",
                    job.graph.node(edge.source).name,
                    job.graph.node(edge.target).name
                );
                edge.data_type.record_writer(
                    senders,
                    WriterSetup {
                        partitioning: &job.partitioning[e],
                        producer: subtask,
                        max_parallelism: job.max_parallelism[edge.target.0],
                        batch_size: job
                            .graph
                            .node(edge.target)
                            .input_buffer_records
                            .map_or_else(
                                || batch_size(job),
                                |records| records.min(batch_size(job)),
                            ),
                        batch_mode: job.runtime_mode == RuntimeMode::Batch,
                        metrics: Arc::clone(task_metrics),
                        edge: name,
                    },
                )?
            };
            match &edge.side_output {
                None => main.push(link),
                Some(tag) => match sides.iter_mut().find(|(t, _, _)| t == tag) {
                    Some((_, _, links)) => links.push(link),
                    None => sides.push((tag.clone(), e, vec![link])),
                },
            }
        }
        let main = job.graph.node(node).output_type.fanout(main)?;
        let sides = sides
            .into_iter()
            .map(|(tag, e, links)| {
                let data_type = &job.graph.edges[e].data_type;
                Ok((tag, data_type.side_slot(data_type.fanout(links)?)?))
            })
            .collect::<Result<Vec<_>, TaskError>>()?;
        Ok(OperatorOutputs { main, sides })
    }
}

/// Records per buffer: one when the buffer timeout is zero (flush after every record).
fn batch_size(job: &JobGraph) -> usize {
    match job.config.buffer_timeout {
        Some(timeout) if timeout.is_zero() => 1,
        _ => job.config.batch_size,
    }
}
