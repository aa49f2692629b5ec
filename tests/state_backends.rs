//! State backends as a user picks them: the same jobs give the same answers in memory and in
//! embedded RocksDB (full or incremental checkpoints), and a job resumes an incremental RocksDB
//! checkpoint at another parallelism. Built with the `rocksdb` feature (the test command enables
//! it); `state_backend_options.rs` covers builds without it.
#![cfg(feature = "rocksdb")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod common;

use sluice::prelude::*;

fn temp_dir(name: &str) -> PathBuf {
    common::temp_dir("backends", name)
}

/// (key, event time, value); event time never decreases.
type Event = (String, i64, i64);

/// Per key, how many distinct values it sent so far (value and map state).
#[derive(Clone)]
struct DistinctCount {
    seen: MapState<i64, bool>,
    count: ValueState<u64>,
}

impl KeyedProcessFunction<String, Event, String> for DistinctCount {
    fn process_element(
        &mut self,
        event: Event,
        ctx: &mut KeyedContext<'_, String>,
        out: &mut Collector<'_, String>,
    ) -> UserResult {
        if !self.seen.contains(ctx.state(), &event.2)? {
            self.seen.put(ctx.state(), &event.2, &true)?;
            let count = self.count.value(ctx.state())?.unwrap_or(0) + 1;
            self.count.update(ctx.state(), &count)?;
            out.collect(format!("distinct {} {count}", event.0));
        }
        Ok(())
    }
}

fn events() -> Vec<Event> {
    (0..3_000i64)
        .map(|i| (format!("k{}", i * 7 % 23), i, i * 13 % 400))
        .collect()
}

/// Keyed process state, window contents with a process function, session windows and a
/// reduce, on the backend `configure` sets.
fn run(configure: impl Fn(&StreamExecutionEnvironment)) -> Vec<String> {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(3);
    configure(&env);
    let events = env
        .from_collection(events())
        // One reader and assigner keep every key's events in order, so running results are
        // deterministic.
        .set_parallelism(1)
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_monotonous_timestamps()
                .with_timestamp_assigner(|e: &Event, _| e.1),
        )
        .set_parallelism(1);
    let distinct = events
        .clone()
        .key_by(|e: &Event| e.0.clone())
        .process(DistinctCount {
            seen: MapState::new("seen"),
            count: ValueState::new("count"),
        });
    let windows = events
        .clone()
        .key_by(|e: &Event| e.0.clone())
        .window(TumblingWindows::event_time(Duration::from_millis(500)))
        .process(
            |key: &String,
             ctx: &mut WindowContext<'_, TimeWindow>,
             elements: Elements<'_, Event>,
             out: &mut Collector<'_, String>| {
                let sum: i64 = elements.map(|e| e.2).sum();
                out.collect(format!("window {key} {} {sum}", ctx.window().start));
                Ok(())
            },
        );
    let sessions = events
        .clone()
        .key_by(|e: &Event| e.0.clone())
        .window(SessionWindows::event_time_with_gap(Duration::from_millis(
            30,
        )))
        .reduce(|a: Event, b: Event| (a.0, a.1.max(b.1), a.2 + b.2))
        .map(|e: Event| format!("session {} {} {}", e.0, e.1, e.2));
    let sums = events
        .key_by(|e: &Event| e.0.clone())
        .reduce(|a: Event, b: Event| (a.0, b.1, a.2 + b.2))
        .map(|e: Event| format!("sum {} {}", e.0, e.2));
    let mut out = distinct
        .union([windows, sessions, sums])
        .execute_and_collect("backends")
        .unwrap();
    out.sort();
    out
}

#[test]
fn jobs_give_the_same_answers_in_memory_and_in_rocksdb() {
    let in_memory = run(|_| {});
    assert!(in_memory.len() > 3_000, "{} results", in_memory.len());
    let rocksdb = run(|env| {
        env.set_state_option("state.backend.type", "rocksdb");
    });
    assert_eq!(rocksdb, in_memory, "rocksdb");
    let dir = temp_dir("same-answers");
    let incremental = run(|env| {
        env.set_state_option("state.backend.type", "rocksdb");
        env.set_state_option("execution.checkpointing.incremental", "true");
        env.set_state_option(
            "state.backend.rocksdb.localdir",
            dir.join("local").to_str().unwrap(),
        );
        env.enable_checkpointing(Duration::from_millis(20));
        env.set_checkpoint_storage(dir.join("ckpt").to_str().unwrap());
    });
    assert_eq!(incremental, in_memory, "rocksdb, incremental checkpoints");
    // Tiny memtables: flushed in the background many times between checkpoints.
    let small_buffers = run(|env| {
        env.set_state_option("state.backend.type", "rocksdb");
        env.set_state_option("state.backend.rocksdb.writebuffer.size", "64kb");
        env.enable_checkpointing(Duration::from_millis(20));
        env.set_checkpoint_storage(dir.join("ckpt-small").to_str().unwrap());
    });
    assert_eq!(small_buffers, in_memory, "rocksdb, 64 KB write buffers");
    let local: Vec<_> = std::fs::read_dir(dir.join("local")).unwrap().collect();
    assert!(
        local.is_empty(),
        "the databases are removed when the job ends"
    );
    let _ = std::fs::remove_dir_all(dir);
}

fn write_input(dir: &Path, lines: u64) -> PathBuf {
    let text: String = (0..lines)
        .map(|i| format!("k{},{}\n", (i * 31) % 97, i % 17))
        .collect();
    let path = dir.join("input.csv");
    std::fs::write(&path, text).unwrap();
    path
}

fn incremental_env(checkpoints: &Path, parallelism: usize) -> StreamExecutionEnvironment {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(parallelism);
    env.set_state_option("state.backend.type", "rocksdb");
    env.set_state_option("execution.checkpointing.incremental", "true");
    env.enable_checkpointing(Duration::from_millis(40));
    env.set_checkpoint_storage(checkpoints.to_str().unwrap());
    env
}

#[test]
fn an_incremental_checkpoint_resumes_at_other_parallelisms() {
    let dir = temp_dir("rescale");
    let input = write_input(&dir, 3_000);
    let clean = dir.join("clean");
    let env = incremental_env(&dir.join("clean-ckpt"), 2);
    common::counts_job(&env, &input, &clean, |_| {});
    env.execute("uninterrupted").unwrap();
    let expected = common::committed_lines(&[&clean]);
    assert_eq!(expected.len(), 3_000);

    // Run slowly at parallelism 2 until two checkpoints completed, then cancel.
    let first_out = dir.join("first");
    let checkpoints = dir.join("ckpt");
    let env = incremental_env(&checkpoints, 2);
    env.set_buffer_size(16);
    common::counts_job(&env, &input, &first_out, |_| {
        std::thread::sleep(Duration::from_micros(300));
    });
    let client = env.execute_async("cancelled").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while common::completed_checkpoints(&checkpoints).len() < 2
        || common::completed_checkpoints(&checkpoints)[0] < 2
    {
        assert!(Instant::now() < deadline, "no checkpoint completed");
        std::thread::sleep(Duration::from_millis(5));
    }
    client.cancel();
    let _ = client.wait();
    assert!(
        std::fs::read_dir(common::job_checkpoints(&checkpoints).join("shared"))
            .unwrap()
            .count()
            > 0,
        "the checkpoint holds database files"
    );

    // Each resume starts from the same checkpoint (committing its pending parts into the first
    // run's directory once) and writes what follows into its own.
    let mut outputs = BTreeMap::new();
    for parallelism in [1, 3] {
        let out = dir.join(format!("resumed-{parallelism}"));
        let env = incremental_env(&dir.join(format!("ckpt-{parallelism}")), parallelism);
        env.restore_from(common::job_checkpoints(&checkpoints).to_str().unwrap());
        common::counts_job(&env, &input, &out, |_| {});
        env.execute("resumed").unwrap();
        outputs.insert(parallelism, common::committed_lines(&[&first_out, &out]));
    }
    for (parallelism, lines) in outputs {
        assert_eq!(lines, expected, "resumed at parallelism {parallelism}");
    }
    let _ = std::fs::remove_dir_all(dir);
}
