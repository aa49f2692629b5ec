//! TaskManagers as the dispatcher sees them: registration, heartbeats, and losing one (which
//! fails the attempts it ran).

use super::*;
use crate::prometheus::process::{ProcessUsage, UsageSamples};

impl Dispatcher {
    /// Registers a TaskManager (replacing one of the same id) and schedules waiting jobs.
    pub fn register_task_manager(&self, info: TaskManagerInfo, link: Link) {
        let mut state = self.locked();
        tracing::info!(
            "TaskManager {} registered at {} with {} slots",
            info.id,
            info.host,
            info.slots
        );
        if state.task_managers.contains_key(&info.id) {
            self.lose_task_manager(&mut state, &info.id, "it registered again");
        }
        state.task_managers.insert(
            info.id.clone(),
            TaskManagerEntry {
                info,
                link,
                last_heartbeat: Instant::now(),
                used_slots: 0,
                usage: UsageSamples::default(),
            },
        );
        self.schedule(&mut state);
    }

    /// Notes a TaskManager's heartbeat.
    pub fn heartbeat(&self, id: &str) {
        if let Some(entry) = self.locked().task_managers.get_mut(id) {
            entry.last_heartbeat = Instant::now();
        }
    }

    /// Notes a TaskManager's report of its CPU time and memory (a heartbeat too).
    pub fn task_manager_usage(&self, id: &str, usage: ProcessUsage) {
        if let Some(entry) = self.locked().task_managers.get_mut(id) {
            entry.last_heartbeat = Instant::now();
            entry.usage.update(usage);
        }
    }

    /// A TaskManager's metrics by Flink's names (`/taskmanagers/{id}/metrics`): its process's
    /// and its workers' CPU time, CPU load and resident memory.
    pub fn task_manager_metrics(&self, id: &str) -> Option<Vec<(&'static str, f64)>> {
        let state = self.locked();
        let entry = state.task_managers.get(id)?;
        Some(entry.usage.metrics(entry.info.cpu_cores))
    }

    /// A TaskManager's connection ended.
    pub fn task_manager_disconnected(&self, id: &str, link: &Link) {
        let mut state = self.locked();
        // A TaskManager that registered again has a new link; the old session's end is moot.
        if state
            .task_managers
            .get(id)
            .is_some_and(|entry| Arc::ptr_eq(&entry.link, link))
        {
            self.lose_task_manager(&mut state, id, "its connection closed");
        }
    }

    /// Declares lost every TaskManager silent for longer than the heartbeat timeout.
    pub fn check_heartbeats(&self) {
        let mut state = self.locked();
        let silent: Vec<String> = state
            .task_managers
            .iter()
            .filter(|(_, entry)| entry.last_heartbeat.elapsed() > self.heartbeat_timeout)
            .map(|(id, _)| id.clone())
            .collect();
        for id in silent {
            let reason = format!(
                "no heartbeat for {} ms (heartbeat.timeout)",
                self.heartbeat_timeout.as_millis()
            );
            self.lose_task_manager(&mut state, &id, &reason);
        }
    }

    pub(super) fn lose_task_manager(&self, state: &mut State, id: &str, reason: &str) {
        let Some(entry) = state.task_managers.remove(id) else {
            return;
        };
        tracing::warn!("TaskManager {id} is lost: {reason}");
        state.outbox.push((entry.link.clone(), Outgoing::Close));
        let affected: Vec<String> = state
            .jobs
            .iter()
            .filter(|job| {
                job.status == JobStatus::Running && job.workers.iter().any(|w| w.task_manager == id)
            })
            .map(|job| job.id.clone())
            .collect();
        for job in affected {
            self.fail_attempt(
                state,
                &job,
                format!("TaskManager {id} ({}) was lost: {reason}", entry.info.host),
            );
        }
    }
}
