//! Rescaling a running job over REST, with Flink's `PATCH /jobs/{jobid}/rescaling?parallelism=N`
//! and its asynchronous status: a savepoint stops the job, and it runs again from the
//! savepoint at the new parallelism, under the same id.

mod common;

use serde_json::Value;

use common::cluster::{Cluster, job_id};

/// A SQL job on the cluster at parallelism 1 that runs until cancelled, checkpointing.
fn start_sql_job(cluster: &Cluster) -> String {
    let checkpoints = cluster.dir.join("checkpoints");
    let statements = format!(
        "SET 'execution.checkpointing.interval' = '200ms';\n\
         SET 'execution.checkpointing.dir' = '{}';\n\
         CREATE TABLE numbers (n BIGINT) WITH ('connector' = 'datagen', \
         'fields.n.kind' = 'sequence', 'fields.n.start' = '1', \
         'fields.n.end' = '1000000000', 'rows-per-second' = '2000');\n\
         CREATE TABLE sink (n BIGINT) WITH ('connector' = 'blackhole');\n\
         INSERT INTO sink SELECT n * 2 FROM numbers;\n",
        checkpoints.display()
    );
    let run = cluster.run_ok(&[
        "-d",
        "-p",
        "1",
        env!("CARGO_BIN_EXE_sluice"),
        "sql",
        "--statements",
        &statements,
    ]);
    let id = job_id(&run);
    cluster.wait_for_state(&id, "RUNNING");
    id
}

/// The highest parallelism of the job's vertices.
fn parallelism(job: &Value) -> u64 {
    job["vertices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["parallelism"].as_u64())
        .max()
        .unwrap_or(0)
}

/// The status of asynchronous operation `trigger` of job `id`, once it completed.
fn completed(cluster: &Cluster, id: &str, trigger: &Value) -> Value {
    let path = format!(
        "/jobs/{id}/rescaling/{}",
        trigger["request-id"].as_str().unwrap()
    );
    common::wait_for("the rescaling to complete", || {
        let status = cluster.get(&path);
        (status["status"]["id"] == "COMPLETED").then_some(status)
    })
}

#[test]
fn a_running_job_is_rescaled_through_a_savepoint_and_keeps_its_id() {
    let cluster = Cluster::start("rescale", 1, 2);
    let id = start_sql_job(&cluster);
    assert_eq!(parallelism(&cluster.get(&format!("/jobs/{id}"))), 1);

    let (status, trigger) = cluster.request(
        "PATCH",
        &format!("/jobs/{id}/rescaling?parallelism=2"),
        None,
    );
    assert_eq!(status, 200, "{trigger}");
    let done = completed(&cluster, &id, &trigger);
    let savepoint = done["operation"]["location"]
        .as_str()
        .unwrap_or_else(|| panic!("{done:#}\n{}", cluster.logs()));
    assert!(std::path::Path::new(savepoint).join("_metadata").exists());

    // The same job runs again, from the savepoint, at the new parallelism.
    let job = common::wait_for("the job running at parallelism 2", || {
        let job = cluster.get(&format!("/jobs/{id}"));
        (job["state"] == "RUNNING" && parallelism(&job) == 2).then_some(job)
    });
    assert_eq!(job["restored_from"], savepoint, "{job:#}");
    assert_eq!(job["jid"], id.as_str());

    // Asking for the parallelism it has is refused, saying why; so are bad requests.
    let (_, again) = cluster.request(
        "PATCH",
        &format!("/jobs/{id}/rescaling?parallelism=2"),
        None,
    );
    let refused = completed(&cluster, &id, &again);
    let cause = refused["operation"]["failure-cause"]["stack-trace"].to_string();
    assert!(cause.contains("keep its parallelism 2"), "{refused:#}");
    let zero = cluster.request(
        "PATCH",
        &format!("/jobs/{id}/rescaling?parallelism=0"),
        None,
    );
    assert_eq!(zero.0, 400);
    let unknown = format!("/jobs/{}/rescaling?parallelism=2", "0".repeat(32));
    assert_eq!(cluster.request("PATCH", &unknown, None).0, 404);

    let (status, _) = cluster.request("PATCH", &format!("/jobs/{id}?mode=cancel"), None);
    assert_eq!(status, 202);
    cluster.wait_for_state(&id, "CANCELED");
}
