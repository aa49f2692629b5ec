//! The local mini-cluster: runs a JobGraph in this process, one thread per subtask.
//!
//! Deployment wires every non-chained edge with bounded channels (all-to-all, or pointwise for
//! forward and rescale), builds each subtask's chain from its tail to its head, and starts the
//! tasks. The first task to fail cancels the job; the job's error is that root cause, naming the
//! task, the subtask and the operator, never a consequence such as a lost peer.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::alignment::AlignmentRegistry;
use crate::chain::AnyLink;
use crate::error::{JobError, TaskError, panic_message};
use crate::graph::{AnyReceiver, AnySender, JobGraph, NodeId, OperatorFactory, OperatorOutputs};
use crate::metrics::{MetricRegistry, OperatorSummary, TaskMetrics, TaskSummary};
use crate::operator::OperatorContext;
use crate::partitioner::pointwise_targets;
use crate::processing_time::ProcessingTimeService;
use crate::signal::{CancelToken, TaskWaker};
use crate::task::{Task, TaskInput};

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
}

impl JobExecutionResult {
    /// The summary of the operator named `name`, if there is one.
    pub fn operator(&self, name: &str) -> Option<&OperatorSummary> {
        self.operators.iter().find(|o| o.name == name)
    }
}

type TaskOutcome = (String, usize, usize, Result<(), TaskError>);

/// A handle on a running job: wait for it, or cancel it.
pub struct JobClient {
    job_name: String,
    cancel: CancelToken,
    user_cancelled: Arc<Mutex<bool>>,
    outcomes: mpsc::Receiver<TaskOutcome>,
    task_count: usize,
    metrics: Arc<MetricRegistry>,
    started: Instant,
}

/// Cancels a running job from anywhere (a signal handler, another thread).
#[derive(Clone)]
pub struct CancelHandle {
    cancel: CancelToken,
    user_cancelled: Arc<Mutex<bool>>,
}

impl CancelHandle {
    /// Cancels the job; its result becomes [`JobError::Cancelled`].
    pub fn cancel(&self) {
        *self
            .user_cancelled
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = true;
        self.cancel.cancel();
    }
}

impl JobClient {
    /// A handle that cancels this job.
    pub fn cancel_handle(&self) -> CancelHandle {
        CancelHandle {
            cancel: self.cancel.clone(),
            user_cancelled: Arc::clone(&self.user_cancelled),
        }
    }

    /// Cancels the job.
    pub fn cancel(&self) {
        self.cancel_handle().cancel();
    }

    /// The job's live metrics.
    pub fn metrics(&self) -> Arc<MetricRegistry> {
        Arc::clone(&self.metrics)
    }

    /// Waits until every task ended; the job's result.
    pub fn wait(self) -> Result<JobExecutionResult, JobError> {
        let mut root_cause: Option<JobError> = None;
        let mut secondary: Option<JobError> = None;
        for _ in 0..self.task_count {
            let Ok((task, subtask, parallelism, outcome)) = self.outcomes.recv() else {
                break;
            };
            if let Err(cause) = outcome {
                self.cancel.cancel();
                let slot = if cause.is_secondary() {
                    &mut secondary
                } else {
                    &mut root_cause
                };
                slot.get_or_insert(JobError::Task {
                    task,
                    subtask,
                    parallelism,
                    cause,
                });
            }
        }
        let net_runtime = self.started.elapsed();
        // After a user's cancel, task errors are its consequences (operators interrupted while
        // waiting), not failures of the job.
        if *self
            .user_cancelled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
        {
            return Err(JobError::Cancelled);
        }
        if let Some(error) = root_cause.or(secondary) {
            return Err(error);
        }
        Ok(JobExecutionResult {
            job_name: self.job_name,
            net_runtime,
            operators: self.metrics.operator_summaries(),
            tasks: self.metrics.task_summaries(),
        })
    }
}

/// Runs `job` to completion on this process's mini-cluster.
pub fn execute(job: JobGraph) -> Result<JobExecutionResult, JobError> {
    submit(job)?.wait()
}

/// Deploys `job` on this process's mini-cluster and returns at once.
pub fn submit(job: JobGraph) -> Result<JobClient, JobError> {
    let started = Instant::now();
    let cancel = CancelToken::new();
    let metrics = MetricRegistry::new();
    let tasks = Deployment::new(&job, cancel.clone(), Arc::clone(&metrics))?.build_tasks()?;
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
    Ok(JobClient {
        job_name: job.config.name.clone(),
        cancel,
        user_cancelled: Arc::new(Mutex::new(false)),
        outcomes,
        task_count,
        metrics,
        started,
    })
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
}

impl<'a> Deployment<'a> {
    fn new(
        job: &'a JobGraph,
        cancel: CancelToken,
        metrics: Arc<MetricRegistry>,
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
        };
        deployment.prepare_sources()?;
        deployment.wire_channels();
        Ok(deployment)
    }

    fn prepare_sources(&mut self) -> Result<(), JobError> {
        for node in &self.job.graph.nodes {
            if let OperatorFactory::Source(factory) = &node.factory {
                let parallelism = self.job.parallelism[node.id.0];
                let splits = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    factory.prepare(parallelism)
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
            let target_vertex = job.vertex_of[edge.target.0];
            let producers = job.parallelism[edge.source.0];
            let consumers = job.parallelism[edge.target.0];
            for producer in 0..producers {
                let targets = if job.partitioning[e].is_pointwise() {
                    pointwise_targets(producer, producers, consumers)
                } else {
                    (0..consumers).collect()
                };
                for consumer in targets {
                    let waker = Arc::clone(&self.wakers[target_vertex][consumer]);
                    let (tx, rx) = edge.data_type.channel(
                        job.config.channel_capacity,
                        waker,
                        self.cancel.clone(),
                    );
                    self.senders.entry((e, producer)).or_default().push(tx);
                    self.receivers.entry((target_vertex, consumer)).or_default()
                        [usize::from(edge.input - 1)]
                    .push(rx);
                }
            }
        }
    }

    fn build_tasks(mut self) -> Result<Vec<Task>, JobError> {
        let job = self.job;
        let mut tasks = Vec::new();
        for (v, vertex) in job.vertices.iter().enumerate() {
            for subtask in 0..vertex.parallelism {
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
                });
            }
        }
        Ok(tasks)
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
            restored: None,
        }
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
