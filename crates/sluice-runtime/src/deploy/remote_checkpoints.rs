//! Checkpoints across processes: the coordinator runs in the JobManager, the tasks in worker
//! processes. A worker forwards its tasks' reports (snapshots materialized and encoded) on its
//! control connection, and posts the coordinator's messages into its tasks' mailboxes; in the
//! JobManager, a [`ForwardingMailbox`] stands for each remote task.

use std::sync::Arc;

use sluice_state::{CheckpointStorage, TaskSnapshot};

use super::protocol::{ToWorker, WireReport};
use crate::checkpoint::{TaskId, TaskMessage, TaskPost, TaskReport};

/// Sends one message to a worker; errors are the connection's, handled where it is read.
pub type SendToWorker = Arc<dyn Fn(ToWorker) + Send + Sync>;

/// A remote task's mailbox: posting sends the message to the worker that runs the task.
pub struct ForwardingMailbox {
    task: TaskId,
    send: SendToWorker,
}

impl ForwardingMailbox {
    /// The mailbox of `task`, reached through `send`.
    pub fn new(task: TaskId, send: SendToWorker) -> Self {
        ForwardingMailbox { task, send }
    }
}

impl TaskPost for ForwardingMailbox {
    fn post(&self, message: TaskMessage) {
        (self.send)(ToWorker::Task {
            task: self.task,
            message,
        });
    }
}

/// A task's report made ready for the network: its snapshot's deferred part is completed
/// (off the task thread), the new files it shares with later checkpoints (incremental RocksDB
/// SSTs, on this machine's disk) are stored into `storage` from here, and the snapshot is
/// encoded.
pub fn encode_report(
    report: TaskReport,
    storage: Option<&CheckpointStorage>,
) -> Result<WireReport, String> {
    Ok(match report {
        TaskReport::Acknowledged {
            task,
            barrier,
            mut snapshot,
        } => {
            let id = barrier.checkpoint_id;
            for operator in snapshot.values_mut() {
                operator
                    .materialize()
                    .map_err(|e| format!("checkpoint {id}: cannot complete a snapshot: {e}"))?;
                for shared in operator
                    .keyed
                    .native_mut()
                    .iter_mut()
                    .flat_map(|native| native.shared.iter_mut())
                {
                    let Some(local) = shared.upload.take() else {
                        continue;
                    };
                    let storage = storage.ok_or_else(|| {
                        format!("checkpoint {id}: a snapshot has new shared files but the job has no checkpoint storage")
                    })?;
                    storage
                        .upload_shared(&shared.stored_name, local.path())
                        .map_err(|e| format!("checkpoint {id}: {e}"))?;
                }
            }
            let snapshot = postcard::to_stdvec(&snapshot).map_err(|e| {
                format!(
                    "checkpoint {}: cannot encode a snapshot: {e}",
                    barrier.checkpoint_id
                )
            })?;
            WireReport::Acknowledged {
                task,
                barrier,
                snapshot,
            }
        }
        TaskReport::SourceEnded { task } => WireReport::SourceEnded { task },
        TaskReport::Finished { task } => WireReport::Finished { task },
    })
}

/// The report a worker sent, for the coordinator.
pub fn decode_report(report: WireReport) -> Result<TaskReport, String> {
    Ok(match report {
        WireReport::Acknowledged {
            task,
            barrier,
            snapshot,
        } => {
            let snapshot: TaskSnapshot = postcard::from_bytes(&snapshot).map_err(|e| {
                format!(
                    "checkpoint {}: the snapshot of task {}/{} is malformed: {e}",
                    barrier.checkpoint_id, task.vertex, task.subtask
                )
            })?;
            TaskReport::Acknowledged {
                task,
                barrier,
                snapshot,
            }
        }
        WireReport::SourceEnded { task } => TaskReport::SourceEnded { task },
        WireReport::Finished { task } => TaskReport::Finished { task },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    use sluice_core::Barrier;
    use sluice_state::OperatorSnapshot;

    #[test]
    fn reports_cross_encoded_and_mailboxes_forward() {
        let task = TaskId {
            vertex: 1,
            subtask: 2,
        };
        let barrier = Barrier {
            checkpoint_id: 3,
            timestamp: 4,
            savepoint: false,
            unaligned: false,
        };
        let snapshot = TaskSnapshot::from([("op".to_string(), OperatorSnapshot::default())]);
        let wire = encode_report(
            TaskReport::Acknowledged {
                task,
                barrier,
                snapshot: snapshot.clone(),
            },
            None,
        )
        .unwrap();
        match decode_report(wire).unwrap() {
            TaskReport::Acknowledged {
                task: t,
                barrier: b,
                snapshot: s,
            } => assert_eq!((t, b, s), (task, barrier, snapshot)),
            other => panic!("{other:?}"),
        }
        let garbage = WireReport::Acknowledged {
            task,
            barrier,
            snapshot: vec![0xff; 3],
        };
        assert!(decode_report(garbage).unwrap_err().contains("malformed"));
        let sent = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&sent);
        let mailbox = ForwardingMailbox::new(task, Arc::new(move |m| sink.lock().unwrap().push(m)));
        mailbox.post(TaskMessage::Complete(3));
        assert_eq!(
            *sent.lock().unwrap(),
            vec![ToWorker::Task {
                task,
                message: TaskMessage::Complete(3)
            }]
        );
    }
}
