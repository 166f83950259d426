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

/// The client's page, for `/` and every join link, carrying the
/// organisation's default language (`<html lang>`, which `i18n.js` reads
/// when the person chose none).
pub fn page(default_lang: cadre_protocol::api::UiLang) -> Response {
    let Some((_, _, bytes)) = FILES.iter().find(|(n, _, _)| *n == "index.html") else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "this build of cadre has no web client",
        )
            .into_response();
    };
    let html = String::from_utf8_lossy(bytes).replacen(
        "<html lang=\"fr\">",
        &format!("<html lang=\"{}\">", default_lang.tag()),
        1,
    );
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (
                header::HeaderName::from_static("permissions-policy"),
                HeaderValue::from_static("camera=(self), microphone=(self), geolocation=()"),
            ),
        ],
        html,
    )
        .into_response()
}
