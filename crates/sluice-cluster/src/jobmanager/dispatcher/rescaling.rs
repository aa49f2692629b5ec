//! Rescaling a running job (Flink's `PATCH /jobs/{jobid}/rescaling?parallelism=N`): a savepoint
//! stops it, and it starts again from that savepoint at the new default parallelism, under the
//! same id. The plan at the new parallelism comes from the job's own binary, run in plan mode
//! here as a client runs it; operators whose program sets their parallelism keep it.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use super::*;

/// How long a job stopped by its rescaling savepoint may take to end.
const STOP_WAIT: Duration = Duration::from_secs(60);

impl Dispatcher {
    /// Rescales running job `id` to `parallelism` through a savepoint into `directory`;
    /// returns the savepoint's path once the job runs again (or waits for slots).
    pub fn rescale(&self, id: &str, parallelism: usize, directory: &str) -> Result<String, String> {
        if parallelism == 0 {
            return Err("the parallelism must be at least 1".into());
        }
        let request = {
            let state = self.locked();
            let job = state.job(id)?;
            if job.status != JobStatus::Running {
                return Err(format!(
                    "job {id} is not running ({}): only a running job is rescaled",
                    status_name(job.status)
                ));
            }
            if job.request.plan.checkpointing.is_none() {
                return Err(format!(
                    "job {id} does not checkpoint: rescaling goes through a savepoint"
                ));
            }
            job.request.clone()
        };
        let mut plan = self.plan_at(&request, parallelism)?;
        if plan.pipelines == request.plan.pipelines {
            return Err(format!(
                "job {id} would keep its parallelism {}: it runs at {parallelism} already, or its \
                 program sets its operators' parallelism itself",
                plan.pipelines
            ));
        }
        plan.job_id = request.plan.job_id;
        plan.validate()
            .map_err(|e| format!("the rescaled plan is invalid: {e}"))?;
        let savepoint = self.savepoint(id, directory, true)?;
        let deadline = Instant::now() + STOP_WAIT;
        while !self
            .job(id)
            .is_some_and(|job| job.overview.state.is_terminal())
        {
            if Instant::now() > deadline {
                return Err(format!(
                    "job {id} did not end after its savepoint {savepoint}; it was not restarted"
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        tracing::info!("job {id}: rescaling to {parallelism} from savepoint {savepoint}");
        self.submit(SubmitRequest {
            parallelism,
            plan,
            restore_from: Some(savepoint.clone()),
            ..request
        })?;
        Ok(savepoint)
    }

    /// The plan of `request`'s binary and arguments at default parallelism `parallelism`.
    fn plan_at(&self, request: &SubmitRequest, parallelism: usize) -> Result<ClusterPlan, String> {
        let binary = self.executable_copy(&request.binary)?;
        let plan = crate::client::plan_of(
            &binary,
            &request.args,
            parallelism,
            None,
            &request.job_options,
        );
        let _ = std::fs::remove_file(&binary);
        plan
    }

    /// A copy of stored binary `key` this process may run (stored binaries are not executable).
    fn executable_copy(&self, key: &str) -> Result<PathBuf, String> {
        let mut blob = self.blobs.open_blob(key)?;
        let path = std::env::temp_dir().join(format!(
            "sluice-rescale-{}-{}",
            std::process::id(),
            &key[..key.len().min(16)]
        ));
        let mut copy = || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&path)?;
            std::io::copy(&mut blob, &mut file)?;
            file.flush()?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        };
        copy().map_err(|e| format!("cannot copy job binary {key} to run it: {e}"))?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dispatcher(name: &str) -> (Dispatcher, PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "sluice-rescaling-test-{name}-{}",
            std::process::id()
        ));
        let blobs = BlobStore::open(&dir).unwrap();
        let second = Duration::from_secs(1);
        let dispatcher = Dispatcher::new(
            blobs,
            None,
            second,
            2 * second,
            second,
            JobHistory::default(),
        )
        .unwrap();
        (dispatcher, dir)
    }

    #[test]
    fn only_a_known_job_is_rescaled_to_a_positive_parallelism() {
        let (dispatcher, dir) = dispatcher("refusals");
        let id = "0".repeat(32);
        let zero = dispatcher.rescale(&id, 0, "/tmp/sp").unwrap_err();
        assert!(zero.contains("at least 1"), "{zero}");
        let unknown = dispatcher.rescale(&id, 2, "/tmp/sp").unwrap_err();
        assert!(unknown.contains("no job with id"), "{unknown}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_stored_binary_is_copied_to_be_run() {
        let (dispatcher, dir) = dispatcher("copy");
        let key = dispatcher.blobs.put(b"#!/bin/sh\necho plan\n").unwrap();
        let copy = dispatcher.executable_copy(&key).unwrap();
        assert_eq!(std::fs::read(&copy).unwrap(), b"#!/bin/sh\necho plan\n");
        let mode = std::fs::metadata(&copy).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "executable: {mode:o}");
        std::fs::remove_file(copy).unwrap();
        assert!(dispatcher.executable_copy(&"f".repeat(64)).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
