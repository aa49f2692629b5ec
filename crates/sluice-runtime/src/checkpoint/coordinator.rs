//! The checkpoint coordinator: triggers checkpoints at the sources, collects every task's
//! acknowledgement, writes the completed checkpoint, notifies the tasks, keeps the retained
//! ones, and fails the job when too many checkpoints in a row fail.
//!
//! It runs on its own thread beside the job's tasks; writing a checkpoint happens there, so
//! tasks go on processing while their state is stored. Savepoints are checkpoints triggered on
//! request, as soon as the concurrent-checkpoint limit allows (they wait behind checkpoints in
//! flight), and written to a directory of the user's choosing (never discarded). An
//! intermediate savepoint is not announced to the tasks: recovery restores checkpoints only, so
//! side effects a savepoint committed would be made again (as in Flink, its two-phase-commit
//! sinks' output is committed by the next checkpoint). A stop-with-savepoint is the job's final
//! checkpoint: sources end after its barrier, and the tasks finish once it completed
//! (two-phase-commit sinks commit on it).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sluice_core::Barrier;
use sluice_state::{CheckpointStorage, TaskSnapshot};

use super::config::{CheckpointConfig, CheckpointingMode};
use super::shared_files::SharedFiles;
use super::task_line::{TaskId, TaskMessage, TaskPost, TaskReport};
use crate::job_id::JobId;
use crate::signal::CancelToken;

/// One task as the coordinator sees it.
pub struct CoordinatorTask {
    /// The task.
    pub id: TaskId,
    /// Its mailbox.
    pub mailbox: Arc<dyn TaskPost>,
    /// Whether it is a source (receives triggers).
    pub is_source: bool,
}

/// A checkpoint in flight.
struct Pending {
    barrier: Barrier,
    triggered: Instant,
    acknowledged: BTreeMap<TaskId, TaskSnapshot>,
    /// When each task acknowledged, after the trigger.
    acknowledged_after: BTreeMap<TaskId, Duration>,
    savepoint: Option<SavepointRequest>,
}

/// What the coordinator keeps between rounds.
struct Progress {
    next_id: u64,
    /// Triggered checkpoints not yet completed, by id.
    pending: BTreeMap<u64, Pending>,
    /// Completed checkpoints kept, oldest first.
    retained: Vec<u64>,
    shared_files: SharedFiles,
    last_trigger: Instant,
    last_completion: Option<Instant>,
    /// Failed checkpoints in a row.
    failures: usize,
    sources: BTreeSet<TaskId>,
    sources_ended: BTreeSet<TaskId>,
    finished: BTreeSet<TaskId>,
    /// The checkpoint after whose barrier the sources end: the job's last.
    final_checkpoint: Option<u64>,
    /// A savepoint waiting for room under the concurrent-checkpoint limit.
    queued: Option<SavepointRequest>,
}

/// What one completed checkpoint cost.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckpointStats {
    /// The checkpoint's id.
    pub checkpoint_id: u64,
    /// When it was triggered, ms since the epoch.
    pub trigger_ms: u64,
    /// Where it was written (its directory).
    pub path: String,
    /// The subtasks that acknowledged it.
    pub subtasks: usize,
    /// From the trigger to its completion (alignment, snapshots and writing).
    pub duration: Duration,
    /// Of that, writing the files.
    pub write_duration: Duration,
    /// The bytes written.
    pub bytes: u64,
    /// Whether it was a savepoint.
    pub savepoint: bool,
    /// Whether it was unaligned (its barriers overtook in-flight data).
    pub unaligned: bool,
    /// The in-flight data it stored (unaligned checkpoints), in bytes.
    pub in_flight_bytes: u64,
    /// Each subtask's part, by vertex and subtask.
    pub subtask_stats: Vec<SubtaskCheckpointStats>,
}

/// One subtask's part of a completed checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SubtaskCheckpointStats {
    /// The job vertex (chain).
    pub vertex: usize,
    /// The subtask.
    pub subtask: usize,
    /// From the trigger to its acknowledgement (the barrier's travel, its alignment and the
    /// synchronous part of its snapshot), in ms; `None` when it had finished before.
    pub acknowledged_ms: Option<u64>,
    /// The bytes its state took in the checkpoint.
    pub bytes: u64,
}

/// A request to the coordinator from the job's client.
pub enum CoordinatorRequest {
    /// Take a savepoint into `directory`; reply with its path (or why it failed). With `stop`,
    /// the job ends once the savepoint is complete.
    Savepoint(SavepointRequest),
}

/// A savepoint to take.
pub struct SavepointRequest {
    /// Where it goes (a directory or `file://` URL); the savepoint is
    /// `savepoint-<job id prefix>-<random>` inside, as Flink names them.
    pub directory: String,
    /// Whether the job stops after it.
    pub stop: bool,
    /// Where the outcome goes.
    pub reply: std::sync::mpsc::Sender<Result<String, String>>,
}

/// Why a requested savepoint did not come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SavepointFailure {
    /// The coordinator is gone: the job is not running.
    NotRunning,
    /// The job ended (or the wait ran out) before the savepoint completed.
    Ended,
    /// The savepoint failed, for this reason.
    Failed(String),
}

/// Asks the coordinator behind `requests` for a savepoint into `directory` (the job stops after
/// it when `stop`) and waits for its path, at most `timeout` when one is given.
pub fn request_savepoint(
    requests: &std::sync::mpsc::Sender<CoordinatorRequest>,
    directory: &str,
    stop: bool,
    timeout: Option<Duration>,
) -> Result<String, SavepointFailure> {
    let (reply, outcome) = std::sync::mpsc::channel();
    requests
        .send(CoordinatorRequest::Savepoint(SavepointRequest {
            directory: directory.to_string(),
            stop,
            reply,
        }))
        .map_err(|_| SavepointFailure::NotRunning)?;
    let answer = match timeout {
        Some(timeout) => outcome.recv_timeout(timeout).ok(),
        None => outcome.recv().ok(),
    };
    answer
        .ok_or(SavepointFailure::Ended)?
        .map_err(SavepointFailure::Failed)
}

/// What a coordinator checkpoints: the job, where its checkpoints go, and its tasks.
pub struct CoordinatorSetup {
    /// The settings.
    pub config: CheckpointConfig,
    /// The job's id (recorded in the metadata, and the prefix of its savepoints' names).
    pub job_id: JobId,
    /// The job's name (recorded in the metadata).
    pub job_name: String,
    /// Where checkpoints go: the job's own directory (see [`CheckpointStorage::open_job`]).
    pub storage: CheckpointStorage,
    /// Every task of the job, with the mailbox that reaches it.
    pub tasks: Vec<CoordinatorTask>,
    /// Every operator: uid → (vertex, parallelism, max parallelism).
    pub operators: BTreeMap<String, (usize, usize, usize)>,
    /// The id of the first checkpoint (one past a restored checkpoint's; always past the
    /// checkpoints already in the job's directory).
    pub first_id: u64,
}

impl CoordinatorSetup {
    /// Starts the coordinator on its own thread; it runs until every task finished or
    /// `cancel` is cancelled, and cancels `cancel` (the job) when checkpointing fails it. A
    /// panic in the coordinator fails the job too (its tasks would otherwise wait for a
    /// checkpoint that never completes).
    pub fn start(self, cancel: CancelToken) -> std::io::Result<CoordinatorHandle> {
        let (reports, report_receiver) = std::sync::mpsc::channel();
        let (requests, request_receiver) = std::sync::mpsc::channel();
        let failure: Arc<Mutex<Option<String>>> = Arc::default();
        let stats: Arc<Mutex<Vec<CheckpointStats>>> = Arc::default();
        let failed: Arc<AtomicU64> = Arc::default();
        let coordinator = Coordinator {
            failed: Arc::clone(&failed),
            setup: self,
            reports: report_receiver,
            requests: request_receiver,
            cancel: cancel.clone(),
            failure: Arc::clone(&failure),
            stats: Arc::clone(&stats),
        };
        let thread = std::thread::Builder::new()
            .name("checkpoint coordinator".into())
            .spawn({
                let (failure, cancel) = (Arc::clone(&failure), cancel.clone());
                move || {
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        coordinator.run()
                    }));
                    if let Err(payload) = outcome {
                        let reason = crate::error::panic_message(payload.as_ref());
                        let message = format!("the checkpoint coordinator failed: {reason}");
                        fail_job(&failure, &cancel, message);
                    }
                }
            })?;
        Ok(CoordinatorHandle {
            reports,
            requests,
            cancel,
            failure,
            stats,
            failed,
            thread,
        })
    }
}

/// A running coordinator: where the tasks' reports and savepoint requests go, and what it
/// reports back.
pub struct CoordinatorHandle {
    /// Where the tasks' reports go.
    pub reports: Sender<TaskReport>,
    /// Savepoint requests (see [`request_savepoint`]).
    pub requests: Sender<CoordinatorRequest>,
    /// Stops the coordinator; it cancels it (the job) when checkpointing fails.
    pub cancel: CancelToken,
    /// Why checkpointing failed the job, once it did.
    pub failure: Arc<Mutex<Option<String>>>,
    /// The completed checkpoints (the newest `RETAINED_STATS`).
    pub stats: Arc<Mutex<Vec<CheckpointStats>>>,
    /// How many checkpoints failed (or expired).
    pub failed: Arc<AtomicU64>,
    /// The coordinator's thread: it can complete no checkpoint once this ended.
    pub thread: JoinHandle<()>,
}

impl std::fmt::Debug for CoordinatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CoordinatorHandle")
    }
}

/// The coordinator's thread: its setup and its lines to the tasks and the job's client.
struct Coordinator {
    setup: CoordinatorSetup,
    reports: Receiver<TaskReport>,
    requests: Receiver<CoordinatorRequest>,
    cancel: CancelToken,
    failure: Arc<Mutex<Option<String>>>,
    stats: Arc<Mutex<Vec<CheckpointStats>>>,
    failed: Arc<AtomicU64>,
}

/// How many completed checkpoints' stats are kept (the newest): a job that runs for months
/// keeps a bounded history.
pub const RETAINED_STATS: usize = 1000;

/// How often the coordinator wakes when nothing happens.
const TICK: Duration = Duration::from_millis(20);

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Fails the job with `message`: the job's result becomes it, and its tasks are cancelled.
fn fail_job(failure: &Mutex<Option<String>>, cancel: &CancelToken, message: String) {
    *failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(message);
    cancel.cancel();
}

impl Coordinator {
    fn run(self) {
        let mut progress = self.begin();
        while progress.finished.len() < self.setup.tasks.len() && !self.cancel.is_cancelled() {
            if self.tick(&mut progress).is_break() {
                return;
            }
        }
    }

    /// Where the coordinator starts: after the newest retained checkpoint (of an earlier
    /// attempt) or at the configured first id.
    fn begin(&self) -> Progress {
        let retained: Vec<u64> = self.setup.storage.completed().unwrap_or_default();
        let next_id = self
            .setup
            .first_id
            .max(1)
            .max(retained.last().map_or(1, |id| id + 1));
        let shared_files = SharedFiles::load(&self.setup.storage, &retained);
        Progress {
            next_id,
            pending: BTreeMap::new(),
            retained,
            shared_files,
            last_trigger: Instant::now(),
            last_completion: None,
            failures: 0,
            sources: self
                .setup
                .tasks
                .iter()
                .filter(|t| t.is_source)
                .map(|t| t.id)
                .collect(),
            sources_ended: BTreeSet::new(),
            finished: BTreeSet::new(),
            final_checkpoint: None,
            queued: None,
        }
    }

    /// One round: take a task report (or wait a tick), a savepoint request, complete and
    /// expire checkpoints, trigger the next one when due. Breaks when the coordinator ends.
    fn tick(&self, progress: &mut Progress) -> ControlFlow<()> {
        self.receive(progress)?;
        self.take_savepoint_request(progress);
        self.complete_acknowledged(progress)?;
        self.expire(progress)?;
        self.trigger_when_due(progress);
        ControlFlow::Continue(())
    }

    /// Takes one task report, waiting at most a tick; breaks when every task is gone.
    fn receive(&self, progress: &mut Progress) -> ControlFlow<()> {
        match self.reports.recv_timeout(TICK) {
            Ok(TaskReport::Acknowledged {
                task,
                barrier,
                snapshot,
            }) => {
                if let Some(checkpoint) = progress.pending.get_mut(&barrier.checkpoint_id) {
                    checkpoint
                        .acknowledged_after
                        .insert(task, checkpoint.triggered.elapsed());
                    checkpoint.acknowledged.insert(task, snapshot);
                }
            }
            Ok(TaskReport::SourceEnded { task }) => {
                progress.sources_ended.insert(task);
            }
            Ok(TaskReport::Finished { task }) => {
                progress.finished.insert(task);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return ControlFlow::Break(()),
        }
        ControlFlow::Continue(())
    }

    /// A savepoint is a checkpoint triggered as soon as the concurrent-checkpoint limit allows,
    /// whatever the interval; until then it waits in `queued`. Once the final checkpoint is
    /// triggered, a savepoint is refused.
    fn take_savepoint_request(&self, progress: &mut Progress) {
        if progress.queued.is_none()
            && let Ok(CoordinatorRequest::Savepoint(request)) = self.requests.try_recv()
        {
            progress.queued = Some(request);
        }
        if progress.final_checkpoint.is_some()
            && let Some(request) = progress.queued.take()
        {
            let _ = request
                .reply
                .send(Err("the job is finishing; no savepoint can be taken".into()));
        }
    }

    /// Completes every checkpoint every task acknowledged (or finished before), oldest first.
    fn complete_acknowledged(&self, progress: &mut Progress) -> ControlFlow<()> {
        let ready: Vec<u64> = progress
            .pending
            .iter()
            .filter(|(_, p)| {
                self.setup.tasks.iter().all(|t| {
                    p.acknowledged.contains_key(&t.id) || progress.finished.contains(&t.id)
                })
            })
            .map(|(id, _)| *id)
            .collect();
        for id in ready {
            let Some(checkpoint) = progress.pending.remove(&id) else {
                continue;
            };
            if checkpoint.savepoint.is_some() {
                self.complete_savepoint(checkpoint);
                continue;
            }
            match self.complete(checkpoint) {
                Ok(shared) => self.retain(id, shared, progress),
                Err(reason) => self.failed(id, &reason, progress)?,
            }
        }
        ControlFlow::Continue(())
    }

    /// Keeps completed checkpoint `id`: older ones in flight are subsumed, the oldest retained
    /// beyond the limit discarded, and shared files no checkpoint refers to any more deleted.
    fn retain(&self, id: u64, shared: BTreeSet<String>, progress: &mut Progress) {
        progress.failures = 0;
        progress.last_completion = Some(Instant::now());
        progress.pending.retain(|older, _| *older > id);
        progress.retained.push(id);
        progress.shared_files.completed(id, shared);
        while progress.retained.len() > self.setup.config.retained {
            let oldest = progress.retained.remove(0);
            progress.shared_files.discarded(oldest);
            if let Err(error) = self.setup.storage.discard(oldest) {
                tracing::warn!("cannot discard checkpoint {oldest}: {error}");
            }
        }
        let in_flight = progress
            .pending
            .values()
            .flat_map(|p| p.acknowledged.values());
        progress
            .shared_files
            .collect(&self.setup.storage, in_flight);
    }

    /// Abandons checkpoints that took longer than the timeout.
    fn expire(&self, progress: &mut Progress) -> ControlFlow<()> {
        let expired: Vec<u64> = progress
            .pending
            .iter()
            .filter(|(_, p)| p.triggered.elapsed() > self.setup.config.timeout)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            let reason = format!("expired after {:?}", self.setup.config.timeout);
            if let Some(request) = progress.pending.remove(&id).and_then(|p| p.savepoint) {
                let _ = request.reply.send(Err(format!("savepoint {id} {reason}")));
                continue;
            }
            self.failed(id, &reason, progress)?;
        }
        ControlFlow::Continue(())
    }

    /// Triggers the final checkpoint once every source ended, a queued savepoint when there is
    /// room, and periodic checkpoints before.
    fn trigger_when_due(&self, progress: &mut Progress) {
        if progress.final_checkpoint.is_some() {
            return;
        }
        let all_ended =
            !progress.sources.is_empty() && progress.sources_ended.len() == progress.sources.len();
        let room = progress.pending.len() < self.setup.config.max_concurrent;
        let savepoint = if room { progress.queued.take() } else { None };
        let due = progress.last_trigger.elapsed() >= self.setup.config.interval
            && progress
                .last_completion
                .is_none_or(|at| at.elapsed() >= self.setup.config.min_pause)
            && room
            && progress.queued.is_none();
        if all_ended || due || savepoint.is_some() {
            self.trigger(savepoint, all_ended, progress);
        }
    }

    /// Sends the barrier of the next checkpoint (a savepoint's when `savepoint` is given) to
    /// the sources; with `all_ended` or a stop-with-savepoint, it is the final checkpoint.
    fn trigger(
        &self,
        savepoint: Option<SavepointRequest>,
        all_ended: bool,
        progress: &mut Progress,
    ) {
        let end_after = all_ended || savepoint.as_ref().is_some_and(|s| s.stop);
        // The final checkpoint is aligned: it must cover every record, so that sinks commit
        // all of them before the job finishes.
        let barrier = Barrier {
            checkpoint_id: progress.next_id,
            timestamp: now_millis(),
            savepoint: savepoint.is_some(),
            unaligned: self.setup.config.unaligned
                && savepoint.is_none()
                && !end_after
                && self.setup.config.mode == CheckpointingMode::ExactlyOnce,
        };
        progress.next_id += 1;
        if end_after {
            progress.final_checkpoint = Some(barrier.checkpoint_id);
        }
        for task in self.setup.tasks.iter().filter(|t| t.is_source) {
            task.mailbox
                .post(TaskMessage::Trigger { barrier, end_after });
        }
        progress.pending.insert(
            barrier.checkpoint_id,
            Pending {
                barrier,
                triggered: Instant::now(),
                acknowledged: BTreeMap::new(),
                acknowledged_after: BTreeMap::new(),
                savepoint,
            },
        );
        progress.last_trigger = Instant::now();
    }

    /// Records a failed checkpoint; fails the job (and breaks) when that was the final
    /// checkpoint or one too many in a row.
    fn failed(&self, id: u64, reason: &str, progress: &mut Progress) -> ControlFlow<()> {
        progress.failures += 1;
        self.failed.fetch_add(1, Ordering::Relaxed);
        tracing::warn!("checkpoint {id} failed: {reason}");
        let message = if progress.final_checkpoint == Some(id) {
            format!("the final checkpoint {id} failed: {reason}")
        } else if progress.failures > self.setup.config.tolerable_failures {
            format!(
                "checkpoint {id} failed: {reason}; {} failed in a row, {} tolerated",
                progress.failures, self.setup.config.tolerable_failures
            )
        } else {
            return ControlFlow::Continue(());
        };
        fail_job(&self.failure, &self.cancel, message);
        ControlFlow::Break(())
    }
}

mod completion;
#[cfg(test)]
mod tests;
