//! The jobs and data the cluster tests share: word counts, the exactly-once running counts,
//! socket jobs, and the checks of their output.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::*;

pub fn sorted_lines(path: &Path) -> Vec<String> {
    let mut lines: Vec<String> = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

/// WordCount's output for `input` run alone (the embedded mini-cluster), sorted; it writes
/// `local.csv` in `dir`.
pub fn local_word_count(dir: &Path, input: &Path) -> Vec<String> {
    let local = Command::new(example("word_count"))
        .arg("--input")
        .arg(input)
        .args(["--output", "local.csv"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert_succeeded(&local);
    sorted_lines(&dir.join("local.csv"))
}

pub fn write_text(dir: &Path) -> PathBuf {
    let words = [
        "stream", "state", "barrier", "window", "sluice", "flink", "key", "time",
    ];
    let mut text = String::new();
    for line in 0..5000 {
        for word in 0..12 {
            text.push_str(words[(line * 7 + word * 3) % words.len()]);
            text.push_str(&((line + word) % 37).to_string());
            text.push(' ');
        }
        text.push('\n');
    }
    let path = dir.join("input.txt");
    std::fs::write(&path, text).unwrap();
    path
}

/// A streaming word count reading a socket this test serves; returns the server's stream.
pub fn start_socket_job(cluster: &Cluster, name: &str) -> (String, TcpStream) {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port().to_string();
    let run = cluster.run_ok(&[
        "-d",
        "-p",
        "2",
        example("word_count").to_str().unwrap(),
        "--hostname",
        "127.0.0.1",
        "--port",
        &port,
        "--output",
        name,
    ]);
    let id = job_id(&run);
    let (stream, _) = server.accept().unwrap();
    cluster.wait_for_state(&id, "RUNNING");
    (id, stream)
}

pub fn whoami() -> String {
    std::env::var("USER").unwrap_or_else(|_| {
        String::from_utf8_lossy(&Command::new("id").arg("-un").output().unwrap().stdout)
            .trim()
            .to_string()
    })
}

/// `key,value` lines for the exactly-once counts job.
pub fn write_counts_input(dir: &Path, lines: u64) -> PathBuf {
    let mut text = String::new();
    let mut state = 7u64;
    for _ in 0..lines {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let key = (state >> 33) % 30;
        let value = ((state >> 40) % 1000) as i64 - 300;
        text.push_str(&format!("user-{key},{value}\n"));
    }
    let path = dir.join("counts-input.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// Sends `signal` (`STOP`, `CONT`) to process `pid`.
pub fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

/// The processes whose parent is `pid`.
pub fn children_of(pid: u32) -> Vec<u32> {
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        // The parent is the 4th field of /proc/PID/stat, after the parenthesised name.
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let parent = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|field| field.parse::<u32>().ok());
        if parent == Some(pid) {
            children.push(child);
        }
    }
    children
}

/// Waits until job `id` left its first attempt (restarting or a later attempt); returns how
/// long that took.
pub fn time_until_first_attempt_failed(cluster: &Cluster, id: &str) -> Duration {
    let started = Instant::now();
    loop {
        let job = cluster.try_get(&format!("/jobs/{id}"));
        if job["state"] == "RESTARTING" || job["attempt"].as_u64().is_some_and(|a| a >= 2) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the attempt never failed: {job}\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The committed output of one uninterrupted local run of the exactly-once counts job.
pub fn fault_free_counts(dir: &Path, input: &Path) -> Vec<String> {
    let out = dir.join("fault-free-out");
    let local = Command::new(example("exactly_once_counts"))
        .arg("--input")
        .arg(input)
        .arg("--output-dir")
        .arg(&out)
        .arg("--checkpoint-dir")
        .arg(dir.join("fault-free-checkpoints"))
        .args(["--checkpoint-interval-ms", "100", "--parallelism", "2"])
        .output()
        .unwrap();
    assert_succeeded(&local);
    crate::common::committed_lines(&[&out])
}

/// Asserts that the counts job committed into the cluster's `out` exactly what one
/// uninterrupted local run of `input` commits.
pub fn assert_committed_exactly_once(cluster: &Cluster, input: &Path) {
    assert_eq!(
        crate::common::committed_lines(&[&cluster.dir.join("out")]),
        fault_free_counts(&cluster.dir, input)
    );
}

/// Submits the exactly-once counts job, throttled so it runs for seconds, at parallelism 2.
pub fn submit_counts(cluster: &Cluster, input: &Path) -> String {
    submit_counts_with(cluster, input, &[])
}

/// [`submit_counts`] with more job arguments.
pub fn submit_counts_with(cluster: &Cluster, input: &Path, extra: &[&str]) -> String {
    submit_counts_configured(cluster, input, &[], "100", extra)
}

/// [`submit_counts_with`], checkpointing every `interval_ms`, with `run_flags` (such as `-D`
/// settings) given to `sluice run`.
pub fn submit_counts_configured(
    cluster: &Cluster,
    input: &Path,
    run_flags: &[&str],
    interval_ms: &str,
    extra: &[&str],
) -> String {
    let out = cluster.dir.join("out");
    let checkpoints = cluster.dir.join("checkpoints");
    let binary = example("exactly_once_counts");
    let run = cluster.run_ok(
        &run_flags
            .iter()
            .copied()
            .chain([
                "-d",
                binary.to_str().unwrap(),
                "--input",
                input.to_str().unwrap(),
                "--output-dir",
                out.to_str().unwrap(),
                "--checkpoint-dir",
                checkpoints.to_str().unwrap(),
                "--checkpoint-interval-ms",
                interval_ms,
                "--parallelism",
                "2",
                "--records-per-second",
                "800",
            ])
            .chain(extra.iter().copied())
            .collect::<Vec<_>>(),
    );
    job_id(&run)
}

/// Runs the counts job over `input` to its end, resumed from `path` (`sluice run -s`), into
/// the cluster's `out`, checkpointing into `checkpoints-2`.
pub fn resume_counts_from(cluster: &Cluster, input: &Path, path: &str) {
    cluster.run_ok(&[
        "-s",
        path,
        example("exactly_once_counts").to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output-dir",
        cluster.dir.join("out").to_str().unwrap(),
        "--checkpoint-dir",
        cluster.dir.join("checkpoints-2").to_str().unwrap(),
        "--checkpoint-interval-ms",
        "100",
        "--parallelism",
        "2",
    ]);
}

/// Waits until the job completed a checkpoint.
pub fn wait_for_checkpoint(cluster: &Cluster) {
    let checkpoints = cluster.dir.join("checkpoints");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if !crate::common::completed_checkpoints(&checkpoints).is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint completed\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Fails with the process's stderr unless it exited with success.
pub fn assert_succeeded(output: &std::process::Output) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
