//! The standalone cluster as a user runs it: a JobManager and TaskManagers as real processes
//! on loopback, jobs submitted with `sluice run`, managed with `sluice list` / `cancel`, and
//! the `bin/` scripts.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::cluster::jobs::*;
use common::cluster::*;

#[test]
fn word_count_across_two_task_managers_equals_the_local_run() {
    let cluster = Cluster::start("wordcount", 2, 2);
    let input = write_text(&cluster.dir);
    // Relative paths mean what they mean to the client.
    assert_eq!(cluster.dir.join("input.txt"), input);
    let run = cluster.run_ok(&[
        "-p",
        "4",
        example("word_count").to_str().unwrap(),
        "--input",
        "input.txt",
        "--output",
        "cluster.csv",
    ]);
    assert!(stdout(&run).contains("has finished"), "{}", stdout(&run));
    assert_eq!(
        sorted_lines(&cluster.dir.join("cluster.csv")),
        local_word_count(&cluster.dir, &input)
    );
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
fn two_task_managers_that_are_both_pid_1_are_two_task_managers() {
    // Every container's first process is PID 1: ids made of the PID collided, and each
    // TaskManager's registration evicted the other's.
    let mut cluster = Cluster::start("pid-1", 0, 1);
    cluster.add_task_manager_as_pid_1(1);
    cluster.add_task_manager_as_pid_1(1);
    cluster.wait_for_task_managers(2);
    let input = write_text(&cluster.dir);
    cluster.word_count_ok(2, "input.txt", "pid-1.csv");
    assert_eq!(
        sorted_lines(&cluster.dir.join("pid-1.csv")),
        local_word_count(&cluster.dir, &input)
    );
    let overview = cluster.get("/taskmanagers");
    let ids: Vec<&str> = overview["taskmanagers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|tm| tm["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 2, "{overview}");
    assert_ne!(ids[0], ids[1]);
}

#[test]
fn a_job_waits_for_slots_and_a_bad_binary_is_explained() {
    let mut cluster = Cluster::start("slots", 1, 1);
    let input = write_text(&cluster.dir);
    let word_count = example("word_count");
    let run = cluster.run_ok(&[
        "-d",
        "-p",
        "2",
        word_count.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        "out.csv",
    ]);
    let id = job_id(&run);
    cluster.wait_for_slots(&id, 2);
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
    let (rest, rpc) = free_ports();
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
    assert_eq!(
        sorted_lines(&dir.join("out.csv")),
        local_word_count(&dir, &input)
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
    // Started again, every daemon's log of the first run is kept beside the new one.
    script("start-cluster.sh");
    script("stop-cluster.sh");
    let logs: Vec<String> = std::fs::read_dir(dir.join("log"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("sluice-"))
        .collect();
    let kept: Vec<&String> = logs
        .iter()
        .filter(|name| name.ends_with(".log.1"))
        .collect();
    assert_eq!(kept.len(), 3, "{logs:?}");
    let earlier = kept
        .iter()
        .find(|name| name.contains("jobmanager"))
        .map(|name| std::fs::read_to_string(dir.join("log").join(name)).unwrap())
        .unwrap();
    assert!(earlier.contains("WordCount"), "{earlier}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ended_jobs_and_their_binaries_are_forgotten_past_the_job_history() {
    let cluster = Cluster::start_with("history", 1, 2, |_| {
        ["jobstore.max-capacity=2", "jobstore.expiration-time=8s"]
            .iter()
            .flat_map(|setting| ["-D".to_string(), setting.to_string()])
            .collect()
    });
    let input = write_text(&cluster.dir);
    for run in 0..3 {
        cluster.word_count_ok(1, input.to_str().unwrap(), &format!("out-{run}.csv"));
    }
    let listed = |cluster: &Cluster| {
        cluster.get("/jobs/overview")["jobs"]
            .as_array()
            .map_or(0, Vec::len)
    };
    // The JobManager's job binaries: files named by their SHA-256 (64 hex digits).
    let blobs = |cluster: &Cluster| {
        std::fs::read_dir(cluster.dir.join("blobs"))
            .unwrap()
            .flatten()
            .filter(|entry| {
                entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with("sluice-jobmanager-")
            })
            .flat_map(|dir| std::fs::read_dir(dir.path()).unwrap().flatten())
            .filter(|entry| entry.file_name().len() == 64)
            .count()
    };
    let wait_until = |done: &dyn Fn() -> bool, what: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done() {
            assert!(
                Instant::now() < deadline,
                "{what}: {}",
                cluster.get("/jobs/overview")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_until(
        &|| listed(&cluster) == 2,
        "the capacity keeps the newest two",
    );
    assert_eq!(blobs(&cluster), 1, "the binary of the jobs kept");
    wait_until(
        &|| listed(&cluster) == 0 && blobs(&cluster) == 0,
        "expired jobs and their binary are gone",
    );
}

#[test]
fn cancelling_a_running_job_stops_its_workers() {
    let cluster = Cluster::start("cancel", 2, 1);
    let (id, mut socket) = start_socket_job(&cluster, "counts.csv");
    socket.write_all(b"to be or not to be\n").unwrap();
    // Its subtasks run on two TaskManagers: the bytes of the records crossing between them
    // are counted where they leave and where they arrive.
    let bytes = |metric: &str| -> u64 {
        let job = cluster.get(&format!("/jobs/{id}"));
        job["vertices"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| v["metrics"][metric].as_u64().unwrap_or(0))
            .sum()
    };
    common::wait_for("bytes counted between the TaskManagers", || {
        socket.write_all(b"to be\n").unwrap();
        (bytes("write-bytes") > 0 && bytes("read-bytes") > 0).then_some(())
    });
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
fn a_job_that_never_gets_its_slots_fails_after_the_slot_request_timeout() {
    let cluster = Cluster::start_with("slot-timeout", 1, 1, |_| {
        vec!["-D".into(), "slot.request.timeout=1s".into()]
    });
    let input = write_text(&cluster.dir);
    let run = cluster.run_word_count(&[], 2, input.to_str().unwrap(), "out.csv");
    assert!(!run.status.success());
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(said.contains("CREATED: waiting for 2 free slots"), "{said}");
    assert!(said.contains("slot.request.timeout"), "{said}");
}

#[test]
fn keys_the_cluster_cannot_honour_are_refused_at_start_naming_the_key() {
    let dir = temp_dir("refused-keys");
    let conf = dir.join("conf");
    std::fs::create_dir_all(&conf).unwrap();
    for (key, said) in [
        (
            "taskmanager.memory.process.size: 1728m",
            "does not size or limit",
        ),
        (
            "jobmanager.memory.process.size: 1600m",
            "does not size or limit",
        ),
        ("taskmanager.rpc.port: 6122", "opens no RPC port"),
    ] {
        std::fs::write(conf.join("config.yaml"), format!("{key}\n")).unwrap();
        for process in ["jobmanager", "taskmanager"] {
            let out = std::process::Command::new(SLUICE)
                .arg(process)
                .env("SLUICE_CONF_DIR", &conf)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{process} started with {key}");
            assert!(
                stderr.contains("config.yaml:1") && stderr.contains(said),
                "{process}, {key}: {stderr}"
            );
        }
    }
}

/// `sluice sql -m`: each INSERT of a script runs as a job of the `sluice` binary on the
/// cluster, with Flink's rows; the statements before it run in the client too (errors before
/// submission); a SELECT's rows come back to the client, as a local run shows them, and a
/// failing SELECT fails the script with the job's error.
#[test]
fn sql_scripts_run_their_inserts_on_the_cluster() {
    use common::sql_cases::{case_script, sql_dir};
    let cluster = Cluster::start("sql", 2, 2);
    let out = cluster.dir.join("out");
    let script = case_script("tumble", &sql_dir().join("data"), 2, &out);
    std::fs::write(cluster.dir.join("tumble.sql"), &script).unwrap();
    let jobmanager = format!("127.0.0.1:{}", cluster.rest_port);
    let run = cluster.client("sql", &["-m", &jobmanager, "-f", "tumble.sql"]);
    let run = cluster.succeeded(run);
    assert!(stdout(&run).contains("has finished"), "{}", stdout(&run));
    let golden = std::fs::read_to_string(sql_dir().join("golden/tumble.csv")).unwrap();
    let golden: Vec<String> = golden.lines().map(String::from).collect();
    assert_eq!(common::committed_lines(&[&out]), golden);
    let jobs = cluster.get("/jobs/overview");
    assert!(
        jobs.to_string().contains("insert-into_out_windows"),
        "the job has the INSERT's name: {jobs}"
    );

    // The same updating query, locally and on the cluster, shown as the table it leaves.
    let tables = &script[..script.find("CREATE TABLE out_windows").unwrap()];
    let select = format!(
        "{tables}\nSET 'sql-client.execution.result-mode' = 'table';
         SELECT channel, COUNT(*) AS bids, MAX(price) AS top FROM bids GROUP BY channel;"
    );
    std::fs::write(cluster.dir.join("select.sql"), &select).unwrap();
    let remote = cluster.succeeded(cluster.client("sql", &["-m", &jobmanager, "-f", "select.sql"]));
    let local = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["sql", "-f"])
        .arg(cluster.dir.join("select.sql"))
        .output()
        .unwrap();
    let table = |text: &str| {
        let mut rows: Vec<String> = text
            .lines()
            .filter(|line| line.starts_with('|') || line.ends_with("rows in set"))
            .map(String::from)
            .collect();
        rows.sort();
        rows
    };
    let (remote, local) = (
        stdout(&remote),
        String::from_utf8_lossy(&local.stdout).to_string(),
    );
    assert!(table(&local).len() > 3, "{local}");
    assert_eq!(table(&remote), table(&local), "{remote}");
    assert!(remote.contains("Job has been submitted"), "{remote}");
    let jobs = cluster.get("/jobs/overview").to_string();
    assert!(
        jobs.contains("\"collect\""),
        "the SELECT ran as a job: {jobs}"
    );
    std::fs::write(cluster.dir.join("broken.csv"), "1,2\nx,3\n").unwrap();
    std::fs::write(
        cluster.dir.join("failing.sql"),
        format!(
            "CREATE TABLE broken (a INT, b INT) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');
             SELECT a + b FROM broken;",
            cluster.dir.join("broken.csv").display()
        ),
    )
    .unwrap();
    let failed = cluster.client("sql", &["-m", &jobmanager, "-f", "failing.sql"]);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        !failed.status.success() && stderr.contains("'x' is not a valid INT"),
        "{stderr}"
    );
    let bad = script.replace(
        "FROM TABLE(TUMBLE(TABLE bids",
        "FROM TABLE(TUMBLE(TABLE bid",
    );
    std::fs::write(cluster.dir.join("bad.sql"), bad).unwrap();
    let refused = cluster.client("sql", &["-m", &jobmanager, "-f", "bad.sql"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("Object 'bid' not found"),
        "{stderr}"
    );
}

/// `sluice sql -m`: a query over an unbounded table prints its rows as the cluster sends them,
/// and Ctrl-C (SIGINT) stops the client and cancels the query's job.
#[test]
fn an_unbounded_query_on_the_cluster_stops_at_ctrl_c() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let cluster = Cluster::start("sql-live", 1, 2);
    std::fs::write(
        cluster.dir.join("ticks.sql"),
        "SET 'parallelism.default' = '1';
         CREATE TABLE ticks (n BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '50',
           'fields.n.kind' = 'sequence', 'fields.n.start' = '1', 'fields.n.end' = '1000000');
         SELECT n, n * 10 AS tens FROM ticks;",
    )
    .unwrap();
    let jobmanager = format!("127.0.0.1:{}", cluster.rest_port);
    let mut client = Command::new(SLUICE)
        .arg("sql")
        .args(cluster.flags())
        .args(["-m", &jobmanager, "-f", "ticks.sql"])
        .current_dir(&cluster.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = client.id();
    // Should Ctrl-C not stop it, the client is killed after 90 s: the test fails, not hangs.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = {
        let done = std::sync::Arc::clone(&done);
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(90);
            while Instant::now() < deadline {
                if done.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        })
    };
    let mut lines = BufReader::new(client.stdout.take().unwrap()).lines();
    let mut job = None;
    let mut rows = 0;
    while rows < 3 {
        let line = lines.next().expect("the client printed rows").unwrap();
        if let Some(id) = line.strip_prefix("Job has been submitted with JobID ") {
            job = Some(id.to_string());
        }
        if line.starts_with("| +I |") {
            rows += 1;
            assert_eq!(line, format!("| +I | {rows:>20} | {:>20} |", rows * 10));
        }
    }
    signal(pid, "INT");
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert!(
        rest.iter()
            .any(|l| l.starts_with("Query terminated, received a total of ")),
        "{rest:?}"
    );
    assert!(client.wait().unwrap().success());
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    watchdog.join().unwrap();
    let job = job.expect("the client named the query's job");
    cluster.wait_for_state(&job, "CANCELED");
}
