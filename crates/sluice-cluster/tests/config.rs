//! The cluster configuration as an operator uses it: the shipped `conf/config.yaml`, overridden
//! by `SLUICE_PROPERTIES` lines and `-D` flags, and errors that say where a bad key was given.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sluice_cluster::{ClusterConfig, ConfigError};

fn conf_dir(name: &str, yaml: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-conf-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.yaml"), yaml).unwrap();
    dir
}

#[test]
fn the_shipped_configuration_holds_flinks_defaults() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conf");
    let config = ClusterConfig::load(&shipped, None, &[]).unwrap();
    // Flink ships one slot per TaskManager; two let `sluice run -p 4` fill the two
    // TaskManagers a `localhost`-twice workers file starts.
    assert_eq!(config.task_slots, 2);
    assert_eq!(
        config,
        ClusterConfig {
            task_slots: 2,
            // As Flink's shipped configuration: the control port and REST API on loopback.
            jobmanager_bind_host: Some("localhost".into()),
            rest_bind_address: Some("localhost".into()),
            // Prometheus metrics, each process of a host on a port of its own.
            prometheus: true,
            prometheus_ports: 9249..=9260,
            ..ClusterConfig::default()
        }
    );
    assert_eq!(config.jobmanager_port, 6123);
    assert_eq!(config.rest_port, 8081);
}

#[test]
fn environment_lines_override_the_file_and_flags_override_both() {
    let dir = conf_dir(
        "override",
        "taskmanager:\n  numberOfTaskSlots: 2\nrest.port: 9000\nstate.backend.type: rocksdb\n",
    );
    let config = ClusterConfig::load(
        &dir,
        Some("rest.port: 9001\nheartbeat.interval: 2 s\n"),
        &[
            "rest.port=9002".to_string(),
            "parallelism.default=4".to_string(),
        ],
    )
    .unwrap();
    assert_eq!(config.task_slots, 2);
    assert_eq!(config.rest_port, 9002);
    assert_eq!(config.default_parallelism, 4);
    assert_eq!(config.heartbeat_interval, Duration::from_secs(2));
    assert_eq!(config.job_options["state.backend.type"], "rocksdb");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_bad_key_is_reported_with_its_file_and_line() {
    let dir = conf_dir(
        "bad",
        "jobmanager:\n  rpc:\n    port: 6123\ntaskmanager:\n  numberOfSlots: 4\n",
    );
    let error = ClusterConfig::load(&dir, None, &[]).unwrap_err();
    let file = dir.join("config.yaml");
    assert_eq!(
        error.to_string(),
        format!(
            "{}:5: unknown key 'taskmanager.numberOfSlots'",
            file.display()
        )
    );
    let error = ClusterConfig::load(&dir, None, &[]).unwrap_err();
    assert!(matches!(error, ConfigError::Invalid { .. }));
    let _ = std::fs::remove_dir_all(dir);

    let dir = conf_dir("ok", "rest.port: 8081\n");
    let error = ClusterConfig::load(&dir, Some("\nrest.port: eighty\n"), &[]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "environment variable SLUICE_PROPERTIES, line 2: rest.port: 'eighty' is not a port (1-65535)"
    );
    let error =
        ClusterConfig::load(&dir, None, &["heartbeat.timeout=1 s".to_string()]).unwrap_err();
    assert!(
        error.to_string().starts_with("-D flag: heartbeat.timeout"),
        "{error}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
