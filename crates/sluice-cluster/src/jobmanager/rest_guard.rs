//! What keeps a web page in the user's browser from driving the REST API: a page may send
//! simple cross-site requests (a form post, `text/plain`, no content type) to a JobManager on
//! `localhost`, and a name it controls may resolve to `127.0.0.1` (DNS rebinding).
//!
//! - A `POST` must carry a content type a browser cannot send across sites without the
//!   server's consent (`application/json`, `application/octet-stream`, ...): the form and text
//!   types and a missing one are refused (415). `PATCH`, `PUT` and `DELETE` are never simple
//!   requests, so a browser asks first, and this server never consents.
//! - A state-changing request whose `Origin` is not this server's own is refused (403).
//! - While the API listens on loopback only, a `Host` that is not a loopback name is refused
//!   (403): a rebound name reaches the server, but with its own name in `Host`.
//!
//! Plain `GET`s with a loopback `Host` (what Flink's REST clients send) pass unchanged.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::rest::error;

/// The guard's settings.
#[derive(Debug, Clone, Copy)]
pub struct Guard {
    /// The API listens on loopback addresses only.
    pub loopback_only: bool,
}

/// The content types of requests a browser sends across sites without asking the server.
const SIMPLE_CONTENT_TYPES: [&str; 3] = [
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "text/plain",
];

/// Serves the request if it could not have come from another site's page; refuses it, saying
/// why, otherwise.
pub async fn guard(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    match check(guard, request.method(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err((status, message)) => error(status, message),
    }
}

fn check(guard: Guard, method: &Method, headers: &HeaderMap) -> Result<(), (StatusCode, String)> {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok());
    if guard.loopback_only
        && let Some(host) = host
        && !is_loopback_name(host_name(host))
    {
        return Err((
            StatusCode::FORBIDDEN,
            format!(
                "Host '{host}' refused: this REST API listens on loopback only and answers to \
                 localhost names (set rest.bind-address to serve other names)"
            ),
        ));
    }
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        let own = host.is_some_and(|host| {
            origin
                .split_once("://")
                .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
        });
        if !own {
            return Err((
                StatusCode::FORBIDDEN,
                format!("cross-origin request from '{origin}' refused"),
            ));
        }
    }
    if *method == Method::POST {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(|value| {
                value
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        if content_type.is_empty() || SIMPLE_CONTENT_TYPES.contains(&content_type.as_str()) {
            return Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "a POST must carry Content-Type application/json (application/octet-stream \
                     for uploads), not '{content_type}'"
                ),
            ));
        }
    }
    Ok(())
}

/// The host part of a `Host` header: without the port, without an IPv6 literal's brackets.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// `localhost`, a name under `.localhost`, or a loopback address.
fn is_loopback_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    const LOOPBACK: Guard = Guard {
        loopback_only: true,
    };

    #[test]
    fn loopback_servers_answer_loopback_names_only() {
        for host in [
            "localhost:8081",
            "127.0.0.1:8081",
            "[::1]:8081",
            "app.localhost",
        ] {
            let ok = headers(&[(header::HOST, host)]);
            assert!(check(LOOPBACK, &Method::GET, &ok).is_ok(), "{host}");
        }
        let rebound = headers(&[(header::HOST, "attacker.example:8081")]);
        let (status, message) = check(LOOPBACK, &Method::GET, &rebound).unwrap_err();
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(message.contains("attacker.example"), "{message}");
        let open = Guard {
            loopback_only: false,
        };
        assert!(check(open, &Method::GET, &rebound).is_ok());
    }

    #[test]
    fn posts_need_a_content_type_no_form_can_send() {
        let host = (header::HOST, "localhost:8081");
        for refused in ["text/plain", "multipart/form-data; boundary=x", ""] {
            let mut map = headers(std::slice::from_ref(&host));
            if !refused.is_empty() {
                map.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_str(refused).unwrap(),
                );
            }
            let (status, _) = check(LOOPBACK, &Method::POST, &map).unwrap_err();
            assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{refused}");
        }
        let json = headers(&[host.clone(), (header::CONTENT_TYPE, "application/json")]);
        assert!(check(LOOPBACK, &Method::POST, &json).is_ok());
        let bare_patch = headers(&[host]);
        assert!(check(LOOPBACK, &Method::PATCH, &bare_patch).is_ok());
    }

    #[test]
    fn foreign_origins_cannot_change_anything() {
        let foreign = headers(&[
            (header::HOST, "localhost:8081"),
            (header::ORIGIN, "https://attacker.example"),
            (header::CONTENT_TYPE, "application/json"),
        ]);
        let (status, _) = check(LOOPBACK, &Method::POST, &foreign).unwrap_err();
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(check(LOOPBACK, &Method::GET, &foreign).is_ok());
        let own = headers(&[
            (header::HOST, "localhost:8081"),
            (header::ORIGIN, "http://localhost:8081"),
            (header::CONTENT_TYPE, "application/json"),
        ]);
        assert!(check(LOOPBACK, &Method::POST, &own).is_ok());
    }
}
