//! The standalone cluster as a user runs it: a JobManager and TaskManagers as real processes
//! on loopback, jobs submitted with `sluice run`, managed with `sluice list` / `cancel`.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

/// The example job binaries, built by `cargo test` beside the `sluice` binary.
fn example(name: &str) -> PathBuf {
    let path = Path::new(SLUICE)
        .parent()
        .expect("the binary has a directory")
        .join("examples")
        .join(name);
    assert!(path.exists(), "{} is not built", path.display());
    path
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("sluice-cluster-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A JobManager and TaskManagers on free ports; every process is killed on drop.
struct Cluster {
    dir: PathBuf,
    rest_port: u16,
    rpc_port: u16,
    secret: String,
    /// Settings every process of the cluster gets (`-D key=value`).
    common: Vec<String>,
    job_manager: Option<Child>,
    task_managers: Vec<Child>,
}

impl Cluster {
    fn start(name: &str, task_managers: usize, slots: usize) -> Cluster {
        Cluster::start_with(name, task_managers, slots, |_| Vec::new())
    }

    /// A cluster whose every process gets the settings `common` makes (given the cluster's
    /// scratch directory).
    fn start_with(
        name: &str,
        task_managers: usize,
        slots: usize,
        common: impl FnOnce(&Path) -> Vec<String>,
    ) -> Cluster {
        let dir = temp_dir(name);
        let mut cluster = Cluster {
            rest_port: free_port(),
            rpc_port: free_port(),
            secret: format!("secret-of-{name}"),
            common: common(&dir),
            dir,
            job_manager: None,
            task_managers: Vec::new(),
        };
        cluster.job_manager = Some(cluster.spawn("jobmanager", &[], &cluster.secret.clone()));
        for _ in 0..task_managers {
            cluster.add_task_manager(slots, &[]);
        }
        cluster.wait_for_task_managers(task_managers);
        cluster
    }

    /// The flags of every process of this cluster.
    fn flags(&self) -> Vec<String> {
        let mut flags = self.base_flags();
        flags.extend(self.common.iter().cloned());
        flags
    }

    /// The flags that find the cluster, without the common settings.
    fn base_flags(&self) -> Vec<String> {
        vec![
            "--conf-dir".into(),
            self.dir.join("no-conf").display().to_string(),
            "-D".into(),
            format!("rest.port={}", self.rest_port),
            "-D".into(),
            format!("jobmanager.rpc.port={}", self.rpc_port),
            "-D".into(),
            "jobmanager.rpc.address=127.0.0.1".into(),
            "-D".into(),
            "heartbeat.interval=200ms".into(),
            "-D".into(),
            "heartbeat.timeout=2s".into(),
            "-D".into(),
            format!(
                "blob.storage.directory={}",
                self.dir.join("blobs").display()
            ),
        ]
    }

    fn spawn(&self, role: &str, extra: &[String], secret: &str) -> Child {
        let index = std::fs::read_dir(&self.dir).map_or(0, |d| d.count());
        let log = std::fs::File::create(self.dir.join(format!("{role}-{index}.log"))).unwrap();
        Command::new(SLUICE)
            .arg(role)
            .args(self.flags())
            .args(extra)
            .env("SLUICE_CLUSTER_SECRET", secret)
            .env("SLUICE_LOG_DIR", self.dir.join("log"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap()
    }

    fn add_task_manager(&mut self, slots: usize, extra: &[String]) {
        let mut flags = vec![
            "-D".to_string(),
            format!("taskmanager.numberOfTaskSlots={slots}"),
        ];
        flags.extend_from_slice(extra);
        let child = self.spawn("taskmanager", &flags, &self.secret.clone());
        self.task_managers.push(child);
    }

    /// Kills the JobManager (SIGKILL) and starts it again with the same configuration.
    fn restart_job_manager(&mut self, extra: &[String]) {
        if let Some(mut old) = self.job_manager.take() {
            old.kill().unwrap();
            old.wait().unwrap();
        }
        let secret = self.secret.clone();
        self.job_manager = Some(self.spawn("jobmanager", extra, &secret));
    }

    fn client(&self, command: &str, args: &[&str]) -> Output {
        Command::new(SLUICE)
            .arg(command)
            .args(self.flags())
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn get(&self, path: &str) -> serde_json::Value {
        let value = self.try_get(path);
        assert!(!value.is_null(), "GET {path} failed\n{}", self.logs());
        value
    }

    /// `GET path`, or null when the JobManager does not answer (it may be restarting).
    fn try_get(&self, path: &str) -> serde_json::Value {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.rest_port)) else {
            return serde_json::Value::Null;
        };
        let mut response = String::new();
        let answered = write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .and_then(|()| stream.read_to_string(&mut response));
        if answered.is_err() {
            return serde_json::Value::Null;
        }
        let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
    }

    fn wait_for_task_managers(&self, count: usize) {
        let output = self.client(
            "overview",
            &[
                "--wait-for-taskmanagers",
                &count.to_string(),
                "--timeout",
                "60",
            ],
        );
        assert!(output.status.success(), "{}", self.logs());
    }

    fn wait_for_state(&self, job: &str, state: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let details = self.try_get(&format!("/jobs/{job}"));
            if details["state"] == state {
                return details;
            }
            assert!(
                Instant::now() < deadline,
                "job {job} never reached {state}: {details}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn logs(&self) -> String {
        let mut all = String::new();
        for entry in std::fs::read_dir(&self.dir).unwrap().flatten() {
            if entry.path().extension().is_some_and(|e| e == "log") {
                all.push_str(&format!("--- {}\n", entry.path().display()));
                all.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
            }
        }
        all
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self
            .task_managers
            .iter_mut()
            .chain(self.job_manager.as_mut())
        {
            let _ = child.kill();
            let _ = child.wait();
        }
        // A failed test leaves its directory (logs, outputs) to look at.
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn job_id(output: &Output) -> String {
    let text = stdout(output);
    text.lines()
        .find_map(|line| line.strip_prefix("Job has been submitted with JobID "))
        .unwrap_or_else(|| panic!("no job id in {text}"))
        .trim()
        .to_string()
}

fn sorted_lines(path: &Path) -> Vec<String> {
    let mut lines: Vec<String> = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

fn write_text(dir: &Path) -> PathBuf {
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

#[test]
fn word_count_across_two_task_managers_equals_the_local_run() {
    let cluster = Cluster::start("wordcount", 2, 2);
    let input = write_text(&cluster.dir);
    let word_count = example("word_count");
    let local = Command::new(&word_count)
        .args(["--input", "input.txt", "--output", "local.csv", "-p", "4"])
        .current_dir(&cluster.dir)
        .output()
        .unwrap();
    assert!(local.status.success());
    // Relative paths mean what they mean to the client.
    let run = cluster.client(
        "run",
        &[
            "-p",
            "4",
            word_count.to_str().unwrap(),
            "--input",
            "input.txt",
            "--output",
            "cluster.csv",
        ],
    );
    assert!(
        run.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&run.stderr),
        cluster.logs()
    );
    assert!(stdout(&run).contains("has finished"), "{}", stdout(&run));
    assert_eq!(
        sorted_lines(&cluster.dir.join("cluster.csv")),
        sorted_lines(&cluster.dir.join("local.csv"))
    );
    assert!(input.exists());
    let id = job_id(&run);
    let details = cluster.get(&format!("/jobs/{id}"));
    let placement = details["placement"].as_array().unwrap();
    assert_eq!(
        placement.len(),
        2,
        "both TaskManagers run pipelines: {details}"
    );
    let list = cluster.client("list", &[]);
    assert!(
        stdout(&list).contains(&format!("{id} : WordCount (FINISHED)")),
        "{}",
        stdout(&list)
    );
}

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
    let run = cluster.client(
        "run",
        &[
            "-p",
            "2",
            example("word_count").to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--output",
            "out.csv",
        ],
    );
    assert!(run.status.success(), "{}", cluster.logs());
    assert_eq!(cluster.get("/overview")["taskmanagers"], 1);
}

/// A streaming word count reading a socket this test serves; returns the server's stream.
fn start_socket_job(cluster: &Cluster, name: &str) -> (String, TcpStream) {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port().to_string();
    let run = cluster.client(
        "run",
        &[
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
        ],
    );
    assert!(
        run.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&run.stderr),
        cluster.logs()
    );
    let id = job_id(&run);
    let (stream, _) = server.accept().unwrap();
    cluster.wait_for_state(&id, "RUNNING");
    (id, stream)
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
    assert_eq!(
        common::committed_lines(&[&cluster.dir.join("out")]),
        fault_free_counts(&cluster.dir, &input)
    );
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
fn cancelling_a_running_job_stops_its_workers() {
    let cluster = Cluster::start("cancel", 2, 1);
    let (id, mut socket) = start_socket_job(&cluster, "counts.csv");
    socket.write_all(b"to be or not to be\n").unwrap();
    let cancel = cluster.client("cancel", &[&id]);
    assert!(
        cancel.status.success(),
        "{}",
        String::from_utf8_lossy(&cancel.stderr)
    );
    cluster.wait_for_state(&id, "CANCELED");
    // The worker closes the socket it read.
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut rest = Vec::new();
    assert!(socket.read_to_end(&mut rest).is_ok());
    assert_eq!(cluster.get("/overview")["slots-available"], 2);
    let again = cluster.client("cancel", &[&id]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already ended"));
}

#[test]
fn a_lost_task_manager_fails_its_jobs_with_the_reason() {
    let mut cluster = Cluster::start("lost", 2, 1);
    let (id, _socket) = start_socket_job(&cluster, "counts.csv");
    let details = cluster.get(&format!("/jobs/{id}"));
    assert_eq!(details["placement"].as_array().unwrap().len(), 2);
    let mut victim = cluster.task_managers.remove(1);
    victim.kill().unwrap();
    victim.wait().unwrap();
    let failed = cluster.wait_for_state(&id, "FAILED");
    let message = failed["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("was lost")
            || message.contains("disconnected")
            || message.contains("worker"),
        "{failed}"
    );
    assert_eq!(cluster.get("/overview")["taskmanagers"], 1);
}

#[test]
fn a_job_waits_for_slots_and_a_bad_binary_is_explained() {
    let mut cluster = Cluster::start("slots", 1, 1);
    let input = write_text(&cluster.dir);
    let word_count = example("word_count");
    let run = cluster.client(
        "run",
        &[
            "-d",
            "-p",
            "2",
            word_count.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--output",
            "out.csv",
        ],
    );
    assert!(run.status.success());
    let id = job_id(&run);
    let waiting = cluster.wait_for_state(&id, "CREATED");
    assert!(
        waiting["message"]
            .as_str()
            .unwrap_or_default()
            .contains("waiting for 2 free slots"),
        "{waiting}"
    );
    cluster.add_task_manager(1, &[]);
    cluster.wait_for_state(&id, "FINISHED");
    let bad = cluster.client("run", &["/bin/true"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("without executing a job"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let info = cluster.client(
        "info",
        &["-p", "3", word_count.to_str().unwrap(), "--input", "x"],
    );
    assert!(info.status.success());
    assert!(
        stdout(&info).contains("\"parallelism\": 3"),
        "{}",
        stdout(&info)
    );
}

#[test]
fn start_cluster_runs_two_task_managers_from_workers_and_stop_cluster_leaves_no_process() {
    let dir = temp_dir("scripts");
    let conf = dir.join("conf");
    std::fs::create_dir_all(&conf).unwrap();
    let (rest, rpc) = (free_port(), free_port());
    std::fs::write(
        conf.join("config.yaml"),
        format!(
            "jobmanager:\n  rpc:\n    address: 127.0.0.1\n    port: {rpc}\nrest:\n  port: {rest}\ntaskmanager:\n  numberOfTaskSlots: 2\nblob.storage.directory: {}\n",
            dir.join("blobs").display()
        ),
    )
    .unwrap();
    std::fs::write(conf.join("workers"), "localhost\n# a comment\nlocalhost\n").unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = |name: &str| {
        let output = Command::new(root.join("bin").join(name))
            .env("SLUICE_CONF_DIR", &conf)
            .env("SLUICE_LOG_DIR", dir.join("log"))
            .env("SLUICE_PID_DIR", dir.join("pids"))
            .env("SLUICE_BIN", SLUICE)
            .env_remove("SLUICE_CLUSTER_SECRET")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{name}: {}{}",
            stdout(&output),
            String::from_utf8_lossy(&output.stderr)
        );
        stdout(&output)
    };
    let started = script("start-cluster.sh");
    assert!(started.contains("2 TaskManagers registered"), "{started}");
    let pids: Vec<String> = std::fs::read_dir(dir.join("pids"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "pid"))
        .flat_map(|e| {
            std::fs::read_to_string(e.path())
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(pids.len(), 3, "a JobManager and two TaskManagers: {pids:?}");
    let input = write_text(&dir);
    let run = Command::new(SLUICE)
        .args(["run", "--conf-dir", conf.to_str().unwrap(), "-p", "4"])
        .arg(example("word_count"))
        .args(["--input", input.to_str().unwrap(), "--output", "out.csv"])
        .env("SLUICE_PID_DIR", dir.join("pids"))
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let local = Command::new(example("word_count"))
        .args(["--input", input.to_str().unwrap(), "--output", "local.csv"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(local.status.success());
    assert_eq!(
        sorted_lines(&dir.join("out.csv")),
        sorted_lines(&dir.join("local.csv"))
    );
    let list = Command::new(SLUICE)
        .args(["list", "--conf-dir", conf.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        stdout(&list).contains("WordCount (FINISHED)"),
        "{}",
        stdout(&list)
    );
    script("stop-cluster.sh");
    for pid in &pids {
        assert!(
            !Path::new("/proc").join(pid).exists(),
            "process {pid} is still running"
        );
    }
    assert!(
        !dir.join("pids")
            .join(format!("sluice-{}-cluster.secret", whoami()))
            .exists()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn whoami() -> String {
    std::env::var("USER").unwrap_or_else(|_| {
        String::from_utf8_lossy(&Command::new("id").arg("-un").output().unwrap().stdout)
            .trim()
            .to_string()
    })
}

/// `key,value` lines for the exactly-once counts job.
fn write_counts_input(dir: &Path, lines: u64) -> PathBuf {
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

/// The committed output of one uninterrupted local run of the exactly-once counts job.
fn fault_free_counts(dir: &Path, input: &Path) -> Vec<String> {
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
    assert!(
        local.status.success(),
        "{}",
        String::from_utf8_lossy(&local.stderr)
    );
    common::committed_lines(&[&out])
}

/// Submits the exactly-once counts job, throttled so it runs for seconds, at parallelism 2.
fn submit_counts(cluster: &Cluster, input: &Path) -> String {
    submit_counts_with(cluster, input, &[])
}

/// [`submit_counts`] with more job arguments.
fn submit_counts_with(cluster: &Cluster, input: &Path, extra: &[&str]) -> String {
    let out = cluster.dir.join("out");
    let checkpoints = cluster.dir.join("checkpoints");
    let run = cluster.client(
        "run",
        &[
            "-d",
            example("exactly_once_counts").to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--output-dir",
            out.to_str().unwrap(),
            "--checkpoint-dir",
            checkpoints.to_str().unwrap(),
            "--checkpoint-interval-ms",
            "100",
            "--parallelism",
            "2",
            "--records-per-second",
            "800",
        ]
        .iter()
        .chain(extra)
        .copied()
        .collect::<Vec<_>>(),
    );
    assert!(
        run.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&run.stderr),
        cluster.logs()
    );
    job_id(&run)
}

/// Waits until the job completed a checkpoint.
fn wait_for_checkpoint(cluster: &Cluster) {
    let checkpoints = cluster.dir.join("checkpoints");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let storage =
            sluice::state::CheckpointStorage::open(checkpoints.to_str().unwrap()).unwrap();
        if !storage.completed().unwrap_or_default().is_empty() {
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

#[test]
fn a_killed_task_manager_restarts_the_job_from_its_checkpoint_exactly_once() {
    killed_task_manager_recovers_exactly_once("failover", &[]);
}

#[test]
fn unaligned_checkpoints_across_task_managers_recover_exactly_once() {
    killed_task_manager_recovers_exactly_once("unaligned", &["--unaligned-checkpoints"]);
}

fn killed_task_manager_recovers_exactly_once(name: &str, extra: &[&str]) {
    let mut cluster = Cluster::start(name, 2, 1);
    let input = write_counts_input(&cluster.dir, 4000);
    let id = submit_counts_with(&cluster, &input, extra);
    cluster.wait_for_state(&id, "RUNNING");
    wait_for_checkpoint(&cluster);
    let mut victim = cluster.task_managers.remove(1);
    victim.kill().unwrap();
    victim.wait().unwrap();
    // One slot is left for a job of two pipelines: it waits, saying so, until a replacement
    // TaskManager registers.
    let waiting = cluster.wait_for_state(&id, "CREATED");
    assert!(
        waiting["message"]
            .as_str()
            .unwrap_or_default()
            .contains("waiting for 2 free slots"),
        "{waiting}"
    );
    cluster.add_task_manager(1, &[]);
    let finished = cluster.wait_for_state(&id, "FINISHED");
    assert!(finished["attempt"].as_u64().unwrap() >= 2, "{finished}");
    assert_eq!(
        common::committed_lines(&[&cluster.dir.join("out")]),
        fault_free_counts(&cluster.dir, &input)
    );
}

#[test]
fn a_restarted_job_manager_recovers_its_running_job() {
    let mut cluster = Cluster::start("jm-restart", 2, 1);
    let ha = cluster.dir.join("ha");
    let ha_flag = vec![
        "-D".to_string(),
        format!("high-availability.storageDir={}", ha.display()),
    ];
    cluster.restart_job_manager(&ha_flag);
    cluster.wait_for_task_managers(2);
    let input = write_counts_input(&cluster.dir, 4000);
    let id = submit_counts(&cluster, &input);
    cluster.wait_for_state(&id, "RUNNING");
    wait_for_checkpoint(&cluster);
    cluster.restart_job_manager(&ha_flag);
    let finished = cluster.wait_for_state(&id, "FINISHED");
    assert!(finished["attempt"].as_u64().unwrap() >= 1, "{finished}");
    assert_eq!(
        common::committed_lines(&[&cluster.dir.join("out")]),
        fault_free_counts(&cluster.dir, &input)
    );
}

#[test]
fn savepoints_and_stop_with_savepoint_then_resume_from_it() {
    let cluster = Cluster::start("savepoints", 2, 1);
    let input = write_counts_input(&cluster.dir, 4000);
    let id = submit_counts(&cluster, &input);
    cluster.wait_for_state(&id, "RUNNING");
    wait_for_checkpoint(&cluster);
    let savepoints = cluster.dir.join("savepoints");
    let taken = cluster.client("savepoint", &[&id, savepoints.to_str().unwrap()]);
    assert!(
        taken.status.success(),
        "{}",
        String::from_utf8_lossy(&taken.stderr)
    );
    assert!(
        stdout(&taken).contains("Savepoint completed"),
        "{}",
        stdout(&taken)
    );
    let stopped = cluster.client(
        "stop",
        &["--savepoint-path", savepoints.to_str().unwrap(), &id],
    );
    assert!(
        stopped.status.success(),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    let location = stdout(&stopped)
        .trim()
        .rsplit("Path: ")
        .next()
        .unwrap()
        .trim_matches('"')
        .to_string();
    assert!(
        Path::new(&location).join("_metadata").exists(),
        "{location}"
    );
    cluster.wait_for_state(&id, "FINISHED");
    // Resumed from the savepoint, the job commits the rest: together, one run's output.
    let resumed = cluster.client(
        "run",
        &[
            "-s",
            &location,
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
        ],
    );
    assert!(
        resumed.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&resumed.stderr),
        cluster.logs()
    );
    assert_eq!(
        common::committed_lines(&[&cluster.dir.join("out")]),
        fault_free_counts(&cluster.dir, &input)
    );
    let plain = cluster.client("savepoint", &["0123", "/tmp/x"]);
    assert!(!plain.status.success());
    assert!(String::from_utf8_lossy(&plain.stderr).contains("no job with id 0123"));
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
}

/// A certificate authority and a certificate it signed for `sluice-internal` (or `name`), made
/// with openssl in `dir`; returns the `-D` settings that enable mutual TLS with them.
fn tls_settings(dir: &Path, name: &str, authority: &str) -> Vec<String> {
    std::fs::create_dir_all(dir).unwrap();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl is installed");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ca_key = format!("{authority}.key");
    let ca_pem = format!("{authority}.pem");
    if !dir.join(&ca_pem).exists() {
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &ca_key,
            "-out",
            &ca_pem,
            "-days",
            "2",
            "-subj",
            &format!("/CN={authority}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
    }
    let node = format!("{authority}-{name}");
    openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        &format!("{node}.key"),
        "-out",
        &format!("{node}.csr"),
        "-subj",
        &format!("/CN={name}"),
    ]);
    std::fs::write(
        dir.join(format!("{node}.ext")),
        format!("subjectAltName=DNS:{name}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n"),
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &format!("{node}.csr"),
        "-CA",
        &ca_pem,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-out",
        &format!("{node}.pem"),
        "-days",
        "2",
        "-extfile",
        &format!("{node}.ext"),
    ]);
    let path = |file: String| dir.join(file).display().to_string();
    vec![
        "-D".into(),
        "security.ssl.internal.enabled=true".into(),
        "-D".into(),
        format!(
            "security.ssl.internal.cert-file={}",
            path(format!("{node}.pem"))
        ),
        "-D".into(),
        format!(
            "security.ssl.internal.key-file={}",
            path(format!("{node}.key"))
        ),
        "-D".into(),
        format!("security.ssl.internal.ca-file={}", path(ca_pem.clone())),
    ]
}

#[test]
fn mutual_tls_carries_the_control_and_data_planes_and_refuses_strangers() {
    let mut cluster = Cluster::start_with("mtls", 2, 2, |dir| {
        tls_settings(&dir.join("certs"), "sluice-internal", "cluster-ca")
    });
    let input = write_text(&cluster.dir);
    let word_count = example("word_count");
    let run = cluster.client(
        "run",
        &[
            "-p",
            "4",
            word_count.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--output",
            "tls.csv",
        ],
    );
    assert!(
        run.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&run.stderr),
        cluster.logs()
    );
    let local = Command::new(&word_count)
        .args(["--input", input.to_str().unwrap(), "--output", "local.csv"])
        .current_dir(&cluster.dir)
        .output()
        .unwrap();
    assert!(local.status.success());
    assert_eq!(
        sorted_lines(&cluster.dir.join("tls.csv")),
        sorted_lines(&cluster.dir.join("local.csv"))
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
