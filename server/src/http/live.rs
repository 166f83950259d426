//! Staff's live view of a session (`GET /api/sessions/{sid}/live`), read
//! by the console's session page every few seconds while it is shown (the
//! operation is `app::live_view`), and the overview of every session's
//! recordings with their deletion dates (`GET /api/recordings`,
//! `app::recordings`).

use super::access::StaffOrOrganiser;
use crate::app::App;
use crate::error::ApiError;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use cadre_protocol::api::{LiveView, RecordingsOverview};

/// The live view's route, and the recordings' overview.
pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/api/sessions/{sid}/live", get(live))
        .route("/api/recordings", get(recordings))
}

/// Every session's recordings and when the retention deletes them, for
/// the console (staff or the organiser token).
async fn recordings(
    _: StaffOrOrganiser,
    State(app): State<App>,
) -> Result<Json<RecordingsOverview>, ApiError> {
    Ok(Json(app.recordings_overview().await?))
}

async fn live(
    _: StaffOrOrganiser,
    State(app): State<App>,
    Path(sid): Path<String>,
) -> Result<Json<LiveView>, ApiError> {
    Ok(Json(app.live_view(&sid).await?))
}
