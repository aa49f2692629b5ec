//! The JobManager process (`sluice jobmanager`): the control port for TaskManagers and
//! workers, the REST API for clients, and the dispatcher behind both.

pub mod blob_store;
pub mod coordinator;
pub mod dashboard;
pub mod dispatcher;
pub mod job_store;
pub mod monitor;
pub mod monitoring;
pub mod placement;
pub mod rest;
pub mod rest_guard;
pub mod rest_limits;
pub mod rest_server;
pub mod rpc_server;
pub mod savepoint_target;
pub mod savepoint_triggers;
pub mod views;

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::ClusterConfig;
use blob_store::BlobStore;
use dispatcher::Dispatcher;
use job_store::{FileJobStore, JobStore};

/// Where the JobManager keeps job binaries: with high availability, beside the job store (a
/// restarted JobManager needs them); else in `blob.storage.directory` or the temporary
/// directory, per process.
fn blob_dir(config: &ClusterConfig) -> PathBuf {
    if let Some(dir) = &config.ha_storage_dir {
        return PathBuf::from(dir).join("blobs");
    }
    let base = config
        .blob_dir
        .as_ref()
        .map_or_else(std::env::temp_dir, PathBuf::from);
    base.join(format!("sluice-jobmanager-{}-blobs", std::process::id()))
}

/// Where the control port and the REST API listen unless configured (`jobmanager.bind-host`,
/// `rest.bind-address`): loopback, as in Flink's shipped configuration.
pub const DEFAULT_BIND_HOST: &str = "127.0.0.1";

/// Listens on `host:port`; an error names the configuration key of the port.
fn listen(host: &str, port: u16, key: &str) -> Result<TcpListener, String> {
    TcpListener::bind((host, port))
        .map_err(|e| format!("cannot listen on {host}:{port} ({key}): {e}"))
}

/// Runs the JobManager until the process is stopped.
pub fn run(config: &ClusterConfig) -> Result<(), String> {
    let secret: Arc<[u8]> = Arc::from(config.secret());
    let transport = config.transport()?;
    let (control, bind_host) = open_control_port(config, &secret)?;
    let rest = RestPort::open(config)?;
    let dispatcher = start_dispatcher(config)?;
    if let Some(warning) = rest.exposure_warning(config) {
        tracing::warn!("{warning}");
        dispatcher.warn(warning);
    }
    if config.prometheus {
        let listener = crate::port_range::bind(
            rest.host,
            &config.prometheus_ports,
            "the Prometheus reporter",
        )?;
        if let Ok(address) = listener.local_addr() {
            tracing::info!("Prometheus metrics on http://{address}/metrics");
        }
        let dispatcher = Arc::clone(&dispatcher);
        crate::prometheus::serve(
            listener,
            Arc::new(move || monitoring::prometheus::job_manager_exposition(dispatcher.as_ref())),
        )?;
    }
    spawn_thread("control-port", {
        let dispatcher = Arc::clone(&dispatcher);
        move || rpc_server::serve(control, dispatcher, secret, transport)
    })?;
    spawn_thread("dispatcher-tick", {
        let dispatcher = Arc::clone(&dispatcher);
        move || loop {
            std::thread::sleep(std::time::Duration::from_millis(50));
            dispatcher.tick();
        }
    })?;
    tracing::info!(
        "JobManager listening: control {bind_host}:{}, REST http://{}:{}",
        config.jobmanager_port,
        rest.host,
        config.rest_port
    );
    rest.serve(config, dispatcher)
}

/// Opens the control port for TaskManagers and workers; refuses to run without a secret where
/// it listens beyond loopback.
fn open_control_port<'a>(
    config: &'a ClusterConfig,
    secret: &[u8],
) -> Result<(TcpListener, &'a str), String> {
    let bind_host = config
        .jobmanager_bind_host
        .as_deref()
        .unwrap_or(DEFAULT_BIND_HOST);
    let control = listen(bind_host, config.jobmanager_port, "jobmanager.rpc.port")?;
    let control_ip = control.local_addr().map_err(|e| e.to_string())?.ip();
    crate::config::check_secret(
        secret,
        [control_ip],
        "the control port (jobmanager.bind-host)",
    )?;
    Ok((control, bind_host))
}

/// The REST port, open but not yet served.
struct RestPort<'a> {
    listener: TcpListener,
    host: &'a str,
    loopback_only: bool,
}

impl<'a> RestPort<'a> {
    fn open(config: &'a ClusterConfig) -> Result<Self, String> {
        let host = config
            .rest_bind_address
            .as_deref()
            .unwrap_or(DEFAULT_BIND_HOST);
        let listener = listen(host, config.rest_port, "rest.port")?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        Ok(RestPort {
            listener,
            host,
            loopback_only: address.ip().is_loopback(),
        })
    }

    /// The warning logged and shown on the dashboard when the API is open to anyone who
    /// reaches it: beyond loopback, without a token.
    fn exposure_warning(&self, config: &ClusterConfig) -> Option<String> {
        (!self.loopback_only && config.rest_token().is_none()).then(|| {
            format!(
                "THE REST API ON {}:{} IS OPEN: it listens beyond loopback without a \
                 token, so anyone who reaches it can run programs on this cluster; set \
                 security.rest.token (or SLUICE_REST_TOKEN), or rest.bind-address: localhost",
                self.host, config.rest_port
            )
        })
    }

    /// Serves the REST API on a Tokio runtime of its own until it stops.
    fn serve(self, config: &ClusterConfig, dispatcher: Arc<Dispatcher>) -> Result<(), String> {
        let settings = rest::RestSettings {
            token: config.rest_token(),
            guard: rest_guard::Guard {
                loopback_only: self.loopback_only,
            },
            savepoint_dir: config.savepoint_dir.clone(),
            shown_config: config.shown_entries(),
        };
        rest_server::run(self.listener, rest::router(dispatcher, settings))
    }
}

/// The dispatcher over the job store (with high availability) and the blob directory, which
/// without high availability is removed when the process is stopped.
fn start_dispatcher(config: &ClusterConfig) -> Result<Arc<Dispatcher>, String> {
    let store: Option<Box<dyn JobStore>> = match &config.ha_storage_dir {
        Some(dir) => Some(Box::new(FileJobStore::open(
            &PathBuf::from(dir).join("jobs"),
        )?)),
        None => None,
    };
    let blobs = blob_dir(config);
    if config.ha_storage_dir.is_none() {
        // Without high availability the binaries die with this process.
        let blobs = blobs.clone();
        ctrlc::set_handler(move || {
            let _ = std::fs::remove_dir_all(&blobs);
            std::process::exit(0);
        })
        .map_err(|e| format!("cannot install the stop handler: {e}"))?;
    }
    Ok(Arc::new(Dispatcher::new(
        BlobStore::open(&blobs)?,
        store,
        config.heartbeat_interval,
        config.heartbeat_timeout,
        config.slot_request_timeout,
        config.job_history,
    )?))
}

/// Starts a named background thread.
fn spawn_thread(name: &str, body: impl FnOnce() + Send + 'static) -> Result<(), String> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(body)
        .map(drop)
        .map_err(|e| e.to_string())
}
