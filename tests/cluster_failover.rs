//! Failures on the cluster: a TaskManager killed during a checkpointed job with an exactly-once
//! sink (aligned and unaligned checkpoints), a JobManager killed and restarted, savepoints and
//! stop-with-savepoint; the committed output always equals a fault-free run's.

mod common;

use std::path::Path;

use common::cluster::jobs::*;
use common::cluster::*;

#[test]
fn a_killed_task_manager_restarts_the_job_from_its_checkpoint_exactly_once() {
    killed_task_manager_recovers_exactly_once("failover", &[]);
}

#[cfg(feature = "rocksdb")]
#[test]
fn incremental_rocksdb_checkpoints_on_the_cluster_recover_exactly_once() {
    // The workers store their new SST files; the JobManager writes the rest.
    killed_task_manager_recovers_exactly_once(
        "rocksdb",
        &["--state-backend", "rocksdb", "--incremental-checkpoints"],
    );
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
    cluster.wait_for_slots(&id, 2);
    cluster.add_task_manager(1, &[]);
    let finished = cluster.wait_for_state(&id, "FINISHED");
    assert!(finished["attempt"].as_u64().unwrap() >= 2, "{finished}");
    assert_committed_exactly_once(&cluster, &input);
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
    // The recovered job resumed from its own checkpoint, not from the start.
    let restored = finished["restored_from"].as_str().unwrap_or_default();
    assert!(restored.contains(&format!("{id}/chk-")), "{finished}");
    assert_committed_exactly_once(&cluster, &input);
}

#[test]
fn savepoints_and_stop_with_savepoint_then_resume_from_it() {
    let cluster = Cluster::start("savepoints", 2, 1);
    // Ten seconds of input: each savepoint waits for the checkpoint in flight before it.
    let input = write_counts_input(&cluster.dir, 8000);
    let id = submit_counts(&cluster, &input);
    cluster.wait_for_state(&id, "RUNNING");
    wait_for_checkpoint(&cluster);
    let savepoints = cluster.dir.join("savepoints");
    let taken = cluster.savepoint_ok(&id, &savepoints);
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
    resume_counts_from(&cluster, &input, &location);
    assert_committed_exactly_once(&cluster, &input);
    let malformed = cluster.client("savepoint", &["0123", "/tmp/x"]);
    assert!(!malformed.status.success());
    let said = String::from_utf8_lossy(&malformed.stderr);
    assert!(said.contains("'0123' is not a job id"), "{said}");
    let unknown = "0123".repeat(8);
    let plain = cluster.client("savepoint", &[&unknown, "/tmp/x"]);
    assert!(!plain.status.success());
    let said = String::from_utf8_lossy(&plain.stderr);
    assert!(
        said.contains(&format!("no job with id {unknown}")),
        "{said}"
    );
}

#[test]
fn a_savepoint_then_a_killed_task_manager_commits_exactly_once() {
    // Checkpoints every hour: the restart after the kill begins from nothing, so whatever the
    // savepoint had committed would be written twice.
    let mut cluster = Cluster::start("savepoint-then-kill", 2, 1);
    let input = write_counts_input(&cluster.dir, 4000);
    let id = submit_counts_configured(&cluster, &input, &[], "3600000", &[]);
    cluster.wait_for_state(&id, "RUNNING");
    std::thread::sleep(std::time::Duration::from_millis(700));
    let savepoints = cluster.dir.join("savepoints");
    cluster.savepoint_ok(&id, &savepoints);
    let mut victim = cluster.task_managers.remove(1);
    victim.kill().unwrap();
    victim.wait().unwrap();
    cluster.add_task_manager(1, &[]);
    let finished = cluster.wait_for_state(&id, "FINISHED");
    assert_eq!(finished["attempt"].as_u64(), Some(2), "{finished}");
    assert_committed_exactly_once(&cluster, &input);
}

#[test]
fn the_clients_configuration_checkpoints_a_job_that_sets_nothing() {
    let cluster = Cluster::start("job-defaults", 2, 1);
    let input = write_text(&cluster.dir);
    let checkpoints = cluster.dir.join("default-checkpoints");
    let directory = format!("execution.checkpointing.dir={}", checkpoints.display());
    let settings = [
        "-D",
        "execution.checkpointing.interval=50ms",
        "-D",
        &directory,
    ];
    cluster.succeeded(cluster.run_word_count(&settings, 2, input.to_str().unwrap(), "out.csv"));
    assert!(
        !common::completed_checkpoints(&checkpoints).is_empty(),
        "the JobManager coordinated checkpoints the job never asked for itself"
    );
}

#[test]
fn a_corrupt_latest_checkpoint_with_one_retained_fails_recovery_clearly() {
    let (cluster, error) = recover_from_a_corrupt_latest_checkpoint("corrupt-1", 1);
    assert!(
        error.contains("No older intact checkpoint is retained"),
        "{error}\n{}",
        cluster.logs()
    );
}

#[test]
fn a_corrupt_latest_checkpoint_with_two_retained_names_the_older_one() {
    let (cluster, error) = recover_from_a_corrupt_latest_checkpoint("corrupt-2", 2);
    let older = error
        .split("The older retained checkpoint ")
        .nth(1)
        .and_then(|rest| rest.split(" is intact").next())
        .unwrap_or_else(|| panic!("no older checkpoint named: {error}"));
    // Restored explicitly, it resumes: every line is committed, those after the older
    // checkpoint possibly twice (the price the error warned of).
    let input = cluster.dir.join("counts-input.csv");
    resume_counts_from(&cluster, &input, older);
    let committed = common::committed_lines(&[&cluster.dir.join("out")]);
    for line in fault_free_counts(&cluster.dir, &input) {
        assert!(committed.binary_search(&line).is_ok(), "{line} is missing");
    }
}

/// Runs the counts job retaining `retained` checkpoints, kills a TaskManager, corrupts the
/// job's newest checkpoint while the restart waits for slots, and returns the cluster and the
/// error the job failed with.
fn recover_from_a_corrupt_latest_checkpoint(name: &str, retained: usize) -> (Cluster, String) {
    let mut cluster = Cluster::start(name, 2, 1);
    let input = write_counts_input(&cluster.dir, 4000);
    let setting = format!("state.checkpoints.num-retained={retained}");
    let id = submit_counts_configured(&cluster, &input, &["-D", &setting], "100", &[]);
    cluster.wait_for_state(&id, "RUNNING");
    let checkpoints = cluster.dir.join("checkpoints");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while common::completed_checkpoints(&checkpoints).len() < retained {
        assert!(std::time::Instant::now() < deadline, "{}", cluster.logs());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let mut victim = cluster.task_managers.remove(1);
    victim.kill().unwrap();
    victim.wait().unwrap();
    // Waiting for slots, the old attempt's coordinator has stopped: no checkpoint comes after.
    cluster.wait_for_state(&id, "CREATED");
    let job = checkpoints.join(&id);
    let storage = sluice::state::CheckpointStorage::open(job.to_str().unwrap()).unwrap();
    let completed = storage.completed().unwrap();
    assert_eq!(completed.len(), retained, "{completed:?}");
    let newest = job.join(format!("chk-{}", completed[retained - 1]));
    let file = newest.join("task-0-0.state");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    cluster.add_task_manager(1, &[]);
    let failed = cluster.wait_for_state(&id, "FAILED");
    let error = failed["message"].as_str().unwrap_or_default().to_string();
    assert!(
        error.contains(&format!("{}, cannot be restored", newest.display()))
            && error.contains("task-0-0.state"),
        "{error}"
    );
    (cluster, error)
}

// Heartbeats: the cluster tests run with heartbeat.interval 200 ms and heartbeat.timeout 2 s.
const HEARTBEAT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

#[test]
fn a_sigstopped_worker_is_detected_within_the_heartbeat_timeout() {
    let cluster = Cluster::start("stopped-worker", 2, 1);
    let input = write_counts_input(&cluster.dir, 4000);
    let id = submit_counts(&cluster, &input);
    cluster.wait_for_state(&id, "RUNNING");
    wait_for_checkpoint(&cluster);
    let worker = *children_of(cluster.task_manager_pid(1))
        .first()
        .expect("TaskManager 1 runs a worker");
    signal(worker, "STOP");
    let detected = time_until_first_attempt_failed(&cluster, &id);
    assert!(
        detected < HEARTBEAT_TIMEOUT + std::time::Duration::from_secs(1),
        "detected after {detected:?}"
    );
    let failed = cluster.try_get(&format!("/jobs/{id}"));
    cluster.wait_for_state(&id, "FINISHED");
    assert!(cluster.logs().contains("heartbeat.timeout"), "{failed}");
    assert_committed_exactly_once(&cluster, &input);
}

#[test]
fn a_sigstopped_task_manager_is_detected_within_the_heartbeat_timeout() {
    let mut cluster = Cluster::start("stopped-task-manager", 2, 1);
    let input = write_counts_input(&cluster.dir, 4000);
    let id = submit_counts(&cluster, &input);
    cluster.wait_for_state(&id, "RUNNING");
    wait_for_checkpoint(&cluster);
    cluster.add_task_manager(1, &[]);
    signal(cluster.task_manager_pid(1), "STOP");
    let detected = time_until_first_attempt_failed(&cluster, &id);
    assert!(
        detected < HEARTBEAT_TIMEOUT + std::time::Duration::from_secs(1),
        "detected after {detected:?}"
    );
    cluster.wait_for_state(&id, "FINISHED");
    assert_committed_exactly_once(&cluster, &input);
    signal(cluster.task_manager_pid(1), "CONT");
}

#[test]
fn task_managers_notice_a_sigstopped_job_manager_and_the_job_recovers() {
    let cluster = Cluster::start("stopped-job-manager", 2, 1);
    let input = write_counts_input(&cluster.dir, 4000);
    let id = submit_counts(&cluster, &input);
    cluster.wait_for_state(&id, "RUNNING");
    wait_for_checkpoint(&cluster);
    let job_manager = cluster.job_manager_pid();
    signal(job_manager, "STOP");
    // Each TaskManager gives the silent JobManager up and stops its worker.
    let stopped = std::time::Instant::now();
    let workers = |cluster: &Cluster| -> usize {
        (0..2)
            .map(|tm| children_of(cluster.task_manager_pid(tm)).len())
            .sum()
    };
    while workers(&cluster) > 0 {
        assert!(
            stopped.elapsed() < HEARTBEAT_TIMEOUT + std::time::Duration::from_secs(1),
            "workers still run after {:?}\n{}",
            stopped.elapsed(),
            cluster.logs()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    signal(job_manager, "CONT");
    cluster.wait_for_state(&id, "FINISHED");
    let logs = cluster.logs();
    assert!(logs.contains("heartbeat.timeout"), "{logs}");
    assert_committed_exactly_once(&cluster, &input);
}

#[test]
fn every_worker_of_a_restarted_attempt_restores_the_one_checkpoint_the_job_manager_chose() {
    let mut cluster = Cluster::start("one-restore-point", 2, 1);
    let input = write_counts_input(&cluster.dir, 8000);
    let id = submit_counts(&cluster, &input);
    cluster.wait_for_state(&id, "RUNNING");
    wait_for_checkpoint(&cluster);
    let mut victim = cluster.task_managers.remove(1);
    victim.kill().unwrap();
    victim.wait().unwrap();
    cluster.add_task_manager(1, &[]);
    // The restarted attempt's workers: both were told the same exact chk-<n>.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let restore_points = loop {
        let points: Vec<String> = (0..2)
            .flat_map(|tm| children_of(cluster.task_manager_pid(tm)))
            .filter_map(|worker| {
                let environ = std::fs::read(format!("/proc/{worker}/environ")).ok()?;
                environ
                    .split(|&b| b == 0)
                    .find_map(|entry| entry.strip_prefix(b"SLUICE_RESTORE_FROM="))
                    .map(|value| String::from_utf8_lossy(value).into_owned())
            })
            .collect();
        if points.len() == 2 {
            break points;
        }
        assert!(std::time::Instant::now() < deadline, "{}", cluster.logs());
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(restore_points[0], restore_points[1]);
    let exact = Path::new(&restore_points[0]);
    assert!(
        exact.starts_with(cluster.dir.join("checkpoints").join(&id))
            && exact
                .file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with("chk-")),
        "{}",
        exact.display()
    );
    cluster.wait_for_state(&id, "FINISHED");
    assert_committed_exactly_once(&cluster, &input);
}
