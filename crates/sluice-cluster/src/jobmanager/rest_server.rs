//! Serving the REST API's router on a socket with bounds a hostile client cannot get around:
//! at most [`MAX_CONNECTIONS`] connections at once (more wait in the kernel's backlog), and
//! [`HEADER_TIMEOUT`] for each request's headers, counted from when the connection waits for
//! one, so a connection idle between requests is closed after it too. Per-request limits
//! (bodies, handler time, requests in progress) are the router's (see [`super::rest`]).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// The most REST connections served at once.
pub const MAX_CONNECTIONS: usize = 256;

/// How long a client has to send a request's headers (and a connection may idle).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The bounds of one server.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// The most connections served at once.
    pub max_connections: usize,
    /// How long a client has to send a request's headers.
    pub header_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: MAX_CONNECTIONS,
            header_timeout: HEADER_TIMEOUT,
        }
    }
}

/// Serves `router` on `listener` within `limits` until the process ends.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        // Waiting for a permit leaves further connections in the listen backlog.
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            return Ok(());
        };
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!("REST: cannot accept a connection: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let service = TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(permit);
        });
    }
}

/// Serves `router` on `listener` (non-blocking) within the default limits, on a Tokio runtime of
/// its own, until the process ends. One worker thread accepts the connections and answers them
/// (handlers that may block run on the blocking pool): a request is light, and answering it on
/// the thread that accepted it saves a hand-over between threads per request.
pub fn run(listener: std::net::TcpListener, router: Router) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("rest")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the REST server: {e}"))?;
    runtime.block_on(async move {
        let listener =
            TcpListener::from_std(listener).map_err(|e| format!("cannot serve REST: {e}"))?;
        // Accepting on a worker (not on this thread) keeps each connection on that worker.
        tokio::spawn(serve(listener, router, ConnectionLimits::default()))
            .await
            .map_err(|e| format!("the REST server failed: {e}"))?
            .map_err(|e| format!("the REST server stopped: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobmanager::rest_limits::{MAX_IN_PROGRESS, in_progress_limit};
    use axum::routing::get;
    use std::io::{Read, Write};
    use std::net::TcpStream;

    /// Serves a route that holds every request until `release` has permits, within `limits`.
    fn start(limits: ConnectionLimits, release: Arc<Semaphore>) -> u16 {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = std_listener.local_addr().unwrap().port();
        std_listener.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let router = Router::new()
                    .route(
                        "/slow",
                        get(move || async move {
                            let _ = release.acquire().await;
                            "done"
                        }),
                    )
                    .layer(axum::middleware::from_fn_with_state(
                        Arc::new(Semaphore::new(MAX_IN_PROGRESS)),
                        in_progress_limit,
                    ));
                let listener = TcpListener::from_std(std_listener).unwrap();
                serve(listener, router, limits).await.unwrap();
            });
        });
        port
    }

    fn get_slow(port: u16) -> TcpStream {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .write_all(b"GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        stream
    }

    #[test]
    fn requests_past_the_in_progress_limit_are_refused_at_once() {
        let release = Arc::new(Semaphore::new(0));
        let port = start(ConnectionLimits::default(), Arc::clone(&release));
        let held: Vec<TcpStream> = (0..MAX_IN_PROGRESS).map(|_| get_slow(port)).collect();
        std::thread::sleep(Duration::from_millis(300));
        let mut extra = get_slow(port);
        extra
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut answer = [0u8; 12];
        extra.read_exact(&mut answer).unwrap();
        assert_eq!(&answer, b"HTTP/1.1 503");
        release.add_permits(MAX_IN_PROGRESS);
        drop(held);
    }

    #[test]
    fn slow_headers_and_idle_connections_are_closed() {
        let limits = ConnectionLimits {
            max_connections: 2,
            header_timeout: Duration::from_millis(300),
        };
        let port = start(limits, Arc::new(Semaphore::new(1)));
        let started = std::time::Instant::now();
        let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
        slow.write_all(b"GET /slow HTTP/1.1\r\nHost: loc").unwrap();
        slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut rest = Vec::new();
        let _ = slow.read_to_end(&mut rest);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        // Connections beyond the limit wait until one ends; then they are served.
        let idle: Vec<TcpStream> = (0..2)
            .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
            .collect();
        let mut waiting = get_slow(port);
        waiting
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut answer = [0u8; 12];
        waiting.read_exact(&mut answer).unwrap();
        assert_eq!(
            &answer, b"HTTP/1.1 200",
            "served once the idle ones were closed"
        );
        drop(idle);
    }
}
