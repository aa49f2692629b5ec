//! Bad input and failing user code: clear errors naming what and where, never a hang.

use std::time::{Duration, Instant};

use sluice::prelude::*;

#[test]
fn a_panicking_reduce_function_fails_a_batch_job_naming_the_edge_it_folds_on() {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    env.set_runtime_mode(RuntimeMode::Batch);
    env.from_sequence(1, 10_000)
        .map(|n: i64| (n % 10, n))
        .name("Pairs")
        .key_by(|pair: &(i64, i64)| pair.0)
        .reduce(|a: (i64, i64), b: (i64, i64)| {
            if b.1 == 4242 {
                panic!("cannot add {}", b.1);
            }
            (a.0, a.1 + b.1)
        })
        .name("Sums")
        .collect();
    let text = env.execute("panicking reduce").unwrap_err().to_string();
    assert!(
        text.contains("operator 'Pairs -> Sums (folding before the exchange)' failed: panicked: cannot add 4242"),
        "{text}"
    );
}

#[test]
fn a_panicking_function_fails_the_job_naming_operator_and_subtask() {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(4);
    env.from_sequence(1, 10_000)
        .map(|n: i64| {
            if n == 4242 {
                panic!("bad record {n}");
            }
            n
        })
        .name("Fragile Map")
        .rebalance()
        .collect();
    let err = env.execute("panics").unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("operator 'Fragile Map' failed: panicked: bad record 4242"),
        "{text}"
    );
    assert!(text.contains("/4)"), "names the subtask: {text}");
    match err {
        JobError::Task {
            subtask,
            parallelism,
            ..
        } => {
            assert!(subtask < 4);
            assert_eq!(parallelism, 4);
        }
        other => panic!("unexpected error {other:?}"),
    }
}

#[test]
fn a_user_error_fails_the_job_with_its_message() {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    env.from_sequence(1, 100)
        .process(
            |n: i64, _: &mut Context<'_>, out: &mut Collector<'_, i64>| {
                if n == 50 {
                    return Err(format!("cannot handle {n}").into());
                }
                out.collect(n);
                Ok(())
            },
        )
        .name("Validator")
        .collect();
    let text = env.execute("errors").unwrap_err().to_string();
    assert!(
        text.contains("operator 'Validator' failed: cannot handle 50"),
        "{text}"
    );
}

#[test]
fn a_failing_sink_does_not_leave_an_output_file() {
    let dir = std::env::temp_dir().join(format!("sluice-it-failing-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = dir.join("out.txt");
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(1);
    env.from_sequence(1, 100_000)
        .map(|n: i64| {
            assert!(n < 90_000, "boom at {n}");
            n
        })
        .write_as_text(&out);
    assert!(env.execute("failing").is_err());
    assert!(!out.exists());
    let leftovers = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(leftovers, 0, "no in-progress file left");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unreadable_input_fails_before_the_job_starts() {
    let env = StreamExecutionEnvironment::new();
    env.read_text_file("/definitely/not/here.txt").collect();
    let err = env.execute("missing").unwrap_err();
    assert!(matches!(err, JobError::SourceSetup { .. }), "{err:?}");
    assert!(
        err.to_string().contains("/definitely/not/here.txt"),
        "{err}"
    );
}

#[test]
fn invalid_graphs_are_rejected_with_a_reason() {
    let env = StreamExecutionEnvironment::new();
    env.from_sequence(1, 10)
        .set_parallelism(2)
        .forward()
        .map(|n: i64| n)
        .set_parallelism(3)
        .collect();
    let err = env.execute("forward").unwrap_err().to_string();
    assert!(
        err.contains("forward partitioning needs equal parallelism"),
        "{err}"
    );

    let env = StreamExecutionEnvironment::new();
    env.from_sequence(1, 10)
        .map(|n: i64| n)
        .set_parallelism(0)
        .collect();
    assert!(
        env.execute("zero")
            .unwrap_err()
            .to_string()
            .contains("parallelism must be at least 1")
    );

    let env = StreamExecutionEnvironment::new();
    let a = env.from_sequence(1, 2);
    let b = env.from_sequence(3, 4);
    a.union([b]).set_parallelism(2).collect();
    let err = env.execute("union").unwrap_err().to_string();
    assert!(
        err.contains("set_parallelism() must be called on an operator's output"),
        "{err}"
    );

    let env = StreamExecutionEnvironment::new();
    env.from_collection(vec![1, 2]).set_parallelism(4).collect();
    let err = env.execute("non-parallel").unwrap_err().to_string();
    assert!(err.contains("supports a parallelism of at most 1"), "{err}");

    let env = StreamExecutionEnvironment::new();
    env.set_runtime_mode(RuntimeMode::Batch);
    env.socket_text_stream("127.0.0.1", 9).collect();
    let err = env.execute("batch socket").unwrap_err().to_string();
    assert!(err.contains("batch mode needs bounded sources"), "{err}");

    let env = StreamExecutionEnvironment::new();
    assert!(
        env.execute("empty")
            .unwrap_err()
            .to_string()
            .contains("no operators")
    );
}

#[test]
fn a_custom_partitioner_out_of_range_is_reported() {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    env.from_sequence(1, 10)
        .partition_custom(|_: &i64, n: usize| n + 3, |v: &i64| *v)
        .map(|n: i64| n)
        .collect();
    let err = env.execute("custom").unwrap_err().to_string();
    assert!(
        err.contains("custom partitioner chose channel 5, but there are only 2"),
        "{err}"
    );
}

#[test]
fn cancelling_an_unbounded_job_ends_it_promptly() {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    // Nothing listens on this port: the source keeps retrying until cancelled.
    env.socket_text_stream("127.0.0.1", 1)
        .map(|s: String| s.len())
        .rebalance()
        .collect();
    let client = env.execute_async("unbounded").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    client.cancel();
    assert!(matches!(client.wait(), Err(JobError::Cancelled)));
    assert!(started.elapsed() < Duration::from_secs(10));
}
