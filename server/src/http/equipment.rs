//! The equipment check's two requests (see `app::equipment`).

use super::{TokenQuery, json_body};
use crate::App;
use crate::app::address_limits::Refusal;
use crate::error::ApiError;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Query, State};
use cadre_protocol::ErrorCode;
use cadre_protocol::api::{EquipmentAnswer, EquipmentCheck, EquipmentOffer};
use std::net::SocketAddr;

pub(super) async fn check(
    State(app): State<App>,
    Query(q): Query<TokenQuery>,
) -> Result<Json<EquipmentCheck>, ApiError> {
    Ok(Json(app.equipment(&q.token).await?))
}

pub(super) async fn offer(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<TokenQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<EquipmentAnswer>, ApiError> {
    // A check costs the server a peer connection: every attempt counts
    // against its address like a WebSocket upgrade, whatever its token.
    if let Err(Refusal::TooFast(wait)) = app.address_limits().attempt(peer.ip()) {
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            format!(
                "too many attempts from your address; try again in {} s",
                wait.as_secs() + 1
            ),
        )
        .with_retry_after(wait));
    }
    let offer: EquipmentOffer = json_body(body, "equipment check offer")?;
    Ok(Json(app.equipment_offer(&q.token, &offer.sdp).await?))
}
