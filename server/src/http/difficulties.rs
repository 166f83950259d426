//! The routes of difficulty reports (article 6): a person files and reads
//! theirs with their join link, a facilitator reads the session's, the
//! organiser (the token, or a staff login in the console) answers and
//! closes. The operations are `app::difficulties`.

use super::access::{MaybeStaffOrOrganiser, StaffOrOrganiser, TokenQuery};
use super::json_body;
use crate::app::App;
use crate::app::difficulties::MAX_INBOX;
use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cadre_protocol::difficulties::{
    Difficulty, DifficultyAnswer, DifficultyStatus, InboxDifficulty, NewDifficulty,
};
use cadre_protocol::{ErrorCode, Role};
use serde::Deserialize;

/// The difficulty routes (the paths keep their first name, `reports`:
/// clients and scripts use them).
pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/api/reports", post(file).get(own))
        .route("/api/sessions/{sid}/reports", get(list))
        .route("/api/difficulties", get(inbox))
        .route("/api/sessions/{sid}/reports.csv", get(export))
        .route("/api/sessions/{sid}/reports/{rid}/answer", post(answer))
        .route("/api/sessions/{sid}/reports/{rid}/close", post(close))
}

/// The organiser or a staff login (`organiser`), or a facilitator of
/// `sid` with their link.
async fn whole_session(
    app: &App,
    organiser: &MaybeStaffOrOrganiser,
    token: &str,
    sid: &str,
) -> Result<(), ApiError> {
    if organiser.0.is_some() {
        return Ok(());
    }
    let member = app.difficulty_author(token).await?;
    if member.session_id != sid {
        return Err(ApiError::new(
            ErrorCode::WrongSession,
            "this link is for another session",
        ));
    }
    if member.me.role != Role::Facilitator {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "a participant sees their own reports only: GET /api/reports?token=…",
        ));
    }
    Ok(())
}

async fn file(
    State(app): State<App>,
    Query(q): Query<TokenQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Difficulty>), ApiError> {
    let member = app.difficulty_author(&q.token).await?;
    let new: NewDifficulty = json_body(body, "report")?;
    let report = app
        .file_difficulty(&member.session_id, &member.me.id, &new.text)
        .await?;
    Ok((StatusCode::CREATED, Json(report)))
}

async fn own(
    State(app): State<App>,
    Query(q): Query<TokenQuery>,
) -> Result<Json<Vec<Difficulty>>, ApiError> {
    let member = app.difficulty_author(&q.token).await?;
    let reports = match member.me.role {
        Role::Facilitator => app.session_difficulties(&member.session_id).await?,
        Role::Participant => {
            app.difficulties_of(&member.session_id, &member.me.id)
                .await?
        }
    };
    Ok(Json(reports))
}

async fn list(
    State(app): State<App>,
    Path(sid): Path<String>,
    Query(q): Query<TokenQuery>,
    organiser: MaybeStaffOrOrganiser,
) -> Result<Json<Vec<Difficulty>>, ApiError> {
    whole_session(&app, &organiser, &q.token, &sid).await?;
    Ok(Json(app.session_difficulties(&sid).await?))
}

/// `GET /api/difficulties` query: which reports, how many.
#[derive(Debug, Deserialize)]
struct InboxQuery {
    #[serde(default)]
    status: Option<DifficultyStatus>,
    #[serde(default = "inbox_limit")]
    limit: usize,
}

fn inbox_limit() -> usize {
    200
}

/// Every session's reports, for the console's inbox (staff or the
/// organiser token): open ones first, the longest waiting on top.
async fn inbox(
    _: StaffOrOrganiser,
    State(app): State<App>,
    query: Result<Query<InboxQuery>, QueryRejection>,
) -> Result<Json<Vec<InboxDifficulty>>, ApiError> {
    let Query(q) = query.map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidInput,
            format!("status: open, answered or closed; limit: 1 to {MAX_INBOX} ({e})"),
        )
    })?;
    if q.limit == 0 || q.limit > MAX_INBOX {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            format!("limit: 1 to {MAX_INBOX}, got {}", q.limit),
        ));
    }
    Ok(Json(app.difficulty_inbox(q.status, q.limit).await?))
}

async fn export(
    State(app): State<App>,
    Path(sid): Path<String>,
    Query(q): Query<TokenQuery>,
    organiser: MaybeStaffOrOrganiser,
) -> Result<Response, ApiError> {
    whole_session(&app, &organiser, &q.token, &sid).await?;
    let csv = app.difficulties_csv(&sid).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"signalements-{sid}.csv\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        csv,
    )
        .into_response())
}

async fn answer(
    _: StaffOrOrganiser,
    State(app): State<App>,
    Path((sid, rid)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Difficulty>, ApiError> {
    let req: DifficultyAnswer = json_body(body, "answer")?;
    let report = app
        .answer_difficulty(&sid, &rid, &req.answer, req.close)
        .await?;
    app.tell_author(&report).await;
    Ok(Json(report))
}

async fn close(
    _: StaffOrOrganiser,
    State(app): State<App>,
    Path((sid, rid)): Path<(String, String)>,
) -> Result<Json<Difficulty>, ApiError> {
    let report = app.close_difficulty(&sid, &rid).await?;
    app.tell_author(&report).await;
    Ok(Json(report))
}
