//! What a person a facilitator removed still gets with their link: the
//! lobby's facts with the removal's notice (who, when, why), so that their
//! page shows it again after a reload, and their own documents
//! (`http/access.rs`). The call stays closed to them: the socket admits
//! through [`App::admit_from`], which refuses a revoked link.

use crate::app::App;
use crate::directory::catalog::Admission;
use crate::error::ApiError;
use cadre_protocol::ErrorCode;
use cadre_protocol::evidence::kind;
use cadre_protocol::signalling::{ControlAction, Me, SessionInfo, StateNotice};

/// A removed person's view of their session.
#[derive(Debug, Clone)]
pub struct Removed {
    /// The person.
    pub you: Me,
    /// The session, as a lobby shows it.
    pub session: SessionInfo,
    /// The removal, with the facilitator's name and the reason.
    pub notice: StateNotice,
}

impl App {
    /// Who a revoked join link belongs to, when the revocation is a
    /// facilitator's removal (not followed by a re-admission): the session
    /// and person ids. Their attendance before the removal is theirs, so
    /// their own documents stay open to this link; a link the organiser
    /// revoked gets `None`. The token is checked as strictly as for a join.
    pub async fn removed_link(&self, token: &str) -> Result<Option<(String, String)>, ApiError> {
        let claims = self.signer().verify(token)?;
        let (jti, sid, sub) = (claims.jti.clone(), claims.sid.clone(), claims.sub.clone());
        let admission = self
            .catalog()
            .run(move |c| c.admit(&jti, &sid, &sub))
            .await?;
        if !matches!(admission, Admission::Revoked(_)) {
            return Ok(None);
        }
        Ok(self
            .removed_member(&claims.sid, &claims.sub)
            .await?
            .filter(|(_, person)| person.role == claims.role)
            .map(|(session, person)| (session.id, person.id)))
    }

    /// The removal behind a revoked join link: `None` when the link is not
    /// revoked by a facilitator's removal (the organiser revoked it, or the
    /// person was re-admitted since). The token is checked as for a join.
    pub async fn removal(&self, token: &str) -> Result<Option<Removed>, ApiError> {
        let claims = self.signer().verify(token)?;
        let (jti, sid, sub) = (claims.jti.clone(), claims.sid.clone(), claims.sub.clone());
        let admission = self
            .catalog()
            .run(move |c| c.admit(&jti, &sid, &sub))
            .await?;
        if !matches!(admission, Admission::Revoked(_)) {
            return Ok(None);
        }
        let Some((session, person)) = self.removed_member(&claims.sid, &claims.sub).await? else {
            return Ok(None);
        };
        if person.role != claims.role {
            return Err(ApiError::new(
                ErrorCode::TokenMalformed,
                "this link's role does not match the session's records",
            ));
        }
        let entries = self.log(&session.id, u64::MAX).await?;
        let Some(entry) = entries
            .iter()
            .filter(|e| {
                e.kind == kind::REMOVED
                    && e.payload_value()
                        .get("participant")
                        .and_then(|v| v.as_str())
                        == Some(person.id.as_str())
            })
            .max_by_key(|e| e.seq)
        else {
            return Ok(None);
        };
        let s = session.id.clone();
        let people = self.catalog().run(move |c| c.people(&s)).await?;
        let by = people
            .iter()
            .find(|p| p.id == entry.actor)
            .map(|p| p.name.clone())
            .unwrap_or_default();
        let names = people
            .iter()
            .filter(|p| p.role == cadre_protocol::Role::Facilitator)
            .map(|p| p.name.clone())
            .collect();
        let reason = entry
            .payload_value()
            .get("reason")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned();
        Ok(Some(Removed {
            notice: StateNotice {
                state: session.state,
                action: ControlAction::Remove,
                reason,
                by,
                at: entry.ts,
                planned_start: None,
                planned_end: None,
            },
            session: super::session_info(&session, names),
            you: Me {
                id: person.id,
                name: person.name,
                role: person.role,
            },
        }))
    }
}
