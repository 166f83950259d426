//! The organiser's mail routes: queue invitations, read a session's mails
//! (what is pending, what failed and why). The operations are
//! `app::invitations`; the sending is `crate::mail`.

use super::access::StaffOrOrganiser;
use crate::app::App;
use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use cadre_protocol::mail::{InvitationsQueued, MailView, NewInvitations};

/// The mail routes.
pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/api/sessions/{sid}/invitations", post(invite))
        .route("/api/sessions/{sid}/mails", get(mails))
}

/// Queues invitations (an empty body: everyone in the session).
async fn invite(
    _: StaffOrOrganiser,
    State(app): State<App>,
    Path(sid): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<InvitationsQueued>), ApiError> {
    let request = match &body {
        Ok(b) if b.iter().all(u8::is_ascii_whitespace) => NewInvitations::default(),
        _ => super::json_body(body, "invitations")?,
    };
    let queued = app.queue_invitations(&sid, request).await?;
    Ok((StatusCode::ACCEPTED, Json(queued)))
}

/// Every mail of the session, oldest first.
async fn mails(
    _: StaffOrOrganiser,
    State(app): State<App>,
    Path(sid): Path<String>,
) -> Result<Json<Vec<MailView>>, ApiError> {
    Ok(Json(app.session_mails(&sid).await?))
}
