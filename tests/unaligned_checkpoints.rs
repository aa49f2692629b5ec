//! Unaligned checkpoints as a user sees them: with `execution.checkpointing.unaligned.enabled`
//! a backpressured job's checkpoints store the in-flight records their barriers overtook, a
//! job that fails at random points resumes from them with exactly-once output, and such a
//! checkpoint refuses to be restored at another parallelism (a savepoint rescales).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

mod common;

use sluice::prelude::*;
use sluice::runtime::checkpoint::RestartStrategy;
use sluice::sinks::{ExactlyOnceFileSink, TextEncoder};
use sluice::state::CheckpointStorage;

fn temp_dir(name: &str) -> PathBuf {
    common::temp_dir("unaligned", name)
}

/// `lines` lines `key,value` over 5 keys; returns the file and the lines a fault-free run
/// commits (each record's key, running count and running sum), sorted.
fn write_input(dir: &Path, lines: u64) -> (PathBuf, Vec<String>) {
    let mut text = String::new();
    let mut running = std::collections::BTreeMap::new();
    let mut expected = Vec::new();
    for i in 0..lines {
        let key = format!("k{}", i % 5);
        let value = i % 11 + 1;
        text.push_str(&format!("{key},{value}\n"));
        let (count, sum) = running.entry(key.clone()).or_insert((0u64, 0u64));
        *count += 1;
        *sum += value;
        expected.push(format!("{key},{count},{sum}"));
    }
    let path = dir.join("input.csv");
    std::fs::write(&path, text).unwrap();
    expected.sort();
    (path, expected)
}

/// Asserts that `got` holds exactly the lines of `expected` (as multisets), naming the first
/// differences.
fn assert_same_lines(got: &[String], expected: &[String], what: &str) {
    if got == expected {
        return;
    }
    let mut balance = std::collections::BTreeMap::<&String, i64>::new();
    expected
        .iter()
        .for_each(|l| *balance.entry(l).or_default() += 1);
    got.iter().for_each(|l| *balance.entry(l).or_default() -= 1);
    let missing: Vec<_> = balance.iter().filter(|(_, n)| **n > 0).take(5).collect();
    let extra: Vec<_> = balance.iter().filter(|(_, n)| **n < 0).take(5).collect();
    panic!(
        "{what}: {} lines committed, {} expected; missing {missing:?}, extra {extra:?}",
        got.len(),
        expected.len()
    );
}

/// When and whether the slow step fails: at the `fail_at`-th record it sees while armed.
#[derive(Clone)]
struct Fault {
    fail_at: u64,
    seen: Arc<AtomicU64>,
    armed: Arc<AtomicBool>,
}

impl Fault {
    fn at(fail_at: Option<u64>) -> Self {
        Fault {
            fail_at: fail_at.unwrap_or(0),
            seen: Arc::default(),
            armed: Arc::new(AtomicBool::new(fail_at.is_some())),
        }
    }

    fn check(&self) {
        let seen = self.seen.fetch_add(1, Ordering::SeqCst) + 1;
        if seen == self.fail_at && self.armed.swap(false, Ordering::SeqCst) {
            panic!("injected failure at record {seen}");
        }
    }
}

/// An environment checkpointing unaligned every 20 ms into `dir/ckpt`, with small buffers.
fn unaligned_env(dir: &Path, parallelism: usize) -> StreamExecutionEnvironment {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(parallelism);
    env.set_buffer_size(8);
    env.enable_checkpointing(Duration::from_millis(20));
    env.set_checkpoint_storage(dir.join("ckpt").to_str().unwrap());
    env.set_checkpoint_option("execution.checkpointing.unaligned.enabled", "true");
    env
}

/// Counts and sums per key behind a keyed exchange, slowly (so the fast source is
/// backpressured and every barrier overtakes queued records), committing `key,count,sum`
/// lines into `out` exactly once.
fn slow_counts(env: &StreamExecutionEnvironment, input: &Path, out: &Path, fault: Fault) {
    env.read_text_file(input)
        .uid("lines")
        .set_parallelism(1)
        .map(|line: String| common::parse_count(&line))
        .uid("parse")
        .set_parallelism(1)
        .key_by(|(key, _, _): &common::Count| key.clone())
        .reduce(move |a: common::Count, b: common::Count| {
            fault.check();
            std::thread::sleep(Duration::from_micros(200));
            common::add_counts(a, b)
        })
        .uid("counts")
        .map(common::format_count)
        .uid("format")
        .sink_to_committing(ExactlyOnceFileSink::new(out, TextEncoder))
        .uid("files");
}

#[test]
fn backpressured_checkpoints_store_the_records_their_barriers_overtook() {
    let dir = temp_dir("backpressure");
    let (input, expected) = write_input(&dir, 2_000);
    let out = dir.join("out");
    let env = unaligned_env(&dir, 2);
    slow_counts(&env, &input, &out, Fault::at(None));
    let result = env.execute("unaligned counts").unwrap();
    assert_same_lines(&common::committed_lines(&[&out]), &expected, "clean run");
    let checkpoints = &result.checkpoints;
    assert!(checkpoints.len() >= 2, "{checkpoints:?}");
    let (last, periodic) = checkpoints.split_last().unwrap();
    assert!(periodic.iter().all(|c| c.unaligned), "{checkpoints:?}");
    assert!(!last.unaligned, "the final checkpoint covers every record");
    assert!(
        checkpoints.iter().any(|c| c.in_flight_bytes > 0),
        "barriers overtook queued records: {checkpoints:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs the slow counts with a restart strategy, failing once at `fail_at`; returns every
/// committed line, sorted.
fn committed_after_failure(
    dir: &Path,
    input: &Path,
    parallelism: usize,
    fail_at: u64,
) -> Vec<String> {
    let out = dir.join("out");
    let env = unaligned_env(dir, parallelism);
    env.set_restart_strategy(RestartStrategy::FixedDelay {
        attempts: 2,
        delay: Duration::from_millis(5),
    });
    let fault = Fault::at(Some(fail_at));
    slow_counts(&env, input, &out, fault.clone());
    env.execute("unaligned counts that fail").unwrap();
    assert!(!fault.armed.load(Ordering::SeqCst), "the failure happened");
    common::committed_lines(&[&out])
}

#[test]
fn jobs_failing_at_random_records_resume_from_unaligned_checkpoints_exactly_once() {
    let dir = temp_dir("random-failures");
    let (input, expected) = write_input(&dir, 1_200);
    let mut state = 2_718u64;
    for trial in 0..20 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let fail_at = 1 + (state >> 33) % 1_200;
        let parallelism = 1 + trial % 3;
        let got = committed_after_failure(
            &dir.join(format!("trial-{trial}")),
            &input,
            parallelism,
            fail_at,
        );
        let what = format!("trial {trial}: failure at record {fail_at}, p={parallelism}");
        assert_same_lines(&got, &expected, &what);
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn in_flight_data_restores_at_its_parallelism_and_refuses_another() {
    let dir = temp_dir("rescale");
    let (input, expected) = write_input(&dir, 2_000);
    let out = dir.join("out");
    let checkpoints = dir.join("ckpt");

    let env = unaligned_env(&dir, 2);
    env.set_restart_strategy(RestartStrategy::None);
    slow_counts(&env, &input, &out, Fault::at(Some(1_500)));
    let error = env.execute("fails").unwrap_err().to_string();
    assert!(error.contains("injected failure"), "{error}");
    let latest = CheckpointStorage::open(common::job_checkpoints(&checkpoints).to_str().unwrap())
        .unwrap()
        .latest()
        .unwrap()
        .expect("a completed checkpoint");
    assert!(
        latest.operators["counts"]
            .iter()
            .any(|s| !s.in_flight.is_empty()),
        "checkpoint {} holds in-flight records",
        latest.metadata.checkpoint_id
    );

    let env = unaligned_env(&dir, 3);
    env.restore_from(common::job_checkpoints(&checkpoints).to_str().unwrap());
    slow_counts(&env, &input, &out, Fault::at(None));
    let error = env.execute("rescaled").unwrap_err().to_string();
    assert!(
        error.contains("in-flight") && error.contains("savepoint") && error.contains("'counts'"),
        "{error}"
    );

    let env = unaligned_env(&dir, 2);
    env.restore_from(common::job_checkpoints(&checkpoints).to_str().unwrap());
    slow_counts(&env, &input, &out, Fault::at(None));
    env.execute("resumed").unwrap();
    assert_same_lines(&common::committed_lines(&[&out]), &expected, "resumed");
    let _ = std::fs::remove_dir_all(dir);
}

/// Tags every line of two inputs through a slow two-input operator (so both sources are
/// backpressured), committing `input:line` exactly once; `fault` fails the operator once.
fn tagged_union(env: &StreamExecutionEnvironment, inputs: [&Path; 2], out: &Path, fault: Fault) {
    let second = env
        .read_text_file(inputs[1])
        .uid("second")
        .set_parallelism(1);
    let (fault1, fault2) = (fault.clone(), fault);
    env.read_text_file(inputs[0])
        .uid("first")
        .set_parallelism(1)
        .connect(second)
        .map(
            move |line: String| {
                fault1.check();
                std::thread::sleep(Duration::from_micros(150));
                format!("a:{line}")
            },
            move |line: String| {
                fault2.check();
                std::thread::sleep(Duration::from_micros(150));
                format!("b:{line}")
            },
        )
        .uid("tag")
        .sink_to_committing(ExactlyOnceFileSink::new(out, TextEncoder))
        .uid("files");
}

#[test]
fn two_input_tasks_replay_the_in_flight_records_of_both_inputs() {
    let dir = temp_dir("two-inputs");
    let (first, _) = write_input(&dir, 1_000);
    let second = dir.join("second.csv");
    std::fs::rename(&first, &second).unwrap();
    let (first, _) = write_input(&dir, 900);
    let mut expected: Vec<String> = std::fs::read_to_string(&first)
        .unwrap()
        .lines()
        .map(|l| format!("a:{l}"))
        .chain(
            std::fs::read_to_string(&second)
                .unwrap()
                .lines()
                .map(|l| format!("b:{l}")),
        )
        .collect();
    expected.sort();
    for (trial, fail_at) in [(0, 150u64), (1, 700), (2, 1_400)] {
        let run = dir.join(format!("trial-{trial}"));
        let out = run.join("out");
        let env = unaligned_env(&run, 2);
        env.set_restart_strategy(RestartStrategy::FixedDelay {
            attempts: 2,
            delay: Duration::from_millis(5),
        });
        let fault = Fault::at(Some(fail_at));
        tagged_union(&env, [&first, &second], &out, fault.clone());
        env.execute("two inputs").unwrap();
        assert!(!fault.armed.load(Ordering::SeqCst), "the failure happened");
        let what = format!("trial {trial}: failure at record {fail_at}");
        assert_same_lines(&common::committed_lines(&[&out]), &expected, &what);
    }
    let _ = std::fs::remove_dir_all(dir);
}
