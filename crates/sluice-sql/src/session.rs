//! A SQL session: the catalog and the `SET` options of a client, and the execution of each
//! statement — DDL changes the catalog, `INSERT INTO` plans a job and runs it to its end on
//! the embedded mini-cluster, and a query runs to its end with its rows shown as a table (or
//! printed as they arrive).

use std::collections::BTreeMap;
use std::time::Duration;

use sluice_api::prelude::*;

use crate::catalog::{Catalog, ColumnKind};
use crate::error::{SqlError, SqlResult};
use crate::expr::bind::{Scope, bind};
use crate::live::LiveOutput;
use crate::options::parse_duration;
use crate::planner::{PlanContext, Planned, ReferencedNames, Reuse, plan_query, sink};
use crate::remote_results::{ResultSink, ResultTarget};
use crate::result::QueryResult;
use crate::statement::{FlinkStatement, parse_script};
use crate::table_view::{self, ResultMode, TableView, rows_in_set};
use crate::tableau;
use crate::types::SqlType;

/// What a statement produced, for the client to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A DDL or `SET` statement took effect.
    Ok,
    /// Lines to print (`SHOW TABLES`, `DESCRIBE`, a query's results as a table).
    Rows(Vec<String>),
    /// A query's rows, printed as they arrived (see [`SqlSession::print_live`]).
    Printed,
    /// A job ran to its end.
    JobFinished {
        /// The job's name.
        name: String,
        /// How long it ran.
        runtime: Duration,
    },
}

/// The options and tables of one client session.
#[derive(Debug, Default)]
pub struct SqlSession {
    catalog: Catalog,
    options: BTreeMap<String, String>,
    live: Option<LiveOutput>,
    results_to: Option<ResultTarget>,
}

impl SqlSession {
    /// A session without tables or options.
    pub fn new() -> Self {
        SqlSession::default()
    }

    /// Prints the rows of each query to `output` as they arrive, instead of returning them
    /// once the query ended: how the client shows a query over an unbounded table.
    pub fn print_live(&mut self, output: LiveOutput) {
        self.live = Some(output);
    }

    /// Sends the rows of each query to the client listening at `target` (a query run by a
    /// cluster's workers for `sluice sql -m`), instead of keeping them.
    pub fn send_results_to(&mut self, target: ResultTarget) {
        self.results_to = Some(target);
    }

    /// The columns (name and type) of the rows `query` gives, without running it.
    pub fn result_columns(
        &self,
        query: &sqlparser::ast::Query,
    ) -> SqlResult<Vec<(String, SqlType)>> {
        let (_env, planned) = self.plan(query)?;
        Ok(QueryResult::collect(&planned.scope, &[]).columns)
    }

    /// Makes the Rust `function` callable from SQL as `name`.
    pub fn register_function(
        &mut self,
        name: &str,
        function: std::sync::Arc<dyn crate::expr::udf::ScalarFunction>,
    ) {
        self.catalog.functions.register(name, function);
    }

    /// Makes the Rust `function` available to `CREATE FUNCTION name AS 'identifier'`.
    pub fn add_function_implementation(
        &mut self,
        identifier: &str,
        function: std::sync::Arc<dyn crate::expr::udf::ScalarFunction>,
    ) {
        self.catalog
            .functions
            .add_implementation(identifier, function);
    }

    /// The session's tables, views and functions.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Runs every statement of `script` in order; stops at the first error.
    pub fn execute_script(&mut self, script: &str) -> SqlResult<Vec<Outcome>> {
        parse_script(script)?
            .into_iter()
            .map(|statement| self.execute(statement))
            .collect()
    }

    /// Runs one statement.
    pub fn execute(&mut self, statement: FlinkStatement) -> SqlResult<Outcome> {
        match statement {
            FlinkStatement::Set { key, value } => {
                check_option(&key, &value)?;
                self.options.insert(key, value);
                Ok(Outcome::Ok)
            }
            FlinkStatement::Reset(Some(key)) => {
                self.options.remove(&key);
                Ok(Outcome::Ok)
            }
            FlinkStatement::Reset(None) => {
                self.options.clear();
                Ok(Outcome::Ok)
            }
            FlinkStatement::CreateFunction {
                name,
                identifier,
                if_not_exists,
            } => {
                self.catalog
                    .functions
                    .create(&name, &identifier, if_not_exists)?;
                Ok(Outcome::Ok)
            }
            FlinkStatement::DropFunction { name, if_exists } => {
                self.catalog.functions.drop(&name, if_exists)?;
                Ok(Outcome::Ok)
            }
            FlinkStatement::CreateTable {
                mut table,
                if_not_exists,
            } => {
                type_computed_columns(&mut table, &self.catalog.functions)?;
                self.catalog.create_table(*table, if_not_exists)?;
                Ok(Outcome::Ok)
            }
            FlinkStatement::CreateView {
                name,
                query,
                if_not_exists,
            } => {
                self.catalog.create_view(&name, query, if_not_exists)?;
                Ok(Outcome::Ok)
            }
            FlinkStatement::DropView { name, if_exists } => {
                self.catalog.drop_view(&name, if_exists)?;
                Ok(Outcome::Ok)
            }
            FlinkStatement::DropTable { name, if_exists } => {
                self.catalog.drop_table(&name, if_exists)?;
                Ok(Outcome::Ok)
            }
            FlinkStatement::ShowTables => Ok(Outcome::Rows(
                self.catalog.table_names().map(String::from).collect(),
            )),
            FlinkStatement::Describe(name) => self.describe(&name),
            FlinkStatement::Insert { table, query } => self.insert(&[(table, query)]),
            FlinkStatement::StatementSet(inserts) => self.insert(&inserts),
            FlinkStatement::Select(query) => self.select(&query),
            FlinkStatement::Explain(explained) => self.explain(*explained),
        }
    }

    /// `DESCRIBE`: one `name type [NOT NULL] [*ROWTIME*]` line per column.
    fn describe(&self, name: &str) -> SqlResult<Outcome> {
        let table = self.catalog.table(name)?;
        let rowtime = table.watermark.as_ref().map(|w| w.column.as_str());
        let lines = table
            .columns
            .iter()
            .map(|c| {
                let mut line = format!("{} {}", c.field.name, c.field.ty);
                if !c.field.nullable {
                    line.push_str(" NOT NULL");
                }
                if rowtime == Some(c.field.name.as_str()) {
                    line.push_str(" *ROWTIME*");
                }
                if let ColumnKind::Computed(expr) = &c.kind {
                    line.push_str(&format!(" AS {expr}"));
                }
                line
            })
            .collect();
        Ok(Outcome::Rows(lines))
    }

    /// Plans the inserts `(table, query)` as one job (each writing its sink table) and runs
    /// it to its end.
    fn insert(&self, inserts: &[(String, Box<sqlparser::ast::Query>)]) -> SqlResult<Outcome> {
        let (env, name) = self.plan_inserts(inserts)?;
        let result = env
            .execute(&name)
            .map_err(|e| SqlError::new(format!("job '{name}' failed: {e}")))?;
        Ok(Outcome::JobFinished {
            name,
            runtime: result.net_runtime,
        })
    }

    /// The job of the inserts `(table, query)`, and its name (Flink's `insert-into_a,b`).
    fn plan_inserts(
        &self,
        inserts: &[(String, Box<sqlparser::ast::Query>)],
    ) -> SqlResult<(StreamExecutionEnvironment, String)> {
        let env = self.environment()?;
        for (table, query) in inserts {
            let sink_table = self.catalog.table(table)?;
            sink::insert_into(&env, sink_table, self.plan_on(&env, query)?)?;
        }
        let tables: Vec<&str> = inserts.iter().map(|(table, _)| table.as_str()).collect();
        Ok((env, format!("insert-into_{}", tables.join(","))))
    }

    /// `EXPLAIN`: the operators a query, an insert or a statement set runs as.
    fn explain(&self, statement: FlinkStatement) -> SqlResult<Outcome> {
        let env = match statement {
            FlinkStatement::Insert { table, query } => self.plan_inserts(&[(table, query)])?.0,
            FlinkStatement::StatementSet(inserts) => self.plan_inserts(&inserts)?.0,
            FlinkStatement::Select(query) => {
                let env = self.environment()?;
                self.plan_on(&env, &query)?;
                env
            }
            _ => {
                return Err(SqlError::new(
                    "EXPLAIN explains a query, an INSERT or a statement set",
                ));
            }
        };
        let plan = env
            .execution_plan()
            .map_err(|e| SqlError::new(format!("cannot plan the job: {e}")))?;
        Ok(Outcome::Rows(crate::explain::explain(&plan)?))
    }

    /// Runs a query to its end and returns its rows as Flink's tableau, or prints them as
    /// they arrive when the session prints live.
    fn select(&mut self, query: &sqlparser::ast::Query) -> SqlResult<Outcome> {
        let (width, mode) = self.result_display()?;
        if let Some(target) = &self.results_to {
            let (env, planned) = self.plan(query)?;
            let sink = ResultSink::new(target.clone(), planned.scope);
            planned
                .stream
                .sink_to(sink)
                .name("Sink: Collect")
                .set_parallelism(1)
                .set_input_buffer_size(2);
            env.execute("collect")
                .map_err(|e| SqlError::new(format!("the query failed: {e}")))?;
            return Ok(Outcome::Printed);
        }
        if self.live.is_some() {
            let (env, planned) = self.plan(query)?;
            if let Some(live) = &mut self.live {
                live.run(&env, planned, width, mode)?;
            }
            return Ok(Outcome::Printed);
        }
        let result = self.query(query)?;
        Ok(Outcome::Rows(match mode {
            ResultMode::Tableau => tableau::tableau(&result, width),
            ResultMode::Table { max_rows } => {
                let table = result.materialized_table(max_rows);
                let mut view = TableView::new(&result.columns, width, false);
                view.frame(&table, &rows_in_set(table.rows().len()))
            }
        }))
    }

    /// How query results are shown: the widest column (`sql-client.display.max-column-width`)
    /// and the mode (`sql-client.execution.result-mode`: `tableau`, the default here, or
    /// `changelog`, each change as a line; `table`, the table they leave).
    pub fn result_display(&self) -> SqlResult<(usize, ResultMode)> {
        let width = match self.options.get("sql-client.display.max-column-width") {
            Some(value) => parse_number("sql-client.display.max-column-width", value)?,
            None => tableau::DEFAULT_MAX_COLUMN_WIDTH,
        };
        let mode = self
            .options
            .get(RESULT_MODE)
            .map(|m| m.to_ascii_lowercase());
        let mode = match mode.as_deref() {
            Some("table") => ResultMode::Table {
                max_rows: match self.options.get(MAX_TABLE_ROWS) {
                    Some(value) => parse_number(MAX_TABLE_ROWS, value)?,
                    None => table_view::DEFAULT_MAX_ROWS,
                },
            },
            _ => ResultMode::Tableau,
        };
        Ok((width, mode))
    }

    /// Runs a query to its end and returns its rows.
    pub fn query(&self, query: &sqlparser::ast::Query) -> SqlResult<QueryResult> {
        let (_env, planned) = self.plan(query)?;
        let batches = planned
            .stream
            .execute_and_collect("collect")
            .map_err(|e| SqlError::new(format!("the query failed: {e}")))?;
        Ok(QueryResult::collect(&planned.scope, &batches))
    }

    /// Plans `query` on a new environment configured by the session's options.
    fn plan(
        &self,
        query: &sqlparser::ast::Query,
    ) -> SqlResult<(StreamExecutionEnvironment, Planned)> {
        let env = self.environment()?;
        let planned = self.plan_on(&env, query)?;
        Ok((env, planned))
    }

    /// A new environment configured by the session's options.
    fn environment(&self) -> SqlResult<StreamExecutionEnvironment> {
        let env = StreamExecutionEnvironment::new();
        self.configure(&env)?;
        Ok(env)
    }

    /// Plans `query` on `env`.
    fn plan_on(
        &self,
        env: &StreamExecutionEnvironment,
        query: &sqlparser::ast::Query,
    ) -> SqlResult<Planned> {
        let referenced =
            ReferencedNames::of(std::iter::once(query).chain(self.catalog.view_queries()));
        self.plan_reading(env, query, referenced).map_err(|error| {
            // Scans left out the computed columns no query names, so an unknown name's
            // "Did you mean" may miss one: the error of a plan with every column says it.
            let whole = StreamExecutionEnvironment::new();
            self.plan_reading(&whole, query, ReferencedNames::all())
                .err()
                .unwrap_or(error)
        })
    }

    /// Plans `query` on `env`, its scans computing the computed columns `referenced` names.
    fn plan_reading(
        &self,
        env: &StreamExecutionEnvironment,
        query: &sqlparser::ast::Query,
        referenced: ReferencedNames,
    ) -> SqlResult<Planned> {
        let batch = self
            .options
            .get("execution.runtime-mode")
            .is_some_and(|mode| mode.eq_ignore_ascii_case("batch"));
        let ctx = PlanContext {
            catalog: &self.catalog,
            env,
            batch,
            reuse: Reuse::new(
                !self
                    .options
                    .get("table.optimizer.reuse-sub-plan-enabled")
                    .is_some_and(|v| v.eq_ignore_ascii_case("false")),
            ),
            referenced,
        };
        plan_query(&ctx, query)
    }

    /// Applies the session's options to a job's environment.
    fn configure(&self, env: &StreamExecutionEnvironment) -> SqlResult<()> {
        let mut job_defaults = String::new();
        for (key, value) in &self.options {
            match key.as_str() {
                "parallelism.default" => {
                    env.set_parallelism(parse_number(key, value)?);
                }
                "execution.runtime-mode" => {
                    env.set_runtime_mode(match value.to_ascii_lowercase().as_str() {
                        "batch" => RuntimeMode::Batch,
                        _ => RuntimeMode::Streaming,
                    });
                }
                "pipeline.auto-watermark-interval" => {
                    env.set_auto_watermark_interval(parse_duration(key, value)?);
                }
                // Flink 2's key, and the name it had before.
                "execution.state-recovery.path" | "execution.savepoint.path" => {
                    env.restore_from(value);
                }
                key if is_job_option(key) => {
                    job_defaults.push_str(&format!("{key}: {value}\n"));
                }
                _ => {}
            }
        }
        env.apply_defaults(&job_defaults);
        Ok(())
    }
}

/// Gives each computed column the type of its expression over the physical and metadata
/// columns.
fn type_computed_columns(
    table: &mut crate::catalog::TableDef,
    functions: &crate::expr::udf::Functions,
) -> SqlResult<()> {
    let mut readable = table.physical_fields();
    readable.extend(table.metadata_fields());
    let readable = Scope::of_fields(&readable);
    for column in &mut table.columns {
        if let ColumnKind::Computed(expr) = &column.kind {
            let bound = bind(expr, &readable, functions)?;
            column.field.ty = bound.ty;
            column.field.nullable = bound.nullable;
        }
    }
    Ok(())
}

/// How the client shows query results.
const RESULT_MODE: &str = "sql-client.execution.result-mode";
/// The most rows the table result mode keeps.
const MAX_TABLE_ROWS: &str = "sql-client.execution.max-table-result.rows";

/// Checkpoint, state backend, restart and local REST keys: handed to the job as its defaults.
fn is_job_option(key: &str) -> bool {
    key.starts_with("execution.checkpointing.")
        || key.starts_with("state.")
        || key.starts_with("restart-strategy.")
        || sluice_api::LocalWebOptions::is_key(key)
}

/// Rejects values of known options that could not apply.
fn check_option(key: &str, value: &str) -> SqlResult<()> {
    match key {
        "parallelism.default" => parse_number(key, value).map(|_| ()),
        "execution.runtime-mode" => match value.to_ascii_lowercase().as_str() {
            "streaming" | "batch" | "automatic" => Ok(()),
            _ => Err(SqlError::new(format!(
                "'{key}' must be streaming, batch or automatic, not '{value}'"
            ))),
        },
        "pipeline.auto-watermark-interval" => parse_duration(key, value).map(|_| ()),
        "table.optimizer.reuse-sub-plan-enabled" => match value.to_ascii_lowercase().as_str() {
            "true" | "false" => Ok(()),
            _ => Err(SqlError::new(format!(
                "'{key}' must be true or false, not '{value}'"
            ))),
        },
        "sql-client.display.max-column-width" | MAX_TABLE_ROWS => {
            parse_number(key, value).map(|_| ())
        }
        RESULT_MODE => match value.to_ascii_lowercase().as_str() {
            "table" | "tableau" | "changelog" => Ok(()),
            _ => Err(SqlError::new(format!(
                "'{key}' must be table, tableau or changelog, not '{value}'"
            ))),
        },
        // TIMESTAMP_LTZ values are shown, cast and windowed in UTC.
        "table.local-time-zone" => match value {
            "UTC" | "GMT" | "Z" | "Etc/UTC" => Ok(()),
            _ => Err(SqlError::new(format!(
                "'{key}' = '{value}': only UTC is supported yet"
            ))),
        },
        _ => Ok(()),
    }
}

fn parse_number(key: &str, value: &str) -> SqlResult<usize> {
    value
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| SqlError::new(format!("'{key}' must be a positive number, not '{value}'")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_statements_change_the_catalog() {
        let mut session = SqlSession::new();
        let outcomes = session
            .execute_script(
                "CREATE TABLE t (a INT NOT NULL, ts TIMESTAMP(3), b AS a + 1, WATERMARK FOR ts AS ts) WITH ('connector' = 'filesystem');
                 SHOW TABLES; DESCRIBE t;",
            )
            .unwrap();
        assert_eq!(outcomes[1], Outcome::Rows(vec!["t".into()]));
        assert_eq!(
            outcomes[2],
            Outcome::Rows(vec![
                "a INT NOT NULL".into(),
                "ts TIMESTAMP(3) *ROWTIME*".into(),
                "b INT NOT NULL AS a + 1".into()
            ])
        );
        assert!(
            session
                .execute_script("DROP TABLE t; DROP TABLE t;")
                .is_err()
        );
    }

    #[test]
    fn bad_options_are_rejected() {
        let mut session = SqlSession::new();
        assert!(
            session
                .execute_script("SET 'parallelism.default' = 'two';")
                .is_err()
        );
        assert!(
            session
                .execute_script("SET 'pipeline.auto-watermark-interval' = '200 ms';")
                .is_ok()
        );
        assert_eq!(parse_duration("k", "5 s").unwrap(), Duration::from_secs(5));
    }
}
