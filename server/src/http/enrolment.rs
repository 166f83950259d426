//! Planning after the fact (operations in `app::enrolment` and
//! `app::planning`): a person added by hand to a session, a beneficiary to
//! an action (and its sessions), a session duplicated to other dates,
//! moved, or cancelled. Staff or the organiser token; each
//! write is in the audit log.

use super::access::StaffOrOrganiser;
use super::json_body;
use crate::app::App;
use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use cadre_protocol::action::{ActionView, NewBeneficiary};
use cadre_protocol::api::{CancelSession, DuplicateSession, MoveSession, NewPerson, SessionView};

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/api/sessions/{sid}/people", post(add_person))
        .route("/api/sessions/{sid}/duplicate", post(duplicate))
        .route("/api/actions/{aid}/beneficiaries", post(add_beneficiary))
        .route("/api/sessions/{sid}/postpone", post(move_session))
        .route("/api/sessions/{sid}/cancel", post(cancel_session))
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
