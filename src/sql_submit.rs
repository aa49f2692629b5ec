//! `sluice sql -m host:port`: a script's jobs run on a cluster. Each `INSERT` (or statement
//! set) is submitted as a job of the `sluice` binary itself, its workers running the
//! statements before it (options, tables, views, functions) and it (`sluice sql --statements`):
//! no program is compiled per query. The other statements run in the client's own session, so
//! errors are found before anything is submitted and `SHOW`, `DESCRIBE` and `EXPLAIN` answer
//! there. A `SELECT` runs as a job too: the client listens on a port of its own, and the job's
//! result sink sends it the rows (`sluice_sql::remote_results`), which it prints as it would
//! print a local query's; Ctrl-C cancels the job. A failure fails the query (no restart: rows
//! already shown would come again).

use std::io::IsTerminal;
use std::net::TcpStream;
use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use sluice_cluster::cli::{self, ClientArgs, RunArgs, SubmittedJob};
use sluice_sql::client::{SqlArgs, print_outcome, read_script};
use sluice_sql::error::{SqlError, SqlResult};
use sluice_sql::live::{Interrupt, LiveOutput, RowSource};
use sluice_sql::remote_results::{Received, ResultServer};
use sluice_sql::result::ResultRow;
use sluice_sql::session::SqlSession;
use sluice_sql::statement::{FlinkStatement, Query, parse_script_texts};

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
    let mut live = LiveOutput::new(|line| println!("{line}"), Interrupt::install()?)
        .on_terminal(std::io::stdout().is_terminal());
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
                FlinkStatement::Select(query) => {
                    let job = format!("{setup}SET 'restart-strategy.type' = 'none';\n{text};\n");
                    let select = RemoteSelect {
                        cluster,
                        binary: &binary,
                        job,
                    };
                    select
                        .run(&session, &query, &mut live)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
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

/// A `SELECT` run on the cluster, its rows sent back to this client.
struct RemoteSelect<'a> {
    cluster: &'a ClientArgs,
    binary: &'a Path,
    /// The job's statements: the script's setup, then the query.
    job: String,
}

impl RemoteSelect<'_> {
    /// Submits the query and prints its rows as they come, until its job ends.
    fn run(self, session: &SqlSession, query: &Query, live: &mut LiveOutput) -> Result<(), String> {
        let columns = session.result_columns(query).map_err(|e| e.to_string())?;
        let (width, mode) = session.result_display().map_err(|e| e.to_string())?;
        // The address the cluster reaches this client at: the one it reaches the JobManager
        // from.
        let endpoint = self.cluster.rest_endpoint()?;
        let ip = TcpStream::connect(&endpoint)
            .and_then(|stream| stream.local_addr())
            .map_err(|e| format!("cannot reach the JobManager at {endpoint}: {e}"))?
            .ip();
        let server = ResultServer::bind(ip)?;
        let target = server.target()?;
        let args = vec![
            "sql".to_string(),
            "--statements".to_string(),
            self.job,
            "--results-to".to_string(),
            target.address,
            "--results-token".to_string(),
            target.token,
        ];
        let job = cli::submit(&RunArgs::new(
            self.cluster.clone(),
            self.binary.to_path_buf(),
            args,
        ))?;
        let rows = server.accept(|| match job.ended() {
            Ok(Some(Ok(()))) => Some("the query's job finished without sending its rows".into()),
            Ok(Some(Err(why))) => Some(why),
            Ok(None) => None,
            Err(e) => Some(e),
        });
        let rows = match rows {
            Ok(rows) => rows,
            Err(why) => {
                let _ = job.cancel();
                return Err(why);
            }
        };
        let mut source = RemoteRows { rows, job };
        live.show(&columns, width, mode, &mut source)
            .map_err(|e| e.to_string())
    }
}

/// The rows a job on the cluster sends.
struct RemoteRows {
    rows: Receiver<Received>,
    job: SubmittedJob,
}

impl RowSource for RemoteRows {
    fn poll(&mut self, wait: Duration) -> (Vec<ResultRow>, Option<SqlResult<()>>) {
        let first = match self.rows.recv_timeout(wait) {
            Ok(received) => received,
            Err(RecvTimeoutError::Timeout) => return (Vec::new(), None),
            Err(RecvTimeoutError::Disconnected) => {
                return (
                    Vec::new(),
                    Some(Err(SqlError::new("the result stream ended"))),
                );
            }
        };
        let mut arrived = Vec::new();
        // The stream's reader sends its end or what broke it last, then stops.
        for received in std::iter::once(first).chain(self.rows.try_iter()) {
            match received {
                Received::Rows(rows) => arrived.extend(rows),
                Received::End => {
                    let ended = self.job.wait().map_err(SqlError::new);
                    return (arrived, Some(ended));
                }
                Received::Broken(why) => {
                    // The job's own error says more than a cut connection.
                    let ended = match self.job.wait() {
                        Ok(()) => Err(SqlError::new(why)),
                        Err(job) => Err(SqlError::new(format!("the query failed: {job}"))),
                    };
                    return (arrived, Some(ended));
                }
            }
        }
        (arrived, None)
    }

    fn cancel(&mut self) {
        if let Err(why) = self.job.cancel() {
            eprintln!("cannot cancel job {}: {why}", self.job.id);
        }
    }
}
