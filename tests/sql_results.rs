//! How `sluice sql` shows a query's results: in Flink's `table` result mode the changes of an
//! updating query leave one row per key with its latest values, and no change kinds.

mod common;

use common::sql_cases::{case_script, sluice_sql_file, sql_dir};
use common::temp_dir;

/// The query's lines printed by `sluice sql -f` after the `tumble` case's tables, after the
/// statements `first`.
fn printed(label: &str, first: &str, query: &str) -> String {
    let dir = temp_dir("sql-results", label);
    let file = dir.join("query.sql");
    let ddl = case_script("tumble", &sql_dir().join("data"), 2, &dir.join("out"));
    let ddl = &ddl[..ddl.find("CREATE TABLE out_windows").unwrap()];
    std::fs::write(&file, format!("{ddl}\n{first}\n{query}")).unwrap();
    let stdout = sluice_sql_file(&file);
    let _ = std::fs::remove_dir_all(dir);
    stdout
}

/// The cells of the table lines of `stdout` (those starting with `|`), after the header.
fn cells(stdout: &str) -> Vec<Vec<String>> {
    stdout
        .lines()
        .filter(|line| line.starts_with('|'))
        .skip(1)
        .map(|line| {
            line.trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().to_string())
                .collect()
        })
        .collect()
}

#[test]
fn the_table_mode_shows_the_table_an_updating_query_leaves() {
    let query = "SELECT channel, COUNT(*) AS bids, MAX(price) AS top FROM bids
        WHERE auction < 1010 GROUP BY channel;";
    let changes = printed("tableau", "", query);
    let table = printed(
        "table",
        "SET 'sql-client.execution.result-mode' = 'table';",
        query,
    );
    // The changelog's last row of each channel is what the table shows.
    let mut latest = std::collections::BTreeMap::new();
    for row in cells(&changes) {
        if row[0] == "+I" || row[0] == "+U" {
            latest.insert(row[1].clone(), row[1..].to_vec());
        }
    }
    assert!(latest.len() > 1, "{changes}");
    assert!(changes.contains("| -U |"), "an updating query: {changes}");
    let mut shown = cells(&table);
    shown.sort();
    let expected: Vec<Vec<String>> = latest.into_values().collect();
    assert_eq!(shown, expected, "{table}");
    let header = table.lines().find(|line| line.starts_with('|')).unwrap();
    assert!(!header.contains(" op "), "{table}");
    assert!(
        table.contains(&format!("{} rows in set", expected.len())),
        "{table}"
    );
}

#[test]
fn the_table_mode_keeps_its_newest_rows_when_full() {
    let query = "SELECT auction, price FROM bids WHERE auction < 1010;";
    let limited = printed(
        "table-limited",
        "SET 'parallelism.default' = '1';
         SET 'sql-client.execution.result-mode' = 'table';
         SET 'sql-client.execution.max-table-result.rows' = '3';",
        query,
    );
    let all = printed("tableau-all", "SET 'parallelism.default' = '1';", query);
    let newest: Vec<Vec<String>> = cells(&all)
        .into_iter()
        .map(|row| row[1..].to_vec())
        .collect();
    assert!(newest.len() > 3, "{all}");
    assert_eq!(cells(&limited), newest[newest.len() - 3..], "{limited}");
    assert!(limited.contains("3 rows in set"), "{limited}");
}

#[test]
fn on_a_terminal_the_table_is_redrawn_in_place_as_it_changes() {
    use sluice::sql::live::{Interrupt, LiveOutput};
    use sluice::sql::session::SqlSession;
    use std::sync::{Arc, Mutex};

    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let printed = Arc::clone(&lines);
    let mut session = SqlSession::new();
    session.print_live(
        LiveOutput::new(
            move |line| printed.lock().unwrap().push(line.to_string()),
            Interrupt::default(),
        )
        .on_terminal(true),
    );
    // 30 rows at 30 a second: the counts change for about a second.
    session
        .execute_script(
            "SET 'sql-client.execution.result-mode' = 'table';
             CREATE TABLE g (k INT, r AS MOD(k, 3)) WITH ('connector' = 'datagen', 'number-of-rows' = '30',
               'rows-per-second' = '30', 'fields.k.kind' = 'sequence', 'fields.k.start' = '0',
               'fields.k.end' = '29');
             SELECT r, COUNT(*) AS n FROM g GROUP BY r;",
        )
        .unwrap();
    let lines = lines.lock().unwrap();
    let redraws = lines.iter().filter(|l| l.starts_with("\x1b[")).count();
    assert!(redraws >= 2, "{lines:#?}");
    let last_frame = &lines[lines.iter().rposition(|l| l.starts_with("\x1b[")).unwrap()..];
    let mut rows = cells(&last_frame.join("\n"));
    rows.sort();
    assert_eq!(rows, [["0", "10"], ["1", "10"], ["2", "10"]], "{lines:#?}");
    assert_eq!(last_frame.last().unwrap(), "3 rows in set");
}
