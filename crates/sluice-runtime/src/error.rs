//! Errors of the runtime: what went wrong in a task, and how a job failed.
//!
//! A task error names the operator it happened in; the job error adds the task (chain), the
//! subtask and the parallelism, so a user reading it knows exactly where to look.

use std::fmt;

/// Why a task stopped before finishing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// User code in an operator, source or sink returned an error or panicked.
    #[error("operator '{operator}' failed: {message}")]
    Operator {
        /// The operator's name.
        operator: String,
        /// What went wrong, including the panic message for a panic.
        message: String,
    },
    /// The job was cancelled while the task ran.
    #[error("cancelled")]
    Cancelled,
    /// A peer task went away (it failed or the job was cancelled) while this one still needed it.
    #[error("a connected task went away: {0}")]
    Disconnected(String),
    /// The job graph did not fit together at runtime; a bug in Sluice, not in user code.
    #[error("internal error: {0}")]
    Internal(String),
}

impl TaskError {
    /// Wraps a user error or panic message as a failure of `operator`.
    pub fn operator(operator: &str, message: impl fmt::Display) -> Self {
        TaskError::Operator {
            operator: operator.to_string(),
            message: message.to_string(),
        }
    }

    /// Whether this error is only a consequence of another failure (cancellation, a lost peer).
    pub fn is_secondary(&self) -> bool {
        matches!(self, TaskError::Cancelled | TaskError::Disconnected(_))
    }
}

/// Why a job failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// The job's graph is invalid (bad parallelism, incompatible partitioning, …).
    #[error("invalid job graph: {0}")]
    InvalidGraph(String),
    /// A source could not be prepared before the job started (for example, a missing file).
    #[error("source '{source_name}' could not start: {message}")]
    SourceSetup {
        /// The source's name.
        source_name: String,
        /// What went wrong.
        message: String,
    },
    /// A subtask failed.
    #[error("task '{task}' (subtask {subtask_index}/{parallelism}) failed: {cause}", subtask_index = .subtask + 1)]
    Task {
        /// The name of the task (its operator chain).
        task: String,
        /// The zero-based index of the failing subtask.
        subtask: usize,
        /// The task's parallelism.
        parallelism: usize,
        /// What failed in it.
        cause: TaskError,
    },
    /// The job was cancelled.
    #[error("job cancelled")]
    Cancelled,
    /// The runtime could not start a thread or another resource.
    #[error("runtime error: {0}")]
    Runtime(String),
    /// Checkpointing failed the job (too many failed checkpoints, the final one failed, or the
    /// checkpoint storage is unusable).
    #[error("checkpointing failed: {0}")]
    Checkpoint(String),
    /// The job could not resume from the checkpoint it was given.
    #[error("cannot restore: {0}")]
    Restore(String),
}

/// Runs user code of `operator`, turning its error or panic into a [`TaskError`] naming it.
pub fn guard<R>(
    operator: &str,
    f: impl FnOnce() -> sluice_core::UserResult<R>,
) -> Result<R, TaskError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(TaskError::operator(operator, error)),
        Err(payload) => Err(TaskError::operator(
            operator,
            panic_message(payload.as_ref()),
        )),
    }
}

/// Turns a panic payload into a readable message.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        format!("panicked: {s}")
    } else if let Some(s) = payload.downcast_ref::<String>() {
        format!("panicked: {s}")
    } else {
        "panicked".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_error_names_operator_and_subtask() {
        let err = JobError::Task {
            task: "Map -> Filter".into(),
            subtask: 1,
            parallelism: 4,
            cause: TaskError::operator("Filter", "panicked: boom"),
        };
        assert_eq!(
            err.to_string(),
            "task 'Map -> Filter' (subtask 2/4) failed: operator 'Filter' failed: panicked: boom"
        );
    }

    #[test]
    fn panic_messages_are_extracted() {
        let payload: Box<dyn std::any::Any + Send> = Box::new("boom");
        assert_eq!(panic_message(payload.as_ref()), "panicked: boom");
        let payload: Box<dyn std::any::Any + Send> = Box::new(String::from("bang"));
        assert_eq!(panic_message(payload.as_ref()), "panicked: bang");
    }
}
