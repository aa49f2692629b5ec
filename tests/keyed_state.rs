//! Keyed process functions with keyed state and timers, through the public API.

use std::collections::BTreeSet;
use std::time::Duration;

use sluice::prelude::*;

type Event = (String, i64);

/// Flink's documented CountWithTimeoutFunction: per key, the count of events, emitted once the
/// key was quiet for 60 s of event time.
#[derive(Clone)]
struct CountWithTimeout {
    state: ValueState<(u64, i64)>,
}

impl KeyedProcessFunction<String, Event, (String, u64)> for CountWithTimeout {
    fn process_element(
        &mut self,
        _: Event,
        ctx: &mut KeyedContext<'_, String>,
        _: &mut Collector<'_, (String, u64)>,
    ) -> UserResult {
        let (count, _) = self.state.value(ctx.state())?.unwrap_or((0, 0));
        let timestamp = ctx.timestamp().ok_or("events need timestamps")?;
        self.state.update(ctx.state(), &(count + 1, timestamp))?;
        ctx.register_event_time_timer(timestamp + 60_000);
        Ok(())
    }

    fn on_timer(
        &mut self,
        timestamp: i64,
        ctx: &mut KeyedContext<'_, String>,
        out: &mut Collector<'_, (String, u64)>,
    ) -> UserResult {
        if let Some((count, last)) = self.state.value(ctx.state())?
            && timestamp == last + 60_000
        {
            out.collect((ctx.current_key().clone(), count));
        }
        Ok(())
    }
}

fn events() -> Vec<Event> {
    let mut events = Vec::new();
    for (i, key) in ["a", "b", "c", "d", "e", "f"].iter().enumerate() {
        // Key i sends i + 1 events 10 s apart, then stops.
        for n in 0..=i as i64 {
            events.push((key.to_string(), n * 10_000 + i as i64));
        }
    }
    events.sort_by_key(|e| e.1);
    events
}

#[test]
fn count_with_timeout_emits_each_quiet_key_once() {
    for p in [1, 4] {
        let env = StreamExecutionEnvironment::new();
        env.set_parallelism(p);
        let out = env
            .from_collection(events())
            .assign_timestamps_and_watermarks(
                WatermarkStrategy::for_monotonous_timestamps()
                    .with_timestamp_assigner(|e: &Event, _| e.1),
            )
            .key_by(|e: &Event| e.0.clone())
            .process(CountWithTimeout {
                state: ValueState::new("count"),
            })
            .execute_and_collect("count with timeout")
            .unwrap();
        let got: BTreeSet<(String, u64)> = out.into_iter().collect();
        let expected: BTreeSet<(String, u64)> = ["a", "b", "c", "d", "e", "f"]
            .iter()
            .enumerate()
            .map(|(i, k)| (k.to_string(), i as u64 + 1))
            .collect();
        assert_eq!(got, expected, "p={p}");
    }
}

/// Emits each distinct value of a key once, remembering seen values in map state.
#[derive(Clone)]
struct Distinct {
    seen: MapState<i64, bool>,
}

impl KeyedProcessFunction<String, Event, Event> for Distinct {
    fn process_element(
        &mut self,
        value: Event,
        ctx: &mut KeyedContext<'_, String>,
        out: &mut Collector<'_, Event>,
    ) -> UserResult {
        if !self.seen.contains(ctx.state(), &value.1)? {
            self.seen.put(ctx.state(), &value.1, &true)?;
            out.collect(value);
        }
        Ok(())
    }
}

#[test]
fn map_state_keeps_values_per_key() {
    for p in [1, 4] {
        let env = StreamExecutionEnvironment::new();
        env.set_parallelism(p);
        let input: Vec<Event> = (0..200).map(|i| (format!("k{}", i % 3), i % 7)).collect();
        let out = env
            .from_collection(input.clone())
            .key_by(|e: &Event| e.0.clone())
            .process(Distinct {
                seen: MapState::new("seen"),
            })
            .execute_and_collect("distinct")
            .unwrap();
        let expected: BTreeSet<Event> = input.into_iter().collect();
        let got: BTreeSet<Event> = out.iter().cloned().collect();
        assert_eq!(out.len(), expected.len(), "each pair once, p={p}");
        assert_eq!(got, expected);
    }
}

/// Fires a processing-time timer shortly after the first element of each key.
#[derive(Clone)]
struct Ping {
    seen: ValueState<bool>,
}

impl KeyedProcessFunction<String, String, String> for Ping {
    fn process_element(
        &mut self,
        _: String,
        ctx: &mut KeyedContext<'_, String>,
        _: &mut Collector<'_, String>,
    ) -> UserResult {
        if self.seen.value(ctx.state())?.is_none() {
            self.seen.update(ctx.state(), &true)?;
            let at = ctx.current_processing_time() + 30;
            ctx.register_processing_time_timer(at);
        }
        Ok(())
    }

    fn on_timer(
        &mut self,
        _: i64,
        ctx: &mut KeyedContext<'_, String>,
        out: &mut Collector<'_, String>,
    ) -> UserResult {
        assert_eq!(ctx.time_domain(), Some(TimeDomain::ProcessingTime));
        out.collect(format!("ping {}", ctx.current_key()));
        Ok(())
    }
}

#[test]
fn processing_time_timers_fire_while_the_job_runs() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        use std::io::Write;
        let (mut conn, _) = listener.accept().unwrap();
        writeln!(conn, "x\ny\nx").unwrap();
        std::thread::sleep(Duration::from_millis(500));
    });
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    let pings = env
        .socket_text_stream("127.0.0.1", port)
        .key_by(|line: &String| line.clone())
        .process(Ping {
            seen: ValueState::new("seen"),
        })
        .collect();
    let client = env.execute_async("pings").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while pings.len() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    client.cancel();
    assert!(matches!(client.wait(), Err(JobError::Cancelled)));
    server.join().unwrap();
    let mut got = pings.take();
    got.sort();
    assert_eq!(got, vec!["ping x", "ping y"]);
}
