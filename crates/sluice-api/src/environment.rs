//! `StreamExecutionEnvironment`: where a job is configured, its sources created, and it is
//! executed.
//!
//! Locally (the default) `execute` runs the job on an embedded mini-cluster in this process;
//! with `rest.port` set the process also serves the job's REST API and web dashboard
//! (`sluice_cluster::local_web`).
//! Started by `sluice run` or by a TaskManager, the same binary instead describes its job or
//! runs its share of it on the cluster (see [`sluice_runtime::deploy::worker`]), then exits.
//! As in Flink, executing a job consumes the operators built so far: the environment can then
//! build and run another job.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use sluice_cluster::local_web::{LocalWeb, LocalWebOptions};
use sluice_core::{RuntimeMode, StreamData};
use sluice_runtime::checkpoint::{CheckpointConfig, RestartStrategy};
use sluice_runtime::deploy::mini_cluster;
use sluice_runtime::deploy::worker::{self, ClusterMode};
use sluice_runtime::graph::{
    JobConfig, JobGraph, NodeId, OperatorFactory, SourceNode, StreamGraph, stream_type,
};
use sluice_runtime::job_id::JobId;
use sluice_runtime::source::Source;
use sluice_runtime::time::watermarks::WatermarkStrategy;
use sluice_runtime::{JobClient, JobError, JobExecutionResult};
use sluice_state::StateBackendFactory;

use crate::datastream::DataStream;
use crate::interrupt;
use crate::sources::{
    CollectionSource, IteratorSource, SequenceSource, SocketTextSource, TextFileSource,
};
use crate::state_backend::StateBackendSettings;

pub(crate) struct EnvState {
    pub(crate) graph: StreamGraph,
    pub(crate) config: JobConfig,
    pub(crate) state_backend: StateBackendSettings,
    /// What checkpointing starts from once the job enables it: the cluster's checkpoint keys.
    pub(crate) checkpoint_defaults: CheckpointConfig,
    /// The id every job of this environment runs under, when the user fixed one.
    pub(crate) fixed_job_id: Option<JobId>,
    /// Whether and where local jobs serve the REST API and dashboard (`rest.port`).
    pub(crate) web: LocalWebOptions,
}

/// The context in which a streaming program runs; Flink's `StreamExecutionEnvironment`.
#[derive(Clone)]
pub struct StreamExecutionEnvironment {
    pub(crate) state: Rc<RefCell<EnvState>>,
}

impl fmt::Debug for StreamExecutionEnvironment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.borrow();
        f.debug_struct("StreamExecutionEnvironment")
            .field("config", &state.config)
            .field("operators", &state.graph.nodes.len())
            .finish()
    }
}

impl Default for StreamExecutionEnvironment {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamExecutionEnvironment {
    /// A local environment: jobs run on an embedded mini-cluster, with the parallelism
    /// defaulting to the number of CPU cores.
    pub fn new() -> Self {
        let env = StreamExecutionEnvironment {
            state: Rc::new(RefCell::new(EnvState {
                graph: StreamGraph::default(),
                config: JobConfig::default(),
                state_backend: StateBackendSettings::default(),
                checkpoint_defaults: CheckpointConfig::default(),
                fixed_job_id: None,
                web: LocalWebOptions::default(),
            })),
        };
        // `sluice run -p N` sets the default parallelism, as Flink's CLI does.
        if let Ok(text) = std::env::var(worker::ENV_PARALLELISM) {
            match text.trim().parse::<usize>() {
                Ok(parallelism) if parallelism > 0 => {
                    env.state.borrow_mut().config.default_parallelism = parallelism;
                }
                _ => env.report(format!(
                    "{}={text:?}: the parallelism must be a positive number",
                    worker::ENV_PARALLELISM
                )),
            }
        }
        if let Ok(path) = std::env::var(worker::ENV_RESTORE_FROM) {
            env.state.borrow_mut().config.restore_from = Some(path);
        }
        // The cluster's job defaults (`sluice run` passes its configuration's job keys).
        if let Ok(options) = std::env::var(worker::ENV_JOB_OPTIONS) {
            env.apply_defaults(&options);
        }
        env
    }

    /// Applies job defaults given as `key: value` lines (the job-level keys of the cluster
    /// configuration: checkpointing, state backend, restart strategy), before anything the job
    /// sets itself. Checkpoint keys shape checkpointing once the job enables it; an
    /// `execution.checkpointing.interval` among them enables it, as in Flink.
    pub fn apply_defaults(&self, options: &str) -> &Self {
        let mut enables_checkpointing = false;
        for line in options.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let Some((key, value)) = line.split_once(':') else {
                self.report(format!("job default '{line}' is not 'key: value'"));
                continue;
            };
            let (key, value) = (key.trim(), value.trim());
            let state_key =
                key.starts_with("state.backend.") || key == "execution.checkpointing.incremental";
            if state_key {
                self.set_state_option(key, value);
            } else if LocalWebOptions::is_key(key) {
                self.set_rest_option(key, value);
            } else if key.starts_with("restart-strategy.") {
                self.set_restart_option(key, value);
            } else {
                let result = self.state.borrow_mut().checkpoint_defaults.set(key, value);
                match result {
                    Err(error) => self.report(error),
                    Ok(()) => enables_checkpointing |= key == "execution.checkpointing.interval",
                }
            }
        }
        if enables_checkpointing {
            let mut state = self.state.borrow_mut();
            let defaults = state.checkpoint_defaults.clone();
            state.config.checkpointing = Some(defaults);
        }
        self
    }

    /// Flink's name for [`StreamExecutionEnvironment::new`].
    pub fn get_execution_environment() -> Self {
        Self::new()
    }

    /// Sets the default parallelism of operators.
    pub fn set_parallelism(&self, parallelism: usize) -> &Self {
        if parallelism == 0 {
            self.report("set_parallelism: parallelism must be at least 1");
        }
        self.state.borrow_mut().config.default_parallelism = parallelism;
        self
    }

    /// The default parallelism of operators.
    pub fn parallelism(&self) -> usize {
        self.state.borrow().config.default_parallelism
    }

    /// Sets the default max parallelism: the number of key groups keyed state is split into,
    /// and so the highest parallelism a job can later be rescaled to.
    pub fn set_max_parallelism(&self, max_parallelism: usize) -> &Self {
        self.state.borrow_mut().config.max_parallelism = Some(max_parallelism);
        self
    }

    /// Sets how long records may wait in a partly filled buffer before it is sent (Flink's
    /// default: 100 ms). `Duration::ZERO` sends after every record.
    pub fn set_buffer_timeout(&self, timeout: Duration) -> &Self {
        self.state.borrow_mut().config.buffer_timeout = Some(timeout);
        self
    }

    /// Sends buffers only when full (Flink's buffer timeout -1): highest throughput, and
    /// records of a slow stream may wait until the end of input.
    pub fn disable_buffer_timeout(&self) -> &Self {
        self.state.borrow_mut().config.buffer_timeout = None;
        self
    }

    /// Sets how often periodic watermark generators emit (Flink's
    /// `pipeline.auto-watermark-interval`, default 200 ms); zero turns periodic emission off.
    pub fn set_auto_watermark_interval(&self, interval: Duration) -> &Self {
        self.state.borrow_mut().config.auto_watermark_interval = interval;
        self
    }

    /// Sets streaming, batch or automatic execution.
    pub fn set_runtime_mode(&self, mode: RuntimeMode) -> &Self {
        self.state.borrow_mut().config.runtime_mode = mode;
        self
    }

    /// Sets how many records a buffer holds (default 1024).
    pub fn set_buffer_size(&self, records: usize) -> &Self {
        if records == 0 {
            self.report("set_buffer_size: a buffer must hold at least 1 record");
        }
        self.state.borrow_mut().config.batch_size = records.max(1);
        self
    }

    /// Takes an exactly-once checkpoint every `interval` (Flink's `enableCheckpointing`); set
    /// where they go with [`Self::set_checkpoint_storage`] or `state.checkpoints.dir`.
    pub fn enable_checkpointing(&self, interval: Duration) -> &Self {
        let mut state = self.state.borrow_mut();
        let defaults = state.checkpoint_defaults.clone();
        let config = state.config.checkpointing.get_or_insert(defaults);
        config.interval = interval;
        self
    }

    /// Sets the directory (or `file://` URL) checkpoints are written to.
    pub fn set_checkpoint_storage(&self, location: &str) -> &Self {
        let mut state = self.state.borrow_mut();
        let defaults = state.checkpoint_defaults.clone();
        let config = state.config.checkpointing.get_or_insert(defaults);
        config.directory = Some(location.to_string());
        self
    }

    /// Sets a checkpointing option by its Flink key (`execution.checkpointing.interval`,
    /// `execution.checkpointing.mode`, `execution.checkpointing.timeout`,
    /// `execution.checkpointing.min-pause`, `execution.checkpointing.max-concurrent-checkpoints`,
    /// `execution.checkpointing.tolerable-failed-checkpoints`, `state.checkpoints.dir`,
    /// `state.checkpoints.num-retained`); setting any enables checkpointing. A bad key or value
    /// is reported by `execute`.
    pub fn set_checkpoint_option(&self, key: &str, value: &str) -> &Self {
        let result = {
            let mut state = self.state.borrow_mut();
            let defaults = state.checkpoint_defaults.clone();
            let config = state.config.checkpointing.get_or_insert(defaults);
            config.set(key, value)
        };
        if let Err(error) = result {
            self.report(&error);
        }
        self
    }

    /// Sets an option of the REST API and web dashboard a local job serves, by its Flink key:
    /// `rest.port` (or `rest.bind-port`, which may be a range such as `8081-8090`) turns them on,
    /// `rest.bind-address` (loopback by default), `security.rest.token`, and
    /// `state.savepoints.dir` (where savepoints requested over REST go). A bad key or value is
    /// reported by `execute`. In a cluster the JobManager serves them and these are ignored.
    pub fn set_rest_option(&self, key: &str, value: &str) -> &Self {
        let result = self.state.borrow_mut().web.set(key, value);
        if let Err(error) = result {
            self.report(&error);
        }
        self
    }

    /// Sets how a failed job restarts from its latest checkpoint (default: Flink's — exponential
    /// delay when the job checkpoints, no restart otherwise).
    pub fn set_restart_strategy(&self, strategy: RestartStrategy) -> &Self {
        self.state.borrow_mut().config.restart_strategy = Some(strategy);
        self
    }

    /// Sets a restart option by its Flink key (`restart-strategy.type`, then the keys of that
    /// strategy, e.g. `restart-strategy.fixed-delay.attempts`). A bad key or value is reported
    /// by `execute`.
    pub fn set_restart_option(&self, key: &str, value: &str) -> &Self {
        let result = {
            let mut state = self.state.borrow_mut();
            let has_checkpointing = state.config.checkpointing.is_some();
            let strategy = state
                .config
                .restart_strategy
                .get_or_insert_with(|| RestartStrategy::default_for(has_checkpointing));
            strategy.set(key, value)
        };
        if let Err(error) = result {
            self.report(&error);
        }
        self
    }

    /// The checkpointing settings, if checkpointing is enabled.
    pub fn checkpoint_config(&self) -> Option<CheckpointConfig> {
        self.state.borrow().config.checkpointing.clone()
    }

    /// Runs jobs under a fixed id instead of a new random one per execution (Flink's fixed job
    /// id, `$internal.pipeline.job-id`). Checkpoints go to `<checkpoint dir>/<job id>/`, so a
    /// job with a fixed id finds its own checkpoints when it runs again (see
    /// [`StreamExecutionEnvironment::restore_from`]) and never another job's.
    pub fn set_job_id(&self, id: JobId) -> &Self {
        self.state.borrow_mut().fixed_job_id = Some(id);
        self
    }

    /// Resumes the job from a checkpoint or savepoint: its directory (holding `_metadata`,
    /// under any name) or a `chk-<id>` directory, restored whichever job wrote it (Flink's
    /// `--fromSavepoint`); or a checkpoint directory, from which the newest intact checkpoint of
    /// this job's own id is taken (`<path>/<job id>/`, see
    /// [`StreamExecutionEnvironment::set_job_id`]); or one job's directory under it, its newest
    /// intact checkpoint. Operators are matched by uid; keyed state is divided among the new
    /// subtasks, whatever the parallelism.
    pub fn restore_from(&self, path: &str) -> &Self {
        self.state.borrow_mut().config.restore_from = Some(path.to_string());
        self
    }

    /// Lets a restored job drop the state of operators it no longer has, instead of refusing
    /// to start (Flink's `--allowNonRestoredState`).
    pub fn set_allow_non_restored_state(&self, allow: bool) -> &Self {
        self.state.borrow_mut().config.allow_non_restored_state = allow;
        self
    }

    /// Sets where keyed state lives (Flink's `setStateBackend`): the in-memory backend (the
    /// default), the embedded RocksDB backend, or any other [`StateBackendFactory`].
    pub fn set_state_backend(&self, backend: impl StateBackendFactory + 'static) -> &Self {
        self.state
            .borrow_mut()
            .state_backend
            .choose(Arc::new(backend));
        self
    }

    /// Sets a state backend option by its Flink key: `state.backend.type` (`hashmap` or
    /// `rocksdb`), `state.backend.rocksdb.localdir`, `execution.checkpointing.incremental`
    /// (`true`: RocksDB checkpoints store only new files). A bad key or value is reported by
    /// `execute`.
    pub fn set_state_option(&self, key: &str, value: &str) -> &Self {
        let result = self.state.borrow_mut().state_backend.set(key, value);
        if let Err(error) = result {
            self.report(&error);
        }
        self
    }

    /// Adds a source.
    pub fn from_source<T: StreamData, S: Source<T>>(&self, source: S, name: &str) -> DataStream<T> {
        self.add_source(source, &format!("Source: {name}"), None)
    }

    /// Adds a source whose watermarks are generated per split with `strategy` (Flink's
    /// `fromSource(source, watermarkStrategy, name)`): the reader's watermark is the minimum over
    /// the splits it is reading, so a fast split cannot make a slow one's records late.
    pub fn from_source_with_watermarks<T: StreamData, S: Source<T>>(
        &self,
        source: S,
        strategy: WatermarkStrategy<T>,
        name: &str,
    ) -> DataStream<T> {
        let factory = SourceNode::<T, S>::with_watermarks(source, strategy);
        self.add_source_node(factory, &format!("Source: {name}"), None)
    }

    pub(crate) fn add_source<T: StreamData, S: Source<T>>(
        &self,
        source: S,
        name: &str,
        max_parallelism: Option<usize>,
    ) -> DataStream<T> {
        self.add_source_node(SourceNode::<T, S>::new(source), name, max_parallelism)
    }

    fn add_source_node<T: StreamData, S: Source<T>>(
        &self,
        node: SourceNode<T, S>,
        name: &str,
        max_parallelism: Option<usize>,
    ) -> DataStream<T> {
        let factory = OperatorFactory::Source(std::sync::Arc::new(node));
        let id = {
            let mut state = self.state.borrow_mut();
            let id = state
                .graph
                .add_node(name, "Source", factory, stream_type::<T>(), false);
            state.graph.node_mut(id).max_supported_parallelism = max_parallelism;
            id
        };
        DataStream::from_node(self.clone(), id)
    }

    /// A non-parallel source emitting the given values in order.
    pub fn from_collection<T: StreamData>(&self, values: Vec<T>) -> DataStream<T> {
        self.add_source(
            CollectionSource::new(values),
            "Source: Collection Source",
            Some(1),
        )
    }

    /// A non-parallel source emitting what an iterator yields (possibly without end: such a
    /// source counts as bounded only if the iterator ends, so run it in streaming mode).
    pub fn from_iter<I>(&self, iter: I) -> DataStream<I::Item>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: StreamData,
    {
        self.add_source(
            IteratorSource::new(iter),
            "Source: Iterator Source",
            Some(1),
        )
    }

    /// A parallel source of the numbers `from..=to`.
    pub fn from_sequence(&self, from: i64, to: i64) -> DataStream<i64> {
        if from > to {
            self.report(format!(
                "from_sequence: start {from} is greater than end {to}"
            ));
        }
        self.add_source(
            SequenceSource::new(from, to),
            "Source: Sequence Source",
            None,
        )
    }

    /// A parallel, bounded source of the lines of a text file (or of every file in a
    /// directory). Files are split into ranges read by parallel readers.
    pub fn read_text_file(&self, path: impl Into<std::path::PathBuf>) -> DataStream<String> {
        let path = path.into();
        let name = format!("Source: {}", path.display());
        self.add_source(TextFileSource::new(path), &name, None)
    }

    /// A non-parallel, unbounded source of the lines received on a TCP socket. It reconnects
    /// (logging each attempt) when the connection cannot be made or is lost.
    pub fn socket_text_stream(&self, host: &str, port: u16) -> DataStream<String> {
        let name = format!("Source: Socket Stream {host}:{port}");
        self.add_source(SocketTextSource::new(host, port), &name, Some(1))
    }

    /// Records a graph-building mistake, reported when the job executes.
    pub(crate) fn report(&self, error: impl Into<String>) {
        self.state.borrow_mut().graph.report(error);
    }

    pub(crate) fn with_graph<R>(&self, f: impl FnOnce(&mut StreamGraph) -> R) -> R {
        f(&mut self.state.borrow_mut().graph)
    }

    pub(crate) fn node_settings(
        &self,
        node: NodeId,
        f: impl FnOnce(&mut sluice_runtime::graph::StreamNode),
    ) {
        f(self.state.borrow_mut().graph.node_mut(node));
    }

    fn translate(&self, name: &str, take: bool) -> Result<JobGraph, JobError> {
        let (mut graph, mut config) = {
            let mut state = self.state.borrow_mut();
            let graph = if take {
                std::mem::take(&mut state.graph)
            } else {
                state.graph.clone()
            };
            let mut config = state.config.clone();
            config.job_id = state.fixed_job_id.unwrap_or_else(JobId::random);
            (graph, config)
        };
        match self.state.borrow().state_backend.resolve() {
            Ok(backend) => config.state_backend = backend,
            Err(error) => graph.report(error),
        }
        config.name = name.to_string();
        JobGraph::translate(graph, config)
    }

    /// The job built so far as JSON, in the shape of Flink's `getExecutionPlan()`.
    pub fn execution_plan(&self) -> Result<String, JobError> {
        let job = self.translate("plan", false)?;
        Ok(serde_json::to_string_pretty(&job.plan_json()).unwrap_or_default())
    }

    /// The job built so far as a Graphviz DOT graph, one cluster per task.
    pub fn execution_plan_dot(&self) -> Result<String, JobError> {
        Ok(self.translate("plan", false)?.plan_dot())
    }

    /// Runs the job and waits for it to finish. Ctrl-C cancels it cleanly.
    ///
    /// In plan or worker mode (the binary was started by `sluice run` or a TaskManager) this
    /// describes the job, or runs this process's share of it, and then exits the process.
    pub fn execute(&self, job_name: &str) -> Result<JobExecutionResult, JobError> {
        let client = self.execute_async(job_name)?;
        let registration = interrupt::register(client.cancel_handle());
        let result = client.wait();
        drop(registration);
        result
    }

    /// Starts the job and returns a client to wait for or cancel it.
    pub fn execute_async(&self, job_name: &str) -> Result<JobClient, JobError> {
        let job = self.translate(job_name, true)?;
        if let Some(mode) = ClusterMode::from_env()? {
            run_and_exit(&mode, &job);
        }
        let web = self.state.borrow().web.clone();
        let server = match web.ports {
            Some(_) => Some(LocalWeb::get_or_start(&web).map_err(JobError::Runtime)?),
            None => None,
        };
        let client = mini_cluster::submit(job)?;
        if let Some(server) = server {
            server.watch(client.watch());
        }
        Ok(client)
    }
}

/// Runs `job` in a cluster mode and ends the process: the code after `execute` in the job's
/// `main` belongs to the client, not to a worker.
fn run_and_exit(mode: &ClusterMode, job: &JobGraph) -> ! {
    match mode.run(job) {
        Ok(()) => std::process::exit(0),
        Err(error) => {
            eprintln!("error: {error}");
            std::process::exit(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_defaults_shape_checkpointing_and_the_job_overrides_them() {
        let env = StreamExecutionEnvironment::new();
        env.apply_defaults(
            "execution.checkpointing.dir: /tmp/ckpt\nstate.checkpoints.num-retained: 3\n",
        );
        assert!(
            env.checkpoint_config().is_none(),
            "no interval: the job decides whether it checkpoints"
        );
        env.enable_checkpointing(Duration::from_millis(500));
        let config = env.checkpoint_config().unwrap();
        assert_eq!(config.directory.as_deref(), Some("/tmp/ckpt"));
        assert_eq!(
            (config.retained, config.interval),
            (3, Duration::from_millis(500))
        );

        let env = StreamExecutionEnvironment::new();
        env.apply_defaults(
            "execution.checkpointing.dir: /a\nexecution.checkpointing.interval: 2 s\nexecution.checkpointing.timeout: 5 s\n",
        );
        env.set_checkpoint_option("execution.checkpointing.dir", "/b");
        let config = env.checkpoint_config().unwrap();
        assert_eq!(
            config.interval,
            Duration::from_secs(2),
            "an interval enables it"
        );
        assert_eq!(config.timeout, Duration::from_secs(5));
        assert_eq!(
            config.directory.as_deref(),
            Some("/b"),
            "the job's own setting wins"
        );
    }

    #[test]
    fn a_jobs_watch_follows_its_attempts_to_the_end() {
        use crate::OperatorSettings;
        use sluice_runtime::deploy::job_status::JobStatus;
        use std::sync::atomic::{AtomicBool, Ordering};
        static FAILED_ONCE: AtomicBool = AtomicBool::new(false);
        let env = StreamExecutionEnvironment::new();
        env.set_parallelism(1);
        env.set_restart_strategy(RestartStrategy::FixedDelay {
            attempts: 1,
            delay: Duration::from_millis(10),
        });
        env.from_sequence(1, 100)
            .map(|n: i64| {
                if n == 50 && !FAILED_ONCE.swap(true, Ordering::SeqCst) {
                    panic!("the first attempt fails at 50");
                }
                n
            })
            .uid("maybe-failing")
            .collect();
        let client = env.execute_async("watched").unwrap();
        let watch = client.watch();
        assert_eq!(watch.plan().name, "watched");
        assert!(client.wait().is_ok());
        let snapshot = watch.snapshot();
        assert_eq!(snapshot.status, JobStatus::Finished);
        assert!(snapshot.end_ms.is_some());
        assert_eq!(snapshot.attempt, 2, "one restart");
        assert_eq!(snapshot.exceptions.len(), 1);
        assert_eq!(snapshot.exceptions[0].attempt, 1);
        assert!(snapshot.exceptions[0].message.contains("fails at 50"));
        let metrics = watch.metrics();
        let reading = metrics.operator("maybe-failing", 0).unwrap();
        assert_eq!(reading.records_in, 100, "the second attempt's counters");

        let env = StreamExecutionEnvironment::new();
        env.from_sequence(1, 2)
            .map(|_: i64| -> i64 { panic!("always") })
            .collect();
        let client = env.execute_async("fails").unwrap();
        let watch = client.watch();
        assert!(client.wait().is_err());
        let snapshot = watch.snapshot();
        assert_eq!(snapshot.status, JobStatus::Failed);
        assert!(snapshot.error.unwrap().contains("always"));
        assert!(watch.savepoint("/tmp", false).is_err(), "no checkpointing");
    }

    #[test]
    fn a_bad_default_is_reported_when_the_job_runs() {
        let env = StreamExecutionEnvironment::new();
        env.apply_defaults("execution.checkpointing.interval: soon\nno colon here\n");
        env.from_collection(vec![1, 2]).print();
        let error = env.execution_plan().unwrap_err().to_string();
        assert!(error.contains("soon"), "{error}");

        let env = StreamExecutionEnvironment::new();
        env.apply_defaults("rest.port: eighty\n");
        env.from_collection(vec![1, 2]).print();
        let error = env.execution_plan().unwrap_err().to_string();
        assert!(error.contains("rest.port: 'eighty'"), "{error}");
    }
}
