//! The routes of appreciation questionnaires: defining and attaching them
//! and reading their aggregates (the organiser), a person's open
//! invitations (their join link), and the form and its one answer (an
//! invitation link).

use super::access::{StaffOrOrganiser, TokenQuery};
use super::json_body;
use crate::app::App;
use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use cadre_protocol::ErrorCode;
use cadre_protocol::questionnaire::{
    Answers, InvitationLink, NewQuestionnaire, QuestionnaireForm, QuestionnaireResults,
    QuestionnaireUse, QuestionnaireView,
};
use serde::Deserialize;

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route(
            "/api/questionnaires",
            post(create_questionnaire).get(list_questionnaires),
        )
        .route("/api/questionnaires/{qid}/uses", post(attach))
        .route("/api/questionnaires/{qid}/results", get(results))
        .route("/api/invitations", get(invitations))
        .route("/api/questionnaire", get(form).post(answer))
}

async fn create_questionnaire(
    _: StaffOrOrganiser,
    State(app): State<App>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<QuestionnaireView>), ApiError> {
    let new: NewQuestionnaire = json_body(body, "questionnaire")?;
    Ok((
        StatusCode::CREATED,
        Json(app.create_questionnaire(new).await?),
    ))
}

async fn list_questionnaires(
    _: StaffOrOrganiser,
    State(app): State<App>,
) -> Result<Json<Vec<QuestionnaireView>>, ApiError> {
    Ok(Json(app.questionnaires().await?))
}

async fn attach(
    _: StaffOrOrganiser,
    State(app): State<App>,
    Path(qid): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<QuestionnaireView>, ApiError> {
    let place: QuestionnaireUse = json_body(body, "use")?;
    Ok(Json(app.attach_questionnaire(&qid, place).await?))
}

#[derive(Deserialize)]
struct ScopeQuery {
    #[serde(default)]
    scope: String,
}

async fn results(
    _: StaffOrOrganiser,
    State(app): State<App>,
    Path(qid): Path<String>,
    Query(q): Query<ScopeQuery>,
) -> Result<Json<QuestionnaireResults>, ApiError> {
    if q.scope.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            "scope: the action (a_…) or session (s_…) the answers are about",
        ));
    }
    Ok(Json(app.questionnaire_results(&qid, &q.scope).await?))
}

/// A person's invitations not answered yet, with their join link: what the
/// page offers after the session.
async fn invitations(
    State(app): State<App>,
    Query(q): Query<TokenQuery>,
) -> Result<Json<Vec<InvitationLink>>, ApiError> {
    let who = app.admit(&q.token).await?;
    Ok(Json(app.open_invitations(&who.session.id, &who.id).await?))
}

async fn form(
    State(app): State<App>,
    Query(q): Query<TokenQuery>,
) -> Result<Json<QuestionnaireForm>, ApiError> {
    Ok(Json(app.questionnaire_form(&q.token).await?))
}

async fn answer(
    State(app): State<App>,
    Query(q): Query<TokenQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let answers: Answers = json_body(body, "answers")?;
    app.answer_questionnaire(&q.token, answers).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"answered": true})),
    ))
}
