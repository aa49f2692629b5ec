//! A job on the embedded mini-cluster serves Flink's monitoring REST API and the dashboard
//! when `rest.port` is set, as a cluster's JobManager does: the job with its vertices, rising
//! record counts and checkpoints, the one local TaskManager, savepoints, cancel, a failed job's
//! exception; the answers fit Flink's OpenAPI description.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice::prelude::*;
use sluice::sinks::DiscardingSink;

use common::http_request;
use common::openapi::OpenApi;

/// A port nothing listens on now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    listener.local_addr().unwrap().port()
}

fn get(port: u16, path: &str) -> Value {
    let (status, value) = http_request(port, "GET", path, None);
    assert_eq!(status, 200, "GET {path}: {value}");
    value
}

/// `path`'s answer, checked against Flink's schema for `template`.
fn checked_get(port: u16, api: &OpenApi, template: &str, path: &str) -> Value {
    let value = get(port, path);
    if let Err(error) = api.check_get(template, 200, &value) {
        panic!("GET {path} does not fit Flink's schema: {error}\n{value:#}");
    }
    value
}

/// Polls `path` until `ready` holds for its answer (at most 30 s).
fn wait_for(port: u16, path: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, value) = http_request(port, "GET", path, None);
        if ready(&value) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "GET {path} never got ready: {value:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The newest job listed by the REST API another process serves on `port` (asked with
/// `token`), once it runs.
fn running_job_at(port: u16, token: Option<&str>) -> Value {
    common::wait_for("a running job listed by the process's dashboard", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        let (_, answer) = common::http_exchange(port, "GET", "/jobs/overview", None, token);
        let jobs: Value = serde_json::from_str(&answer).ok()?;
        (jobs["jobs"][0]["state"] == "RUNNING").then(|| jobs["jobs"][0].clone())
    })
}

/// Records written by the vertex whose name contains `name`.
fn written_by(job: &Value, name: &str) -> u64 {
    job["vertices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"].as_str().unwrap().contains(name))
        .unwrap_or_else(|| panic!("no vertex {name} in {job:#}"))["metrics"]["write-records"]
        .as_u64()
        .unwrap()
}

#[test]
fn a_local_job_serves_the_monitoring_api_and_dashboard() {
    let dir = common::temp_dir("local_web", "watched");
    let savepoints = dir.join("savepoints");
    let port = free_port();
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    env.enable_checkpointing(Duration::from_millis(200));
    env.set_checkpoint_storage(dir.join("checkpoints").to_str().unwrap());
    env.set_rest_option("rest.port", &port.to_string());
    env.set_rest_option("state.savepoints.dir", savepoints.to_str().unwrap());
    env.from_sequence(0, i64::MAX)
        .uid("numbers")
        .map(|n: i64| {
            std::thread::sleep(Duration::from_micros(200));
            (n % 7, 1i64)
        })
        .name("Slow Pairs")
        .key_by(|pair: &(i64, i64)| pair.0)
        .sum(|pair: &mut (i64, i64)| &mut pair.1)
        .sink_to(DiscardingSink);
    let client = env.execute_async("watched locally").unwrap();
    let id = client.watch().plan().job_id.to_string();
    let api = common::openapi::flink_api();

    // The dashboard's page and the API on the same port.
    let (_, page) = http_request(port, "GET", "/", None);
    assert!(page.is_null(), "the page is HTML, not JSON");
    let (status, description) = common::http_exchange(port, "GET", "/v1/openapi.yaml", None, None);
    assert_eq!(status, 200);
    assert!(OpenApi::parse(&description).has_path("/jobs/{jobid}"));
    let overview = checked_get(port, &api, "/overview", "/overview");
    assert_eq!(overview["taskmanagers"], 1);
    assert_eq!(overview["slots-total"], 2);
    assert_eq!(overview["jobs-running"], 1);
    let jobs = checked_get(port, &api, "/jobs/overview", "/jobs/overview");
    assert_eq!(jobs["jobs"][0]["jid"], id);
    assert_eq!(jobs["jobs"][0]["name"], "watched locally");
    assert_eq!(jobs["jobs"][0]["state"], "RUNNING");

    // Vertices with their parallelism, and record counts that rise.
    let path = format!("/jobs/{id}");
    let first = wait_for(port, &path, |job| written_by(job, "Source") > 0);
    let job = checked_get(port, &api, "/jobs/{jobid}", &path);
    assert_eq!(job["state"], "RUNNING");
    let vertices = job["vertices"].as_array().unwrap();
    assert!(vertices.len() >= 2, "{job:#}");
    assert!(vertices.iter().all(|v| v["parallelism"] == 2), "{job:#}");
    std::thread::sleep(Duration::from_millis(1200));
    let later = get(port, &path);
    assert!(
        written_by(&later, "Source") > written_by(&first, "Source"),
        "records rise: {later:#}"
    );
    let vertex = vertices[0]["id"].as_str().unwrap();
    let subtasks = checked_get(
        port,
        &api,
        "/jobs/{jobid}/vertices/{vertexid}",
        &format!("/jobs/{id}/vertices/{vertex}"),
    );
    assert_eq!(subtasks["subtasks"].as_array().unwrap().len(), 2);
    assert_eq!(subtasks["subtasks"][0]["taskmanager-id"], "local");

    // Checkpoints with sizes.
    let checkpoints = wait_for(port, &format!("/jobs/{id}/checkpoints"), |c| {
        c["counts"]["completed"].as_u64() >= Some(1)
    });
    assert!(checkpoints["latest"]["completed"]["state_size"].as_u64() > Some(0));
    checked_get(
        port,
        &api,
        "/jobs/{jobid}/checkpoints",
        &format!("/jobs/{id}/checkpoints"),
    );

    // The one TaskManager: this process, with the job's two slots.
    let managers = checked_get(port, &api, "/taskmanagers", "/taskmanagers");
    assert_eq!(managers["taskmanagers"][0]["id"], "local");
    let manager = get(port, "/taskmanagers/local");
    assert_eq!(manager["allocatedSlots"].as_array().unwrap().len(), 2);
    assert_eq!(
        http_request(port, "GET", "/taskmanagers/other", None).0,
        404
    );

    // A savepoint through the API lands in state.savepoints.dir.
    let (status, trigger) = http_request(
        port,
        "POST",
        &format!("/jobs/{id}/savepoints"),
        Some(&json!({})),
    );
    assert_eq!(status, 202, "{trigger}");
    let request = trigger["request-id"].as_str().unwrap();
    let done = wait_for(port, &format!("/jobs/{id}/savepoints/{request}"), |s| {
        s["status"]["id"] == "COMPLETED"
    });
    let location = done["operation"]["location"].as_str().unwrap();
    assert!(location.contains(savepoints.to_str().unwrap()), "{done:#}");
    assert!(Path::new(location.trim_start_matches("file://")).exists());

    // A local job is not rescaled: the operation says so.
    let (_, trigger) = http_request(
        port,
        "PATCH",
        &format!("/jobs/{id}/rescaling?parallelism=4"),
        None,
    );
    let request = trigger["request-id"].as_str().unwrap();
    let refused = wait_for(port, &format!("/jobs/{id}/rescaling/{request}"), |s| {
        s["status"]["id"] == "COMPLETED"
    });
    let cause = refused["operation"]["failure-cause"]["stack-trace"].to_string();
    assert!(cause.contains("mini-cluster"), "{refused:#}");

    // Cancel from the API: the job's client sees it, and so does the API.
    let (status, _) = http_request(port, "PATCH", &format!("/jobs/{id}?mode=cancel"), None);
    assert_eq!(status, 202);
    assert!(matches!(client.wait(), Err(JobError::Cancelled)));
    let job = get(port, &path);
    assert_eq!(job["state"], "CANCELED");
    assert!(job["end-time"].as_i64() > Some(0));
    assert_eq!(get(port, "/overview")["jobs-cancelled"], 1);
    let unknown = format!("/jobs/{}", "0".repeat(32));
    assert_eq!(http_request(port, "GET", &unknown, None).0, 404);
    assert_eq!(http_request(port, "GET", "/jobs/nonsense", None).0, 400);

    // A failed job of the same process, on the same server, with its exception.
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(1);
    env.set_rest_option("rest.port", &free_port().to_string());
    env.from_sequence(0, 10)
        .map(|n: i64| {
            assert!(n < 5, "record {n} is too big");
            n
        })
        .sink_to(DiscardingSink);
    let client = env.execute_async("fails locally").unwrap();
    let failed_id = client.watch().plan().job_id.to_string();
    assert!(client.wait().is_err());
    let exceptions = checked_get(
        port,
        &api,
        "/jobs/{jobid}/exceptions",
        &format!("/jobs/{failed_id}/exceptions"),
    );
    let entry = &exceptions["exceptionHistory"]["entries"][0];
    assert!(
        entry["stacktrace"].as_str().unwrap().contains("too big"),
        "{exceptions:#}"
    );
    assert_eq!(get(port, &format!("/jobs/{failed_id}"))["state"], "FAILED");
    assert_eq!(
        get(port, "/jobs/overview")["jobs"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn a_bad_rest_option_fails_the_job_naming_it() {
    let env = StreamExecutionEnvironment::new();
    env.set_rest_option("rest.port", "eighty");
    env.from_sequence(0, 1).sink_to(DiscardingSink);
    let error = env.execute("bad port").unwrap_err().to_string();
    assert!(error.contains("rest.port"), "{error}");
}

#[test]
fn word_count_with_web_serves_its_dashboard_and_is_cancelled_from_it() {
    // Nothing listens on the socket port, so the job runs (and retries) until cancelled.
    let (socket, web) = (free_port(), free_port());
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["word-count", "--hostname", "127.0.0.1", "--port"])
        .arg(socket.to_string())
        .arg("--web")
        .arg(web.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let job = running_job_at(web, None);
    assert_eq!(job["name"], "WordCount");
    let id = job["jid"].as_str().unwrap();
    let (status, _) = http_request(web, "PATCH", &format!("/jobs/{id}?mode=cancel"), None);
    assert_eq!(status, 202);
    let result = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!result.status.success());
    assert!(stderr.contains("job cancelled"), "{stderr}");
    assert!(
        stderr.contains(&format!("http://127.0.0.1:{web}/")),
        "{stderr}"
    );
}

#[test]
fn a_sql_job_serves_its_dashboard_when_rest_port_is_set() {
    let dir = common::temp_dir("local_web", "sql");
    let web = free_port();
    let script = dir.join("watched.sql");
    std::fs::write(
        &script,
        format!(
            "SET 'rest.port' = '{web}';\n\
             SET 'security.rest.token' = 's3cret';\n\
             CREATE TABLE numbers (n BIGINT) WITH ('connector' = 'datagen', \
             'fields.n.kind' = 'sequence', 'fields.n.start' = '1', 'fields.n.end' = '4000', \
             'rows-per-second' = '1000');\n\
             CREATE TABLE sink (n BIGINT) WITH ('connector' = 'blackhole');\n\
             INSERT INTO sink SELECT n * 2 FROM numbers;\n"
        ),
    )
    .unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("sql")
        .arg("-f")
        .arg(&script)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let job = running_job_at(web, Some("s3cret"));
    let path = format!("/jobs/{}", job["jid"].as_str().unwrap());
    let (status, details) = common::http_exchange(web, "GET", &path, None, Some("s3cret"));
    assert_eq!(status, 200);
    assert!(details.contains("\"vertices\""), "{details}");
    // With a token configured, no answer without it; the page itself loads (it asks for it).
    let (status, _) = common::http_exchange(web, "GET", &path, None, None);
    assert_eq!(status, 401);
    assert_eq!(common::http_exchange(web, "GET", "/", None, None).0, 200);
    let result = child.wait_with_output().unwrap();
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
}
