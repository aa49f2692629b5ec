//! A standalone cluster for integration tests: a JobManager and TaskManagers as real
//! processes on loopback (`sluice jobmanager`, `sluice taskmanager`), and the jobs and data the
//! cluster tests share.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub mod jobs;
pub mod tls;

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
        self.succeeded(self.client("run", args))
    }

    /// `run`, a `sluice run`, which must have succeeded (the failure shows its error and the
    /// logs).
    pub fn succeeded(&self, run: Output) -> Output {
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

    /// `sluice run FLAGS` of the word count example at `parallelism` on `input` into `output`
    /// (relative to the cluster's directory); it may fail.
    pub fn run_word_count(
        &self,
        flags: &[&str],
        parallelism: usize,
        input: &str,
        output: &str,
    ) -> Output {
        let parallelism = parallelism.to_string();
        let word_count = example("word_count");
        let job = [
            "-p",
            &parallelism,
            word_count.to_str().unwrap(),
            "--input",
            input,
            "--output",
            output,
        ];
        self.client("run", &[flags, &job].concat())
    }

    /// [`Cluster::run_word_count`] without flags, which must succeed.
    pub fn word_count_ok(&self, parallelism: usize, input: &str, output: &str) -> Output {
        self.succeeded(self.run_word_count(&[], parallelism, input, output))
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

    /// `GET path`: the status code and the JSON body (null when it is not JSON).
    pub fn get_with_status(&self, path: &str) -> (u16, serde_json::Value) {
        self.request("GET", path, None)
    }

    /// `METHOD path`, with the JSON `body` if given: the status code and the JSON answer (null
    /// when it is not JSON).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        super::http_request(self.rest_port, method, path, body)
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
