//! Load on a JobManager's REST API (Sluice's or Flink's: the same paths) while a job runs:
//! `GET /overview` and `GET /jobs/<id>` of the running job (or `--paths`), in turn, at `--rate` requests
//! per second in all for `--seconds`, and optionally a Prometheus scrape of each `--scrape`
//! endpoint every `--scrape-ms`. Each request opens its connection, as a script does, or with
//! `--keep-alive` all go over one kept-alive connection, as a browser's dashboard polls. Latency is measured from the request's scheduled time, so a slow answer that
//! delays the next request counts against the next one too (no coordinated omission).
//!
//! ```text
//! cargo run --release --example bench_rest_load -- --endpoint 127.0.0.1:8081 --rate 200 \
//!     --seconds 20 [--scrape 127.0.0.1:9249,127.0.0.1:9250 --scrape-ms 1000]
//! ```
//! Prints one line per path: `path=… requests=… p50_ms=… p99_ms=… max_ms=… errors=…`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use clap::Parser;

#[derive(Parser)]
struct Cli {
    /// The REST API, `host:port`.
    #[arg(long)]
    endpoint: String,
    /// Requests per second, in all.
    #[arg(long, default_value_t = 200)]
    rate: u32,
    /// How long to send them.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Prometheus endpoints to scrape, `host:port,…`.
    #[arg(long, default_value = "")]
    scrape: String,
    /// How often to scrape them, in ms.
    #[arg(long, default_value_t = 1000)]
    scrape_ms: u64,
    /// The paths to request in turn, `{job}` standing for the running job's id (`/config`
    /// alone gives a baseline: the cost of the requests themselves, with no job data).
    #[arg(long, default_value = "/overview,/jobs/{job}")]
    paths: String,
    /// Send the requests over one kept-alive connection instead of one connection each.
    #[arg(long)]
    keep_alive: bool,
}

/// One kept-alive HTTP/1.1 connection, reopened when the server closes it.
struct KeptAlive {
    endpoint: String,
    stream: Option<BufReader<TcpStream>>,
}

impl KeptAlive {
    /// `GET path`: the status and the body (read by its `Content-Length`).
    fn get(&mut self, path: &str) -> std::io::Result<(u16, String)> {
        let reader = match &mut self.stream {
            Some(reader) => reader,
            None => {
                let stream = TcpStream::connect(&self.endpoint)?;
                stream.set_read_timeout(Some(Duration::from_secs(10)))?;
                // Each request is one small write: without this, Nagle's algorithm holds it
                // back behind the server's delayed acknowledgement of the previous answer.
                stream.set_nodelay(true)?;
                self.stream.insert(BufReader::new(stream))
            }
        };
        let answer = exchange(reader, path, false);
        if answer.is_err() {
            self.stream = None;
        }
        answer
    }
}

/// Sends `GET path` on the connection of `reader` (asking the server to close it after the
/// answer when `close`) and reads the answer: its status and body.
fn exchange(
    reader: &mut BufReader<TcpStream>,
    path: &str,
    close: bool,
) -> std::io::Result<(u16, String)> {
    let connection = if close { "Connection: close\r\n" } else { "" };
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{connection}\r\n");
    reader.get_mut().write_all(request.as_bytes())?;
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut length = 0;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// `GET path` on `endpoint` over a connection of its own: the status and the body.
fn get(endpoint: &str, path: &str) -> std::io::Result<(u16, String)> {
    let stream = TcpStream::connect(endpoint)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    exchange(&mut BufReader::new(stream), path, true)
}

/// The id of a running job, waiting up to a minute for one.
fn running_job(endpoint: &str) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok((200, body)) = get(endpoint, "/jobs/overview") {
            let jobs: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let running = jobs["jobs"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|j| j["state"] == "RUNNING");
            if let Some(id) = running.and_then(|j| j["jid"].as_str()) {
                return Ok(id.to_string());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("no running job at {endpoint} within a minute"))
}

/// Latencies of one kind of request, and its failures.
#[derive(Default)]
struct Series {
    latencies: Vec<Duration>,
    errors: u64,
}

impl Series {
    fn report(&mut self, name: &str) {
        self.latencies.sort();
        let at = |q: f64| {
            let n = self.latencies.len();
            if n == 0 {
                return 0.0;
            }
            let index = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
            self.latencies[index].as_secs_f64() * 1000.0
        };
        println!(
            "path={name} requests={} p50_ms={:.2} p99_ms={:.2} max_ms={:.2} errors={}",
            self.latencies.len(),
            at(0.5),
            at(0.99),
            at(1.0),
            self.errors
        );
    }
}

fn main() -> Result<(), String> {
    let cli = Cli::parse();
    let job = running_job(&cli.endpoint)?;
    let paths: Vec<String> = cli
        .paths
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|p| p.replace("{job}", &job))
        .collect();
    if paths.is_empty() {
        return Err("--paths names no path".into());
    }
    let scrapes: Vec<String> = cli
        .scrape
        .split(',')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let scraper = (!scrapes.is_empty()).then(|| {
        let (seconds, every) = (cli.seconds, Duration::from_millis(cli.scrape_ms));
        std::thread::spawn(move || {
            let mut series = Series::default();
            let end = Instant::now() + Duration::from_secs(seconds);
            while Instant::now() < end {
                for endpoint in &scrapes {
                    let started = Instant::now();
                    match get(endpoint, "/metrics") {
                        Ok((200, _)) => series.latencies.push(started.elapsed()),
                        _ => series.errors += 1,
                    }
                }
                std::thread::sleep(every);
            }
            series
        })
    });
    let interval = Duration::from_secs_f64(1.0 / f64::from(cli.rate.max(1)));
    let mut series: Vec<Series> = paths.iter().map(|_| Series::default()).collect();
    let mut kept = cli.keep_alive.then(|| KeptAlive {
        endpoint: cli.endpoint.clone(),
        stream: None,
    });
    let start = Instant::now();
    let total = u64::from(cli.rate) * cli.seconds;
    for n in 0..total {
        let scheduled = start + interval.mul_f64(n as f64);
        if let Some(wait) = scheduled.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let which = (n % paths.len() as u64) as usize;
        let answer = match &mut kept {
            Some(kept) => kept.get(&paths[which]),
            None => get(&cli.endpoint, &paths[which]),
        };
        match answer {
            Ok((200, _)) => series[which].latencies.push(scheduled.elapsed()),
            _ => series[which].errors += 1,
        }
    }
    println!(
        "sent {} requests in {:.1} s to {} (job {job}){}",
        total,
        start.elapsed().as_secs_f64(),
        cli.endpoint,
        if cli.keep_alive {
            " over one kept-alive connection"
        } else {
            ""
        }
    );
    for (path, series) in cli.paths.split(',').zip(&mut series) {
        series.report(&path.replace("{job}", "<id>"));
    }
    if let Some(scraper) = scraper {
        scraper
            .join()
            .map_err(|_| "the scraper failed")?
            .report("prometheus /metrics");
    }
    Ok(())
}
