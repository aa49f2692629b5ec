//! Window queries run as `sluice sql -f` runs them, killed (SIGKILL) in the middle and
//! restored from their latest checkpoint at another parallelism (`SET
//! 'execution.state-recovery.path'`), twice, commit exactly the rows of one uninterrupted run.
//! (The uninterrupted results are checked against Flink's in `tests/sql.rs`.)

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::sql_cases::{case_script, sst_files_under};
use common::{committed_lines, job_checkpoints, temp_dir};
use sluice::sql::session::SqlSession;

/// Rows of the generated input: enough for a debug build to take a second or more.
const ROWS: usize = 300_000;

/// Writes `bids.csv` as `tests/sql/gen_data.py` shapes it (rows up to 2 s out of order,
/// within the tables' 3-second watermark delay), but many more rows and with pauses.
fn write_bids(dir: &Path) {
    let mut state: u64 = 20_261_205;
    let mut next = |bound: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % bound
    };
    let channels = ["web", "app", "\"partner, inc\"", "Mobile", ""];
    let start = 1_704_067_200_000u64; // 2024-01-01 00:00:00 UTC
    let mut text = String::new();
    let mut t = 0u64;
    for i in 0..ROWS {
        // A pause now and then closes every session.
        t += if i % 5_000 == 0 { 60_000 } else { next(100) };
        let shown = t.saturating_sub(next(2_000));
        let auction = 1000 + next(41);
        let bidder = 2000 + next(501);
        let cents = 1 + next(100_000);
        let price = if i % 97 == 0 {
            "null".to_string()
        } else {
            format!("{}.{:02}", cents / 100, cents % 100)
        };
        let channel = channels[next(channels.len() as u64) as usize];
        let ts = chrono_free_timestamp(start + shown);
        text.push_str(&format!(
            "{auction},{bidder},{price},{channel},https://sluice.example/a/{auction}?b={bidder},{ts}\n"
        ));
    }
    std::fs::write(dir.join("bids.csv"), text).unwrap();
}

/// `yyyy-MM-dd HH:mm:ss.SSS` of epoch milliseconds within January 2024.
fn chrono_free_timestamp(millis: u64) -> String {
    let since = millis - 1_704_067_200_000;
    let (days, rest) = (since / 86_400_000, since % 86_400_000);
    assert!(days < 31, "the generated times stay in January 2024");
    format!(
        "2024-01-{:02} {:02}:{:02}:{:02}.{:03}",
        days + 1,
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1_000 % 60,
        rest % 1_000
    )
}

/// Starts `sluice sql -f` on `script` (written to `dir/name.sql`).
fn spawn(dir: &Path, name: &str, script: &str) -> Child {
    let file = dir.join(format!("{name}.sql"));
    std::fs::write(&file, script).unwrap();
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["sql", "-f"])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The committed part files in `out`.
fn committed_files(out: &Path) -> usize {
    std::fs::read_dir(out).map_or(0, |dir| {
        dir.flatten()
            .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
            .count()
    })
}

/// Waits until the job has committed output of its own into `out`, then kills `child`;
/// `false` when the job finished first (it must have succeeded).
fn kill_after_commit(mut child: Child, out: &Path) -> bool {
    let deadline = Instant::now() + Duration::from_secs(120);
    let before = committed_files(out);
    loop {
        if child.try_wait().unwrap().is_some() {
            wait_for_success(child, "a job finished before it was killed:");
            return false;
        }
        if committed_files(out) > before {
            child.kill().unwrap();
            child.wait().unwrap();
            return true;
        }
        assert!(
            Instant::now() < deadline,
            "no output committed within 2 minutes"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Runs `case` uninterrupted, then killed at parallelism 1, restored and killed at 3, and
/// restored to its end at 2, each run after the statements `first` (a setup called `label`),
/// and compares the committed rows. Returns how many RocksDB files the runs' checkpoints held.
fn check_recovery(case: &str, label: &str, data: &Path, first: &str) -> usize {
    let dir = temp_dir("sql-recovery", &format!("{case}-{label}"));
    let clean = dir.join("clean");
    SqlSession::new()
        .execute_script(&case_script(case, data, 2, &clean))
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    let expected = committed_lines(&[&clean]);
    assert!(!expected.is_empty(), "{case}: the query writes rows");

    let out = dir.join("out");
    let mut restore_from: Option<PathBuf> = None;
    let mut kills = 0;
    for (run, parallelism) in [1, 3, 2].into_iter().enumerate() {
        let checkpoints = dir.join(format!("checkpoints-{run}"));
        let mut script = format!(
            "{first}\nSET 'execution.checkpointing.interval' = '10 ms';\n\
             SET 'state.checkpoints.dir' = '{}';\n",
            checkpoints.display()
        );
        if let Some(path) = &restore_from {
            script.push_str(&format!(
                "SET 'execution.state-recovery.path' = '{}';\n",
                path.display()
            ));
        }
        script.push_str(&case_script(case, data, parallelism, &out));
        let child = spawn(&dir, &format!("run-{run}"), &script);
        if run == 2 {
            wait_for_success(child, case);
            break;
        }
        if !kill_after_commit(child, &out) {
            break;
        }
        kills += 1;
        restore_from = Some(job_checkpoints(&checkpoints));
    }
    assert!(kills >= 1, "{case}: the job was killed mid-way");
    let rows = committed_lines(&[&out]);
    if rows != expected {
        let (ours, theirs): (BTreeSet<&String>, BTreeSet<&String>) =
            (rows.iter().collect(), expected.iter().collect());
        let missing: Vec<_> = theirs.difference(&ours).take(3).collect();
        let extra: Vec<_> = ours.difference(&theirs).take(3).collect();
        panic!(
            "{case} after {kills} kills: {} rows, {} expected; missing {missing:?}; extra {extra:?}",
            rows.len(),
            expected.len()
        );
    }
    let sst_files = sst_files_under(&dir);
    let _ = std::fs::remove_dir_all(dir);
    sst_files
}

/// Waits for `child` to end, which it must do successfully.
fn wait_for_success(child: Child, what: &str) {
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{what} the job failed: {stderr}");
}

#[test]
fn window_queries_killed_and_restored_at_other_parallelisms_commit_the_same_rows() {
    let data = temp_dir("sql-recovery", "data");
    write_bids(&data);
    for case in [
        "tumble",
        "hop",
        "cumulate",
        "session",
        "legacy_tumble",
        "legacy_session",
        "window_join",
        "window_outer_join",
        "session_table",
        "join_time_bound",
    ] {
        check_recovery(case, "heap", &data, "");
    }
    let _ = std::fs::remove_dir_all(data);
}

/// A join bounded in time by a window aggregation's ends forgets the rows no window to come
/// can join: with watermarks every millisecond (so rows go all through the run), with its
/// state in memory or in RocksDB, it commits the rows of the same join written so that no
/// bound is seen (an `OR` that never holds), which keeps every row as Flink does.
#[test]
fn a_join_forgetting_rows_past_its_time_bound_commits_the_rows_of_one_keeping_them() {
    let data = temp_dir("sql-recovery", "bound-data");
    write_bids(&data);
    let dir = temp_dir("sql-recovery", "bound");
    let bound = "WHERE B.ts BETWEEN W.window_end - INTERVAL '10' SECOND AND W.window_end";
    let unbounded = "WHERE (B.ts BETWEEN W.window_end - INTERVAL '10' SECOND AND W.window_end \
                     OR B.auction < 0)";
    let run = |name: &str, first: &str, condition: &str| {
        let out = dir.join(name);
        let script = case_script("join_time_bound", &data, 2, &out).replace(bound, condition);
        assert!(script.contains(condition));
        SqlSession::new()
            .execute_script(&format!(
                "SET 'pipeline.auto-watermark-interval' = '1 ms';\n{first}\n{script}"
            ))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        committed_lines(&[&out])
    };
    let expected = run("kept", "", unbounded);
    assert!(expected.len() > 100, "{} rows", expected.len());
    assert_eq!(run("forgotten", "", bound), expected);
    #[cfg(feature = "rocksdb")]
    {
        let rocksdb = "SET 'state.backend.type' = 'rocksdb';";
        assert_eq!(run("forgotten-rocksdb", rocksdb, bound), expected);
    }
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(data);
}

/// Group and window aggregates with their state in RocksDB, checkpointed incrementally:
/// killed and restored at other parallelisms, they commit the rows of one uninterrupted run
/// (for the group aggregate: the same changelog).
#[cfg(feature = "rocksdb")]
#[test]
fn queries_with_their_state_in_rocksdb_killed_and_restored_commit_the_same_rows() {
    let data = temp_dir("sql-recovery", "data-rocksdb");
    write_bids(&data);
    let rocksdb = "SET 'state.backend.type' = 'rocksdb';\n\
                   SET 'execution.checkpointing.incremental' = 'true';";
    for case in [
        "group_by",
        "tumble",
        "session",
        "window_outer_join",
        "session_table",
    ] {
        let files = check_recovery(case, "rocksdb", &data, rocksdb);
        assert!(files > 0, "{case}: no RocksDB file in the checkpoints");
    }
    let _ = std::fs::remove_dir_all(data);
}
