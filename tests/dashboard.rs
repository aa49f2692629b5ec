//! The web dashboard in a real browser: headless Chromium, driven through chromedriver
//! (WebDriver) by fantoccini, opens a running job's page on a cluster, finds the job's
//! vertices drawn in its graph, opens the checkpoints tab, clicks cancel and sees the job
//! canceled. Screenshots of each step go to `$CARGO_TARGET_TMPDIR/dashboard/`.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use common::cluster::jobs::start_socket_job;
use common::cluster::{Cluster, free_ports};

/// A chromedriver process, killed on drop.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts chromedriver on a free port and waits until it listens; its URL.
fn start_driver(chromedriver: &str) -> (Driver, String) {
    let (port, _) = free_ports();
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let driver = Driver(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (driver, format!("http://127.0.0.1:{port}"))
}

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn screenshot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.unwrap();
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
}

/// The text of every element `css` finds, once there are `count` of them (at most 30 s).
async fn texts_of(browser: &Client, css: &str, count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = browser.find_all(Locator::Css(css)).await.unwrap();
        if found.len() >= count {
            let mut texts = Vec::new();
            for element in found {
                texts.push(element.text().await.unwrap_or_default());
            }
            return texts;
        }
        assert!(
            Instant::now() < deadline,
            "{css}: {} of {count}",
            found.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn the_dashboard_shows_a_running_jobs_graph_and_cancels_it() {
    let test = "the_dashboard_shows_a_running_jobs_graph_and_cancels_it";
    let Some(chromedriver) = common::required("SLUICE_CHROMEDRIVER", "chromedriver", test) else {
        return;
    };
    let cluster = Cluster::start("dashboard", 1, 2);
    let (id, mut socket) = start_socket_job(&cluster, "counts.csv");
    socket.write_all(b"to be or not to be\n").unwrap();
    let job = cluster.get(&format!("/jobs/{id}"));
    let names: Vec<String> = job["vertices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    let (_driver, url) = start_driver(&chromedriver);
    let base = format!("http://127.0.0.1:{}", cluster.rest_port);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                            "--disable-dev-shm-usage", "--window-size=1400,900"]}),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let browser = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&url)
            .await
            .expect("a Chromium session");

        browser.goto(&format!("{base}/")).await.unwrap();
        let title = texts_of(&browser, "main h1", 1).await;
        assert_eq!(title[0], "Cluster overview");
        texts_of(&browser, "tr.link", 1).await;
        screenshot(&browser, "1-overview").await;

        // The job's page draws each of its vertices, named, in the graph.
        browser
            .goto(&format!("{base}/#/job/{id}/overview"))
            .await
            .unwrap();
        let drawn = texts_of(&browser, "#job-graph g.vertex", names.len()).await;
        assert_eq!(drawn.len(), names.len());
        for name in &names {
            let start: String = name.chars().take(20).collect();
            assert!(
                drawn.iter().any(|t| t.contains(&start)),
                "{name} in {drawn:?}"
            );
        }
        assert!(
            drawn.iter().all(|t| t.contains("Busy ") && t.contains("%")),
            "each vertex shows its busy share: {drawn:?}"
        );
        screenshot(&browser, "2-job-graph").await;

        // The checkpoints tab.
        browser
            .find(Locator::Css("[data-tab=checkpoints]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        texts_of(&browser, "#checkpoint-history", 1).await;
        screenshot(&browser, "3-checkpoints").await;

        // Cancel, confirming the question the page asks.
        browser
            .execute("window.confirm = () => true;", Vec::new())
            .await
            .unwrap();
        browser
            .find(Locator::Css("#cancel"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        texts_of(&browser, "main h1 .state.CANCELED", 1).await;
        screenshot(&browser, "4-canceled").await;

        // The TaskManagers with their memory: used (as they report it) of the host's.
        browser
            .goto(&format!("{base}/#/taskmanagers"))
            .await
            .unwrap();
        let memory = texts_of(&browser, "td.memory", 1).await;
        assert!(
            memory[0].contains(" / ")
                && !memory[0].starts_with("0 B")
                && !memory[0].ends_with("0 B"),
            "{memory:?}"
        );
        screenshot(&browser, "5-task-managers").await;
        browser.close().await.unwrap();
    });
    cluster.wait_for_state(&id, "CANCELED");
}
