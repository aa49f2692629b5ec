//! The TaskManager process (`sluice taskmanager`): registers its slots with the JobManager,
//! heartbeats, fetches job binaries (checked against their SHA-256) and runs them in worker
//! mode for the pipelines placed on it.
//!
//! When the JobManager is unreachable it keeps retrying; when the connection is lost it stops
//! its workers (their attempts cannot finish without the JobManager) and registers again. On
//! SIGTERM or Ctrl-C it stops its workers and exits, leaving no process behind.

pub mod metrics_endpoint;
pub mod worker_process;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::Duration;

use sha2::{Digest, Sha256};
use sluice_runtime::deploy::protocol::{
    FromTaskManager, Hello, TaskManagerInfo, ToTaskManager, WorkerSpec, read_message, send_message,
};
use sluice_runtime::deploy::worker::hex;
use sluice_runtime::net::auth;
use sluice_runtime::net::frame::{FrameReader, MAX_FRAME_BYTES};
use sluice_runtime::net::heartbeat;
use sluice_runtime::net::transport::{BoxSocket, Transport};

use crate::config::ClusterConfig;
use metrics_endpoint::JobSamples;
use worker_process::{WorkerSettings, Workers};

/// How long to wait between attempts to reach the JobManager.
const RETRY_INTERVAL: Duration = Duration::from_secs(1);

type Link = Arc<Mutex<BoxSocket>>;

fn send(link: &Link, message: &FromTaskManager) -> Result<(), String> {
    send_message(
        &mut *link.lock().unwrap_or_else(PoisonError::into_inner),
        message,
    )
}

/// Chunks of a job binary being fetched, by key.
type PendingFetches = Arc<Mutex<BTreeMap<String, mpsc::Sender<Option<Vec<u8>>>>>>;

/// This TaskManager's id: its host and six random hex digits, as Flink's resource ids. Never
/// the process id alone, which every container's first process shares (PID 1).
fn resource_id(config: &ClusterConfig) -> Result<String, String> {
    let host = config.taskmanager_host.clone().unwrap_or_else(host_name);
    let mut random = [0u8; 3];
    getrandom::getrandom(&mut random)
        .map_err(|e| format!("no randomness for the TaskManager's id: {e}"))?;
    // The id names a directory too: keep it to a file name's safe characters.
    let host: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(format!("{host}-{}", hex(&random)))
}

/// The machine's host name, `localhost` when it cannot be read.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Runs the TaskManager until the process is stopped.
pub fn run(config: &ClusterConfig, log_dir: PathBuf) -> Result<(), String> {
    let secret = config.secret();
    let mut reached: Vec<std::net::IpAddr> =
        std::net::ToSocketAddrs::to_socket_addrs(&config.jobmanager_rpc())
            .map(|addresses| addresses.map(|a| a.ip()).collect())
            .unwrap_or_default();
    if let Some(host) = &config.taskmanager_host {
        let listening = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), 0));
        reached.extend(listening.into_iter().flatten().map(|a| a.ip()));
    }
    crate::config::check_secret(
        &secret,
        reached,
        "the JobManager or this TaskManager's host",
    )?;
    let transport = config.transport()?;
    let workers = Workers::default();
    let id = resource_id(config)?;
    // This process's cache of job binaries, removed when it stops.
    let blob_dir = config
        .blob_dir
        .as_ref()
        .map_or_else(std::env::temp_dir, PathBuf::from)
        .join(format!("sluice-{id}-blobs"));
    std::fs::create_dir_all(&blob_dir)
        .map_err(|e| format!("cannot create {}: {e}", blob_dir.display()))?;
    {
        let workers = workers.clone();
        let blob_dir = blob_dir.clone();
        ctrlc::set_handler(move || {
            tracing::info!("stopping: killing {} worker processes", workers.count());
            workers.kill_all(Duration::from_secs(10));
            let _ = std::fs::remove_dir_all(&blob_dir);
            std::process::exit(0);
        })
        .map_err(|e| format!("cannot install the stop handler: {e}"))?;
    }
    let job_samples = JobSamples::default();
    if config.prometheus {
        serve_metrics(config, &id, &workers, &job_samples)?;
    }
    let mut reported = false;
    loop {
        let serving = Serving {
            workers: &workers,
            id: &id,
            blob_dir: &blob_dir,
            log_dir: &log_dir,
            job_samples: &job_samples,
        };
        let mut registered = false;
        match session(config, &transport, &secret, serving, &mut registered) {
            Ok(()) => {
                tracing::warn!("the JobManager closed the connection; registering again");
                reported = false;
            }
            // Repeated failures to connect are said once; a registered session's end always.
            Err(error) if !reported || registered => {
                tracing::warn!(
                    "JobManager at {}: {error}; retrying",
                    config.jobmanager_rpc()
                );
                reported = true;
            }
            Err(_) => {}
        }
        if workers.count() > 0 {
            tracing::warn!("lost the JobManager: stopping {} workers", workers.count());
            workers.kill_all(Duration::from_secs(10));
        }
        std::thread::sleep(RETRY_INTERVAL);
    }
}

/// Serves this TaskManager's Prometheus endpoint, where the JobManager's REST API listens
/// (`rest.bind-address`, loopback if unset).
fn serve_metrics(
    config: &ClusterConfig,
    id: &str,
    workers: &Workers,
    job_samples: &JobSamples,
) -> Result<(), String> {
    let host = config
        .rest_bind_address
        .as_deref()
        .unwrap_or(crate::jobmanager::DEFAULT_BIND_HOST);
    let listener =
        crate::port_range::bind(host, &config.prometheus_ports, "the Prometheus reporter")?;
    if let Ok(address) = listener.local_addr() {
        tracing::info!("Prometheus metrics on http://{address}/metrics");
    }
    let (id, workers, job_samples) = (id.to_string(), workers.clone(), job_samples.clone());
    crate::prometheus::serve(
        listener,
        Arc::new(move || metrics_endpoint::exposition(&id, &workers, &job_samples)),
    )
}

/// What a TaskManager keeps across its registrations.
#[derive(Clone, Copy)]
struct Serving<'a> {
    workers: &'a Workers,
    id: &'a str,
    blob_dir: &'a Path,
    log_dir: &'a Path,
    job_samples: &'a JobSamples,
}

/// One registration: connects, registers, then serves the JobManager until the connection ends.
/// Sets `registered` once the JobManager accepted the registration.
fn session(
    config: &ClusterConfig,
    transport: &Transport,
    secret: &[u8],
    serving: Serving<'_>,
    registered: &mut bool,
) -> Result<(), String> {
    let Serving {
        workers,
        id,
        blob_dir,
        log_dir,
        job_samples,
    } = serving;
    let Registration {
        mut frames,
        writer,
        host,
        interval,
        timeout,
    } = register(config, transport, secret, id)?;
    *registered = true;
    // The JobManager heartbeats too: silence for the timeout means it is gone.
    heartbeat::expect_within(frames.get_ref(), timeout)?;
    let link: Link = Arc::new(Mutex::new(writer));
    let _heartbeats =
        heartbeat::send_every(Arc::clone(&link), FromTaskManager::Heartbeat, interval);
    let _usage = {
        let workers = workers.clone();
        let usage =
            move || FromTaskManager::Usage(crate::prometheus::process::usage_with(&workers.pids()));
        heartbeat::send_made_every(Arc::clone(&link), usage, interval, "usage")
    };
    let session = Deployment {
        link,
        workers: workers.clone(),
        settings: WorkerSettings {
            job_manager: config.jobmanager_rpc(),
            host,
            data_port: config.taskmanager_data_port,
            secret: secret.to_vec(),
            tls: config.tls_files(),
            log_dir: log_dir.to_path_buf(),
            heartbeat_interval: interval,
            heartbeat_timeout: timeout,
        },
        pending: Arc::default(),
        fetching: Arc::default(),
        blob_dir: blob_dir.to_path_buf(),
        job_samples: job_samples.clone(),
    };
    loop {
        match read_message::<ToTaskManager, _>(&mut frames) {
            Ok(Some(message)) => session.handle(message),
            Ok(None) => return Ok(()),
            Err(error) => return Err(heartbeat::explain(error, timeout)),
        }
    }
}

/// A registered connection to the JobManager, with the heartbeat schedule it asked for.
struct Registration {
    frames: FrameReader<BoxSocket>,
    writer: BoxSocket,
    /// Where this TaskManager's workers listen.
    host: String,
    interval: Duration,
    timeout: Duration,
}

/// Connects to the JobManager, authenticates and registers this TaskManager's slots.
fn register(
    config: &ClusterConfig,
    transport: &Transport,
    secret: &[u8],
    id: &str,
) -> Result<Registration, String> {
    let address = config.jobmanager_rpc();
    let stream = TcpStream::connect(&address).map_err(|e| e.to_string())?;
    // Workers listen where the JobManager sees this TaskManager, unless configured.
    let host = match &config.taskmanager_host {
        Some(host) => host.clone(),
        None => stream
            .local_addr()
            .map_err(|e| e.to_string())?
            .ip()
            .to_string(),
    };
    let socket = transport.connect(stream).map_err(|e| e.to_string())?;
    let mut writer = socket.clone_socket().map_err(|e| e.to_string())?;
    let _ = writer.set_write_timeout(Some(Duration::from_secs(30)));
    let mut frames = FrameReader::new(socket, MAX_FRAME_BYTES);
    auth::connect(&mut frames, &mut writer, secret).map_err(|e| e.to_string())?;
    send_message(
        &mut writer,
        &Hello::TaskManager(TaskManagerInfo {
            id: id.to_string(),
            host: host.clone(),
            slots: config.task_slots,
            data_port: config.taskmanager_data_port,
            prometheus: config.prometheus,
            cpu_cores: std::thread::available_parallelism().map_or(1, usize::from),
            physical_memory: crate::prometheus::process::physical_memory().unwrap_or(0),
        }),
    )?;
    let (interval, timeout) = match read_message::<ToTaskManager, _>(&mut frames)? {
        Some(ToTaskManager::Registered {
            heartbeat_interval_ms,
            heartbeat_timeout_ms,
        }) => (
            Duration::from_millis(heartbeat_interval_ms.max(10)),
            Duration::from_millis(heartbeat_timeout_ms.max(heartbeat_interval_ms).max(20)),
        ),
        other => return Err(format!("registration refused: {other:?}")),
    };
    tracing::info!("registered with the JobManager at {address} as {id} ({host})");
    Ok(Registration {
        frames,
        writer,
        host,
        interval,
        timeout,
    })
}

/// What serving one registration takes; cloned for each worker it starts.
#[derive(Clone)]
struct Deployment {
    link: Link,
    workers: Workers,
    settings: WorkerSettings,
    pending: PendingFetches,
    fetching: Arc<Mutex<()>>,
    blob_dir: PathBuf,
    /// The subtasks' metrics the JobManager sends, for the Prometheus endpoint.
    job_samples: JobSamples,
}

impl Deployment {
    /// Serves one message of the JobManager.
    fn handle(&self, message: ToTaskManager) {
        match message {
            ToTaskManager::Deploy(spec) => {
                let deployment = self.clone();
                let spawned = std::thread::Builder::new()
                    .name("deploy".into())
                    .spawn(move || deployment.run(spec));
                if let Err(error) = spawned {
                    tracing::warn!("cannot start a deployment thread: {error}");
                }
            }
            ToTaskManager::Cancel { job, attempt } => self.workers.kill_attempt(&job, attempt),
            ToTaskManager::BlobChunk { key, bytes, last } => {
                let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(sender) = pending.get(&key) {
                    let _ = sender.send(Some(bytes));
                    if last {
                        let _ = sender.send(None);
                        pending.remove(&key);
                    }
                }
            }
            ToTaskManager::BlobMissing { key } => {
                self.pending
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&key);
            }
            ToTaskManager::Metrics { job, samples } => self.job_samples.set(job, samples),
            ToTaskManager::Registered { .. } | ToTaskManager::Heartbeat => {}
        }
    }

    fn run(self, spec: WorkerSpec) {
        let (job, attempt, worker) = (spec.job.clone(), spec.attempt, spec.worker);
        let report = move |success: bool, detail: String| FromTaskManager::WorkerExited {
            job: job.clone(),
            attempt,
            worker,
            success,
            detail,
        };
        let started = self.binary(&spec.binary).and_then(|binary| {
            let link = Arc::clone(&self.link);
            let exited = report.clone();
            self.workers
                .start(&binary, &spec, &self.settings, move |success, detail| {
                    let _ = send(&link, &exited(success, detail));
                })
        });
        if let Err(error) = started {
            tracing::warn!(
                "cannot start worker {} of job {}: {error}",
                spec.worker,
                spec.job
            );
            let _ = send(&self.link, &report(false, error));
        }
    }

    /// The path of the job binary `key`, fetched from the JobManager unless cached.
    fn binary(&self, key: &str) -> Result<PathBuf, String> {
        if !crate::jobmanager::blob_store::is_key(key) {
            return Err(format!("'{key}' is not a blob key"));
        }
        let path = self.blob_dir.join(key);
        let _one_at_a_time = self.fetching.lock().unwrap_or_else(PoisonError::into_inner);
        if path.is_file() {
            // Marks it used: the cache keeps recently used binaries.
            let _ = std::fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|file| file.set_modified(std::time::SystemTime::now()));
            return Ok(path);
        }
        prune_binaries(&self.blob_dir, CACHED_BINARIES, CACHE_IDLE);
        let (sender, chunks) = mpsc::channel();
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_string(), sender);
        send(
            &self.link,
            &FromTaskManager::FetchBlob {
                key: key.to_string(),
            },
        )?;
        let partial = self.blob_dir.join(format!("{key}.partial"));
        let mut file =
            std::fs::File::create(&partial).map_err(|e| format!("{}: {e}", partial.display()))?;
        let mut hasher = Sha256::new();
        loop {
            match chunks.recv_timeout(Duration::from_secs(60)) {
                Ok(Some(bytes)) => {
                    hasher.update(&bytes);
                    file.write_all(&bytes)
                        .map_err(|e| format!("{}: {e}", partial.display()))?;
                }
                Ok(None) => break,
                Err(_) => {
                    let _ = std::fs::remove_file(&partial);
                    return Err(format!(
                        "the JobManager did not send job binary {key} (missing, or the connection was lost)"
                    ));
                }
            }
        }
        drop(file);
        let actual = hex(&hasher.finalize());
        if actual != key {
            let _ = std::fs::remove_file(&partial);
            return Err(format!(
                "job binary {key} arrived corrupted (its SHA-256 is {actual})"
            ));
        }
        std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755))
            .and_then(|()| std::fs::rename(&partial, &path))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    }
}

/// How many job binaries a TaskManager's cache keeps at least (the most recently used).
const CACHED_BINARIES: usize = 8;

/// How long a cached binary beyond those may go unused before it is deleted.
const CACHE_IDLE: Duration = Duration::from_secs(3600);

/// Deletes the cached binaries in `dir` beyond the `keep` most recently used that were not used
/// for `idle` (a binary a worker runs stays: deleting a running executable's file is harmless,
/// and one just used is never idle).
fn prune_binaries(dir: &Path, keep: usize, idle: Duration) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut binaries: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|entry| crate::jobmanager::blob_store::is_key(&entry.file_name().to_string_lossy()))
        .filter_map(|entry| Some((entry.metadata().ok()?.modified().ok()?, entry.path())))
        .collect();
    binaries.sort_by_key(|(used, _)| std::cmp::Reverse(*used));
    for (used, path) in binaries.into_iter().skip(keep) {
        if used.elapsed().is_ok_and(|age| age >= idle) {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names of the files in `dir`, sorted.
    pub(crate) fn sorted_names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_binary_cache_keeps_the_recently_used() {
        let dir = std::env::temp_dir().join(format!("sluice-tm-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let key = |n: u8| format!("{n:02x}").repeat(32);
        for n in 0..4u8 {
            let path = dir.join(key(n));
            std::fs::write(&path, "binary").unwrap();
            let used = std::time::SystemTime::now() - Duration::from_secs(7200 - u64::from(n));
            std::fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(used)
                .unwrap();
        }
        std::fs::write(dir.join(key(9)), "just used").unwrap();
        prune_binaries(&dir, 2, Duration::from_secs(3600));
        let left = sorted_names(&dir);
        assert_eq!(left, [key(3), key(9)], "the two most recently used");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn resource_ids_differ_between_processes_of_one_host() {
        let config = ClusterConfig {
            taskmanager_host: Some("tm host/1".into()),
            ..ClusterConfig::default()
        };
        let first = resource_id(&config).unwrap();
        let second = resource_id(&config).unwrap();
        assert_ne!(first, second);
        assert!(first.starts_with("tm_host_1-"), "{first}");
        assert_eq!(first.len(), "tm_host_1-".len() + 6, "{first}");
    }
}
