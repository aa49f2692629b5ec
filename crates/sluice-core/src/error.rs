//! The error type user functions, sources and sinks return.
//!
//! User code can fail for any reason, so its error is a boxed `std::error::Error`; the runtime
//! wraps it with the operator, subtask and job it happened in before reporting it.

/// An error raised by user code (a function, a source or a sink).
pub type UserError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The result of user code.
pub type UserResult<T = ()> = Result<T, UserError>;
