//! The local mini-cluster: runs a JobGraph in this process, one thread per subtask.
//!
//! Deployment wires every non-chained edge with bounded channels (all-to-all, or pointwise for
//! forward and rescale), builds each subtask's chain from its tail to its head, and starts the
//! tasks. The first task to fail cancels the job; the job's error is that root cause, naming the
//! task, the subtask and the operator, never a consequence such as a lost peer.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde::Serialize;

use sluice_core::key_group::KeyGroupRange;
use sluice_state::{CheckpointStorage, OperatorSnapshot, RestoredCheckpoint};

use crate::checkpoint::{
    CheckpointConfig, CheckpointStats, Coordinator, CoordinatorRequest, CoordinatorTask, Mailbox,
    TaskCheckpoints, TaskId, TaskReport, read_restore_point,
};
use crate::deploy::job_client::{Attempt, JobClient};
use crate::deploy::wiring::RemoteWiring;
use crate::error::{JobError, TaskError, panic_message};
use crate::exchange::partitioner::pointwise_targets;
use crate::graph::{AnyReceiver, AnySender, JobGraph, NodeId, OperatorFactory, OperatorOutputs};
use crate::metrics::{MetricRegistry, OperatorSummary, TaskMetrics, TaskSummary};
use crate::net::connection::PeerChannels;
use crate::signal::{CancelToken, TaskWaker};
use crate::task::chain::AnyLink;
use crate::task::operator::OperatorContext;
use crate::task::{Task, TaskInput};
use crate::time::alignment::AlignmentRegistry;
use crate::time::processing_time::ProcessingTimeService;

/// What a finished job reports.
#[derive(Debug, Clone, Serialize)]
pub struct JobExecutionResult {
    /// The job's name.
    pub job_name: String,
    /// Wall time from deployment to the last task finishing.
    pub net_runtime: Duration,
    /// Records in and out per operator.
    pub operators: Vec<OperatorSummary>,
    /// Backpressure per subtask.
    pub tasks: Vec<TaskSummary>,
    /// The checkpoints (and savepoints) the job completed, in order.
    pub checkpoints: Vec<CheckpointStats>,
}

impl JobExecutionResult {
    /// The summary of the operator named `name`, if there is one.
    pub fn operator(&self, name: &str) -> Option<&OperatorSummary> {
        self.operators.iter().find(|o| o.name == name)
    }
}

/// Runs `job` to completion on this process's mini-cluster (restarting it as its restart
/// strategy says).
pub fn execute(job: JobGraph) -> Result<JobExecutionResult, JobError> {
    submit(job)?.wait()
}

/// Deploys `job` on this process's mini-cluster and returns at once.
pub fn submit(job: JobGraph) -> Result<JobClient, JobError> {
    JobClient::start(job)
}

/// Deploys one attempt of `job`: its tasks and, when it checkpoints, its coordinator.
pub(crate) fn deploy(job: &JobGraph) -> Result<Attempt, JobError> {
    deploy_part(job, None).map(|(attempt, _)| attempt)
}

/// What a worker's deployment hands to the network: the channels per other worker, and, when
/// the job checkpoints, its tasks' mailboxes and reports (the coordinator runs in the
/// JobManager).
#[derive(Default)]
pub(crate) struct WorkerPart {
    /// Per other worker, the channels crossing to it.
    pub(crate) peers: BTreeMap<usize, PeerChannels>,
    /// The local tasks' checkpoint mailboxes, and the channel their reports arrive on.
    pub(crate) checkpoints: Option<CheckpointLines>,
}

/// A worker's tasks' checkpoint mailboxes, and the channel their reports arrive on.
pub(crate) type CheckpointLines = (BTreeMap<TaskId, Arc<Mailbox>>, mpsc::Receiver<TaskReport>);

/// Deploys this process's part of one attempt of `job`: every task when `remote` is `None`,
/// else the tasks of this worker's pipelines, with the channels that cross to other workers
/// returned per worker for the data plane to carry.
pub(crate) fn deploy_part(
    job: &JobGraph,
    remote: Option<RemoteWiring>,
) -> Result<(Attempt, WorkerPart), JobError> {
    let started = Instant::now();
    let cancel = CancelToken::new();
    let metrics = MetricRegistry::new();
    let restored = match &job.config.restore_from {
        Some(path) => Some(read_restore_point(path, job.config.job_id).map_err(JobError::Restore)?),
        None => None,
    };
    let mut deployment = Deployment::new(
        job,
        cancel.clone(),
        Arc::clone(&metrics),
        restored.as_ref(),
        remote,
    )?;
    let checkpoint_failure = Arc::new(Mutex::new(None));
    let checkpoint_stats = Arc::new(Mutex::new(Vec::new()));
    let mut remote_checkpoints = None;
    let (coordinator, requests) = match &job.config.checkpointing {
        Some(_) if deployment.remote.is_some() => {
            remote_checkpoints = Some(deployment.remote_checkpoint_lines());
            (None, None)
        }
        Some(config) => {
            let (requests, receiver) = mpsc::channel();
            let handle = deployment.start_coordinator(
                config,
                restored.as_ref(),
                receiver,
                &checkpoint_failure,
                &checkpoint_stats,
            )?;
            (Some(handle), Some(requests))
        }
        None => (None, None),
    };
    let (tasks, peers) = deployment.build_tasks()?;
    let part = WorkerPart {
        peers,
        checkpoints: remote_checkpoints,
    };
    let (report, outcomes) = mpsc::channel();
    let task_count = tasks.len();
    for task in tasks {
        let report = report.clone();
        let thread_name = format!("{} ({}/{})", task.name, task.subtask + 1, task.parallelism);
        let (name, subtask, parallelism) = (task.name.clone(), task.subtask, task.parallelism);
        let cancel_on_spawn_error = cancel.clone();
        let spawned = std::thread::Builder::new()
            .name(thread_name)
            .spawn(move || {
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| task.run()))
                    .unwrap_or_else(|payload| {
                        Err(TaskError::Internal(panic_message(payload.as_ref())))
                    });
                let _ = report.send((name, subtask, parallelism, outcome));
            });
        if let Err(error) = spawned {
            cancel_on_spawn_error.cancel();
            return Err(JobError::Runtime(format!(
                "cannot start a task thread: {error}"
            )));
        }
    }
    let attempt = Attempt {
        job_name: job.config.name.clone(),
        cancel,
        outcomes,
        task_count,
        metrics,
        started,
        coordinator,
        checkpoint_failure,
        requests,
        checkpoint_stats,
    };
    Ok((attempt, part))
}

/// The state of one deployment while its tasks are built.
struct Deployment<'a> {
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
    remote: Option<RemoteWiring>,
}

impl<'a> Deployment<'a> {
    fn new(
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
            alignment: AlignmentRegistry::new(),
            restored,
            checkpoint_lines: BTreeMap::new(),
            remote,
        };
        deployment.check_restored()?;
        deployment.prepare_sources()?;
        deployment.wire_channels();
        Ok(deployment)
    }

    /// Refuses a checkpoint whose operators changed their number of key groups (their keyed
    /// state could not be divided again), that holds state of an operator uid the job does
    /// not have (unless `allow_non_restored_state`), or whose in-flight data (unaligned
    /// checkpoints) cannot be replayed: the operator's parallelism changed or it no longer
    /// heads a task.
    fn check_restored(&self) -> Result<(), JobError> {
        let Some(restored) = self.restored else {
            return Ok(());
        };
        if !self.job.config.allow_non_restored_state {
            let uids: std::collections::BTreeSet<String> = self
                .job
                .graph
                .nodes
                .iter()
                .map(|n| n.effective_uid())
                .collect();
            for (uid, subtasks) in &restored.operators {
                if !uids.contains(uid) && subtasks.iter().any(|s| !s.is_empty()) {
                    return Err(JobError::Restore(format!(
                        "checkpoint {} holds state of operator uid '{uid}', which the job does not have; give the operator that uid, or allow non-restored state to drop it",
                        restored.metadata.checkpoint_id
                    )));
                }
            }
        }
        for node in &self.job.graph.nodes {
            let uid = node.effective_uid();
            if let Some(old) = restored.metadata.operators.get(&uid) {
                let now = self.job.max_parallelism[node.id.0];
                if old.max_parallelism != now {
                    return Err(JobError::Restore(format!(
                        "operator '{}' (uid '{uid}') had max parallelism {} in checkpoint {} and has {now} now; keyed state cannot be divided into a different number of key groups",
                        node.name, old.max_parallelism, restored.metadata.checkpoint_id
                    )));
                }
                let in_flight = restored
                    .operators
                    .get(&uid)
                    .is_some_and(|subtasks| subtasks.iter().any(|s| !s.in_flight.is_empty()));
                let parallelism = self.job.parallelism[node.id.0];
                let heads_task = self.job.vertices.iter().any(|v| v.nodes[0] == node.id);
                if in_flight && (old.parallelism != parallelism || !heads_task) {
                    return Err(JobError::Restore(format!(
                        "checkpoint {} is unaligned and holds in-flight input of operator '{}' (uid '{uid}') at parallelism {}; restore it at that parallelism with the same chaining, or rescale from a savepoint (savepoints are always aligned)",
                        restored.metadata.checkpoint_id, node.name, old.parallelism
                    )));
                }
            }
        }
        Ok(())
    }

    /// The restored snapshots of operator `uid`, one per old subtask.
    fn restored_operator(&self, uid: &str) -> Option<&'a [sluice_state::OperatorSnapshot]> {
        self.restored?.operators.get(uid).map(Vec::as_slice)
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
                let parallelism = self.job.parallelism[node.id.0];
                let restored = self.restored_operator(&node.effective_uid());
                let fixed = self.remote.is_some();
                let splits = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    factory.prepare(parallelism, restored, checkpointing, fixed)
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
        let capacity = job.config.channel_capacity;
        let consumer_waker = Arc::clone(&self.wakers[target_vertex][consumer]);
        let input = usize::from(edge.input - 1);
        let (producer_here, consumer_here) = (self.is_local(producer), self.is_local(consumer));
        let (sender, receiver) = match &mut self.remote {
            Some(remote) if producer_here != consumer_here => {
                let id = remote.next_channel_id();
                if producer_here {
                    let peer = remote.placement.worker_of(consumer);
                    let channels = remote.peer(peer);
                    let (tx, queue) = edge.data_type.remote_outbound(
                        capacity,
                        Arc::clone(&channels.waker),
                        self.cancel.clone(),
                    );
                    channels.outbound.push((id, queue));
                    (Some(tx), None)
                } else {
                    let peer = remote.placement.worker_of(producer);
                    let channels = remote.peer(peer);
                    let (queue, rx) = edge.data_type.remote_inbound(
                        capacity,
                        consumer_waker,
                        Arc::clone(&channels.waker),
                        self.cancel.clone(),
                    );
                    channels.inbound.push((id, queue));
                    (None, Some(rx))
                }
            }
            Some(remote) => {
                remote.next_channel_id();
                if !producer_here {
                    return;
                }
                let (tx, rx) =
                    edge.data_type
                        .channel(capacity, consumer_waker, self.cancel.clone());
                (Some(tx), Some(rx))
            }
            None => {
                let (tx, rx) =
                    edge.data_type
                        .channel(capacity, consumer_waker, self.cancel.clone());
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

    fn build_tasks(mut self) -> Result<(Vec<Task>, BTreeMap<usize, PeerChannels>), JobError> {
        let job = self.job;
        let mut tasks = Vec::new();
        for (v, vertex) in job.vertices.iter().enumerate() {
            let local: Vec<usize> = (0..vertex.parallelism)
                .filter(|s| self.is_local(*s))
                .collect();
            for subtask in local {
                let task_metrics = self.metrics.task(&vertex.name, subtask);
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

    /// Gives every local task of a worker a line to the coordinator in the JobManager: its
    /// mailbox (for the worker to post the coordinator's messages into) and a report channel
    /// (for the worker to forward).
    fn remote_checkpoint_lines(&mut self) -> CheckpointLines {
        let (reports, receiver) = mpsc::channel();
        let mut mailboxes = BTreeMap::new();
        for (v, vertex) in self.job.vertices.iter().enumerate() {
            for subtask in 0..vertex.parallelism {
                if !self.is_local(subtask) {
                    continue;
                }
                let id = TaskId { vertex: v, subtask };
                let mailbox = Mailbox::new(Arc::clone(&self.wakers[v][subtask]));
                self.checkpoint_lines.insert(
                    (v, subtask),
                    TaskCheckpoints::new(id, Arc::clone(&mailbox), reports.clone()),
                );
                mailboxes.insert(id, mailbox);
            }
        }
        (mailboxes, receiver)
    }

    /// Opens the checkpoint storage, gives every task a line to the coordinator, and starts
    /// the coordinator.
    fn start_coordinator(
        &mut self,
        config: &CheckpointConfig,
        restored: Option<&RestoredCheckpoint>,
        requests: mpsc::Receiver<CoordinatorRequest>,
        failure: &Arc<Mutex<Option<String>>>,
        stats: &Arc<Mutex<Vec<CheckpointStats>>>,
    ) -> Result<std::thread::JoinHandle<()>, JobError> {
        let job = self.job;
        let directory = config.directory.as_deref().ok_or_else(|| {
            JobError::Checkpoint(
                "checkpointing is enabled but no checkpoint directory is set (state.checkpoints.dir)".into(),
            )
        })?;
        let storage = CheckpointStorage::open_job(directory, &job.config.job_id.to_string())
            .map_err(|e| JobError::Checkpoint(e.to_string()))?;
        let (reports, receiver) = mpsc::channel();
        let mut tasks = Vec::new();
        for (v, vertex) in job.vertices.iter().enumerate() {
            let is_source = matches!(
                job.graph.node(vertex.nodes[0]).factory,
                OperatorFactory::Source(_)
            );
            for subtask in 0..vertex.parallelism {
                let id = TaskId { vertex: v, subtask };
                let mailbox = Mailbox::new(Arc::clone(&self.wakers[v][subtask]));
                self.checkpoint_lines.insert(
                    (v, subtask),
                    TaskCheckpoints::new(id, Arc::clone(&mailbox), reports.clone()),
                );
                tasks.push(CoordinatorTask {
                    id,
                    mailbox,
                    is_source,
                });
            }
        }
        let mut operators = BTreeMap::new();
        for node in &job.graph.nodes {
            operators.insert(
                node.effective_uid(),
                (
                    job.vertex_of[node.id.0],
                    job.parallelism[node.id.0],
                    job.max_parallelism[node.id.0],
                ),
            );
        }
        let coordinator = Coordinator {
            config: config.clone(),
            job_id: job.config.job_id,
            job_name: job.config.name.clone(),
            storage,
            tasks,
            operators,
            reports: receiver,
            cancel: self.cancel.clone(),
            failure: Arc::clone(failure),
            first_id: restored.map_or(1, |r| r.metadata.checkpoint_id + 1),
            requests,
            stats: Arc::clone(stats),
        };
        coordinator
            .spawn()
            .map_err(|e| JobError::Runtime(format!("cannot start the checkpoint coordinator: {e}")))
    }

    fn build_head(
        &mut self,
        node: NodeId,
        subtask: usize,
        task_metrics: &Arc<TaskMetrics>,
    ) -> Result<Box<dyn TaskInput>, TaskError> {
        let ctx = self.context(node, subtask);
        let op_metrics = self.metrics.operator(&ctx.name, &ctx.uid, subtask);
        let outputs = self.build_outputs(node, subtask, task_metrics)?;
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
                factory.create_task_input(splits, ctx, op_metrics, outputs, job.config.batch_size)
            }
            OperatorFactory::OneInput(factory) => {
                factory.create_head(ctx, op_metrics, outputs, input1)
            }
            OperatorFactory::TwoInput(factory) => {
                factory.create_head(ctx, op_metrics, outputs, input1, input2)
            }
        }
    }

    fn build_chained(
        &mut self,
        node: NodeId,
        subtask: usize,
        task_metrics: &Arc<TaskMetrics>,
    ) -> Result<AnyLink, TaskError> {
        let ctx = self.context(node, subtask);
        let op_metrics = self.metrics.operator(&ctx.name, &ctx.uid, subtask);
        let outputs = self.build_outputs(node, subtask, task_metrics)?;
        match &self.job.graph.node(node).factory {
            OperatorFactory::OneInput(factory) => factory.create_link(ctx, op_metrics, outputs),
            _ => Err(TaskError::Internal(format!(
                "operator '{}' cannot be chained",
                ctx.name
            ))),
        }
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
                    &job.partitioning[e],
                    subtask,
                    job.max_parallelism[edge.target.0],
                    batch_size(job),
                    Arc::clone(task_metrics),
                    name,
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
