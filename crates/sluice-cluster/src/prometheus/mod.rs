//! The Prometheus endpoint of the JobManager and of each TaskManager, as Flink's Prometheus
//! reporter serves it: enabled by `metrics.reporter.prom.factory.class`, on the first free port
//! of `metrics.reporter.prom.port` (9249 by default; a range such as `9249-9260` lets several
//! processes of one host each find one), every metric a gauge named `flink_<scope>_<metric>`.

use std::net::TcpListener;
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
    fn the_next_free_port_of_the_range_is_taken_and_served() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let range = port..=port.saturating_add(20);
        let listener = crate::port_range::bind("127.0.0.1", &range, "the reporter").unwrap();
        let bound = listener.local_addr().unwrap().port();
        assert!(bound > port && range.contains(&bound));
        assert!(
            crate::port_range::bind("127.0.0.1", &(port..=port), "the reporter")
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
