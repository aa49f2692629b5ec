//! Session windows over a click stream: each user's clicks closer than 30 minutes to each other
//! form one session; for every session print the user, its span, the clicks and the pages.
//!
//! ```sh
//! cargo run --example session_clicks
//! ```

use std::time::Duration;

use sluice::prelude::*;

/// mimalloc, as in every Sluice binary (see `src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A click: user, event time (ms), page.
type Click = (String, i64, String);

const MINUTE: i64 = 60_000;

fn clicks() -> Vec<Click> {
    let raw = [
        ("ada", 0, "/"),
        ("ada", 5, "/docs"),
        ("bob", 7, "/"),
        ("ada", 12, "/docs/windows"),
        ("bob", 55, "/pricing"),
        ("ada", 70, "/"),
        ("bob", 61, "/signup"),
        ("ada", 90, "/blog"),
    ];
    raw.iter()
        .map(|(user, minute, page)| (user.to_string(), minute * MINUTE, page.to_string()))
        .collect()
}

fn describe(
    user: &String,
    ctx: &mut WindowContext<'_, TimeWindow>,
    clicks: Elements<'_, Click>,
    out: &mut Collector<'_, String>,
) -> UserResult {
    let window = ctx.window();
    let pages: Vec<&str> = clicks.map(|c| c.2.as_str()).collect();
    out.collect(format!(
        "{user}: session {}–{} min, {} clicks: {}",
        window.start / MINUTE,
        window.end / MINUTE,
        pages.len(),
        pages.join(" → ")
    ));
    Ok(())
}

fn main() -> Result<(), JobError> {
    sluice::init_logging();
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    env.from_collection(clicks())
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_secs(600))
                .with_timestamp_assigner(|click: &Click, _| click.1),
        )
        .key_by(|click: &Click| click.0.clone())
        .window(SessionWindows::event_time_with_gap(Duration::from_secs(
            30 * 60,
        )))
        .process(describe)
        .print();
    env.execute("Click Sessions")?;
    Ok(())
}
