//! Planning after the fact (operations in `app::enrolment`,
//! `app::planning` and `app::corrections`): a person added by hand to a
//! session, a beneficiary to an action (and its sessions), a session
//! duplicated to other dates, moved, or cancelled; a title, a name, an
//! e-mail corrected. Staff or the organiser token; each write is in the
//! audit log, a correction with the values before and after.

use super::access::StaffOrOrganiser;
use super::json_body;
use crate::app::App;
use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{patch, post};
use axum::{Json, Router};
use cadre_protocol::action::{ActionView, NewBeneficiary};
use cadre_protocol::api::{
    CancelSession, DuplicateSession, MoveSession, NewPerson, PersonCorrection, SessionCorrection,
    SessionView,
};

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/api/sessions/{sid}/people", post(add_person))
        .route("/api/sessions/{sid}/duplicate", post(duplicate))
        .route("/api/actions/{aid}/beneficiaries", post(add_beneficiary))
        .route("/api/sessions/{sid}/postpone", post(move_session))
        .route("/api/sessions/{sid}/cancel", post(cancel_session))
        .route("/api/sessions/{sid}", patch(retitle_session))
        .route("/api/sessions/{sid}/people/{pid}", patch(correct_person))
        .route(
            "/api/actions/{aid}/beneficiaries/{bid}",
            patch(correct_beneficiary),
        )
}

/// Where a correction came from and what it changed, for the audit log
/// (the request itself is there already, without the values).
struct Correction {
    who: StaffOrOrganiser,
    address: Option<String>,
    target: String,
}

impl Correction {
    fn new(
        who: StaffOrOrganiser,
        app: &App,
        peer: std::net::SocketAddr,
        headers: &HeaderMap,
        target: String,
    ) -> Self {
        Correction {
            who,
            address: Some(app.client_address(peer, headers).ip.to_string()),
            target,
        }
    }

    async fn audit(self, app: &App, changes: &[String]) {
        if changes.is_empty() {
            return;
        }
        let action = format!("correction: {}", changes.join("; "));
        app.audit(
            self.who
                .audit_entry(&action, Some(self.target), self.address),
        )
        .await;
    }
}

async fn retitle_session(
    who: StaffOrOrganiser,
    State(app): State<App>,
    Path(sid): Path<String>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SessionView>, ApiError> {
    let correction: SessionCorrection = json_body(body, "correction")?;
    let audit = Correction::new(who, &app, peer, &headers, format!("/api/sessions/{sid}"));
    let (view, changes) = app.retitle_session(&sid, correction.title).await?;
    audit.audit(&app, &changes).await;
    Ok(Json(view))
}

async fn correct_person(
    who: StaffOrOrganiser,
    State(app): State<App>,
    Path((sid, pid)): Path<(String, String)>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SessionView>, ApiError> {
    let correction: PersonCorrection = json_body(body, "correction")?;
    let target = format!("/api/sessions/{sid}/people/{pid}");
    let audit = Correction::new(who, &app, peer, &headers, target);
    let (view, changes) = app.correct_person(&sid, &pid, correction).await?;
    audit.audit(&app, &changes).await;
    Ok(Json(view))
}

async fn correct_beneficiary(
    who: StaffOrOrganiser,
    State(app): State<App>,
    Path((aid, bid)): Path<(String, String)>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ActionView>, ApiError> {
    let correction: PersonCorrection = json_body(body, "correction")?;
    let target = format!("/api/actions/{aid}/beneficiaries/{bid}");
    let audit = Correction::new(who, &app, peer, &headers, target);
    let (view, changes) = app.correct_beneficiary(&aid, &bid, correction).await?;
    audit.audit(&app, &changes).await;
    Ok(Json(view))
}

async fn add_person(
    _: StaffOrOrganiser,
    State(app): State<App>,
    Path(sid): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<SessionView>), ApiError> {
    let new: NewPerson = json_body(body, "person")?;
    Ok((StatusCode::CREATED, Json(app.add_person(&sid, new).await?)))
}

async fn add_beneficiary(
    _: StaffOrOrganiser,
    State(app): State<App>,
    Path(aid): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<ActionView>), ApiError> {
    let new: NewBeneficiary = json_body(body, "beneficiary")?;
    Ok((
        StatusCode::CREATED,
        Json(app.add_beneficiary(&aid, new).await?),
    ))
}

async fn duplicate(
    _: StaffOrOrganiser,
    State(app): State<App>,
    Path(sid): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<SessionView>), ApiError> {
    let dates: DuplicateSession = json_body(body, "dates")?;
    Ok((
        StatusCode::CREATED,
        Json(app.duplicate_session(&sid, dates).await?),
    ))
}

async fn move_session(
    _: StaffOrOrganiser,
    State(app): State<App>,
    Path(sid): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SessionView>, ApiError> {
    let new: MoveSession = json_body(body, "move")?;
    Ok(Json(app.move_session(&sid, new).await?))
}

async fn cancel_session(
    _: StaffOrOrganiser,
    State(app): State<App>,
    Path(sid): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SessionView>, ApiError> {
    let cancel: CancelSession = json_body(body, "cancellation")?;
    Ok(Json(app.cancel_session(&sid, cancel).await?))
}
