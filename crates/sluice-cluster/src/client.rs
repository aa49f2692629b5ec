//! The CLI's side of the cluster: the JobManager's REST API called over HTTP, and a job
//! binary asked for its plan.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sluice_runtime::deploy::protocol::ClusterPlan;
use sluice_runtime::deploy::worker::{
    ENV_JOB_OPTIONS, ENV_PARALLELISM, ENV_PLAN_FILE, ENV_RESTORE_FROM,
};

/// A client of the JobManager's REST API.
pub struct RestClient {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl RestClient {
    /// A client of the API at `endpoint` (`host:port`), sending `token` if given.
    pub fn new(endpoint: &str, token: Option<String>) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the HTTP client: {e}"))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot start the HTTP client: {e}"))?;
        Ok(RestClient {
            base: format!("http://{endpoint}"),
            token,
            http,
            runtime,
        })
    }

    fn call(&self, request: reqwest::RequestBuilder) -> Result<Value, String> {
        let base = &self.base;
        let request = match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        self.runtime.block_on(async {
            let response = request.send().await.map_err(|e| {
                if e.is_connect() {
                    format!("cannot reach the JobManager at {base}: is the cluster running (bin/start-cluster.sh)?")
                } else {
                    format!("request to {base} failed: {e}")
                }
            })?;
            let status = response.status();
            let body: Value = response
                .json()
                .await
                .map_err(|e| format!("the JobManager at {base} answered something else than JSON: {e}"))?;
            if status.is_success() {
                return Ok(body);
            }
            let errors = body["errors"]
                .as_array()
                .map(|errors| {
                    errors
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_else(|| body.to_string());
            Err(errors)
        })
    }

    /// `GET path`, decoded.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, String> {
        let body = self.call(self.http.get(format!("{}{path}", self.base)))?;
        serde_json::from_value(body).map_err(|e| format!("unexpected answer to GET {path}: {e}"))
    }

    /// `POST path` with `body` as JSON.
    pub fn post_json(&self, path: &str, body: &impl Serialize) -> Result<Value, String> {
        self.call(self.http.post(format!("{}{path}", self.base)).json(body))
    }

    /// `POST path` with raw bytes.
    pub fn post_bytes(&self, path: &str, body: Vec<u8>) -> Result<Value, String> {
        self.call(
            self.http
                .post(format!("{}{path}", self.base))
                .header("content-type", "application/octet-stream")
                .body(body),
        )
    }

    /// `PATCH path`.
    pub fn patch(&self, path: &str) -> Result<Value, String> {
        self.call(self.http.patch(format!("{}{path}", self.base)))
    }
}

/// Runs `binary` in plan mode with `args` and returns the plan of the job it builds.
pub fn plan_of(
    binary: &Path,
    args: &[String],
    parallelism: usize,
    restore_from: Option<&str>,
    job_options: &str,
) -> Result<ClusterPlan, String> {
    let file = std::env::temp_dir().join(format!(
        "sluice-plan-{}-{}.json",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    let mut command = Command::new(binary);
    command
        .args(args)
        .env(ENV_PLAN_FILE, &file)
        .env(ENV_PARALLELISM, parallelism.to_string());
    if let Some(path) = restore_from {
        command.env(ENV_RESTORE_FROM, path);
    }
    if !job_options.is_empty() {
        command.env(ENV_JOB_OPTIONS, job_options);
    }
    let output = command
        .output()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    let plan = std::fs::read(&file);
    let _ = std::fs::remove_file(&file);
    if !output.status.success() {
        return Err(format!(
            "{} failed while building its job ({}):\n{}",
            binary.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end()
        ));
    }
    let plan = plan.map_err(|_| {
        format!(
            "{} exited without executing a job: a job binary builds its graph and calls execute",
            binary.display()
        )
    })?;
    serde_json::from_slice(&plan).map_err(|e| format!("{}: unreadable plan: {e}", binary.display()))
}

/// `ms` since the epoch as Flink's CLI prints times: `dd.MM.yyyy HH:mm:ss` (UTC).
pub fn format_time(ms: u64) -> String {
    let seconds = ms / 1000;
    let days = i64::try_from(seconds / 86_400).unwrap_or(0);
    let rest = seconds % 86_400;
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{day:02}.{month:02}.{year} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_flink_does() {
        assert_eq!(format_time(0), "01.01.1970 00:00:00");
        assert_eq!(format_time(1_795_655_045_000), "26.11.2026 01:04:05");
        assert_eq!(format_time(951_782_400_000), "29.02.2000 00:00:00");
    }

    #[test]
    fn a_binary_that_builds_no_job_is_explained() {
        let error = plan_of(Path::new("true"), &[], 1, None, "").unwrap_err();
        assert!(error.contains("without executing a job"), "{error}");
        let error = plan_of(Path::new("false"), &[], 1, None, "").unwrap_err();
        assert!(error.contains("failed while building its job"), "{error}");
        let error = plan_of(Path::new("/no/such/binary"), &[], 1, None, "").unwrap_err();
        assert!(error.contains("cannot run"), "{error}");
    }
}
