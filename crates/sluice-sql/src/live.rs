//! Query results printed as they arrive, as Flink's SQL client prints them in tableau mode: the
//! table's header first, then each row (with its change kind) soon after the job emits it, then
//! the count — so a query over an unbounded table shows its rows as they come, and memory holds
//! only the rows not printed yet. An interruption (Ctrl-C at the prompt) cancels the query's job
//! and says how many rows were shown.

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
        }
    }

    fn print_all(&mut self, lines: Vec<String>) {
        lines.iter().for_each(|line| (self.print)(line));
    }

    /// Runs `planned` on `env` and prints its rows as they arrive, as a table of columns no
    /// wider than `max_width`, until the job ends or is interrupted.
    pub(crate) fn run(
        &mut self,
        env: &StreamExecutionEnvironment,
        planned: Planned,
        max_width: usize,
    ) -> SqlResult<()> {
        let scope = planned.scope;
        let columns = QueryResult::collect(&scope, &[]).columns;
        let table = Tableau::new(&columns, max_width);
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
        let shown = self.print_while_running(&table, &scope, &arrived, &outcome, &cancel);
        self.interrupt.watch(false);
        shown
    }

    /// Prints the rows as they arrive until the job ends (its error, if it failed) or is
    /// interrupted.
    fn print_while_running(
        &mut self,
        table: &Tableau,
        scope: &crate::expr::bind::Scope,
        arrived: &CollectedValues<RowBatch>,
        outcome: &mpsc::Receiver<Result<JobExecutionResult, JobError>>,
        cancel: &CancelHandle,
    ) -> SqlResult<()> {
        self.print_all(table.header());
        let mut count = 0;
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
                let rows = QueryResult::collect(scope, &batches);
                count += rows.rows.len();
                self.print_all(table.rows(&rows));
            }
            if let Some(result) = ended {
                self.print_all(table.footer(count));
                return result
                    .map(|_| ())
                    .map_err(|e| SqlError::new(format!("the query failed: {e}")));
            }
            if self.interrupt.requested() {
                cancel.cancel();
                let _ = outcome.recv();
                if count > 0 {
                    (self.print)(&table.border());
                }
                (self.print)(&format!("Query terminated, received {}", total(count)));
                return Ok(());
            }
        }
    }
}
