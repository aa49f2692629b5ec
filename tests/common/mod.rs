//! Pieces shared by the integration tests: scratch directories, the running-counts
//! job written through the exactly-once file sink, and reading its committed output.

#![allow(dead_code)]

pub mod cluster;
pub mod openapi;
pub mod sql_cases;

use std::path::{Path, PathBuf};

use sluice::prelude::*;
use sluice::sinks::{ExactlyOnceFileSink, TextEncoder};

/// The value of environment variable `variable`, which provides what a test needs (`what`,
/// e.g. Apache Flink). When it is not set the test cannot run: with `SLUICE_REQUIRE_ALL` set
/// (as CI does) that fails the test; otherwise the test is skipped and says so, on stderr and
/// in the file `SLUICE_SKIPPED` names, which the test command (`scripts/test.sh`) reports.
pub fn required(variable: &str, what: &str, test: &str) -> Option<String> {
    if let Ok(value) = std::env::var(variable) {
        return Some(value);
    }
    let reason = format!("{test}: needs {what} ({variable} is not set)");
    if std::env::var_os("SLUICE_REQUIRE_ALL").is_some() {
        panic!("{reason}; scripts/test.sh installs it");
    }
    eprintln!("SKIPPED {reason}");
    if let Some(file) = std::env::var_os("SLUICE_SKIPPED") {
        use std::io::Write;
        let mut skipped = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
            .expect("the skipped-tests file opens");
        writeln!(skipped, "{reason}").expect("the skipped-tests file is writable");
    }
    None
}

/// `METHOD path` to the REST API on loopback `port`, with the JSON `body` if given: the status
/// code and the JSON answer (null when it is not JSON).
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> (u16, serde_json::Value) {
    let (status, answer) = http_exchange(port, method, path, body, None);
    (status, serde_json::from_str(&answer).unwrap_or_default())
}

/// `METHOD path` to the REST API on loopback `port`, with the JSON `body` and the bearer
/// `token` if given: the status code and the answer's body.
pub fn http_exchange(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
    token: Option<&str>,
) -> (u16, String) {
    use std::io::{Read, Write};
    let body = body.map_or_else(String::new, serde_json::Value::to_string);
    let authorization =
        token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         {authorization}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let answer = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, answer)| answer);
    (status, answer.to_string())
}

/// What `ready` gives once it gives something, polled every 100 ms for up to 30 s (then the
/// test fails, saying it waited for `what`).
pub fn wait_for<T>(what: &str, mut ready: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Some(value) = ready() {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "waited in vain for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A fresh scratch directory for test `name` of suite `suite`.
pub fn temp_dir(suite: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-{suite}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The checkpoint directory of the one job that checkpointed into `base`: `<base>/<job id>`.
pub fn job_checkpoints(base: &Path) -> PathBuf {
    let jobs: Vec<PathBuf> = std::fs::read_dir(base)
        .map(|dir| dir.flatten().map(|entry| entry.path()).collect())
        .unwrap_or_default();
    match jobs.as_slice() {
        [one] => one.clone(),
        _ => panic!(
            "expected one job's checkpoints in {}: {jobs:?}",
            base.display()
        ),
    }
}

/// The ids of the checkpoints completed in `base` by any job, in increasing order.
pub fn completed_checkpoints(base: &Path) -> Vec<u64> {
    let mut ids: Vec<u64> = std::fs::read_dir(base)
        .map(|dir| dir.flatten().map(|entry| entry.path()).collect::<Vec<_>>())
        .unwrap_or_default()
        .iter()
        .flat_map(|job| {
            sluice::state::CheckpointStorage::open(job.to_str().unwrap())
                .and_then(|storage| storage.completed())
                .unwrap_or_default()
        })
        .collect();
    ids.sort_unstable();
    ids
}

/// A key's running count and sum.
pub type Count = (String, u64, u64);

/// The count of one `key,value` line: the key, 1 and the value.
pub fn parse_count(line: &str) -> Count {
    let (key, value) = line.split_once(',').expect("key,value");
    (
        key.to_string(),
        1u64,
        value.parse::<u64>().expect("a number"),
    )
}

/// Two counts of one key added up.
pub fn add_counts(a: Count, b: Count) -> Count {
    (a.0, a.1 + b.1, a.2 + b.2)
}

/// The committed line of a count: `key,count,sum`.
pub fn format_count((key, count, sum): Count) -> String {
    format!("{key},{count},{sum}")
}

/// Running count and sum per key of `key,value` lines, one committed line `key,count,sum` per
/// record in `out`. The source and the parsing run at parallelism 1 (each key's records keep
/// their order), the rest at the environment's; `inspect` sees every line before it is parsed
/// (to slow the job down or to fail it).
pub fn counts_job(
    env: &StreamExecutionEnvironment,
    input: &Path,
    out: &Path,
    mut inspect: impl FnMut(&str) + Clone + Send + Sync + 'static,
) {
    env.read_text_file(input)
        .uid("lines")
        .set_parallelism(1)
        .map(move |line: String| {
            inspect(&line);
            parse_count(&line)
        })
        .uid("parse")
        .set_parallelism(1)
        .key_by(|(key, _, _): &Count| key.clone())
        .reduce(add_counts)
        .uid("counts")
        .map(format_count)
        .uid("format")
        .sink_to_committing(ExactlyOnceFileSink::new(out, TextEncoder))
        .uid("files");
}

/// Every committed line of the part files (names not starting with `.` or `_`) in `dir` and
/// the directories below it, sorted.
pub fn committed_lines_under(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_dir() {
                pending.push(entry.path());
            } else if !name.starts_with(['.', '_']) {
                let text = std::fs::read_to_string(entry.path()).unwrap();
                lines.extend(text.lines().map(String::from));
            }
        }
    }
    lines.sort();
    lines
}

/// Every committed line (files not starting with `.`) of `dirs`, sorted.
pub fn committed_lines(dirs: &[&Path]) -> Vec<String> {
    let mut lines = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') {
                let text = std::fs::read_to_string(dir.join(&name)).unwrap();
                lines.extend(text.lines().map(String::from));
            }
        }
    }
    lines.sort();
    lines
}
