//! The event-time windows job as a user runs it (`sluice event-time-windows …`, the same job as
//! `cargo run --example event_time_windows`): a case worked out by hand from Flink's rules, and
//! generated out-of-order data compared with the real Flink running the same job
//! (`benches/flink/EventTimeWindows.java`, with Flink from `scripts/install-flink.sh`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use sluice::core::random::SplitMix64;

fn temp_dir(name: &str) -> PathBuf {
    common::temp_dir("etw", name)
}

fn sorted_lines(path: &Path) -> Vec<String> {
    let mut lines: Vec<String> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    lines.sort();
    lines
}

/// Runs the job; returns (fired windows, late records, stderr), both sorted.
fn run_sluice(dir: &Path, input: &Path, flags: &[&str]) -> (Vec<String>, Vec<String>, String) {
    let (out, late) = (dir.join("out.txt"), dir.join("late.txt"));
    let result = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("event-time-windows")
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(&out)
        .arg("--late-output")
        .arg(&late)
        .args(flags)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr).into_owned();
    assert!(result.status.success(), "{stderr}");
    (sorted_lines(&out), sorted_lines(&late), stderr)
}

#[test]
fn tumbling_windows_with_lateness_follow_flinks_rules() {
    let dir = temp_dir("hand");
    let input = dir.join("in.txt");
    // Watermark after each record = max timestamp - 0 - 1. Flink 2.3 gives the same output.
    let lines = [
        "a,1,1",  // wm 0
        "a,5,2",  // wm 4
        "a,12,3", // wm 11: [0,10) fires with 2 records
        "a,8,4",  // late, but within the lateness of 5: [0,10) fires again with 3
        "bad line",
        "b,2,10", // wm stays 11: [0,10) of b is already past its end: fires at once
        "a,16,5", // wm 15: [0,10) is cleaned up (9 + 5 <= 15)
        "a,3,6",  // too late for [0,10): goes to the late output unchanged
    ];
    std::fs::write(&input, lines.join("\n")).unwrap();
    let flags = [
        "--window",
        "tumbling",
        "--size-ms",
        "10",
        "--out-of-orderness-ms",
        "0",
        "--allowed-lateness-ms",
        "5",
    ];
    for p in ["1", "2"] {
        let mut with_p = flags.to_vec();
        with_p.extend(["--parallelism", p]);
        let (out, late, stderr) = run_sluice(&dir, &input, &with_p);
        assert_eq!(
            out,
            vec!["a,0,10,2,3", "a,0,10,3,7", "a,10,20,2,8", "b,0,10,1,10"],
            "p={p}"
        );
        assert_eq!(late, vec!["a,3,6"], "p={p}");
        assert!(
            stderr.contains("line 5: malformed record \"bad line\""),
            "{stderr}"
        );
        assert!(stderr.contains("skipped 1 malformed line"), "{stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn session_windows_merge_and_late_records_refire_merged_sessions() {
    let dir = temp_dir("session");
    let input = dir.join("in.txt");
    let lines = [
        "k,0,1",  // session [0,10)
        "k,20,2", // session [20,30); wm 19: [0,10) fires
        "k,10,3", // [10,20) touches both sessions: they merge into [0,30), whose end is ahead
        "k,50,4", // wm 49: [0,30) fires with 3 records (checked against Flink 2.3)
        "k,45,5", // [45,55) merges with [50,60) -> [45,60)
    ];
    std::fs::write(&input, lines.join("\n")).unwrap();
    let flags = [
        "--window",
        "session",
        "--gap-ms",
        "10",
        "--out-of-orderness-ms",
        "0",
        "--allowed-lateness-ms",
        "100",
    ];
    let (out, late, _) = run_sluice(&dir, &input, &flags);
    assert_eq!(out, vec!["k,0,10,1,1", "k,0,30,3,6", "k,45,60,2,9"]);
    assert!(late.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn invalid_window_parameters_are_rejected() {
    let dir = temp_dir("invalid");
    let input = dir.join("in.txt");
    std::fs::write(&input, "a,1,1\n").unwrap();
    let result = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("event-time-windows")
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(dir.join("o"))
        .arg("--late-output")
        .arg(dir.join("l"))
        .args(["--window", "sliding", "--size-ms", "10"])
        .output()
        .unwrap();
    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        stderr.contains("sliding windows need 0 < size, 0 < slide"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A random number below `n`.
fn below(rng: &mut SplitMix64, n: u64) -> u64 {
    rng.next_u64() % n
}

/// Out-of-order events over many keys, with very late records, negative timestamps, signed
/// and zero-padded numbers, extreme values, lone `\r` line ends and a few malformed lines.
fn generate(seed: u64, records: usize) -> String {
    let mut rng = SplitMix64(seed);
    let mut text = String::new();
    let mut now: i64 = -3_000;
    for _ in 0..records {
        now += below(&mut rng, 25) as i64;
        let key = format!("key{}", below(&mut rng, 40));
        let timestamp = match below(&mut rng, 100) {
            0..=2 => now - 1_000 - below(&mut rng, 4_000) as i64,
            3..=32 => now - below(&mut rng, 300) as i64,
            _ => now,
        };
        let value = match below(&mut rng, 50) {
            0 => i64::MAX,
            1 => i64::MIN,
            _ => below(&mut rng, 200) as i64 - 60,
        };
        let written = match (below(&mut rng, 10), timestamp >= 0) {
            (0, true) => format!("+{timestamp}"),
            (1, true) => format!("00{timestamp}"),
            _ => timestamp.to_string(),
        };
        text.push_str(&format!("{key},{written},{value}"));
        text.push_str(if below(&mut rng, 40) == 0 { "\r" } else { "\n" });
        if below(&mut rng, 200) == 0 {
            text.push_str(
                ["oops", "k,1", "k,1,2,3", "k,x,1", "", "k, 5,1", "k,5,"]
                    [below(&mut rng, 7) as usize],
            );
            text.push('\n');
        }
    }
    text
}

#[test]
fn matches_real_flink_on_generated_out_of_order_data() {
    if common::required(
        "FLINK_HOME",
        "Apache Flink 2.3 (scripts/install-flink.sh)",
        "matches_real_flink_on_generated_out_of_order_data",
    )
    .is_none()
    {
        return;
    }
    let runner = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/flink/run.sh");
    let dir = temp_dir("flink");
    let input = dir.join("in.txt");
    std::fs::write(&input, generate(42, 4_000)).unwrap();
    let cases: [&[&str]; 6] = [
        &[
            "--window",
            "tumbling",
            "--size-ms",
            "100",
            "--out-of-orderness-ms",
            "50",
            "--allowed-lateness-ms",
            "0",
        ],
        &[
            "--window",
            "tumbling",
            "--size-ms",
            "250",
            "--out-of-orderness-ms",
            "20",
            "--allowed-lateness-ms",
            "400",
            "--parallelism",
            "2",
        ],
        &[
            "--window",
            "sliding",
            "--size-ms",
            "300",
            "--slide-ms",
            "100",
            "--out-of-orderness-ms",
            "100",
            "--allowed-lateness-ms",
            "0",
        ],
        &[
            "--window",
            "sliding",
            "--size-ms",
            "200",
            "--slide-ms",
            "70",
            "--out-of-orderness-ms",
            "30",
            "--allowed-lateness-ms",
            "250",
            "--parallelism",
            "3",
        ],
        &[
            "--window",
            "session",
            "--gap-ms",
            "60",
            "--out-of-orderness-ms",
            "100",
            "--allowed-lateness-ms",
            "0",
        ],
        &[
            "--window",
            "session",
            "--gap-ms",
            "35",
            "--out-of-orderness-ms",
            "10",
            "--allowed-lateness-ms",
            "500",
            "--parallelism",
            "2",
        ],
    ];
    for flags in cases {
        let (out, late, _) = run_sluice(&dir, &input, flags);
        let (flink_out, flink_late) = (dir.join("flink-out.txt"), dir.join("flink-late.txt"));
        let status = Command::new(&runner)
            .arg("EventTimeWindows")
            .arg("--input")
            .arg(&input)
            .arg("--output")
            .arg(&flink_out)
            .arg("--late-output")
            .arg(&flink_late)
            .args(flags)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "Flink failed for {flags:?}");
        assert!(!out.is_empty(), "{flags:?} fired nothing");
        assert_eq!(
            out,
            sorted_lines(&flink_out),
            "fired windows differ for {flags:?}"
        );
        assert_eq!(
            late,
            sorted_lines(&flink_late),
            "late records differ for {flags:?}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
