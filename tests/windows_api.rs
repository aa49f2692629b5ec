//! Windows through the public API: count windows, non-keyed windows, aggregates, and
//! processing-time windows on an unbounded stream.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use sluice::prelude::*;

fn sorted<T: Ord>(mut values: Vec<T>) -> Vec<T> {
    values.sort();
    values
}

fn timestamped(
    env: &StreamExecutionEnvironment,
    events: Vec<(String, i64)>,
) -> DataStream<(String, i64)> {
    env.from_collection(events)
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_monotonous_timestamps()
                .with_timestamp_assigner(|e: &(String, i64), _| e.1),
        )
}

#[test]
fn count_windows_fire_every_n_elements_per_key() {
    for p in [1, 3] {
        let env = StreamExecutionEnvironment::new();
        env.set_parallelism(p);
        let input: Vec<(String, i64)> = (1..=7)
            .flat_map(|i| [("a".to_string(), i), ("b".to_string(), i * 10)])
            .collect();
        let out = env
            .from_collection(input)
            .key_by(|e: &(String, i64)| e.0.clone())
            .count_window(3)
            .reduce(|a: (String, i64), b: (String, i64)| (a.0, a.1 + b.1))
            .execute_and_collect("count windows")
            .unwrap();
        assert_eq!(
            sorted(out),
            vec![
                ("a".into(), 6),
                ("a".into(), 15),
                ("b".into(), 60),
                ("b".into(), 150)
            ],
            "p={p}"
        );
    }
}

#[test]
fn windows_over_a_borrowed_key_equal_those_over_a_copied_one() {
    let run = |borrowed: bool| {
        let env = StreamExecutionEnvironment::new();
        env.set_parallelism(3);
        let events = (0..60).map(|i| (format!("k{}", i % 4), i * 7)).collect();
        let stream = timestamped(&env, events);
        let keyed = if borrowed {
            stream.key_by_ref(|e: &(String, i64)| &e.0)
        } else {
            stream.key_by(|e: &(String, i64)| e.0.clone())
        };
        let sums = keyed
            .window(TumblingWindows::event_time(Duration::from_millis(50)))
            .reduce(|a: (String, i64), b: (String, i64)| (a.0, a.1 + b.1))
            .execute_and_collect("windows by key")
            .unwrap();
        sorted(sums)
    };
    let copied = run(false);
    assert!(copied.len() > 4, "{copied:?}");
    assert_eq!(run(true), copied);
}

#[test]
fn window_all_runs_non_parallel_over_the_whole_stream() {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(4);
    let events = (0..30).map(|i| (format!("k{}", i % 5), i * 10)).collect();
    let totals = timestamped(&env, events)
        .window_all(TumblingWindows::event_time(Duration::from_millis(100)))
        .aggregate(Count);
    let plan: serde_json::Value = serde_json::from_str(&env.execution_plan().unwrap()).unwrap();
    let window = plan["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["type"] == "Window")
        .unwrap();
    assert_eq!(window["parallelism"], 1);
    assert_eq!(
        totals.execute_and_collect("window all").unwrap(),
        vec![10, 10, 10]
    );
}

/// Counts elements.
#[derive(Clone, Copy)]
struct Count;

impl AggregateFunction<(String, i64), u64, u64> for Count {
    fn create_accumulator(&self) -> u64 {
        0
    }
    fn add(&self, accumulator: &mut u64, _: (String, i64)) {
        *accumulator += 1;
    }
    fn get_result(&self, accumulator: &u64) -> u64 {
        *accumulator
    }
    fn merge(&self, a: u64, b: u64) -> u64 {
        a + b
    }
}

/// Averages the timestamps field, to check incremental aggregation with window metadata.
#[derive(Clone, Copy)]
struct Average;

impl AggregateFunction<(String, i64), (i64, i64), f64> for Average {
    fn create_accumulator(&self) -> (i64, i64) {
        (0, 0)
    }
    fn add(&self, accumulator: &mut (i64, i64), value: (String, i64)) {
        accumulator.0 += value.1;
        accumulator.1 += 1;
    }
    fn get_result(&self, accumulator: &(i64, i64)) -> f64 {
        accumulator.0 as f64 / accumulator.1 as f64
    }
    fn merge(&self, a: (i64, i64), b: (i64, i64)) -> (i64, i64) {
        (a.0 + b.0, a.1 + b.1)
    }
}

#[test]
fn aggregate_with_process_sees_the_result_and_the_window() {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    let events = vec![
        ("a".to_string(), 1),
        ("a".into(), 3),
        ("b".into(), 4),
        ("a".into(), 12),
    ];
    let out = timestamped(&env, events)
        .key_by(|e: &(String, i64)| e.0.clone())
        .window(TumblingWindows::event_time(Duration::from_millis(10)))
        .aggregate_with_process(
            Average,
            |key: &String,
             ctx: &mut WindowContext<'_, TimeWindow>,
             averages: Elements<'_, f64>,
             out: &mut Collector<'_, String>| {
                for average in averages {
                    out.collect(format!("{key}@{}:{average}", ctx.window().start));
                }
                Ok(())
            },
        )
        .execute_and_collect("average")
        .unwrap();
    assert_eq!(sorted(out), vec!["a@0:2", "a@10:12", "b@0:4"]);
}

#[test]
fn processing_time_windows_fire_on_an_unbounded_stream() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        use std::io::Write;
        writeln!(conn, "x y x").unwrap();
        std::thread::sleep(Duration::from_millis(800));
    });
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    let counts = env
        .socket_text_stream("127.0.0.1", port)
        .flat_map(|line: String, out: &mut Collector<'_, (String, u64)>| {
            for word in line.split_whitespace() {
                out.collect((word.to_string(), 1));
            }
        })
        .key_by(|w: &(String, u64)| w.0.clone())
        .window(TumblingWindows::processing_time(Duration::from_millis(100)))
        .reduce(|a: (String, u64), b: (String, u64)| (a.0, a.1 + b.1))
        .collect();
    let client = env.execute_async("processing time").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while counts.len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    client.cancel();
    assert!(matches!(client.wait(), Err(JobError::Cancelled)));
    server.join().unwrap();
    assert_eq!(
        sorted(counts.take()),
        vec![("x".to_string(), 2), ("y".to_string(), 1)]
    );
}

#[test]
fn invalid_windows_are_reported_at_execute() {
    let env = StreamExecutionEnvironment::new();
    timestamped(&env, vec![("a".into(), 1)])
        .key_by(|e: &(String, i64)| e.0.clone())
        .window(SessionWindows::event_time_with_gap(Duration::ZERO))
        .reduce(|a: (String, i64), _| a)
        .collect();
    let err = env.execute("bad window").unwrap_err().to_string();
    assert!(err.contains("session windows need 0 < gap"), "{err}");
}

/// An unbounded source of `("tick", n)` with event time `n`, one per millisecond.
struct Ticker;

/// An unbounded source that never emits anything.
struct Stalled;

struct TickerReader {
    next: i64,
}

impl Source<(String, i64)> for Ticker {
    type Split = ();
    type Reader = TickerReader;
    fn boundedness(&self) -> Boundedness {
        Boundedness::Unbounded
    }
    fn create_splits(&self, _: usize) -> UserResult<Vec<()>> {
        Ok(vec![()])
    }
    fn create_reader(&self, _: &OperatorContext) -> UserResult<TickerReader> {
        Ok(TickerReader { next: 0 })
    }
}

impl SourceReader<(String, i64), ()> for TickerReader {
    fn add_split(&mut self, _: ()) -> UserResult {
        Ok(())
    }
    fn poll_next(
        &mut self,
        output: &mut SourceOutput<'_, (String, i64)>,
    ) -> UserResult<ReaderStatus> {
        std::thread::sleep(Duration::from_millis(1));
        output.collect(("tick".to_string(), self.next));
        self.next += 1;
        Ok(ReaderStatus::MoreAvailable)
    }
}

impl Source<(String, i64)> for Stalled {
    type Split = ();
    type Reader = Stalled;
    fn boundedness(&self) -> Boundedness {
        Boundedness::Unbounded
    }
    fn create_splits(&self, _: usize) -> UserResult<Vec<()>> {
        Ok(vec![()])
    }
    fn create_reader(&self, _: &OperatorContext) -> UserResult<Stalled> {
        Ok(Stalled)
    }
}

impl SourceReader<(String, i64), ()> for Stalled {
    fn add_split(&mut self, _: ()) -> UserResult {
        Ok(())
    }
    fn poll_next(&mut self, _: &mut SourceOutput<'_, (String, i64)>) -> UserResult<ReaderStatus> {
        Ok(ReaderStatus::NothingAvailable)
    }
}

/// Windows fed by a ticking and a stalled source; returns how many fired within `wait`.
fn windows_fired_with_a_stalled_input(idleness: Option<Duration>, wait: Duration) -> usize {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(1)
        .set_auto_watermark_interval(Duration::from_millis(20));
    let strategy = || {
        WatermarkStrategy::for_monotonous_timestamps()
            .with_timestamp_assigner(|e: &(String, i64), _| e.1)
    };
    let ticks = env
        .from_source(Ticker, "ticker")
        .assign_timestamps_and_watermarks(strategy());
    let stalled_strategy = match idleness {
        Some(timeout) => strategy().with_idleness(timeout),
        None => strategy(),
    };
    let stalled = env
        .from_source(Stalled, "stalled")
        .assign_timestamps_and_watermarks(stalled_strategy);
    let fired = ticks
        .union([stalled])
        .key_by(|e: &(String, i64)| e.0.clone())
        .window(TumblingWindows::event_time(Duration::from_millis(10)))
        .aggregate(Count)
        .collect();
    let client = env.execute_async("idleness").unwrap();
    let deadline = Instant::now() + wait;
    while fired.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let count = fired.len();
    client.cancel();
    assert!(matches!(client.wait(), Err(JobError::Cancelled)));
    count
}

#[test]
fn an_idle_input_does_not_hold_back_the_watermark() {
    assert!(
        windows_fired_with_a_stalled_input(
            Some(Duration::from_millis(100)),
            Duration::from_secs(20)
        ) > 0
    );
}

#[test]
fn a_stalled_input_without_idleness_holds_windows_back() {
    assert_eq!(
        windows_fired_with_a_stalled_input(None, Duration::from_millis(400)),
        0
    );
}

/// Numbers each firing of a window (per-window state) and of the key (global state), and
/// checks that per-window state is cleared when the window is dropped.
#[derive(Clone)]
struct FiringCounter {
    per_window: ValueState<u32>,
    per_key: ValueState<u32>,
}

impl ProcessWindowFunction<(String, i64), String, String, TimeWindow> for FiringCounter {
    fn process(
        &mut self,
        key: &String,
        ctx: &mut WindowContext<'_, TimeWindow>,
        elements: Elements<'_, (String, i64)>,
        out: &mut Collector<'_, String>,
    ) -> UserResult {
        let window_firing = {
            let mut state = ctx.window_state()?;
            let n = self.per_window.value(&mut state)?.unwrap_or(0) + 1;
            self.per_window.update(&mut state, &n)?;
            n
        };
        let key_firing = {
            let mut state = ctx.global_state()?;
            let n = self.per_key.value(&mut state)?.unwrap_or(0) + 1;
            self.per_key.update(&mut state, &n)?;
            n
        };
        out.collect(format!(
            "{key}@{} #{window_firing} (key #{key_firing}) n={}",
            ctx.window().start,
            elements.len()
        ));
        Ok(())
    }

    fn clear(&mut self, key: &String, ctx: &mut WindowContext<'_, TimeWindow>) -> UserResult {
        let mut state = ctx.window_state()?;
        assert!(
            self.per_window.value(&mut state)?.is_some(),
            "{key}: cleared state of a window that fired"
        );
        self.per_window.clear(&mut state)?;
        Ok(())
    }
}

#[test]
fn process_window_functions_keep_per_window_and_global_state() {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2)
        .set_auto_watermark_interval(Duration::ZERO);
    let events = vec![
        ("a".to_string(), 1),
        ("a".into(), 12),
        ("a".into(), 3),
        ("a".into(), 5),
        ("a".into(), 200),
    ];
    let out = env
        .from_collection(events)
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_generator(|| {
                sluice::jobs::event_time_windows::PerEventBoundedOutOfOrderness::new(0)
            })
            .with_timestamp_assigner(|e: &(String, i64), _| e.1),
        )
        .set_parallelism(1)
        .key_by(|e: &(String, i64)| e.0.clone())
        .window(TumblingWindows::event_time(Duration::from_millis(10)))
        .allowed_lateness(Duration::from_millis(50))
        .process(FiringCounter {
            per_window: ValueState::new("firings"),
            per_key: ValueState::new("key firings"),
        })
        .execute_and_collect("window state")
        .unwrap();
    assert_eq!(
        out,
        vec![
            "a@0 #1 (key #1) n=1",
            "a@0 #2 (key #2) n=2",
            "a@0 #3 (key #3) n=3",
            "a@10 #1 (key #4) n=1",
            "a@200 #1 (key #5) n=1",
        ]
    );
}

#[test]
fn count_window_all_groups_the_whole_stream() {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(3);
    let sums = env
        .from_sequence(1, 10)
        .rebalance()
        .map(|n: i64| n)
        .count_window_all(4)
        .reduce(|a: i64, b: i64| a + b)
        .execute_and_collect("count window all")
        .unwrap();
    // Two full windows of four elements; the last two elements never fill a window.
    assert_eq!(sums.len(), 2);
    // Which eight of the ten arrive first depends on the rebalance; their sum lies between the
    // eight smallest (36) and the eight largest (52).
    let total: i64 = sums.iter().sum();
    assert!((36..=52).contains(&total), "{sums:?}");
}
