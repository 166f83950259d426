//! `/metrics` for Prometheus: on the main address only behind a bearer
//! token (`--metrics-token`), or alone on its own address
//! (`--metrics-bind`), never open on the public address. A refused scrape
//! gets 401 and the error body, nothing of the figures.

use crate::app::App;
use crate::error::ApiError;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use cadre_protocol::ErrorCode;

/// OpenMetrics text, which Prometheus asks for and reads.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `/metrics` on the main address, for a server started with
/// `--metrics-token`: the token is required.
pub(super) async fn with_token(State(app): State<App>, headers: HeaderMap) -> Response {
    let Some(expected) = app.metrics_token() else {
        // Not reached: the route exists only with a token. Kept closed.
        return refused().into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .trim();
    // Constant time, like the organiser token: the answer's timing says
    // nothing of how much of a guess was right.
    if !crate::directory::keys::secrets_match(given, expected) {
        return refused().into_response();
    }
    scrape(&app)
}

fn refused() -> ApiError {
    ApiError::new(
        ErrorCode::Unauthorized,
        "the metrics need the bearer token set with --metrics-token",
    )
}

fn scrape(app: &App) -> Response {
    let mut response = app.render_metrics().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    // A figure is true when scraped; and no cache may keep what a token
    // opened.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The router of the `--metrics-bind` listener: `/metrics` alone (with
/// the token too when one is set), nothing of the application.
pub fn router(app: App) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(app): State<App>, headers: HeaderMap| async move {
                if app.metrics_token().is_some() {
                    with_token(State(app), headers).await
                } else {
                    scrape(&app)
                }
            }),
        )
        .with_state(app)
}
