//! The Prometheus endpoint of the JobManager and of each TaskManager, as Flink's Prometheus
//! reporter serves it: enabled by `metrics.reporter.prom.factory.class`, on the first free port
//! of `metrics.reporter.prom.port` (9249 by default; a range such as `9249-9260` lets several
//! processes of one host each find one), every metric a gauge named `flink_<scope>_<metric>`.

use std::net::TcpListener;
use std::ops::RangeInclusive;
use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

pub mod process;
pub mod text;

pub use text::{Sample, render};

/// The factory class that enables the reporter (Flink's, the only one Sluice has).
pub const FACTORY_CLASS: &str = "org.apache.flink.metrics.prometheus.PrometheusReporterFactory";
/// The reporter's port when none is configured (Flink's).
pub const DEFAULT_PORT: u16 = 9249;
/// The content type of the text format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The ports `metrics.reporter.prom.port` allows: one (`9249`) or a range (`9249-9260`).
pub fn parse_ports(text: &str) -> Result<RangeInclusive<u16>, String> {
    let port = |p: &str| {
        p.trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("'{text}' is not a port or a range of ports like 9249-9260"))
    };
    let (first, last) = match text.split_once('-') {
        Some((first, last)) => (port(first)?, port(last)?),
        None => (port(text)?, port(text)?),
    };
    if first > last {
        return Err(format!("'{text}': the range ends before it starts"));
    }
    Ok(first..=last)
}

/// Listens on the first free port of `ports` on `host`.
pub fn bind(host: &str, ports: &RangeInclusive<u16>) -> Result<TcpListener, String> {
    let mut last_error = None;
    for port in ports.clone() {
        match TcpListener::bind((host, port)) {
            Ok(listener) => return Ok(listener),
            Err(error) => last_error = Some(error),
        }
    }
    Err(format!(
        "no free port for the Prometheus reporter in {}-{} on {host}: {}",
        ports.start(),
        ports.end(),
        last_error.map_or_else(|| "empty range".into(), |e| e.to_string())
    ))
}

/// What an endpoint serves: the exposition text of the moment.
pub type Exposition = Arc<dyn Fn() -> String + Send + Sync>;

/// Serves `exposition` on `listener` (every path, as Flink's reporter), on a thread of its own.
pub fn serve(listener: TcpListener, exposition: Exposition) -> Result<(), String> {
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("the Prometheus endpoint: {e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the Prometheus endpoint: {e}"))?;
    std::thread::Builder::new()
        .name("prometheus".into())
        .spawn(move || {
            let render = move || {
                let exposition = Arc::clone(&exposition);
                async move {
                    let text = tokio::task::spawn_blocking(move || exposition())
                        .await
                        .unwrap_or_default();
                    ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response()
                }
            };
            let router = Router::new()
                .route("/", get(render.clone()))
                .route("/{*path}", get(render));
            runtime.block_on(async move {
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => {
                        if let Err(error) = axum::serve(listener, router).await {
                            tracing::warn!("the Prometheus endpoint stopped: {error}");
                        }
                    }
                    Err(error) => tracing::warn!("the Prometheus endpoint: {error}"),
                }
            });
        })
        .map_err(|e| format!("cannot start the Prometheus endpoint: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn ports_are_one_or_a_range() {
        assert_eq!(parse_ports("9249").unwrap(), 9249..=9249);
        assert_eq!(parse_ports("9249-9260").unwrap(), 9249..=9260);
        assert!(
            parse_ports("9260-9249")
                .unwrap_err()
                .contains("ends before")
        );
        assert!(parse_ports("abc").is_err());
        assert!(parse_ports("0").is_err());
    }

    #[test]
    fn the_next_free_port_of_the_range_is_taken_and_served() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let range = port..=port.saturating_add(20);
        let listener = bind("127.0.0.1", &range).unwrap();
        let bound = listener.local_addr().unwrap().port();
        assert!(bound > port && range.contains(&bound));
        assert!(
            bind("127.0.0.1", &(port..=port))
                .unwrap_err()
                .contains("no free port")
        );
        serve(listener, Arc::new(|| "flink_up 1\n".to_string())).unwrap();
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", bound)).unwrap();
        write!(stream, "GET /metrics HTTP/1.0\r\n\r\n").unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.contains("text/plain; version=0.0.4"), "{answer}");
        assert!(answer.ends_with("flink_up 1\n"), "{answer}");
    }
}
