//! Where the JobManager keeps the jobs it must not forget: a restarted JobManager reads them
//! back and resumes each from its latest checkpoint.
//!
//! [`JobStore`] is the seam for high availability: the file store here (under Flink's
//! `high-availability.storageDir`) serves one JobManager with a restart; a store on etcd or a
//! Kubernetes ConfigMap, with leader election, serves a standby JobManager.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sluice_core::durable;

use super::dispatcher::SubmitRequest;

/// A job as stored: enough to run it again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredJob {
    /// The job's id.
    pub id: String,
    /// What was submitted.
    pub request: SubmitRequest,
    /// When, in ms since the epoch.
    pub submitted_ms: u64,
}

/// Persistent storage of the jobs that have not ended.
pub trait JobStore: Send + Sync + std::fmt::Debug {
    /// Records a job (again, replacing it).
    fn put(&self, job: &StoredJob) -> Result<(), String>;
    /// Forgets a job (it ended).
    fn remove(&self, id: &str) -> Result<(), String>;
    /// Every stored job, oldest first.
    fn load(&self) -> Result<Vec<StoredJob>, String>;
}

/// Jobs as JSON files in a directory.
#[derive(Debug)]
pub struct FileJobStore {
    directory: PathBuf,
}

impl FileJobStore {
    /// A store in `directory`, created if needed.
    pub fn open(directory: &Path) -> Result<Self, String> {
        std::fs::create_dir_all(directory)
            .map_err(|e| format!("cannot create the job store {}: {e}", directory.display()))?;
        Ok(FileJobStore {
            directory: directory.to_path_buf(),
        })
    }

    fn path(&self, id: &str) -> PathBuf {
        self.directory.join(format!("{id}.json"))
    }
}

impl JobStore for FileJobStore {
    fn put(&self, job: &StoredJob) -> Result<(), String> {
        let bytes = serde_json::to_vec_pretty(job).map_err(|e| e.to_string())?;
        let partial = self.directory.join(format!("{}.json.partial", job.id));
        durable::write(&self.path(&job.id), &partial, &bytes)
            .map_err(|e| format!("cannot store job {}: {e}", job.id))
    }

    fn remove(&self, id: &str) -> Result<(), String> {
        durable::remove(&self.path(id))
            .map_err(|e| format!("cannot remove job {id} from the store: {e}"))
    }

    fn load(&self) -> Result<Vec<StoredJob>, String> {
        let entries = std::fs::read_dir(&self.directory).map_err(|e| {
            format!(
                "cannot read the job store {}: {e}",
                self.directory.display()
            )
        })?;
        let mut jobs = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let parsed = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|bytes| {
                    serde_json::from_slice::<StoredJob>(&bytes).map_err(|e| e.to_string())
                });
            match parsed {
                Ok(job) => jobs.push(job),
                Err(error) => tracing::warn!("skipping unreadable job {}: {error}", path.display()),
            }
        }
        jobs.sort_by_key(|job| job.submitted_ms);
        Ok(jobs)
    }
}
