//! Ready-made jobs shipped with Sluice, run by the `sluice` binary and by the examples.

pub mod event_time_windows;
pub mod exactly_once_counts;
pub mod word_count;

use std::process::ExitCode;

use clap::Args;
use sluice_api::StreamExecutionEnvironment;

/// `--web [PORT]`: the job serves the REST API and web dashboard while it runs.
#[derive(Debug, Clone, Default, Args)]
pub struct WebArgs {
    /// Serve the web dashboard and REST API of the running job on this port (8081 if none is
    /// given), on loopback; a range such as 8081-8090 takes its first free port.
    #[arg(long, value_name = "PORT", num_args = 0..=1, default_missing_value = "8081")]
    pub web: Option<String>,
}

impl WebArgs {
    /// Sets `env`'s `rest.port` when `--web` was given.
    pub fn apply(&self, env: &StreamExecutionEnvironment) {
        if let Some(port) = &self.web {
            env.set_rest_option("rest.port", port);
        }
    }
}

/// Reports how a job that skips malformed lines ended, on standard error, as its exit code:
/// success (with the number of skipped lines, if any) or the error.
pub fn exit_code(outcome: Result<u64, String>) -> ExitCode {
    match outcome {
        Ok(malformed) => {
            if malformed > 0 {
                eprintln!("skipped {malformed} malformed line(s)");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
