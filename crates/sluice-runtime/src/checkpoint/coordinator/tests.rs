//! Tests of the checkpoint coordinator: the savepoint queue and the stats history.

use super::completion::record;
use super::*;

/// A task mailbox that records the checkpoints triggered through it.
#[derive(Default)]
struct Recorder(Mutex<Vec<Barrier>>);

impl TaskPost for Recorder {
    fn post(&self, message: TaskMessage) {
        if let TaskMessage::Trigger { barrier, .. } = message {
            self.0.lock().unwrap().push(barrier);
        }
    }
}

impl Recorder {
    fn wait_for(&self, count: usize) -> Vec<Barrier> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let triggered = self.0.lock().unwrap().clone();
            if triggered.len() >= count || Instant::now() > deadline {
                return triggered;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

#[test]
fn the_stats_history_keeps_the_newest() {
    let mut stats = Vec::new();
    for checkpoint_id in 1..=RETAINED_STATS as u64 + 5 {
        let entry = CheckpointStats {
            checkpoint_id,
            trigger_ms: 0,
            path: String::new(),
            subtasks: 1,
            duration: Duration::ZERO,
            write_duration: Duration::ZERO,
            bytes: 0,
            savepoint: false,
            unaligned: false,
            in_flight_bytes: 0,
            subtask_stats: Vec::new(),
        };
        record(&mut stats, entry);
    }
    assert_eq!(stats.len(), RETAINED_STATS);
    assert_eq!(stats[0].checkpoint_id, 6);
}

#[test]
fn a_savepoint_waits_behind_the_concurrent_checkpoint_limit() {
    let dir = std::env::temp_dir().join(format!("sluice-coordinator-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let job_id = JobId::random();
    let storage = CheckpointStorage::open_job(dir.to_str().unwrap(), &job_id.to_string()).unwrap();
    let task = TaskId {
        vertex: 0,
        subtask: 0,
    };
    let recorder = Arc::new(Recorder::default());
    let mut config = CheckpointConfig::every(Duration::from_millis(30));
    config.max_concurrent = 1;
    let setup = CoordinatorSetup {
        config,
        job_id,
        job_name: "job".into(),
        storage,
        tasks: vec![CoordinatorTask {
            id: task,
            mailbox: Arc::clone(&recorder) as Arc<dyn TaskPost>,
            is_source: true,
        }],
        operators: BTreeMap::new(),
        first_id: 1,
    };
    let CoordinatorHandle {
        reports,
        requests,
        cancel,
        thread,
        ..
    } = setup.start(CancelToken::new()).unwrap();
    let first = recorder.wait_for(1)[0];
    let target = dir.join("savepoints").to_str().unwrap().to_string();
    let waiting = std::thread::spawn(move || request_savepoint(&requests, &target, false, None));
    // Checkpoint 1 is in flight: the savepoint waits for it.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(recorder.wait_for(1).len(), 1, "nothing more was triggered");
    let acknowledge = |barrier: Barrier| {
        reports
            .send(TaskReport::Acknowledged {
                task,
                barrier,
                snapshot: TaskSnapshot::new(),
            })
            .unwrap();
    };
    acknowledge(first);
    let second = recorder.wait_for(2)[1];
    assert!(second.savepoint, "the savepoint came next: {second:?}");
    acknowledge(second);
    let location = waiting.join().unwrap().unwrap();
    assert!(location.contains("savepoint-"), "{location}");
    cancel.cancel();
    thread.join().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}
