//! A local job's REST API and dashboard. With `rest.port` set, the jobs of this process's
//! embedded mini-cluster are served with the JobManager's monitoring API and web dashboard
//! (Flink's local environment with web UI), so a developer watches a local job as a cluster
//! job. One server per process, started by the first job that asks and shared by every later
//! one; it lives as long as the process.

mod jobs;
mod options;

use std::sync::{Arc, Mutex, PoisonError};

use sluice_runtime::deploy::job_watch::JobWatch;

use crate::jobmanager::monitor::Monitor;
use crate::jobmanager::{rest, rest_guard, rest_server};
pub use jobs::LocalJobs;
pub use options::LocalWebOptions;

/// The port when none is configured (Flink's `rest.port` default).
pub const DEFAULT_PORT: u16 = 8081;

/// The process's server, once one runs.
static SERVER: Mutex<Option<LocalWeb>> = Mutex::new(None);

/// A running local REST server.
#[derive(Clone)]
pub struct LocalWeb {
    jobs: Arc<LocalJobs>,
}

impl LocalWeb {
    /// The process's server: the running one, or one started as `options` say. Fails when
    /// its port cannot be opened.
    pub fn get_or_start(options: &LocalWebOptions) -> Result<LocalWeb, String> {
        let mut server = SERVER.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(running) = server.as_ref() {
            return Ok(running.clone());
        }
        let started = start(options)?;
        *server = Some(started.clone());
        Ok(started)
    }

    /// Serves `job` from now on.
    pub fn watch(&self, job: JobWatch) {
        self.jobs.add(job);
    }
}

/// Opens the port and serves the API on a thread of its own.
fn start(options: &LocalWebOptions) -> Result<LocalWeb, String> {
    let host = options.bind_host();
    let ports = options.ports.clone().unwrap_or(DEFAULT_PORT..=DEFAULT_PORT);
    let listener = crate::port_range::bind(host, &ports, "the REST API (rest.port)")?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("rest.port: {e}"))?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("rest.port: {e}"))?;
    let warning = options.exposure_warning(address);
    if let Some(warning) = &warning {
        tracing::warn!("{warning}");
    }
    let jobs = Arc::new(LocalJobs::new(warning));
    let settings = rest::RestSettings {
        token: options.token.clone(),
        guard: rest_guard::Guard {
            loopback_only: address.ip().is_loopback(),
        },
        savepoint_dir: options.savepoint_dir.clone(),
        shown_config: options.shown(address),
    };
    let router = rest::monitoring_router(Arc::clone(&jobs) as Arc<dyn Monitor>, settings);
    std::thread::Builder::new()
        .name("local-rest".into())
        .spawn(move || {
            if let Err(error) = rest_server::run(listener, router) {
                tracing::warn!("the local REST server stopped: {error}");
            }
        })
        .map_err(|e| format!("cannot start the REST server: {e}"))?;
    tracing::info!("Web dashboard and REST API of this process's jobs: http://{address}/");
    Ok(LocalWeb { jobs })
}
