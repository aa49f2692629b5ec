//! `sluice sql -m host:port`: a script's jobs run on a cluster. Each `INSERT` (or statement
//! set) is submitted as a job of the `sluice` binary itself, its workers running the
//! statements before it (options, tables, views, functions) and it (`sluice sql --statements`):
//! no program is compiled per query. The other statements run in the client's own session, so
//! errors are found before anything is submitted and `SHOW`, `DESCRIBE` and `EXPLAIN` answer
//! there; a `SELECT` (whose rows would have to come back) is refused for now.

use sluice_cluster::cli::{self, ClientArgs, RunArgs};
use sluice_sql::client::{SqlArgs, print_outcome, read_script};
use sluice_sql::session::SqlSession;
use sluice_sql::statement::{FlinkStatement, parse_script_texts};

/// Runs `sql`'s scripts against the cluster `cluster` finds.
pub fn run(sql: &SqlArgs, cluster: &ClientArgs) -> Result<(), String> {
    if sql.statements.is_some() {
        return Err("--statements runs in a cluster's workers, not with -m".into());
    }
    let Some(file) = &sql.file else {
        return Err("with -m, give the script to run with -f".into());
    };
    let binary = std::env::current_exe()
        .map_err(|e| format!("cannot find the sluice binary to submit: {e}"))?;
    let mut session = SqlSession::new();
    let mut setup = String::new();
    let mut stdout = std::io::stdout();
    let scripts = sql.init.iter().chain(std::iter::once(file));
    for path in scripts {
        let script = read_script(path)?;
        let statements =
            parse_script_texts(&script).map_err(|e| format!("{}: {e}", path.display()))?;
        for (statement, text) in statements {
            match statement {
                FlinkStatement::Insert { .. } | FlinkStatement::StatementSet(_) => {
                    let job = format!("{setup}{text};\n");
                    let args = vec!["sql".to_string(), "--statements".to_string(), job];
                    cli::run(&RunArgs::new(cluster.clone(), binary.clone(), args))?;
                }
                FlinkStatement::Select(_) => {
                    return Err(format!(
                        "{}: a SELECT's rows cannot come back from a cluster yet: INSERT them into a sink table",
                        path.display()
                    ));
                }
                other => {
                    let keeps = !matches!(
                        other,
                        FlinkStatement::Explain(_)
                            | FlinkStatement::ShowTables
                            | FlinkStatement::Describe(_)
                    );
                    let outcome = session
                        .execute(other)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    print_outcome(&mut stdout, &outcome);
                    if keeps {
                        setup.push_str(&text);
                        setup.push_str(";\n");
                    }
                }
            }
        }
    }
    Ok(())
}
