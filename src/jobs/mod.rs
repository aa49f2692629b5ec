//! Ready-made jobs shipped with Sluice, run by the `sluice` binary and by the examples.

pub mod event_time_windows;
pub mod exactly_once_counts;
pub mod word_count;

use std::process::ExitCode;

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
