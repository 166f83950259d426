//! Staff's live view of a session (`GET /api/sessions/{sid}/live`), read
//! by the console's session page every few seconds while it is shown. The
//! operation is `app::live_view`.

use super::access::StaffOrOrganiser;
use crate::app::App;
use crate::error::ApiError;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use cadre_protocol::api::LiveView;

/// The live view's route.
pub(super) fn routes() -> Router<App> {
    Router::new().route("/api/sessions/{sid}/live", get(live))
}

async fn live(
    _: StaffOrOrganiser,
    State(app): State<App>,
    Path(sid): Path<String>,
) -> Result<Json<LiveView>, ApiError> {
    Ok(Json(app.live_view(&sid).await?))
}
