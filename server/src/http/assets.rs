//! The embedded web client. Files are found by name only (a fixed table
//! generated at build time), so no request path can reach the disk.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

include!(concat!(env!("OUT_DIR"), "/client_files.rs"));

/// Allows only what the client needs: its own scripts and styles, media
/// from the camera, and the WebSocket back to this server.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:; media-src 'self' blob: mediastream:; \
    connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// A client file by name.
pub fn file(name: &str) -> Option<Response> {
    let (_, mime, bytes) = FILES.iter().find(|(n, _, _)| *n == name)?;
    Some(
        (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(mime)),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            *bytes,
        )
            .into_response(),
    )
}

/// The client's page, for `/` and every join link.
pub fn page() -> Response {
    match file("index.html") {
        Some(mut resp) => {
            let headers = resp.headers_mut();
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            );
            headers.insert(
                "permissions-policy",
                HeaderValue::from_static("camera=(self), microphone=(self), geolocation=()"),
            );
            resp
        }
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "this build of cadre has no web client",
        )
            .into_response(),
    }
}
