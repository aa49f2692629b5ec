//! The cluster's defences: the shared secret, garbage on the control and data ports, the REST
//! token, mutual TLS.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::cluster::jobs::*;
use common::cluster::tls::*;
use common::cluster::*;

#[test]
fn a_task_manager_with_a_wrong_secret_cannot_register() {
    let mut cluster = Cluster::start("secret", 1, 1);
    let intruder = cluster.spawn(
        "taskmanager",
        &["-D".into(), "taskmanager.numberOfTaskSlots=8".into()],
        "guessed",
    );
    cluster.task_managers.push(intruder);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cluster.logs().contains("wrong cluster secret") {
        assert!(Instant::now() < deadline, "{}", cluster.logs());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(cluster.get("/overview")["taskmanagers"], 1);
    assert_eq!(cluster.get("/overview")["slots-total"], 1);
}

#[test]
fn garbage_on_the_control_port_closes_only_that_connection() {
    let cluster = Cluster::start("garbage", 1, 2);
    let garbage: [&[u8]; 3] = [
        b"GET / HTTP/1.1\r\n\r\n",
        &[0xff, 0xff, 0xff, 0xff, 0x10, 1, 2, 3],
        &[0, 0, 0, 0],
    ];
    for bytes in garbage {
        let mut stream = TcpStream::connect(("127.0.0.1", cluster.rpc_port)).unwrap();
        let _ = stream.write_all(bytes);
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink);
    }
    // The cluster still runs jobs.
    let input = write_text(&cluster.dir);
    cluster.word_count_ok(2, input.to_str().unwrap(), "out.csv");
    assert_eq!(cluster.get("/overview")["taskmanagers"], 1);
}

/// The resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

#[test]
fn hostile_handshakes_cost_bounded_memory_and_lock_out_no_one() {
    let mut cluster = Cluster::start("hostile-handshakes", 0, 1);
    let pid = cluster.job_manager_pid();
    let before = rss_kib(pid);
    let connect = |announced: u32| {
        let mut stream = TcpStream::connect(("127.0.0.1", cluster.rpc_port)).unwrap();
        stream.write_all(&announced.to_be_bytes()).unwrap();
        stream
    };
    let connected = Instant::now();
    // 64 peers announce a 64 MiB frame and trickle its bytes; 8 announce a small one and
    // trickle as slowly.
    let mut large: Vec<TcpStream> = (0..64).map(|_| connect(64 << 20)).collect();
    let mut small: Vec<TcpStream> = (0..8).map(|_| connect(100)).collect();
    let mut peak = before;
    for _ in 0..15 {
        for stream in &mut large {
            let _ = stream.write_all(&[0u8; 16]);
        }
        for stream in &mut small {
            let _ = stream.write_all(&[0u8]);
        }
        peak = peak.max(rss_kib(pid));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        peak.saturating_sub(before) < 32 << 10,
        "the JobManager grew from {before} KiB to {peak} KiB"
    );
    // Meanwhile a real TaskManager registers at once.
    let registering = Instant::now();
    cluster.add_task_manager(1, &[]);
    cluster.wait_for_task_managers(1);
    assert!(
        registering.elapsed() < Duration::from_secs(5),
        "{:?}",
        registering.elapsed()
    );
    // The trickling peers are cut off at the handshake deadline (10 s), not kept forever.
    for mut stream in small {
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink);
        assert!(
            connected.elapsed() < Duration::from_secs(13),
            "{:?}",
            connected.elapsed()
        );
    }
}

#[test]
fn garbage_on_a_worker_data_port_does_not_disturb_the_job() {
    let cluster = Cluster::start("data-garbage", 2, 1);
    let input = write_counts_input(&cluster.dir, 3000);
    let id = submit_counts(&cluster, &input);
    let deadline = Instant::now() + Duration::from_secs(30);
    let addresses = loop {
        let details = cluster.get(&format!("/jobs/{id}"));
        let addresses: Vec<String> = details["data_addresses"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect();
        if addresses.len() == 2 {
            break addresses;
        }
        assert!(Instant::now() < deadline, "{details}");
        std::thread::sleep(Duration::from_millis(50));
    };
    for address in &addresses {
        for bytes in [
            &b"\xff\xff\xff\xff garbage"[..],
            &[0, 0, 0, 5, 0xa1, 1, 2, 3, 4],
        ] {
            let mut stream = TcpStream::connect(address).unwrap();
            let _ = stream.write_all(bytes);
            let _ = stream.read_to_end(&mut Vec::new());
        }
    }
    let finished = cluster.wait_for_state(&id, "FINISHED");
    assert_eq!(finished["attempt"], 1, "no restart: {finished}");
    assert_committed_exactly_once(&cluster, &input);
    let worker_logs: String = std::fs::read_dir(cluster.dir.join("log"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(
        worker_logs.contains("data port: rejected a connection"),
        "{worker_logs}"
    );
}

#[test]
fn a_rest_token_is_required_once_configured() {
    let mut cluster = Cluster::start("token", 1, 1);
    let token = vec!["-D".to_string(), "security.rest.token=t0ken".to_string()];
    cluster.restart_job_manager(&token);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = cluster.try_get("/overview");
        if answer["errors"][0]
            .as_str()
            .is_some_and(|e| e.contains("requires a token"))
        {
            break;
        }
        assert!(Instant::now() < deadline, "{answer}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let without = cluster.client("list", &[]);
    assert!(!without.status.success());
    assert!(String::from_utf8_lossy(&without.stderr).contains("requires a token"));
    let with = cluster.client("list", &["-D", "security.rest.token=t0ken"]);
    assert!(
        with.status.success(),
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
    let wrong = Command::new(SLUICE)
        .arg("list")
        .args(cluster.flags())
        .env("SLUICE_REST_TOKEN", "guess")
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    // The dashboard's page and the API's description load without the token (they hold no
    // data; the page asks for the token); every API path, under /v1 too, needs it.
    let (status, _) = cluster.get_with_status("/");
    assert_eq!(status, 200);
    let (status, _) = cluster.get_with_status("/v1/openapi.yaml");
    assert_eq!(status, 200);
    for path in [
        "/jobs/overview",
        "/v1/overview",
        "/config",
        "/jobmanager/config",
    ] {
        let (status, body) = cluster.get_with_status(path);
        assert_eq!(status, 401, "{path}: {body}");
    }
}

#[test]
fn mutual_tls_carries_the_control_and_data_planes_and_refuses_strangers() {
    let mut cluster = Cluster::start_with("mtls", 2, 2, |dir| {
        tls_settings(&dir.join("certs"), "sluice-internal", "cluster-ca")
    });
    let input = write_text(&cluster.dir);
    cluster.run_ok(&[
        "-p",
        "4",
        example("word_count").to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        "tls.csv",
    ]);
    assert_eq!(
        sorted_lines(&cluster.dir.join("tls.csv")),
        local_word_count(&cluster.dir, &input)
    );
    // A TaskManager without TLS, and one whose certificate another authority signed, are
    // refused (both know the secret).
    let plain = Command::new(SLUICE)
        .arg("taskmanager")
        .args(cluster.base_flags())
        .env("SLUICE_CLUSTER_SECRET", &cluster.secret)
        .env("SLUICE_LOG_DIR", cluster.dir.join("log"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    cluster.task_managers.push(plain);
    let stranger_flags = tls_settings(&cluster.dir.join("certs"), "sluice-internal", "other-ca");
    let mut flags = vec![
        "-D".to_string(),
        "taskmanager.numberOfTaskSlots=5".to_string(),
    ];
    flags.extend(stranger_flags.iter().skip(2).cloned());
    let stranger = cluster.spawn("taskmanager", &flags, &cluster.secret.clone());
    cluster.task_managers.push(stranger);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        cluster.get("/overview")["taskmanagers"],
        2,
        "{}",
        cluster.logs()
    );
    assert!(cluster.logs().contains("rejected"), "{}", cluster.logs());
}

/// Sends `request` (a whole HTTP/1.1 request) to the REST port; returns the status line.
fn rest_status(cluster: &Cluster, request: &str) -> String {
    rest_response(cluster, request)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Sends `request` (a whole HTTP/1.1 request) to the REST port; returns the whole response.
fn rest_response(cluster: &Cluster, request: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", cluster.rest_port)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// A POST of `body` with `content_type` to `path`.
fn post(cluster: &Cluster, path: &str, content_type: &str, body: &str) -> String {
    let port = cluster.rest_port;
    rest_response(
        cluster,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: localhost:{port}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

#[test]
fn savepoint_targets_plans_and_bodies_from_rest_clients_are_checked() {
    let cluster = Cluster::start("rest-input", 1, 2);
    let (id, _socket) = start_socket_job(&cluster, "rest-input");
    // Savepoints go only under the JobManager's state.savepoints.dir.
    for target in ["/etc/owned", "../../outside", "/tmp"] {
        let body = format!(r#"{{"target-directory": "{target}"}}"#);
        let answer = post(
            &cluster,
            &format!("/jobs/{id}/savepoints"),
            "application/json",
            &body,
        );
        assert!(
            answer.starts_with("HTTP/1.1 403") && answer.contains("state.savepoints.dir"),
            "{target}: {answer}"
        );
    }
    // A plan whose operators sit in tasks it does not have is refused, not run.
    let uploaded = post(
        &cluster,
        "/jars/upload",
        "application/octet-stream",
        "#!/bin/sh\n",
    );
    let key = uploaded
        .split(r#""filename":""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("{uploaded}"));
    let plan = format!(
        r#"{{"binary": "{key}", "parallelism": 1, "plan": {{"name": "forged", "job_id": "{}", "restore_from": null, "plan": {{}}, "pipelines": 1, "bounded": true, "checkpointing": null, "restart_strategy": null, "tasks": [{{"parallelism": 1, "source": true}}], "operators": {{"ghost": [5, 1, 128]}}, "fingerprint": "{}"}}}}"#,
        "ab".repeat(16),
        "cd".repeat(32)
    );
    let answer = post(
        &cluster,
        &format!("/jars/{key}/run"),
        "application/json",
        &plan,
    );
    assert!(
        answer.starts_with("HTTP/1.1 400") && answer.contains("invalid job plan"),
        "{answer}"
    );
    // Bodies of requests other than uploads are small.
    let huge = format!(r#"{{"padding": "{}"}}"#, "x".repeat(2 << 20));
    let answer = post(
        &cluster,
        &format!("/jars/{key}/run"),
        "application/json",
        &huge,
    );
    assert!(
        answer.starts_with("HTTP/1.1 413"),
        "{}",
        &answer[..answer.len().min(200)]
    );
}

#[test]
fn requests_a_web_page_could_forge_are_refused() {
    let cluster = Cluster::start("forged", 1, 1);
    let port = cluster.rest_port;
    // A form or fetch() of another site: text/plain needs no consent from the server.
    let cross_site = format!(
        "POST /jars/upload HTTP/1.1\r\nHost: localhost:{port}\r\nOrigin: http://attacker.example\r\nContent-Type: text/plain\r\nContent-Length: 7\r\nConnection: close\r\n\r\n#!/bin/"
    );
    assert!(rest_status(&cluster, &cross_site).contains(" 403 "));
    let plain_text = format!(
        "POST /jars/upload HTTP/1.1\r\nHost: localhost:{port}\r\nContent-Type: text/plain\r\nContent-Length: 7\r\nConnection: close\r\n\r\n#!/bin/"
    );
    assert!(rest_status(&cluster, &plain_text).contains(" 415 "));
    let no_type = format!(
        "POST /jars/upload HTTP/1.1\r\nHost: localhost:{port}\r\nContent-Length: 7\r\nConnection: close\r\n\r\n#!/bin/"
    );
    assert!(rest_status(&cluster, &no_type).contains(" 415 "));
    // DNS rebinding: the attacker's name resolves to 127.0.0.1, and its page reads the API.
    let rebound = format!(
        "GET /overview HTTP/1.1\r\nHost: attacker.example:{port}\r\nConnection: close\r\n\r\n"
    );
    assert!(rest_status(&cluster, &rebound).contains(" 403 "));
    let monitoring =
        format!("GET /overview HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n");
    assert!(rest_status(&cluster, &monitoring).contains(" 200 "));
    // The CLI's own requests (JSON and binary bodies) pass: a job runs.
    let input = write_text(&cluster.dir);
    cluster.word_count_ok(1, input.to_str().unwrap(), "out.csv");
}

#[test]
fn a_rest_api_open_beyond_loopback_without_a_token_says_so_to_every_client() {
    let cluster = Cluster::start_with("open-rest", 1, 1, |_| {
        vec!["-D".into(), "rest.bind-address=0.0.0.0".into()]
    });
    let warnings = cluster.get("/overview")["warnings"].to_string();
    assert!(warnings.contains("IS OPEN"), "{warnings}");
    let overview = cluster.client("overview", &[]);
    let stderr = String::from_utf8_lossy(&overview.stderr);
    assert!(stderr.contains("WARNING: THE REST API"), "{stderr}");
    // Bound to loopback, nothing to warn of.
    let closed = Cluster::start("closed-rest", 1, 1);
    assert!(closed.get("/overview").get("warnings").is_none());
}

#[test]
fn no_cluster_secret_is_refused_beyond_loopback() {
    let dir = temp_dir("no-secret");
    let (rest, rpc) = free_ports();
    let mut job_manager = Command::new(SLUICE);
    job_manager
        .arg("jobmanager")
        .args(["--conf-dir", dir.join("no-conf").to_str().unwrap()])
        .args(["-D", &format!("rest.port={rest}")])
        .args(["-D", &format!("jobmanager.rpc.port={rpc}")])
        .args(["-D", "jobmanager.bind-host=0.0.0.0"])
        .env_remove("SLUICE_CLUSTER_SECRET");
    let (exited, stderr) = exits_within(&mut job_manager, Duration::from_secs(20));
    assert!(exited, "the JobManager started without a secret: {stderr}");
    assert!(stderr.contains("no cluster secret is set"), "{stderr}");
    // A TaskManager that would connect beyond loopback (a documentation address).
    let mut task_manager = Command::new(SLUICE);
    task_manager
        .arg("taskmanager")
        .args(["--conf-dir", dir.join("no-conf").to_str().unwrap()])
        .args(["-D", "jobmanager.rpc.address=192.0.2.1"])
        .env_remove("SLUICE_CLUSTER_SECRET");
    let (exited, stderr) = exits_within(&mut task_manager, Duration::from_secs(20));
    assert!(exited, "the TaskManager started without a secret: {stderr}");
    assert!(stderr.contains("no cluster secret is set"), "{stderr}");
}

/// Runs `command`; whether it failed within `limit` (it is killed if still running), and what
/// it wrote to standard error.
fn exits_within(command: &mut Command, limit: Duration) -> (bool, String) {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = child.wait();
    let mut stderr = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
    (status.is_some_and(|s| !s.success()), stderr)
}
