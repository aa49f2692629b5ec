//! The JobManager's REST API on `rest.port`, with Flink's paths: what the CLI calls, and what the
//! web dashboard will call.
//!
//! | Method and path | What it does |
//! |---|---|
//! | `GET /overview` | TaskManagers, slots, jobs by state |
//! | `GET /taskmanagers` | the registered TaskManagers |
//! | `GET /jobs/overview` | every job, newest first |
//! | `GET /jobs/{id}` | one job, with its plan and placement |
//! | `PATCH /jobs/{id}?mode=cancel` | cancels a job |
//! | `POST /jobs/{id}/savepoints`, `POST /jobs/{id}/stop` | takes a savepoint (and stops the job) |
//! | `POST /jars/upload` | stores a job binary (the request body); answers its key |
//! | `GET /jars/{key}` | whether the binary with that SHA-256 is stored (404 if not) |
//! | `POST /jars/{key}/run` | submits a job of that binary |
//!
//! Errors answer `{"errors": ["..."]}` with a 4xx status, as Flink's do. With a token configured
//! (`security.rest.token`), every request must carry `Authorization: Bearer <token>`; others
//! get 401. Requests a browser page could forge are refused first (`rest_guard`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::dispatcher::{Dispatcher, SubmitRequest};
use super::rest_guard::{self, Guard};

/// The largest job binary the API accepts.
const MAX_UPLOAD_BYTES: usize = 1 << 30;

type Shared = State<Arc<Dispatcher>>;

/// An error answer as Flink's: `{"errors": [message]}` with `status`.
pub(super) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "errors": [message.into()] }))).into_response()
}

/// The API's routes behind `guard` (see [`super::rest_guard`]); with `token`, only requests
/// carrying it are served.
pub fn router(dispatcher: Arc<Dispatcher>, token: Option<String>, guard: Guard) -> Router {
    let routes = Router::new()
        .route("/overview", get(overview))
        .route("/taskmanagers", get(task_managers))
        .route("/jobs/overview", get(jobs))
        .route("/jobs/{id}", get(job).patch(patch_job))
        .route("/jobs/{id}/savepoints", post(savepoint))
        .route("/jobs/{id}/stop", post(savepoint))
        .route("/jars/upload", post(upload))
        .route("/jars/{key}", get(jar))
        .route("/jars/{key}/run", post(run))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES))
        .with_state(dispatcher);
    let routes = match token {
        Some(token) => routes.layer(middleware::from_fn_with_state(
            Arc::<str>::from(token),
            require_token,
        )),
        None => routes,
    };
    routes.layer(middleware::from_fn_with_state(guard, rest_guard::guard))
}

/// Refuses requests without the configured bearer token.
async fn require_token(State(token): State<Arc<str>>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    if given.is_some_and(|given| same(given.as_bytes(), token.as_bytes())) {
        next.run(request).await
    } else {
        error(
            StatusCode::UNAUTHORIZED,
            "this JobManager requires a token: Authorization: Bearer <security.rest.token>",
        )
    }
}

/// Compares in time independent of where the inputs differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn overview(State(dispatcher): Shared) -> Response {
    Json(dispatcher.overview()).into_response()
}

async fn task_managers(State(dispatcher): Shared) -> Response {
    Json(json!({ "taskmanagers": dispatcher.task_managers() })).into_response()
}

async fn jobs(State(dispatcher): Shared) -> Response {
    Json(json!({ "jobs": dispatcher.jobs() })).into_response()
}

async fn job(State(dispatcher): Shared, Path(id): Path<String>) -> Response {
    match dispatcher.job(&id) {
        Some(details) => Json(details).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no job with id {id}")),
    }
}

async fn patch_job(
    State(dispatcher): Shared,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    match query.get("mode").map(String::as_str) {
        Some("cancel") | None => match dispatcher.cancel(&id) {
            Ok(()) => (StatusCode::ACCEPTED, Json(json!({}))).into_response(),
            Err(message) => error(StatusCode::CONFLICT, message),
        },
        Some(other) => error(
            StatusCode::BAD_REQUEST,
            format!("unknown mode '{other}'; use mode=cancel"),
        ),
    }
}

/// `POST /jobs/{id}/savepoints` (`{"target-directory", "cancel-job"}`) and
/// `POST /jobs/{id}/stop` (`{"targetDirectory"}`): answers `{"location"}` once the savepoint
/// completed.
async fn savepoint(
    State(dispatcher): Shared,
    Path(id): Path<String>,
    uri: axum::http::Uri,
    body: Bytes,
) -> Response {
    if dispatcher.job(&id).is_none() {
        return error(StatusCode::NOT_FOUND, format!("no job with id {id}"));
    }
    let request: serde_json::Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(value) => value,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("malformed request: {e}")),
        }
    };
    let stop = uri.path().ends_with("/stop") || request["cancel-job"] == true;
    let directory = request["target-directory"]
        .as_str()
        .or_else(|| request["targetDirectory"].as_str())
        .map(str::to_string);
    let Some(directory) = directory else {
        return error(
            StatusCode::BAD_REQUEST,
            "no savepoint directory: give one, or set state.savepoints.dir",
        );
    };
    let outcome =
        tokio::task::spawn_blocking(move || dispatcher.savepoint(&id, &directory, stop)).await;
    match outcome {
        Ok(Ok(location)) => Json(json!({ "location": location })).into_response(),
        Ok(Err(message)) => error(StatusCode::CONFLICT, message),
        Err(join) => error(StatusCode::INTERNAL_SERVER_ERROR, join.to_string()),
    }
}

async fn upload(State(dispatcher): Shared, body: Bytes) -> Response {
    if body.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "the request body must be the job binary",
        );
    }
    let stored = tokio::task::spawn_blocking(move || dispatcher.blobs.put(&body)).await;
    match stored {
        Ok(Ok(key)) => Json(json!({ "filename": key, "status": "success" })).into_response(),
        Ok(Err(message)) => error(StatusCode::INTERNAL_SERVER_ERROR, message),
        Err(join) => error(StatusCode::INTERNAL_SERVER_ERROR, join.to_string()),
    }
}

async fn jar(State(dispatcher): Shared, Path(key): Path<String>) -> Response {
    if dispatcher.blobs.contains(&key) {
        Json(json!({ "filename": key })).into_response()
    } else {
        error(StatusCode::NOT_FOUND, format!("no job binary {key}"))
    }
}

async fn run(State(dispatcher): Shared, Path(key): Path<String>, body: Bytes) -> Response {
    let mut request: SubmitRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("malformed request: {e}")),
    };
    request.binary = key;
    match dispatcher.submit(request) {
        Ok(id) => Json(json!({ "jobid": id })).into_response(),
        Err(message) => error(StatusCode::BAD_REQUEST, message),
    }
}
