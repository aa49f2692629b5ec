//! The first load of a web dashboard in headless Chromium (driven through chromedriver):
//! from navigating to `--url` until the page shows `--ready-text` (the cluster overview's slot
//! count: "Slots available" on Sluice's, "Available Task Slots" on Flink's; compared without
//! case), five times, each a fresh browser session (nothing cached).
//!
//! ```text
//! cargo run --release --example bench_dashboard_load -- --url http://127.0.0.1:8081/ \
//!     --chromedriver /usr/bin/chromedriver [--ready-text "Available Task Slots"]
//! ```
//! Prints `dashboard first_load_ms median=… max=… runs=5`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use fantoccini::ClientBuilder;

#[derive(Parser)]
struct Cli {
    /// The dashboard's address.
    #[arg(long)]
    url: String,
    /// The chromedriver binary.
    #[arg(long)]
    chromedriver: String,
    /// Text the loaded page shows (compared without case).
    #[arg(long, default_value = "Slots available")]
    ready_text: String,
}

/// One fresh session's load of `url`, until its text holds `ready`.
async fn load_once(driver: &str, url: &str, ready: &str) -> Result<Duration, String> {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                                    "--disable-dev-shm-usage", "--window-size=1400,900"]}),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let browser = ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(driver)
        .await
        .map_err(|e| e.to_string())?;
    let ready = ready.to_lowercase();
    let started = Instant::now();
    browser.goto(url).await.map_err(|e| e.to_string())?;
    let loaded = loop {
        let text = browser
            .execute(
                "return document.body ? document.body.innerText : '';",
                Vec::new(),
            )
            .await
            .map_err(|e| e.to_string())?;
        if text
            .as_str()
            .unwrap_or_default()
            .to_lowercase()
            .contains(&ready)
        {
            break started.elapsed();
        }
        if started.elapsed() > Duration::from_secs(30) {
            return Err(format!("{url} never showed '{ready}'"));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    browser.close().await.map_err(|e| e.to_string())?;
    Ok(loaded)
}

fn main() -> Result<(), String> {
    let cli = Cli::parse();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let mut driver = Command::new(&cli.chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", cli.chromedriver))?;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let driver_url = format!("http://127.0.0.1:{port}");
    let mut loads = Vec::new();
    for _ in 0..5 {
        loads.push(runtime.block_on(load_once(&driver_url, &cli.url, &cli.ready_text))?);
    }
    let _ = driver.kill();
    let _ = driver.wait();
    loads.sort();
    println!(
        "dashboard first_load_ms median={:.0} max={:.0} runs={}",
        loads[loads.len() / 2].as_secs_f64() * 1000.0,
        loads[loads.len() - 1].as_secs_f64() * 1000.0,
        loads.len()
    );
    Ok(())
}
