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
use crate::planner::Planned;
use crate::result::QueryResult;
use crate::table_view::{MaterializedTable, ResultMode, TableView, rows_in_set};
use crate::tableau::{Tableau, total};

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
        let mut shown = match mode {
            ResultMode::Tableau => Shown::Changes {
                layout: Tableau::new(&columns, max_width),
                count: 0,
            },
            ResultMode::Table { max_rows } => Shown::Table {
                view: TableView::new(&columns, max_width, self.terminal),
                table: MaterializedTable::new(max_rows),
                changed: true,
            },
        };
        let arrived = planned.stream.collect();
        let client = env
            .execute_async("collect")
            .map_err(|e| SqlError::new(format!("the query failed: {e}")))?;
        let cancel = client.cancel_handle();
        let (finished, outcome) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = finished.send(client.wait());
        });
        self.interrupt.watch(true);
        let printed = self.print_while_running(&mut shown, &scope, &arrived, &outcome, &cancel);
        self.interrupt.watch(false);
        printed
    }

    /// Prints the rows as they arrive until the job ends (its error, if it failed) or is
    /// interrupted.
    fn print_while_running(
        &mut self,
        shown: &mut Shown,
        scope: &crate::expr::bind::Scope,
        arrived: &CollectedValues<RowBatch>,
        outcome: &mpsc::Receiver<Result<JobExecutionResult, JobError>>,
        cancel: &CancelHandle,
    ) -> SqlResult<()> {
        self.print_all(shown.start());
        loop {
            let ended = match outcome.recv_timeout(PRINT_INTERVAL) {
                Ok(result) => Some(result),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    Some(Err(JobError::Runtime("the query's job vanished".into())))
                }
            };
            let batches = arrived.take();
            if !batches.is_empty() {
                let lines = shown.arrived(QueryResult::collect(scope, &batches));
                self.print_all(lines);
            }
            if let Some(result) = ended {
                self.print_all(shown.finished());
                return result
                    .map(|_| ())
                    .map_err(|e| SqlError::new(format!("the query failed: {e}")));
            }
            if self.interrupt.requested() {
                cancel.cancel();
                let _ = outcome.recv();
                self.print_all(shown.interrupted());
                return Ok(());
            }
            self.print_all(shown.tick());
        }
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
    fn arrived(&mut self, rows: QueryResult) -> Vec<String> {
        match self {
            Shown::Changes { layout, count } => {
                *count += rows.rows.len();
                layout.rows(&rows)
            }
            Shown::Table { table, changed, .. } => {
                for (kind, values) in rows.rows {
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
