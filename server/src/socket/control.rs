//! A facilitator's control of the session (suspend, resume, postpone, end,
//! remove): the request is checked here, then by the actor against the
//! session's state.

use super::Connection;
use crate::live::session::{ControlRequest, checked_reason, postponement_window};
use cadre_protocol::signalling::ControlAction;
use cadre_protocol::{ErrorCode, Role};

impl Connection<'_> {
    /// A facilitator's control: checked here (role, reason, dates), then
    /// against the session's state by the actor, which records it and
    /// tells everyone.
    pub(super) async fn control(
        &mut self,
        action: ControlAction,
        reason: String,
        start: Option<String>,
        end: Option<String>,
        participant: Option<String>,
    ) {
        if self.member.role != Role::Facilitator {
            self.out.error(
                ErrorCode::Forbidden,
                "only a facilitator suspends, resumes, postpones, ends or removes",
            );
            return;
        }
        if action == ControlAction::Start {
            self.out.error(
                ErrorCode::InvalidInput,
                "a session starts by itself at its planned time, once someone is in the call: \
                 `start` is not a control",
            );
            return;
        }
        let reason = match checked_reason(&reason) {
            Ok(reason) => reason,
            Err(why) => {
                self.out.error(ErrorCode::InvalidInput, &why);
                return;
            }
        };
        if participant.is_some() != (action == ControlAction::Remove) {
            self.out.error(
                ErrorCode::InvalidInput,
                "`participant` goes with `remove`, and only with it",
            );
            return;
        }
        let window = if action == ControlAction::Postpone {
            match postponement_window(start.as_deref(), end.as_deref(), self.time_zone) {
                Ok(w) => Some(w),
                Err(why) => {
                    self.out.error(ErrorCode::InvalidInput, &why);
                    return;
                }
            }
        } else if start.is_some() || end.is_some() {
            self.out.error(
                ErrorCode::InvalidInput,
                "`start` and `end` go with `postpone` only",
            );
            return;
        } else {
            None
        };
        let request = ControlRequest {
            by: self.member.id.clone(),
            action,
            reason,
            window,
            participant,
        };
        if let Err(e) = self.member.control(request).await {
            self.out.error(e.code, &e.message);
        }
    }
}
