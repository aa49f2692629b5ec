//! The cluster's configuration, read as Flink reads its own: `<conf dir>/config.yaml` (nested
//! maps or flat dotted keys, Flink's key names and defaults), then the `key: value` lines of
//! the `SLUICE_PROPERTIES` environment variable, then `-D key=value` flags; a later source
//! overrides an earlier one.
//!
//! Every key is checked when read: an unknown key or a bad value is an error naming the key and
//! where it was given (file and line, variable and line, or flag). Job-level keys (checkpointing,
//! state backend, restart strategy) are checked with the same parsers jobs use and handed to
//! every job as defaults.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod shown;
mod yaml;

use yaml::parse_yaml;

use crate::jobmanager::dispatcher::JobHistory;
use sluice_core::config_value::parse_duration;
use sluice_runtime::checkpoint::{CheckpointConfig, RestartStrategy};
use sluice_runtime::deploy::worker::TlsFiles;
use sluice_runtime::net::transport::Transport;
use sluice_state::backend_options::check_state_option;

/// The configuration file inside the configuration directory.
pub const CONFIG_FILE: &str = "config.yaml";
/// The environment variable whose `key: value` lines override the file.
pub const PROPERTIES_VARIABLE: &str = "SLUICE_PROPERTIES";

/// The environment variable holding the REST API's token.
pub const REST_TOKEN_VARIABLE: &str = "SLUICE_REST_TOKEN";

/// Where a setting was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// A line of a configuration file.
    File {
        /// The file.
        path: PathBuf,
        /// The line (1-based).
        line: usize,
    },
    /// A line of an environment variable.
    Environment {
        /// The variable.
        variable: String,
        /// The line (1-based).
        line: usize,
    },
    /// A `-D key=value` flag.
    Flag,
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigSource::File { path, line } => write!(f, "{}:{line}", path.display()),
            ConfigSource::Environment { variable, line } => {
                write!(f, "environment variable {variable}, line {line}")
            }
            ConfigSource::Flag => write!(f, "-D flag"),
        }
    }
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// The file exists but cannot be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The system's message.
        message: String,
    },
    /// A setting is malformed, unknown or invalid.
    #[error("{place}: {message}")]
    Invalid {
        /// Where it was given.
        place: ConfigSource,
        /// What is wrong.
        message: String,
    },
}

/// A standalone cluster's settings, with Flink's keys and defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    /// Where TaskManagers and clients find the JobManager (`jobmanager.rpc.address`).
    pub jobmanager_address: String,
    /// The JobManager's control port (`jobmanager.rpc.port`, 6123).
    pub jobmanager_port: u16,
    /// The REST API's port (`rest.port`, 8081).
    pub rest_port: u16,
    /// The REST API's host for clients (`rest.address`; the JobManager's address if unset).
    pub rest_address: Option<String>,
    /// The host a TaskManager announces (`taskmanager.host`; found out if unset).
    pub taskmanager_host: Option<String>,
    /// A TaskManager's data port (`taskmanager.data.port`; 0: chosen automatically).
    pub taskmanager_data_port: u16,
    /// Slots each TaskManager offers (`taskmanager.numberOfTaskSlots`, 1).
    pub task_slots: usize,
    /// The parallelism of jobs that set none (`parallelism.default`, 1).
    pub default_parallelism: usize,
    /// How often peers heartbeat (`heartbeat.interval`, 10 s).
    pub heartbeat_interval: Duration,
    /// Silence after which a peer is lost (`heartbeat.timeout`, 50 s).
    pub heartbeat_timeout: Duration,
    /// How long a job waits for free slots before it fails (`slot.request.timeout`, 300 s).
    pub slot_request_timeout: Duration,
    /// How many ended jobs are kept and for how long (`jobstore.max-capacity`, 1000;
    /// `jobstore.expiration-time`, 1 h).
    pub job_history: JobHistory,
    /// Where savepoints go when a request names no directory (`state.savepoints.dir`, Flink
    /// 2's `execution.checkpointing.savepoint-dir`).
    pub savepoint_dir: Option<String>,
    /// The interface the JobManager's control port listens on (`jobmanager.bind-host`; all
    /// interfaces if unset).
    pub jobmanager_bind_host: Option<String>,
    /// The interface the REST API listens on (`rest.bind-address`; all interfaces if unset).
    pub rest_bind_address: Option<String>,
    /// The secret every cluster process proves it knows (`security.cluster.secret`, or the
    /// `SLUICE_CLUSTER_SECRET` variable).
    pub cluster_secret: Option<String>,
    /// Where the JobManager keeps job binaries and TaskManagers cache them
    /// (`blob.storage.directory`; the system's temporary directory if unset).
    pub blob_dir: Option<String>,
    /// Where the JobManager keeps the jobs (and their binaries) a restarted JobManager
    /// recovers (`high-availability.storageDir`; none if unset).
    pub ha_storage_dir: Option<String>,
    /// Whether the control and data planes use mutual TLS (`security.ssl.internal.enabled`).
    pub internal_tls: bool,
    /// This process's certificate chain, PEM (`security.ssl.internal.cert-file`).
    pub tls_cert: Option<String>,
    /// Its private key, PEM (`security.ssl.internal.key-file`).
    pub tls_key: Option<String>,
    /// The authority peers' certificates must be signed by, PEM (`security.ssl.internal.ca-file`).
    pub tls_ca: Option<String>,
    /// The name every certificate carries (`security.ssl.internal.server-name`,
    /// `sluice-internal`).
    pub tls_server_name: String,
    /// The token every REST request must carry as `Authorization: Bearer …`
    /// (`security.rest.token`, or the `SLUICE_REST_TOKEN` variable; none if unset).
    pub rest_token: Option<String>,
    /// Job-level keys (checkpointing, state backend, restart strategy), checked, by key: the
    /// defaults of every job the cluster runs.
    pub job_options: BTreeMap<String, String>,
    /// Whether the Prometheus endpoint is served (`metrics.reporter.prom.factory.class`).
    pub prometheus: bool,
    /// The ports it may take, the first free one (`metrics.reporter.prom.port`, 9249).
    pub prometheus_ports: std::ops::RangeInclusive<u16>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            jobmanager_address: "localhost".into(),
            jobmanager_port: 6123,
            rest_port: 8081,
            rest_address: None,
            taskmanager_host: None,
            taskmanager_data_port: 0,
            task_slots: 1,
            default_parallelism: 1,
            heartbeat_interval: Duration::from_secs(10),
            heartbeat_timeout: Duration::from_secs(50),
            slot_request_timeout: Duration::from_secs(300),
            job_history: JobHistory::default(),
            savepoint_dir: None,
            jobmanager_bind_host: None,
            rest_bind_address: None,
            cluster_secret: None,
            blob_dir: None,
            ha_storage_dir: None,
            rest_token: None,
            internal_tls: false,
            tls_cert: None,
            tls_key: None,
            tls_ca: None,
            tls_server_name: sluice_runtime::net::tls::DEFAULT_SERVER_NAME.to_string(),
            job_options: BTreeMap::new(),
            prometheus: false,
            prometheus_ports: crate::prometheus::DEFAULT_PORT..=crate::prometheus::DEFAULT_PORT,
        }
    }
}

/// One `key: value` setting and where it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The key, dotted (nested maps are joined with `.`).
    pub key: String,
    /// The value as written (list items joined with `;`, as Flink's flat syntax).
    pub value: String,
    /// Where it was given.
    pub place: ConfigSource,
}

impl ClusterConfig {
    /// The JobManager's control address as `host:port`.
    pub fn jobmanager_rpc(&self) -> String {
        format!("{}:{}", self.jobmanager_address, self.jobmanager_port)
    }

    /// The REST API's address for clients, as `host:port`.
    pub fn rest_endpoint(&self) -> String {
        let host = self
            .rest_address
            .as_deref()
            .unwrap_or(&self.jobmanager_address);
        format!("{host}:{}", self.rest_port)
    }

    /// The mutual TLS files, when `security.ssl.internal.enabled` (checked by `load`).
    pub fn tls_files(&self) -> Option<TlsFiles> {
        if !self.internal_tls {
            return None;
        }
        Some(TlsFiles {
            cert: self.tls_cert.clone()?,
            key: self.tls_key.clone()?,
            authority: self.tls_ca.clone()?,
            server_name: self.tls_server_name.clone(),
        })
    }

    /// How this process's cluster connections are carried: mutual TLS when enabled (its
    /// files are read now, and an unreadable one is an error naming it), else plain TCP.
    pub fn transport(&self) -> Result<Transport, String> {
        match self.tls_files() {
            Some(files) => files.transport(),
            None => Ok(Transport::plain()),
        }
    }

    /// The job defaults as `key: value` lines, as jobs read them (`SLUICE_JOB_OPTIONS`).
    pub fn job_options_text(&self) -> String {
        self.job_options
            .iter()
            .map(|(key, value)| format!("{key}: {value}\n"))
            .collect()
    }

    /// The REST token: the `SLUICE_REST_TOKEN` variable, else `security.rest.token`.
    pub fn rest_token(&self) -> Option<String> {
        std::env::var(REST_TOKEN_VARIABLE)
            .ok()
            .filter(|token| !token.is_empty())
            .or_else(|| self.rest_token.clone())
    }

    /// The cluster secret: the `SLUICE_CLUSTER_SECRET` variable, else
    /// `security.cluster.secret`; empty (with a warning) when neither is set, which
    /// [`check_secret`] allows on loopback only.
    pub fn secret(&self) -> Vec<u8> {
        if let Ok(secret) = std::env::var(sluice_runtime::deploy::worker::ENV_SECRET)
            && !secret.is_empty()
        {
            return secret.into_bytes();
        }
        match &self.cluster_secret {
            Some(secret) => secret.clone().into_bytes(),
            None => {
                tracing::warn!(
                    "no cluster secret is set (security.cluster.secret or SLUICE_CLUSTER_SECRET): any local process that speaks the protocol can join this cluster"
                );
                Vec::new()
            }
        }
    }

    /// Reads `conf_dir/config.yaml` (defaults when it does not exist), then the
    /// `properties` lines (the `SLUICE_PROPERTIES` variable's value, if set), then `flags`
    /// (`key=value`, from `-D`).
    pub fn load(
        conf_dir: &Path,
        properties: Option<&str>,
        flags: &[String],
    ) -> Result<Self, ConfigError> {
        let path = conf_dir.join(CONFIG_FILE);
        let mut settings = match std::fs::read_to_string(&path) {
            Ok(text) => parse_yaml(&text, &path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(ConfigError::Read {
                    path,
                    message: e.to_string(),
                });
            }
        };
        if let Some(text) = properties {
            settings.extend(parse_properties(text, PROPERTIES_VARIABLE)?);
        }
        for flag in flags {
            settings.push(parse_flag(flag)?);
        }
        let mut config = ClusterConfig::default();
        for setting in &settings {
            config
                .apply(&setting.key, &setting.value)
                .map_err(|message| ConfigError::Invalid {
                    place: setting.place.clone(),
                    message,
                })?;
        }
        if config.internal_tls {
            let missing: Vec<&str> = [
                ("security.ssl.internal.cert-file", &config.tls_cert),
                ("security.ssl.internal.key-file", &config.tls_key),
                ("security.ssl.internal.ca-file", &config.tls_ca),
            ]
            .iter()
            .filter(|(_, value)| value.is_none())
            .map(|(key, _)| *key)
            .collect();
            if !missing.is_empty() {
                let place = settings
                    .iter()
                    .rev()
                    .find(|s| s.key == "security.ssl.internal.enabled")
                    .map_or(ConfigSource::Flag, |s| s.place.clone());
                return Err(ConfigError::Invalid {
                    place,
                    message: format!("security.ssl.internal.enabled needs {}", missing.join(", ")),
                });
            }
        }
        if config.heartbeat_timeout <= config.heartbeat_interval {
            let place = settings
                .iter()
                .rev()
                .find(|s| s.key.starts_with("heartbeat."))
                .map_or(ConfigSource::Flag, |s| s.place.clone());
            return Err(ConfigError::Invalid {
                place,
                message: format!(
                    "heartbeat.timeout ({:?}) must be longer than heartbeat.interval ({:?})",
                    config.heartbeat_timeout, config.heartbeat_interval
                ),
            });
        }
        Ok(config)
    }

    /// Applies one key; an error says what is wrong with it.
    fn apply(&mut self, key: &str, value: &str) -> Result<(), String> {
        let text = value.trim();
        let bad = |what: &str| format!("{key}: '{value}' is not {what}");
        let port = |zero_ok: bool| match text.parse::<u16>() {
            Ok(0) if !zero_ok => Err(bad("a port (1-65535)")),
            Ok(port) => Ok(port),
            Err(_) => Err(bad("a port (1-65535)")),
        };
        let count = || match text.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(bad("a whole number of at least 1")),
        };
        let nonempty = |what: &str| {
            (!text.is_empty())
                .then(|| text.to_string())
                .ok_or_else(|| bad(what))
        };
        let duration = || parse_duration(text).map_err(|e| format!("{key}: {e}"));
        match key {
            "jobmanager.rpc.address" => self.jobmanager_address = nonempty("a host name")?,
            "jobmanager.rpc.port" => self.jobmanager_port = port(false)?,
            "rest.port" => self.rest_port = port(false)?,
            "rest.address" => self.rest_address = Some(nonempty("a host name")?),
            "taskmanager.host" => self.taskmanager_host = Some(nonempty("a host name")?),
            "taskmanager.rpc.port" => {
                return Err(format!(
                    "{key}: a Sluice TaskManager opens no RPC port (it connects to the JobManager \
                     at jobmanager.rpc.address and jobmanager.rpc.port; its workers' data \
                     connections use taskmanager.data.port): remove the key"
                ));
            }
            "taskmanager.data.port" => self.taskmanager_data_port = port(true)?,
            "taskmanager.numberOfTaskSlots" => self.task_slots = count()?,
            "parallelism.default" => self.default_parallelism = count()?,
            "taskmanager.memory.process.size" | "jobmanager.memory.process.size" => {
                return Err(format!(
                    "{key}: Sluice does not size or limit a process's memory yet (there is no JVM \
                     heap to divide; state lives in the chosen state backend): remove the key"
                ));
            }
            "heartbeat.interval" => self.heartbeat_interval = duration()?,
            "heartbeat.timeout" => self.heartbeat_timeout = duration()?,
            "slot.request.timeout" => self.slot_request_timeout = duration()?,
            "jobstore.max-capacity" => self.job_history.max_capacity = count()?,
            "jobstore.expiration-time" => self.job_history.expiration = duration()?,
            "state.savepoints.dir" | "execution.checkpointing.savepoint-dir" => {
                self.savepoint_dir = Some(nonempty("a directory")?)
            }
            "jobmanager.bind-host" => self.jobmanager_bind_host = Some(nonempty("a host name")?),
            "rest.bind-address" => self.rest_bind_address = Some(nonempty("a host name")?),
            "security.cluster.secret" => self.cluster_secret = Some(nonempty("a secret")?),
            "blob.storage.directory" => self.blob_dir = Some(nonempty("a directory")?),
            "high-availability.storageDir" | "high-availability.storage-dir" => {
                self.ha_storage_dir = Some(nonempty("a directory")?)
            }
            "security.rest.token" => self.rest_token = Some(nonempty("a token")?),
            "security.ssl.internal.enabled" => {
                self.internal_tls = match text.to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(bad("true or false")),
                }
            }
            "metrics.reporter.prom.factory.class" => {
                if text != crate::prometheus::FACTORY_CLASS {
                    return Err(bad(&format!(
                        "a reporter Sluice has (the Prometheus reporter: {})",
                        crate::prometheus::FACTORY_CLASS
                    )));
                }
                self.prometheus = true;
            }
            "metrics.reporter.prom.port" => {
                self.prometheus_ports =
                    crate::port_range::parse(text).map_err(|e| format!("{key}: {e}"))?
            }
            "security.ssl.internal.cert-file" => self.tls_cert = Some(nonempty("a file")?),
            "security.ssl.internal.key-file" => self.tls_key = Some(nonempty("a file")?),
            "security.ssl.internal.ca-file" => self.tls_ca = Some(nonempty("a file")?),
            "security.ssl.internal.server-name" => {
                self.tls_server_name = nonempty("a server name")?
            }
            _ => {
                check_job_option(key, text)?;
                self.job_options.insert(key.to_string(), text.to_string());
            }
        }
        Ok(())
    }
}

/// Checks a job-level key with the parser the job applies it with; other keys are unknown.
fn check_job_option(key: &str, value: &str) -> Result<(), String> {
    let state_key =
        key.starts_with("state.backend.") || key == "execution.checkpointing.incremental";
    if state_key {
        check_state_option(key, value)
    } else if key.starts_with("execution.checkpointing.") || key.starts_with("state.checkpoints.") {
        CheckpointConfig::default().set(key, value)
    } else if key.starts_with("restart-strategy.") {
        RestartStrategy::flink_default().set(key, value)
    } else {
        Err(format!("unknown key '{key}'"))
    }
}

/// The `key: value` lines of `text` (blank lines and `#` comments skipped), given in
/// environment variable `variable`.
fn parse_properties(text: &str, variable: &str) -> Result<Vec<Setting>, ConfigError> {
    let mut settings = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let place = ConfigSource::Environment {
            variable: variable.to_string(),
            line: index + 1,
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(ConfigError::Invalid {
                place,
                message: format!("expected `key: value`, found '{line}'"),
            });
        };
        settings.push(Setting {
            key: key.trim().to_string(),
            value: value.trim().to_string(),
            place,
        });
    }
    Ok(settings)
}

/// One `-D key=value` flag.
fn parse_flag(flag: &str) -> Result<Setting, ConfigError> {
    match flag.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok(Setting {
            key: key.trim().to_string(),
            value: value.trim().to_string(),
            place: ConfigSource::Flag,
        }),
        _ => Err(ConfigError::Invalid {
            place: ConfigSource::Flag,
            message: format!("expected -D key=value, found '{flag}'"),
        }),
    }
}

/// Refuses an empty cluster `secret` when any of `addresses` (where `what` listens or connects)
/// is beyond loopback: anyone who reaches such an address could join the cluster and run code.
pub fn check_secret(
    secret: &[u8],
    addresses: impl IntoIterator<Item = std::net::IpAddr>,
    what: &str,
) -> Result<(), String> {
    match addresses.into_iter().find(|ip| !ip.is_loopback()) {
        Some(ip) if secret.is_empty() => Err(format!(
            "{what} is on {ip}, beyond loopback, and no cluster secret is set: set \
             security.cluster.secret (or SLUICE_CLUSTER_SECRET) on every cluster process, or \
             keep the cluster on loopback"
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
