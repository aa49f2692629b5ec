//! The worker processes a TaskManager runs: one per job attempt it holds slots of, each the
//! job's own binary in worker mode. A crashing job takes down only its worker process.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sluice_runtime::deploy::protocol::WorkerSpec;
use sluice_runtime::deploy::worker::{
    ENV_ATTEMPT, ENV_DATA_PORT, ENV_HEARTBEAT_INTERVAL_MS, ENV_HEARTBEAT_TIMEOUT_MS, ENV_HOST,
    ENV_JOB, ENV_JOB_MANAGER, ENV_SECRET, ENV_TLS_CA, ENV_TLS_CERT, ENV_TLS_KEY,
    ENV_TLS_SERVER_NAME, ENV_WORKER, TlsFiles,
};

/// How much of a failed worker's error output its report carries.
const ERROR_TAIL_BYTES: u64 = 2048;

/// How many worker processes' logs (`worker-*.out` and `.log`) a TaskManager keeps: the
/// newest, the older ones deleted as new workers start.
const MAX_WORKER_LOGS: usize = 100;

/// Deletes all but the newest `keep - 1` workers' logs in `dir` (room for one more).
fn prune_worker_logs(dir: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    // One worker's logs share a name: worker-<job>-<attempt>-<index>.{out,log}.
    let mut workers: BTreeMap<String, std::time::SystemTime> = BTreeMap::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_prefix("worker-").and_then(|_| {
            name.strip_suffix(".out")
                .or_else(|| name.strip_suffix(".log"))
        }) else {
            continue;
        };
        let modified = entry
            .metadata()
            .and_then(|m| m.modified())
            .unwrap_or(std::time::UNIX_EPOCH);
        let newest = workers.entry(stem.to_string()).or_insert(modified);
        *newest = (*newest).max(modified);
    }
    let mut by_age: Vec<(std::time::SystemTime, String)> =
        workers.into_iter().map(|(stem, at)| (at, stem)).collect();
    by_age.sort();
    let surplus = (by_age.len() + 1).saturating_sub(keep);
    for (_, stem) in by_age.into_iter().take(surplus) {
        for suffix in ["out", "log"] {
            let _ = std::fs::remove_file(dir.join(format!("{stem}.{suffix}")));
        }
    }
}

/// Identifies a worker process: job, attempt, worker index.
pub type WorkerKey = (String, u32, usize);

/// A running worker: its process id, and the flag that asks its monitor to kill it.
type Running = (u32, Arc<AtomicBool>);

/// The running worker processes.
#[derive(Debug, Default, Clone)]
pub struct Workers {
    running: Arc<Mutex<BTreeMap<WorkerKey, Running>>>,
}

/// What a worker needs from its TaskManager.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// The JobManager's control address.
    pub job_manager: String,
    /// The host workers listen on.
    pub host: String,
    /// The data port (0: any).
    pub data_port: u16,
    /// The cluster secret.
    pub secret: Vec<u8>,
    /// Mutual TLS material, passed on to the workers.
    pub tls: Option<TlsFiles>,
    /// Where worker output goes.
    pub log_dir: PathBuf,
    /// How often workers heartbeat to the JobManager.
    pub heartbeat_interval: Duration,
    /// Silence after which a worker counts the JobManager as lost.
    pub heartbeat_timeout: Duration,
}

impl Workers {
    /// Starts `binary` for `spec`; `on_exit(success, detail)` runs when it ends.
    pub fn start(
        &self,
        binary: &Path,
        spec: &WorkerSpec,
        settings: &WorkerSettings,
        on_exit: impl FnOnce(bool, String) + Send + 'static,
    ) -> Result<(), String> {
        let name = format!("worker-{}-{}-{}", spec.job, spec.attempt, spec.worker);
        let (stdout, stderr, stderr_path) = open_logs(&settings.log_dir, &name)?;
        let mut command = worker_command(binary, spec, settings);
        command.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        tracing::info!(
            "started worker {} of job {} attempt {} (pid {}), output in {}",
            spec.worker,
            spec.job,
            spec.attempt,
            child.id(),
            stderr_path.display()
        );
        let key = (spec.job.clone(), spec.attempt, spec.worker);
        let kill = Arc::new(AtomicBool::new(false));
        self.lock()
            .insert(key.clone(), (child.id(), Arc::clone(&kill)));
        let running = self.clone();
        std::thread::Builder::new()
            .name(format!("watch {name}"))
            .spawn(move || {
                let (success, detail) = watch(child, &kill, &stderr_path);
                running.lock().remove(&key);
                on_exit(success, detail);
            })
            .map_err(|e| format!("cannot watch the worker: {e}"))?;
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<WorkerKey, Running>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The process ids of the running workers.
    pub fn pids(&self) -> Vec<u32> {
        self.lock().values().map(|(pid, _)| *pid).collect()
    }

    /// The jobs with a running worker here.
    pub fn jobs(&self) -> std::collections::BTreeSet<String> {
        self.lock().keys().map(|key| key.0.clone()).collect()
    }

    /// Kills the workers of `job` `attempt`.
    pub fn kill_attempt(&self, job: &str, attempt: u32) {
        for (key, (_, kill)) in self.lock().iter() {
            if key.0 == job && key.1 == attempt {
                kill.store(true, Ordering::Release);
            }
        }
    }

    /// Kills every worker and waits (up to `timeout`) until they are gone.
    pub fn kill_all(&self, timeout: Duration) {
        for (_, kill) in self.lock().values() {
            kill.store(true, Ordering::Release);
        }
        let deadline = std::time::Instant::now() + timeout;
        while !self.lock().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// How many workers run.
    pub fn count(&self) -> usize {
        self.lock().len()
    }
}

/// Waits for `child` to exit, killing it when `kill` is set; returns its success and a
/// description with the end of its error output.
/// The worker's output files in `log_dir` (standard output, and standard error, which also
/// holds its log), after pruning old workers' files.
fn open_logs(log_dir: &Path, name: &str) -> Result<(File, File, PathBuf), String> {
    std::fs::create_dir_all(log_dir)
        .map_err(|e| format!("cannot create the log directory {}: {e}", log_dir.display()))?;
    prune_worker_logs(log_dir, MAX_WORKER_LOGS);
    let create = |path: &Path| File::create(path).map_err(|e| format!("{}: {e}", path.display()));
    let stdout = create(&log_dir.join(format!("{name}.out")))?;
    let stderr_path = log_dir.join(format!("{name}.log"));
    let stderr = create(&stderr_path)?;
    Ok((stdout, stderr, stderr_path))
}

/// The command that runs the job's binary as worker `spec`: its arguments, and the
/// environment that tells it which job, attempt and worker it is and how to reach the cluster.
fn worker_command(binary: &Path, spec: &WorkerSpec, settings: &WorkerSettings) -> Command {
    let mut command = Command::new(binary);
    command
        .args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .env(ENV_JOB_MANAGER, &settings.job_manager)
        .env(ENV_JOB, &spec.job)
        .env(ENV_ATTEMPT, spec.attempt.to_string())
        .env(ENV_WORKER, spec.worker.to_string())
        .env(ENV_HOST, &settings.host)
        .env(ENV_DATA_PORT, settings.data_port.to_string())
        .env(
            ENV_HEARTBEAT_INTERVAL_MS,
            settings.heartbeat_interval.as_millis().to_string(),
        )
        .env(
            ENV_HEARTBEAT_TIMEOUT_MS,
            settings.heartbeat_timeout.as_millis().to_string(),
        )
        .env(
            ENV_SECRET,
            String::from_utf8_lossy(&settings.secret).as_ref(),
        );
    if let Some(tls) = &settings.tls {
        command
            .env(ENV_TLS_CERT, &tls.cert)
            .env(ENV_TLS_KEY, &tls.key)
            .env(ENV_TLS_CA, &tls.authority)
            .env(ENV_TLS_SERVER_NAME, &tls.server_name);
    }
    if let Some(dir) = spec
        .working_dir
        .as_deref()
        .filter(|d| Path::new(d).is_dir())
    {
        command.current_dir(dir);
    }
    command
}

fn watch(mut child: Child, kill: &AtomicBool, stderr_path: &Path) -> (bool, String) {
    let status = loop {
        if kill.load(Ordering::Acquire) {
            let _ = child.kill();
        }
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(error) => break Err(error),
        }
    };
    match status {
        Ok(status) if status.success() => (true, "exited normally".to_string()),
        Ok(status) => (
            false,
            format!(
                "{status}; its error output ends with:\n{}",
                tail(stderr_path)
            ),
        ),
        Err(error) => (false, format!("cannot wait for it: {error}")),
    }
}

fn tail(path: &Path) -> String {
    let Ok(mut file) = std::fs::File::open(path) else {
        return String::new();
    };
    let length = file.metadata().map_or(0, |m| m.len());
    let _ = file.seek(SeekFrom::Start(length.saturating_sub(ERROR_TAIL_BYTES)));
    let mut text = String::new();
    let _ = file.read_to_string(&mut text);
    text.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_newest_workers_logs_are_kept() {
        let dir = std::env::temp_dir().join(format!("sluice-worker-logs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for attempt in 0..5 {
            for suffix in ["out", "log"] {
                let path = dir.join(format!("worker-job-{attempt}-0.{suffix}"));
                std::fs::write(&path, "x").unwrap();
                let at = std::time::UNIX_EPOCH + Duration::from_secs(1_000 + attempt);
                std::fs::File::options()
                    .write(true)
                    .open(&path)
                    .unwrap()
                    .set_modified(at)
                    .unwrap();
            }
        }
        std::fs::write(dir.join("taskmanager.log"), "kept").unwrap();
        prune_worker_logs(&dir, 3);
        let left = crate::taskmanager::tests::sorted_names(&dir);
        assert_eq!(
            left,
            [
                "taskmanager.log",
                "worker-job-3-0.log",
                "worker-job-3-0.out",
                "worker-job-4-0.log",
                "worker-job-4-0.out"
            ]
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
