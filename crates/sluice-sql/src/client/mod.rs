//! `sluice sql`: runs a script's statements in order (`-f`), after an initialization script
//! (`-i`), or reads statements from standard input, each ending with `;`. Exits non-zero with
//! the error (and where in the text it is) when a statement or its job fails.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use clap::Args;

use crate::error::{SqlError, SqlResult};
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
}

/// Runs `sluice sql`.
pub fn run(args: &SqlArgs) -> Result<(), String> {
    let mut session = SqlSession::new();
    if let Some(init) = &args.init {
        run_file(&mut session, init)?;
    }
    match &args.file {
        Some(file) => run_file(&mut session, file),
        None => interactive(&mut session).map_err(|e| e.to_string()),
    }
}

fn run_file(session: &mut SqlSession, path: &PathBuf) -> Result<(), String> {
    let script = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let outcomes = session
        .execute_script(&script)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for outcome in outcomes {
        print_outcome(&mut out, &outcome);
    }
    Ok(())
}

fn print_outcome(out: &mut impl Write, outcome: &Outcome) {
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

/// Reads statements from standard input until it ends; an error is printed and the session
/// goes on, as Flink's SQL client does.
fn interactive(session: &mut SqlSession) -> SqlResult<()> {
    let stdin = std::io::stdin();
    let mut pending = String::new();
    let mut out = std::io::stdout();
    prompt(&mut out, pending.is_empty());
    for line in stdin.lock().lines() {
        let line = line.map_err(|e| SqlError::new(format!("reading standard input: {e}")))?;
        pending.push_str(&line);
        pending.push('\n');
        if is_complete(&pending) {
            match session.execute_script(&pending) {
                Ok(outcomes) => outcomes.iter().for_each(|o| print_outcome(&mut out, o)),
                Err(error) => {
                    let _ = writeln!(out, "[ERROR] {error}");
                }
            }
            pending.clear();
        }
        prompt(&mut out, pending.is_empty());
    }
    Ok(())
}

/// Whether `pending` ends a statement: with `;`, and for a statement set with its `END;`.
fn is_complete(pending: &str) -> bool {
    let text = pending.trim_end();
    if !text.ends_with(';') {
        return false;
    }
    let words: Vec<String> = text
        .split_whitespace()
        .take(3)
        .map(|w| w.trim_end_matches(';').to_ascii_uppercase())
        .collect();
    let statement_set = words.len() == 3 && words[1] == "STATEMENT" && words[2] == "SET";
    let ending = text.trim_end_matches(';').trim_end();
    !statement_set || ending.len() >= 3 && ending[ending.len() - 3..].eq_ignore_ascii_case("END")
}

fn prompt(out: &mut impl Write, fresh: bool) {
    let _ = write!(out, "{}", if fresh { "Sluice SQL> " } else { "> " });
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::is_complete;

    #[test]
    fn a_statement_set_is_complete_at_its_end() {
        assert!(is_complete("SELECT 1;\n"));
        assert!(!is_complete("SELECT 1\n"));
        assert!(!is_complete("BEGIN STATEMENT SET;\n"));
        assert!(!is_complete(
            "BEGIN STATEMENT SET;\nINSERT INTO t SELECT 1;\n"
        ));
        assert!(is_complete(
            "BEGIN STATEMENT SET;\nINSERT INTO t SELECT 1;\nend;\n"
        ));
        assert!(is_complete(
            "EXECUTE STATEMENT SET BEGIN INSERT INTO t SELECT 1; END;"
        ));
    }
}
