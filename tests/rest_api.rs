//! The JobManager's monitoring REST API as a Flink tool reads it: a cluster runs a job, and
//! every answer on a path Flink's OpenAPI description lists fits Flink's schema for it, bare
//! and under `/v1`; the job's vertices, parallelism, state and rising record counts are there;
//! unknown ids are 404 and malformed ones 400 with Flink's `{"errors": [...]}`.

mod common;

use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use common::cluster::Cluster;
use common::cluster::jobs::{
    children_of, signal, start_socket_job, submit_counts, write_counts_input,
};
use common::openapi::OpenApi;

/// Sluice's own description of its API, as the cluster serves it (no token needed).
fn own_api(cluster: &Cluster) -> &'static OpenApi {
    static OWN: OnceLock<OpenApi> = OnceLock::new();
    OWN.get_or_init(|| {
        let (status, text) =
            common::http_exchange(cluster.rest_port, "GET", "/v1/openapi.yaml", None, None);
        assert_eq!(status, 200, "GET /v1/openapi.yaml: {text}");
        OpenApi::parse(&text)
    })
}

/// `GET path`, checked against Flink's schema and Sluice's own for the path `template`.
fn schema_checked(cluster: &Cluster, api: &OpenApi, template: &str, path: &str) -> Value {
    assert!(api.has_path(template), "Flink's API has no {template}");
    let (status, value) = cluster.get_with_status(path);
    assert_eq!(status, 200, "GET {path}: {value}");
    if let Err(error) = api.check_get(template, status, &value) {
        panic!("GET {path} does not fit Flink's schema: {error}\n{value:#}");
    }
    if let Err(error) = own_api(cluster).check_get(template, status, &value) {
        panic!("GET {path} does not fit Sluice's own description: {error}\n{value:#}");
    }
    value
}

/// `GET path` (bare and under `/v1`, the same answer), checked against Flink's schema and
/// Sluice's own for the path `template`.
fn checked_get(cluster: &Cluster, api: &OpenApi, template: &str, path: &str) -> Value {
    let value = schema_checked(cluster, api, template, path);
    let (v1_status, v1_value) = cluster.get_with_status(&format!("/v1{path}"));
    assert_eq!(v1_status, 200, "GET /v1{path}: {v1_value}");
    assert_eq!(
        v1_value.as_object().map(|o| o.keys().collect::<Vec<_>>()),
        value.as_object().map(|o| o.keys().collect::<Vec<_>>()),
        "/v1{path} answers as {path} does"
    );
    value
}

/// The records the job's vertices have written so far, summed.
fn records_written(job: &Value) -> u64 {
    job["vertices"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v["metrics"]["write-records"].as_u64().unwrap_or(0))
        .sum()
}

#[test]
fn the_monitoring_api_answers_in_flinks_shapes_with_rising_record_counts() {
    let api = common::openapi::flink_api();
    let cluster = Cluster::start("rest-api", 1, 2);
    let (id, mut socket) = start_socket_job(&cluster, "counts.csv");

    let config = checked_get(&cluster, &api, "/config", "/config");
    assert!(config["refresh-interval"].as_u64().unwrap() > 0);
    let overview = checked_get(&cluster, &api, "/overview", "/overview");
    assert_eq!(overview["taskmanagers"], 1);
    assert_eq!(overview["jobs-running"], 1);
    assert!(overview["flink-version"].is_string(), "{overview}");
    let jobs = checked_get(&cluster, &api, "/jobs", "/jobs");
    assert_eq!(jobs["jobs"][0]["id"], id.as_str());
    assert_eq!(jobs["jobs"][0]["status"], "RUNNING");
    let listed = checked_get(&cluster, &api, "/jobs/overview", "/jobs/overview");
    assert_eq!(listed["jobs"][0]["jid"], id.as_str());
    // Source, tokenizer, counter and sink: 1 + 2 + 2 + 1 subtasks, all running.
    assert_eq!(listed["jobs"][0]["tasks"]["total"], 6);
    assert_eq!(listed["jobs"][0]["tasks"]["running"], 6);
    assert!(listed["jobs"][0]["last-modification"].as_u64().unwrap() > 0);
    let managers = checked_get(&cluster, &api, "/taskmanagers", "/taskmanagers");
    assert_eq!(managers["taskmanagers"][0]["slotsNumber"], 2);
    let manager_id = managers["taskmanagers"][0]["id"].as_str().unwrap();
    let manager = checked_get(
        &cluster,
        &api,
        "/taskmanagers/{taskmanagerid}",
        &format!("/taskmanagers/{manager_id}"),
    );
    assert!(
        manager["hardware"]["cpuCores"].as_u64() > Some(0),
        "{manager}"
    );
    assert!(
        manager["hardware"]["physicalMemory"].as_u64() > Some(0),
        "{manager}"
    );
    let path = format!("/taskmanagers/{manager_id}/metrics?get=Status.Process.Memory.RSS");
    let usage = common::wait_for("the TaskManager's first usage report", || {
        let (_, usage) = cluster.get_with_status(&path);
        usage[0]["value"].is_string().then_some(usage)
    });
    checked_get(
        &cluster,
        &api,
        "/taskmanagers/{taskmanagerid}/metrics",
        &path,
    );
    let rss: f64 = usage[0]["value"].as_str().unwrap().parse().unwrap();
    assert!(
        rss > 1e6,
        "the TaskManager and its worker use memory: {usage}"
    );
    // The job's two parallel pipelines, one slot each: source and sink in the first.
    let slots = manager["allocatedSlots"].as_array().unwrap();
    assert_eq!(slots.len(), 2, "{manager}");
    assert_eq!(slots[0]["jobId"], id.as_str());
    assert_eq!(manager["assignedTasks"], 6, "{manager}");
    let (status, _) = cluster.get_with_status("/taskmanagers/no-such-taskmanager");
    assert_eq!(status, 404);
    let settings = checked_get(&cluster, &api, "/jobmanager/config", "/jobmanager/config");
    let rest_port = settings
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["key"] == "rest.port")
        .expect("rest.port is shown");
    assert_eq!(rest_port["value"], cluster.rest_port.to_string());
    assert!(
        !settings.to_string().contains(&cluster.secret),
        "the secret is never shown"
    );
    let metric_ids = checked_get(&cluster, &api, "/jobmanager/metrics", "/jobmanager/metrics");
    assert!(
        metric_ids
            .as_array()
            .unwrap()
            .contains(&serde_json::json!({"id": "taskSlotsTotal"}))
    );
    let values = checked_get(
        &cluster,
        &api,
        "/jobmanager/metrics",
        "/jobmanager/metrics?get=taskSlotsTotal,Status.Process.Memory.RSS,unknown",
    );
    assert_eq!(
        values[0],
        serde_json::json!({"id": "taskSlotsTotal", "value": "2"})
    );
    assert!(
        values[1]["value"].as_str().unwrap().parse::<f64>().unwrap() > 0.0,
        "{values}"
    );
    assert_eq!(
        values.as_array().unwrap().len(),
        2,
        "an unknown id is left out, as Flink does"
    );

    // Records flow: the counts the job's vertices report rise while it reads.
    let job_path = format!("/jobs/{id}");
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < 2 || seen[seen.len() - 1] <= seen[0] {
        assert!(
            Instant::now() < deadline,
            "record counts never rose: {seen:?}\n{}",
            cluster.logs()
        );
        socket
            .write_all(b"to be or not to be that is the question\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let written = records_written(&cluster.get(&job_path));
        if written > 0 {
            seen.push(written);
        }
    }

    let job = checked_get(&cluster, &api, "/jobs/{jobid}", &job_path);
    assert_eq!(job["state"], "RUNNING");
    let vertices = job["vertices"].as_array().unwrap();
    // A job that waits for its socket's lines is idle most of the time, and busy a little.
    let time = |name: &str| {
        vertices
            .iter()
            .filter_map(|v| v["metrics"][name].as_f64())
            .sum::<f64>()
    };
    assert!(time("accumulated-idle-time") > 0.0, "{job:#}");
    assert!(time("accumulated-busy-time") > 0.0, "{job:#}");
    let plan = checked_get(
        &cluster,
        &api,
        "/jobs/{jobid}/plan",
        &format!("{job_path}/plan"),
    );
    let nodes = plan["plan"]["nodes"].as_array().unwrap();
    assert_eq!(vertices.len(), nodes.len());
    let job_metrics = checked_get(
        &cluster,
        &api,
        "/jobs/{jobid}/metrics",
        &format!("{job_path}/metrics?get=uptime,numRestarts"),
    );
    assert_eq!(job_metrics[1]["id"], "numRestarts");
    assert_eq!(job_metrics[1]["value"], "0");
    let uptime: f64 = job_metrics[0]["value"].as_str().unwrap().parse().unwrap();
    assert!(uptime > 0.0, "{job_metrics}");
    assert!(vertices.len() >= 2, "a source and a keyed count: {job:#}");
    // The socket source and the file sink run once; tokenizing and counting at `-p 2`.
    let parallelisms: Vec<u64> = vertices
        .iter()
        .map(|v| v["parallelism"].as_u64().unwrap())
        .collect();
    assert_eq!(parallelisms, [1, 2, 2, 1], "{job:#}");
    for (vertex, node) in vertices.iter().zip(nodes) {
        assert_eq!(vertex["id"], node["id"]);
        let parallelism = vertex["parallelism"].as_u64().unwrap() as usize;
        assert_eq!(node["parallelism"], parallelism);
        assert_eq!(vertex["status"], "RUNNING", "{vertex}");
        assert_eq!(vertex["tasks"]["RUNNING"], parallelism, "{vertex}");
        let vertex_path = format!("{job_path}/vertices/{}", vertex["id"].as_str().unwrap());
        let details = checked_get(
            &cluster,
            &api,
            "/jobs/{jobid}/vertices/{vertexid}",
            &vertex_path,
        );
        assert_eq!(details["subtasks"].as_array().unwrap().len(), parallelism);
        let listed = checked_get(
            &cluster,
            &api,
            "/jobs/{jobid}/vertices/{vertexid}/metrics",
            &format!("{vertex_path}/metrics"),
        );
        assert!(
            listed
                .as_array()
                .unwrap()
                .contains(&serde_json::json!({"id": "0.numRecordsOut"}))
        );
        let got = checked_get(
            &cluster,
            &api,
            "/jobs/{jobid}/vertices/{vertexid}/metrics",
            &format!("{vertex_path}/metrics?get=0.numRecordsOut,0.numRecordsOutPerSecond"),
        );
        assert_eq!(got.as_array().unwrap().len(), 2, "{got}");
        assert!(
            got[0]["value"].as_str().unwrap().parse::<u64>().is_ok(),
            "{got}"
        );
        let aggregated = checked_get(
            &cluster,
            &api,
            "/jobs/{jobid}/vertices/{vertexid}/subtasks/metrics",
            &format!("{vertex_path}/subtasks/metrics?get=numRecordsOut&agg=sum,max"),
        );
        assert_eq!(aggregated[0]["id"], "numRecordsOut");
        assert!(aggregated[0]["sum"].as_f64().unwrap() >= aggregated[0]["max"].as_f64().unwrap());
        let marks = checked_get(
            &cluster,
            &api,
            "/jobs/{jobid}/vertices/{vertexid}/watermarks",
            &format!("{vertex_path}/watermarks"),
        );
        assert_eq!(marks.as_array().unwrap().len(), parallelism);
        let pressure = checked_get(
            &cluster,
            &api,
            "/jobs/{jobid}/vertices/{vertexid}/backpressure",
            &format!("{vertex_path}/backpressure"),
        );
        assert_eq!(pressure["status"], "ok");
        assert_eq!(pressure["subtasks"].as_array().unwrap().len(), parallelism);
        let times = checked_get(
            &cluster,
            &api,
            "/jobs/{jobid}/vertices/{vertexid}/subtasktimes",
            &format!("{vertex_path}/subtasktimes"),
        );
        assert!(
            times["subtasks"][0]["timestamps"]["RUNNING"]
                .as_u64()
                .unwrap()
                > 0
        );
        let per_subtask: u64 = details["subtasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["metrics"]["write-records"].as_u64().unwrap())
            .sum();
        assert!(per_subtask <= vertex["metrics"]["write-records"].as_u64().unwrap() + 1_000);
    }
    // Every vertex but the first reads from another.
    assert!(
        nodes[1..].iter().all(|n| n["inputs"].is_array()),
        "{plan:#}"
    );

    // Sluice's own description: every GET it lists answers as it says, for this job, its
    // first vertex and its TaskManager (an unknown trigger and binary: the 404 it describes).
    let own = own_api(&cluster);
    let vertex = vertices[0]["id"].as_str().unwrap();
    let gets: Vec<String> = own
        .paths()
        .into_iter()
        .filter(|(template, methods)| {
            methods.iter().any(|m| m == "get") && template != "/openapi.yaml"
        })
        .map(|(template, _)| template)
        .collect();
    assert!(gets.len() > 20, "{gets:?}");
    for template in gets {
        let path = template
            .replace("{jobid}", &id)
            .replace("{vertexid}", vertex)
            .replace("{taskmanagerid}", manager_id)
            .replace("{triggerid}", "no-such-trigger")
            .replace("{checkpointid}", "1")
            .replace("{jarid}", &"0".repeat(64));
        let (status, value) = cluster.get_with_status(&path);
        if let Err(error) = own.check_get(&template, status, &value) {
            panic!("GET {path} ({status}) does not fit Sluice's description: {error}\n{value:#}");
        }
    }
    let (status, body) = cluster.get_with_status("/v1/no/such/path");
    assert_eq!(status, 404);
    assert_eq!(body["errors"][0], "Not found: /v1/no/such/path");

    // Cancelling through the API ends the job: it and its vertices are CANCELED.
    let (status, _) = cluster.request("PATCH", &format!("{job_path}?mode=cancel"), None);
    assert_eq!(status, 202);
    let cancelled = cluster.wait_for_state(&id, "CANCELED");
    assert!(
        cancelled["vertices"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["status"] == "CANCELED"),
        "{cancelled:#}"
    );
    let after = checked_get(&cluster, &api, "/overview", "/overview");
    assert_eq!(
        (
            after["jobs-running"].as_u64(),
            after["jobs-cancelled"].as_u64()
        ),
        (Some(0), Some(1))
    );

    // Unknown ids are 404, malformed ones 400, both with Flink's error body.
    let unknown = format!("/jobs/{}", "0".repeat(32));
    for (path, expected) in [
        (unknown.clone(), 404),
        (format!("{unknown}/plan"), 404),
        (format!("{job_path}/vertices/{}", "0".repeat(32)), 404),
        ("/jobs/xyz".to_string(), 400),
        ("/v1/jobs/xyz".to_string(), 400),
    ] {
        let (status, body) = cluster.get_with_status(&path);
        assert_eq!(status, expected, "GET {path}: {body}");
        assert!(body["errors"][0].is_string(), "GET {path}: {body}");
    }
    for (path, expected) in [
        (format!("{unknown}?mode=cancel"), 404),
        ("/jobs/xyz?mode=cancel".into(), 400),
    ] {
        let (status, body) = cluster.request("PATCH", &path, None);
        assert_eq!(status, expected, "PATCH {path}: {body}");
        assert!(body["errors"][0].is_string(), "PATCH {path}: {body}");
    }
}

#[test]
fn checkpoints_and_their_configuration_are_served_as_flinks() {
    let api = common::openapi::flink_api();
    let cluster = Cluster::start("rest-checkpoints", 1, 4);
    let input = write_counts_input(&cluster.dir, 20_000);
    let id = submit_counts(&cluster, &input);
    cluster.wait_for_state(&id, "RUNNING");
    let path = format!("/jobs/{id}/checkpoints");
    let deadline = Instant::now() + Duration::from_secs(60);
    let checkpoints = loop {
        let (_, value) = cluster.get_with_status(&path);
        if value["counts"]["completed"].as_u64().unwrap_or(0) >= 2 {
            break value;
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoints: {value}\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let checkpoints = {
        let again = checked_get(&cluster, &api, "/jobs/{jobid}/checkpoints", &path);
        assert!(
            again["counts"]["completed"].as_u64() >= checkpoints["counts"]["completed"].as_u64()
        );
        again
    };
    let latest = &checkpoints["latest"]["completed"];
    assert_eq!(latest["status"], "COMPLETED");
    assert!(
        latest["checkpointed_size"].as_u64().unwrap() > 0,
        "{latest}"
    );
    assert_eq!(latest["num_subtasks"], latest["num_acknowledged_subtasks"]);
    let written = latest["external_path"].as_str().unwrap();
    assert!(Path::new(written).join("_metadata").exists(), "{written}");
    let history = checkpoints["history"].as_array().unwrap();
    assert_eq!(history[0]["id"], latest["id"], "newest first");
    assert!(
        checkpoints["summary"]["end_to_end_duration"]["max"]
            .as_u64()
            .is_some()
    );

    // The latest checkpoint in detail: each vertex's part, and a vertex's subtasks, whose
    // state sizes add up to the vertex's.
    let details_path = format!("{path}/details/{}", latest["id"]);
    let details = checked_get(
        &cluster,
        &api,
        "/jobs/{jobid}/checkpoints/details/{checkpointid}",
        &details_path,
    );
    let parts = details["tasks"].as_object().unwrap();
    let (vertex, part) = parts
        .iter()
        .max_by_key(|(_, part)| part["state_size"].as_u64())
        .unwrap();
    assert!(part["state_size"].as_u64() > Some(0), "{details:#}");
    assert_eq!(part["num_subtasks"], part["num_acknowledged_subtasks"]);
    let subtasks = checked_get(
        &cluster,
        &api,
        "/jobs/{jobid}/checkpoints/details/{checkpointid}/subtasks/{vertexid}",
        &format!("{details_path}/subtasks/{vertex}"),
    );
    let sizes: u64 = subtasks["subtasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state_size"].as_u64().unwrap())
        .sum();
    assert_eq!(Some(sizes), part["state_size"].as_u64(), "{subtasks:#}");
    // Tasks past the sources aligned the checkpoint's barriers, and say how long it took.
    let job = cluster.get(&format!("/jobs/{id}"));
    let aligned: f64 = job["vertices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let metrics = format!(
                "/jobs/{id}/vertices/{}/metrics?get=0.checkpointAlignmentTime",
                v["id"].as_str().unwrap()
            );
            cluster.get(&metrics)[0]["value"]
                .as_str()
                .map_or(0.0, |v| v.parse().unwrap())
        })
        .sum();
    assert!(aligned > 0.0, "{job:#}");
    let (status, _) = cluster.get_with_status(&format!("{path}/details/999999"));
    assert_eq!(status, 404);
    let (status, _) = cluster.get_with_status(&format!("{path}/details/latest"));
    assert_eq!(status, 400);

    let config = checked_get(
        &cluster,
        &api,
        "/jobs/{jobid}/checkpoints/config",
        &format!("{path}/config"),
    );
    assert_eq!(config["interval"], 100);
    assert_eq!(config["mode"], "exactly_once");
    let job_config = checked_get(
        &cluster,
        &api,
        "/jobs/{jobid}/config",
        &format!("/jobs/{id}/config"),
    );
    assert_eq!(job_config["execution-config"]["job-parallelism"], 2);

    // A savepoint over REST answers its trigger at once; its status tells when it is done.
    let target = cluster.dir.join("savepoints");
    let body = serde_json::json!({ "target-directory": target, "cancel-job": false });
    let (status, triggered) =
        cluster.request("POST", &format!("/jobs/{id}/savepoints"), Some(&body));
    assert_eq!(status, 202, "{triggered}");
    let trigger = triggered["request-id"].as_str().unwrap().to_string();
    assert_eq!(trigger.len(), 32);
    let status_path = format!("/jobs/{id}/savepoints/{trigger}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let completed = loop {
        // While in progress, the answer may change between a bare and a `/v1` request.
        let status = schema_checked(
            &cluster,
            &api,
            "/jobs/{jobid}/savepoints/{triggerid}",
            &status_path,
        );
        if status["status"]["id"] == "COMPLETED" {
            break checked_get(
                &cluster,
                &api,
                "/jobs/{jobid}/savepoints/{triggerid}",
                &status_path,
            );
        }
        assert_eq!(status["status"]["id"], "IN_PROGRESS");
        assert!(Instant::now() < deadline, "{status}\n{}", cluster.logs());
        std::thread::sleep(Duration::from_millis(50));
    };
    let location = completed["operation"]["location"].as_str().unwrap();
    assert!(
        Path::new(location).join("_metadata").exists(),
        "{completed}"
    );
    let latest = checked_get(&cluster, &api, "/jobs/{jobid}/checkpoints", &path);
    assert_eq!(
        latest["latest"]["savepoint"]["is_savepoint"], true,
        "{latest}"
    );
    let (status, _) = cluster.get_with_status(&format!("/jobs/{id}/savepoints/{}", "0".repeat(32)));
    assert_eq!(status, 404);

    // A killed worker fails the attempt: the failure is in the job's exceptions, and the next
    // attempt restores the latest checkpoint.
    let exceptions_path = format!("/jobs/{id}/exceptions");
    let none = checked_get(&cluster, &api, "/jobs/{jobid}/exceptions", &exceptions_path);
    assert_eq!(none["exceptionHistory"]["entries"], serde_json::json!([]));
    let worker = *children_of(cluster.task_manager_pid(0))
        .first()
        .expect("the TaskManager runs the job's worker");
    signal(worker, "KILL");
    let deadline = Instant::now() + Duration::from_secs(60);
    let exceptions = loop {
        let (_, value) = cluster.get_with_status(&exceptions_path);
        if value["exceptionHistory"]["entries"]
            .as_array()
            .is_some_and(|e| !e.is_empty())
        {
            break value;
        }
        assert!(
            Instant::now() < deadline,
            "no exception: {value}\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let failure = &exceptions["exceptionHistory"]["entries"][0];
    assert!(
        failure["stacktrace"].as_str().unwrap().contains("worker"),
        "{failure}"
    );
    assert!(failure["timestamp"].as_u64().unwrap() > 0);
    checked_get(&cluster, &api, "/jobs/{jobid}/exceptions", &exceptions_path);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, value) = cluster.get_with_status(&path);
        if value["latest"]["restored"].is_object() {
            assert_eq!(value["counts"]["restored"], 1);
            let restored = value["latest"]["restored"]["external_path"]
                .as_str()
                .unwrap();
            assert!(restored.contains("/chk-"), "{value}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never restored: {value}\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    checked_get(&cluster, &api, "/jobs/{jobid}/checkpoints", &path);

    // A job that does not checkpoint has no checkpoint configuration.
    let (socket_job, _socket) = start_socket_job(&cluster, "counts.csv");
    let (status, body) = cluster.get_with_status(&format!("/jobs/{socket_job}/checkpoints/config"));
    assert_eq!(status, 404, "{body}");
    let (status, none) = cluster.get_with_status(&format!("/jobs/{socket_job}/checkpoints"));
    assert_eq!(
        (status, &none["counts"]["completed"]),
        (200, &Value::from(0))
    );
}

#[test]
fn a_flink_rest_client_from_pypi_reads_jobs_vertices_and_checkpoints() {
    let test = "a_flink_rest_client_from_pypi_reads_jobs_vertices_and_checkpoints";
    let Some(python) = common::required("SLUICE_PYTHON", "python3 with venv", test) else {
        return;
    };
    let cluster = Cluster::start("rest-pypi-client", 1, 4);
    // A throwaway virtualenv with the client, as a Flink user installs it.
    let venv = cluster.dir.join("venv");
    let made = std::process::Command::new(&python)
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let installed = std::process::Command::new(venv.join("bin/pip"))
        .args(["install", "-q", "flink-job-manager-api==1.0.2"])
        .output()
        .unwrap();
    assert!(
        installed.status.success(),
        "pip install flink-job-manager-api: {}",
        String::from_utf8_lossy(&installed.stderr)
    );

    let input = write_counts_input(&cluster.dir, 20_000);
    let id = submit_counts(&cluster, &input);
    cluster.wait_for_state(&id, "RUNNING");
    let deadline = Instant::now() + Duration::from_secs(60);
    while cluster.get(&format!("/jobs/{id}/checkpoints"))["counts"]["completed"] == 0 {
        assert!(
            Instant::now() < deadline,
            "no checkpoint\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rest/flink_client_check.py");
    let read = std::process::Command::new(venv.join("bin/python"))
        .arg(&script)
        .arg(format!("http://127.0.0.1:{}", cluster.rest_port))
        .arg(&id)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&read.stdout);
    assert!(
        read.status.success(),
        "the client failed: {}{stdout}",
        String::from_utf8_lossy(&read.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(seen["jobs"][0][0], id.as_str(), "{seen}");
    assert_eq!(seen["jobs"][0][1], "RUNNING", "{seen}");
    assert_eq!(seen["state"], "RUNNING");
    let job = cluster.get(&format!("/jobs/{id}"));
    let vertices = seen["vertices"].as_array().unwrap();
    assert_eq!(vertices.len(), job["vertices"].as_array().unwrap().len());
    assert!(vertices.iter().all(|v| v["status"] == "RUNNING"), "{seen}");
    assert_eq!(
        seen["jobs"][0][2],
        job["vertices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["parallelism"].as_u64().unwrap())
            .sum::<u64>()
    );
    assert_eq!(seen["plan_nodes"].as_array().unwrap().len(), vertices.len());
    assert!(
        seen["checkpoints_completed"].as_u64().unwrap() >= 1,
        "{seen}"
    );
}
