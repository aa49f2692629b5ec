//! The web dashboard: a single page (HTML, CSS and JavaScript modules in `web/`, built into
//! the binary, no build step and nothing fetched from elsewhere) over the REST API. Its files
//! are served without the REST token: they hold no data, and the page asks for the token when
//! the API requires one.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

const INDEX: &str = include_str!("../../web/index.html");
const SCRIPT: &str = include_str!("../../web/app.js");
const STYLE: &str = include_str!("../../web/style.css");

/// `text` as a response of type `content_type`.
fn asset(content_type: &'static str, text: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        text,
    )
}

/// The dashboard's routes: the page at `/` and its files under `/web/`.
pub fn routes() -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/index.html",
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/web/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/web/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_its_own_files_only() {
        assert!(INDEX.contains(r#"src="/web/app.js""#));
        assert!(INDEX.contains(r#"href="/web/style.css""#));
        for file in [INDEX, SCRIPT, STYLE] {
            assert!(
                !file.contains("http://") && !file.contains("https://"),
                "no CDN"
            );
        }
    }
}
