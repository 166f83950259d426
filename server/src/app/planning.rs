//! A session moved to other dates or cancelled from the console, before it
//! is under way. The decision is the session's actor's, as a facilitator's
//! would be (started for it when nobody is connected): written to the
//! ledger as the organiser's, then the catalogue; everyone connected is
//! told, the people invited by mail get the new dates, and the links stay
//! valid for them. A session under way is the facilitator's to move or end.

use crate::app::{App, live_session};
use crate::error::ApiError;
use crate::live::session::{ControlRequest, checked_reason, postponement_window};
use cadre_protocol::ErrorCode;
use cadre_protocol::api::{CancelSession, MoveSession, SessionView};
use cadre_protocol::evidence::ACTOR_ORGANISER;
use cadre_protocol::signalling::ControlAction;

impl App {
    /// Moves session `sid` to new dates, with the reason.
    pub async fn move_session(&self, sid: &str, new: MoveSession) -> Result<SessionView, ApiError> {
        self.staff_decision(
            sid,
            ControlAction::Postpone,
            &new.reason,
            Some((&new.planned_start, &new.planned_end)),
        )
        .await
    }

    /// Cancels session `sid`: it ends, with the reason, before it ran.
    pub async fn cancel_session(
        &self,
        sid: &str,
        cancel: CancelSession,
    ) -> Result<SessionView, ApiError> {
        self.staff_decision(sid, ControlAction::End, &cancel.reason, None)
            .await
    }

    async fn staff_decision(
        &self,
        sid: &str,
        action: ControlAction,
        reason: &str,
        window: Option<(&str, &str)>,
    ) -> Result<SessionView, ApiError> {
        let s = sid.to_owned();
        let (session, facilitators, of_action) = self
            .catalog()
            .run(move |c| {
                Ok((
                    c.session(&s)?,
                    c.facilitators(&s)?,
                    c.action_of_session(&s)?,
                ))
            })
            .await?;
        let invalid = |why: String| ApiError::new(ErrorCode::InvalidInput, why);
        let reason = checked_reason(reason).map_err(invalid)?;
        let window = match window {
            Some((start, end)) => Some(
                postponement_window(Some(start), Some(end), session.time_zone).map_err(invalid)?,
            ),
            None => None,
        };
        let (info, schedule) = live_session(&session, facilitators, of_action);
        let request = ControlRequest {
            by: ACTOR_ORGANISER.to_owned(),
            action,
            reason,
            window,
            participant: None,
        };
        self.registry()
            .staff_control(&info, &schedule, request)
            .await
            .map_err(ApiError::from)?;
        tracing::info!(sid, action = ?action, "session decided from the console");
        self.session_view(sid).await
    }
}
