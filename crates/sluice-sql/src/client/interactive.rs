//! The prompt of `sluice sql`: statements typed line by line (with line editing and a history
//! kept in a file, on a terminal), each run when it ends with `;` — a statement set when its
//! `END;` comes. An error is printed and the session goes on, as in Flink's SQL client; Ctrl-C
//! drops the statement being typed or stops a query printing its rows, Ctrl-D or `QUIT;` /
//! `EXIT;` ends the session. Lines piped
//! in are read the same way, without editing.

use std::path::PathBuf;

use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

use super::print_outcome;
use crate::error::{SqlError, SqlResult};
use crate::session::SqlSession;
use crate::statement::parse_script;

/// The history file when none is given: `~/.sluice-sql-history`.
fn default_history() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".sluice-sql-history"))
}

/// Reads and runs statements until the input ends or the user quits.
pub fn run(session: &mut SqlSession, history: Option<PathBuf>) -> SqlResult<()> {
    let mut editor =
        DefaultEditor::new().map_err(|e| SqlError::new(format!("cannot start the prompt: {e}")))?;
    let history = history.or_else(default_history);
    if let Some(path) = &history {
        // A first session has no history yet.
        let _ = editor.load_history(path);
    }
    let mut out = std::io::stdout();
    let mut pending = String::new();
    let mut warned = false;
    loop {
        let prompt = if pending.is_empty() {
            "Sluice SQL> "
        } else {
            "> "
        };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                pending.clear();
                continue;
            }
            Err(ReadlineError::Eof) => return Ok(()),
            Err(error) => return Err(SqlError::new(format!("reading a statement: {error}"))),
        };
        pending.push_str(&line);
        pending.push('\n');
        if !is_complete(&pending) {
            continue;
        }
        let statement = std::mem::take(&mut pending);
        let statement = statement.trim();
        let _ = editor.add_history_entry(statement);
        if let Some(path) = &history
            && let Err(error) = editor.save_history(path)
            && !std::mem::replace(&mut warned, true)
        {
            eprintln!(
                "[WARNING] cannot keep the history in {}: {error}",
                path.display()
            );
        }
        if is_quit(statement) {
            return Ok(());
        }
        match parse_script(statement) {
            Ok(statements) => {
                for statement in statements {
                    match session.execute(statement) {
                        Ok(outcome) => print_outcome(&mut out, &outcome),
                        Err(error) => {
                            println!("[ERROR] {error}");
                            break;
                        }
                    }
                }
            }
            Err(error) => println!("[ERROR] {error}"),
        }
    }
}

/// Whether `statement` is the client's `QUIT;` or `EXIT;`.
fn is_quit(statement: &str) -> bool {
    let word = statement.trim_end_matches(';').trim();
    word.eq_ignore_ascii_case("quit") || word.eq_ignore_ascii_case("exit")
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn quit_and_exit_end_the_session() {
        assert!(is_quit("QUIT;") && is_quit("exit ;") && !is_quit("SELECT 1;"));
    }
}
