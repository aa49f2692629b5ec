//! Choosing a state backend by its options, as a user does: a bad option fails the job naming
//! it, and a build without the `rocksdb` feature refuses `state.backend.type: rocksdb` at once,
//! saying which feature to enable (through the API and through the `sluice` command). The test
//! command runs this file once without the feature, since the rest of the suite enables it.

mod common;

use sluice::prelude::*;

#[test]
fn a_bad_backend_option_fails_the_job_naming_it() {
    let env = StreamExecutionEnvironment::new();
    env.set_state_option("state.backend.type", "leveldb");
    env.from_collection(vec![1, 2, 3])
        .sink_to(sluice::sinks::DiscardingSink);
    let error = env.execute("bad option").unwrap_err().to_string();
    assert!(error.contains("unknown state backend 'leveldb'"), "{error}");
}

#[cfg(not(feature = "rocksdb"))]
#[test]
fn rocksdb_without_its_feature_fails_at_once_naming_the_feature() {
    use std::process::Command;
    use std::time::{Duration, Instant};

    let env = StreamExecutionEnvironment::new();
    env.set_state_option("state.backend.type", "rocksdb");
    // A source that never ends: the job must fail before it runs, not after.
    env.from_sequence(0, i64::MAX)
        .sink_to(sluice::sinks::DiscardingSink);
    let started = Instant::now();
    let error = env.execute("rocksdb wanted").unwrap_err().to_string();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(error.contains("state.backend.type"), "{error}");
    assert!(error.contains("--features rocksdb"), "{error}");

    let dir = common::temp_dir("backend-options", "cli");
    let input = dir.join("input.csv");
    std::fs::write(&input, "a,1\nb,2\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("exactly-once-counts")
        .arg("--input")
        .arg(&input)
        .arg("--output-dir")
        .arg(dir.join("out"))
        .arg("--checkpoint-dir")
        .arg(dir.join("ckpt"))
        .args([
            "--checkpoint-interval-ms",
            "100",
            "--state-backend",
            "rocksdb",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("--features rocksdb"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}
