//! The JobManager's REST API on `rest.port`, with Flink's paths: what the CLI calls, and what the
//! web dashboard will call.
//!
//! | Method and path | What it does |
//! |---|---|
//! | `GET /` | the web dashboard (its files under `/web/`; no token needed for them) |
//! | `GET /v1/openapi.yaml` | this API's OpenAPI description (no token needed) |
//! | `GET /config` | the dashboard's configuration |
//! | `GET /overview` | TaskManagers, slots, jobs by state |
//! | `GET /taskmanagers` | the registered TaskManagers |
//! | `GET /taskmanagers/{id}` | one TaskManager with the slots each job uses |
//! | `GET /taskmanagers/{id}/metrics[?get=…]` | its CPU time and load and memory, by Flink's names |
//! | `GET /jobmanager/config` | the effective settings, `[{"key", "value"}]` (no secrets) |
//! | `GET /jobmanager/metrics[?get=…]` | its metrics' names, or their values |
//! | `GET /jobs` | every job's id and state |
//! | `GET /jobs/overview` | every job, newest first |
//! | `GET /jobs/{id}` | one job: its vertices with their record counts, plan and placement |
//! | `GET /jobs/{id}/plan` | the job's vertices as Flink's JSON plan |
//! | `GET /jobs/{id}/metrics[?get=…]` | its metrics (uptime, restarts, checkpoints), or their values |
//! | `GET /jobs/{id}/checkpoints` | checkpoint counts, summary, latest and history |
//! | `GET /jobs/{id}/checkpoints/config` | the job's checkpointing (404 if it has none) |
//! | `GET /jobs/{id}/checkpoints/details/{checkpoint}` | one checkpoint with each vertex's part |
//! | `GET /jobs/{id}/checkpoints/details/{checkpoint}/subtasks/{vertex}` | a vertex's subtasks in it |
//! | `GET /jobs/{id}/exceptions` | why its attempts failed, newest first |
//! | `GET /jobs/{id}/config` | its parallelism, restart strategy and job options |
//! | `GET /jobs/{id}/vertices/{vertex}` | one vertex with its subtasks |
//! | `GET /jobs/{id}/vertices/{vertex}/metrics[?get=0.numRecordsIn,…]` | its subtasks' metrics |
//! | `GET /jobs/{id}/vertices/{vertex}/subtasks/metrics[?get=…&agg=…]` | aggregated over them |
//! | `GET /jobs/{id}/vertices/{vertex}/watermarks` | each subtask's input watermark |
//! | `GET /jobs/{id}/vertices/{vertex}/backpressure` | each subtask's blocked share of time |
//! | `GET /jobs/{id}/vertices/{vertex}/subtasktimes` | when its subtasks entered their states |
//! | `PATCH /jobs/{id}?mode=cancel` | cancels a job |
//! | `POST /jobs/{id}/savepoints`, `POST /jobs/{id}/stop` | starts a savepoint (stopping the job after it); answers its `request-id` |
//! | `GET /jobs/{id}/savepoints/{trigger}` | whether it is in progress, its location or why it failed |
//! | `PATCH /jobs/{id}/rescaling?parallelism=N` | rescales it through a savepoint; answers its `request-id` |
//! | `GET /jobs/{id}/rescaling/{trigger}` | whether the rescaling is in progress, done or why it failed |
//! | `POST /jars/upload` | stores a job binary (the request body); answers its key |
//! | `GET /jars/{key}` | whether the binary with that SHA-256 is stored (404 if not) |
//! | `POST /jars/{key}/run` | submits a job of that binary |
//!
//! Bodies are limited to 1 MiB (job binaries to 1 GiB, streamed to disk), handlers to 30 s
//! (uploads 10 min; savepoints wait for their checkpoint), requests in progress to 64
//! (`rest_limits`), connections to 256 with a 10 s header timeout (`rest_server`); savepoints
//! go only under the JobManager's `state.savepoints.dir`, and submitted plans are validated.
//!
//! Every path is served bare and under `/v1`, as Flink serves them; the monitoring answers
//! have Flink's JSON shapes (`monitoring`). Errors answer `{"errors": ["..."]}` with a 4xx
//! status, as Flink's do: 404 for an unknown job or vertex, 400 for an id that is not one. With a token configured
//! (`security.rest.token`), every request must carry `Authorization: Bearer <token>`; others
//! get 401. Requests a browser page could forge are refused first (`rest_guard`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use futures::StreamExt;
use serde_json::json;
use tokio::sync::Semaphore;

use super::dashboard;
use super::dispatcher::{Dispatcher, SubmitRequest};
use super::monitor::Monitor;
use super::monitoring::{self, JobView};
use super::rest_guard::{self, Guard};
use super::rest_limits::{
    self, MAX_BODY_BYTES, MAX_IN_PROGRESS, MAX_UPLOAD_BYTES, REQUEST_TIMEOUT, UPLOAD_TIMEOUT,
};
use super::savepoint_target::savepoint_target;
use super::savepoint_triggers::SavepointTriggers;

type Shared = State<Arc<dyn Monitor>>;

/// An error answer as Flink's: `{"errors": [message]}` with `status`.
pub(super) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "errors": [message.into()] }))).into_response()
}

/// How the REST API is protected and where it may write.
#[derive(Debug, Clone)]
pub struct RestSettings {
    /// With a token, only requests carrying it are served.
    pub token: Option<String>,
    /// What requests a browser page could forge are refused (see [`super::rest_guard`]).
    pub guard: Guard,
    /// The only directory savepoints requested over REST may go to (`state.savepoints.dir`).
    pub savepoint_dir: Option<String>,
    /// The settings `/jobmanager/config` shows, `(key, value)`.
    pub shown_config: Vec<(String, String)>,
}

/// The settings `/jobmanager/config` shows.
#[derive(Debug, Clone, Default)]
struct ShownConfig(Arc<Vec<(String, String)>>);

/// The configured savepoint directory, as the savepoint handlers see it.
#[derive(Debug, Clone)]
struct SavepointRoot(Option<String>);

/// The JobManager's API: monitoring and job management over `dispatcher`, protected as
/// `settings` say.
pub fn router(dispatcher: Arc<Dispatcher>, settings: RestSettings) -> Router {
    let jars = Router::new()
        .route("/jars/{jarid}", get(jar))
        .route("/jars/{jarid}/run", post(run))
        .layer(middleware::from_fn_with_state(
            REQUEST_TIMEOUT,
            rest_limits::time_limit,
        ))
        .merge(Router::new().route("/jars/upload", post(upload)).layer(
            middleware::from_fn_with_state(UPLOAD_TIMEOUT, rest_limits::time_limit),
        ))
        .with_state(Arc::clone(&dispatcher));
    api(dispatcher, jars, settings)
}

/// The monitoring API (and the dashboard) alone, over `monitor`: what a local job serves.
pub fn monitoring_router(monitor: Arc<dyn Monitor>, settings: RestSettings) -> Router {
    api(monitor, Router::new(), settings)
}

/// The monitoring routes over `monitor`, with `more` routes beside them, protected as
/// `settings` say.
fn api(monitor: Arc<dyn Monitor>, more: Router, settings: RestSettings) -> Router {
    let RestSettings {
        token,
        guard,
        savepoint_dir,
        shown_config,
    } = settings;
    let quick = Router::new()
        .route("/config", get(config))
        .route("/overview", get(overview))
        .route("/taskmanagers", get(task_managers))
        .route("/taskmanagers/{taskmanagerid}", get(task_manager))
        .route(
            "/taskmanagers/{taskmanagerid}/metrics",
            get(task_manager_metrics),
        )
        .route("/jobmanager/config", get(job_manager_config))
        .route("/jobmanager/metrics", get(job_manager_metrics))
        .route("/jobs", get(job_ids))
        .route("/jobs/overview", get(jobs))
        .route("/jobs/{jobid}", get(job).patch(patch_job))
        .route("/jobs/{jobid}/plan", get(job_plan))
        .route("/jobs/{jobid}/metrics", get(job_metrics))
        .route("/jobs/{jobid}/checkpoints", get(job_checkpoints))
        .route("/jobs/{jobid}/exceptions", get(job_exceptions))
        .route("/jobs/{jobid}/config", get(job_config))
        .route(
            "/jobs/{jobid}/checkpoints/config",
            get(job_checkpoint_config),
        )
        .route(
            "/jobs/{jobid}/checkpoints/details/{checkpointid}",
            get(checkpoint_details),
        )
        .route(
            "/jobs/{jobid}/checkpoints/details/{checkpointid}/subtasks/{vertexid}",
            get(checkpoint_subtasks),
        )
        .route("/jobs/{jobid}/vertices/{vertexid}", get(vertex))
        .route(
            "/jobs/{jobid}/vertices/{vertexid}/metrics",
            get(vertex_metrics),
        )
        .route(
            "/jobs/{jobid}/vertices/{vertexid}/subtasks/metrics",
            get(vertex_aggregated_metrics),
        )
        .route(
            "/jobs/{jobid}/vertices/{vertexid}/watermarks",
            get(vertex_watermarks),
        )
        .route(
            "/jobs/{jobid}/vertices/{vertexid}/backpressure",
            get(vertex_backpressure),
        )
        .route(
            "/jobs/{jobid}/vertices/{vertexid}/subtasktimes",
            get(vertex_subtask_times),
        )
        .layer(middleware::from_fn_with_state(
            REQUEST_TIMEOUT,
            rest_limits::time_limit,
        ));
    let savepoints = Router::new()
        .route("/jobs/{jobid}/savepoints", post(savepoint))
        .route(
            "/jobs/{jobid}/savepoints/{triggerid}",
            get(savepoint_status),
        )
        .route("/jobs/{jobid}/stop", post(savepoint))
        .route("/jobs/{jobid}/rescaling", patch(rescaling))
        .route("/jobs/{jobid}/rescaling/{triggerid}", get(savepoint_status))
        .layer(middleware::from_fn_with_state(
            REQUEST_TIMEOUT,
            rest_limits::time_limit,
        ));
    let routes = quick
        .merge(savepoints)
        .with_state(monitor)
        .merge(more)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::Extension(SavepointRoot(savepoint_dir)))
        .layer(axum::Extension(Arc::new(SavepointTriggers::default())))
        .layer(axum::Extension(ShownConfig(Arc::new(shown_config))))
        .layer(middleware::from_fn_with_state(
            Arc::new(Semaphore::new(MAX_IN_PROGRESS)),
            rest_limits::in_progress_limit,
        ));
    let routes = Router::new().nest("/v1", routes.clone()).merge(routes);
    let routes = match token {
        Some(token) => routes.layer(middleware::from_fn_with_state(
            Arc::<str>::from(token),
            require_token,
        )),
        None => routes,
    };
    // The dashboard's files and the API's description hold no data: no token for them.
    let description = Router::new().route("/openapi.yaml", get(openapi));
    let routes = routes
        .merge(dashboard::routes())
        .merge(Router::new().nest("/v1", description.clone()))
        .merge(description)
        .fallback(not_found);
    routes.layer(middleware::from_fn_with_state(guard, rest_guard::guard))
}

/// The API's OpenAPI description.
const OPENAPI: &str = include_str!("openapi.yaml");

/// `GET /v1/openapi.yaml`: the OpenAPI description of this API.
async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI).into_response()
}

/// Any path the API does not have: 404 with Flink's error body.
async fn not_found(uri: axum::http::Uri) -> Response {
    error(StatusCode::NOT_FOUND, format!("Not found: {}", uri.path()))
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

/// Runs `work` on the monitor on a blocking thread, never on Tokio's workers: the
/// dispatcher's lock may be held across blocking work (deploying, reading checkpoints), and
/// storage calls block on runtimes of their own.
async fn on_blocking_thread<M: ?Sized + Send + Sync + 'static, T: Send + 'static>(
    monitor: Arc<M>,
    work: impl FnOnce(&M) -> T + Send + 'static,
) -> Result<T, Response> {
    tokio::task::spawn_blocking(move || work(&monitor))
        .await
        .map_err(|join| error(StatusCode::INTERNAL_SERVER_ERROR, join.to_string()))
}

/// What went wrong in a request: the status and the message.
type Failure = (StatusCode, String);

/// The answer of the read `work` on `monitor`, serialized, or its error response. The read runs
/// at once, on this thread, unless the monitor is busy (its state held by work that may block),
/// when it waits on a blocking thread: a hand-over to another thread per request costs more than
/// most reads.
async fn answer<T: serde::Serialize + Send + 'static>(
    monitor: Arc<dyn Monitor>,
    work: impl FnOnce(&dyn Monitor) -> Result<T, Failure> + Send + 'static,
) -> Response {
    if monitor.busy() {
        respond(on_blocking_thread(monitor, work).await)
    } else {
        respond(Ok(work(monitor.as_ref())))
    }
}

/// The response to `result`: the value serialized, or the error.
fn respond<T: serde::Serialize>(result: Result<Result<T, Failure>, Response>) -> Response {
    match result {
        Ok(Ok(value)) => Json(value).into_response(),
        Ok(Err((status, message))) => error(status, message),
        Err(response) => response,
    }
}

async fn overview(State(monitor): Shared) -> Response {
    answer(monitor, |d| Ok(d.overview())).await
}

async fn task_managers(State(monitor): Shared) -> Response {
    answer(monitor, |d| {
        Ok(json!({ "taskmanagers": d.task_managers() }))
    })
    .await
}

async fn task_manager(State(monitor): Shared, Path(id): Path<String>) -> Response {
    answer(monitor, move |d| {
        d.task_manager(&id).ok_or_else(|| {
            (
                StatusCode::NOT_FOUND,
                format!("no TaskManager with id {id}"),
            )
        })
    })
    .await
}

/// `GET /taskmanagers/{id}/metrics`: its metric ids, or with `get` their values.
async fn task_manager_metrics(
    State(monitor): Shared,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    answer(monitor, move |d| {
        let metrics = d.task_manager_metrics(&id).ok_or_else(|| {
            (
                StatusCode::NOT_FOUND,
                format!("no TaskManager with id {id}"),
            )
        })?;
        Ok(metric_answer(&metrics, query.get("get")))
    })
    .await
}

async fn job_manager_config(axum::Extension(config): axum::Extension<ShownConfig>) -> Response {
    let entries: Vec<_> = config
        .0
        .iter()
        .map(|(key, value)| json!({ "key": key, "value": value }))
        .collect();
    Json(entries).into_response()
}

/// `GET /jobmanager/metrics`: the metric ids, or with `get` (comma-separated ids) their values
/// as Flink gives them (`[{"id", "value"}]`, values as text).
async fn job_manager_metrics(
    State(monitor): Shared,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    answer(monitor, move |d| {
        let metrics = monitoring::prometheus::job_manager_metrics(d);
        Ok(metric_answer(&metrics, query.get("get")))
    })
    .await
}

/// The answer of a metrics path: the ids of `metrics`, or with `get` (comma-separated ids) the
/// values of those asked for, as Flink gives them (`[{"id", "value"}]`, values as text).
fn metric_answer(metrics: &[(&str, f64)], get: Option<&String>) -> serde_json::Value {
    let entries: Vec<_> = match get {
        None => metrics.iter().map(|(id, _)| json!({ "id": id })).collect(),
        Some(get) => get
            .split(',')
            .filter_map(|id| metrics.iter().find(|(name, _)| *name == id.trim()))
            .map(|(id, value)| json!({ "id": id, "value": value.to_string() }))
            .collect(),
    };
    serde_json::Value::Array(entries)
}

/// `GET /jobs/{jobid}/metrics`: the job's metrics (uptime, restarts, checkpoints), or with
/// `get` their values.
async fn job_metrics(
    State(monitor): Shared,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    job_answer(monitor, id, move |view| {
        let metrics = monitoring::prometheus::job_metrics(view);
        Ok(metric_answer(&metrics, query.get("get")))
    })
    .await
}

async fn jobs(State(monitor): Shared) -> Response {
    answer(monitor, |d| Ok(json!({ "jobs": d.jobs() }))).await
}

async fn config() -> Response {
    Json(monitoring::dashboard_config()).into_response()
}

async fn job_ids(State(monitor): Shared) -> Response {
    answer(monitor, |d| {
        let jobs: Vec<_> = d
            .jobs()
            .into_iter()
            .map(|j| json!({ "id": j.jid, "status": j.state }))
            .collect();
        Ok(json!({ "jobs": jobs }))
    })
    .await
}

/// A job id as the API takes it: 32 hex digits (400 otherwise).
fn job_id(id: &str) -> Result<(), Failure> {
    if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err((
            StatusCode::BAD_REQUEST,
            format!("'{id}' is not a job id: a job id is 32 hexadecimal digits"),
        ))
    }
}

/// The monitoring view of job `id` (404 when there is no such job).
fn job_view(d: &dyn Monitor, id: &str) -> Result<JobView, Failure> {
    job_id(id)?;
    d.job_view(id)
        .ok_or_else(|| (StatusCode::NOT_FOUND, format!("no job with id {id}")))
}

/// Whether `id` names a job of `monitor`: the error answer if it is not a job id (400) or
/// there is no such job (404).
async fn known_job(monitor: &Arc<dyn Monitor>, id: &str) -> Result<(), Response> {
    job_id(id).map_err(|(status, message)| error(status, message))?;
    let known = {
        let id = id.to_string();
        on_blocking_thread(Arc::clone(monitor), move |m| m.has_job(&id)).await?
    };
    if known {
        Ok(())
    } else {
        Err(error(StatusCode::NOT_FOUND, format!("no job with id {id}")))
    }
}

/// The answer `view` makes of job `id`'s monitoring view (404 for an unknown job).
async fn job_answer(
    monitor: Arc<dyn Monitor>,
    id: String,
    view: impl FnOnce(&JobView) -> Result<serde_json::Value, Failure> + Send + 'static,
) -> Response {
    answer(monitor, move |d| view(&job_view(d, &id)?)).await
}

async fn job(State(monitor): Shared, Path(id): Path<String>) -> Response {
    job_answer(monitor, id, |view| Ok(monitoring::job_details(view))).await
}

async fn job_plan(State(monitor): Shared, Path(id): Path<String>) -> Response {
    job_answer(monitor, id, |view| {
        Ok(json!({ "plan": monitoring::plan(view) }))
    })
    .await
}

async fn job_exceptions(State(monitor): Shared, Path(id): Path<String>) -> Response {
    job_answer(monitor, id, |view| Ok(monitoring::exceptions(view))).await
}

async fn job_config(State(monitor): Shared, Path(id): Path<String>) -> Response {
    job_answer(monitor, id, |view| Ok(monitoring::job_config(view))).await
}

async fn job_checkpoints(State(monitor): Shared, Path(id): Path<String>) -> Response {
    job_answer(monitor, id, |view| Ok(monitoring::checkpoints(view))).await
}

async fn job_checkpoint_config(State(monitor): Shared, Path(id): Path<String>) -> Response {
    let no_config = format!("job {id} does not checkpoint");
    job_answer(monitor, id, move |view| {
        monitoring::checkpoint_config(view).ok_or((StatusCode::NOT_FOUND, no_config))
    })
    .await
}

/// A checkpoint id as the API takes it: a number (400 otherwise).
fn checkpoint_id(id: &str) -> Result<u64, Failure> {
    id.parse().map_err(|_| {
        (
            StatusCode::BAD_REQUEST,
            format!("'{id}' is not a checkpoint id: a checkpoint id is a number"),
        )
    })
}

async fn checkpoint_details(
    State(monitor): Shared,
    Path((id, checkpoint)): Path<(String, String)>,
) -> Response {
    job_answer(monitor, id, move |view| {
        let number = checkpoint_id(&checkpoint)?;
        monitoring::checkpoint_details(view, number).ok_or((
            StatusCode::NOT_FOUND,
            format!("no completed checkpoint {checkpoint} is kept"),
        ))
    })
    .await
}

async fn checkpoint_subtasks(
    State(monitor): Shared,
    Path((id, checkpoint, vertex)): Path<(String, String, String)>,
) -> Response {
    job_answer(monitor, id, move |view| {
        let number = checkpoint_id(&checkpoint)?;
        monitoring::checkpoint_subtasks(view, number, &vertex).ok_or((
            StatusCode::NOT_FOUND,
            format!("no completed checkpoint {checkpoint} with a vertex {vertex} is kept"),
        ))
    })
    .await
}

/// The answer `view` of vertex `vertex` of job `id` makes (404 for an unknown job or vertex).
async fn vertex_answer(
    monitor: Arc<dyn Monitor>,
    (id, vertex): (String, String),
    view: impl FnOnce(&JobView, &str) -> Option<serde_json::Value> + Send + 'static,
) -> Response {
    let unknown = format!("job {id} has no vertex {vertex}");
    job_answer(monitor, id, move |job| {
        view(job, &vertex).ok_or((StatusCode::NOT_FOUND, unknown))
    })
    .await
}

async fn vertex(State(monitor): Shared, Path(ids): Path<(String, String)>) -> Response {
    vertex_answer(monitor, ids, monitoring::vertex_details).await
}

async fn vertex_metrics(
    State(monitor): Shared,
    Path(ids): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    vertex_answer(monitor, ids, move |view, vertex| {
        monitoring::vertex_metrics(view, vertex, query.get("get").map(String::as_str))
    })
    .await
}

async fn vertex_aggregated_metrics(
    State(monitor): Shared,
    Path(ids): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    vertex_answer(monitor, ids, move |view, vertex| {
        let get = query.get("get").map(String::as_str);
        monitoring::aggregated_metrics(view, vertex, get, query.get("agg").map(String::as_str))
    })
    .await
}

async fn vertex_watermarks(State(monitor): Shared, Path(ids): Path<(String, String)>) -> Response {
    vertex_answer(monitor, ids, monitoring::watermarks).await
}

async fn vertex_backpressure(
    State(monitor): Shared,
    Path(ids): Path<(String, String)>,
) -> Response {
    vertex_answer(monitor, ids, monitoring::backpressure).await
}

async fn vertex_subtask_times(
    State(monitor): Shared,
    Path(ids): Path<(String, String)>,
) -> Response {
    vertex_answer(monitor, ids, monitoring::subtask_times).await
}

async fn patch_job(
    State(monitor): Shared,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err((status, message)) = job_id(&id) {
        return error(status, message);
    }
    match query.get("mode").map(String::as_str) {
        Some("cancel") | None => {
            let cancelled = on_blocking_thread(monitor, move |d| {
                if d.has_job(&id) {
                    d.cancel(&id).map_err(|m| (StatusCode::CONFLICT, m))
                } else {
                    Err((StatusCode::NOT_FOUND, format!("no job with id {id}")))
                }
            });
            match cancelled.await {
                Ok(Ok(())) => (StatusCode::ACCEPTED, Json(json!({}))).into_response(),
                Ok(Err((status, message))) => error(status, message),
                Err(response) => response,
            }
        }
        Some(other) => error(
            StatusCode::BAD_REQUEST,
            format!("unknown mode '{other}'; use mode=cancel"),
        ),
    }
}

/// `POST /jobs/{id}/savepoints` (`{"target-directory", "cancel-job"}`) and
/// `POST /jobs/{id}/stop` (`{"targetDirectory"}`): starts the savepoint and answers
/// `{"request-id"}` at once (202), as Flink does; its status is at
/// `/jobs/{id}/savepoints/{request-id}`.
async fn savepoint(
    State(monitor): Shared,
    axum::Extension(root): axum::Extension<SavepointRoot>,
    axum::Extension(triggers): axum::Extension<Arc<SavepointTriggers>>,
    Path(id): Path<String>,
    uri: axum::http::Uri,
    body: Bytes,
) -> Response {
    if let Err(response) = known_job(&monitor, &id).await {
        return response;
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
    let requested = request["target-directory"]
        .as_str()
        .or_else(|| request["targetDirectory"].as_str());
    let directory = match savepoint_target(requested, root.0.as_deref()) {
        Ok(directory) => directory,
        Err(message) => return error(StatusCode::FORBIDDEN, message),
    };
    let trigger = triggers.start(&id);
    {
        let trigger = trigger.clone();
        // The savepoint waits for its checkpoint (the dispatcher bounds the wait).
        tokio::task::spawn_blocking(move || {
            triggers.finish(&trigger, monitor.savepoint(&id, &directory, stop));
        });
    }
    (StatusCode::ACCEPTED, Json(json!({ "request-id": trigger }))).into_response()
}

/// `PATCH /jobs/{id}/rescaling?parallelism=N`: starts rescaling the job to default parallelism
/// `N` (a savepoint into `state.savepoints.dir` stops it, and it starts again from it) and
/// answers its `request-id` at once; its status is at `/jobs/{id}/rescaling/{request-id}`.
async fn rescaling(
    State(monitor): Shared,
    axum::Extension(root): axum::Extension<SavepointRoot>,
    axum::Extension(triggers): axum::Extension<Arc<SavepointTriggers>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let parallelism = match query.get("parallelism").map(|p| p.parse::<usize>()) {
        Some(Ok(parallelism)) if parallelism > 0 => parallelism,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "rescaling needs ?parallelism=N, a positive number",
            );
        }
    };
    if let Err(response) = known_job(&monitor, &id).await {
        return response;
    }
    let directory = match savepoint_target(None, root.0.as_deref()) {
        Ok(directory) => directory,
        Err(message) => return error(StatusCode::FORBIDDEN, message),
    };
    let trigger = triggers.start(&id);
    {
        let trigger = trigger.clone();
        tokio::task::spawn_blocking(move || {
            triggers.finish(&trigger, monitor.rescale(&id, parallelism, &directory));
        });
    }
    Json(json!({ "request-id": trigger })).into_response()
}

/// `GET /jobs/{id}/savepoints/{trigger}` (and `.../rescaling/{trigger}`): Flink's status of an
/// asynchronous savepoint (or rescaling).
async fn savepoint_status(
    axum::Extension(triggers): axum::Extension<Arc<SavepointTriggers>>,
    Path((id, trigger)): Path<(String, String)>,
) -> Response {
    match triggers.status(&id, &trigger) {
        Some(status) => Json(status).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            format!("job {id} has no savepoint with trigger id {trigger}"),
        ),
    }
}

/// `POST /jars/upload`: streams the body (the job binary) to disk, at most
/// [`MAX_UPLOAD_BYTES`]; answers its key.
async fn upload(State(dispatcher): State<Arc<Dispatcher>>, body: Body) -> Response {
    let mut upload = match on_blocking_thread(dispatcher, |d| d.blobs.begin()).await {
        Ok(Ok(upload)) => upload,
        Ok(Err(message)) => return error(StatusCode::INTERNAL_SERVER_ERROR, message),
        Err(response) => return response,
    };
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("reading the upload: {e}")),
        };
        if upload.len() + chunk.len() as u64 > MAX_UPLOAD_BYTES {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("a job binary may have at most {MAX_UPLOAD_BYTES} bytes"),
            );
        }
        if let Err(message) = tokio::task::block_in_place(|| upload.write(&chunk)) {
            return error(StatusCode::INTERNAL_SERVER_ERROR, message);
        }
    }
    if upload.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "the request body must be the job binary",
        );
    }
    match tokio::task::spawn_blocking(move || upload.finish()).await {
        Ok(Ok(key)) => Json(json!({ "filename": key, "status": "success" })).into_response(),
        Ok(Err(message)) => error(StatusCode::INTERNAL_SERVER_ERROR, message),
        Err(join) => error(StatusCode::INTERNAL_SERVER_ERROR, join.to_string()),
    }
}

async fn jar(State(dispatcher): State<Arc<Dispatcher>>, Path(key): Path<String>) -> Response {
    if dispatcher.blobs.contains(&key) {
        Json(json!({ "filename": key })).into_response()
    } else {
        error(StatusCode::NOT_FOUND, format!("no job binary {key}"))
    }
}

async fn run(
    State(dispatcher): State<Arc<Dispatcher>>,
    Path(key): Path<String>,
    body: Bytes,
) -> Response {
    let mut request: SubmitRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("malformed request: {e}")),
    };
    request.binary = key;
    respond(
        on_blocking_thread(dispatcher, move |d| {
            d.submit(request)
                .map(|id| json!({ "jobid": id }))
                .map_err(|message| (StatusCode::BAD_REQUEST, message))
        })
        .await,
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// The paths this file routes, read from its `.route("...")` calls.
    fn routed_paths() -> BTreeSet<String> {
        let source = include_str!("rest.rs");
        source
            .split(".route(")
            .skip(1)
            .filter_map(|call| {
                let call = call.trim_start().strip_prefix('"')?;
                let (path, _) = call.split_once('"')?;
                path.starts_with('/').then(|| path.to_string())
            })
            .collect()
    }

    #[test]
    fn the_openapi_description_lists_exactly_the_routed_paths() {
        let docs = yaml_rust2::YamlLoader::load_from_str(super::OPENAPI).unwrap();
        let described: BTreeSet<String> = docs[0]["paths"]
            .as_hash()
            .unwrap()
            .keys()
            .filter_map(|key| key.as_str().map(str::to_string))
            .collect();
        let routed = routed_paths();
        assert!(routed.len() > 20, "{routed:?}");
        assert_eq!(
            routed.difference(&described).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "routed but not described"
        );
        assert_eq!(
            described.difference(&routed).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "described but not routed"
        );
    }
}
