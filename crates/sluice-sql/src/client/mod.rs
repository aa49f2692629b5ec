//! `sluice sql`: runs a script's statements in order (`-f`), after an initialization script
//! (`-i`), or reads statements typed at its prompt (`interactive.rs`). Exits non-zero with the
//! error (and where in the text it is) when a statement of a script or its job fails.

mod interactive;

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::session::{Outcome, SqlSession};

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
}

/// Runs `sluice sql`.
pub fn run(args: &SqlArgs) -> Result<(), String> {
    let mut session = SqlSession::new();
    if let Some(statements) = &args.statements {
        return run_text(&mut session, statements, "the statements");
    }
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

/// Runs the statements of `script` (called `name` in errors), printing what each produced.
fn run_text(session: &mut SqlSession, script: &str, name: &str) -> Result<(), String> {
    let outcomes = session
        .execute_script(script)
        .map_err(|e| format!("{name}: {e}"))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for outcome in outcomes {
        print_outcome(&mut out, &outcome);
    }
    Ok(())
}

/// Prints what a statement produced, as Flink's SQL client does.
pub fn print_outcome(out: &mut impl Write, outcome: &Outcome) {
    let _ = match outcome {
        Outcome::Ok => writeln!(out, "[INFO] Execute statement succeeded."),
        Outcome::Rows(rows) => rows.iter().try_for_each(|row| writeln!(out, "{row}")),
        Outcome::JobFinished { name, runtime } => {
            writeln!(
                out,
                "[INFO] Job '{name}' finished in {} ms.",
                runtime.as_millis()
            )
        }
    };
}
