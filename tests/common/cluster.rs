//! A standalone cluster for integration tests: a JobManager and TaskManagers as real
//! processes on loopback (`sluice jobmanager`, `sluice taskmanager`), and the jobs and data the
//! cluster tests share.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

/// The example job binaries, built by `cargo test` beside the `sluice` binary.
pub fn example(name: &str) -> PathBuf {
    let path = Path::new(SLUICE)
        .parent()
        .expect("the binary has a directory")
        .join("examples")
        .join(name);
    assert!(path.exists(), "{} is not built", path.display());
    path
}

/// Two distinct free ports (both held while chosen, so they cannot be the same one).
pub fn free_ports() -> (u16, u16) {
    let first = TcpListener::bind("127.0.0.1:0").unwrap();
    let second = TcpListener::bind("127.0.0.1:0").unwrap();
    (
        first.local_addr().unwrap().port(),
        second.local_addr().unwrap().port(),
    )
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("sluice-cluster-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A JobManager and TaskManagers on free ports; every process is killed on drop.
pub struct Cluster {
    /// The cluster's scratch directory (logs, outputs, blobs).
    pub dir: PathBuf,
    /// The REST API's port.
    pub rest_port: u16,
    /// The control port.
    pub rpc_port: u16,
    /// The cluster secret.
    pub secret: String,
    /// Settings every process of the cluster gets (`-D key=value`).
    common: Vec<String>,
    job_manager: Option<Child>,
    /// The running TaskManagers.
    pub task_managers: Vec<Child>,
}

impl Cluster {
    pub fn start(name: &str, task_managers: usize, slots: usize) -> Cluster {
        Cluster::start_with(name, task_managers, slots, |_| Vec::new())
    }

    /// A cluster whose every process gets the settings `common` makes (given the cluster's
    /// scratch directory).
    pub fn start_with(
        name: &str,
        task_managers: usize,
        slots: usize,
        common: impl FnOnce(&Path) -> Vec<String>,
    ) -> Cluster {
        let dir = temp_dir(name);
        let (rest_port, rpc_port) = free_ports();
        let mut cluster = Cluster {
            rest_port,
            rpc_port,
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

    /// The process id of TaskManager `index`.
    pub fn task_manager_pid(&self, index: usize) -> u32 {
        self.task_managers[index].id()
    }

    /// The JobManager's process id.
    pub fn job_manager_pid(&self) -> u32 {
        self.job_manager.as_ref().expect("a JobManager runs").id()
    }

    /// The flags of every process of this cluster.
    pub fn flags(&self) -> Vec<String> {
        let mut flags = self.base_flags();
        flags.extend(self.common.iter().cloned());
        flags
    }

    /// The flags that find the cluster, without the common settings.
    pub fn base_flags(&self) -> Vec<String> {
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
            format!("state.savepoints.dir={}", self.dir.display()),
            "-D".into(),
            format!(
                "blob.storage.directory={}",
                self.dir.join("blobs").display()
            ),
        ]
    }

    pub fn spawn(&self, role: &str, extra: &[String], secret: &str) -> Child {
        self.spawn_with(Command::new(SLUICE), role, extra, secret)
    }

    /// Starts `sluice ROLE` through `launcher` (a command that ends in the `sluice` binary).
    fn spawn_with(
        &self,
        mut launcher: Command,
        role: &str,
        extra: &[String],
        secret: &str,
    ) -> Child {
        let index = std::fs::read_dir(&self.dir).map_or(0, |d| d.count());
        let log = std::fs::File::create(self.dir.join(format!("{role}-{index}.log"))).unwrap();
        launcher
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

    pub fn add_task_manager(&mut self, slots: usize, extra: &[String]) {
        let mut flags = vec![
            "-D".to_string(),
            format!("taskmanager.numberOfTaskSlots={slots}"),
        ];
        flags.extend_from_slice(extra);
        let child = self.spawn("taskmanager", &flags, &self.secret.clone());
        self.task_managers.push(child);
    }

    /// Adds a TaskManager that is process 1 of a PID namespace of its own, as the first process
    /// of a container is (`unshare --pid`, which needs the right to create namespaces).
    pub fn add_task_manager_as_pid_1(&mut self, slots: usize) {
        let mut unshare = Command::new("unshare");
        unshare.args(["--pid", "--fork", "--kill-child", SLUICE]);
        let flags = [
            "-D".to_string(),
            format!("taskmanager.numberOfTaskSlots={slots}"),
        ];
        let child = self.spawn_with(unshare, "taskmanager", &flags, &self.secret.clone());
        self.task_managers.push(child);
    }

    /// Kills the JobManager (SIGKILL) and starts it again with the same configuration.
    pub fn restart_job_manager(&mut self, extra: &[String]) {
        if let Some(mut old) = self.job_manager.take() {
            old.kill().unwrap();
            old.wait().unwrap();
        }
        let secret = self.secret.clone();
        self.job_manager = Some(self.spawn("jobmanager", extra, &secret));
    }

    /// `sluice run ARGS`, which must succeed (the failure shows its error and the logs).
    pub fn run_ok(&self, args: &[&str]) -> Output {
        let run = self.client("run", args);
        assert!(
            run.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&run.stderr),
            self.logs()
        );
        run
    }

    /// `sluice savepoint JOB DIR`, which must succeed; returns its output.
    pub fn savepoint_ok(&self, job: &str, dir: &Path) -> Output {
        let taken = self.client("savepoint", &[job, dir.to_str().unwrap()]);
        assert!(
            taken.status.success(),
            "{}",
            String::from_utf8_lossy(&taken.stderr)
        );
        taken
    }

    /// Runs the word count example at `parallelism` on `input` into `output` (relative to the
    /// cluster's directory); it must succeed.
    pub fn word_count_ok(&self, parallelism: usize, input: &str, output: &str) -> Output {
        self.run_ok(&[
            "-p",
            &parallelism.to_string(),
            example("word_count").to_str().unwrap(),
            "--input",
            input,
            "--output",
            output,
        ])
    }

    pub fn client(&self, command: &str, args: &[&str]) -> Output {
        Command::new(SLUICE)
            .arg(command)
            .args(self.flags())
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    pub fn get(&self, path: &str) -> serde_json::Value {
        let value = self.try_get(path);
        assert!(!value.is_null(), "GET {path} failed\n{}", self.logs());
        value
    }

    /// `GET path`, or null when the JobManager does not answer (it may be restarting).
    pub fn try_get(&self, path: &str) -> serde_json::Value {
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

    pub fn wait_for_task_managers(&self, count: usize) {
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

    pub fn wait_for_state(&self, job: &str, state: &str) -> serde_json::Value {
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

    /// Waits until `job` is back in CREATED, waiting for `slots` free slots, and returns it.
    pub fn wait_for_slots(&self, job: &str, slots: usize) -> serde_json::Value {
        let waiting = self.wait_for_state(job, "CREATED");
        let message = waiting["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(&format!("waiting for {slots} free slots")),
            "{waiting}"
        );
        waiting
    }

    pub fn logs(&self) -> String {
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

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn job_id(output: &Output) -> String {
    let text = stdout(output);
    text.lines()
        .find_map(|line| line.strip_prefix("Job has been submitted with JobID "))
        .unwrap_or_else(|| panic!("no job id in {text}"))
        .trim()
        .to_string()
}

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
    super::committed_lines(&[&out])
}

/// Asserts that the counts job committed into the cluster's `out` exactly what one
/// uninterrupted local run of `input` commits.
pub fn assert_committed_exactly_once(cluster: &Cluster, input: &Path) {
    assert_eq!(
        super::committed_lines(&[&cluster.dir.join("out")]),
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
        if !super::completed_checkpoints(&checkpoints).is_empty() {
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

/// A certificate authority and a certificate it signed for `sluice-internal` (or `name`), made
/// with openssl in `dir`; returns the `-D` settings that enable mutual TLS with them.
pub fn tls_settings(dir: &Path, name: &str, authority: &str) -> Vec<String> {
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
    // `openssl req` making a new P-256 key and a request (or, with -x509, a certificate).
    let new_key = |key: &str, out: &str, subject: &str, extra: &[&str]| {
        let mut args = vec![
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            key,
            "-out",
            out,
            "-subj",
            subject,
        ];
        args.extend_from_slice(extra);
        openssl(&args);
    };
    let ca_key = format!("{authority}.key");
    let ca_pem = format!("{authority}.pem");
    if !dir.join(&ca_pem).exists() {
        new_key(
            &ca_key,
            &ca_pem,
            &format!("/CN={authority}"),
            &[
                "-x509",
                "-days",
                "2",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
    }
    let node = format!("{authority}-{name}");
    new_key(
        &format!("{node}.key"),
        &format!("{node}.csr"),
        &format!("/CN={name}"),
        &[],
    );
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

/// Fails with the process's stderr unless it exited with success.
pub fn assert_succeeded(output: &std::process::Output) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
