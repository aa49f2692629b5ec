//! WordCount as a user runs it: `sluice word-count --input FILE --output OUT [-p N]` (the same
//! job as `cargo run --example word_count`).

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

fn temp_dir(name: &str) -> PathBuf {
    common::temp_dir("cli", name)
}

/// The expected counts, computed independently: lowercase, then runs of [a-z0-9].
fn reference(text: &str) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    let mut word = String::new();
    for c in text.to_lowercase().chars().chain(std::iter::once(' ')) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            word.push(c);
        } else if !word.is_empty() {
            *counts.entry(std::mem::take(&mut word)).or_insert(0) += 1;
        }
    }
    counts
}

fn parse_output(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .map(|line| {
            let (word, count) = line.rsplit_once(',').expect("word,count");
            (word.to_string(), count.parse().expect("a count"))
        })
        .collect()
}

fn sample_text() -> String {
    let vocabulary = [
        "Flink",
        "sluice",
        "STREAM",
        "state",
        "don't",
        "x9",
        "Ünïcode",
        "naïve",
        "2026",
    ];
    let mut text = String::new();
    for i in 0..20_000usize {
        let word = vocabulary[(i * 7 + i / 3) % vocabulary.len()];
        text.push_str(word);
        text.push_str(if i % 11 == 0 {
            ".\r\n"
        } else if i % 5 == 0 {
            ", "
        } else {
            " "
        });
    }
    text
}

#[test]
fn counts_words_like_the_reference_at_several_parallelisms() {
    let dir = temp_dir("counts");
    let input = dir.join("input.txt");
    let text = sample_text();
    std::fs::write(&input, &text).unwrap();
    let expected = reference(&text);
    for p in ["1", "2", "4"] {
        let output = dir.join(format!("out-{p}.csv"));
        let status = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["word-count", "--input"])
            .arg(&input)
            .arg("--output")
            .arg(&output)
            .args(["--parallelism", p])
            .status()
            .unwrap();
        assert!(status.success(), "p={p}");
        let actual = parse_output(&std::fs::read_to_string(&output).unwrap());
        assert_eq!(actual, expected, "p={p}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unreadable_input_is_a_clear_error_and_writes_nothing() {
    let dir = temp_dir("missing");
    let output = dir.join("out.csv");
    let result = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["word-count", "--input", "/no/such/input.txt", "--output"])
        .arg(&output)
        .output()
        .unwrap();
    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("/no/such/input.txt"), "{stderr}");
    assert!(!output.exists());
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "nothing written"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_arguments_are_explained() {
    let result = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("word-count")
        .output()
        .unwrap();
    assert!(!result.status.success());
    assert!(String::from_utf8_lossy(&result.stderr).contains("--input"));
}

#[test]
fn without_output_counts_are_printed_with_subtask_prefixes() {
    let dir = temp_dir("print");
    let input = dir.join("input.txt");
    std::fs::write(&input, "b a b\nc b\n").unwrap();
    let result = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["word-count", "-p", "2", "--input"])
        .arg(&input)
        .output()
        .unwrap();
    assert!(result.status.success());
    let stdout = String::from_utf8(result.stdout).unwrap();
    let mut lines: Vec<&str> = stdout.lines().map(|l| &l[3..]).collect();
    lines.sort();
    assert_eq!(lines, vec!["(\"a\", 1)", "(\"b\", 3)", "(\"c\", 1)"]);
    assert!(
        stdout
            .lines()
            .all(|l| l.starts_with("1> ") || l.starts_with("2> ")),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn ctrl_c_cancels_a_running_job_cleanly() {
    // Nothing listens on the port, so the socket job runs (and retries) until interrupted.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    drop(listener);
    let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["word-count", "--hostname", "127.0.0.1", "--port", &port])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let result = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!result.status.success());
    assert!(stderr.contains("job cancelled"), "{stderr}");
    assert!(
        stderr.contains("retrying"),
        "the socket source logs its retries: {stderr}"
    );
}
