//! HTTP surface: the REST API under `/api/`, the session WebSocket, the
//! published keys, and the embedded web client.
//!
//! Tokens are checked before any upgrade, so a refused WebSocket gets an HTTP
//! status and a JSON body it can show; nothing about a refused attempt
//! reaches the session.

use crate::admission::Refusal;
use crate::app::{App, Origin};
use crate::assets;
use crate::connection::{self, Admitted, MAX_FRAME_BYTES};
use crate::error::ApiError;
use crate::ledger::LedgerError;
use crate::render::Lang;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cadre_protocol::api::{
    Lobby, NewSession, NewSponsorLink, Revoked, SessionSummary, SessionView, SponsorLink,
    SponsorView,
};
use cadre_protocol::proof::Consistency;
use cadre_protocol::{ErrorCode, Role, SessionState};
use serde::Deserialize;
use std::net::SocketAddr;
use tower_http::set_header::SetResponseHeaderLayer;

/// Largest REST request body.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Reading buffer per WebSocket: small, because a signalling connection is
/// idle most of the time and tungstenite's default (128 KiB, zero-filled)
/// would dominate memory per connection.
const WS_READ_BUFFER: usize = 4 * 1024;

/// The whole router.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/", get(client_page))
        .route("/j/{token}", get(client_page))
        .route("/r/{token}", get(client_page))
        .route("/healthz", get(|| async { "ok" }))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/api/sessions", post(create_session).get(list_sessions))
        .route("/api/sessions/{sid}", get(session_detail))
        .route("/api/sessions/{sid}/people/{pid}/revoke", post(revoke))
        .route("/api/sessions/{sid}/ledger", get(ledger_export))
        .route("/api/sessions/{sid}/ledger/consistency", get(consistency))
        .route("/api/sessions/{sid}/attendance.csv", get(sheet_csv))
        .route("/api/sessions/{sid}/attendance.json", get(sheet_json))
        .route("/api/sessions/{sid}/proofs/{pid}", get(proof_jws))
        .route("/api/sessions/{sid}/proofs/{pid}/json", get(proof_json))
        .route("/api/sessions/{sid}/proofs/{pid}/pdf", get(proof_pdf))
        .route("/api/sessions/{sid}/attendance.pdf", get(sheet_pdf))
        .route("/api/sessions/{sid}/recordings", get(recordings))
        .route("/api/sessions/{sid}/calendar.ics", get(calendar))
        .route("/api/sessions/{sid}/people/{pid}/readmit", post(readmit))
        .route(
            "/api/sessions/{sid}/recordings/{segment}/{file}",
            get(recording_file),
        )
        .route("/api/join", get(lobby))
        .route("/api/report", get(sponsor_report))
        .route("/api/sessions/{sid}/sponsor-link", post(sponsor_link))
        .route("/ws/{sid}", get(websocket))
        .merge(crate::reports::routes())
        .fallback(fallback)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(no_store))
        // Join links carry their token in the path: never leak it in Referer.
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .with_state(app)
}

/// Whether answers under `path` are personal or credentialed: everything
/// under `/api/` (proofs, sheets, the lobby, reports, recordings, the ledger,
/// consistency proofs, session details with every join link, …) and the
/// pages whose URL is a link (`/j/`, `/r/`). Only the client's files, the
/// published keys and `/healthz` may be cached.
fn personal(path: &str) -> bool {
    ["/api/", "/j/", "/r/", "/ws/"]
        .iter()
        .any(|prefix| path.starts_with(prefix))
}

/// `Cache-Control: no-store` on every personal answer, errors included, so
/// that no browser or shared cache keeps a proof, a link or a report.
async fn no_store(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let personal = personal(request.uri().path());
    let mut response = next.run(request).await;
    if personal {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The organiser, proven by the bearer token.
pub struct Organiser;

impl FromRequestParts<App> for Organiser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        if !parts.headers.contains_key(header::AUTHORIZATION) {
            return Err(ApiError::new(
                ErrorCode::Unauthorized,
                "this needs the organiser token: Authorization: Bearer <token>",
            ));
        }
        check_organiser(&parts.headers, app)
    }
}

/// Checks the `Authorization: Bearer` header against the organiser token.
fn check_organiser(headers: &HeaderMap, app: &App) -> Result<Organiser, ApiError> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if crate::keys::secrets_match(given.trim(), app.organiser_token()) {
        Ok(Organiser)
    } else {
        Err(ApiError::new(
            ErrorCode::Unauthorized,
            "the organiser token is wrong",
        ))
    }
}

async fn create_session(
    _: Organiser,
    State(app): State<App>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<SessionView>), ApiError> {
    let body = body.map_err(|e| {
        ApiError::new(ErrorCode::InvalidInput, format!("request body: {e}")).with_status(e.status())
    })?;
    let new: NewSession = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(ErrorCode::InvalidInput, format!("invalid session: {e}"))
            .with_status(StatusCode::BAD_REQUEST)
    })?;
    let view = app.create_session(new).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

async fn list_sessions(
    _: Organiser,
    State(app): State<App>,
) -> Result<Json<Vec<SessionSummary>>, ApiError> {
    Ok(Json(app.list_sessions().await?))
}

async fn session_detail(
    _: Organiser,
    State(app): State<App>,
    Path(sid): Path<String>,
) -> Result<Json<SessionView>, ApiError> {
    Ok(Json(app.session_view(&sid).await?))
}

async fn revoke(
    _: Organiser,
    State(app): State<App>,
    Path((sid, pid)): Path<(String, String)>,
) -> Result<Json<Revoked>, ApiError> {
    Ok(Json(app.revoke(&sid, &pid).await?))
}

/// Who is asking for a document: the organiser (bearer token) or a person
/// of a session (their join token in `?token=`).
enum Access {
    Organiser,
    Member(Box<Admitted>),
}

impl Access {
    async fn of(app: &App, headers: &HeaderMap, token: &str) -> Result<Access, ApiError> {
        if headers.contains_key(header::AUTHORIZATION) {
            return check_organiser(headers, app).map(|Organiser| Access::Organiser);
        }
        Ok(Access::Member(Box::new(app.admit(token).await?)))
    }

    /// The organiser, or a facilitator of this session.
    fn whole_session(&self, sid: &str) -> Result<(), ApiError> {
        match self {
            Access::Organiser => Ok(()),
            Access::Member(m) if m.session.id == sid && m.role == Role::Facilitator => Ok(()),
            Access::Member(m) if m.session.id != sid => Err(wrong_session()),
            Access::Member(_) => Err(ApiError::new(
                ErrorCode::Forbidden,
                "only the facilitator and the organiser get the whole session's documents",
            )),
        }
    }

    /// The organiser, or anyone of this session.
    fn member(&self, sid: &str) -> Result<(), ApiError> {
        match self {
            Access::Member(m) if m.session.id != sid => Err(wrong_session()),
            _ => Ok(()),
        }
    }

    /// The organiser, or a facilitator of this session: recordings are
    /// never handed to participants.
    fn recordings(&self, sid: &str) -> Result<(), ApiError> {
        match self {
            Access::Member(m) if m.session.id == sid && m.role == Role::Participant => {
                Err(ApiError::new(
                    ErrorCode::Forbidden,
                    "only the facilitator and the organiser get the recordings",
                ))
            }
            other => other.whole_session(sid),
        }
    }

    /// The organiser, a facilitator of this session, or the person.
    fn person(&self, sid: &str, pid: &str) -> Result<(), ApiError> {
        match self {
            Access::Member(m) if m.session.id == sid && m.id == pid => Ok(()),
            Access::Member(m) if m.session.id == sid && m.role == Role::Participant => {
                Err(ApiError::new(
                    ErrorCode::Forbidden,
                    "a participant gets their own proof only",
                ))
            }
            other => other.whole_session(sid),
        }
    }
}

async fn readmit(
    _: Organiser,
    State(app): State<App>,
    Path((sid, pid)): Path<(String, String)>,
) -> Result<Json<Revoked>, ApiError> {
    Ok(Json(app.readmit(&sid, &pid).await?))
}

/// The session as an `.ics` event (after a postponement, the new date), for
/// a person of the session with their link.
async fn calendar(
    State(app): State<App>,
    Path(sid): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Result<Response, ApiError> {
    let who = app.admit(&q.token).await?;
    if who.session.id != sid {
        return Err(wrong_session());
    }
    let text = app.calendar(&sid, &q.token).await?;
    Ok(attachment(
        "text/calendar; charset=utf-8",
        &format!("seance-{sid}.ics"),
        text,
    ))
}

async fn recordings(
    State(app): State<App>,
    Path(sid): Path<String>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Json<cadre_protocol::api::Recordings>, ApiError> {
    Access::of(&app, &headers, &q.token)
        .await?
        .recordings(&sid)?;
    Ok(Json(app.recordings(&sid, &q.token).await?))
}

async fn recording_file(
    State(app): State<App>,
    Path((sid, segment, file)): Path<(String, u64, String)>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    Access::of(&app, &headers, &q.token)
        .await?
        .recordings(&sid)?;
    let (path, content_type, _) = app.recording_file(&sid, segment, &file).await?;
    let handle = tokio::fs::File::open(&path).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ApiError::new(
                ErrorCode::NotFound,
                "this recording file is missing on disk",
            )
        } else {
            ApiError::new(
                ErrorCode::Internal,
                format!("cannot read the recording: {e}"),
            )
        }
    })?;
    // The length on disk, not the one recorded: a file altered since would
    // otherwise break the response instead of failing its hash check.
    let bytes = handle
        .metadata()
        .await
        .map_err(|e| {
            ApiError::new(
                ErrorCode::Internal,
                format!("cannot read the recording: {e}"),
            )
        })?
        .len();
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(handle));
    let mut response = attachment(content_type, &file, body);
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, header::HeaderValue::from(bytes));
    Ok(response)
}

#[derive(Deserialize)]
struct ConsistencyQuery {
    #[serde(default)]
    token: String,
    from: Option<String>,
    to: Option<String>,
}

/// The consistency proof between the log's first `from` and first `to`
/// entries, for anyone of the session (their link) or the organiser. It
/// holds subtree hashes only, nothing of anyone's entries, so a participant
/// can link a receipt they kept to their proof's tree head.
async fn consistency(
    State(app): State<App>,
    Path(sid): Path<String>,
    Query(q): Query<ConsistencyQuery>,
    headers: HeaderMap,
) -> Result<Json<Consistency>, ApiError> {
    Access::of(&app, &headers, &q.token).await?.member(&sid)?;
    let size = |name: &str, value: &Option<String>| -> Result<u64, ApiError> {
        let value = value.as_deref().ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidInput,
                format!("`{name}` is missing: the size of a tree head (its tree_size)"),
            )
        })?;
        value.parse().map_err(|_| {
            ApiError::new(
                ErrorCode::InvalidInput,
                format!("`{name}` must be a number of entries, not {value:?}"),
            )
        })
    };
    let (from, to) = (size("from", &q.from)?, size("to", &q.to)?);
    let s = sid.clone();
    app.catalog().run(move |c| c.session(&s)).await?;
    let path = app
        .ledger()
        .consistency_proof(&sid, from, to)
        .await
        .map_err(|e| match e {
            LedgerError::Range(m) | LedgerError::Invalid(m) => {
                ApiError::new(ErrorCode::InvalidInput, m)
            }
            other => ApiError::internal("reading the ledger", other),
        })?;
    Ok(Json(Consistency::new(&sid, from, to, &path)))
}

fn wrong_session() -> ApiError {
    ApiError::new(ErrorCode::WrongSession, "this link is for another session")
}

fn attachment(content_type: &str, filename: &str, body: impl IntoResponse) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response()
}

async fn sheet_csv(
    State(app): State<App>,
    Path(sid): Path<String>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    Access::of(&app, &headers, &q.token)
        .await?
        .whole_session(&sid)?;
    let sheet = app.attendance_sheet(&sid).await?;
    Ok(attachment(
        "text/csv; charset=utf-8",
        &format!("emargement-{sid}.csv"),
        sheet.to_csv(),
    ))
}

async fn sheet_json(
    State(app): State<App>,
    Path(sid): Path<String>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    Access::of(&app, &headers, &q.token)
        .await?
        .whole_session(&sid)?;
    Ok(Json(app.attendance_sheet(&sid).await?).into_response())
}

async fn proof_jws(
    State(app): State<App>,
    Path((sid, pid)): Path<(String, String)>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    Access::of(&app, &headers, &q.token)
        .await?
        .person(&sid, &pid)?;
    let issued = app.issue_proof(&sid, &pid).await?;
    Ok(attachment(
        "application/jose; charset=utf-8",
        &format!("attestation-{pid}.jws"),
        issued.jws,
    ))
}

async fn proof_json(
    State(app): State<App>,
    Path((sid, pid)): Path<(String, String)>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    Access::of(&app, &headers, &q.token)
        .await?
        .person(&sid, &pid)?;
    let issued = app.issue_proof(&sid, &pid).await?;
    Ok(Json(serde_json::json!({
        "jws": issued.jws,
        "sha256": issued.sha256(),
        "proof": issued.proof,
    }))
    .into_response())
}

/// The session's whole ledger for an auditor: entries as JSON lines, then
/// the signed tree heads.
async fn ledger_export(
    _: Organiser,
    State(app): State<App>,
    Path(sid): Path<String>,
) -> Result<Response, ApiError> {
    let s = sid.clone();
    app.catalog().run(move |c| c.session(&s)).await?;
    let text =
        app.ledger().export(&sid).await.map_err(|e| {
            ApiError::new(ErrorCode::Internal, format!("ledger export failed: {e}"))
        })?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/jsonl; charset=utf-8".to_owned(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"ledger-{sid}.jsonl\""),
            ),
        ],
        text,
    )
        .into_response())
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
    /// Language of rendered documents (`fr` when absent or unknown).
    #[serde(default)]
    lang: String,
}

impl TokenQuery {
    fn lang(&self) -> Lang {
        Lang::parse(&self.lang).unwrap_or_default()
    }
}

async fn sponsor_link(
    _: Organiser,
    State(app): State<App>,
    Path(sid): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<SponsorLink>), ApiError> {
    let body = body.map_err(|e| {
        ApiError::new(ErrorCode::InvalidInput, format!("request body: {e}")).with_status(e.status())
    })?;
    let req: NewSponsorLink = if body.iter().all(u8::is_ascii_whitespace) {
        NewSponsorLink::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(ErrorCode::InvalidInput, format!("invalid request: {e}"))
                .with_status(StatusCode::BAD_REQUEST)
        })?
    };
    let link = app.sponsor_link(&sid, req.valid_days).await?;
    Ok((StatusCode::CREATED, Json(link)))
}

async fn sponsor_report(
    State(app): State<App>,
    Query(q): Query<TokenQuery>,
) -> Result<Json<SponsorView>, ApiError> {
    Ok(Json(app.sponsor_report(&q.token).await?))
}

async fn proof_pdf(
    State(app): State<App>,
    Path((sid, pid)): Path<(String, String)>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    Access::of(&app, &headers, &q.token)
        .await?
        .person(&sid, &pid)?;
    let (issued, pdf) = app.certificate_pdf(&sid, &pid, q.lang()).await?;
    let mut resp = attachment("application/pdf", &format!("attestation-{pid}.pdf"), pdf);
    if let Ok(v) = HeaderValue::from_str(&issued.sha256()) {
        resp.headers_mut().insert("x-proof-sha256", v);
    }
    Ok(resp)
}

async fn sheet_pdf(
    State(app): State<App>,
    Path(sid): Path<String>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    Access::of(&app, &headers, &q.token)
        .await?
        .whole_session(&sid)?;
    let pdf = app.sheet_pdf(&sid, q.lang()).await?;
    Ok(attachment(
        "application/pdf",
        &format!("emargement-{sid}.pdf"),
        pdf,
    ))
}

async fn lobby(
    State(app): State<App>,
    Query(q): Query<TokenQuery>,
) -> Result<Json<Lobby>, ApiError> {
    let who = app.admit(&q.token).await?;
    Ok(Json(Lobby {
        consent_texts: cadre_protocol::consent::texts(who.sponsor.as_deref()),
        consents: who.consents,
        ws_path: format!("/ws/{}", who.session.id),
        you: cadre_protocol::signalling::Me {
            id: who.id,
            name: who.name,
            role: who.role,
        },
        session: who.session,
        server_time: chrono::Utc::now().timestamp_millis(),
    }))
}

/// How long a client refused for the server's capacity, or for holding too
/// many connections from its address, is told to wait.
const CAPACITY_RETRY: std::time::Duration = std::time::Duration::from_secs(5);

async fn websocket(
    State(app): State<App>,
    Path(sid): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    query: Result<Query<TokenQuery>, axum::extract::rejection::QueryRejection>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    // Every attempt counts against its address, whatever it carries, so a
    // flood of bad tokens is bounded too. The socket's peer decides:
    // `X-Forwarded-For` is a claim anyone can send.
    let limits = app.address_limits();
    if let Err(Refusal::TooFast(wait)) = limits.attempt(peer.ip()) {
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
        ip: peer.ip().to_string(),
        forwarded_for: header(header::HeaderName::from_static("x-forwarded-for")),
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
    let mut who = who;
    if who.session.state == SessionState::Postponed && app.reopens_now(&sid).await? {
        who.session.state = SessionState::Open;
    }
    let address_permit = limits.hold(peer.ip()).map_err(|_| {
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
    let registry = app.registry();
    let app_for_socket = app.clone();
    let ledger = app.ledger().clone();
    let limits = app.limits().clone();
    let shutdown = app.shutdown().clone();
    let tracked = app.tracker().token();
    Ok(ws
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .read_buffer_size(WS_READ_BUFFER)
        .write_buffer_size(0)
        .on_upgrade(move |socket| async move {
            let _permit = permit;
            let _address_permit = address_permit;
            let _tracked = tracked;
            connection::run(
                socket,
                who,
                app_for_socket,
                registry,
                ledger,
                limits,
                shutdown,
            )
            .await;
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

async fn jwks(State(app): State<App>) -> impl IntoResponse {
    Json(app.jwks())
}

async fn client_page() -> Response {
    assets::page()
}

async fn fallback(uri: Uri) -> Response {
    if let Some(name) = uri.path().rsplit('/').next()
        && let Some(resp) = assets::file(name)
    {
        return resp;
    }
    ApiError::new(ErrorCode::NotFound, format!("nothing at {}", uri.path())).into_response()
}
