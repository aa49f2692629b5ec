//! The Nexmark benchmark's Flink SQL queries, run unchanged (their published texts in
//! `tests/sql/nexmark/queries`, the blackhole sink made a CSV directory) on the `nexmark`
//! connector, checked row for row against Apache Flink 2.3's results on the same events
//! (`tests/sql/golden/nexmark-*.csv`, made by `tests/sql/regenerate-golden.sh` from the events in
//! `tests/sql/data/nexmark`), at parallelism 1 and 2.

mod common;

use std::path::{Path, PathBuf};

use common::{committed_lines, committed_lines_under, temp_dir};
use sluice::sql::session::SqlSession;

fn nexmark_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sql/nexmark")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The source table and views, then `script` with `${OUT}` (and a blackhole sink, and q10's
/// output directory) set to `out`.
fn run(script: &str, parallelism: usize, out: &Path) {
    let text = format!(
        "SET 'parallelism.default' = '{parallelism}';\n{}\n{}",
        read(&nexmark_dir().join("nexmark.sql")),
        script
            .replace(
                "'connector' = 'blackhole'",
                "'connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'csv'"
            )
            .replace("${NEXMARK_DIR}/data/output/${SUBMIT_TIME}/bid/", "${OUT}/")
    )
    .replace("${OUT}", &out.display().to_string());
    SqlSession::new()
        .execute_script(&text)
        .unwrap_or_else(|e| panic!("at parallelism {parallelism}: {e}"));
}

/// Runs the published query `name` at parallelism 1 and 2 and compares its rows with Flink's.
fn check(name: &str) {
    check_then(name, ("plain", ""), |_, _| {});
}

/// [`check`], after the statements `first` of a setup called `label` (`${DIR}` in them is a
/// scratch directory of the run), then `inspect(output directory, parallelism)` before the
/// directory is removed.
fn check_then(name: &str, (label, first): (&str, &str), inspect: impl Fn(&Path, usize)) {
    let query = read(&nexmark_dir().join("queries").join(format!("{name}.sql")));
    let golden = read(
        &nexmark_dir()
            .join("../golden")
            .join(format!("nexmark-{name}.csv")),
    );
    let expected: Vec<&str> = golden.lines().collect();
    assert!(!expected.is_empty(), "{name}: Flink's result is empty");
    for parallelism in [1, 2] {
        let dir = temp_dir("nexmark", &format!("{name}-{label}-{parallelism}"));
        let first = first.replace("${DIR}", &dir.display().to_string());
        run(&format!("{first}\n{query}"), parallelism, &dir.join("out"));
        let rows = committed_lines_under(&dir.join("out"));
        assert_eq!(
            rows.len(),
            expected.len(),
            "{name} at parallelism {parallelism}: row count"
        );
        inspect(&dir.join("out"), parallelism);
        for (row, (ours, flinks)) in rows.iter().zip(&expected).enumerate() {
            assert_eq!(
                ours, flinks,
                "{name} at parallelism {parallelism}: sorted row {row}"
            );
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The connector still makes the events Flink's side of these tests reads, at any parallelism.
#[test]
fn the_connector_makes_the_committed_events() {
    for parallelism in [1, 3] {
        let dir = temp_dir("nexmark", &format!("events-{parallelism}"));
        run(&read(&nexmark_dir().join("export.sql")), parallelism, &dir);
        for table in ["bid", "person", "auction"] {
            let ours = committed_lines(&[&dir.join(table)]);
            let committed = read(&nexmark_dir().join(format!("../data/nexmark/{table}.csv")));
            let mut committed: Vec<&str> = committed.lines().collect();
            committed.sort_unstable();
            assert_eq!(ours.len(), committed.len(), "{table} at {parallelism}");
            assert!(
                ours.iter().zip(&committed).all(|(a, b)| a == b),
                "{table} at parallelism {parallelism}: the events changed"
            );
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn q0_pass_through() {
    check("q0");
}

#[test]
fn q1_currency_conversion() {
    check("q1");
}

#[test]
fn q2_selection() {
    check("q2");
}

#[test]
fn q5_hot_items_with_windows_of_windows_and_a_join() {
    check("q5");
}

#[test]
fn q7_highest_bid_with_a_regular_join() {
    check("q7");
}

#[test]
fn q8_new_users_with_a_join_of_window_aggregates() {
    check("q8");
}

/// The joins and windows keep their state in RocksDB, checkpointed incrementally every few
/// milliseconds, with the same results: q5 (windows of windows and a join), q7 (a regular
/// join and a window aggregate), q8 (a join of window aggregates), q11 (session windows).
#[cfg(feature = "rocksdb")]
#[test]
fn joins_and_windows_with_their_state_in_rocksdb() {
    for name in ["q5", "q7", "q8", "q11"] {
        let rocksdb = ("rocksdb", common::sql_cases::ROCKSDB_INCREMENTAL);
        check_then(name, rocksdb, |out, _| {
            let checkpoints = out.parent().unwrap().join("checkpoints");
            let files = common::sql_cases::sst_files_under(&checkpoints);
            assert!(files > 0, "{name}: no RocksDB file in the checkpoints");
        });
    }
}

/// Every bid logged into the directory of its day and minute (`dt=../hm=..`, escaped as Hive
/// escapes path names), and each minute committed with a success file once the watermark
/// passed it (at the latest when the input ends).
#[test]
fn q10_partitioned_log_to_the_file_system() {
    check_then("q10", ("plain", ""), |out, parallelism| {
        let mut partitions = 0;
        for day in std::fs::read_dir(out).unwrap().flatten() {
            let day_name = day.file_name().to_string_lossy().into_owned();
            let dt = day_name.strip_prefix("dt=").expect("a dt= directory");
            for minute in std::fs::read_dir(day.path()).unwrap().flatten() {
                let minute_name = minute.file_name().to_string_lossy().into_owned();
                let hm = minute_name.strip_prefix("hm=").expect("an hm= directory");
                let hm = hm.replace("%3A", ":");
                assert!(
                    minute.path().join("_SUCCESS").exists(),
                    "{minute_name} at parallelism {parallelism}: committed"
                );
                for row in committed_lines(&[&minute.path()]) {
                    let time = row.split(',').nth(3).unwrap().trim_matches('"');
                    assert!(
                        time.starts_with(&format!("{dt} {hm}")),
                        "{row} in {dt}/{hm}"
                    );
                }
                partitions += 1;
            }
        }
        assert!(partitions > 0, "partitions at parallelism {parallelism}");
    });
}

#[test]
fn q11_user_sessions() {
    check("q11");
}

/// Processing-time windows depend on the wall clock, so Flink's rows cannot be compared: every
/// bid is counted once, per bidder, in 10-second windows.
#[test]
fn q12_processing_time_windows_count_every_bid() {
    let query = read(&nexmark_dir().join("queries/q12.sql"));
    let bids = read(&nexmark_dir().join("../data/nexmark/bid.csv"));
    let mut per_bidder = std::collections::BTreeMap::<&str, u64>::new();
    for line in bids.lines() {
        *per_bidder
            .entry(line.split(',').nth(1).unwrap())
            .or_default() += 1;
    }
    for parallelism in [1, 2] {
        let dir = temp_dir("nexmark", &format!("q12-{parallelism}"));
        run(&query, parallelism, &dir.join("out"));
        let mut counted = std::collections::BTreeMap::<String, u64>::new();
        for row in committed_lines(&[&dir.join("out")]) {
            let fields: Vec<&str> = row.split(',').collect();
            *counted.entry(fields[0].to_string()).or_default() += fields[1].parse::<u64>().unwrap();
            let start = fields[2].trim_matches('"');
            let end = fields[3].trim_matches('"');
            // Ten-second windows start at a whole ten seconds (printed without a fraction).
            assert!(start.len() == 19 && start.ends_with('0'), "{row}");
            assert!(end.len() == 19 && end > start, "{row}");
        }
        let expected: std::collections::BTreeMap<String, u64> = per_bidder
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        assert_eq!(counted, expected, "q12 at parallelism {parallelism}");
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn q14_calculation_with_a_rust_udf() {
    check("q14");
}

#[test]
fn q21_channel_id_with_regexp_extract() {
    check("q21");
}

#[test]
fn q22_url_directories() {
    check("q22");
}

/// A bad nexmark table says what is wrong with it.
#[test]
fn a_wrong_schema_or_option_is_refused() {
    let mut session = SqlSession::new();
    let err = session
        .execute_script(
            "CREATE TABLE n (event_type INT) WITH ('connector' = 'nexmark');
             CREATE TABLE s (x INT) WITH ('connector' = 'blackhole');
             INSERT INTO s SELECT event_type FROM n;",
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("physical columns must be"), "{err}");
    let script =
        read(&nexmark_dir().join("nexmark.sql")).replace("'events.num'", "'events.number'");
    let err = SqlSession::new()
        .execute_script(&format!(
            "{script}\nCREATE TABLE s (x BIGINT) WITH ('connector' = 'blackhole');
             INSERT INTO s SELECT auction FROM bid;"
        ))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unsupported nexmark option 'events.number'"),
        "{err}"
    );
}

/// Joins Sluice cannot run yet, and names two joined tables share, are refused clearly.
#[test]
fn unsupported_joins_and_ambiguous_names_are_refused() {
    let error = |query: &str| {
        let script = format!(
            "{}\nCREATE TABLE s (x BIGINT) WITH ('connector' = 'blackhole');\nINSERT INTO s {query};",
            read(&nexmark_dir().join("nexmark.sql"))
        );
        SqlSession::new()
            .execute_script(&script)
            .unwrap_err()
            .to_string()
    };
    let left = error("SELECT B.price FROM bid B LEFT JOIN auction A ON B.auction = A.id");
    assert!(left.contains("LEFT JOIN is not supported yet"), "{left}");
    let ambiguous = error("SELECT extra FROM bid B JOIN auction A ON B.auction = A.id");
    assert!(
        ambiguous.contains("Column 'extra' is ambiguous"),
        "{ambiguous}"
    );
    let no_key = error("SELECT B.price FROM bid B JOIN auction A ON B.price > A.reserve");
    assert!(no_key.contains("needs an equality"), "{no_key}");
    let unknown = error("SELECT C.price FROM bid B JOIN auction A ON B.auction = A.id");
    assert!(unknown.contains("Table 'C' not found"), "{unknown}");
}
