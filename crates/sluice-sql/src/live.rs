//! Query results printed as they arrive, as Flink's SQL client prints them. In tableau mode the
//! table's header comes first, then each row (with its change kind) soon after the job emits
//! it, then the count — so a query over an unbounded table shows its rows as they come, and
//! memory holds only the rows not printed yet. In table mode the changes update the table they
//! describe, redrawn in place on a terminal (`table_view.rs`). An interruption (Ctrl-C at the
//! prompt) cancels the query's job and says how many rows were shown.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use sluice_api::prelude::*;
use sluice_api::sinks::CollectedValues;
use sluice_runtime::CancelHandle;

use crate::batch::RowBatch;
use crate::error::{SqlError, SqlResult};
use crate::expr::bind::Scope;
use crate::planner::Planned;
use crate::result::{QueryResult, ResultRow};
use crate::table_view::{MaterializedTable, ResultMode, TableView, rows_in_set};
use crate::tableau::{Tableau, total};
use crate::types::SqlType;

/// How often the rows that arrived are printed.
const PRINT_INTERVAL: Duration = Duration::from_millis(100);

/// Ctrl-C at the client: while a query prints its rows it stops the query; at any other time
/// it ends the client, as it would without a handler.
#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    requested: Arc<AtomicBool>,
    watching: Arc<AtomicBool>,
}

impl Interrupt {
    /// Handles Ctrl-C (SIGINT) for the rest of the process.
    pub fn install() -> Result<Interrupt, String> {
        let interrupt = Interrupt::default();
        let handler = interrupt.clone();
        ctrlc::set_handler(move || {
            if handler.watching.load(Ordering::SeqCst) {
                handler.requested.store(true, Ordering::SeqCst);
            } else {
                std::process::exit(130);
            }
        })
        .map_err(|e| format!("cannot handle Ctrl-C: {e}"))?;
        Ok(interrupt)
    }

    /// Starts (`true`) or stops watching for an interruption of a query.
    fn watch(&self, watching: bool) {
        self.requested.store(false, Ordering::SeqCst);
        self.watching.store(watching, Ordering::SeqCst);
    }

    /// Whether the query was interrupted.
    fn requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }
}

/// Where a session prints query results as they arrive, and what interrupts a query.
pub struct LiveOutput {
    print: Box<dyn FnMut(&str) + Send>,
    interrupt: Interrupt,
    terminal: bool,
}

impl fmt::Debug for LiveOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveOutput").finish_non_exhaustive()
    }
}

impl LiveOutput {
    /// Prints each line with `print`; `interrupt` stops a query.
    pub fn new(print: impl FnMut(&str) + Send + 'static, interrupt: Interrupt) -> Self {
        LiveOutput {
            print: Box::new(print),
            interrupt,
            terminal: false,
        }
    }

    /// Whether the output is a terminal, where the table mode redraws its table in place.
    pub fn on_terminal(mut self, terminal: bool) -> Self {
        self.terminal = terminal;
        self
    }

    fn print_all(&mut self, lines: Vec<String>) {
        lines.iter().for_each(|line| (self.print)(line));
    }

    /// Runs `planned` on `env` and prints its rows as they arrive in `mode`, in columns no
    /// wider than `max_width`, until the job ends or is interrupted.
    pub(crate) fn run(
        &mut self,
        env: &StreamExecutionEnvironment,
        planned: Planned,
        max_width: usize,
        mode: ResultMode,
    ) -> SqlResult<()> {
        let scope = planned.scope;
        let columns = QueryResult::collect(&scope, &[]).columns;
        let arrived = planned.stream.collect();
        let client = env
            .execute_async("collect")
            .map_err(|e| SqlError::new(format!("the query failed: {e}")))?;
        let cancel = client.cancel_handle();
        let (finished, outcome) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = finished.send(client.wait());
        });
        let mut source = LocalRows {
            scope,
            arrived,
            outcome,
            cancel,
        };
        self.show(&columns, max_width, mode, &mut source)
    }

    /// Prints the rows of a running query, of `columns`, as `source` delivers them, in `mode`
    /// in columns no wider than `max_width`, until the query ends (its error, if it failed) or
    /// is interrupted (which cancels it).
    pub fn show(
        &mut self,
        columns: &[(String, SqlType)],
        max_width: usize,
        mode: ResultMode,
        source: &mut dyn RowSource,
    ) -> SqlResult<()> {
        let mut shown = match mode {
            ResultMode::Tableau => Shown::Changes {
                layout: Tableau::new(columns, max_width),
                count: 0,
            },
            ResultMode::Table { max_rows } => Shown::Table {
                view: TableView::new(columns, max_width, self.terminal),
                table: MaterializedTable::new(max_rows),
                changed: true,
            },
        };
        self.interrupt.watch(true);
        let printed = self.print_while_running(&mut shown, source);
        self.interrupt.watch(false);
        printed
    }

    fn print_while_running(
        &mut self,
        shown: &mut Shown,
        source: &mut dyn RowSource,
    ) -> SqlResult<()> {
        self.print_all(shown.start());
        loop {
            let (rows, ended) = source.poll(PRINT_INTERVAL);
            if !rows.is_empty() {
                let lines = shown.arrived(rows);
                self.print_all(lines);
            }
            if let Some(result) = ended {
                self.print_all(shown.finished());
                return result;
            }
            if self.interrupt.requested() {
                source.cancel();
                self.print_all(shown.interrupted());
                return Ok(());
            }
            self.print_all(shown.tick());
        }
    }
}

/// Where a running query's rows come from.
pub trait RowSource {
    /// Waits up to `wait` for news: the rows that arrived (perhaps none), and the query's end
    /// if it came (`Ok` when it finished, its error when it failed).
    fn poll(&mut self, wait: Duration) -> (Vec<ResultRow>, Option<SqlResult<()>>);

    /// Stops the query, returning once it stopped.
    fn cancel(&mut self);
}

/// The rows of a query running in this process.
struct LocalRows {
    scope: Scope,
    arrived: CollectedValues<RowBatch>,
    outcome: mpsc::Receiver<Result<JobExecutionResult, JobError>>,
    cancel: CancelHandle,
}

impl RowSource for LocalRows {
    fn poll(&mut self, wait: Duration) -> (Vec<ResultRow>, Option<SqlResult<()>>) {
        let ended = match self.outcome.recv_timeout(wait) {
            Ok(result) => Some(result),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                Some(Err(JobError::Runtime("the query's job vanished".into())))
            }
        };
        // Taken after the end was seen: the job's last rows are among them.
        let batches = self.arrived.take();
        let rows = QueryResult::collect(&self.scope, &batches).rows;
        let ended = ended.map(|result| {
            result
                .map(|_| ())
                .map_err(|e| SqlError::new(format!("the query failed: {e}")))
        });
        (rows, ended)
    }

    fn cancel(&mut self) {
        self.cancel.cancel();
        let _ = self.outcome.recv();
    }
}

/// What the client shows of a running query.
enum Shown {
    /// Each change as a line (tableau mode), and how many were shown.
    Changes { layout: Tableau, count: usize },
    /// The table the changes leave (table mode), and whether it changed since last drawn.
    Table {
        view: TableView,
        table: MaterializedTable,
        changed: bool,
    },
}

impl Shown {
    /// The lines before any row.
    fn start(&mut self) -> Vec<String> {
        match self {
            Shown::Changes { layout, .. } => layout.header(),
            Shown::Table { .. } => Vec::new(),
        }
    }

    /// The lines showing the rows that arrived.
    fn arrived(&mut self, rows: Vec<ResultRow>) -> Vec<String> {
        match self {
            Shown::Changes { layout, count } => {
                *count += rows.len();
                layout.rows(&rows)
            }
            Shown::Table { table, changed, .. } => {
                for (kind, values) in rows {
                    table.apply(kind, values);
                }
                *changed = true;
                Vec::new()
            }
        }
    }

    /// The lines of a moment without news: the table redrawn if it changed, on a terminal.
    fn tick(&mut self) -> Vec<String> {
        match self {
            Shown::Table {
                view,
                table,
                changed,
            } if *changed && view.redraws() => {
                *changed = false;
                let status = format!(
                    "{} so far (Ctrl-C stops the query)",
                    rows_in_set(table.rows().len())
                );
                view.frame(table, &status)
            }
            _ => Vec::new(),
        }
    }

    /// The lines after the last row of a query that ended.
    fn finished(&mut self) -> Vec<String> {
        match self {
            Shown::Changes { layout, count } => layout.footer(*count),
            Shown::Table { view, table, .. } => view.frame(table, &rows_in_set(table.rows().len())),
        }
    }

    /// The lines after the last row of a query stopped by Ctrl-C.
    fn interrupted(&mut self) -> Vec<String> {
        match self {
            Shown::Changes { layout, count } => {
                let mut lines = Vec::new();
                if *count > 0 {
                    lines.push(layout.border());
                }
                lines.push(format!("Query terminated, received {}", total(*count)));
                lines
            }
            Shown::Table { view, table, .. } => {
                let status = format!("Query terminated, {}", rows_in_set(table.rows().len()));
                view.frame(table, &status)
            }
        }
    }
}
