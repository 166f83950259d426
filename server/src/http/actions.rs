//! The routes of actions: the organisation's identity and its
//! signature image, actions with their beneficiaries and sessions, article
//! 2.1.7 changes, and the certificat de réalisation (PDF, or the signed
//! file with `?format=jws`).

use super::access::{Access, StaffOrOrganiser, wrong_session};
use super::filename::{named_attachment, readable};
use super::json_body;
use crate::app::App;
use crate::app::actions::IssuedCertificate;
use crate::app::import::{MAX_IMPORT_BYTES, read_beneficiaries, too_large};
use crate::directory::organisation::MAX_SIGNATURE_BYTES;
use crate::error::ApiError;
use crate::evidence::render::Lang;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use cadre_protocol::action::{
    ActionChange, ActionSummary, ActionView, NewAction, NewActionChange, NewActionSession,
    OrganisationUpdate, OrganisationView,
};
use cadre_protocol::api::SessionView;
use cadre_protocol::{ErrorCode, Role};
use serde::Deserialize;

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/api/organisation", get(organisation).put(set_organisation))
        .route(
            "/api/organisation/signature",
            put(set_signature)
                .delete(clear_signature)
                // Room for an image of up to 512 KiB, so that a bigger one
                // gets the sentence saying the limit rather than a bare 413.
                .layer(DefaultBodyLimit::max(2 * MAX_SIGNATURE_BYTES)),
        )
        .route("/api/actions", post(create_action).get(list_actions))
        .route(
            "/api/actions/import",
            post(import_preview)
                // Room above the limit, so that a bigger file gets the
                // sentence saying the limit rather than a bare 413.
                .layer(DefaultBodyLimit::max(2 * MAX_IMPORT_BYTES)),
        )
        .route("/api/actions/{aid}", get(action))
        .route("/api/actions/{aid}/sessions", post(add_session))
        .route(
            "/api/actions/{aid}/beneficiaries/{bid}/changes",
            post(record_change),
        )
        .route(
            "/api/actions/{aid}/beneficiaries/{bid}/certificate",
            get(action_certificate),
        )
        .route(
            "/api/sessions/{sid}/certificate/{pid}",
            get(session_certificate),
        )
        .route("/api/actions/{aid}/dossier.zip", get(dossier))
}

/// The dossier d'audit of an action (see `app::dossier`). A download
/// changes nothing, yet it hands every document of the action over at
/// once: it is written to the audit log, with who asked.
async fn dossier(
    who: StaffOrOrganiser,
    State(app): State<App>,
    Path(aid): Path<String>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let dossier = app.audit_dossier(&aid).await?;
    let address = Some(app.client_address(peer, &headers).ip.to_string());
    let target = Some(format!("/api/actions/{aid}/dossier.zip"));
    app.audit(who.audit_entry("GET /api/actions/{aid}/dossier.zip", target, address))
        .await;
    let ascii = format!("{}.zip", dossier.stem);
    let utf8 = format!(
        "Dossier d'audit - {} - {}.zip",
        readable(&dossier.title),
        dossier.date
    );
    Ok(named_attachment(
        "application/zip",
        &ascii,
        &utf8,
        dossier.zip,
    ))
}

async fn organisation(
    _: StaffOrOrganiser,
    State(app): State<App>,
) -> Result<Json<OrganisationView>, ApiError> {
    Ok(Json(app.organisation().await?))
}

/// What the organisation's identity and signature are called in a
/// coordinator's refusal.
const IDENTITY: &str = "the organisation's identity";

async fn set_organisation(
    who: StaffOrOrganiser,
    State(app): State<App>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<OrganisationView>, ApiError> {
    who.administrator(&app, IDENTITY).await?;
    let update: OrganisationUpdate = json_body(body, "organisation")?;
    Ok(Json(app.set_organisation(update).await?))
}

async fn set_signature(
    who: StaffOrOrganiser,
    State(app): State<App>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<OrganisationView>, ApiError> {
    who.administrator(&app, IDENTITY).await?;
    let too_big = || {
        ApiError::new(
            ErrorCode::InvalidInput,
            format!(
                "signature: the image is at most {} KiB",
                MAX_SIGNATURE_BYTES / 1024
            ),
        )
        .with_status(StatusCode::PAYLOAD_TOO_LARGE)
    };
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_big()
        } else {
            ApiError::new(ErrorCode::InvalidInput, format!("request body: {e}"))
                .with_status(e.status())
        }
    })?;
    if body.len() > MAX_SIGNATURE_BYTES {
        return Err(too_big());
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if content_type.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            "signature: send the image's bytes with Content-Type image/png or image/jpeg",
        ));
    }
    Ok(Json(app.set_signature(body.to_vec(), content_type).await?))
}

async fn clear_signature(
    who: StaffOrOrganiser,
    State(app): State<App>,
) -> Result<Json<OrganisationView>, ApiError> {
    who.administrator(&app, IDENTITY).await?;
    Ok(Json(app.clear_signature().await?))
}

async fn create_action(
    _: StaffOrOrganiser,
    State(app): State<App>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<ActionView>), ApiError> {
    let new: NewAction = json_body(body, "action")?;
    Ok((StatusCode::CREATED, Json(app.create_action(new).await?)))
}

/// Reads a CSV file of beneficiaries (the body is the file's bytes) and
/// answers what it holds; stores nothing. A refused file gets the usual
/// error body with what the console needs to word it.
async fn import_preview(
    _: StaffOrOrganiser,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let too_large = || (StatusCode::PAYLOAD_TOO_LARGE, Json(too_large())).into_response();
    let body = match body {
        Ok(body) if body.len() > MAX_IMPORT_BYTES => return Ok(too_large()),
        Ok(body) => body,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Ok(too_large()),
        Err(e) => {
            return Err(
                ApiError::new(ErrorCode::InvalidInput, format!("request body: {e}"))
                    .with_status(e.status()),
            );
        }
    };
    // Parsing a megabyte is quick; no reason to leave the request's task.
    Ok(match read_beneficiaries(&body) {
        Ok(preview) => Json(preview).into_response(),
        Err(refusal) => (StatusCode::UNPROCESSABLE_ENTITY, Json(refusal)).into_response(),
    })
}

async fn list_actions(
    _: StaffOrOrganiser,
    State(app): State<App>,
) -> Result<Json<Vec<ActionSummary>>, ApiError> {
    Ok(Json(app.list_actions().await?))
}

async fn action(
    _: StaffOrOrganiser,
    State(app): State<App>,
    Path(aid): Path<String>,
) -> Result<Json<ActionView>, ApiError> {
    Ok(Json(app.action_view(&aid).await?))
}

async fn add_session(
    _: StaffOrOrganiser,
    State(app): State<App>,
    Path(aid): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<SessionView>), ApiError> {
    let new: NewActionSession = json_body(body, "session")?;
    Ok((
        StatusCode::CREATED,
        Json(app.add_action_session(&aid, new).await?),
    ))
}

async fn record_change(
    _: StaffOrOrganiser,
    State(app): State<App>,
    Path((aid, bid)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<ActionChange>), ApiError> {
    let new: NewActionChange = json_body(body, "change")?;
    let change = app
        .record_action_change(&aid, &bid, new, cadre_protocol::evidence::ACTOR_ORGANISER)
        .await?;
    Ok((StatusCode::CREATED, Json(change)))
}

#[derive(Deserialize)]
struct CertificateQuery {
    /// `pdf` (default) or `jws`.
    #[serde(default)]
    format: String,
    #[serde(default)]
    lang: String,
}

async fn action_certificate(
    _: StaffOrOrganiser,
    State(app): State<App>,
    Path((aid, bid)): Path<(String, String)>,
    Query(q): Query<CertificateQuery>,
) -> Result<Response, ApiError> {
    let format = Format::parse(&q.format)?;
    let issued = app.action_certificate(&aid, &bid).await?;
    deliver(&app, issued, format, &q.lang).await
}

/// The organiser, or the person themselves with their own link: a
/// certificate goes to a funder, so not even a facilitator of the session
/// downloads someone else's.
async fn session_certificate(
    State(app): State<App>,
    Path((sid, pid)): Path<(String, String)>,
    Query(q): Query<CertificateQuery>,
    access: Access,
) -> Result<Response, ApiError> {
    match &access {
        Access::Organiser => {}
        Access::Member(m) if m.session.id != sid => return Err(wrong_session()),
        Access::Removed(s, _) if *s != sid => return Err(wrong_session()),
        // Attendance before a removal is the person's own.
        Access::Removed(_, p) if *p == pid => {}
        Access::Removed(..) => {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "a removed person gets their own documents only",
            ));
        }
        Access::Member(m) if m.id == pid => {}
        Access::Member(m) => {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                match m.role {
                    Role::Participant => "a participant gets their own certificate only",
                    Role::Facilitator => {
                        "a person's certificate goes to them and to the organiser only"
                    }
                },
            ));
        }
    }
    let format = Format::parse(&q.format)?;
    let issued = app.session_certificate(&sid, &pid).await?;
    deliver(&app, issued, format, &q.lang).await
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Pdf,
    Jws,
}

impl Format {
    fn parse(s: &str) -> Result<Format, ApiError> {
        match s {
            "" | "pdf" => Ok(Format::Pdf),
            "jws" => Ok(Format::Jws),
            other => Err(ApiError::new(
                ErrorCode::InvalidInput,
                format!("format: pdf or jws, not {other:?}"),
            )
            .with_status(StatusCode::BAD_REQUEST)),
        }
    }
}

async fn deliver(
    app: &App,
    issued: IssuedCertificate,
    format: Format,
    lang: &str,
) -> Result<Response, ApiError> {
    let (ascii, unicode) = issued.file_stems();
    let sha = issued.sha256();
    let mut response = match format {
        Format::Jws => attachment(
            "application/jose; charset=utf-8",
            &format!("{ascii}.jws"),
            &format!("{unicode}.jws"),
            issued.jws.clone(),
        ),
        Format::Pdf => {
            let pdf = app
                .realisation_pdf(&issued, Lang::parse(lang).unwrap_or_default())
                .await?;
            attachment(
                "application/pdf",
                &format!("{ascii}.pdf"),
                &format!("{unicode}.pdf"),
                pdf,
            )
        }
    };
    if let Ok(v) = HeaderValue::from_str(&sha) {
        response.headers_mut().insert("x-certificate-sha256", v);
    }
    Ok(response)
}

/// An attachment named in ASCII (`filename`) and in UTF-8 (`filename*`,
/// RFC 6266), which browsers prefer.
fn attachment(content_type: &str, ascii: &str, unicode: &str, body: impl IntoResponse) -> Response {
    let encoded: String = unicode
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response()
}
