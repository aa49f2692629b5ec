//! The `sluice` command-line tool.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sluice::jobs::event_time_windows::{self, EventTimeWindowsArgs};
use sluice::jobs::exactly_once_counts::{self, ExactlyOnceCountsArgs};
use sluice::jobs::word_count::{self, WordCountArgs};
use sluice_cluster::cli::{
    self, CancelArgs, ClientArgs, InfoArgs, JobManagerArgs, ListArgs, OverviewArgs, RunArgs,
    SavepointArgs, StopArgs, TaskManagerArgs,
};
use sluice_sql::client::{self as sql_client, SqlArgs};

/// Sluice: a distributed, stateful stream processor.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the built-in WordCount job on the embedded mini-cluster.
    WordCount(WordCountArgs),
    /// Count and sum `key,timestamp_ms,value` lines per key in event-time windows.
    EventTimeWindows(EventTimeWindowsArgs),
    /// Running per-key counts and sums of `key,value` lines, written exactly once.
    ExactlyOnceCounts(ExactlyOnceCountsArgs),
    /// Run Flink SQL: a script (-f), or statements typed on standard input; with -m, the
    /// script's jobs run on a cluster.
    Sql(SqlCommand),
    /// Run a JobManager: the cluster's control port, REST API and dispatcher.
    Jobmanager(JobManagerArgs),
    /// Run a TaskManager: offer slots to the JobManager and run jobs' workers.
    Taskmanager(TaskManagerArgs),
    /// Submit a job binary to the cluster (and wait for it unless -d).
    Run(RunArgs),
    /// List the cluster's jobs.
    List(ListArgs),
    /// Show the cluster's TaskManagers, slots and jobs.
    Overview(OverviewArgs),
    /// Cancel a job.
    Cancel(CancelArgs),
    /// Trigger a savepoint of a job.
    Savepoint(SavepointArgs),
    /// Stop a job with a savepoint.
    Stop(StopArgs),
    /// Print a job binary's plan without running it.
    Info(InfoArgs),
}

/// `sluice sql`: the client's options, and where a cluster is (with -m).
#[derive(Debug, clap::Args)]
struct SqlCommand {
    #[command(flatten)]
    sql: SqlArgs,
    #[command(flatten)]
    cluster: ClientArgs,
}

/// Runs a cluster command; its error is printed and fails the process.
fn cluster(outcome: Result<(), String>) -> Result<u64, String> {
    outcome.map(|()| 0)
}

/// mimalloc: Sluice moves many small records between threads, where glibc's allocator is slow.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    sluice::init_logging();
    let outcome = match &Cli::parse().command {
        Command::WordCount(args) => word_count::run(args).map(|result| {
            tracing::info!(
                "job '{}' finished in {} ms",
                result.job_name,
                result.net_runtime.as_millis()
            );
            0
        }),
        Command::EventTimeWindows(args) => event_time_windows::run(args),
        Command::ExactlyOnceCounts(args) => exactly_once_counts::run(args),
        Command::Sql(args) if args.cluster.jobmanager.is_some() => {
            cluster(sluice::sql_submit::run(&args.sql, &args.cluster))
        }
        Command::Sql(args) => cluster(sql_client::run(&args.sql)),
        Command::Jobmanager(args) => cluster(cli::jobmanager(args)),
        Command::Taskmanager(args) => cluster(cli::taskmanager(args)),
        Command::Run(args) => cluster(cli::run(args)),
        Command::List(args) => cluster(cli::list(args)),
        Command::Overview(args) => cluster(cli::overview(args)),
        Command::Cancel(args) => cluster(cli::cancel(args)),
        Command::Savepoint(args) => cluster(cli::savepoint(args)),
        Command::Stop(args) => cluster(cli::stop(args)),
        Command::Info(args) => cluster(cli::info(args)),
    };
    sluice::jobs::exit_code(outcome)
}
