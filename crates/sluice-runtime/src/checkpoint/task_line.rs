//! A task's line to the checkpoint coordinator: a mailbox the coordinator posts triggers and
//! completions to, and a channel the task reports on.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};

use sluice_core::Barrier;

use crate::signal::TaskWaker;
use sluice_state::TaskSnapshot as ChainSnapshot;

/// Which task: its job vertex and subtask index.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct TaskId {
    /// The job vertex (chain).
    pub vertex: usize,
    /// The subtask index.
    pub subtask: usize,
}

/// What the coordinator tells a task.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum TaskMessage {
    /// Start checkpoint `barrier.checkpoint_id` (sent to sources).
    Trigger {
        /// The checkpoint's barrier.
        barrier: Barrier,
        /// Whether sources end after it: the job's final checkpoint (every source read
        /// everything), or a stop-with-savepoint.
        end_after: bool,
    },
    /// Checkpoint `id` completed.
    Complete(u64),
}

/// What a task tells the coordinator.
#[derive(Debug)]
pub enum TaskReport {
    /// The task snapshotted its chain at `barrier`.
    Acknowledged {
        /// The task.
        task: TaskId,
        /// The barrier.
        barrier: Barrier,
        /// Every operator's state, by uid.
        snapshot: ChainSnapshot,
    },
    /// A bounded source read everything; it waits for the final checkpoint.
    SourceEnded {
        /// The source task.
        task: TaskId,
    },
    /// The task finished.
    Finished {
        /// The task.
        task: TaskId,
    },
}

/// Where the coordinator posts a task's messages: the task's mailbox in this process, or a
/// forwarder to the worker process that runs it.
pub trait TaskPost: Send + Sync {
    /// Delivers `message` to the task.
    fn post(&self, message: TaskMessage);
}

impl TaskPost for Mailbox {
    fn post(&self, message: TaskMessage) {
        Mailbox::post(self, message);
    }
}

/// Messages for one task, and the waker that gets it to read them.
pub struct Mailbox {
    messages: Mutex<VecDeque<TaskMessage>>,
    pending: AtomicBool,
    waker: Arc<TaskWaker>,
}

impl Mailbox {
    /// A mailbox waking `waker` on every message.
    pub fn new(waker: Arc<TaskWaker>) -> Arc<Self> {
        Arc::new(Mailbox {
            messages: Mutex::new(VecDeque::new()),
            pending: AtomicBool::new(false),
            waker,
        })
    }

    /// Posts a message and wakes the task.
    pub fn post(&self, message: TaskMessage) {
        self.messages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(message);
        self.pending.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Takes every posted message (a plain load when there is none: tasks call it every turn).
    pub fn take(&self) -> Vec<TaskMessage> {
        if !self.pending.load(Ordering::Acquire) || !self.pending.swap(false, Ordering::AcqRel) {
            return Vec::new();
        }
        self.messages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
            .collect()
    }
}

/// A task's side of checkpointing.
pub struct TaskCheckpoints {
    task: TaskId,
    mailbox: Arc<Mailbox>,
    reports: mpsc::Sender<TaskReport>,
    last_acknowledged: Option<u64>,
    last_completed: Option<u64>,
    source_ended_reported: bool,
}

impl TaskCheckpoints {
    /// The line of `task`, reading `mailbox` and reporting on `reports`.
    pub fn new(task: TaskId, mailbox: Arc<Mailbox>, reports: mpsc::Sender<TaskReport>) -> Self {
        TaskCheckpoints {
            task,
            mailbox,
            reports,
            last_acknowledged: None,
            last_completed: None,
            source_ended_reported: false,
        }
    }

    /// The messages posted since the last call.
    pub fn take_messages(&self) -> Vec<TaskMessage> {
        self.mailbox.take()
    }

    /// Reports the chain's snapshot at `barrier`.
    pub fn acknowledge(&mut self, barrier: Barrier, snapshot: ChainSnapshot) {
        self.last_acknowledged = Some(barrier.checkpoint_id);
        let _ = self.reports.send(TaskReport::Acknowledged {
            task: self.task,
            barrier,
            snapshot,
        });
    }

    /// Notes that checkpoint `id` completed.
    pub fn completed(&mut self, id: u64) {
        self.last_completed = self.last_completed.max(Some(id));
    }

    /// Reports (once) that this source read everything.
    pub fn report_source_ended(&mut self) {
        if !self.source_ended_reported {
            self.source_ended_reported = true;
            let _ = self
                .reports
                .send(TaskReport::SourceEnded { task: self.task });
        }
    }

    /// Whether the last checkpoint this task acknowledged has not completed yet (a finished
    /// task waits for it: its sinks commit on it).
    pub fn awaits_completion(&self) -> bool {
        self.last_acknowledged
            .is_some_and(|acked| self.last_completed < Some(acked))
    }

    /// Reports that the task finished.
    pub fn report_finished(&self) {
        let _ = self.reports.send(TaskReport::Finished { task: self.task });
    }
}
