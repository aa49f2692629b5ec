//! `sluice sql`: runs a script's statements in order (`-f`), after an initialization script
//! (`-i`), or reads statements typed at its prompt (`interactive.rs`). Exits non-zero with the
//! error (and where in the text it is) when a statement of a script or its job fails.

mod interactive;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::Args;

use crate::live::{Interrupt, LiveOutput};
use crate::remote_results::ResultTarget;
use crate::session::{Outcome, SqlSession};
use crate::statement::parse_script;

/// Options of `sluice sql`.
#[derive(Debug, Clone, Args)]
pub struct SqlArgs {
    /// A script to run: its statements in order, each INSERT's job to its end.
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// A script run first (tables and options for the session).
    #[arg(short = 'i', long = "init")]
    pub init: Option<PathBuf>,
    /// The file keeping the statements typed at the prompt, from one session to the next
    /// (default: ~/.sluice-sql-history).
    #[arg(long = "history", value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// Statements to run, as text: how a cluster's workers run one job of a script.
    #[arg(long = "statements", hide = true, conflicts_with_all = ["file", "init"])]
    pub statements: Option<String>,
    /// Where the workers send a query's rows: the `host:port` `sluice sql -m` listens on.
    #[arg(long = "results-to", hide = true, requires_all = ["statements", "results_token"])]
    pub results_to: Option<String>,
    /// The token the client listening there expects.
    #[arg(long = "results-token", hide = true, requires = "results_to")]
    pub results_token: Option<String>,
}

/// Runs `sluice sql`.
pub fn run(args: &SqlArgs) -> Result<(), String> {
    let mut session = SqlSession::new();
    if let Some(statements) = &args.statements {
        if let (Some(address), Some(token)) = (&args.results_to, &args.results_token) {
            session.send_results_to(ResultTarget {
                address: address.clone(),
                token: token.clone(),
            });
        }
        return run_text(&mut session, statements, "the statements");
    }
    // A query's rows are printed as they arrive; at the prompt Ctrl-C stops a query.
    let interrupt = match &args.file {
        Some(_) => Interrupt::default(),
        None => Interrupt::install()?,
    };
    let terminal = std::io::stdout().is_terminal();
    session.print_live(LiveOutput::new(|line| println!("{line}"), interrupt).on_terminal(terminal));
    if let Some(init) = &args.init {
        run_file(&mut session, init)?;
    }
    match &args.file {
        Some(file) => run_file(&mut session, file),
        None => interactive::run(&mut session, args.history.clone()).map_err(|e| e.to_string()),
    }
}

fn run_file(session: &mut SqlSession, path: &PathBuf) -> Result<(), String> {
    run_text(session, &read_script(path)?, &path.display().to_string())
}

/// The text of the script at `path`.
pub fn read_script(path: &PathBuf) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Runs the statements of `script` (called `name` in errors), printing what each produced as
/// it ends.
fn run_text(session: &mut SqlSession, script: &str, name: &str) -> Result<(), String> {
    let statements = parse_script(script).map_err(|e| format!("{name}: {e}"))?;
    for statement in statements {
        let outcome = session
            .execute(statement)
            .map_err(|e| format!("{name}: {e}"))?;
        print_outcome(&mut std::io::stdout(), &outcome);
    }
    Ok(())
}

/// Prints what a statement produced, as Flink's SQL client does.
pub fn print_outcome(out: &mut impl Write, outcome: &Outcome) {
    let _ = match outcome {
        Outcome::Ok => writeln!(out, "[INFO] Execute statement succeeded."),
        Outcome::Rows(rows) => rows.iter().try_for_each(|row| writeln!(out, "{row}")),
        Outcome::Printed => Ok(()),
        Outcome::JobFinished { name, runtime } => {
            writeln!(
                out,
                "[INFO] Job '{name}' finished in {} ms.",
                runtime.as_millis()
            )
        }
    };
}
