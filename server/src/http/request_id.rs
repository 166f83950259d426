//! Request ids: every HTTP request (a WebSocket join included) gets one,
//! in the `request_id` field of a span around everything logged while it
//! is handled, and in the `x-request-id` header of its answer, so that an
//! operator can go from a person's complaint ("it said: error, request
//! r_…") to the log lines. A WebSocket connection carries its join's id in
//! its own span for its whole life.
//!
//! The id is always made here: one a client (or a proxy) sends is not
//! trusted, since anyone could send a line-breaking or misleading one.

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The header the id is returned in.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// A request's id, in the request's extensions for handlers that hand it
/// on (the WebSocket upgrade gives it to the connection).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Tags the request with a new id, runs it inside a span holding it, and
/// returns the id in `x-request-id`.
pub(super) async fn tag(mut request: Request, next: Next) -> Response {
    let id = format!("r_{}", crate::directory::keys::name_id(9));
    request.headers_mut().remove(HEADER);
    // The route's pattern, never the path: join links carry their token
    // in it (`/j/{token}`), and queries carry tokens too.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("-", |p| p.as_str())
        .to_owned();
    let method = request.method().clone();
    let span = tracing::info_span!("request", request_id = %id, %method, %route);
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        span.in_scope(|| {
            tracing::info!(status = status.as_u16(), "request answered with an error")
        });
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}
