//! The sqllogictest files of `tests/slt` (one per feature), each run in streaming and in batch
//! mode (`SET 'execution.runtime-mode'`) at parallelism 2. A query's result is the table its
//! changes leave (an updating query's retractions applied), so one file states the answer of
//! both modes; `onlyif streaming` / `onlyif batch` mark what differs. `$DATA` is
//! `tests/slt/data`, `$__TEST_DIR__` a scratch directory of the file's run.

use std::path::Path;

use sluice::sql::error::SqlError;
use sluice::sql::session::{Outcome, SqlSession};
use sluice::sql::statement::{FlinkStatement, parse_script};
use sluice::sql::types::SqlType;
use sqllogictest::{DBOutput, DefaultColumnType};

/// A SQL session as sqllogictest's database.
struct Sluice {
    session: SqlSession,
}

impl Sluice {
    fn new(mode: &str) -> Result<Sluice, SqlError> {
        let mut session = SqlSession::new();
        session.execute_script(&format!(
            "SET 'execution.runtime-mode' = '{mode}'; SET 'parallelism.default' = '2';"
        ))?;
        Ok(Sluice { session })
    }

    fn run_statement(
        &mut self,
        statement: FlinkStatement,
    ) -> Result<DBOutput<DefaultColumnType>, SqlError> {
        if let FlinkStatement::Select(query) = &statement {
            let result = self.session.query(query)?;
            let types = result
                .columns
                .iter()
                .map(|(_, ty)| column_type(ty))
                .collect();
            let rows = result
                .materialized()
                .into_iter()
                .map(|row| row.into_iter().map(cell).collect())
                .collect();
            return Ok(DBOutput::Rows { types, rows });
        }
        Ok(match self.session.execute(statement)? {
            Outcome::Rows(lines) => DBOutput::Rows {
                types: vec![DefaultColumnType::Text],
                rows: lines.into_iter().map(|line| vec![line]).collect(),
            },
            Outcome::Ok | Outcome::Printed | Outcome::JobFinished { .. } => {
                DBOutput::StatementComplete(0)
            }
        })
    }
}

/// A value as sqllogictest writes it: `NULL`, `(empty)` for an empty string.
fn cell(value: Option<String>) -> String {
    match value {
        None => "NULL".into(),
        Some(text) if text.is_empty() => "(empty)".into(),
        Some(text) => text,
    }
}

fn column_type(ty: &SqlType) -> DefaultColumnType {
    if ty.is_integer() {
        DefaultColumnType::Integer
    } else if ty.is_numeric() {
        DefaultColumnType::FloatingPoint
    } else {
        DefaultColumnType::Text
    }
}

impl sqllogictest::DB for Sluice {
    type Error = SqlError;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SqlError> {
        let mut output = DBOutput::StatementComplete(0);
        for statement in parse_script(sql)? {
            output = self.run_statement(statement)?;
        }
        Ok(output)
    }

    fn engine_name(&self) -> &str {
        "sluice"
    }
}

/// Runs `file` of `tests/slt` in `mode`.
fn run(file: &str, mode: &'static str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let mut runner = sqllogictest::Runner::new(move || async move { Sluice::new(mode) });
    runner.add_label(mode);
    runner.set_var("DATA".into(), dir.join("data").display().to_string());
    if let Err(error) = runner.run_file(dir.join(file)) {
        panic!("{file} in {mode} mode:\n{}", error.display(true));
    }
}

/// Runs `file` in streaming and in batch mode.
fn both_modes(file: &str) {
    run(file, "streaming");
    run(file, "batch");
}

#[test]
fn projections_filters_and_scalar_functions() {
    both_modes("projection_filter.slt");
}

#[test]
fn group_aggregates() {
    both_modes("group_by.slt");
}

#[test]
fn window_aggregates() {
    both_modes("windows.slt");
}

#[test]
fn arrays_and_maps() {
    both_modes("collections.slt");
}

#[test]
fn inner_joins() {
    both_modes("joins.slt");
}

#[test]
fn views_and_union_all() {
    both_modes("union_views.slt");
}

#[test]
fn file_metadata_columns() {
    both_modes("file_metadata.slt");
}

#[test]
fn inserts_and_statement_sets() {
    both_modes("sinks.slt");
}
