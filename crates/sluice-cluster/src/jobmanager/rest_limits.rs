//! Per-request limits of the REST API: how large a body may be, how long a handler may take,
//! and how many requests may be in progress at once. Connection-level limits are
//! [`super::rest_server`]'s.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::Semaphore;

use super::rest::error;

/// The largest request body of every route but the upload of a job binary.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The largest job binary an upload may carry (streamed to disk, never held in memory).
pub const MAX_UPLOAD_BYTES: u64 = 1 << 30;

/// How long a request may take, body included (savepoints wait for their checkpoint instead,
/// bounded by the checkpoint timeout).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long an upload of a job binary may take.
pub const UPLOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// The most requests in progress at once; more are answered 503 at once.
pub const MAX_IN_PROGRESS: usize = 64;

/// Answers 408 when the request (reading its body included) takes longer than `limit`.
pub async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => error(
            StatusCode::REQUEST_TIMEOUT,
            format!("the request took longer than {} s", limit.as_secs()),
        ),
    }
}

/// Answers 503 when [`MAX_IN_PROGRESS`] requests are already in progress.
pub async fn in_progress_limit(
    State(permits): State<Arc<Semaphore>>,
    request: Request,
    next: Next,
) -> Response {
    match permits.try_acquire_owned() {
        Ok(permit) => {
            let response = next.run(request).await;
            drop(permit);
            response
        }
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{MAX_IN_PROGRESS} requests are in progress; retry later"),
        ),
    }
}
