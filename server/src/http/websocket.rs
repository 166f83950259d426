//! The WebSocket upgrade: the token, the origin, the server's capacity and
//! the per-address limits are all checked before it, so a refused attempt
//! gets an HTTP status and a JSON body, and nothing of it reaches a
//! session.

use super::RequestId;
use super::access::TokenQuery;
use crate::app::address_limits::Refusal;
use crate::app::{Admitted, App, Origin};
use crate::error::ApiError;
use crate::socket::{self, MAX_FRAME_BYTES};
use axum::Extension;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, Uri, header};
use axum::response::Response;
use cadre_protocol::{ErrorCode, SessionState};
use std::net::SocketAddr;

/// Reading buffer per WebSocket: small, because a signalling connection is
/// idle most of the time and tungstenite's default (128 KiB, zero-filled)
/// would dominate memory per connection. 1 KiB holds a candidate, a
/// heartbeat or a stats report in one read; a bigger frame (an offer) grows
/// it as needed and takes a read per kilobyte.
const WS_READ_BUFFER: usize = 1024;

/// Frames queued together (a join's welcome, its quality view and its
/// receipt; a facilitator's arrival, quality and recording notices) are
/// written with one system call once they pass this size or the batch
/// ends. Small, so that the write buffer, which keeps its largest size for
/// the connection's life, stays at the size of the welcome (the largest
/// frame most connections ever get).
const WS_WRITE_COALESCE: usize = 512;

/// How long a client refused for the server's capacity, or for holding too
/// many connections from its address, is told to wait.
const CAPACITY_RETRY: std::time::Duration = std::time::Duration::from_secs(5);

/// The upgrade, counted: an accepted join in `cadre_admissions`, a refused
/// one in `cadre_refusals` under its error code.
pub(super) async fn websocket(
    State(app): State<App>,
    Path(sid): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request_id: Option<Extension<RequestId>>,
    headers: HeaderMap,
    query: Result<Query<TokenQuery>, axum::extract::rejection::QueryRejection>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let metrics = std::sync::Arc::clone(app.metrics());
    let request_id = request_id.map(|Extension(id)| id.0).unwrap_or_default();
    let upgraded = upgrade(app, sid, peer, request_id, headers, query, ws).await;
    match &upgraded {
        Ok(_) => metrics.admitted(),
        Err(e) => metrics.refused(e.code),
    }
    upgraded
}

async fn upgrade(
    app: App,
    sid: String,
    peer: SocketAddr,
    request_id: String,
    headers: HeaderMap,
    query: Result<Query<TokenQuery>, axum::extract::rejection::QueryRejection>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    // Every attempt counts against its address, whatever it carries, so a
    // flood of bad tokens is bounded too. The socket's peer decides, unless
    // it is a trusted proxy naming its client: from anyone else,
    // `X-Forwarded-For` is a claim anyone can send.
    let client = app.client_address(peer, &headers);
    let limits = app.address_limits();
    if let Err(Refusal::TooFast(wait)) = limits.attempt(client.ip) {
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            format!(
                "too many connection attempts from your address; try again in {} s",
                wait.as_secs() + 1
            ),
        )
        .with_retry_after(wait));
    }
    // A page of another site must not open a call with a link it got hold
    // of, nor learn from the answer whether a token is good.
    check_origin(&app, &headers)?;
    // The token is judged next, so that any caller learns why it is refused.
    let token = query.map(|Query(q)| q.token).unwrap_or_default();
    let header = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let origin = Origin {
        ip: client.ip.to_string(),
        forwarded_for: client.forwarded_for.clone(),
        via: client.via.map(|ip| ip.to_string()),
        user_agent: header(header::USER_AGENT).unwrap_or_default(),
    };
    let who: Admitted = app.admit_from(&token, origin).await?;
    let ws = ws.map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidInput,
            format!("this endpoint takes a WebSocket upgrade: {e}"),
        )
        .with_status(e.status())
    })?;
    if who.session.id != sid {
        return Err(ApiError::new(
            ErrorCode::WrongSession,
            "this link is for another session",
        ));
    }
    if who.session.state == SessionState::Ended {
        return Err(ApiError::new(
            ErrorCode::SessionEnded,
            "this session is over",
        ));
    }
    let registry = app.registry();
    if !registry.has_room(&sid, &who.id, who.session.media) {
        return Err(ApiError::new(
            ErrorCode::AtCapacity,
            format!(
                "this session is full: {} people are connected, the most a session that passes \
                 through the server takes; try again when someone has left",
                registry.settings().forwarded_members
            ),
        )
        .with_retry_after(CAPACITY_RETRY));
    }
    let address_permit = limits.hold(client.ip).map_err(|_| {
        ApiError::new(
            ErrorCode::RateLimited,
            format!(
                "too many connections are open from your address (at most {} at once); \
                 close one or try again later",
                app.per_address_connections()
            ),
        )
        .with_retry_after(CAPACITY_RETRY)
    })?;
    let permit = app.connection_permit().ok_or_else(|| {
        ApiError::new(
            ErrorCode::AtCapacity,
            "the server is at capacity: it holds as many connections as it may; \
             try again in a few seconds",
        )
        .with_retry_after(CAPACITY_RETRY)
    })?;
    let tracked = app.tracker().token();
    let open = app.metrics().connection_opened();
    // Boxed once here: the upgrade's closure and every future after it
    // carry a pointer, not the admission itself.
    let who = Box::new(who);
    Ok(ws
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .read_buffer_size(WS_READ_BUFFER)
        .write_buffer_size(WS_WRITE_COALESCE)
        .on_upgrade(move |socket| {
            let connection = socket::run(socket, who, app, request_id);
            async move {
                let _permit = permit;
                let _address_permit = address_permit;
                let _tracked = tracked;
                let _open = open;
                connection.await;
            }
        }))
}

/// Browsers send `Origin` with every WebSocket upgrade: it must be this
/// server's public origin, or, when the server is reached on loopback (a
/// demo, tests, development), any loopback origin. Without `Origin` the
/// client is not a browser (tools, tests): the token alone decides.
fn check_origin(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(given) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let given = given.to_str().unwrap_or("(unreadable)");
    let ours = WebOrigin::of(app.public_url());
    let theirs = WebOrigin::of(given);
    let allowed = match (&ours, &theirs) {
        (Some(ours), Some(theirs)) => ours == theirs || (ours.is_local() && theirs.is_loopback()),
        _ => false,
    };
    if allowed {
        return Ok(());
    }
    let expected = ours.map_or_else(|| app.public_url().to_owned(), |o| o.to_string());
    Err(ApiError::new(
        ErrorCode::Forbidden,
        format!(
            "this connection comes from a page of {given}, not of {expected}: \
             the call opens only from this server's own pages"
        ),
    ))
}

/// Whether `given` (an `Origin` header) is exactly this server's public
/// origin, compared as origins (case, default ports), with no loopback
/// leniency: the staff console's check (`access.rs`).
pub(super) fn is_public_origin(app: &App, given: &str) -> bool {
    match (WebOrigin::of(app.public_url()), WebOrigin::of(given)) {
        (Some(ours), Some(theirs)) => ours == theirs,
        _ => false,
    }
}

/// A web origin: scheme, host and port (the default one when absent).
#[derive(Debug, PartialEq, Eq)]
struct WebOrigin {
    scheme: String,
    host: String,
    port: u16,
}

impl WebOrigin {
    fn of(url: &str) -> Option<WebOrigin> {
        let uri: Uri = url.trim().parse().ok()?;
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let default = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        let host = uri
            .host()?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        Some(WebOrigin {
            port: uri.port_u16().unwrap_or(default),
            scheme,
            host,
        })
    }

    fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self.host.ends_with(".localhost")
            || self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// Reached on this machine only: loopback, or the unspecified address
    /// a server bound to `0.0.0.0` without `--public-url` puts in its links.
    fn is_local(&self) -> bool {
        self.is_loopback()
            || self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_unspecified())
    }
}

impl std::fmt::Display for WebOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = if self.scheme == "https" { 443 } else { 80 };
        if self.port == default {
            write!(f, "{}://{host}", self.scheme)
        } else {
            write!(f, "{}://{host}:{}", self.scheme, self.port)
        }
    }
}
