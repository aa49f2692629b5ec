//! Checkpoints as a user sees them: a checkpointing job writes completed checkpoints, and a
//! job that failed resumes from the latest one with its keyed state and its source positions,
//! so every record counts exactly once — at the same and at another parallelism.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

mod common;

use sluice::prelude::*;
use sluice::runtime::checkpoint::RestartStrategy;

fn temp_dir(name: &str) -> PathBuf {
    common::temp_dir("checkpoints", name)
}

/// `lines` lines `key,value` over 7 keys; returns the file and each key's total.
fn write_input(dir: &Path, lines: u64) -> (PathBuf, BTreeMap<String, u64>) {
    let mut text = String::new();
    let mut totals = BTreeMap::new();
    for i in 0..lines {
        let key = format!("k{}", i % 7);
        let value = i % 13 + 1;
        text.push_str(&format!("{key},{value}\n"));
        *totals.entry(key).or_insert(0) += value;
    }
    let path = dir.join("input.csv");
    std::fs::write(&path, text).unwrap();
    (path, totals)
}

/// Reads `input`, sums values per key and collects every running sum; slows down so that
/// checkpoints complete while it runs, and panics at record `fail_at` while `armed` is set.
fn running_sums(
    env: &StreamExecutionEnvironment,
    input: &Path,
    fail_at: Option<(u64, Arc<AtomicBool>)>,
) -> sluice::sinks::CollectedValues<(String, u64)> {
    env.read_text_file(input)
        .uid("input")
        .map(move |line: String| {
            let (key, value) = line.split_once(',').expect("key,value");
            let value: u64 = value.parse().expect("a number");
            std::thread::sleep(Duration::from_micros(300));
            (key.to_string(), value)
        })
        .uid("parse")
        .key_by(|(key, _): &(String, u64)| key.clone())
        .reduce(move |a: (String, u64), b: (String, u64)| {
            if let Some((at, armed)) = &fail_at
                && a.1 + b.1 >= *at
                && armed.swap(false, Ordering::SeqCst)
            {
                panic!("injected failure");
            }
            (a.0, a.1 + b.1)
        })
        .uid("sums")
        .collect()
}

/// The highest running sum per key (sums only grow).
fn final_sums(values: Vec<(String, u64)>) -> BTreeMap<String, u64> {
    let mut sums = BTreeMap::new();
    for (key, sum) in values {
        let entry = sums.entry(key).or_insert(0);
        *entry = (*entry).max(sum);
    }
    sums
}

#[test]
fn a_checkpointing_job_writes_completed_checkpoints() {
    let dir = temp_dir("complete");
    let (input, totals) = write_input(&dir, 2_000);
    let checkpoints = dir.join("ckpt");
    let job_id = JobId::random();
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    env.enable_checkpointing(Duration::from_millis(50));
    env.set_checkpoint_storage(checkpoints.to_str().unwrap());
    env.set_job_id(job_id);
    let sums = running_sums(&env, &input, None);
    env.execute("checkpointed sums").unwrap();
    assert_eq!(final_sums(sums.take()), totals);
    // Flink's layout: <dir>/<job id>/{chk-<n>, shared, taskowned}.
    let jobs: Vec<_> = std::fs::read_dir(&checkpoints)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(jobs, vec![job_id.to_string()]);
    let mut entries: Vec<_> = std::fs::read_dir(checkpoints.join(&jobs[0]))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(entries.len(), 3, "one retained checkpoint: {entries:?}");
    assert!(entries[0].starts_with("chk-"), "{entries:?}");
    assert_eq!(entries[1..], ["shared", "taskowned"]);
    assert!(
        checkpoints
            .join(&jobs[0])
            .join(&entries[0])
            .join("_metadata")
            .exists(),
        "{entries:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

fn fail_then_resume(name: &str, first_parallelism: usize, second_parallelism: usize) {
    let dir = temp_dir(name);
    let (input, totals) = write_input(&dir, 3_000);
    let checkpoints = dir.join("ckpt");
    let armed = Arc::new(AtomicBool::new(true));
    // One job run twice: a fixed id, so the second run finds the first one's checkpoints.
    let job_id = JobId::random();

    let env = StreamExecutionEnvironment::new();
    env.set_job_id(job_id);
    env.set_parallelism(first_parallelism);
    env.enable_checkpointing(Duration::from_millis(40));
    env.set_checkpoint_storage(checkpoints.to_str().unwrap());
    env.set_restart_strategy(RestartStrategy::None);
    let first = running_sums(&env, &input, Some((2_500, Arc::clone(&armed))));
    let error = env.execute("sums that fail").unwrap_err().to_string();
    assert!(error.contains("injected failure"), "{error}");
    assert!(!armed.load(Ordering::SeqCst), "the failure was injected");
    let before = final_sums(first.take());

    let env = StreamExecutionEnvironment::new();
    env.set_job_id(job_id);
    env.set_parallelism(second_parallelism);
    env.enable_checkpointing(Duration::from_millis(40));
    env.set_checkpoint_storage(checkpoints.to_str().unwrap());
    env.restore_from(checkpoints.to_str().unwrap());
    let second = running_sums(&env, &input, None);
    env.execute("sums resumed").unwrap();
    let after = second.take();
    assert!(
        !after.is_empty() && after.len() < 3_000,
        "the resumed job reads on from the checkpoint ({} sums)",
        after.len()
    );
    assert_eq!(
        final_sums(after),
        totals,
        "every record counted exactly once (before the failure: {before:?})"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_failed_job_resumes_from_its_latest_checkpoint_exactly_once() {
    fail_then_resume("resume", 2, 2);
}

#[test]
fn a_failed_job_resumes_at_another_parallelism() {
    fail_then_resume("rescale-up", 2, 3);
    fail_then_resume("rescale-down", 3, 1);
}

#[test]
fn a_restart_strategy_restarts_the_failed_job_from_its_latest_checkpoint() {
    let dir = temp_dir("restart");
    let (input, totals) = write_input(&dir, 3_000);
    let armed = Arc::new(AtomicBool::new(true));
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    env.enable_checkpointing(Duration::from_millis(40));
    env.set_checkpoint_storage(dir.join("ckpt").to_str().unwrap());
    env.set_restart_option("restart-strategy.type", "fixed-delay");
    env.set_restart_option("restart-strategy.fixed-delay.attempts", "2");
    env.set_restart_option("restart-strategy.fixed-delay.delay", "10 ms");
    let sums = running_sums(&env, &input, Some((2_500, Arc::clone(&armed))));
    let client = env.execute_async("sums that restart").unwrap();
    client.wait().unwrap();
    assert!(!armed.load(Ordering::SeqCst), "the failure was injected");
    // The collect sink is not transactional: running sums after the checkpoint repeat, but
    // the restart resumed from the checkpoint (not from the start, which would emit another
    // 3,000 sums), and its state made the final sums exact.
    let values = sums.take();
    assert!(values.len() < 3_000 + 2_000, "{} sums", values.len());
    assert_eq!(final_sums(values), totals);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn without_restarts_left_the_failure_is_the_jobs_result() {
    let dir = temp_dir("no-restarts-left");
    let (input, _) = write_input(&dir, 500);
    let env = StreamExecutionEnvironment::new();
    env.enable_checkpointing(Duration::from_millis(20));
    env.set_checkpoint_storage(dir.join("ckpt").to_str().unwrap());
    env.set_restart_strategy(RestartStrategy::FixedDelay {
        attempts: 1,
        delay: Duration::from_millis(1),
    });
    env.read_text_file(&input)
        .map(|line: String| -> String { panic!("always failing on {line}") })
        .collect();
    let error = env.execute("always failing").unwrap_err().to_string();
    assert!(error.contains("always failing"), "{error}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn restoring_from_a_directory_without_checkpoints_is_a_clear_error() {
    let dir = temp_dir("empty");
    let (input, _) = write_input(&dir, 10);
    let env = StreamExecutionEnvironment::new();
    env.restore_from(dir.join("nothing-here").to_str().unwrap());
    let _ = running_sums(&env, &input, None);
    let error = env.execute("no checkpoint").unwrap_err().to_string();
    assert!(error.contains("no completed checkpoint"), "{error}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs the counting job through the exactly-once file sink into `dir/out`, checkpointing into
/// `dir/ckpt`; `fail_at` makes the parse step panic once, at that record, in the first
/// attempt. Returns every committed line, sorted.
fn committed_counts(
    dir: &Path,
    input: &Path,
    parallelism: usize,
    fail_at: Option<u64>,
) -> Vec<String> {
    committed_counts_in(dir, &dir.join("ckpt"), input, parallelism, fail_at)
}

/// [`committed_counts`] checkpointing into `checkpoints`.
fn committed_counts_in(
    dir: &Path,
    checkpoints: &Path,
    input: &Path,
    parallelism: usize,
    fail_at: Option<u64>,
) -> Vec<String> {
    let out = dir.join("out");
    let armed = Arc::new(AtomicBool::new(fail_at.is_some()));
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(parallelism);
    env.set_buffer_size(32);
    env.enable_checkpointing(Duration::from_millis(15));
    env.set_checkpoint_storage(checkpoints.to_str().unwrap());
    env.set_restart_strategy(RestartStrategy::FixedDelay {
        attempts: 3,
        delay: Duration::from_millis(5),
    });
    let mut seen = 0u64;
    common::counts_job(&env, input, &out, move |_| {
        seen += 1;
        if fail_at == Some(seen) && armed.swap(false, Ordering::SeqCst) {
            panic!("injected failure at record {seen}");
        }
        std::thread::sleep(Duration::from_micros(50));
    });
    env.execute("counts").unwrap();
    common::committed_lines(&[&out])
}

#[test]
fn a_function_panicking_at_a_random_record_restarts_with_exactly_once_output() {
    let dir = temp_dir("random-panics");
    let (input, _) = write_input(&dir, 1_500);
    let expected = committed_counts(&dir.join("clean"), &input, 2, None);
    assert_eq!(expected.len(), 1_500);
    let mut state = 12_345u64;
    for trial in 0..20 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        let fail_at = 1 + (state >> 33) % 1_500;
        let parallelism = 1 + trial % 3;
        let got = committed_counts(
            &dir.join(format!("trial-{trial}")),
            &input,
            parallelism,
            Some(fail_at),
        );
        assert_eq!(
            got, expected,
            "trial {trial}: failure at record {fail_at}, p={parallelism}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn two_jobs_sharing_a_checkpoint_directory_never_restore_each_others_state() {
    let dir = temp_dir("two-jobs");
    let shared = dir.join("ckpt");
    for input in ["a", "b"] {
        std::fs::create_dir_all(dir.join(input)).unwrap();
    }
    let inputs = [
        write_input(&dir.join("a"), 1_500).0,
        write_input(&dir.join("b"), 900).0,
    ];
    let expected: Vec<Vec<String>> = inputs
        .iter()
        .enumerate()
        .map(|(i, input)| committed_counts(&dir.join(format!("clean-{i}")), input, 2, None))
        .collect();
    // One after the other: the second job fails early, when the directory holds only the
    // first job's checkpoints.
    for (i, (input, fail_at)) in inputs.iter().zip([700, 20]).enumerate() {
        let got = committed_counts_in(
            &dir.join(format!("seq-{i}")),
            &shared,
            input,
            2,
            Some(fail_at),
        );
        assert_eq!(
            got, expected[i],
            "job {i} run after the other, failing at {fail_at}"
        );
    }
    // At the same time, each failing once.
    let runs: Vec<_> = inputs
        .iter()
        .zip([900, 400])
        .enumerate()
        .map(|(i, (input, fail_at))| {
            let (dir, shared, input) = (dir.clone(), shared.clone(), input.clone());
            std::thread::spawn(move || {
                let out = dir.join(format!("par-{i}"));
                committed_counts_in(&out, &shared, &input, 1 + i, Some(fail_at))
            })
        })
        .collect();
    for (i, run) in runs.into_iter().enumerate() {
        assert_eq!(
            run.join().unwrap(),
            expected[i],
            "job {i} run beside the other"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn checkpoints_that_keep_expiring_fail_the_job() {
    let dir = temp_dir("expiring");
    let (input, _) = write_input(&dir, 400);
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(1);
    env.set_buffer_size(8);
    env.enable_checkpointing(Duration::from_millis(10));
    env.set_checkpoint_storage(dir.join("ckpt").to_str().unwrap());
    env.set_checkpoint_option("execution.checkpointing.timeout", "5 ms");
    env.set_checkpoint_option("execution.checkpointing.tolerable-failed-checkpoints", "1");
    env.set_restart_strategy(RestartStrategy::None);
    // Each record takes 20 ms, so no barrier gets through in 5 ms.
    env.read_text_file(&input)
        .map(|line: String| {
            std::thread::sleep(Duration::from_millis(20));
            line
        })
        .collect();
    let error = env.execute("slow").unwrap_err().to_string();
    assert!(
        error.contains("checkpointing failed")
            && error.contains("expired")
            && error.contains("1 tolerated"),
        "{error}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_unusable_checkpoint_directory_is_a_clear_error() {
    let dir = temp_dir("unusable");
    let (input, _) = write_input(&dir, 10);
    let not_a_directory = dir.join("file");
    std::fs::write(&not_a_directory, "x").unwrap();
    let env = StreamExecutionEnvironment::new();
    env.enable_checkpointing(Duration::from_millis(10));
    env.set_checkpoint_storage(not_a_directory.to_str().unwrap());
    env.read_text_file(&input).collect();
    let error = env.execute("nowhere to write").unwrap_err().to_string();
    assert!(
        error.contains("checkpoint storage") && error.contains("file"),
        "{error}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_source_that_cannot_be_replayed_refuses_checkpointing_upfront() {
    let dir = temp_dir("not-replayable");
    let env = StreamExecutionEnvironment::new();
    env.enable_checkpointing(Duration::from_millis(10));
    env.set_checkpoint_storage(dir.join("ckpt").to_str().unwrap());
    env.from_iter(0..10i64).collect();
    let error = env.execute("iterator").unwrap_err().to_string();
    assert!(error.contains("cannot be replayed"), "{error}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn at_least_once_checkpoints_lose_nothing() {
    let dir = temp_dir("at-least-once");
    let (input, totals) = write_input(&dir, 3_000);
    let armed = Arc::new(AtomicBool::new(true));
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    env.enable_checkpointing(Duration::from_millis(30));
    env.set_checkpoint_storage(dir.join("ckpt").to_str().unwrap());
    env.set_checkpoint_option("execution.checkpointing.mode", "AT_LEAST_ONCE");
    env.set_restart_strategy(RestartStrategy::FixedDelay {
        attempts: 2,
        delay: Duration::from_millis(5),
    });
    let sums = running_sums(&env, &input, Some((2_500, Arc::clone(&armed))));
    env.execute("at least once").unwrap();
    assert!(!armed.load(Ordering::SeqCst), "the failure was injected");
    // Unblocked inputs may put records after a barrier into the snapshot, so a restart can
    // count them again — but never drops one.
    let sums = final_sums(sums.take());
    assert_eq!(
        sums.keys().collect::<Vec<_>>(),
        totals.keys().collect::<Vec<_>>()
    );
    for (key, total) in &totals {
        assert!(sums[key] >= *total, "{key}: {} < {total}", sums[key]);
    }
    let _ = std::fs::remove_dir_all(dir);
}
