//! HTTP surface: the REST API under `/api/`, the session WebSocket, the
//! published keys, and the embedded web client.
//!
//! Tokens are checked before any upgrade, so a refused WebSocket gets an HTTP
//! status and a JSON body it can show; nothing about a refused attempt
//! reaches the session.

mod access;
// Identity, actions, certificat de réalisation.
mod actions;
mod assets;
mod difficulties;
mod documents;
// Adding people, beneficiaries and duplicate sessions.
mod enrolment;
// The equipment check before a session.
mod equipment;
// Download file names.
mod filename;
// Appreciation questionnaires.
mod questionnaires;
// Invitations by e-mail and the queue of outgoing mail.
mod mail;
// The staff console: login, staff accounts, the audit log.
mod staff;
// Staff's live view of a session.
mod live;
mod websocket;
// Operations: /healthz and /readyz, /metrics, request ids.
pub mod health;
pub mod metrics;
mod request_id;
pub use request_id::RequestId;

use access::TokenQuery;
pub use access::{Administrator, Organiser, Staff, StaffOrOrganiser};
use documents::{
    calendar, consistency, ledger_export, proof_json, proof_jws, proof_pdf, recording_file,
    recordings, sheet_csv, sheet_json, sheet_pdf,
};
use websocket::websocket;

use crate::app::App;
use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cadre_protocol::ErrorCode;
use cadre_protocol::api::{
    Lobby, NewSession, NewSponsorLink, Revoked, SessionSummary, SessionView, SponsorLink,
    SponsorView,
};
use tower_http::set_header::SetResponseHeaderLayer;

/// Largest REST request body.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// The whole router.
pub fn router(app: App) -> Router {
    // `/metrics` is on the public address only behind its token.
    let metrics = if app.metrics_token().is_some() {
        Router::new().route("/metrics", get(metrics::with_token))
    } else {
        Router::new()
    };
    Router::new()
        .route("/", get(client_page))
        .route("/j/{token}", get(client_page))
        .route("/r/{token}", get(client_page))
        .route("/q/{token}", get(client_page))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(metrics)
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
        .route("/e/{token}", get(client_page))
        .route("/api/equipment", get(equipment::check))
        .route(crate::app::equipment::OFFER_PATH, post(equipment::offer))
        .route("/api/report", get(sponsor_report))
        .route("/api/sessions/{sid}/sponsor-link", post(sponsor_link))
        .route("/ws/{sid}", get(websocket))
        .merge(difficulties::routes())
        .merge(actions::routes())
        .merge(questionnaires::routes())
        .merge(mail::routes())
        .merge(staff::routes())
        .merge(live::routes())
        .merge(enrolment::routes())
        .fallback(fallback)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        // Join links carry their token in the path: never leak it in Referer.
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        // Outermost: every answer, refusals included, carries its id and
        // its caching and transport rules. One middleware for the three:
        // each layer of `from_fn` boxes the request's future and clones the
        // service behind it, on every request (a join among them).
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            every_answer,
        ))
        .with_state(app)
}

/// Whether answers under `path` are personal or credentialed: everything
/// under `/api/` (proofs, sheets, the lobby, reports, recordings, the ledger,
/// consistency proofs, session details with every join link, …) and the
/// pages whose URL is a link (`/j/`, `/r/`, `/q/`, `/e/`), and the operator's
/// `/metrics` and `/readyz`. Only the client's files, the published keys
/// and `/healthz` may be cached.
fn personal(path: &str) -> bool {
    // `/metrics` is behind a token; `/readyz` is only true now.
    [
        "/api/", "/j/", "/r/", "/q/", "/e/", "/ws/", "/metrics", "/readyz",
    ]
    .iter()
    .any(|prefix| path.starts_with(prefix))
}

/// What every answer gets: its request id (and the span its handling is
/// logged in); `Cache-Control: no-store` when it is [`personal`], errors
/// included, so that no browser or shared cache keeps a proof, a link or a
/// report; and `Strict-Transport-Security` when it went over HTTPS, served
/// by this process with `--tls-cert` or by a trusted proxy that says so
/// (`X-Forwarded-Proto: https`). Over plain HTTP browsers ignore HSTS.
async fn every_answer(
    State(app): State<App>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let personal = personal(request.uri().path());
    let secure = app.serves_tls()
        || request
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .is_some_and(|peer| app.client_address(peer.0, request.headers()).https);
    let mut response = request_id::tag(request, next).await;
    let headers = response.headers_mut();
    if personal {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if secure {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    response
}

/// How long browsers remember to use HTTPS only: a year, as usual, so a
/// person whose first visit was secure never falls back to plain HTTP on
/// a hostile network. No `includeSubDomains`: other names of the
/// organisation's domain are none of cadre's business.
const HSTS: &str = "max-age=31536000";

async fn create_session(
    _: StaffOrOrganiser,
    State(app): State<App>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<SessionView>), ApiError> {
    let new: NewSession = json_body(body, "session")?;
    let view = app.create_session(new).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

async fn list_sessions(
    _: StaffOrOrganiser,
    State(app): State<App>,
) -> Result<Json<Vec<SessionSummary>>, ApiError> {
    Ok(Json(app.list_sessions().await?))
}

async fn session_detail(
    _: StaffOrOrganiser,
    State(app): State<App>,
    Path(sid): Path<String>,
) -> Result<Json<SessionView>, ApiError> {
    Ok(Json(app.session_view(&sid).await?))
}

async fn revoke(
    _: StaffOrOrganiser,
    State(app): State<App>,
    Path((sid, pid)): Path<(String, String)>,
) -> Result<Json<Revoked>, ApiError> {
    Ok(Json(app.revoke(&sid, &pid).await?))
}

async fn readmit(
    _: StaffOrOrganiser,
    State(app): State<App>,
    Path((sid, pid)): Path<(String, String)>,
) -> Result<Json<Revoked>, ApiError> {
    Ok(Json(app.readmit(&sid, &pid).await?))
}

async fn sponsor_link(
    _: StaffOrOrganiser,
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

async fn lobby(
    State(app): State<App>,
    Query(q): Query<TokenQuery>,
) -> Result<Json<Lobby>, ApiError> {
    let who = match app.admit(&q.token).await {
        Ok(who) => who,
        // A removed person's page shows who removed them and why, and
        // Their documents, even after a reload.
        Err(e) if e.code == cadre_protocol::ErrorCode::TokenRevoked => {
            let Some(removed) = app.removal(&q.token).await? else {
                return Err(e);
            };
            let action_changes = app.action_changes_of(&removed.you.id).await?;
            let notice = app.evidence_notice(removed.session.media);
            return Ok(Json(Lobby {
                consent_texts: Vec::new(),
                consents: Default::default(),
                ws_path: format!("/ws/{}", removed.session.id),
                you: removed.you,
                session: removed.session,
                server_time: chrono::Utc::now().timestamp_millis(),
                removal: Some(removed.notice),
                action_changes,
                notice: Some(notice),
                full: None,
            }));
        }
        Err(e) => return Err(e),
    };
    let action_changes = app.action_changes_of(&who.id).await?;
    let notice = app.evidence_notice(who.session.media);
    let registry = app.registry();
    let full = (!registry.has_room(&who.session.id, &who.id, who.session.media))
        .then(|| registry.settings().forwarded_members as u32);
    Ok(Json(Lobby {
        removal: None,
        action_changes,
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
        notice: Some(notice),
        full,
    }))
}

async fn jwks(State(app): State<App>) -> impl IntoResponse {
    Json(app.jwks())
}

async fn client_page(State(app): State<App>) -> Response {
    assets::page(app.default_lang())
}

async fn fallback(uri: Uri) -> Response {
    if let Some(name) = uri.path().rsplit('/').next()
        && let Some(resp) = assets::file(name)
    {
        return resp;
    }
    ApiError::new(ErrorCode::NotFound, format!("nothing at {}", uri.path())).into_response()
}

/// A JSON request body, refused with `invalid_input` (and the status the
/// body's rejection carries, 413 for one too large) when it is not `T`.
fn json_body<T: serde::de::DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
    what: &str,
) -> Result<T, ApiError> {
    let body = body.map_err(|e| {
        ApiError::new(ErrorCode::InvalidInput, format!("request body: {e}")).with_status(e.status())
    })?;
    serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(ErrorCode::InvalidInput, format!("invalid {what}: {e}"))
            .with_status(StatusCode::BAD_REQUEST)
    })
}
