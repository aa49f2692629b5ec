//! Flink SQL scripts run as `sluice sql -f` runs them, checked row for row against Apache
//! Flink 2.3's results on the same statements and input (`tests/sql/golden`, made by
//! `tests/sql/regenerate-golden.sh`), at parallelism 1 and 2; and the golden files checked
//! against a live Flink where it is installed.

mod common;

use std::path::Path;

use common::sql_cases::{case_script, sluice_sql_file, sql_dir};
use common::{committed_lines, required, temp_dir};
use sluice::sql::session::{Outcome, SqlSession};

/// The case's script over the tables of `data/`, writing to `out`, run at `parallelism`.
fn script(case: &str, parallelism: usize, out: &Path) -> String {
    case_script(case, &sql_dir().join("data"), parallelism, out)
}

fn golden(case: &str) -> Vec<String> {
    let text =
        std::fs::read_to_string(sql_dir().join("golden").join(format!("{case}.csv"))).unwrap();
    text.lines().map(String::from).collect()
}

/// Runs `case` at parallelism 1 and 2 and compares the committed rows with Flink's.
fn check(case: &str) {
    check_with(case, "plain", "");
}

/// Runs `case` after the statements `first` (a setup called `label`), at parallelism 1 and 2,
/// and compares the committed rows with Flink's.
fn check_with(case: &str, label: &str, first: &str) {
    check_then(case, label, first, |_| {});
}

/// [`check_with`], then `inspect(scratch directory)` after each run.
fn check_then(case: &str, label: &str, first: &str, inspect: impl Fn(&Path)) {
    for parallelism in [1, 2] {
        let dir = temp_dir("sql", &format!("{case}-{label}-{parallelism}"));
        let out = dir.join("out");
        let first = first.replace("${DIR}", &dir.display().to_string());
        SqlSession::new()
            .execute_script(&format!("{first}\n{}", script(case, parallelism, &out)))
            .unwrap_or_else(|e| panic!("{case} at parallelism {parallelism}: {e}"));
        let rows = committed_lines(&[&out]);
        let expected = golden(case);
        assert_eq!(
            rows.len(),
            expected.len(),
            "{case} at parallelism {parallelism}: row count"
        );
        for (row, (ours, flinks)) in rows.iter().zip(&expected).enumerate() {
            assert_eq!(
                ours, flinks,
                "{case} at parallelism {parallelism}: sorted row {row}"
            );
        }
        inspect(&dir);
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn projections_filters_and_scalar_functions_match_flink() {
    check("projection_filter");
}

#[test]
fn string_and_time_functions_match_flink() {
    check("functions");
}

#[test]
fn computed_columns_and_decimal_division_match_flink() {
    check("computed_columns");
}

#[test]
fn file_metadata_columns_match_flink() {
    check("file_metadata");
}

/// Each row carries the path, name, size and modification time of its own file, as Flink's
/// filesystem connector gives them (its output on these files, checked with Flink 2.3; a field
/// longer than 24 characters is quoted, as Flink's CSV writer quotes it).
#[test]
fn each_row_names_the_file_it_was_read_from() {
    let dir = temp_dir("sql", "file-metadata-dir");
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    let at = |millis: u64| std::time::UNIX_EPOCH + std::time::Duration::from_millis(millis);
    for (name, text, modified) in [
        ("part-a.csv", "1,a\n2,b\n", at(1_709_287_200_123)),
        ("part-b.csv", "3,c\n", at(1_709_379_000_000)),
    ] {
        let path = input.join(name);
        std::fs::write(&path, text).unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(modified).unwrap();
    }
    let out = dir.join("out");
    let script = format!(
        "CREATE TABLE t (id INT, name STRING,
           `path` STRING NOT NULL METADATA FROM 'file.path' VIRTUAL,
           fname STRING METADATA FROM 'file.name',
           `file.size` BIGINT METADATA VIRTUAL,
           mtime TIMESTAMP_LTZ(3) METADATA FROM 'file.modification-time'
         ) WITH ('connector' = 'filesystem', 'path' = 'file://{}', 'format' = 'csv');
         CREATE TABLE s (id INT, name STRING, p STRING, fname STRING, sz BIGINT, mtime STRING)
         WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');
         INSERT INTO s SELECT id, name, `path`, fname, `file.size`, CAST(mtime AS STRING) FROM t;",
        input.display(),
        out.display()
    );
    SqlSession::new().execute_script(&script).unwrap();
    let input = input.display();
    assert_eq!(
        committed_lines(&[&out]),
        [
            format!("1,a,\"{input}/part-a.csv\",part-a.csv,8,\"2024-03-01 10:00:00.123\""),
            format!("2,b,\"{input}/part-a.csv\",part-a.csv,8,\"2024-03-01 10:00:00.123\""),
            format!("3,c,\"{input}/part-b.csv\",part-b.csv,4,\"2024-03-02 11:30:00.000\""),
        ]
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A metadata key the connector does not offer, or a connector that offers none, is an error
/// naming the column.
#[test]
fn unknown_metadata_is_an_error_naming_the_column() {
    let error_of = |script: &str| {
        SqlSession::new()
            .execute_script(script)
            .unwrap_err()
            .to_string()
    };
    let unknown = error_of(
        "CREATE TABLE t (id INT, who STRING METADATA FROM 'file.owner')
         WITH ('connector' = 'filesystem', 'path' = '/nonexistent', 'format' = 'csv');
         SELECT * FROM t;",
    );
    assert!(
        unknown.contains("invalid metadata key 'file.owner' in column 'who'")
            && unknown.contains("'file.path', 'file.name', 'file.size', 'file.modification-time'"),
        "{unknown}"
    );
    let mistyped = error_of(
        "CREATE TABLE t (id INT, size INT METADATA FROM 'file.size')
         WITH ('connector' = 'filesystem', 'path' = '/nonexistent', 'format' = 'csv');
         SELECT * FROM t;",
    );
    assert!(
        mistyped.contains("'size' is declared INT, but 'file.size' is BIGINT"),
        "{mistyped}"
    );
    let elsewhere = error_of(
        "CREATE TABLE g (id INT, p STRING METADATA FROM 'file.path')
         WITH ('connector' = 'datagen', 'number-of-rows' = '1');
         SELECT * FROM g;",
    );
    assert!(
        elsewhere.contains("metadata column 'p' (key 'file.path') is not supported"),
        "{elsewhere}"
    );
}

#[test]
fn tumbling_window_aggregates_match_flink() {
    check("tumble");
}

#[test]
fn hopping_window_aggregates_match_flink() {
    check("hop");
}

#[test]
fn cumulating_windows_without_a_key_match_flink() {
    check("cumulate");
}

#[test]
fn session_window_aggregates_match_flink() {
    check("session");
}

/// Rows past the watermark are dropped where Flink drops them: its watermark goes out right
/// after a row that moves it more than 200 ms, so which rows are late follows from the input.
#[test]
fn late_rows_are_dropped_as_flink_drops_them() {
    check("late_tumble");
    check("late_session");
}

/// The SESSION window table function with no aggregation: each row with its whole session's
/// bounds, once the session closes; its sessions keep only the columns a query names (not
/// `channel` and `url`).
#[test]
fn session_window_table_functions_match_flink() {
    check_planned(
        "session_table",
        "out_sessions",
        "WindowTableFunction(window=[SESSION(gap=[2 min], partition keys=[bidder])], time_col=[ts])",
    );
    let text = plan_of("session_table", "out_sessions");
    assert!(
        text.contains("Calc(select=[ts, bidder, auction, bidder, price, ts])"),
        "{text}"
    );
}

/// A join of two window table functions on both window bounds is Flink's window join.
#[test]
fn window_joins_match_flink() {
    check("window_join");
    let text = plan_of("window_join", "out_joined");
    assert!(text.contains("WindowJoin(joinType=[InnerJoin]"), "{text}");
    assert_eq!(
        text.matches("WindowTableFunction(window=[TUMBLE(size=[10 s])]")
            .count(),
        2,
        "{text}"
    );
}

/// `LEFT` and `FULL JOIN` of two window table functions on both window bounds are Flink's
/// outer window joins: a row that joins nothing in its window comes once, NULL-padded, when the
/// window fires (the rest of `ON` decides what joins).
#[test]
fn outer_window_joins_match_flink() {
    check("window_left_join");
    check_planned(
        "window_outer_join",
        "out_full",
        "WindowJoin(joinType=[FullOuterJoin], where=[AND(=(bidder, bidder0), =(window_start, window_start0), =(window_end, window_end0), <(price, price0))])",
    );
}

/// A regular join whose `WHERE` bounds a bid's time by a window aggregation's ends (Nexmark
/// q7's shape): the bound joins the join's condition, as Flink plans it, and the rows match
/// Flink's (the bids that no window to come can join are forgotten: `tests/sql_recovery.rs`
/// checks that against the same join keeping every bid).
#[test]
fn a_join_bounded_by_window_ends_matches_flink() {
    check_planned(
        "join_time_bound",
        "out_highest",
        "Join(joinType=[InnerJoin], where=[AND(=(price, maxprice), >=(ts, -(window_end, 10000)), <=(ts, window_end))])",
    );
}

#[test]
fn group_aggregates_write_flinks_changelog() {
    check("group_by_expressions");
    check("group_by");
    check("group_by_unchanged");
}

#[test]
fn views_and_union_all_match_flink() {
    check("union_views");
}

#[test]
fn json_lines_are_read_and_written_as_flink_does() {
    check("json");
}

#[test]
fn arrays_and_maps_match_flink() {
    check("collections");
    check("collections_csv");
    check("collections_csv_read");
    check("json_nested");
}

#[test]
fn debezium_changelogs_are_read_as_flink_reads_them() {
    check("debezium");
}

#[test]
fn legacy_group_windows_match_flink() {
    check("legacy_tumble");
    check("legacy_session");
}

#[test]
fn window_aggregates_with_frequent_checkpoints_match_flink() {
    // Windows snapshotted every few milliseconds, output committed by each checkpoint.
    let checkpoints = "SET 'execution.checkpointing.interval' = '5 ms';
        SET 'state.checkpoints.dir' = '${DIR}/checkpoints';";
    check_with("tumble", "checkpoints", checkpoints);
    check_with("hop", "checkpoints", checkpoints);
    check_with("session", "checkpoints", checkpoints);
    check_with("window_join", "checkpoints", checkpoints);
    check_with("window_outer_join", "checkpoints", checkpoints);
    check_with("session_table", "checkpoints", checkpoints);
}

#[test]
fn window_aggregates_with_unaligned_checkpoints_match_flink() {
    // Barriers overtake the row batches queued between tasks, which go into the checkpoint.
    let checkpoints = "SET 'execution.checkpointing.interval' = '5 ms';
        SET 'execution.checkpointing.unaligned.enabled' = 'true';
        SET 'state.checkpoints.dir' = '${DIR}/checkpoints';";
    check_with("tumble", "unaligned", checkpoints);
    check_with("session", "unaligned", checkpoints);
    check_with("group_by", "unaligned", checkpoints);
}

/// Group and window aggregates keep their state in RocksDB, checkpointed incrementally every
/// few milliseconds, with Flink's results.
#[cfg(feature = "rocksdb")]
#[test]
fn aggregates_with_their_state_in_rocksdb_match_flink() {
    for case in [
        "group_by",
        "group_by_unchanged",
        "tumble",
        "hop",
        "cumulate",
        "session",
        "window_join",
        "window_left_join",
        "window_outer_join",
        "session_table",
    ] {
        check_then(
            case,
            "rocksdb",
            common::sql_cases::ROCKSDB_INCREMENTAL,
            |dir| {
                let files = common::sql_cases::sst_files_under(&dir.join("checkpoints"));
                assert!(files > 0, "{case}: no RocksDB file in the checkpoints");
            },
        );
    }
}

/// Runs the `print` case with the `sluice sql -f` binary and compares the printed rows.
#[test]
fn printed_rows_match_flink() {
    for parallelism in [1, 2] {
        let dir = temp_dir("sql", &format!("print-{parallelism}"));
        let file = dir.join("print.sql");
        std::fs::write(&file, script("print", parallelism, &dir.join("out"))).unwrap();
        let mut rows: Vec<String> = sluice_sql_file(&file)
            .lines()
            .filter_map(|line| {
                // Parallel subtasks prefix their lines with "N> ", as in Flink.
                let row = line.split_once("> ").map_or(line, |(n, row)| {
                    if n.parse::<u32>().is_ok() { row } else { line }
                });
                row.starts_with("+I[").then(|| row.to_string())
            })
            .collect();
        rows.sort();
        assert_eq!(rows, golden("print"), "print at parallelism {parallelism}");
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Statements typed at `sluice sql`'s prompt (piped in here) run one by one, each when its `;`
/// comes; an error does not end the session, `QUIT;` does, and every statement is kept in the
/// history file.
#[test]
fn the_prompt_runs_statements_until_quit_and_keeps_a_history() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let dir = temp_dir("sql", "prompt");
    let history = dir.join("history");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["sql", "--history"])
        .arg(&history)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let typed = "SELECT 1 AS one;\nSELECT nope;\nSELECT\n  2 AS two;\nQUIT;\nSELECT 3 AS three;\n";
    child
        .stdin
        .take()
        .unwrap()
        .write_all(typed.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("| op |         one |"), "{stdout}");
    assert!(
        stdout.contains("[ERROR] ") && stdout.contains("'nope'"),
        "{stdout}"
    );
    assert!(stdout.contains("| op |         two |"), "{stdout}");
    assert!(
        !stdout.contains("three"),
        "nothing runs after QUIT: {stdout}"
    );
    let kept = std::fs::read_to_string(&history).unwrap();
    assert!(
        kept.contains("SELECT 1 AS one;") && kept.contains("QUIT;"),
        "{kept}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// At the prompt a query over an unbounded table prints its rows as they arrive, and Ctrl-C
/// (SIGINT) stops it and the session goes on.
#[test]
fn an_unbounded_query_prints_rows_as_they_come_until_ctrl_c() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};
    let dir = temp_dir("sql", "live");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["sql", "--history"])
        .arg(dir.join("history"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Should Ctrl-C not stop the query, the client is killed after a minute: the test fails
    // instead of waiting for the million rows.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = {
        let (done, pid) = (std::sync::Arc::clone(&done), child.id().to_string());
        std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while std::time::Instant::now() < deadline {
                if done.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        })
    };
    let mut stdin = child.stdin.take().unwrap();
    let typed = "SET 'parallelism.default' = '1';
        CREATE TABLE ticks (n BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '50',
          'fields.n.kind' = 'sequence', 'fields.n.start' = '1', 'fields.n.end' = '1000000');
        SELECT n, n * 10 AS tens FROM ticks;\n";
    stdin.write_all(typed.as_bytes()).unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // The first rows come while the query runs (1,000,000 rows at 50 a second).
    let mut rows = 0;
    while rows < 3 {
        let line = lines.next().expect("the client printed rows").unwrap();
        if line.starts_with("| +I |") {
            rows += 1;
            let expected = format!("| +I | {rows:>20} | {:>20} |", rows * 10);
            assert_eq!(line, expected);
        }
    }
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let terminated = lines
        .by_ref()
        .map(Result::unwrap)
        .find(|line| line.starts_with("Query terminated, received a total of "));
    assert!(terminated.is_some(), "the query stopped and said so");
    stdin
        .write_all(b"SELECT 'still here' AS word;\nQUIT;\n")
        .unwrap();
    drop(stdin);
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert!(
        rest.iter().any(|line| line.contains("still here")),
        "{rest:?}"
    );
    assert!(child.wait().unwrap().success());
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    watchdog.join().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

/// A query without INSERT shows its rows as Flink's SQL client does (tableau).
#[test]
fn queries_print_their_rows_as_a_table() {
    let dir = temp_dir("sql", "select");
    let file = dir.join("select.sql");
    let ddl = script("tumble", 2, &dir.join("out"));
    let ddl = &ddl[..ddl.find("CREATE TABLE out_windows").unwrap()];
    let query = "SELECT auction, window_start, COUNT(*) AS bids
        FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))
        WHERE auction = 1007 GROUP BY auction, window_start, window_end;";
    std::fs::write(&file, format!("{ddl}\n{query}")).unwrap();
    let stdout = sluice_sql_file(&file);
    // Flink's rows for auction 1007: `1007,start,end,bids,...`.
    let expected: Vec<u64> = golden("tumble")
        .iter()
        .filter(|line| line.starts_with("1007,"))
        .map(|line| line.split(',').nth(3).unwrap().parse().unwrap())
        .collect();
    let shown: Vec<u64> = stdout
        .lines()
        .filter(|line| line.starts_with("| +I |"))
        .map(|line| {
            line.trim_end_matches(" |")
                .rsplit(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(shown.len(), expected.len(), "{stdout}");
    assert_eq!(
        shown.iter().sum::<u64>(),
        expected.iter().sum::<u64>(),
        "{stdout}"
    );
    // BIGINT columns 20 wide, TIMESTAMP(3) 23, as Flink's tableau.
    let header = format!(
        "| op | {:>20} | {:>23} | {:>20} |",
        "auction", "window_start", "bids"
    );
    assert!(stdout.contains(&header), "{stdout}");
    assert!(
        stdout.contains(&format!("Received a total of {} rows", expected.len())),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Flink's `datagen` connector: a sequence field bounds the table, random fields stay in range.
#[test]
fn generated_tables_hold_their_sequence_and_ranges() {
    for parallelism in [1, 2] {
        let dir = temp_dir("sql", &format!("datagen-{parallelism}"));
        let out = dir.join("out");
        let script = format!(
            "SET 'parallelism.default' = '{parallelism}';
            CREATE TABLE generated (id BIGINT, score INT, name STRING, at TIMESTAMP(3)) WITH (
              'connector' = 'datagen', 'rows-per-second' = '1000000',
              'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '5000',
              'fields.score.min' = '-3', 'fields.score.max' = '3', 'fields.name.length' = '4');
            CREATE TABLE sink (id BIGINT, score INT, name STRING) WITH (
              'connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');
            INSERT INTO sink SELECT id, score, name FROM generated;",
            out.display()
        );
        SqlSession::new().execute_script(&script).unwrap();
        let rows = committed_lines(&[&out]);
        let mut ids: Vec<i64> = rows
            .iter()
            .map(|r| r.split(',').next().unwrap().parse().unwrap())
            .collect();
        ids.sort();
        assert_eq!(
            ids,
            (1..=5000).collect::<Vec<i64>>(),
            "parallelism {parallelism}"
        );
        for row in &rows {
            let fields: Vec<&str> = row.split(',').collect();
            let score: i32 = fields[1].parse().unwrap();
            assert!((-3..=3).contains(&score) && fields[2].len() == 4, "{row}");
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The `INSERT` of `case`, writing into `sink` instead, and the statements before it with
/// the sink table renamed.
fn split_case(case: &str, sink: &str, out: &Path) -> (String, String) {
    let text = script(case, 2, out).replace("out_windows", sink);
    let insert = text.rfind("INSERT INTO").unwrap();
    (text[..insert].to_string(), text[insert..].to_string())
}

/// Two inserts in one statement set run as one job, each sink holding Flink's rows.
#[test]
fn statement_sets_run_their_inserts_as_one_job() {
    let dir = temp_dir("sql", "statement-set");
    let (tumble_ddl, tumble) = split_case("tumble", "out_tumble", &dir.join("tumble"));
    let (hop_ddl, hop) = split_case("hop", "out_hop", &dir.join("hop"));
    let hop_ddl = &hop_ddl[hop_ddl.find("CREATE TABLE out_hop").unwrap()..];
    let text = format!("{tumble_ddl}{hop_ddl}EXECUTE STATEMENT SET BEGIN\n{tumble}\n{hop}\nEND;");
    let outcomes = SqlSession::new().execute_script(&text).unwrap();
    let jobs: Vec<&str> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::JobFinished { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(jobs, ["insert-into_out_tumble,out_hop"], "one job");
    assert_eq!(committed_lines(&[&dir.join("tumble")]), golden("tumble"));
    assert_eq!(committed_lines(&[&dir.join("hop")]), golden("hop"));
    let _ = std::fs::remove_dir_all(dir);
}

/// Checks `case`'s rows against Flink's, and that its plan (its sink renamed `sink`) holds
/// `node`.
fn check_planned(case: &str, sink: &str, node: &str) {
    check(case);
    let text = plan_of(case, sink);
    assert!(text.contains(node), "{text}");
}

/// The plan `EXPLAIN` shows for the insert of `case` into `sink`, as one text.
fn plan_of(case: &str, sink: &str) -> String {
    let dir = temp_dir("sql", &format!("{case}-plan"));
    let text = explained(case, sink, &dir, "EXPLAIN").join("\n");
    let _ = std::fs::remove_dir_all(dir);
    text
}

/// The plan lines `explain` (`EXPLAIN` and its options) prints for the `INSERT` of `case`,
/// its sink renamed `sink` and writing under `dir`.
fn explained(case: &str, sink: &str, dir: &Path, explain: &str) -> Vec<String> {
    let (ddl, insert) = split_case(case, sink, &dir.join("out"));
    let mut session = SqlSession::new();
    session.execute_script(&ddl).unwrap();
    let outcomes = session
        .execute_script(&format!("{explain} {insert}"))
        .unwrap();
    match outcomes.into_iter().next() {
        Some(Outcome::Rows(lines)) => lines,
        other => panic!("{other:?}"),
    }
}

/// `EXPLAIN` shows the operators a statement runs as, each with its changelog mode.
#[test]
fn explain_shows_each_operator_and_its_changelog_mode() {
    let dir = temp_dir("sql", "explain");
    let lines = explained("group_by", "per_channel", &dir, "EXPLAIN CHANGELOG_MODE");
    let text = lines.join("\n");
    assert_eq!(lines[0], "== Optimized Execution Plan ==", "{text}");
    assert!(lines[1].starts_with("Sink(table=[per_channel]"), "{text}");
    assert!(lines[1].ends_with("changelogMode=[NONE]"), "{text}");
    let line = |prefix: &str| {
        lines
            .iter()
            .find(|l| {
                l.trim_start_matches([' ', '+', '-', ':'])
                    .starts_with(prefix)
            })
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
    };
    assert!(
        line("GroupAggregate(groupBy=[").ends_with("changelogMode=[I,UB,UA]"),
        "{text}"
    );
    assert!(
        line("Exchange(distribution=[hash[").ends_with("changelogMode=[I]"),
        "{text}"
    );
    assert!(
        line("TableSourceScan(table=[[bids]]").ends_with("changelogMode=[I]"),
        "{text}"
    );
    assert!(!dir.join("out").exists(), "EXPLAIN runs nothing");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_query_naming_the_same_aggregation_twice_computes_it_once() {
    // Flink's sub-plan reuse: both sides aggregate the same windows of the same scan.
    let query = "EXPLAIN SELECT a.auction, a.n FROM
        (SELECT auction, COUNT(*) AS n, window_start FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY auction, window_start, window_end) a
        JOIN (SELECT auction, COUNT(*) AS n, window_start FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY auction, window_start, window_end) b
        ON a.auction = b.auction AND a.window_start = b.window_start";
    let tables = std::fs::read_to_string(sql_dir().join("tables.sql"))
        .unwrap()
        .replace("${DATA}", &sql_dir().join("data").display().to_string());
    let plan = |first: &str| {
        let mut session = SqlSession::new();
        let outcomes = session
            .execute_script(&format!("{first}\n{tables}\n{query};"))
            .unwrap();
        let Some(Outcome::Rows(lines)) = outcomes.last() else {
            panic!("{outcomes:?}")
        };
        lines.join("\n")
    };
    let reused = plan("");
    assert_eq!(reused.matches("WindowAggregate(").count(), 1, "{reused}");
    assert_eq!(reused.matches("TableSourceScan(").count(), 1, "{reused}");
    assert!(reused.contains("+- Reused(reference_id=[1])"), "{reused}");
    let apart = plan("SET 'table.optimizer.reuse-sub-plan-enabled' = 'false';");
    assert_eq!(apart.matches("WindowAggregate(").count(), 2, "{apart}");
    assert!(!apart.contains("Reused"), "{apart}");
}

#[test]
fn bad_sql_names_the_position_and_the_closest_name() {
    let dir = temp_dir("sql", "bad");
    let text = script("tumble", 1, &dir.join("out")).replace(
        "FROM TABLE(TUMBLE(TABLE bids",
        "FROM TABLE(TUMBLE(TABLE bid",
    );
    let error = SqlSession::new().execute_script(&text).unwrap_err();
    assert!(error.message.contains("Object 'bid' not found"), "{error}");
    assert!(error.message.contains("Did you mean 'bids'?"), "{error}");
    assert!(error.position.is_some(), "{error}");
    let text =
        script("projection_filter", 1, &dir.join("out")).replace("UPPER(channel)", "UPPER(chanel)");
    let error = SqlSession::new().execute_script(&text).unwrap_err();
    assert!(error.message.contains("Did you mean 'channel'?"), "{error}");
    let error = SqlSession::new()
        .execute_script("SELECT * FROM;")
        .unwrap_err();
    assert!(error.message.contains("Expected"), "{error}");
    assert_eq!(error.position.map(|p| p.0), Some(1), "{error}");
}

/// The golden files are what Flink 2.3 gives today (needs Flink: scripts/test.sh installs it).
#[test]
fn golden_results_are_flinks() {
    let Some(flink_home) = required(
        "FLINK_HOME",
        "Apache Flink 2.3",
        "golden_results_are_flinks",
    ) else {
        return;
    };
    let fresh = temp_dir("sql", "golden");
    let status = std::process::Command::new(sql_dir().join("regenerate-golden.sh"))
        .env("FLINK_HOME", flink_home)
        .env("SQL_GOLDEN_DIR", &fresh)
        .status()
        .unwrap();
    assert!(status.success(), "regenerate-golden.sh failed");
    for file in std::fs::read_dir(sql_dir().join("golden")).unwrap() {
        let name = file.unwrap().file_name();
        let committed = std::fs::read_to_string(sql_dir().join("golden").join(&name)).unwrap();
        let flinks = std::fs::read_to_string(fresh.join(&name)).unwrap();
        assert!(
            committed == flinks,
            "{name:?}: Flink's result differs from the committed one"
        );
    }
    let _ = std::fs::remove_dir_all(fresh);
}

#[test]
fn a_scan_computes_only_the_computed_columns_a_query_reads() {
    let mut session = SqlSession::new();
    session
        .execute_script(
            "CREATE TABLE t (a BIGINT, s STRING, up AS UPPER(s), twice AS a * 2)
             WITH ('connector' = 'datagen', 'number-of-rows' = '3');",
        )
        .unwrap();
    let mut plan = |query: &str| match session.execute_script(&format!("EXPLAIN {query};")) {
        Ok(outcomes) => match &outcomes[..] {
            [Outcome::Rows(lines)] => lines.join("\n"),
            other => panic!("{other:?}"),
        },
        Err(e) => panic!("{query}: {e}"),
    };
    let plain = plan("SELECT a FROM t WHERE a > 1");
    assert!(
        !plain.contains("UPPER") && !plain.contains("twice"),
        "{plain}"
    );
    let one = plan("SELECT twice FROM t");
    assert!(one.contains("AS twice") && !one.contains("UPPER"), "{one}");
    assert!(plan("SELECT * FROM t").contains("UPPER"));
    // A misspelt name still hears of the computed column the scan leaves out.
    let error = session.execute_script("SELECT twise FROM t;").unwrap_err();
    assert!(error.message.contains("Did you mean 'twice'?"), "{error}");
}
