//! The dispatcher's state behind its one lock, and the outbox that sends what was decided
//! under the lock only once it is released.

use super::*;
use crate::prometheus::process::UsageSamples;

#[derive(Debug)]
pub(super) struct TaskManagerEntry {
    pub(super) info: TaskManagerInfo,
    pub(super) link: Link,
    pub(super) last_heartbeat: Instant,
    pub(super) used_slots: usize,
    /// Its latest reports of its own and its workers' CPU time and memory.
    pub(super) usage: UsageSamples,
}

impl TaskManagerEntry {
    /// The slots no attempt uses.
    pub(super) fn free_slots(&self) -> usize {
        self.info.slots.saturating_sub(self.used_slots)
    }
}

#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) task_managers: BTreeMap<String, TaskManagerEntry>,
    pub(super) jobs: Vec<JobRecord>,
    /// Messages decided under the lock, sent once it is released (a peer slow to read never
    /// holds up the dispatcher).
    pub(super) outbox: Vec<(Link, Outgoing)>,
}

impl State {
    /// Job `id`, or the error that there is none.
    pub(super) fn job(&self, id: &str) -> Result<&JobRecord, String> {
        self.jobs
            .iter()
            .find(|job| job.id == id)
            .ok_or_else(|| format!("no job with id {id}"))
    }
}

/// A message the dispatcher sends once its lock is released.
#[derive(Debug)]
pub(super) enum Outgoing {
    TaskManager(ToTaskManager),
    Worker(ToWorker),
    /// Close the connection (a lost TaskManager must register again).
    Close,
}

/// The dispatcher's state, locked; its outbox is sent when the lock is released.
pub(super) struct Locked<'a>(pub(super) Option<MutexGuard<'a, State>>);

impl std::ops::Deref for Locked<'_> {
    type Target = State;

    fn deref(&self) -> &State {
        self.0.as_ref().expect("held until dropped")
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut State {
        self.0.as_mut().expect("held until dropped")
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let outbox = self
            .0
            .as_mut()
            .map(|state| std::mem::take(&mut state.outbox))
            .unwrap_or_default();
        drop(self.0.take());
        for (link, message) in outbox {
            let sent = match &message {
                Outgoing::TaskManager(message) => send(&link, message),
                Outgoing::Worker(message) => send(&link, message),
                Outgoing::Close => lock(&link)
                    .shutdown(std::net::Shutdown::Both)
                    .map_err(|e| e.to_string()),
            };
            // A broken connection is noticed by its session (read error or heartbeat).
            if let Err(error) = sent {
                tracing::debug!("cannot send {message:?}: {error}");
            }
        }
    }
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(super) fn send<M: Serialize>(link: &Link, message: &M) -> Result<(), String> {
    send_message(&mut *lock(link), message)
}

pub(super) use sluice_runtime::deploy::job_watch::now_ms;
