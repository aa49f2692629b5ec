//! The deployment's part in checkpoints: the coordinator of a local job, or lines to the
//! JobManager's coordinator for the tasks of a worker.

use super::*;

impl<'a> Deployment<'a> {
    /// Gives every local task of a worker a line to the coordinator in the JobManager: its
    /// mailbox (for the worker to post the coordinator's messages into) and a report channel
    /// (for the worker to forward).
    pub(crate) fn remote_checkpoint_lines(&mut self) -> CheckpointLines {
        let (reports, receiver) = mpsc::channel();
        let mut mailboxes = BTreeMap::new();
        for (v, vertex) in self.job.vertices.iter().enumerate() {
            for subtask in 0..vertex.parallelism {
                if !self.is_local(subtask) {
                    continue;
                }
                let id = TaskId { vertex: v, subtask };
                let mailbox = Mailbox::new(Arc::clone(&self.wakers[v][subtask]));
                self.checkpoint_lines.insert(
                    (v, subtask),
                    TaskCheckpoints::new(id, Arc::clone(&mailbox), reports.clone()),
                );
                mailboxes.insert(id, mailbox);
            }
        }
        (mailboxes, receiver)
    }

    /// Opens the checkpoint storage, starts the coordinator, and gives every task a line to
    /// it.
    pub(crate) fn start_coordinator(
        &mut self,
        config: &CheckpointConfig,
        restored: Option<&RestoredCheckpoint>,
    ) -> Result<CoordinatorHandle, JobError> {
        let job = self.job;
        let directory = config.directory.as_deref().ok_or_else(|| {
            JobError::Checkpoint(
                "checkpointing is enabled but no checkpoint directory is set (state.checkpoints.dir)".into(),
            )
        })?;
        let storage = CheckpointStorage::open_job(directory, &job.config.job_id.to_string())
            .map_err(|e| JobError::Checkpoint(e.to_string()))?;
        let mut mailboxes = Vec::new();
        let mut tasks = Vec::new();
        for (v, vertex) in job.vertices.iter().enumerate() {
            let is_source = job.vertex_is_source(v);
            for subtask in 0..vertex.parallelism {
                let id = TaskId { vertex: v, subtask };
                let mailbox = Mailbox::new(Arc::clone(&self.wakers[v][subtask]));
                mailboxes.push((id, Arc::clone(&mailbox)));
                tasks.push(CoordinatorTask {
                    id,
                    mailbox,
                    is_source,
                });
            }
        }
        let setup = CoordinatorSetup {
            config: config.clone(),
            job_id: job.config.job_id,
            job_name: job.config.name.clone(),
            storage,
            tasks,
            operators: job.operator_layout(),
            first_id: restored.map_or(1, |r| r.metadata.checkpoint_id + 1),
        };
        let handle = setup.start(self.cancel.clone()).map_err(|e| {
            JobError::Runtime(format!("cannot start the checkpoint coordinator: {e}"))
        })?;
        for (id, mailbox) in mailboxes {
            self.checkpoint_lines.insert(
                (id.vertex, id.subtask),
                TaskCheckpoints::new(id, mailbox, handle.reports.clone()),
            );
        }
        Ok(handle)
    }
}
