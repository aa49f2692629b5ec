//! The cluster commands of the `sluice` tool: start a JobManager or a TaskManager, and run,
//! list, cancel and describe jobs, as Flink's `bin/flink` does.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sluice_runtime::deploy::worker::hex;

use crate::client::{RestClient, format_time, plan_of};
use crate::config::{ClusterConfig, PROPERTIES_VARIABLE};
use crate::jobmanager::dispatcher::{
    ClusterOverview, JobDetails, JobOverview, JobStatus, status_name,
};

/// Where the configuration comes from.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// The configuration directory (default: $SLUICE_CONF_DIR, else ./conf).
    #[arg(long, value_name = "DIR")]
    pub conf_dir: Option<PathBuf>,
    /// Overrides a configuration key.
    #[arg(short = 'D', value_name = "KEY=VALUE")]
    pub dynamic: Vec<String>,
}

impl ConfigArgs {
    /// Loads the configuration: the directory's `config.yaml`, `SLUICE_PROPERTIES`, `-D`.
    pub fn load(&self) -> Result<ClusterConfig, String> {
        let dir = self
            .conf_dir
            .clone()
            .or_else(|| std::env::var_os("SLUICE_CONF_DIR").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("conf"));
        let properties = std::env::var(PROPERTIES_VARIABLE).ok();
        ClusterConfig::load(&dir, properties.as_deref(), &self.dynamic).map_err(|e| e.to_string())
    }
}

/// How a client finds the JobManager.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// The JobManager's REST address, `host:port` (default: from the configuration).
    #[arg(short = 'm', long = "jobmanager", value_name = "HOST:PORT")]
    pub jobmanager: Option<String>,
    #[command(flatten)]
    config: ConfigArgs,
}

impl ClientArgs {
    fn client(&self) -> Result<(RestClient, ClusterConfig), String> {
        let (endpoint, config) = self.endpoint()?;
        Ok((RestClient::new(&endpoint, config.rest_token())?, config))
    }

    fn endpoint(&self) -> Result<(String, ClusterConfig), String> {
        let config = self.config.load()?;
        let endpoint = self
            .jobmanager
            .clone()
            .unwrap_or_else(|| config.rest_endpoint());
        Ok((endpoint, config))
    }

    /// The JobManager's REST address, `host:port`.
    pub fn rest_endpoint(&self) -> Result<String, String> {
        self.endpoint().map(|(endpoint, _)| endpoint)
    }
}

/// `sluice jobmanager`.
#[derive(Debug, Clone, Args)]
pub struct JobManagerArgs {
    #[command(flatten)]
    config: ConfigArgs,
}

/// `sluice taskmanager`.
#[derive(Debug, Clone, Args)]
pub struct TaskManagerArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Where worker processes write their output (default: $SLUICE_LOG_DIR, else ./log).
    #[arg(long, value_name = "DIR")]
    log_dir: Option<PathBuf>,
}

/// `sluice run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Return once the job is submitted instead of waiting for it to end.
    #[arg(short = 'd', long)]
    detached: bool,
    /// The job's default parallelism (default: parallelism.default).
    #[arg(short = 'p', long)]
    parallelism: Option<usize>,
    /// Start from this savepoint or checkpoint.
    #[arg(short = 's', long = "from-savepoint", value_name = "PATH")]
    from_savepoint: Option<String>,
    /// The job binary.
    binary: PathBuf,
    /// The job's arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

impl RunArgs {
    /// Submitting `binary` with `args` to the cluster `client` finds, waiting for the job.
    pub fn new(client: ClientArgs, binary: PathBuf, args: Vec<String>) -> Self {
        RunArgs {
            client,
            detached: false,
            parallelism: None,
            from_savepoint: None,
            binary,
            args,
        }
    }
}

/// `sluice info`.
#[derive(Debug, Clone, Args)]
pub struct InfoArgs {
    /// The job's default parallelism.
    #[arg(short = 'p', long)]
    parallelism: Option<usize>,
    #[command(flatten)]
    config: ConfigArgs,
    /// The job binary.
    binary: PathBuf,
    /// The job's arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// `sluice list`.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Only running and waiting jobs.
    #[arg(short = 'r', long)]
    running: bool,
}

/// `sluice overview`.
#[derive(Debug, Clone, Args)]
pub struct OverviewArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Wait (up to --timeout) until this many TaskManagers registered.
    #[arg(long, value_name = "N")]
    wait_for_taskmanagers: Option<usize>,
    /// How long to wait for the JobManager and TaskManagers, in seconds.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
}

/// `sluice cancel`.
#[derive(Debug, Clone, Args)]
pub struct CancelArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The job's id.
    job_id: String,
}

/// `sluice savepoint`.
#[derive(Debug, Clone, Args)]
pub struct SavepointArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The job's id.
    job_id: String,
    /// Where the savepoint goes (default: state.savepoints.dir).
    directory: Option<String>,
}

/// `sluice stop`.
#[derive(Debug, Clone, Args)]
pub struct StopArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Where the final savepoint goes (default: state.savepoints.dir).
    #[arg(long = "savepoint-path", value_name = "DIR")]
    savepoint_path: Option<String>,
    /// The job's id.
    job_id: String,
}

/// Runs the JobManager.
pub fn jobmanager(args: &JobManagerArgs) -> Result<(), String> {
    crate::jobmanager::run(&args.config.load()?)
}

/// Runs a TaskManager.
pub fn taskmanager(args: &TaskManagerArgs) -> Result<(), String> {
    let log_dir = args
        .log_dir
        .clone()
        .or_else(|| std::env::var_os("SLUICE_LOG_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("log"));
    crate::taskmanager::run(&args.config.load()?, log_dir)
}

/// Prints a job binary's plan as JSON.
pub fn info(args: &InfoArgs) -> Result<(), String> {
    let config = args.config.load()?;
    let parallelism = args.parallelism.unwrap_or(config.default_parallelism);
    let plan = plan_of(
        &args.binary,
        &args.args,
        parallelism,
        None,
        &config.job_options_text(),
    )?;
    let pretty = serde_json::to_string_pretty(&plan.plan).map_err(|e| e.to_string())?;
    println!("{pretty}");
    Ok(())
}

/// Submits a job binary, and unless detached waits for the job to end.
pub fn run(args: &RunArgs) -> Result<(), String> {
    let job = submit(args)?;
    if args.detached {
        return Ok(());
    }
    let details = wait_for_end(&job.client, &job.id)?;
    let id = &job.id;
    match details.overview.state {
        JobStatus::Finished => {
            println!("Program execution finished");
            println!("Job with JobID {id} has finished.");
            println!("Job Runtime: {} ms", details.overview.duration);
            Ok(())
        }
        _ => Err(ended_badly(id, &details)),
    }
}

/// Why the job `id`, which ended as `details` say, did not finish.
fn ended_badly(id: &str, details: &JobDetails) -> String {
    format!(
        "job {id} ended {}: {}",
        status_name(details.overview.state),
        details.overview.message.clone().unwrap_or_default()
    )
}

/// A job [`submit`] submitted.
pub struct SubmittedJob {
    client: RestClient,
    /// The job's id.
    pub id: String,
}

impl SubmittedJob {
    /// Whether the job ended: `Some(Ok)` when it finished, `Some(Err(why))` when it failed
    /// or was canceled, `None` while it runs.
    pub fn ended(&self) -> Result<Option<Result<(), String>>, String> {
        let details: JobDetails = self.client.get(&format!("/jobs/{}", self.id))?;
        Ok(match details.overview.state {
            JobStatus::Finished => Some(Ok(())),
            state if state.is_terminal() => Some(Err(ended_badly(&self.id, &details))),
            _ => None,
        })
    }

    /// Waits for the job to end: `Ok` when it finished, else why not.
    pub fn wait(&self) -> Result<(), String> {
        let details = wait_for_end(&self.client, &self.id)?;
        match details.overview.state {
            JobStatus::Finished => Ok(()),
            _ => Err(ended_badly(&self.id, &details)),
        }
    }

    /// Cancels the job and waits until it ended.
    pub fn cancel(&self) -> Result<(), String> {
        self.client
            .patch(&format!("/jobs/{}?mode=cancel", self.id))?;
        wait_for_end(&self.client, &self.id).map(|_| ())
    }
}

/// Submits a job binary; returns once the JobManager took it.
pub fn submit(args: &RunArgs) -> Result<SubmittedJob, String> {
    let (client, config) = args.client.client()?;
    let parallelism = args.parallelism.unwrap_or(config.default_parallelism);
    if parallelism == 0 {
        return Err("the parallelism must be at least 1".into());
    }
    let job_options = config.job_options_text();
    let plan = plan_of(
        &args.binary,
        &args.args,
        parallelism,
        args.from_savepoint.as_deref(),
        &job_options,
    )?;
    let bytes = std::fs::read(&args.binary)
        .map_err(|e| format!("cannot read {}: {e}", args.binary.display()))?;
    // A binary the JobManager stores already (the same job again) is not sent again.
    let key = hex(&Sha256::digest(&bytes));
    if client.get::<Value>(&format!("/jars/{key}")).is_err() {
        let uploaded = client.post_bytes("/jars/upload", bytes)?;
        if uploaded["filename"].as_str() != Some(key.as_str()) {
            return Err(format!("unexpected upload answer: {uploaded}"));
        }
    }
    let working_dir = std::env::current_dir()
        .ok()
        .map(|d| d.to_string_lossy().into_owned());
    let submitted = client.post_json(
        &format!("/jars/{key}/run"),
        &json!({
            "binary": key,
            "args": args.args,
            "parallelism": parallelism,
            "plan": plan,
            "working_dir": working_dir,
            "restore_from": args.from_savepoint,
            "job_options": job_options,
        }),
    )?;
    let id = submitted["jobid"]
        .as_str()
        .ok_or_else(|| format!("unexpected submission answer: {submitted}"))?
        .to_string();
    println!("Job has been submitted with JobID {id}");
    Ok(SubmittedJob { client, id })
}

fn wait_for_end(client: &RestClient, id: &str) -> Result<JobDetails, String> {
    let mut interval = Duration::from_millis(20);
    let mut said = None;
    loop {
        let job: JobDetails = client.get(&format!("/jobs/{id}"))?;
        if job.overview.state.is_terminal() {
            return Ok(job);
        }
        // Say why the job is not running (waiting for slots, restarting), once per reason.
        let news = job
            .overview
            .message
            .as_ref()
            .map(|message| format!("{}: {message}", status_name(job.overview.state)));
        if news.is_some() && news != said {
            eprintln!("{}", news.as_deref().unwrap_or_default());
            said = news;
        }
        std::thread::sleep(interval);
        interval = (interval * 2).min(Duration::from_millis(500));
    }
}

/// Lists jobs as Flink's `list -a` does.
pub fn list(args: &ListArgs) -> Result<(), String> {
    let (client, _) = args.client.client()?;
    let answer: Value = client.get("/jobs/overview")?;
    let jobs: Vec<JobOverview> = serde_json::from_value(answer["jobs"].clone())
        .map_err(|e| format!("unexpected job list: {e}"))?;
    let section = |title: &str, jobs: Vec<&JobOverview>, empty: &str| {
        if jobs.is_empty() {
            println!("{empty}");
            return;
        }
        println!("{title}");
        for job in jobs {
            println!(
                "{} : {} : {} ({})",
                format_time(job.start_time),
                job.jid,
                job.name,
                status_name(job.state)
            );
            if let Some(message) = &job.message {
                println!("    {}", message.lines().next().unwrap_or_default());
            }
        }
        println!("--------------------------------------------------------------");
    };
    section(
        "------------------ Running/Restarting Jobs -------------------",
        jobs.iter()
            .filter(|j| matches!(j.state, JobStatus::Running | JobStatus::Restarting))
            .collect(),
        "No running jobs.",
    );
    section(
        "----------------------- Scheduled Jobs -----------------------",
        jobs.iter()
            .filter(|j| j.state == JobStatus::Created)
            .collect(),
        "No scheduled jobs.",
    );
    if !args.running {
        section(
            "---------------------- Terminated Jobs -----------------------",
            jobs.iter().filter(|j| j.state.is_terminal()).collect(),
            "No terminated jobs.",
        );
    }
    Ok(())
}

/// Prints the cluster's TaskManagers, slots and jobs; optionally waits for TaskManagers.
pub fn overview(args: &OverviewArgs) -> Result<(), String> {
    let (client, _) = args.client.client()?;
    let deadline = std::time::Instant::now() + Duration::from_secs(args.timeout);
    let wanted = args.wait_for_taskmanagers.unwrap_or(0);
    let overview: ClusterOverview = loop {
        let answer = client.get::<ClusterOverview>("/overview");
        match answer {
            Ok(overview) if overview.taskmanagers >= wanted => break overview,
            Ok(overview) if std::time::Instant::now() >= deadline => {
                return Err(format!(
                    "{} of {wanted} TaskManagers registered within {} s",
                    overview.taskmanagers, args.timeout
                ));
            }
            Err(error)
                if args.wait_for_taskmanagers.is_none()
                    || std::time::Instant::now() >= deadline =>
            {
                return Err(error);
            }
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    println!("taskmanagers: {}", overview.taskmanagers);
    println!("slots-total: {}", overview.slots_total);
    println!("slots-available: {}", overview.slots_available);
    println!("jobs-running: {}", overview.jobs_running);
    println!("jobs-finished: {}", overview.jobs_finished);
    println!("jobs-cancelled: {}", overview.jobs_cancelled);
    println!("jobs-failed: {}", overview.jobs_failed);
    for warning in &overview.warnings {
        eprintln!("WARNING: {warning}");
    }
    Ok(())
}

/// Cancels a job.
pub fn cancel(args: &CancelArgs) -> Result<(), String> {
    let (client, _) = args.client.client()?;
    client.patch(&format!("/jobs/{}?mode=cancel", args.job_id))?;
    println!("Cancelled job {}.", args.job_id);
    Ok(())
}

/// Triggers a savepoint.
pub fn savepoint(args: &SavepointArgs) -> Result<(), String> {
    take_savepoint(&args.client, &args.job_id, args.directory.clone(), false)
}

/// Stops a job with a savepoint.
pub fn stop(args: &StopArgs) -> Result<(), String> {
    take_savepoint(
        &args.client,
        &args.job_id,
        args.savepoint_path.clone(),
        true,
    )
}

/// Asks the JobManager for a savepoint of `job` into `directory` (default:
/// `state.savepoints.dir`), stopping the job after it when `stop`; prints where it went.
fn take_savepoint(
    client_args: &ClientArgs,
    job: &str,
    directory: Option<String>,
    stop: bool,
) -> Result<(), String> {
    let (client, config) = client_args.client()?;
    let directory = directory.or(config.savepoint_dir);
    let (path, body) = if stop {
        (
            format!("/jobs/{job}/stop"),
            json!({ "targetDirectory": directory, "drain": false }),
        )
    } else {
        (
            format!("/jobs/{job}/savepoints"),
            json!({ "target-directory": directory, "cancel-job": false }),
        )
    };
    let answer = client.post_json(&path, &body)?;
    let trigger = answer["request-id"]
        .as_str()
        .ok_or_else(|| format!("unexpected answer to POST {path}: {answer}"))?;
    // The JobManager bounds how long a savepoint may take; its status says when it is done.
    let status_path = format!("/jobs/{job}/savepoints/{trigger}");
    loop {
        let status: Value = client.get(&status_path)?;
        if status["status"]["id"] == "COMPLETED" {
            let operation = &status["operation"];
            if let Some(location) = operation["location"].as_str() {
                println!("Savepoint completed. Path: {location}");
                return Ok(());
            }
            let cause = operation["failure-cause"]["stack-trace"]
                .as_str()
                .map_or_else(|| operation.to_string(), str::to_string);
            return Err(cause);
        }
        std::thread::sleep(SAVEPOINT_POLL);
    }
}

/// How often `savepoint` and `stop` ask whether the savepoint completed.
const SAVEPOINT_POLL: Duration = Duration::from_millis(100);
