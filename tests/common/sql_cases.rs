//! The SQL cases of `tests/sql`: each case's script after the tables it reads, with the input
//! and sink directories filled in.

use std::path::{Path, PathBuf};

/// `tests/sql`: the tables, cases, input data and Flink's golden results.
pub fn sql_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sql")
}

/// The script of `case` over the tables of `tables.sql` read from `data`, writing to `out`,
/// run at `parallelism`.
pub fn case_script(case: &str, data: &Path, parallelism: usize, out: &Path) -> String {
    let tables = std::fs::read_to_string(sql_dir().join("tables.sql")).unwrap();
    let case =
        std::fs::read_to_string(sql_dir().join("cases").join(format!("{case}.sql"))).unwrap();
    let text = format!("{tables}{case}")
        .replace("${DATA}", &data.display().to_string())
        .replace("${OUT}", &out.display().to_string());
    format!("SET 'parallelism.default' = '{parallelism}';\n{text}")
}

/// The standard output of `sluice sql -f file`, which must succeed.
pub fn sluice_sql_file(file: &Path) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["sql", "-f"])
        .arg(file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    String::from_utf8(output.stdout).unwrap()
}

/// Statements that put a script's state in RocksDB, checkpointed incrementally every 5 ms
/// into `${DIR}/checkpoints`.
pub const ROCKSDB_INCREMENTAL: &str = "SET 'state.backend.type' = 'rocksdb';
SET 'execution.checkpointing.incremental' = 'true';
SET 'execution.checkpointing.interval' = '5 ms';
SET 'state.checkpoints.dir' = '${DIR}/checkpoints';";

/// How many RocksDB table files (`.sst`) the checkpoints under `dir` hold: more than none shows
/// that a job's state went into RocksDB and its incremental checkpoints.
pub fn sst_files_under(dir: &Path) -> usize {
    let mut count = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.path().is_dir() {
                pending.push(entry.path());
            } else if entry.path().extension().is_some_and(|e| e == "sst") {
                count += 1;
            }
        }
    }
    count
}
