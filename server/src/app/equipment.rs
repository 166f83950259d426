//! The equipment check (framework art. 2.1.5): a join link's holder tests
//! their camera, microphone and network before the session, from the
//! invitation or the lobby. The link is checked as for a join (genuine,
//! current in the catalogue, not revoked, not expired) except that its
//! window need not have opened; the check leaves no trace in the
//! session's evidence.

use super::App;
use crate::directory::catalog::Admission;
use crate::equipment::{CheckRefusal, LIFETIME};
use crate::error::ApiError;
use axum::http::StatusCode;
use cadre_protocol::ErrorCode;
use cadre_protocol::api::{EquipmentAnswer, EquipmentCheck};
use cadre_protocol::session::Me;

/// Where the page posts its offers.
pub const OFFER_PATH: &str = "/api/equipment/offer";

impl App {
    /// The link's holder, for a check: everything a join checks but the
    /// opening of its window.
    async fn equipment_author(&self, token: &str) -> Result<(String, Me), ApiError> {
        let claims = self.signer().verify_before_window(token)?;
        let (jti, sid, sub) = (claims.jti.clone(), claims.sid.clone(), claims.sub.clone());
        let admission = self
            .catalog()
            .run(move |c| c.admit(&jti, &sid, &sub))
            .await?;
        match admission {
            Admission::Admitted { session, person } if person.role == claims.role => Ok((
                session.id,
                Me {
                    id: person.id,
                    name: person.name,
                    role: person.role,
                },
            )),
            Admission::Admitted { .. } => Err(ApiError::new(
                ErrorCode::TokenMalformed,
                "this link's role does not match the session's records",
            )),
            Admission::Revoked(_) => Err(ApiError::new(
                ErrorCode::TokenRevoked,
                "this link was revoked",
            )),
            Admission::UnknownLink => Err(ApiError::new(
                ErrorCode::NotFound,
                "this link names no person of this session",
            )),
        }
    }

    /// What the check page needs: the session, the person, and the ICE
    /// servers a call would use.
    pub async fn equipment(&self, token: &str) -> Result<EquipmentCheck, ApiError> {
        let (sid, you) = self.equipment_author(token).await?;
        let (session, facilitators) = self
            .catalog()
            .run(move |c| Ok((c.session(&sid)?, c.facilitators(&sid)?)))
            .await?;
        let registry = self.registry();
        let settings = registry.settings();
        // With TURN credentials minted for the check, as for a join.
        let ice_servers = settings.ice_servers_for(&you.id);
        Ok(EquipmentCheck {
            session: super::session_info(&session, facilitators),
            you,
            ice_servers,
            ice_policy: settings.ice_policy,
            offer_path: OFFER_PATH.to_owned(),
        })
    }

    /// Answers a check's offer for the link's holder (the caller counted
    /// the attempt against its address, as for a WebSocket upgrade).
    pub async fn equipment_offer(
        &self,
        token: &str,
        offer: &str,
    ) -> Result<EquipmentAnswer, ApiError> {
        let (_, you) = self.equipment_author(token).await?;
        let sdp =
            self.inner
                .checks
                .answer(&you.id, offer)
                .await
                .map_err(|refusal| match refusal {
                    CheckRefusal::BadOffer(_) => {
                        ApiError::new(ErrorCode::InvalidInput, refusal.to_string())
                    }
                    CheckRefusal::PersonBusy => {
                        ApiError::new(ErrorCode::RateLimited, refusal.to_string())
                            .with_retry_after(LIFETIME)
                    }
                    CheckRefusal::Full => ApiError::new(ErrorCode::AtCapacity, refusal.to_string())
                        .with_status(StatusCode::SERVICE_UNAVAILABLE)
                        .with_retry_after(std::time::Duration::from_secs(60)),
                    CheckRefusal::WebRtc(_) => {
                        ApiError::new(ErrorCode::Internal, refusal.to_string())
                    }
                })?;
        Ok(EquipmentAnswer {
            sdp,
            lifetime_ms: LIFETIME.as_millis() as u64,
        })
    }
}
