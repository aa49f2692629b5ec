//! A job's attempts: placing one into free slots, starting it once its workers said hello,
//! savepoints, the workers' reports, and failing, stopping and ending attempts and jobs.

use super::*;
use crate::jobmanager::monitoring::prometheus::task_samples;
use sluice_runtime::metrics::MetricsReport;

/// How long a savepoint of a just-deployed job waits for its checkpoint coordinator.
const COORDINATOR_WAIT: Duration = Duration::from_secs(10);

/// Tells every worker of an attempt where the others are, then starts the attempt's
/// checkpoint coordinator if the job checkpoints.
pub(super) fn start_attempt(
    plan: &ClusterPlan,
    links: &[Option<Link>],
    placement: &Placement,
    restore_from: Option<&str>,
) -> Result<Option<CoordinatorHandle>, String> {
    for (index, link) in links.iter().enumerate() {
        if let Some(link) = link {
            send(link, &ToWorker::Start(placement.clone()))
                .map_err(|error| format!("cannot start worker {index}: {error}"))?;
        }
    }
    if plan.checkpointing.is_none() {
        return Ok(None);
    }
    start_coordinator(plan, links, placement, restore_from).map(Some)
}

/// A worker's report, decoded.
pub(super) enum Reported {
    /// A task's checkpoint report, or why it could not be decoded.
    Checkpoint(Result<TaskReport, String>),
    /// The worker finished.
    Finished,
    /// The worker failed.
    Failed(String),
}

impl Dispatcher {
    /// Places waiting jobs into free slots, oldest first.
    pub(super) fn schedule(&self, state: &mut State) {
        let waiting: Vec<String> = state
            .jobs
            .iter()
            .filter(|job| job.status == JobStatus::Created)
            .map(|job| job.id.clone())
            .collect();
        for id in waiting {
            self.try_deploy(state, &id);
        }
    }

    /// Deploys the next attempt of job `id` when its previous coordinator has stopped, enough
    /// slots are free and its restore point is resolved; otherwise records what it waits for
    /// (and fails it when slots stay missing beyond `slot.request.timeout`).
    pub(super) fn try_deploy(&self, state: &mut State, id: &str) {
        let mut free = free_slots(state);
        let Some(job) = state.jobs.iter_mut().find(|job| job.id == id) else {
            return;
        };
        if job.coordinator_stopping() {
            job.waiting =
                Some("waiting for the previous attempt's checkpoint coordinator to stop".into());
            return;
        }
        let needed = job.request.plan.pipelines.max(1);
        let available: usize = free.iter().map(|(_, n)| n).sum();
        if available < needed {
            let task_managers = free.len();
            if job.waited_for_slots(needed, available, task_managers, self.slot_request_timeout) {
                let error = format!(
                    "could not get {needed} slots within {} s (slot.request.timeout): {available} are free in {task_managers} TaskManagers",
                    self.slot_request_timeout.as_secs(),
                );
                self.end_job(state, id, JobStatus::Failed, Some(error));
            }
            return;
        }
        job.waiting_since = None;
        if !job.restore_point_resolved() {
            return;
        }
        let placement = spread(needed, &mut free);
        job.start_next_attempt(&placement);
        tracing::info!(
            "job {id}: attempt {} placed on {:?}",
            job.attempt,
            placement
        );
        let specs = job.worker_specs(&placement);
        for ((tm, pipelines), spec) in placement.iter().zip(specs) {
            if let Some(entry) = state.task_managers.get_mut(tm) {
                entry.used_slots += pipelines.len();
                let deploy = Outgoing::TaskManager(ToTaskManager::Deploy(spec));
                state.outbox.push((entry.link.clone(), deploy));
            }
        }
    }

    /// A worker process introduced itself; starts the attempt once all did.
    pub fn worker_hello(&self, hello: &WorkerHello, link: Link) -> Result<(), String> {
        let mut state = self.locked();
        let job = self.check_hello(&mut state, hello)?;
        let worker = job
            .workers
            .get_mut(hello.worker)
            .ok_or_else(|| format!("job {} has no worker {}", hello.job, hello.worker))?;
        worker.data_address = Some(hello.data_address.clone());
        worker.link = Some(link);
        if !job.workers.iter().all(|w| w.link.is_some()) {
            return Ok(());
        }
        // Every worker is in: start them and the coordinator without holding the lock.
        let placement = job.placement();
        let links: Vec<Option<Link>> = job.workers.iter().map(|w| w.link.clone()).collect();
        let plan = job.request.plan.clone();
        let restore_from = job.restore_from.clone();
        job.starting_coordinator = true;
        drop(state);
        let started = start_attempt(&plan, &links, &placement, restore_from.as_deref());
        self.install_coordinator(hello, started);
        Ok(())
    }

    /// The running attempt a worker's hello is for; a worker that built another plan than the
    /// one submitted fails the job.
    fn check_hello<'a>(
        &self,
        state: &'a mut State,
        hello: &WorkerHello,
    ) -> Result<&'a mut JobRecord, String> {
        let index = state
            .jobs
            .iter()
            .position(|job| job.id == hello.job)
            .ok_or_else(|| format!("no job {}", hello.job))?;
        let job = &state.jobs[index];
        if job.status != JobStatus::Running || job.attempt != hello.attempt {
            return Err(format!(
                "job {} attempt {} is not running (the job is {:?}, attempt {})",
                hello.job, hello.attempt, job.status, job.attempt
            ));
        }
        if hello.fingerprint != job.request.plan.fingerprint {
            let error = format!(
                "worker {} built a different plan than the one submitted: the job's main must build the same graph every time it runs",
                hello.worker
            );
            self.end_job(state, &hello.job, JobStatus::Failed, Some(error.clone()));
            return Err(error);
        }
        Ok(&mut state.jobs[index])
    }

    /// Hands the attempt its started coordinator, with the reports that came before it; an
    /// attempt that ended meanwhile stops it, and one that failed to start fails.
    fn install_coordinator(
        &self,
        hello: &WorkerHello,
        started: Result<Option<CoordinatorHandle>, String>,
    ) {
        let mut state = self.locked();
        let Some(job) = state.jobs.iter_mut().find(|job| job.id == hello.job) else {
            return;
        };
        job.starting_coordinator = false;
        let current = job.status == JobStatus::Running && job.attempt == hello.attempt;
        let early = std::mem::take(&mut job.early_reports);
        match started {
            Ok(Some(handle)) if current => {
                for report in early {
                    let _ = handle.reports.send(report);
                }
                job.checkpoint_stats.push(handle.counters());
                job.coordinator = Some(handle);
            }
            Ok(Some(handle)) => {
                // The attempt ended meanwhile: its coordinator stops, fenced as any other.
                handle.cancel.cancel();
                job.stopping_coordinator = Some(handle.thread);
            }
            Ok(None) => {}
            Err(error) if current => {
                let id = job.id.clone();
                self.fail_attempt(&mut state, &id, error);
            }
            Err(_) => {}
        }
    }

    /// Takes a savepoint of a running job into `directory`; with `stop`, the job then ends.
    /// Returns the savepoint's path.
    pub fn savepoint(&self, id: &str, directory: &str, stop: bool) -> Result<String, String> {
        // A job is RUNNING once deployed, and its coordinator is installed when its workers
        // report in: a savepoint asked for in between waits for it, a while.
        let deployed_by = std::time::Instant::now() + COORDINATOR_WAIT;
        let (requests, timeout) = loop {
            let state = self.locked();
            let job = state.job(id)?;
            let Some(config) = &job.request.plan.checkpointing else {
                return Err(format!(
                    "job {id} does not checkpoint: savepoints need checkpointing enabled"
                ));
            };
            match &job.coordinator {
                Some(coordinator) => break (coordinator.requests.clone(), config.timeout),
                None if job.status == JobStatus::Running
                    && std::time::Instant::now() < deployed_by =>
                {
                    drop(state);
                    std::thread::sleep(Duration::from_millis(20));
                }
                None => {
                    return Err(format!(
                        "job {id} is not running ({})",
                        status_name(job.status)
                    ));
                }
            }
        };
        let wait = timeout + Duration::from_secs(10);
        request_savepoint(&requests, directory, stop, Some(wait)).map_err(|failure| match failure {
            SavepointFailure::NotRunning => format!("job {id} is no longer running"),
            SavepointFailure::Ended => format!("job {id} ended before its savepoint completed"),
            SavepointFailure::Failed(reason) => reason,
        })
    }

    /// A worker reported its outcome (or a task's checkpoint report, decoded before the
    /// dispatcher's lock is taken: snapshots may be large).
    pub fn worker_report(&self, hello: &WorkerHello, report: FromWorker) {
        if let FromWorker::Metrics(report) = report {
            self.record_metrics(hello, report);
            return;
        }
        let report = match report {
            FromWorker::Report(wire) => Reported::Checkpoint(decode_report(wire)),
            FromWorker::Finished => Reported::Finished,
            FromWorker::Failed { error } => Reported::Failed(error),
            FromWorker::Heartbeat => return,
            FromWorker::Metrics(_) => return,
        };
        let mut state = self.locked();
        let Some(job) = state
            .jobs
            .iter_mut()
            .find(|job| job.id == hello.job && job.attempt == hello.attempt)
        else {
            return;
        };
        if job.status != JobStatus::Running {
            return;
        }
        match report {
            Reported::Checkpoint(Ok(report)) => {
                if job.starting_coordinator {
                    job.early_reports.push(report);
                } else if let Some(coordinator) = &job.coordinator {
                    let _ = coordinator.reports.send(report);
                }
            }
            Reported::Checkpoint(Err(error)) => {
                let id = job.id.clone();
                self.fail_attempt(&mut state, &id, error);
            }
            Reported::Finished => {
                if let Some(worker) = job.workers.get_mut(hello.worker) {
                    worker.finished = true;
                }
                if job.workers.iter().all(|w| w.finished) {
                    let id = job.id.clone();
                    self.end_job(&mut state, &id, JobStatus::Finished, None);
                }
            }
            Reported::Failed(error) => {
                let id = job.id.clone();
                let tm = job
                    .workers
                    .get(hello.worker)
                    .map_or_else(String::new, |w| w.task_manager.clone());
                self.fail_attempt(
                    &mut state,
                    &id,
                    format!("worker {} on {tm}: {error}", hello.worker),
                );
            }
        }
    }

    /// A worker reported its tasks' counters: they are kept for the REST API and, when its
    /// TaskManager serves Prometheus, sent there as Flink-named samples.
    fn record_metrics(&self, hello: &WorkerHello, report: MetricsReport) {
        let forward = {
            let mut state = self.locked();
            let Some(worker) = state
                .jobs
                .iter_mut()
                .find(|job| job.id == hello.job && job.attempt == hello.attempt)
                .and_then(|job| job.workers.get_mut(hello.worker))
            else {
                return;
            };
            worker.metrics.update(report);
            let tm = worker.task_manager.clone();
            state
                .task_managers
                .get(&tm)
                .filter(|entry| entry.info.prometheus)
                .map(|entry| (tm, Arc::clone(&entry.link)))
        };
        if let Some((tm, link)) = forward
            && let Some(view) = self.job_view(&hello.job)
        {
            let samples = task_samples(&view, &tm);
            let message = ToTaskManager::Metrics {
                job: hello.job.clone(),
                samples,
            };
            if let Err(error) = send(&link, &message) {
                tracing::debug!("cannot send metrics to TaskManager {tm}: {error}");
            }
        }
    }

    /// A worker's connection ended; unless it reported finishing, its attempt failed.
    pub fn worker_disconnected(&self, hello: &WorkerHello, error: Option<&str>) {
        let mut state = self.locked();
        let Some(job) = state.jobs.iter().find(|job| {
            job.id == hello.job && job.attempt == hello.attempt && job.status == JobStatus::Running
        }) else {
            return;
        };
        if job.workers.get(hello.worker).is_some_and(|w| !w.finished) {
            let id = job.id.clone();
            self.fail_attempt(
                &mut state,
                &id,
                match error {
                    Some(error) => format!("worker {} was lost: {error}", hello.worker),
                    None => format!("worker {} disconnected before it finished", hello.worker),
                },
            );
        }
    }

    /// A TaskManager reported that a worker process ended (or never started).
    pub fn worker_exited(
        &self,
        job: &str,
        attempt: u32,
        worker: usize,
        success: bool,
        detail: &str,
    ) {
        if success {
            return;
        }
        let mut state = self.locked();
        let running = state.jobs.iter().any(|j| {
            j.id == job
                && j.attempt == attempt
                && j.status == JobStatus::Running
                && j.workers.get(worker).is_some_and(|w| !w.finished)
        });
        if running {
            self.fail_attempt(&mut state, job, format!("worker {worker} exited: {detail}"));
        }
    }

    /// The running attempt of job `id` failed: it restarts if its restart strategy allows
    /// (from its latest completed checkpoint), else the job fails.
    pub(super) fn fail_attempt(&self, state: &mut State, id: &str, reason: String) {
        let Some(job) = state.jobs.iter_mut().find(|job| job.id == id) else {
            return;
        };
        if job.status != JobStatus::Running {
            return;
        }
        job.record_failure(&reason);
        let Some(delay) = job.restarts.on_failure() else {
            self.end_job(state, id, JobStatus::Failed, Some(reason));
            return;
        };
        tracing::warn!(
            "job {id} attempt {} failed, restarting in {delay:?} from its latest checkpoint: {reason}",
            job.attempt
        );
        job.status = JobStatus::Restarting;
        job.restart_at = Some(Instant::now() + delay);
        job.error = Some(format!("restarting after: {reason}"));
        self.stop_attempt(state, id, false);
    }

    /// Stops job `id`'s attempt: cancels its coordinator and (unless it finished) its workers,
    /// and frees its slots.
    pub(super) fn stop_attempt(&self, state: &mut State, id: &str, finished: bool) {
        let Some(job) = state.jobs.iter_mut().find(|job| job.id == id) else {
            return;
        };
        if let Some(coordinator) = job.coordinator.take() {
            coordinator.cancel.cancel();
            job.stopping_coordinator = Some(coordinator.thread);
        }
        let attempt = job.attempt;
        let workers = std::mem::take(&mut job.workers);
        if !finished {
            for link in workers.iter().filter_map(|w| w.link.as_ref()) {
                state
                    .outbox
                    .push((link.clone(), Outgoing::Worker(ToWorker::Cancel)));
            }
        }
        let mut used: Vec<(String, usize)> = Vec::new();
        job.workers = workers
            .into_iter()
            .map(|w| {
                used.push((w.task_manager.clone(), w.pipelines.len()));
                WorkerState { link: None, ..w }
            })
            .collect();
        for (tm, slots) in used {
            if let Some(entry) = state.task_managers.get_mut(&tm) {
                entry.used_slots = entry.used_slots.saturating_sub(slots);
                if !finished {
                    let cancel = ToTaskManager::Cancel {
                        job: id.to_string(),
                        attempt,
                    };
                    state
                        .outbox
                        .push((entry.link.clone(), Outgoing::TaskManager(cancel)));
                }
            }
        }
    }

    /// Ends a job: records why, stops its attempt, forgets it in the store.
    pub(super) fn end_job(
        &self,
        state: &mut State,
        id: &str,
        status: JobStatus,
        error: Option<String>,
    ) {
        let Some(job) = state.jobs.iter_mut().find(|job| job.id == id) else {
            return;
        };
        if job.status.is_terminal() {
            return;
        }
        match &error {
            Some(error) => tracing::warn!("job {id} {}: {error}", status_name(status)),
            None => tracing::info!("job {id} {}", status_name(status)),
        }
        // A failure of a running attempt is recorded by `fail_attempt`; others (no slots, a
        // checkpoint that cannot be restored) here.
        if let (JobStatus::Failed, Some(error), false) =
            (status, &error, job.status == JobStatus::Running)
        {
            job.record_failure(error);
        }
        let was_running = job.status == JobStatus::Running;
        job.status = status;
        job.error = error;
        job.waiting = None;
        job.restart_at = None;
        job.end_ms = Some(now_ms());
        job.ended = Some(Instant::now());
        job.runtime = job.started.map(|s| s.elapsed());
        if was_running {
            self.stop_attempt(state, id, status == JobStatus::Finished);
        }
        if let Some(store) = &self.store
            && let Err(error) = store.remove(id)
        {
            tracing::warn!("{error}");
        }
        self.schedule(state);
    }
}

/// The free slots of each TaskManager that has any.
fn free_slots(state: &State) -> Vec<(String, usize)> {
    state
        .task_managers
        .iter()
        .map(|(tm, entry)| (tm.clone(), entry.free_slots()))
        .filter(|(_, free)| *free > 0)
        .collect()
}
