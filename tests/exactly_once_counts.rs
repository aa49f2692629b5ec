//! The exactly-once counts job as a user runs it, killed with SIGKILL at random moments and
//! started again until it finishes: the committed output equals one uninterrupted run's, line
//! for line (`sluice exactly-once-counts …`, the same job as `cargo run --example
//! exactly_once_counts`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn temp_dir(name: &str) -> PathBuf {
    common::temp_dir("eoc", name)
}

/// A small deterministic generator (no dependency needed for test data).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

fn write_input(dir: &Path, lines: u64) -> PathBuf {
    let mut random = Lcg(42);
    let mut text = String::new();
    for i in 0..lines {
        if i % 997 == 500 {
            text.push_str("not a record\n");
        }
        let key = random.next(40);
        let value = random.next(2_000) as i64 - 500;
        text.push_str(&format!("user-{key},{value}\n"));
    }
    let path = dir.join("input.csv");
    std::fs::write(&path, text).unwrap();
    path
}

fn command(
    input: &Path,
    out: &Path,
    ckpt: &Path,
    parallelism: usize,
    rate: Option<u64>,
) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sluice"));
    command
        .arg("exactly-once-counts")
        .arg("--input")
        .arg(input)
        .arg("--output-dir")
        .arg(out)
        .arg("--checkpoint-dir")
        .arg(ckpt)
        .arg("--checkpoint-interval-ms")
        .arg("30")
        .arg("--parallelism")
        .arg(parallelism.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(rate) = rate {
        command.arg("--records-per-second").arg(rate.to_string());
    }
    command
}

fn run_to_completion(command: &mut Command) {
    let status = command.status().unwrap();
    assert!(status.success(), "the job failed: {status}");
}

/// The committed lines of one uninterrupted run over `input` (at parallelism 2, in `dir`).
fn clean_run(dir: &Path, input: &Path) -> Vec<String> {
    let out = dir.join("clean-out");
    run_to_completion(&mut command(input, &out, &dir.join("clean-ckpt"), 2, None));
    common::committed_lines(&[&out])
}

/// Runs `trials` trials, each killing the job up to three times at random moments before
/// letting it finish; `backend` picks the state backend of each run (trial, run).
fn sigkill_trials(
    name: &str,
    trials: usize,
    backend: impl Fn(usize, u64) -> &'static [&'static str],
) {
    let dir = temp_dir(name);
    let input = write_input(&dir, 4_000);
    let expected = clean_run(&dir, &input);
    assert_eq!(expected.len(), 4_000, "one line per well-formed record");

    let mut random = Lcg(7);
    let mut kills = 0;
    for trial in 0..trials {
        let out = dir.join(format!("out-{trial}"));
        let ckpt = dir.join(format!("ckpt-{trial}"));
        let parallelism = 1 + (trial % 3);
        let runs = 1 + random.next(3);
        // Killed up to three times, then left to finish.
        for run in 0..runs {
            let mut child = command(&input, &out, &ckpt, parallelism, Some(20_000))
                .args(backend(trial, run))
                .spawn()
                .unwrap();
            let deadline = Instant::now() + Duration::from_millis(20 + random.next(180));
            while Instant::now() < deadline {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap();
                kills += 1;
            }
            child.wait().unwrap();
        }
        run_to_completion(
            command(&input, &out, &ckpt, parallelism, Some(20_000)).args(backend(trial, runs)),
        );
        assert_eq!(
            common::committed_lines(&[&out]),
            expected,
            "trial {trial} (parallelism {parallelism}): nothing lost, nothing twice"
        );
    }
    assert!(
        kills >= trials / 2,
        "the runs were killed mid-way ({kills} kills)"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn sigkilled_runs_commit_exactly_the_lines_of_one_clean_run() {
    sigkill_trials("kills", 20, |_, _| HASHMAP);
}

const HASHMAP: &[&str] = &["--state-backend", "hashmap"];
#[cfg(feature = "rocksdb")]
const ROCKSDB: &[&str] = &["--state-backend", "rocksdb"];
#[cfg(feature = "rocksdb")]
const ROCKSDB_INCREMENTAL: &[&str] = &["--state-backend", "rocksdb", "--incremental-checkpoints"];

#[test]
fn sigkilled_runs_with_async_lookups_commit_exactly_the_lines_of_one_clean_run() {
    // Calls still waiting for their answer at a checkpoint are stored in it and issued again.
    sigkill_trials("kills-async", 20, |_, _| &["--async-lookup-max-ms", "20"]);
}

#[cfg(feature = "rocksdb")]
#[test]
fn sigkilled_runs_on_rocksdb_commit_exactly_the_lines_of_one_clean_run() {
    sigkill_trials("kills-rocksdb", 20, |_, _| ROCKSDB);
}

#[cfg(feature = "rocksdb")]
#[test]
fn sigkilled_runs_with_incremental_checkpoints_commit_exactly_the_lines_of_one_clean_run() {
    sigkill_trials("kills-incremental", 20, |_, _| ROCKSDB_INCREMENTAL);
}

#[cfg(feature = "rocksdb")]
#[test]
fn sigkilled_runs_with_unaligned_checkpoints_commit_exactly_the_lines_of_one_clean_run() {
    sigkill_trials("kills-unaligned", 20, |trial, _| {
        if trial % 2 == 0 {
            &["--state-backend", "hashmap", "--unaligned-checkpoints"]
        } else {
            &["--state-backend", "rocksdb", "--unaligned-checkpoints"]
        }
    });
}

#[cfg(feature = "rocksdb")]
#[test]
fn restarts_may_switch_between_state_backends() {
    // Full checkpoints are in one canonical format: a run on either backend resumes the
    // other's.
    sigkill_trials("kills-switching", 6, |trial, run| {
        if (trial as u64 + run).is_multiple_of(2) {
            ROCKSDB
        } else {
            HASHMAP
        }
    });
}

#[test]
fn from_checkpoint_resumes_where_that_checkpoint_left_off() {
    let dir = temp_dir("from-checkpoint");
    let input = write_input(&dir, 500);
    let first_ckpt = dir.join("ckpt-a");
    run_to_completion(&mut command(
        &input,
        &dir.join("out-a"),
        &first_ckpt,
        1,
        None,
    ));
    // Another job (another output directory) finds none of its own checkpoints there, and is
    // told whose there are.
    let out = dir.join("out-b");
    let other = command(&input, &out, &dir.join("ckpt-b"), 2, None)
        .arg("--from-checkpoint")
        .arg(&first_ckpt)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let error = String::from_utf8_lossy(&other.stderr);
    let first_job = common::job_checkpoints(&first_ckpt);
    let first_id = first_job.file_name().unwrap().to_str().unwrap();
    assert!(
        !other.status.success() && error.contains(&format!("checkpoints of jobs {first_id}")),
        "{error}"
    );
    // Named explicitly, the finished run's last checkpoint holds the whole input: resuming
    // from it reads nothing.
    run_to_completion(
        command(&input, &out, &dir.join("ckpt-b"), 2, None)
            .arg("--from-checkpoint")
            .arg(&first_job),
    );
    assert!(common::committed_lines(&[&out]).is_empty());
    let missing = command(&input, &out, &dir.join("ckpt-c"), 1, None)
        .arg("--from-savepoint")
        .arg(dir.join("no-such-savepoint"))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no completed checkpoint"));
    let _ = std::fs::remove_dir_all(dir);
}

#[cfg(feature = "rocksdb")]
/// moto's S3-compatible server on a free local port, stopped when dropped.
struct S3Server {
    child: std::process::Child,
    endpoint: String,
}

#[cfg(feature = "rocksdb")]
impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(feature = "rocksdb")]
/// Sends one bodiless HTTP request; returns the whole response.
fn http(endpoint: &str, method: &str, path: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let address = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address)?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

#[cfg(feature = "rocksdb")]
/// Starts the server `SLUICE_S3_SERVER` names (scripts/install-test-deps.sh installs it) with
/// bucket `bucket`; `None` when none is configured (the test is then skipped, and says so).
fn s3_server(bucket: &str, test: &str) -> Option<S3Server> {
    let program = common::required(
        "SLUICE_S3_SERVER",
        "an S3-compatible server (moto, scripts/install-test-deps.sh)",
        test,
    )?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(program)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the S3 server starts");
    let server = S3Server {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match http(&server.endpoint, "PUT", &format!("/{bucket}")) {
            Ok(response) if response.lines().next().is_some_and(|s| s.contains(" 200")) => {
                return Some(server);
            }
            Ok(response) => panic!("cannot create bucket {bucket}: {response}"),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(error) => panic!("the S3 server did not come up: {error}"),
        }
    }
}

#[cfg(feature = "rocksdb")]
#[test]
fn checkpoints_in_s3_survive_a_sigkill() {
    let Some(server) = s3_server("checkpoints", "checkpoints_in_s3_survive_a_sigkill") else {
        return;
    };
    let dir = temp_dir("s3");
    let input = write_input(&dir, 2_000);
    let expected = clean_run(&dir, &input);

    let out = dir.join("out");
    let ckpt = Path::new("s3://checkpoints/jobs/counts");
    let with_s3 = |command: &mut Command| {
        command
            .env("AWS_ENDPOINT", &server.endpoint)
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .args(ROCKSDB_INCREMENTAL);
    };
    let mut first = command(&input, &out, ckpt, 2, Some(10_000));
    with_s3(&mut first);
    let mut child = first.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    // Killed once a checkpoint completed in the bucket.
    let listing = "/checkpoints?list-type=2&prefix=jobs/counts/";
    while !http(&server.endpoint, "GET", listing).is_ok_and(|r| r.contains("/_metadata</Key>")) {
        assert!(Instant::now() < deadline, "no checkpoint reached S3");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let mut resumed = command(&input, &out, ckpt, 2, None);
    with_s3(&mut resumed);
    run_to_completion(&mut resumed);
    assert_eq!(
        common::committed_lines(&[&out]),
        expected,
        "nothing lost, nothing twice"
    );
    let _ = std::fs::remove_dir_all(dir);
}
