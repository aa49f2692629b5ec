//! The Prometheus endpoints of a cluster as a Prometheus server scrapes them: with Flink's
//! reporter keys set, the JobManager and the TaskManager each serve the text format on a port
//! of `metrics.reporter.prom.port`; the text parses, and it holds the cluster's gauges and the
//! running job's subtask metrics with Flink's names and labels, rising as records flow.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::cluster::Cluster;
use common::cluster::jobs::start_socket_job;
use prometheus_parse::{Scrape, Value};

/// The port a process logged its endpoint on (`Prometheus metrics on http://HOST:PORT/…`).
fn endpoint_in(log: &str) -> Option<u16> {
    let (_, rest) = log.split_once("Prometheus metrics on http://")?;
    let address = rest.split('/').next()?;
    address.rsplit(':').next()?.parse().ok()
}

/// Scrapes `port` and parses the answer with a Prometheus text-format parser.
fn scrape(port: u16) -> Scrape {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    Scrape::parse(body.lines().map(|line| Ok(line.to_string()))).unwrap()
}

/// The value of the sample `name` whose labels include `labels`.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            Value::Gauge(v) | Value::Counter(v) | Value::Untyped(v) => v,
            _ => f64::NAN,
        })
        .next()
}

#[test]
fn the_job_manager_and_task_manager_serve_flinks_metrics_to_prometheus() {
    let (first, _) = common::cluster::free_ports();
    let ports = format!("{first}-{}", first.saturating_add(50));
    let cluster = Cluster::start_with("prometheus", 1, 2, |_| {
        vec![
            "-D".into(),
            "metrics.reporter.prom.factory.class=\
             org.apache.flink.metrics.prometheus.PrometheusReporterFactory"
                .into(),
            "-D".into(),
            format!("metrics.reporter.prom.port={ports}"),
        ]
    });
    let (id, mut socket) = start_socket_job(&cluster, "counts.csv");
    let logs = |name: &str| std::fs::read_to_string(cluster.dir.join(name)).unwrap_or_default();
    let job_manager = endpoint_in(&logs("jobmanager-0.log")).expect("the JobManager's endpoint");
    let task_manager = std::fs::read_dir(&cluster.dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("taskmanager"))
        .find_map(|e| endpoint_in(&std::fs::read_to_string(e.path()).unwrap_or_default()))
        .expect("the TaskManager's endpoint");
    assert_ne!(job_manager, task_manager);

    let cluster_scrape = scrape(job_manager);
    assert_eq!(
        value(
            &cluster_scrape,
            "flink_jobmanager_numRegisteredTaskManagers",
            &[]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&cluster_scrape, "flink_jobmanager_taskSlotsTotal", &[]),
        Some(2.0)
    );
    assert_eq!(
        value(&cluster_scrape, "flink_jobmanager_numRunningJobs", &[]),
        Some(1.0)
    );
    assert!(
        value(
            &cluster_scrape,
            "flink_jobmanager_Status_Process_Memory_RSS",
            &[]
        )
        .unwrap()
            > 0.0
    );
    assert!(
        value(
            &cluster_scrape,
            "flink_jobmanager_job_uptime",
            &[("job_id", &id)]
        )
        .is_some()
    );

    // The counter's subtasks' records in, on the TaskManager, rise as lines come.
    let counted = |scrape: &Scrape| -> f64 {
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == "flink_taskmanager_job_task_numRecordsIn")
            .filter(|s| s.labels.get("task_name") == Some("Counter"))
            .filter(|s| s.labels.get("job_id") == Some(id.as_str()))
            .map(|s| match s.value {
                Value::Gauge(v) => v,
                _ => 0.0,
            })
            .sum()
    };
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < 2 || seen[seen.len() - 1] <= seen[0] {
        assert!(
            Instant::now() < deadline,
            "never rose: {seen:?}\n{}",
            cluster.logs()
        );
        socket.write_all(b"to be or not to be\n").unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let now = counted(&scrape(task_manager));
        if now > 0.0 {
            seen.push(now);
        }
    }
    let task_scrape = scrape(task_manager);
    let subtasks: Vec<&str> = task_scrape
        .samples
        .iter()
        .filter(|s| s.metric == "flink_taskmanager_job_task_numRecordsOut")
        .filter(|s| s.labels.get("task_name") == Some("Counter"))
        .filter_map(|s| s.labels.get("subtask_index"))
        .collect();
    assert_eq!(subtasks.len(), 2, "both counter subtasks run here");
    assert!(
        value(
            &task_scrape,
            "flink_taskmanager_job_task_operator_numRecordsIn",
            &[("operator_name", "Counter")]
        )
        .is_some()
    );
    assert!(
        value(
            &task_scrape,
            "flink_taskmanager_Status_Process_Memory_RSS",
            &[]
        )
        .unwrap()
            > 0.0
    );
    assert_eq!(
        value(&task_scrape, "flink_taskmanager_Status_Workers", &[]),
        Some(1.0)
    );
}
