//! Tests of reading the cluster configuration.

use super::*;

#[test]
fn an_empty_secret_is_refused_beyond_loopback_only() {
    let loopback = ["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
    assert!(check_secret(b"", loopback, "the control port").is_ok());
    let wide = ["127.0.0.1".parse().unwrap(), "0.0.0.0".parse().unwrap()];
    let error = check_secret(b"", wide, "the control port").unwrap_err();
    assert!(error.contains("the control port is on 0.0.0.0"), "{error}");
    assert!(check_secret(b"s3cret", wide, "the control port").is_ok());
}

fn yaml(text: &str) -> Result<Vec<(String, String, usize)>, ConfigError> {
    Ok(parse_yaml(text, Path::new("conf/config.yaml"))?
        .into_iter()
        .map(|s| match s.place {
            ConfigSource::File { line, .. } => (s.key, s.value, line),
            other => panic!("{other}"),
        })
        .collect())
}

#[test]
fn nested_and_flat_keys_flatten_with_their_lines() {
    let settings = yaml(
        "# comment\njobmanager:\n  rpc:\n    address: jm\n    port: 6124\nrest.port: 9091\nlist: [a, b]\n",
    )
    .unwrap();
    assert_eq!(
        settings,
        vec![
            ("jobmanager.rpc.address".into(), "jm".into(), 4),
            ("jobmanager.rpc.port".into(), "6124".into(), 5),
            ("rest.port".into(), "9091".into(), 6),
            ("list".into(), "a;b".into(), 7),
        ]
    );
}

#[test]
fn malformed_yaml_and_repeated_keys_name_the_line() {
    let error = yaml("a: b\nc: [d\ne: f\n").unwrap_err().to_string();
    assert!(error.starts_with("conf/config.yaml:"), "{error}");
    assert!(error.contains("not valid YAML"), "{error}");
    let error = yaml("rest.port: 1\nrest:\n  port: 2\n").unwrap_err();
    assert_eq!(
        error.to_string(),
        "conf/config.yaml:3: 'rest.port' is set twice (first on line 1)"
    );
    assert!(yaml("- a\n- b\n").is_err(), "a list is not a configuration");
}

#[test]
fn properties_and_flags_parse_and_bad_ones_are_named() {
    let settings = parse_properties("# c\n\nrest.port: 9000\n", "V").unwrap();
    assert_eq!(settings[0].key, "rest.port");
    assert_eq!(settings[0].value, "9000");
    assert_eq!(
        settings[0].place.to_string(),
        "environment variable V, line 3"
    );
    let error = parse_properties("rest.port 9000", "V").unwrap_err();
    assert!(error.to_string().contains("line 1"), "{error}");
    assert_eq!(parse_flag("a.b = c").unwrap().value, "c");
    assert!(parse_flag("nothing").is_err());
}

#[test]
fn keys_are_checked_with_flinks_names_and_parsers() {
    let mut config = ClusterConfig::default();
    config.apply("taskmanager.numberOfTaskSlots", "4").unwrap();
    config.apply("heartbeat.timeout", "1 min").unwrap();
    config.apply("taskmanager.data.port", "0").unwrap();
    config
        .apply("execution.checkpointing.interval", "10 s")
        .unwrap();
    config.apply("state.backend.type", "rocksdb").unwrap();
    config
        .apply("restart-strategy.type", "fixed-delay")
        .unwrap();
    config.apply("state.savepoints.dir", "file:///sp").unwrap();
    assert_eq!(config.savepoint_dir.as_deref(), Some("file:///sp"));
    assert_eq!(config.task_slots, 4);
    assert_eq!(config.heartbeat_timeout, Duration::from_secs(60));
    assert_eq!(config.job_options.len(), 3);
    for (key, value, expect) in [
        ("taskmanager.rpc.port", "6122", "opens no RPC port"),
        (
            "taskmanager.memory.process.size",
            "1728m",
            "does not size or limit",
        ),
        (
            "jobmanager.memory.process.size",
            "1600m",
            "does not size or limit",
        ),
        ("jobmanager.rpc.port", "0", "not a port"),
        ("rest.port", "http", "not a port"),
        ("parallelism.default", "0", "at least 1"),
        ("heartbeat.interval", "soon", "not a duration"),
        ("state.backend.type", "leveldb", "unknown state backend"),
        ("execution.checkpointing.mode", "sometimes", "EXACTLY_ONCE"),
        ("taskmanager.numberOfSlots", "2", "unknown key"),
        (
            "metrics.reporter.prom.factory.class",
            "org.apache.flink.metrics.jmx.JMXReporterFactory",
            "PrometheusReporterFactory",
        ),
        ("metrics.reporter.prom.port", "9260-9249", "ends before"),
    ] {
        let error = config.apply(key, value).unwrap_err();
        assert!(error.contains(expect), "{key}: {error}");
    }
}

#[test]
fn the_prometheus_reporter_is_enabled_by_its_factory_class_on_a_port_range() {
    let mut config = ClusterConfig::default();
    assert!(!config.prometheus);
    config
        .apply(
            "metrics.reporter.prom.factory.class",
            crate::prometheus::FACTORY_CLASS,
        )
        .unwrap();
    config
        .apply("metrics.reporter.prom.port", "9250-9255")
        .unwrap();
    assert!(config.prometheus);
    assert_eq!(config.prometheus_ports, 9250..=9255);
    let shown = config.shown_entries();
    assert!(shown.contains(&("metrics.reporter.prom.port".into(), "9250-9255".into())));
}
