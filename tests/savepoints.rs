//! Savepoints as a user takes them: stop a job with a savepoint at parallelism 2, resume it at
//! 1, 3 and 4, and get exactly the output of an uninterrupted run; savepoints of a running job,
//! which commit nothing a restart would write again; and restoring into a job that lost a
//! stateful operator.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

mod common;

use sluice::prelude::*;
use sluice::runtime::checkpoint::RestartStrategy;
use sluice::sinks::{ExactlyOnceFileSink, TextEncoder};

fn temp_dir(name: &str) -> PathBuf {
    common::temp_dir("savepoints", name)
}

fn write_input(dir: &Path, lines: u64) -> PathBuf {
    let text: String = (0..lines)
        .map(|i| format!("k{},{}\n", (i * 31) % 11, i % 17))
        .collect();
    let path = dir.join("input.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// The counting job at `parallelism`; `slow` makes it take about 0.4 ms per record, in small
/// buffers, so records flow downstream while the source is still reading.
fn counts_job(
    env: &StreamExecutionEnvironment,
    input: &Path,
    out: &Path,
    parallelism: usize,
    slow: bool,
) {
    env.set_parallelism(parallelism);
    if slow {
        env.set_buffer_size(16);
    }
    common::counts_job(env, input, out, move |_| {
        if slow {
            std::thread::sleep(Duration::from_micros(400));
        }
    });
}

/// Waits until the job's keyed counts received `records` records (at most 20 s).
fn wait_for_progress(client: &JobClient, records: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        let counted = client
            .metrics()
            .operator_summaries()
            .iter()
            .find(|o| o.uid == "counts")
            .map_or(0, |o| o.records_in);
        if counted >= records {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("the job made no progress");
}

fn checkpointing_env(dir: &Path) -> StreamExecutionEnvironment {
    let env = StreamExecutionEnvironment::new();
    env.enable_checkpointing(Duration::from_secs(3600));
    env.set_checkpoint_storage(dir.join("ckpt").to_str().unwrap());
    env
}

#[test]
fn stopped_with_a_savepoint_at_2_resumed_at_1_3_and_4_equals_the_uninterrupted_run() {
    let dir = temp_dir("rescale");
    let input = write_input(&dir, 2_000);
    let clean = dir.join("clean");
    let env = checkpointing_env(&dir.join("c"));
    counts_job(&env, &input, &clean, 2, false);
    env.execute("uninterrupted").unwrap();
    let expected = common::committed_lines(&[&clean]);
    assert_eq!(expected.len(), 2_000);

    let first_out = dir.join("first");
    let env = checkpointing_env(&dir.join("a"));
    counts_job(&env, &input, &first_out, 2, true);
    let client = env.execute_async("stopped").unwrap();
    wait_for_progress(&client, 300);
    let savepoint = client
        .stop_with_savepoint(dir.join("savepoints").to_str().unwrap())
        .unwrap();
    client.wait().expect("a stopped job ends well");
    let before = common::committed_lines(&[&first_out]);
    assert!(
        !before.is_empty() && before.len() < 2_000,
        "stopped mid-way ({} lines)",
        before.len()
    );

    // Savepoints are relocatable: move it before restoring.
    let moved = dir.join("moved-savepoint");
    std::fs::rename(&savepoint, &moved).unwrap();
    let savepoint = moved.to_str().unwrap().to_string();
    for parallelism in [1, 3, 4] {
        let out = dir.join(format!("resumed-{parallelism}"));
        let env = checkpointing_env(&dir.join(format!("r{parallelism}")));
        env.restore_from(&savepoint);
        counts_job(&env, &input, &out, parallelism, false);
        env.execute("resumed").unwrap();
        assert_eq!(
            common::committed_lines(&[&first_out, &out]),
            expected,
            "resumed at parallelism {parallelism}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_savepoint_of_a_running_job_leaves_it_running() {
    let dir = temp_dir("running");
    let input = write_input(&dir, 1_000);
    let out = dir.join("out");
    let env = checkpointing_env(&dir);
    counts_job(&env, &input, &out, 2, true);
    let client = env.execute_async("running").unwrap();
    wait_for_progress(&client, 100);
    let savepoint = client
        .trigger_savepoint(dir.join("savepoints").to_str().unwrap())
        .unwrap();
    assert!(
        Path::new(&savepoint).join("_metadata").exists(),
        "{savepoint}"
    );
    client.wait().unwrap();
    assert_eq!(
        common::committed_lines(&[&out]).len(),
        1_000,
        "the job ran to its end"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn savepoints_of_two_jobs_into_one_directory_are_kept_apart() {
    let dir = temp_dir("two-jobs");
    let input = write_input(&dir, 600);
    let savepoints = dir.join("savepoints");
    let mut taken = Vec::new();
    for job in ["a", "b"] {
        let env = checkpointing_env(&dir);
        let id = JobId::random();
        env.set_job_id(id);
        counts_job(&env, &input, &dir.join(job), 1, true);
        let client = env.execute_async(job).unwrap();
        wait_for_progress(&client, 50);
        let savepoint = client
            .stop_with_savepoint(savepoints.to_str().unwrap())
            .unwrap();
        client.wait().unwrap();
        // Flink's name: savepoint-<first 6 digits of the job id>-<12 random digits>.
        let name = Path::new(&savepoint).file_name().unwrap().to_str().unwrap();
        let prefix = format!("savepoint-{}-", &id.to_string()[..6]);
        assert!(
            name.starts_with(&prefix) && name.len() == prefix.len() + 12,
            "{savepoint}"
        );
        taken.push((job, savepoint));
    }
    assert_ne!(taken[0].1, taken[1].1);
    // Each savepoint resumes its own job: each job's two runs count the input exactly once.
    let mut outputs = Vec::new();
    for (job, savepoint) in &taken {
        let env = checkpointing_env(&dir.join(format!("{job}-resumed")));
        env.restore_from(savepoint);
        let resumed = dir.join(format!("{job}-out"));
        counts_job(&env, &input, &resumed, 1, false);
        env.execute("resumed").unwrap();
        outputs.push(common::committed_lines(&[&dir.join(job), &resumed]));
    }
    assert_eq!(outputs[0].len(), 600);
    assert_eq!(outputs[0], outputs[1]);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_intermediate_savepoint_commits_nothing_that_a_restart_writes_again() {
    // Recovery restores checkpoints, never intermediate savepoints: output a savepoint
    // committed would be written a second time by the restarted job (Flink commits side effects
    // only on checkpoints and stop-with-savepoint).
    let dir = temp_dir("savepoint-then-failure");
    let input = write_input(&dir, 1_000);
    let clean = dir.join("clean");
    let env = checkpointing_env(&dir.join("c"));
    counts_job(&env, &input, &clean, 2, false);
    env.execute("uninterrupted").unwrap();
    let expected = common::committed_lines(&[&clean]);

    let out = dir.join("out");
    // Checkpoints every hour: the failure comes before the first one.
    let env = checkpointing_env(&dir.join("a"));
    env.set_parallelism(2);
    env.set_buffer_size(16);
    env.set_restart_strategy(RestartStrategy::FixedDelay {
        attempts: 1,
        delay: Duration::from_millis(5),
    });
    let fail = Arc::new(AtomicBool::new(false));
    let armed = Arc::clone(&fail);
    common::counts_job(&env, &input, &out, move |_| {
        if armed.swap(false, Ordering::SeqCst) {
            panic!("injected failure after the savepoint");
        }
        std::thread::sleep(Duration::from_micros(400));
    });
    let client = env.execute_async("savepoint then failure").unwrap();
    wait_for_progress(&client, 100);
    client
        .trigger_savepoint(dir.join("savepoints").to_str().unwrap())
        .unwrap();
    fail.store(true, Ordering::SeqCst);
    client.wait().expect("the job restarts once and finishes");
    assert_eq!(common::committed_lines(&[&out]), expected);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn state_of_a_removed_operator_is_refused_unless_allowed() {
    let dir = temp_dir("removed");
    let input = write_input(&dir, 300);
    let env = checkpointing_env(&dir.join("a"));
    counts_job(&env, &input, &dir.join("out-a"), 1, true);
    let client = env.execute_async("with counts").unwrap();
    wait_for_progress(&client, 50);
    let savepoint = client
        .stop_with_savepoint(dir.join("savepoints").to_str().unwrap())
        .unwrap();
    client.wait().unwrap();

    // The same job without its keyed counts.
    let without_counts = |allow: bool| {
        let env = checkpointing_env(&dir.join(format!("b-{allow}")));
        env.restore_from(&savepoint);
        env.set_allow_non_restored_state(allow);
        env.read_text_file(&input)
            .uid("lines")
            .set_parallelism(1)
            .sink_to_committing(ExactlyOnceFileSink::new(
                dir.join(format!("out-b-{allow}")),
                TextEncoder,
            ))
            .uid("other-files");
        env.execute("without counts")
    };
    let error = without_counts(false).unwrap_err().to_string();
    assert!(error.contains("counts"), "{error}");
    without_counts(true).unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn savepoints_need_checkpointing() {
    let dir = temp_dir("no-checkpointing");
    let input = write_input(&dir, 10);
    let env = StreamExecutionEnvironment::new();
    counts_job(&env, &input, &dir.join("out"), 1, false);
    let client = env.execute_async("plain").unwrap();
    let error = client
        .trigger_savepoint(dir.join("sp").to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(error.contains("checkpointing"), "{error}");
    client.wait().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}
